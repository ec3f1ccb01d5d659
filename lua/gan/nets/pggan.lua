--- gan.nets.pggan: the progressive GAN's growing generator and
-- discriminator (Karras et al. 2018, arXiv:1710.10196, as the official
-- code builds them: tkarras/progressive_growing_of_gans, networks.py), the
-- growing schedule, and the real images at the resolution being trained.
--
--     local pggan = gan.nets.pggan
--     local G = pggan.Generator(128, 1, 32, { channel_base = 1024, channel_max = 128 })
--     local D = pggan.Discriminator(1, 32, { channel_base = 1024, channel_max = 128 })
--     local growth = pggan.Growth { resolution = 32, stabilize = 20000, fade = 20000 }
--     local res, alpha = growth:current()           -- 4, 1 at first; 8, 0.5 half-way into 8x8's fade-in
--     local fake = G(z, res, alpha)                 -- (N, 1, res, res)
--     local score = D(pggan.reals(x, res, alpha), res, alpha)
--     growth:advance(x:size(1))                     -- images shown
--
-- Both networks hold every resolution's layers from the start and run only
-- those up to `res`. The generator: z normalised by pixel norm, a dense
-- layer to 4x4 and a 3x3 conv; then per resolution a nearest 2x upsample
-- and two 3x3 convs; every conv followed by LeakyReLU(0.2) and pixel norm;
-- a 1x1 toRGB per resolution. The discriminator mirrors it: a 1x1 fromRGB
-- per resolution, per resolution two 3x3 convs and a 2x2 average pool, and
-- at 4x4 the minibatch-stddev epilogue (gan.nets.style.Epilogue with the
-- gain in the weights). Every layer has an equalized learning rate, with
-- the He gain sqrt(2) in the weights as PGGAN (1 for toRGB and the score).
-- The upsample and the pool are fused with their convs as the official
-- code's default (FusedScaleConv2d): the same layer, a quarter of its cost.
--
-- Fade-in: while resolution `res` fades in (alpha from 0 to 1), G's image
-- is upsample(toRGB_prev(h_prev)) + alpha (toRGB(h) - upsample(...)), and
-- D's features after the new block are fromRGB_prev(downsample(img)) +
-- alpha (block(fromRGB(img)) - fromRGB_prev(downsample(img))); alpha = 0
-- is exactly the lower resolution's network, alpha = 1 exactly the higher.
--
-- Channels at resolution r: min(channel_base / r, channel_max), the
-- official rule nf = min(fmap_base / 2^(log2 r - 1), fmap_max) with
-- channel_base = 2 fmap_base (official: 16384 and 512).
--
-- Requires: gan.nn (equalized layers, PixelNorm), gan.nets.style (the
-- epilogue). Reads no options.
-- @module gan.nets.pggan

local gan = require "gan"
local nn = require "gan.nn"
local style = require "gan.nets.style"

local M = {}

local SQRT2 = math.sqrt(2)

--- The channels at a resolution: min(channel_base / res, channel_max).
-- @param res the resolution (4, 8, ...)
-- @param opts {channel_base=16384, channel_max=512}
-- @return integer
function M.channels(res, opts)
  opts = opts or {}
  return math.max(1, style.channels(res, { channel_base = opts.channel_base or 16384, channel_max = opts.channel_max }))
end

local resolutions = style.resolutions

-- res and alpha checked against a network's resolutions; alpha 1 at 4x4
local function level(net, res, alpha, who)
  res, alpha = res or net.resolution, alpha or 1
  if math.type(res) ~= "integer" or res < 4 or res > net.resolution or res & (res - 1) ~= 0 then
    error(("%s: res must be a power of two from 4 to %d, got %s"):format(who, net.resolution, tostring(res)), 3)
  end
  if type(alpha) ~= "number" or alpha < 0 or alpha > 1 then
    error(("%s: alpha must be in [0, 1], got %s"):format(who, tostring(alpha)), 3)
  end
  if res == 4 then alpha = 1 end
  return res, alpha
end

