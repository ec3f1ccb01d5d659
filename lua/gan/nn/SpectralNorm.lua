--- SpectralNorm: a layer whose weight is divided by its largest singular value.
--
--     local conv = nn.SpectralNorm(nn.Conv2d(64, 128, 4, 2, 1))
--     local D = nn.Sequential { nn.SpectralNorm(nn.Linear(2, 128)), nn.ReLU(), ... }
--     nn.SpectralNorm.wrap(D)           -- or wrap every Linear and Conv2d of a network
--
-- Miyato et al. 2018 (arXiv:1802.05957): W_SN = W / sigma(W), with sigma(W)
-- estimated by power iteration on W seen as a matrix (out, in*kh*kw). The
-- vector u (out) is a buffer, saved in checkpoints with the weights; each
-- forward in training mode runs one power iteration and updates it in
-- place (u and v are constants for the gradient, as in the paper), while
-- in evaluation mode u is left as it is. The wrapped layer's `weight`
-- parameter becomes this module's `weight_orig` (the layer's own field
-- holds the normalised weight only while it runs, so initialisers such as
-- nn.init.dcgan still reach the raw weight).
-- @classmod gan.nn.SpectralNorm

local gan = require "gan"
local Module = require "gan.nn.Module"

local SpectralNorm = Module:extend("SpectralNorm")

local function normalize(x, eps)
  return x / (x:square():sum():sqrt() + eps)
end

--- @param module the layer to wrap (any module with a `weight` parameter of 2 or more dims)
-- @param opts {name="weight", n_power_iterations=1, eps=1e-12}
function SpectralNorm:init(module, opts)
  opts = opts or {}
  if not Module.is_module(module) then
    error(("SpectralNorm: expected a module to wrap, got %s"):format(type(module)), 3)
  end
  local name = opts.name or "weight"
  local w = rawget(module, name)
  if not Module.is_tensor(w) or not module:_has(module._params, name) then
    error(("SpectralNorm: %s has no parameter '%s'"):format(module.__name, name), 3)
  end
  if w:dim() < 2 then
    error(("SpectralNorm: '%s' of %s has %d dims; it needs 2 or more"):format(name, module.__name, w:dim()), 3)
  end
  self.name = name
  self.n_power_iterations = opts.n_power_iterations or 1
  if math.type(self.n_power_iterations) ~= "integer" or self.n_power_iterations < 1 then
    error("SpectralNorm: n_power_iterations must be an integer >= 1", 3)
  end
  self.eps = opts.eps or 1e-12
  -- the parameter moves to this module; the layer's field is set at each forward
  local list = module._params
  for i = #list, 1, -1 do if list[i] == name then table.remove(list, i) end end
  self.module = module
  self:param("weight_orig", w)
  self:buffer("u", gan.no_grad(function() return normalize(gan.randn(w:size(1)), self.eps) end))
end

--- The weight as a matrix (out, in*kh*kw).
-- @return tensor
function SpectralNorm:matrix()
  local w = self.weight_orig
  return w:reshape(w:size(1), -1)
end

--- Runs the power iteration `n` times on the current weight, updating u in
-- place; records nothing.
-- @param n iterations (default n_power_iterations)
-- @return self
function SpectralNorm:power_iteration(n)
  gan.no_grad(function()
    local m = self:matrix()
    local u = self.u
    for _ = 1, n or self.n_power_iterations do
      local v = normalize(m:t():matmul(u), self.eps)
      u = normalize(m:matmul(v), self.eps)
    end
    self.u:copy_(u)
  end)
  return self
end

--- The estimate of the largest singular value, u^T W v with v = W^T u / |W^T u|
-- (differentiable in W; u and v are constants).
-- @return a scalar tensor
function SpectralNorm:sigma()
  local m = self:matrix()
  -- a copy of u: the graph keeps it, and the next forward's power iteration moves self.u in place
  local u, v = gan.no_grad(function()
    local u = self.u:clone()
    return u, normalize(m:detach():t():matmul(u), self.eps)
  end)
  return (u * m:matmul(v)):sum()
end

--- The normalised weight W / sigma(W), of the original weight's shape.
-- @return tensor
function SpectralNorm:normalized_weight()
  return self.weight_orig / self:sigma()
end

--- Runs the wrapped layer with its weight normalised (one power iteration first in training mode).
function SpectralNorm:forward(...)
  if self.training then self:power_iteration() end
  rawset(self.module, self.name, self:normalized_weight())
  local r = table.pack(pcall(self.module, ...))
  rawset(self.module, self.name, self.weight_orig)
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

--- Settings shown when printed.
function SpectralNorm:extra_repr()
  return ("n_power_iterations=%d"):format(self.n_power_iterations)
end

--- Wraps every Linear and Conv2d (and ConvTranspose2d) of a network in
-- place, replacing each with SpectralNorm(layer).
-- @param net a module
-- @param opts options for each wrapper, and {types={Linear=true, Conv2d=true, ConvTranspose2d=true}}
-- @return net
function SpectralNorm.wrap(net, opts)
  opts = opts or {}
  local types = opts.types or { Linear = true, Conv2d = true, ConvTranspose2d = true }
  local function walk(m)
    for _, k in ipairs(m._children) do
      local c = rawget(m, k)
      if c ~= nil then
        if types[c.__name] then
          rawset(m, k, SpectralNorm(c, opts))
        elseif c.__name ~= "SpectralNorm" then
          walk(c)
        end
      end
    end
  end
  if types[net.__name] then error("SpectralNorm.wrap: wrap a single layer with nn.SpectralNorm(layer)", 2) end
  walk(net)
  return net
end

return SpectralNorm
