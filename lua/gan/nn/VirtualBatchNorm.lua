--- VirtualBatchNorm and ReferenceBatch: batch norm whose statistics come from
-- a reference batch fixed at the start of training.
--
-- Salimans et al. 2016 (Improved Techniques for Training GANs): batch norm
-- makes each sample's output depend on the other samples of its batch.
-- Virtual batch norm normalises each sample x with the statistics of a
-- reference batch (chosen once, at the start) together with x itself: per
-- channel, mean = (x's mean + R * reference mean) / (R + 1), and the same for
-- the mean of squares; the reference batch is normalised with its own
-- statistics. The outputs of two samples no longer depend on each other.
--
-- The reference batch is an input of the network (its activations at each
-- layer give the statistics there), so the two classes work together:
-- `ReferenceBatch(net, ref)` keeps `ref` as a buffer (saved in checkpoints
-- with the network), runs `net` on [ref; x] and returns the rows of x; every
-- VirtualBatchNorm inside treats its first R rows as the reference.
--
--     local body = nn.Sequential { nn.ConvTranspose2d(100, 128, 4), nn.VirtualBatchNorm(128), nn.ReLU(), ... }
--     local G = nn.ReferenceBatch(body, gan.randn(64, 100, 1, 1))
--     local fake = G(z)                  -- (N, ...), each sample normalised with the reference
-- @module gan.nn.VirtualBatchNorm

local gan = require "gan"
local Module = require "gan.nn.Module"

local M = {}

local VBN = Module:extend("VirtualBatchNorm")
M.VirtualBatchNorm = VBN

--- @param num_features C
-- @param opts {eps=1e-5, affine=true, ref_size= (the number of reference
--   rows; ReferenceBatch sets it)}
function VBN:init(num_features, opts)
  opts = opts or {}
  self.num_features = num_features
  self.eps = opts.eps or 1e-5
  self.affine = opts.affine ~= false
  self.ref_size = opts.ref_size or 0
  if self.affine then
    self:param("weight", gan.ones(num_features))
    self:param("bias", gan.zeros(num_features))
  end
end

-- (x - mean) / sqrt(mean_sq - mean^2 + eps)
local function normalise(x, mean, mean_sq, eps)
  return (x - mean) * (mean_sq - mean:square()):clamp(0, nil):add(eps):rsqrt()
end

--- x (R + N, C) or (R + N, C, H, W), the reference rows first -> the same shape.
function VBN:forward(x)
  local d, r = x:dim(), self.ref_size
  if d ~= 2 and d ~= 4 then
    error(("VirtualBatchNorm: expected input (N, C) or (N, C, H, W), got (%s)"):format(table.concat(x:shape(), ", ")), 2)
  end
  if x:size(2) ~= self.num_features then
    error(("VirtualBatchNorm: expected %d channels, got (%s)"):format(self.num_features, table.concat(x:shape(), ", ")), 2)
  end
  if r < 1 or x:size(1) < r then
    error(("VirtualBatchNorm: the input must start with the %d rows of the reference batch, got (%s) "
      .. "(wrap the network in nn.ReferenceBatch)"):format(r, table.concat(x:shape(), ", ")), 2)
  end
  local spatial = d == 4 and { 3, 4 } or nil
  local ref = x:narrow(1, 1, r)
  local all = d == 4 and { 1, 3, 4 } or 1
  local ref_mean, ref_sq = ref:mean(all, true), ref:square():mean(all, true)
  local out = normalise(ref, ref_mean, ref_sq, self.eps)
  local n = x:size(1) - r
  if n > 0 then
    local rest = x:narrow(1, r + 1, n)
    -- each sample's own statistics (over its pixels), weighed as one more member of the reference batch
    local own_mean = spatial and rest:mean(spatial, true) or rest
    local own_sq = spatial and rest:square():mean(spatial, true) or rest:square()
    local a = 1 / (r + 1)
    local mean = own_mean * a + ref_mean * (1 - a)
    local mean_sq = own_sq * a + ref_sq * (1 - a)
    out = gan.cat({ out, normalise(rest, mean, mean_sq, self.eps) }, 1)
  end
  if self.affine then
    local shape = d == 4 and { 1, self.num_features, 1, 1 } or { 1, self.num_features }
    out = out * self.weight:reshape(shape) + self.bias:reshape(shape)
  end
  return out
end

--- Settings shown when printed.
function VBN:extra_repr()
  return ("%d, eps=%g, affine=%s"):format(self.num_features, self.eps, tostring(self.affine))
end

local ReferenceBatch = Module:extend("ReferenceBatch")
M.ReferenceBatch = ReferenceBatch

--- @param net the network (with VirtualBatchNorm layers)
-- @param reference the reference batch (R, ...): an input of net, kept as
--   the buffer `reference` (a copy)
function ReferenceBatch:init(net, reference)
  if not Module.is_module(net) then error("ReferenceBatch: expected a network as the first argument", 3) end
  if not gan.is_tensor(reference) or reference:dim() < 1 or reference:size(1) < 1 then
    error("ReferenceBatch: expected a reference batch (R, ...) as the second argument", 3)
  end
  self.net = net
  self:buffer("reference", reference:detach():clone())
end

--- x (N, ...) -> net([reference; x]) without the reference's rows.
function ReferenceBatch:forward(x)
  local r = self.reference:size(1)
  for _, m in ipairs(self.net:modules()) do
    if m.__name == "VirtualBatchNorm" then m.ref_size = r end
  end
  return self.net(gan.cat({ self.reference, x }, 1)):narrow(1, r + 1, x:size(1))
end

--- Settings shown when printed.
function ReferenceBatch:extra_repr()
  return ("reference=(%s)"):format(table.concat(self.reference:shape(), ", "))
end

return M
