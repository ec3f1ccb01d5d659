--- Conditional batch norm (de Vries et al. 2017; Dumoulin et al. 2017), as
-- BigGAN uses it: batch norm without affine parameters, then a gain and a
-- bias that are linear functions of a condition vector (BigGAN: a shared
-- class embedding concatenated with a chunk of z).
--
--     local cbn = nn.ConditionalBatchNorm2d(64, 148)     -- 64 channels, condition of 148
--     local y = cbn(x, cond)                             -- bn(x) * (1 + gain(cond)) + bias(cond)
--
-- The gain is learned around 1: the two linear layers have no bias and are
-- spectrally normalized unless opts.sn is false. Running statistics are
-- kept as in nn.BatchNorm2d (the layer holds one, without affine
-- parameters, as `bn`); the linear layers are `gain` and `offset`.
-- Requires: gan.nn.Module, gan.nn.Linear, gan.nn.SpectralNorm, gan.nn.norm. Reads no options.
-- @classmod gan.nn.ConditionalBatchNorm2d

local Module = require "gan.nn.Module"
local Linear = require "gan.nn.Linear"
local SpectralNorm = require "gan.nn.SpectralNorm"
local norm = require "gan.nn.norm"

local ConditionalBatchNorm2d = Module:extend("ConditionalBatchNorm2d")

--- @param c channels
-- @param cond_dim size of the condition vector
-- @param opts {sn=true, eps=1e-5, momentum=0.1}
function ConditionalBatchNorm2d:init(c, cond_dim, opts)
  opts = opts or {}
  for _, v in ipairs({ c, cond_dim }) do
    if math.type(v) ~= "integer" or v < 1 then
      error(("ConditionalBatchNorm2d: channels and cond_dim must be integers >= 1, got %s, %s"):format(
        tostring(c), tostring(cond_dim)), 3)
    end
  end
  local function lin()
    local m = Linear(cond_dim, c, { bias = false })
    return opts.sn == false and m or SpectralNorm(m)
  end
  self.channels, self.cond_dim = c, cond_dim
  self.bn = norm.BatchNorm2d(c, { affine = false, eps = opts.eps, momentum = opts.momentum })
  self.gain = lin()
  self.offset = lin()
end

--- x (N, C, H, W), cond (N, cond_dim) -> bn(x) * (1 + gain(cond)) + bias(cond).
function ConditionalBatchNorm2d:forward(x, cond)
  if cond == nil or cond:dim() ~= 2 or cond:size(2) ~= self.cond_dim or cond:size(1) ~= x:size(1) then
    error(("ConditionalBatchNorm2d: the condition must be (%d, %d), got %s"):format(x:size(1), self.cond_dim,
      cond and "(" .. table.concat(cond:shape(), ", ") .. ")" or "nil"), 2)
  end
  local n = x:size(1)
  local gain = (self.gain(cond) + 1):reshape(n, self.channels, 1, 1)
  local bias = self.offset(cond):reshape(n, self.channels, 1, 1)
  return self.bn(x) * gain + bias
end

--- Settings shown when printed.
function ConditionalBatchNorm2d:extra_repr()
  return ("%d, cond_dim=%d"):format(self.channels, self.cond_dim)
end

return { ConditionalBatchNorm2d = ConditionalBatchNorm2d }
