--- Normalisation layers: BatchNorm1d, BatchNorm2d, InstanceNorm2d,
-- LayerNorm, GroupNorm, PixelNorm; and the one norm vocabulary every
-- network builder speaks (`norm_layer`).
--
--     nn.BatchNorm2d(64)                                  -- eps 1e-5, momentum 0.1, affine
--     nn.BatchNorm2d(64, { momentum = 0.2, affine = false })
--     nn.InstanceNorm2d(64, { affine = true })
--     nn.LayerNorm({ 64, 8, 8 })
--     nn.PixelNorm()                                      -- PGGAN's, over the channels of each pixel
--     nn.norm_layer("instance", 64)                       -- what a builder puts after a conv
--
-- Batch norm keeps running_mean and running_var as buffers: in training mode
-- it normalises with the batch's statistics and updates the running ones
-- (new = (1 - momentum) old + momentum batch); in evaluation mode it uses the
-- running ones. Affine weights start at 1, biases at 0.
--
-- Under mpirun with gan.dist.sync_bn (SyncBN, --sync_bn), batch norm in
-- training mode, in a training step, normalises with the statistics of the global batch: the
-- per-channel sums of every rank's shard are added by gan.all_reduce
-- (mean, then the squared deviations from it), whose gradient adds the
-- ranks' gradients, so N ranks compute what one process computes on the
-- whole batch. A world of one never takes this path.
--
-- Requires: gan.nn.Module, gan.dist. Reads no options.
-- @module gan.nn.norm

local gan = require "gan"
local Module = require "gan.nn.Module"
local check = require "gan.check"
local dist = require "gan.dist"

local function affine_params(self, shape, affine)
  if affine then
    self:param("weight", gan.ones(shape))
    self:param("bias", gan.zeros(shape))
  end
end

-- Batch norm of x (N, C, H, W) in training mode over the global batch of
-- every rank (SyncBN): two-pass statistics, each pass one all-reduce of C sums.
local function sync_batch_norm(self, x)
  local C = x:size(2)
  local count = x:size(1) * x:size(3) * x:size(4) * dist.size
  local dims = { 1, 3, 4 }
  local mean = x:sum(dims, true):all_reduce() / count           -- (1, C, 1, 1)
  local d = x - mean
  local var = (d * d):sum(dims, true):all_reduce() / count      -- biased, as the normalisation uses
  local y = d * (var + self.eps):rsqrt()
  if self.weight then y = y * self.weight:reshape(1, C, 1, 1) + self.bias:reshape(1, C, 1, 1) end
  if self.track_running_stats then
    local m = self.momentum
    gan.no_grad(function()
      -- PyTorch's convention: the running variance is the unbiased one
      self.running_mean:copy_(self.running_mean * (1 - m) + mean:reshape(C) * m)
      self.running_var:copy_(self.running_var * (1 - m) + var:reshape(C) * (m * count / (count - 1)))
    end)
  end
  return y
end

local function make_bn(name, ranks)
  local BN = Module:extend(name)
  BN.tensor_input = true

  --- @param num_features C
  -- @param opts {eps=1e-5, momentum=0.1, affine=true, track_running_stats=true}
  function BN:init(num_features, opts)
    local who = "gan.nn." .. name
    opts = check.options(who, opts)
    self.num_features = check.integer(who, "num_features", num_features, 1)
    self.eps = check.number(who, "eps", opts.eps or 1e-5, 0)
    self.momentum = check.number(who, "momentum", opts.momentum or 0.1, 0, 1)
    self.affine = opts.affine ~= false
    self.track_running_stats = opts.track_running_stats ~= false
    affine_params(self, { num_features }, self.affine)
    if self.track_running_stats then
      self:buffer("running_mean", gan.zeros(num_features))
      self:buffer("running_var", gan.ones(num_features))
    end
  end

  function BN:forward(x)
    local d = x:dim()
    if not ranks[d] then
      error(("%s: expected input of %s dims, got shape (%s)"):format(name, ranks.text, table.concat(x:shape(), ", ")), 2)
    end
    local use_batch = self.training or not self.track_running_stats
    if dist.syncing and use_batch then
      if d == 4 then return sync_batch_norm(self, x) end
      local s = x:shape()
      return sync_batch_norm(self, x:reshape(s[1], s[2], s[3] or 1, 1)):reshape(s)
    end
    if d == 2 then
      -- (N, C) as (N, C, 1, 1)
      local n, c = x:size(1), x:size(2)
      return x:reshape(n, c, 1, 1):batch_norm(self.weight, self.bias, self.running_mean, self.running_var,
        use_batch, self.momentum, self.eps):reshape(n, c)
    end
    return x:batch_norm(self.weight, self.bias, self.running_mean, self.running_var, use_batch,
      self.momentum, self.eps)
  end

  function BN:extra_repr()
    return ("%d, eps=%g, momentum=%g, affine=%s, track_running_stats=%s"):format(self.num_features, self.eps,
      self.momentum, tostring(self.affine), tostring(self.track_running_stats))
  end
  return BN
