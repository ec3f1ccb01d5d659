--- gan.nets.biggan: the residual generator and discriminator of SAGAN
-- (Zhang et al. 2018, arXiv:1805.08318) and BigGAN (Brock et al. 2018,
-- arXiv:1809.11096), at 16 to 64 pixels.
--
--     local G = gan.nets.biggan.Generator { nz = 128, channels = 1, size = 32, nf = 64, attention = 16 }
--     local D = gan.nets.biggan.Discriminator { channels = 1, size = 32, ndf = 64, attention = 16 }
--     local img = G(z)                                 -- unconditional (SAGAN)
--     local Gc = gan.nets.biggan.Generator { nz = 120, classes = 10, ... }
--     local img = Gc(z, y)                             -- class-conditional (BigGAN): y int64 (N)
--     local logit = Dc(img, y)                         -- projection discriminator
--
-- G: a linear layer from z (or its first chunk) to 4 nf maps of 4x4, then a
-- residual up-block per doubling, with nf * min(4, size / r) maps at r x r
-- (32x32 images: 4 nf at 4x4 and 8x8, 2 nf at 16x16, nf at 32x32, so the
-- costly full-size convolutions are the narrow ones) (BN, ReLU, nearest upsampling, 3x3 conv,
-- BN, ReLU, 3x3 conv; shortcut: upsampling and a 1x1 conv), a
-- SelfAttention block after the up-block whose output is `attention`
-- pixels wide, then BN, ReLU, 3x3 conv to the image channels and Tanh.
-- With `classes`, each up-block's BNs are ConditionalBatchNorm2d: their
-- condition is the shared class embedding (shared_dim) concatenated with
-- the block's own chunk of z (hierarchical z: z is cut into one chunk for
-- the linear layer and one per block), as BigGAN's G.
--
-- D: residual down-blocks (3x3 conv, ReLU, 3x3 conv, 2x2 average pooling;
-- the first without the ReLU before it, the shortcut a 1x1 conv) down to
-- 8x8, two more blocks at 8x8 (ndf maps each; with `widen`, ndf in the
-- first block doubling per block up to 4 ndf), a SelfAttention block after the block whose
-- output is `attention` pixels wide, ReLU, global sum pooling to h (ndf, 4 ndf widened)
-- and a linear layer; with `classes` the projection term embed(y) . h is
-- added (Miyato & Koyama 2018, arXiv:1802.05637).
--
-- Every conv, linear layer and D's embedding is spectrally normalized
-- (sn = false: none); weights start Xavier-uniform (SNGAN's and SAGAN's
-- init), embeddings N(0, 1).
-- `truncated_z(n, nz, t)` draws z for sampling, N(0, 1) truncated to
-- [-t, t] (BigGAN's truncation trick); `orthogonal_penalty(G, beta)` is
-- BigGAN's orthogonal regularization.
-- Requires: gan.nn. Reads no options.
-- @module gan.nets.biggan

local gan = require "gan"
local nn = require "gan.nn"

local M = {}

local function sn_wrap(m, sn)
  if sn == false then return m end
  return nn.SpectralNorm(m)
end

local function conv(cin, cout, k, sn)
  return sn_wrap(nn.Conv2d(cin, cout, k, 1, k // 2), sn)
end

local function log2(n)
  local k = 0
  while n > 1 do n, k = n // 2, k + 1 end
  return k
end

local function check_size(who, size)
  if math.type(size) ~= "integer" or size < 16 or size > 64 or size & (size - 1) ~= 0 then
    error(("%s: size must be 16, 32 or 64, got %s"):format(who, tostring(size)), 4)
  end
end

-- ----------------------------------------------------------------------------
-- Blocks

local GBlock = nn.Module:extend("BigGANGBlock")
M.GBlock = GBlock

--- A residual up-block: h = conv2(relu(bn2(conv1(up(relu(bn1(x))))))), x -> conv_sc(up(x)).
-- @param cin channels in
-- @param cout channels out
-- @param opts {cond_dim (conditional BN with this condition size; nil: plain BN), sn=true}
function GBlock:init(cin, cout, opts)
  opts = opts or {}
  local function bn(c)
    if opts.cond_dim then return nn.ConditionalBatchNorm2d(c, opts.cond_dim, { sn = opts.sn }) end
    return nn.BatchNorm2d(c)
  end
  self.bn1 = bn(cin)
  self.conv1 = conv(cin, cout, 3, opts.sn)
  self.bn2 = bn(cout)
  self.conv2 = conv(cout, cout, 3, opts.sn)
  self.conv_sc = conv(cin, cout, 1, opts.sn)
  self.conditional = opts.cond_dim ~= nil
end

--- x (N, cin, H, W) [, cond (N, cond_dim)] -> (N, cout, 2H, 2W).
function GBlock:forward(x, cond)
  local h = self.bn1(x, cond):relu():upsample({ scale = 2 })
  h = self.conv2(self.bn2(self.conv1(h), cond):relu())
  return h + self.conv_sc(x:upsample({ scale = 2 }))
end

local DBlock = nn.Module:extend("BigGANDBlock")
M.DBlock = DBlock

--- A residual down-block: h = pool(conv2(relu(conv1(act(x))))), act the ReLU (preactivation) or
-- nothing; the shortcut: a 1x1 conv (when the channels change or it pools) then pooling
-- (pooling first without preactivation, as BigGAN's D).
-- @param cin channels in
-- @param cout channels out
-- @param opts {down=true, preact=true, sn=true}
function DBlock:init(cin, cout, opts)
  opts = opts or {}
  self.down = opts.down ~= false
  self.preact = opts.preact ~= false
  self.conv1 = conv(cin, cout, 3, opts.sn)
  self.conv2 = conv(cout, cout, 3, opts.sn)
  if cin ~= cout or self.down then self.conv_sc = conv(cin, cout, 1, opts.sn) end
end

--- x (N, cin, H, W) -> (N, cout, H/2, W/2) (or H, W without down).
function DBlock:forward(x)
  local h = self.preact and x:relu() or x
  h = self.conv2(self.conv1(h):relu())
  if self.down then h = h:avg_pool2d(2) end
  local s = x
  if self.preact then
    if self.conv_sc then s = self.conv_sc(s) end
    if self.down then s = s:avg_pool2d(2) end
  else
    if self.down then s = s:avg_pool2d(2) end
    if self.conv_sc then s = self.conv_sc(s) end
  end
  return h + s
end

-- Xavier-uniform weights and zero biases for every conv and linear layer below m (SNGAN's and
-- SAGAN's init; BigGAN's orthogonal init costs seconds per network in Lua at these sizes).
local function init_weights(m)
  m:apply(function(l)
    -- a wrapped layer's field is its SpectralNorm's weight_orig until the first forward
    local w = rawget(l, "weight")
    if (l.__name == "Conv2d" or l.__name == "Linear") and w then
      gan.no_grad(function() nn.init.xavier_uniform_(w) end)
      if rawget(l, "bias") then gan.no_grad(function() l.bias:zero_() end) end
    end
  end)
end

-- ----------------------------------------------------------------------------
-- Generator

local Generator = nn.Module:extend("BigGANGenerator")
M.Generator = Generator

--- @param o {nz=128, channels=1, size=32 (16, 32, 64), nf=64 (maps at full size), attention=16
--   (the resolution of the SelfAttention block; false or 0: none), classes=0 (unconditional),
--   shared_dim=128 (class embedding, with classes), hier=true (hierarchical z, with classes), sn=true}
function Generator:init(o)
  o = o or {}
  local who = "gan.nets.biggan.Generator"
  self.nz, self.channels, self.size, self.nf = o.nz or 128, o.channels or 1, o.size or 32, o.nf or 64
  self.classes = o.classes or 0
  self.attention_at = o.attention or 0
  check_size(who, self.size)
  self.blocks_n = log2(self.size) - 2
  self.hier = self.classes > 0 and o.hier ~= false
  if self.hier and self.nz % (self.blocks_n + 1) ~= 0 then
    error(("%s: nz (%d) must be a multiple of %d (one chunk for the linear layer and one per block)"):format(who,
      self.nz, self.blocks_n + 1), 3)
  end
  if self.nf < 4 or self.nf % 4 ~= 0 then error(("%s: nf must be a multiple of 4, got %d"):format(who, self.nf), 3) end
  local function ch(r) return self.nf * math.min(4, self.size // r) end
  self.chunk = self.hier and self.nz // (self.blocks_n + 1) or self.nz
  local cond_dim
  if self.classes > 0 then
    self.shared_dim = o.shared_dim or 128
    self.shared = nn.Embedding(self.classes, self.shared_dim)
    cond_dim = self.shared_dim + (self.hier and self.chunk or 0)
  end
  self.linear = sn_wrap(nn.Linear(self.chunk, ch(4) * 16), o.sn)
  self.blocks = nn.Sequential {}
  local res = 4
  for i = 1, self.blocks_n do
    res = res * 2
    self.blocks:add(GBlock(ch(res // 2), ch(res), { cond_dim = cond_dim, sn = o.sn }))
    if res == self.attention_at then
      self.attention = nn.SelfAttention(ch(res), { sn = o.sn })
      self.attention_after = i
    end
  end
  if self.attention_at ~= 0 and self.attention_at ~= false and not self.attention then
    error(("%s: attention must be a resolution between 8 and %d, or 0, got %s"):format(who, self.size,
      tostring(self.attention_at)), 3)
  end
  self.out = nn.Sequential { nn.BatchNorm2d(self.nf), nn.ReLU(), conv(self.nf, self.channels, 3, o.sn), nn.Tanh() }
  init_weights(self)
end

--- z (N, nz) [, y int64 (N) with classes] -> images (N, channels, size, size) in [-1, 1].
function Generator:forward(z, y)
  if z:dim() ~= 2 or z:size(2) ~= self.nz then
    error(("BigGANGenerator: z must be (N, %d), got (%s)"):format(self.nz, table.concat(z:shape(), ", ")), 2)
  end
  if (self.classes > 0) ~= (y ~= nil) then
    error(("BigGANGenerator: %s"):format(self.classes > 0 and "needs the classes y" or "is unconditional: no y"), 2)
  end
  local n = z:size(1)
  local zs, shared = { z }, nil
  if self.hier then
    for i = 1, self.blocks_n + 1 do zs[i] = z:narrow(2, (i - 1) * self.chunk + 1, self.chunk) end
  end
  if self.classes > 0 then shared = self.shared(y) end
  local h = self.linear(zs[1]):reshape(n, self.nf * 4, 4, 4)
  for i = 1, self.blocks_n do
    local cond = shared
    if self.hier then cond = gan.cat({ shared, zs[i + 1] }, 2) end
    h = self.blocks[i](h, cond)
    if self.attention_after == i then h = self.attention(h) end
  end
  return self.out(h)
end

--- Settings shown when printed.
function Generator:extra_repr()
  return ("nz=%d, size=%d, nf=%d, attention=%s, classes=%d, hier=%s"):format(self.nz, self.size, self.nf,
    tostring(self.attention_at), self.classes, tostring(self.hier))
end

-- ----------------------------------------------------------------------------
-- Discriminator

local Discriminator = nn.Module:extend("BigGANDiscriminator")
M.Discriminator = Discriminator

--- @param o {channels=1, size=32, ndf=64 (maps of every block), widen=false (true: the first block has
--   ndf maps and each next one doubles them up to 4 ndf, as BigGAN's D at 64 pixels and up),
--   attention=16 (or false/0), classes=0 (with classes: the projection term), sn=true}
function Discriminator:init(o)
  o = o or {}
  local who = "gan.nets.biggan.Discriminator"
  self.channels, self.size, self.ndf = o.channels or 1, o.size or 32, o.ndf or 64
  self.classes = o.classes or 0
  self.attention_at = o.attention or 0
  check_size(who, self.size)
  if self.ndf % 8 ~= 0 then error(("%s: ndf must be a multiple of 8, got %d"):format(who, self.ndf), 3) end
  self.widen = o.widen == true
  self.blocks = nn.Sequential {}
  local downs, res, c = log2(self.size) - 3, self.size, self.channels
  for i = 1, downs + 2 do
    local down = i <= downs
    local w = self.widen and self.ndf * math.min(4, 1 << (i - 1)) or self.ndf
    self.blocks:add(DBlock(c, w, { down = down, preact = i > 1, sn = o.sn }))
    if down then res = res // 2 end
    c = w
    if res == self.attention_at and not self.attention then
      self.attention = nn.SelfAttention(w, { sn = o.sn })
      self.attention_after = i
    end
  end
  if self.attention_at ~= 0 and self.attention_at ~= false and not self.attention then
    error(("%s: attention must be a resolution between 8 and %d, or 0, got %s"):format(who, self.size // 2,
      tostring(self.attention_at)), 3)
  end
  self.features_n = c
  self.linear = sn_wrap(nn.Linear(c, 1), o.sn)
  if self.classes > 0 then self.embed = sn_wrap(nn.Embedding(self.classes, c), o.sn) end
  init_weights(self)
end

--- The pooled features h (N, features_n; ndf, or 4 ndf when widened): blocks, ReLU, sum over the pixels.
-- @param x images (N, channels, size, size)
-- @return tensor
function Discriminator:features(x)
  if x:dim() ~= 4 or x:size(2) ~= self.channels or x:size(3) ~= self.size or x:size(4) ~= self.size then
    error(("BigGANDiscriminator: expected (N, %d, %d, %d), got (%s)"):format(self.channels, self.size, self.size,
      table.concat(x:shape(), ", ")), 3)
  end
  local h = x
  for i = 1, #self.blocks do
    h = self.blocks[i](h)
    if self.attention_after == i then h = self.attention(h) end
  end
  return h:relu():sum({ 3, 4 })
end

--- x (N, channels, size, size) [, y int64 (N) with classes] -> logits (N, 1): linear(h) + embed(y) . h.
function Discriminator:forward(x, y)
  if (self.classes > 0) ~= (y ~= nil) then
    error(("BigGANDiscriminator: %s"):format(self.classes > 0 and "needs the classes y" or "is unconditional: no y"), 2)
  end
  local h = self:features(x)
  local out = self.linear(h)
  if self.classes > 0 then out = out + (self.embed(y) * h):sum(2, true) end
  return out
end

--- Settings shown when printed.
function Discriminator:extra_repr()
  return ("size=%d, ndf=%d, widen=%s, attention=%s, classes=%d"):format(self.size, self.ndf, tostring(self.widen),
    tostring(self.attention_at), self.classes)
end

-- ----------------------------------------------------------------------------
-- Sampling and regularization

--- z for sampling: N(0, 1), or with t N(0, 1) truncated to [-t, t] (BigGAN's
-- truncation trick: every value drawn again until it falls inside, which is
-- what the inverse-CDF draw of gan.trunc_normal gives in one pass).
-- @param n samples
-- @param nz size of z
-- @param t the threshold (nil or false: no truncation)
-- @return tensor (n, nz)
function M.truncated_z(n, nz, t)
  if not t then return gan.randn(n, nz) end
  if type(t) ~= "number" or t <= 0 then error(("truncated_z: the threshold must be > 0, got %s"):format(tostring(t)), 2) end
  return gan.trunc_normal({ n, nz }, -t, t)
end

--- BigGAN's orthogonal regularization, beta/2 sum over the weights W
-- (seen as (out, in*kh*kw)) of |W W^T (1 - I)|_F^2: its gradient is BigGAN's
-- 2 beta (W W^T (1 - I)) W. Only the off-diagonal products count (the
-- norms of the filters stay free). Every parameter of 2 or more dims but
-- those listed in `skip` (BigGAN skips G's shared embedding).
-- @param net a module
-- @param beta the strength (BigGAN: 1e-4)
-- @param skip list of tensors to leave out (optional)
-- @return a scalar tensor (differentiable)
function M.orthogonal_penalty(net, beta, skip)
  local left = {}
  for _, t in ipairs(skip or {}) do left[t] = true end
  local total
  for _, w in ipairs(net:parameters()) do
    if w:dim() >= 2 and not left[w] then
      local m = w:reshape(w:size(1), -1)
      local gram = m:matmul(m:t())
      local off = gram * (1 - gan.eye(gram:size(1)))
      local term = off:square():sum()
      total = total and total + term or term
    end
  end
  if not total then return gan.zeros({}) end
  return total * (beta / 2)
end

return M