-- a + (b - a) alpha; alpha = 1 gives b itself
local function blend(a, b, alpha)
  if alpha == 1 then return b end
  return a + (b - a) * alpha
end

-- PGGAN's conv: the He gain in the weights, bias, then a plain LeakyReLU(0.2) (or act)
local function conv(cin, cout, k, act)
  return nn.EqualizedConv2d(cin, cout, k, { gain = SQRT2, activation = act or "lrelu", act_gain = 1 })
end

local Scaled = nn.EqualizedConv2d:extend("FusedScaleConv2d")
M.FusedScaleConv2d = Scaled

--- PGGAN's 3x3 conv fused with a 2x resampling (the official fused_scale):
-- with up, a nearest 2x upsample then the conv, computed as one transposed
-- convolution of stride 2 whose 4x4 kernel sums the 3x3 kernel's four
-- shifted copies (the same numbers, at a quarter of the cost); with down,
-- the conv then a 2x2 average pool, as one convolution of stride 2 with
-- that kernel divided by 4. Bias and LeakyReLU(0.2) come after the
-- resampling. The weight (out, in, 3, 3) is an EqualizedConv2d's, gain
-- sqrt(2). StyleGAN's synthesis layers take it with act "linear" and no
-- bias: their bias comes after the blur and the noise.
-- @param in_channels C of the input
-- @param out_channels C of the output
-- @param scale "up" or "down"
-- @param act the activation (default "lrelu"; see nn.bias_acts)
-- @param opts {bias=true}
function Scaled:init(in_channels, out_channels, scale, act, opts)
  if scale ~= "up" and scale ~= "down" then
    error(("FusedScaleConv2d: scale must be \"up\" or \"down\", got %s"):format(tostring(scale)), 3)
  end
  nn.EqualizedConv2d.init(self, in_channels, out_channels, 3, { gain = SQRT2, activation = act or "lrelu",
    act_gain = 1, bias = not (opts and opts.bias == false) })
  self.scale = scale
end

--- The 4x4 kernel: the sum of the effective 3x3 kernel's four shifts.
-- @return (out, in, 4, 4)
function Scaled:kernel()
  local p = self:effective_weight():pad({ 1, 1, 1, 1 }, "zeros")  -- (out, in, 5, 5)
  local function at(i, j) return p:narrow(3, i, 4):narrow(4, j, 4) end
  return at(1, 1) + at(1, 2) + at(2, 1) + at(2, 2)
end

--- x (N, C_in, H, W) -> (N, C_out, 2H, 2W) with up, (N, C_out, H / 2, W / 2) with down.
function Scaled:forward(x)
  local k, y = self:kernel(), nil
  if self.scale == "up" then
    -- a transposed convolution's weight is (in, out, kh, kw) and is applied flipped
    y = x:conv_transpose2d(k:flip({ 3, 4 }):transpose(1, 2), nil, { stride = 2, padding = 1 })
  else
    y = x:conv2d(k * 0.25, nil, { stride = 2, padding = 1 })
  end
  return nn.bias_act(y, self.bias, { act = self.activation, gain = 1 })
end

--- Settings shown when printed.
function Scaled:extra_repr()
  return ("%d, %d, kernel_size=3, %s"):format(self.in_channels, self.out_channels, self.scale)
end

local GBlock = nn.Module:extend("PGGANGeneratorBlock")
M.GeneratorBlock = GBlock

--- One resolution of the generator: at 4x4 a dense layer from z and a 3x3
-- conv, above it a nearest 2x upsample and two 3x3 convs; pixel norm after
-- each.
-- @param in_channels the previous block's channels (for 4x4: the size of z)
-- @param out_channels this block's channels
-- @param res this block's resolution
-- @param act the activation (default "lrelu")
function GBlock:init(in_channels, out_channels, res, act)
  self.resolution, self.out_channels, self.activation = res, out_channels, act or "lrelu"
  self.norm = nn.PixelNorm()
  if res == 4 then
    -- gain sqrt(2) / 4, as the official code (to match the original Theano implementation); one
    -- bias per channel, added after the reshape to 4x4
    self.dense = nn.EqualizedLinear(in_channels, out_channels * 16, { gain = SQRT2 / 4, bias = false })
    self:param("bias", gan.zeros(out_channels))
    self.conv = conv(out_channels, out_channels, 3, act)
  else
    self.conv0 = Scaled(in_channels, out_channels, "up", act)
    self.conv1 = conv(out_channels, out_channels, 3, act)
  end
