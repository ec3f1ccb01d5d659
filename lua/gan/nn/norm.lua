--- Normalisation layers: BatchNorm1d, BatchNorm2d, InstanceNorm2d,
-- LayerNorm, GroupNorm.
--
--     nn.BatchNorm2d(64)                                  -- eps 1e-5, momentum 0.1, affine
--     nn.BatchNorm2d(64, { momentum = 0.2, affine = false })
--     nn.InstanceNorm2d(64, { affine = true })
--     nn.LayerNorm({ 64, 8, 8 })
--
-- Batch norm keeps running_mean and running_var as buffers: in training mode
-- it normalises with the batch's statistics and updates the running ones
-- (new = (1 - momentum) old + momentum batch); in evaluation mode it uses the
-- running ones. Affine weights start at 1, biases at 0.
-- @module gan.nn.norm

local gan = require "gan"
local Module = require "gan.nn.Module"

local function affine_params(self, shape, affine)
  if affine then
    self:param("weight", gan.ones(shape))
    self:param("bias", gan.zeros(shape))
  end
end

local function make_bn(name, ranks)
  local BN = Module:extend(name)

  --- @param num_features C
  -- @param opts {eps=1e-5, momentum=0.1, affine=true, track_running_stats=true}
  function BN:init(num_features, opts)
    opts = opts or {}
    self.num_features = num_features
    self.eps = opts.eps or 1e-5
    self.momentum = opts.momentum or 0.1
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
M.InstanceNorm2d = InstanceNorm2d

--- Instance norm: each (sample, channel) plane normalised on its own.
-- @param num_features C
-- @param opts {eps=1e-5, affine=false}
function InstanceNorm2d:init(num_features, opts)
  opts = opts or {}
  self.num_features = num_features
  self.eps = opts.eps or 1e-5
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
M.GroupNorm = GroupNorm

--- Group norm: channels split into groups, each normalised per sample.
-- @param num_groups number of groups (divides C)
-- @param num_channels C
-- @param opts {eps=1e-5, affine=true}
function GroupNorm:init(num_groups, num_channels, opts)
  opts = opts or {}
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

return M
