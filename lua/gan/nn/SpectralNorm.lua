--- SpectralNorm: a layer whose weight is divided by its largest singular value.
--
--     local conv = nn.SpectralNorm(nn.Conv2d(64, 128, 4, 2, 1))
--     local D = nn.Sequential { nn.SpectralNorm(nn.Linear(2, 128)), nn.ReLU(), ... }
--     nn.SpectralNorm.wrap(D)           -- or wrap every Linear and Conv2d of a network
--
-- Miyato et al. 2018 (arXiv:1802.05957): W_SN = W / sigma(W), with sigma(W)
-- estimated by power iteration on W seen as a matrix (out, in*kh*kw). For a
-- ConvTranspose2d, whose weight is (in, out, kh, kw), the matrix is also
-- (out, in*kh*kw) (dim 2 first), as PyTorch's spectral_norm does for
-- transposed convolutions. The vectors u (out) and v (in*kh*kw) are
-- buffers, saved in checkpoints with the weights. Each forward in training
-- mode runs one iteration of the paper's Algorithm 1, v = W^T u / |W^T u|,
-- u = W v / |W v|, and sigma = u^T W v with the u and v of that same
-- iteration (constants for the gradient, as in the paper); in evaluation
-- mode u and v are left as they are. The wrapped layer's `weight`
-- parameter becomes this module's `weight_orig` (the layer's own field
-- holds the normalised weight only while it runs, so initialisers such as
-- nn.init.dcgan still reach the raw weight).
--
-- Option `estimator = "transpose"` instead recomputes v from the updated u
-- and uses sigma = |W^T u|, one more matrix product per step; it is
-- kept only to compare the two (after one iteration both are lower
-- bounds of sigma and "transpose" is the larger, but both converge to the
-- same value as u does, and the paper's is what published models used).
-- @classmod gan.nn.SpectralNorm

local gan = require "gan"
local Module = require "gan.nn.Module"

local SpectralNorm = Module:extend("SpectralNorm")

local function normalize(x, eps)
  return x / (x:square():sum():sqrt() + eps)
end

--- @param module the layer to wrap (any module with a `weight` parameter of 2 or more dims)
-- @param opts {name="weight", n_power_iterations=1, eps=1e-12, dim (the weight's dimension of the
--   outputs: 1, or 2 for a ConvTranspose2d), estimator="paper" (or "transpose": see above)}
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
  self.dim = opts.dim or (module.__name == "ConvTranspose2d" and 2 or 1)
  if self.dim ~= 1 and self.dim ~= 2 then
    error(("SpectralNorm: dim must be 1 or 2, got %s"):format(tostring(self.dim)), 3)
  end
  self.estimator = opts.estimator or "paper"
  if self.estimator ~= "paper" and self.estimator ~= "transpose" then
    error(("SpectralNorm: estimator must be \"paper\" or \"transpose\", got %s"):format(tostring(self.estimator)), 3)
  end
  -- the parameter moves to this module; the layer's field is set at each forward
  local list = module._params
  for i = #list, 1, -1 do if list[i] == name then table.remove(list, i) end end
  self.module = module
  self:param("weight_orig", w)
  local u = gan.no_grad(function() return normalize(gan.randn(w:size(self.dim)), self.eps) end)
  self:buffer("u", u)
  -- v starts as W^T u / |W^T u| (no draw: the random streams stay where they were)
  self:buffer("v", gan.no_grad(function() return normalize(self:matrix():t():matmul(u), self.eps) end))
end

--- The weight as a matrix (out, in*kh*kw); for dim 2, the weight's first two dims swapped first.
-- @return tensor
function SpectralNorm:matrix()
  local w = self.weight_orig
  if self.dim == 2 then w = w:transpose(1, 2) end
  return w:reshape(w:size(1), -1)
end

--- Runs the power iteration `n` times on the current weight (v = W^T u / |W^T u|,
-- then u = W v / |W v|), updating u and v in place; records nothing.
-- @param n iterations (default n_power_iterations)
-- @return self
function SpectralNorm:power_iteration(n)
  gan.no_grad(function()
    local m = self:matrix()
    local u, v = self.u, self.v
    for _ = 1, n or self.n_power_iterations do
      v = normalize(m:t():matmul(u), self.eps)
      u = normalize(m:matmul(v), self.eps)
    end
    self.u:copy_(u)
    self.v:copy_(v)
  end)
  return self
end

--- The estimate of the largest singular value (differentiable in W; u and v
-- are constants): u^T W v with the u and v of the last power iteration, or
-- with estimator "transpose" |W^T u| (v recomputed from u).
-- @return a scalar tensor
function SpectralNorm:sigma()
  local m = self:matrix()
  -- copies: the graph keeps them, and the next forward's power iteration moves u and v in place
  local u, v = gan.no_grad(function()
    local u = self.u:clone()
    if self.estimator == "transpose" then return u, normalize(m:detach():t():matmul(u), self.eps) end
    return u, self.v:clone()
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
  local s = ("n_power_iterations=%d"):format(self.n_power_iterations)
  if self.dim ~= 1 then s = s .. (", dim=%d"):format(self.dim) end
  if self.estimator ~= "paper" then s = s .. ", estimator=" .. self.estimator end
  return s
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