end

--- z (N, nz) at 4x4, else the previous block's features -> (N, out_channels, res, res).
function GBlock:forward(x)
  local pn = self.norm
  if self.dense then
    x = self.dense(pn(x:flatten(2))):reshape(x:size(1), self.out_channels, 4, 4)
    x = pn(nn.bias_act(x, self.bias, { act = self.activation, gain = 1 }))
    return pn(self.conv(x))
  end
  return pn(self.conv1(pn(self.conv0(x))))
end

local Generator = nn.Module:extend("PGGANGenerator")
M.Generator = Generator

--- The growing generator: z -> images at any resolution up to `resolution`.
-- Parameters: b4, b8, ... (blocks) and torgb4, torgb8, ... (1x1 convs).
-- @param nz the size of z
-- @param img_channels the image's channels
-- @param resolution the final resolution (a power of two >= 4)
-- @param opts {channel_base=16384, channel_max=512, activation="lrelu" (a smooth one such as "tanh"
--   suits finite differences)}
function Generator:init(nz, img_channels, resolution, opts)
  opts = opts or {}
  self.nz, self.img_channels, self.resolution = nz, img_channels, resolution
  self.blocks, self.torgb = {}, {}
  local cin = nz
  for _, res in ipairs(resolutions(resolution, "gan.nets.pggan.Generator")) do
    local c = M.channels(res, opts)
    local block = GBlock(cin, c, res, opts.activation)
    self:add_module("b" .. res, block)
    local torgb = nn.EqualizedConv2d(c, img_channels, 1)
    self:add_module("torgb" .. res, torgb)
    self.blocks[res], self.torgb[res] = block, torgb
    cin = c
  end
end