end

local M = {}

--- Batch norm over (N, C) or (N, C, L).
M.BatchNorm1d = make_bn("BatchNorm1d", { [2] = true, [3] = true, text = "2 or 3" })
--- Batch norm over (N, C, H, W).
M.BatchNorm2d = make_bn("BatchNorm2d", { [4] = true, text = "4" })

local InstanceNorm2d = Module:extend("InstanceNorm2d")
InstanceNorm2d.tensor_input = true
M.InstanceNorm2d = InstanceNorm2d

--- Instance norm: each (sample, channel) plane normalised on its own.
-- @param num_features C
-- @param opts {eps=1e-5, affine=false}
function InstanceNorm2d:init(num_features, opts)
  opts = check.options("gan.nn.InstanceNorm2d", opts)
  self.num_features = check.integer("gan.nn.InstanceNorm2d", "num_features", num_features, 1)
  self.eps = check.number("gan.nn.InstanceNorm2d", "eps", opts.eps or 1e-5, 0)
  self.affine = opts.affine == true
  affine_params(self, { num_features }, self.affine)
end

--- x (N, C, H, W) -> normalised x.
function InstanceNorm2d:forward(x)
  return x:instance_norm(self.weight, self.bias, self.eps)
end

--- Settings shown when printed.
function InstanceNorm2d:extra_repr()
  return ("%d, eps=%g, affine=%s"):format(self.num_features, self.eps, tostring(self.affine))
end

local LayerNorm = Module:extend("LayerNorm")
LayerNorm.tensor_input = true
M.LayerNorm = LayerNorm

--- Layer norm over the trailing dims given by normalized_shape.
-- @param normalized_shape a number or a list of the trailing sizes
-- @param opts {eps=1e-5, elementwise_affine=true}
function LayerNorm:init(normalized_shape, opts)
  opts = opts or {}
  if type(normalized_shape) == "number" then normalized_shape = { normalized_shape } end
  self.normalized_shape = normalized_shape
  self.eps = opts.eps or 1e-5
  self.elementwise_affine = opts.elementwise_affine ~= false
  affine_params(self, normalized_shape, self.elementwise_affine)
end

--- x (..., normalized_shape) -> normalised x.
function LayerNorm:forward(x)
  return x:layer_norm(#self.normalized_shape, self.weight, self.bias, self.eps)
end

--- Settings shown when printed.
function LayerNorm:extra_repr()
  return ("(%s), eps=%g, elementwise_affine=%s"):format(table.concat(self.normalized_shape, ", "), self.eps,
    tostring(self.elementwise_affine))
end

local GroupNorm = Module:extend("GroupNorm")
GroupNorm.tensor_input = true
M.GroupNorm = GroupNorm

--- Group norm: channels split into groups, each normalised per sample.
-- @param num_groups number of groups (divides C)
-- @param num_channels C
-- @param opts {eps=1e-5, affine=true}
function GroupNorm:init(num_groups, num_channels, opts)
  opts = check.options("gan.nn.GroupNorm", opts)
  num_groups = check.integer("gan.nn.GroupNorm", "num_groups", num_groups, 1)
  num_channels = check.integer("gan.nn.GroupNorm", "num_channels", num_channels, 1)
  if num_channels % num_groups ~= 0 then
    error(("GroupNorm: num_channels %d is not divisible by num_groups %d"):format(num_channels, num_groups), 3)
  end
  self.num_groups, self.num_channels = num_groups, num_channels
  self.eps = opts.eps or 1e-5
  self.affine = opts.affine ~= false
  affine_params(self, { num_channels }, self.affine)
end

--- x (N, C, ...) -> normalised x.
function GroupNorm:forward(x)
  return x:group_norm(self.num_groups, self.weight, self.bias, self.eps)
end

--- Settings shown when printed.
function GroupNorm:extra_repr()
  return ("%d, %d, eps=%g, affine=%s"):format(self.num_groups, self.num_channels, self.eps, tostring(self.affine))
end

local PixelNorm = Module:extend("PixelNorm")
PixelNorm.tensor_input = true
M.PixelNorm = PixelNorm

--- Pixelwise feature vector normalisation (Karras et al. 2018, PGGAN): each
-- pixel's feature vector divided by its root mean square over the
-- channels, x / sqrt(mean_c(x^2) + eps); no parameters. On (N, F) features
-- it normalises each sample's vector (StyleGAN's z).
-- @param opts {eps=1e-8, dim=2 (the channels)}
function PixelNorm:init(opts)
  opts = opts or {}
  self.eps = opts.eps or 1e-8
  self.dim = opts.dim or 2
