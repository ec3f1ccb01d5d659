--- Activation modules: ReLU, LeakyReLU, ELU, Tanh, Sigmoid, Softplus, Identity.
--
--     nn.LeakyReLU(0.2)    nn.ELU(1.0)    nn.Softplus(1, 20)
-- @module gan.nn.activations

local Module = require "gan.nn.Module"
local check = require "gan.check"

local M = {}

local function simple(name, method)
  local A = Module:extend(name)
  A.tensor_input = true
  A.forward = function(_, x) return x[method](x) end
  M[name] = A
end

-- ReLU: max(x, 0); Tanh: tanh(x); Sigmoid: 1 / (1 + exp(-x)). Each is a
-- module with no parameters: nn.ReLU(), nn.Tanh(), nn.Sigmoid().
simple("ReLU", "relu")
simple("Tanh", "tanh")
simple("Sigmoid", "sigmoid")

local LeakyReLU = Module:extend("LeakyReLU")
LeakyReLU.tensor_input = true
M.LeakyReLU = LeakyReLU
--- x for x > 0, slope * x otherwise.
-- @param slope (default 0.01)
function LeakyReLU:init(slope) self.slope = check.number("gan.nn.LeakyReLU", "slope", slope or 0.01) end
--- x (any shape) -> same shape.
function LeakyReLU:forward(x) return x:leaky_relu(self.slope) end
--- Settings shown when printed.
function LeakyReLU:extra_repr() return ("negative_slope=%g"):format(self.slope) end

local ELU = Module:extend("ELU")
ELU.tensor_input = true
M.ELU = ELU
--- x for x > 0, alpha * (exp(x) - 1) otherwise.
-- @param alpha (default 1)
function ELU:init(alpha) self.alpha = check.number("gan.nn.ELU", "alpha", alpha or 1) end
--- x (any shape) -> same shape.
function ELU:forward(x) return x:elu(self.alpha) end
--- Settings shown when printed.
function ELU:extra_repr() return ("alpha=%g"):format(self.alpha) end

local Softplus = Module:extend("Softplus")
M.Softplus = Softplus
--- log(1 + exp(beta x)) / beta, linear above threshold.
-- @param beta (default 1)
-- @param threshold (default 20)
function Softplus:init(beta, threshold) self.beta, self.threshold = beta or 1, threshold or 20 end
--- x (any shape) -> same shape.
function Softplus:forward(x) return x:softplus(self.beta, self.threshold) end
--- Settings shown when printed.
function Softplus:extra_repr() return ("beta=%g, threshold=%g"):format(self.beta, self.threshold) end

local Identity = Module:extend("Identity")
M.Identity = Identity
--- Returns its input.
function Identity:forward(x) return x end

return M