--- z (N, nz) or (N, nz, 1, 1) -> images (N, img_channels, res, res).
-- @param z the latents
-- @param res the resolution being trained (default: the final one)
-- @param alpha how far res has faded in, 0 to 1 (default 1)
function Generator:forward(z, res, alpha)
  res, alpha = level(self, res, alpha, "PGGANGenerator")
  local x, prev = nil, nil
  local r = 4
  while r <= res do
    prev = x
    x = self.blocks[r](x or z)
    r = r * 2
  end
  local img = self.torgb[res](x)
  if alpha == 1 then return img end
  return blend(self.torgb[res // 2](prev):upsample({ scale = 2 }), img, alpha)
end

--- Settings shown when printed.
function Generator:extra_repr()
  return ("nz=%d, img_channels=%d, resolution=%d"):format(self.nz, self.img_channels, self.resolution)
end

local DBlock = nn.Module:extend("PGGANDiscriminatorBlock")
M.DiscriminatorBlock = DBlock

--- One resolution of the discriminator above 4x4: two 3x3 convs, the
-- second followed by a 2x2 average pool (before its bias and activation,
-- as the official fused_scale); with `blur`, StyleGAN's low-pass filter
-- between the two (StyleGAN's D_basic: conv0, blur, conv1_down).
-- @param in_channels this resolution's channels
-- @param out_channels the next lower resolution's
-- @param act the activation (default "lrelu")
-- @param blur the blur's taps (StyleGAN: {1, 2, 1}), or nil for none
function DBlock:init(in_channels, out_channels, act, blur)
  self.conv0 = conv(in_channels, in_channels, 3, act)
  if blur then self.blur = nn.Blur(blur) end
  self.conv1 = Scaled(in_channels, out_channels, "down", act)
end

--- (N, in_channels, H, W) -> (N, out_channels, H / 2, W / 2).
function DBlock:forward(x)
  x = self.conv0(x)
  if self.blur then x = self.blur(x) end
  return self.conv1(x)
end

local Discriminator = nn.Module:extend("PGGANDiscriminator")
M.Discriminator = Discriminator

--- The growing discriminator: images at any resolution up to `resolution`
-- -> scores (N, 1). Parameters: fromrgb4, fromrgb8, ... (1x1 convs), b8,
-- b16, ... (blocks) and b4 (the epilogue: mbstd, conv, fc, out). With
-- `fixed`, only the final resolution's fromRGB: StyleGAN's D at a fixed
-- resolution (its 'fixed' structure), which takes only full-size images.
-- @param img_channels the image's channels
-- @param resolution the final resolution (a power of two >= 4)
-- @param opts {channel_base=16384, channel_max=512, mbstd_group=4 (0: none), activation="lrelu",
--   fixed=false, blur (taps of a blur before each downsampling conv: StyleGAN's {1, 2, 1}; nil: none)}
function Discriminator:init(img_channels, resolution, opts)
  opts = opts or {}
  self.img_channels, self.resolution = img_channels, resolution
  self.fixed = opts.fixed == true
  self.blocks, self.fromrgb = {}, {}
  local list = resolutions(resolution, "gan.nets.pggan.Discriminator")
  for i = #list, 1, -1 do
    local res = list[i]
    local c = M.channels(res, opts)
    if res == resolution or not self.fixed then
      local fromrgb = conv(img_channels, c, 1, opts.activation)
      self:add_module("fromrgb" .. res, fromrgb)
      self.fromrgb[res] = fromrgb
    end
    if res > 4 then
      local block = DBlock(c, M.channels(res // 2, opts), opts.activation, opts.blur)
      self:add_module("b" .. res, block)
      self.blocks[res] = block
    end
  end
  -- the official Dense0 has nf(0) = min(channel_base / 2, channel_max) outputs
  self.b4 = style.Epilogue(M.channels(4, opts), 4, { mbstd_group = opts.mbstd_group or 4, gain = SQRT2,
    fc_channels = M.channels(2, opts), activation = opts.activation })
end

--- img (N, img_channels, res, res) -> scores (N, 1).
-- @param img the images, at the resolution being trained
-- @param res that resolution (default: the final one)
-- @param alpha how far res has faded in, 0 to 1 (default 1)
function Discriminator:forward(img, res, alpha)
  res, alpha = level(self, res, alpha, "PGGANDiscriminator")
  if self.fixed and (res ~= self.resolution or alpha ~= 1) then
    error(("PGGANDiscriminator: a fixed discriminator takes only %dx%d images at alpha 1"):format(self.resolution,
      self.resolution), 2)
  end
  if img:dim() ~= 4 or img:size(2) ~= self.img_channels or img:size(3) ~= res or img:size(4) ~= res then
    error(("PGGANDiscriminator: expected images (N, %d, %d, %d), got (%s)"):format(self.img_channels, res, res,
      table.concat(img:shape(), ", ")), 2)
  end
  local x = self.fromrgb[res](img)
  if res > 4 then
    x = self.blocks[res](x)
    if alpha < 1 then x = blend(self.fromrgb[res // 2](img:avg_pool2d(2)), x, alpha) end
  end
  local r = res // 2
  while r > 4 do
    x = self.blocks[r](x)
    r = r // 2
  end
  return self.b4(x)
end

--- Settings shown when printed.
function Discriminator:extra_repr()
  return ("img_channels=%d, resolution=%d%s"):format(self.img_channels, self.resolution,
    self.fixed and ", fixed" or "")
end

--- Real images as D sees them while res fades in (the official
-- process_reals): average-pooled to res x res, and while alpha < 1 blended
-- with their res / 2 version, upsampled: the images at a fractional
-- resolution.
-- @param x images (N, C, S, S), S a multiple of res
-- @param res the resolution being trained
-- @param alpha how far it has faded in (default 1)
-- @return (N, C, res, res)
function M.reals(x, res, alpha)
  alpha = alpha or 1
  local s = x:size(3)
  if s % res ~= 0 or x:size(4) ~= s then
    error(("gan.nets.pggan.reals: images (%s) cannot be pooled to %dx%d"):format(table.concat(x:shape(), ", "),
      res, res), 2)
  end
  if s > res then x = x:avg_pool2d(s // res) end
  if alpha == 1 or res == 4 then return x end
  return blend(x:avg_pool2d(2):upsample({ scale = 2 }), x, alpha)
end

local Growth = {}
Growth.__index = Growth

--- The growing schedule (the official TrainingSchedule), measured in images
-- shown: `stabilize` images at the first resolution, then for each doubling
-- `fade` images fading it in (alpha from 0 to 1) and `stabilize` images at
-- it; the final resolution stays until the end of the run. The count of
-- images shown is its state (state_dict's `nimg`), so a checkpoint holds it
-- and a resumed run continues the schedule exactly.
-- @function Growth
-- @param opts {resolution= (final), start=4, stabilize= (images), fade= (images)}
-- @return the schedule
function M.Growth(opts)
  opts = opts or {}
  local self = setmetatable({ resolution = opts.resolution, start = opts.start or 4,
    stabilize = opts.stabilize, fade = opts.fade, nimg = 0 }, Growth)
  resolutions(self.resolution, "gan.nets.pggan.Growth")
  if self.start < 4 or self.start > self.resolution or self.start & (self.start - 1) ~= 0 then
    error(("gan.nets.pggan.Growth: start must be a power of two from 4 to %d, got %s"):format(self.resolution,
      tostring(self.start)), 2)
  end
  for _, k in ipairs({ "stabilize", "fade" }) do
    if math.type(self[k]) ~= "integer" or self[k] < 0 then
      error(("gan.nets.pggan.Growth: %s must be a count of images >= 0, got %s"):format(k, tostring(self[k])), 2)
    end
  end
  return self
end

--- The phase after nimg images: its index (0: stabilising at start, 1:
-- fading in 2 start, 2: stabilising at it, ...; the last one lasts), the
-- resolution and alpha.
-- @param nimg images shown (default: the schedule's count)
-- @return phase, res, alpha
function Growth:at(nimg)
  nimg = nimg or self.nimg
  local res, phase = self.start, 0
  local len = self.stabilize + self.fade
  while res < self.resolution do
    if nimg < self.stabilize then return phase, res, 1.0 end
    if nimg < len then return phase + 1, res * 2, (nimg - self.stabilize) / self.fade end
    nimg, res, phase = nimg - len, res * 2, phase + 2
  end
  return phase, res, 1.0
end

--- The resolution and alpha of the next step.
-- @return res, alpha
function Growth:current()
  local _, res, alpha = self:at()
  return res, alpha
end

--- The images shown until the final resolution has faded in.
-- @return integer
function Growth:grown()
  local n, res = 0, self.start
  while res < self.resolution do
    n, res = n + self.stabilize + self.fade, res * 2
  end
  return n
end

--- Counts n more images shown.
-- @param n the batch's size
-- @return nil, or when a phase ended with them: {phase=, res=, stabilized=} of the phase that
--   ended (stabilized: it was a stabilisation, the last phase of its resolution)
function Growth:advance(n)
  local before, res = self:at()
  self.nimg = self.nimg + n
  local after = self:at()
  if after == before then return nil end
  return { phase = before, res = res, stabilized = before % 2 == 0 }
end

--- The schedule's state: {nimg=}.
-- @return table
function Growth:state_dict()
  return { nimg = self.nimg }
end

--- Restores the count of images shown (a number or its text).
-- @param sd {nimg=}
function Growth:load_state_dict(sd)
  local n = math.tointeger(tonumber(sd.nimg))
  if not n then error(("gan.nets.pggan.Growth: nimg must be an integer, got %s"):format(tostring(sd.nimg)), 2) end
  self.nimg = n
end

return M
