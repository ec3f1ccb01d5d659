--- gan.nets.mlp: multilayer perceptrons, the 2014 GAN's networks and the
-- ones that learn toy 2-D sets.
--
--     local D = gan.nets.mlp({ 784, 512, 256, 1 }, { act = function() return nn.LeakyReLU(0.2) end })
--
-- Calling the module builds one (`gan.nets.mlp(sizes, opts)` is
-- `gan.nets.mlp.new(sizes, opts)`). Requires: gan.nn.
-- @module gan.nets.mlp

local nn = require "gan.nn"
local check = require "gan.check"

local M = {}

local NORMS = { "batch", "layer", "spectral", "none", "function" }

--- An MLP: Linear layers of the given sizes with an activation between them
-- (none after the last).
-- @param sizes list of widths, input first and output last
-- @param opts {act=function() -> module (default nn.ReLU), norm="none"|"batch"|"layer"|"spectral"|function(n) -> module
--   (a function's module follows each hidden Linear), last=module (after the last Linear)}
-- @return nn.Sequential
function M.new(sizes, opts)
  opts = check.options("gan.nets.mlp", opts)
  if type(sizes) ~= "table" or #sizes < 2 then
    error("gan.nets.mlp: needs at least an input and an output width", 2)
  end
  for i, n in ipairs(sizes) do check.integer("gan.nets.mlp", ("sizes[%d]"):format(i), n, 1) end
  local act = opts.act or function() return nn.ReLU() end
  local norm = nn.check_norm("gan.nets.mlp", opts.norm or "none", NORMS)
  local net = nn.Sequential()
  for i = 1, #sizes - 1 do
    local lin = nn.Linear(sizes[i], sizes[i + 1])
    net:add(norm == "spectral" and nn.SpectralNorm(lin) or lin)
    if i < #sizes - 1 then
      local n = nn.norm_layer1d(norm, sizes[i + 1])
      if n then net:add(n) end
      net:add(act())
    end
  end
  if opts.last then net:add(opts.last) end
  return net
end

return setmetatable(M, { __call = function(_, ...) return M.new(...) end })
