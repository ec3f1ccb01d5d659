--- Linear: y = x W^T + b, on the last dim of x.
--
-- Weight (out, in) and bias (out) start from U(-1/sqrt(in), 1/sqrt(in)),
-- as in PyTorch.
-- @classmod gan.nn.Linear

local gan = require "gan"
local Module = require "gan.nn.Module"
local check = require "gan.check"

local Linear = Module:extend("Linear")
Linear.tensor_input = true

--- @param in_features size of the input's last dim
-- @param out_features size of the output's last dim
-- @param opts {bias=true} (or the boolean bias itself)
function Linear:init(in_features, out_features, opts)
  if type(opts) == "boolean" then opts = { bias = opts } end
  opts = check.options("gan.nn.Linear", opts)
  self.in_features = check.integer("gan.nn.Linear", "in_features", in_features, 1)
  self.out_features = check.integer("gan.nn.Linear", "out_features", out_features, 1)
  local b = 1 / math.sqrt(in_features)
  self:param("weight", gan.uniform({ out_features, in_features }, -b, b))
  if opts.bias ~= false then self:param("bias", gan.uniform({ out_features }, -b, b)) end
end

--- x (..., in_features) -> (..., out_features).
function Linear:forward(x)
  return x:linear(self.weight, self.bias)
end

--- Settings shown when printed.
function Linear:extra_repr()
  return ("in_features=%d, out_features=%d, bias=%s"):format(self.in_features, self.out_features,
    tostring(self.bias ~= nil))
end

return Linear