end

--- x (N, C, ...) -> x of the same shape, unit root mean square along dim.
function PixelNorm:forward(x)
  return x * (x:square():mean(self.dim, true) + self.eps):rsqrt()
end

--- Settings shown when printed.
function PixelNorm:extra_repr()
  return ("eps=%g"):format(self.eps)
end

-- ----------------------------------------------------------------------------
-- The norm vocabulary

--- The names a network builder's `norm` option takes (a function(c, size)
-- -> module is accepted too):
--
-- * "batch": BatchNorm2d (BatchNorm1d on features), which makes the
--   layer before it need no bias;
-- * "instance": InstanceNorm2d without affine parameters (CycleGAN's);
-- * "layer": LayerNorm over (c, size, size), or over c features (WGAN-GP's
--   critic: it does not mix the samples of a batch, which a gradient
--   penalty needs);
-- * "pixel": PixelNorm (PGGAN's generator): each pixel's channels scaled
--   to unit root mean square; no parameters, no mixing of samples;
-- * "spectral": no layer after the convolution: the builder wraps its
--   convolutions and linear layers in nn.SpectralNorm (SNGAN);
-- * "none".
M.norm_kinds = { "batch", "instance", "layer", "pixel", "spectral", "none" }

local known = {}
for _, k in ipairs(M.norm_kinds) do known[k] = true end

--- Checks a norm option against the kinds a builder takes; raises an error
-- naming the builder and the kinds otherwise.
-- @param who the builder's name, for the message
-- @param kind the option (a name or a function)
-- @param allowed list of the names this builder takes, with "function" when it takes a
--   function(c, size) -> module (default: every name and a function)
-- @return kind
function M.check_norm(who, kind, allowed)
  allowed = allowed or { "batch", "instance", "layer", "pixel", "spectral", "none", "function" }
  local name = type(kind) == "function" and "function" or kind
  for _, a in ipairs(allowed) do
    if a == name and (known[a] or a == "function") then return kind end
  end
  local names = {}
  for _, a in ipairs(allowed) do
    names[#names + 1] = a == "function" and "a function(c, size) -> module" or ("\"%s\""):format(a)
  end
  local list = #names > 1 and table.concat(names, ", ", 1, #names - 1) .. " or " .. names[#names] or names[1]
  error(("%s: norm must be %s, got %s"):format(who, list, tostring(kind)), 3)
end

--- The layer that follows a convolution with c output maps of size x size,
-- for a norm kind; nil for "none" and "spectral".
-- @param kind a name of norm_kinds, or a function(c, size) -> module
-- @param c channels
-- @param size the maps' height and width (needed by "layer" only)
-- @return a module or nil
function M.norm_layer(kind, c, size)
  if type(kind) == "function" then return kind(c, size) end
  if kind == "batch" then return M.BatchNorm2d(c) end
  if kind == "instance" then return InstanceNorm2d(c) end
  if kind == "layer" then
    if not size then error("norm_layer: \"layer\" needs the maps' size", 2) end
    return LayerNorm({ c, size, size })
  end
  if kind == "pixel" then return PixelNorm() end
  return nil
end

--- The layer that follows a linear layer with n outputs, for a norm kind
-- ("batch": BatchNorm1d, "layer": LayerNorm(n), "pixel": PixelNorm); nil for "none" and
-- "spectral". "instance" has no meaning on features and is an error.
-- @param kind a name of norm_kinds, or a function(n) -> module
-- @param n features
-- @return a module or nil
function M.norm_layer1d(kind, n)
  if type(kind) == "function" then return kind(n) end
  if kind == "batch" then return M.BatchNorm1d(n) end
  if kind == "layer" then return LayerNorm(n) end
  if kind == "pixel" then return PixelNorm() end
  if kind == "instance" then error("norm_layer1d: \"instance\" normalises maps, not features", 2) end
  return nil
end

--- Whether the layer before a norm of this kind keeps its bias: batch norm
-- subtracts the batch mean, so a bias before it would do nothing.
-- @param kind a norm kind
-- @return boolean
function M.bias_before(kind)
  return kind ~= "batch"
end

return M
