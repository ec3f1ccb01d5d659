--- Equalized learning rate: EqualizedLinear, EqualizedConv2d, and bias_act
-- (bias, activation and gain in one call).
--
--     nn.EqualizedLinear(512, 512, { activation = "lrelu", lr_multiplier = 0.01 })  -- a mapping layer
--     nn.EqualizedConv2d(256, 512, 3, { activation = "lrelu", down = 2 })           -- StyleGAN2's D
--     nn.EqualizedConv2d(512, 512, 3, { gain = math.sqrt(2) })                      -- PGGAN's conv
--     nn.bias_act(x, b, { act = "lrelu" })                                          -- lrelu(x + b) * sqrt(2)
--
-- Karras et al. 2018 (PGGAN, arXiv:1710.10196): the weights are stored as
-- N(0, 1) and multiplied at run time by the He constant gain / sqrt(fan_in),
-- so every layer's weights move at the same speed under Adam, whatever its
-- fan-in. A layer's `lr_multiplier` (StyleGAN's mapping network: 0.01) is
-- folded into the same place, as NVlabs' FullyConnectedLayer does: the
-- stored weight starts at N(0, 1 / lr_multiplier^2) and the run-time gain is
-- lr_multiplier * gain / sqrt(fan_in), so the effective weight starts as
-- N(0, gain^2 / fan_in) while Adam's steps, which do not depend on the
-- gradient's scale, move it lr_multiplier times slower. The bias is stored
-- as bias_init / bias_lr_multiplier and multiplied by bias_lr_multiplier
-- (default: lr_multiplier), so the effective bias starts at bias_init (as in
-- NVlabs' StyleGAN3 code; StyleGAN2-ADA's stores bias_init itself, which is
-- the same whenever bias_init is 0 or the multiplier 1, as in every official
-- configuration).
--
-- This lr_multiplier is not the optimizer's `Module:lr_mult`: that one
-- multiplies the optimizer's rate; this one changes the parametrisation.
--
-- Two places for the He gain: PGGAN and StyleGAN put sqrt(2) into the
-- weight (`gain`), StyleGAN2 into the activation (`act_gain`, which
-- defaults to the activation's own gain: sqrt(2) for relu and lrelu, 1 for
-- linear, as NVlabs' bias_act).
--
-- Requires: gan.nn.Module, gan.nn.resample (only for up or down > 1, which
-- needs the upfirdn2d op). Reads no options.
-- @module gan.nn.equalized

local gan = require "gan"
local Module = require "gan.nn.Module"
local resample = require "gan.nn.resample"

local M = {}

--- The activations bias_act knows: name -> {fn = function(x, alpha), gain = default gain,
-- scaled = function(x, alpha, gain) (optional: the activation and the gain in one op, the
-- same numbers as fn(x, alpha) * gain)}.
-- @table bias_acts
M.bias_acts = {
  linear = { fn = function(x) return x end, gain = 1 },
  relu = { fn = function(x) return x:relu() end, gain = math.sqrt(2) },
  lrelu = { fn = function(x, alpha) return x:leaky_relu(alpha) end, gain = math.sqrt(2),
    scaled = function(x, alpha, gain) return x:leaky_relu(alpha, gain) end },
  tanh = { fn = function(x) return x:tanh() end, gain = 1 },
  sigmoid = { fn = function(x) return x:sigmoid() end, gain = 1 },
}

local function activation(name, who)
  local a = M.bias_acts[name or "linear"]
  if not a then
    local names = {}
    for k in pairs(M.bias_acts) do names[#names + 1] = k end
    table.sort(names)
    error(("%s: unknown activation '%s' (%s)"):format(who, tostring(name), table.concat(names, ", ")), 3)
  end
  return a
end

--- Adds a bias along dim 2, applies an activation, scales by a gain and
-- clamps, as NVlabs' bias_act: clamp(act(x + b) * gain, -clamp, clamp).
-- @param x (N, C, ...)
-- @param b the bias (C), or nil
-- @param opts {act="linear" (or "relu", "lrelu", "tanh", "sigmoid"), alpha=0.2 (lrelu's slope),
--   gain (default: the activation's, sqrt(2) for relu and lrelu), clamp (none by default)}
-- @return a tensor of x's shape
function M.bias_act(x, b, opts)
  opts = opts or {}
  local a = activation(opts.act, "nn.bias_act")
  if b ~= nil then
    local shape = { 1, b:numel() }
    for d = 3, x:dim() do shape[d] = 1 end
    x = x + b:reshape(shape)
  end
  local gain = opts.gain or a.gain
  if gain ~= 1 and a.scaled then
    x = a.scaled(x, opts.alpha or 0.2, gain)
  else
    x = a.fn(x, opts.alpha or 0.2)
    if gain ~= 1 then x = x * gain end
  end
  if opts.clamp then x = x:clamp(-opts.clamp, opts.clamp) end
  return x
end

-- the settings every equalized layer takes
local function setup(self, who, fan_in, opts)
  opts = opts or {}
  self.lr_multiplier = opts.lr_multiplier or 1
  self.bias_lr_multiplier = opts.bias_lr_multiplier or self.lr_multiplier
  self.gain = opts.gain or 1
  self.activation = opts.activation or "linear"
  local a = activation(self.activation, who)
  self.alpha = opts.alpha or 0.2
  self.act_gain = opts.act_gain or a.gain
  self.clamp = opts.clamp
  self.weight_gain = self.gain * self.lr_multiplier / math.sqrt(fan_in)
  self.bias_gain = self.bias_lr_multiplier
  return opts
end

local function make_bias(self, n, opts)
  if opts.bias == false then return end
  local init = opts.bias_init or 0
  local b = type(init) == "table" and gan.tensor(init) or gan.full({ n }, init)
  if b:numel() ~= n then
    error(("%s: bias_init has %d values for %d outputs"):format(self.__name, b:numel(), n), 4)
  end
  self:param("bias", b / self.bias_lr_multiplier)
end

local function effective_bias(self)
  if self.bias == nil then return nil end
  if self.bias_gain == 1 then return self.bias end
  return self.bias * self.bias_gain
end

local function repr(self)
  local s = {}
  if self.gain ~= 1 then s[#s + 1] = ("gain=%g"):format(self.gain) end
  if self.lr_multiplier ~= 1 then s[#s + 1] = ("lr_multiplier=%g"):format(self.lr_multiplier) end
  if self.activation ~= "linear" then s[#s + 1] = ("activation=%s"):format(self.activation) end
  if self.bias == nil then s[#s + 1] = "bias=false" end
  return #s > 0 and ", " .. table.concat(s, ", ") or ""
end

local EqualizedLinear = Module:extend("EqualizedLinear")
M.EqualizedLinear = EqualizedLinear

--- A linear layer with an equalized learning rate: y = act(x (g W)^T + b)
-- * act_gain, W stored as N(0, 1 / lr_multiplier^2), g = gain * lr_multiplier / sqrt(in).
-- @param in_features size of the input's last dim
-- @param out_features size of the output's last dim
-- @param opts {bias=true, bias_init=0 (a number or a list), lr_multiplier=1, bias_lr_multiplier
--   (default lr_multiplier), gain=1, activation="linear" (or "relu", "lrelu", ...), alpha=0.2,
--   act_gain (default the activation's), clamp}
function EqualizedLinear:init(in_features, out_features, opts)
  opts = setup(self, "EqualizedLinear", in_features, opts)
  self.in_features, self.out_features = in_features, out_features
  self:param("weight", gan.randn(out_features, in_features) / self.lr_multiplier)
  make_bias(self, out_features, opts)
end

--- The weight the layer multiplies by (weight * weight_gain).
-- @return (out, in)
function EqualizedLinear:effective_weight()
  return self.weight * self.weight_gain
end

--- x (..., in_features) -> (..., out_features).
function EqualizedLinear:forward(x)
  local w, b = self:effective_weight(), effective_bias(self)
  if self.activation == "linear" and self.act_gain == 1 and not self.clamp then return x:linear(w, b) end
  local y = x:linear(w, nil)
  local shape = y:shape()
  -- bias_act adds along dim 2: (..., out) as (M, out)
  y = M.bias_act(y:reshape(-1, self.out_features), b,
    { act = self.activation, alpha = self.alpha, gain = self.act_gain, clamp = self.clamp })
  return y:reshape(shape)
end

--- Settings shown when printed.
function EqualizedLinear:extra_repr()
  return ("in_features=%d, out_features=%d"):format(self.in_features, self.out_features) .. repr(self)
end

local EqualizedConv2d = Module:extend("EqualizedConv2d")
M.EqualizedConv2d = EqualizedConv2d

--- A square convolution with an equalized learning rate, optionally up- or
-- downsampling with a FIR filter (NVlabs' Conv2dLayer): weight stored
-- (out, in, k, k) as N(0, 1 / lr_multiplier^2), multiplied by gain *
-- lr_multiplier / sqrt(in k k); padding k // 2 ("same"); with up = 2 a
-- transposed convolution then the filter, with down = 2 the filter then a
-- strided convolution (gan.nn.resample.conv2d_resample).
-- @param in_channels C of the input
-- @param out_channels C of the output
-- @param kernel_size k
-- @param opts {bias=true, bias_init=0, lr_multiplier=1, bias_lr_multiplier, gain=1,
--   activation="linear", alpha=0.2, act_gain, clamp, up=1, down=1, filter={1, 3, 3, 1} (taps for
--   resample.setup_filter), padding=k // 2}
function EqualizedConv2d:init(in_channels, out_channels, kernel_size, opts)
  opts = setup(self, "EqualizedConv2d", in_channels * kernel_size * kernel_size, opts)
  self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
  self.up, self.down = opts.up or 1, opts.down or 1
  self.padding = opts.padding or kernel_size // 2
  if self.up > 1 or self.down > 1 then
    self.taps = opts.filter or { 1, 3, 3, 1 }
    self.filter = resample.setup_filter(self.taps)
  end
  self:param("weight", gan.randn(out_channels, in_channels, kernel_size, kernel_size) / self.lr_multiplier)
  make_bias(self, out_channels, opts)
end

--- The kernel the layer convolves with (weight * weight_gain).
-- @return (out, in, k, k)
function EqualizedConv2d:effective_weight()
  return self.weight * self.weight_gain
end

--- x (N, C_in, H, W) -> (N, C_out, H * up / down, W * up / down).
-- @param x the input
-- @param gain an extra gain on the output (and the clamp), as NVlabs' residual blocks pass sqrt(0.5) (default 1)
function EqualizedConv2d:forward(x, gain)
  gain = gain or 1
  local y = resample.conv2d_resample(x, self:effective_weight(), {
    f = self.filter, up = self.up, down = self.down, padding = self.padding,
    -- NVlabs correlates only without upsampling (the kernels are random, so either is the layer)
    flip_weight = self.up == 1,
  })
  return M.bias_act(y, effective_bias(self), {
    act = self.activation, alpha = self.alpha, gain = self.act_gain * gain,
    clamp = self.clamp and self.clamp * gain,
  })
end

--- Settings shown when printed.
function EqualizedConv2d:extra_repr()
  local s = ("%d, %d, kernel_size=%d"):format(self.in_channels, self.out_channels, self.kernel_size)
  if self.up > 1 then s = s .. (", up=%d"):format(self.up) end
  if self.down > 1 then s = s .. (", down=%d"):format(self.down) end
  return s .. repr(self)
end

return M
