--- Weight initialisation, in place (gan.nn.init).
--
-- Every function fills a tensor in place, records nothing, and returns the
-- tensor. Fan-in and fan-out follow PyTorch: for a weight of shape
-- (out, in, kh, kw), fan_in = in*kh*kw and fan_out = out*kh*kw.
--
--     nn.init.normal_(conv.weight, 0, 0.02)
--     G:apply(nn.init.dcgan)        -- the DCGAN paper's N(0, 0.02)
-- @module gan.nn.init

local gan = require "gan"

local M = {}

--- Fan-in and fan-out of a weight tensor (2-d or more).
-- @param t the tensor
-- @return fan_in, fan_out
function M.fans(t)
  local d = t:dim()
  if d < 2 then error(("nn.init: fan in and fan out need a tensor of 2 or more dims, got %d"):format(d), 3) end
  local s = t:shape()
  local recept = 1
  for i = 3, d do recept = recept * s[i] end
  return s[2] * recept, s[1] * recept
end

--- The recommended gain for a nonlinearity, as PyTorch's calculate_gain.
-- @param nonlinearity "linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"
-- @param param the negative slope for leaky_relu (default 0.01)
-- @return number
function M.calculate_gain(nonlinearity, param)
  nonlinearity = nonlinearity or "leaky_relu"
  if nonlinearity == "linear" or nonlinearity == "sigmoid" or nonlinearity:match("^conv") then return 1 end
  if nonlinearity == "tanh" then return 5 / 3 end
  if nonlinearity == "relu" then return math.sqrt(2) end
  if nonlinearity == "leaky_relu" then
    local a = param or 0.01
    return math.sqrt(2 / (1 + a * a))
  end
  if nonlinearity == "selu" then return 3 / 4 end
  error(("nn.init.calculate_gain: unknown nonlinearity '%s'"):format(nonlinearity), 2)
end

--- Fills with N(mean, std^2).
-- @param t tensor
-- @param mean (default 0)
-- @param std (default 1)
-- @return t
function M.normal_(t, mean, std)
  t:normal_(mean or 0, std or 1)
  return t
end

--- Fills with U(lo, hi).
-- @param t tensor
-- @param lo (default 0)
-- @param hi (default 1)
-- @return t
function M.uniform_(t, lo, hi)
  t:uniform_(lo or 0, hi or 1)
  return t
end

--- Fills with a constant.
-- @param t tensor
-- @param v value
-- @return t
function M.constant_(t, v)
  t:fill_(v)
  return t
end

--- Fills with zeros.
-- @param t tensor
-- @return t
function M.zeros_(t)
  t:zero_()
  return t
end

--- Fills with ones.
-- @param t tensor
-- @return t
function M.ones_(t)
  t:fill_(1)
  return t
end

--- Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
-- @param t tensor (2-d or more)
-- @param gain (default 1)
-- @return t
function M.xavier_uniform_(t, gain)
  local fi, fo = M.fans(t)
  local b = (gain or 1) * math.sqrt(6 / (fi + fo))
  t:uniform_(-b, b)
  return t
end

--- Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
-- @param t tensor (2-d or more)
-- @param gain (default 1)
-- @return t
function M.xavier_normal_(t, gain)
  local fi, fo = M.fans(t)
  t:normal_(0, (gain or 1) * math.sqrt(2 / (fi + fo)))
  return t
end

local function kaiming_std(t, a, mode, nonlinearity)
  local fi, fo = M.fans(t)
  local fan = (mode == "fan_out") and fo or fi
  return M.calculate_gain(nonlinearity or "leaky_relu", a or 0) / math.sqrt(fan)
end

--- He uniform: U(-b, b) with b = sqrt(3) * gain / sqrt(fan).
-- @param t tensor (2-d or more)
-- @param a negative slope of the leaky ReLU that follows (default 0)
-- @param mode "fan_in" (default) or "fan_out"
-- @param nonlinearity (default "leaky_relu")
-- @return t
function M.kaiming_uniform_(t, a, mode, nonlinearity)
  local b = math.sqrt(3) * kaiming_std(t, a, mode, nonlinearity)
  t:uniform_(-b, b)
  return t
end

--- He normal: N(0, std^2) with std = gain / sqrt(fan).
-- @param t tensor (2-d or more)
-- @param a negative slope of the leaky ReLU that follows (default 0)
-- @param mode "fan_in" (default) or "fan_out"
-- @param nonlinearity (default "leaky_relu")
-- @return t
function M.kaiming_normal_(t, a, mode, nonlinearity)
  t:normal_(0, kaiming_std(t, a, mode, nonlinearity))
  return t
end

--- A (semi-)orthogonal matrix, from the QR decomposition of a Gaussian
-- matrix (Gram-Schmidt, with R's diagonal made positive), times gain.
-- Dims after the first are flattened.
-- @param t tensor (2-d or more)
-- @param gain (default 1)
-- @return t
function M.orthogonal_(t, gain)
  if t:dim() < 2 then error("nn.init.orthogonal_: needs a tensor of 2 or more dims", 2) end
  local rows = t:size(1)
  local cols = t:numel() // rows
  -- work on the tall orientation: n vectors of length m, n <= m
  local m, n = math.max(rows, cols), math.min(rows, cols)
  local g = gan.randn(n, m):totable()
  local q = {}
  for j = 1, n do
    local v = g[j]
    for i = 1, j - 1 do
      local dot = 0
      for k = 1, m do dot = dot + q[i][k] * v[k] end
      for k = 1, m do v[k] = v[k] - dot * q[i][k] end
    end
    local norm = 0
    for k = 1, m do norm = norm + v[k] * v[k] end
    norm = math.sqrt(norm)
    if norm < 1e-12 then norm = 1 end
    for k = 1, m do v[k] = v[k] / norm end
    q[j] = v
  end
  -- q holds n orthonormal rows of length m
  local flat, gain_ = {}, gain or 1
  if rows <= cols then
    for r = 1, rows do for c = 1, cols do flat[#flat + 1] = gain_ * q[r][c] end end
  else
    for r = 1, rows do for c = 1, cols do flat[#flat + 1] = gain_ * q[c][r] end end
  end
  t:copy_(gan.tensor(flat):reshape(t:shape()))
  return t
end

--- The DCGAN paper's initialisation, for use with module:apply: every
-- convolution (and linear) weight from N(0, 0.02) and its bias zero; every
-- batch-norm weight from N(1, 0.02) and its bias zero.
-- @param m a module
function M.dcgan(m)
  local name = m.__name or ""
  if name:match("^Conv") or name == "Linear" then
    if m.weight then m.weight:normal_(0, 0.02) end
    if m.bias then m.bias:zero_() end
  elseif name:match("^BatchNorm") then
    if m.weight then m.weight:normal_(1, 0.02) end
    if m.bias then m.bias:zero_() end
  end
end

--- Applies `dcgan` to every module of a network.
-- @param net a module
-- @return net
function M.dcgan_(net)
  net:apply(M.dcgan)
  return net
end

return M
