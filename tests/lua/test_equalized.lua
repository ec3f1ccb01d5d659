-- gan.nn.equalized: EqualizedLinear, EqualizedConv2d and bias_act against
-- their formulas; the learning-rate multiplier against one Adam step
-- computed by hand; first and second derivatives.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn


local function std(t)
  return gan.no_grad(function() return t:var({ 1, 2 }):sqrt():item() end)
end

T.case("bias_act: act(x + b) * gain, clamped; lrelu and relu default to gain sqrt(2)", function()
  local x = gan.tensor({ { { { -2 } }, { { 3 } } } })            -- (1, 2, 1, 1)
  local b = gan.tensor({ 1, -1 })
  local r2 = math.sqrt(2)
  U.tclose(nn.bias_act(x, b, { act = "lrelu" }), { -0.2 * r2, 2 * r2 }, 1e-6, "lrelu 0.2, gain sqrt 2")
  U.tclose(nn.bias_act(x, b, { act = "relu", gain = 3 }), { 0, 6 }, 1e-6, "relu, gain 3")
  U.tclose(nn.bias_act(x, b, { act = "lrelu", alpha = 0.5, clamp = 1 }), { -0.5 * r2, 1 }, 1e-6, "clamp")
  U.tclose(nn.bias_act(x, nil), { -2, 3 }, 0, "linear, no bias")
  U.raises(function() nn.bias_act(x, b, { act = "swish" }) end, "unknown activation 'swish'")
end)

T.case("bias_act's lrelu with its gain is one op, with the bits of leaky_relu then * gain", function()
  gan.manual_seed(3)
  local x = gan.randn(4, 6, 5, 5):requires_grad(true)
  local b = gan.randn(6):requires_grad(true)
  local g = gan.randn(4, 6, 5, 5)
  local fused = nn.bias_act(x, b, { act = "lrelu", alpha = 0.2 })
  local two = (x + b:reshape(1, 6, 1, 1)):leaky_relu(0.2) * math.sqrt(2)
  U.equal(U.maxdiff(fused, two), 0, "forward, bit for bit")
  U.equal(U.maxdiff(x:leaky_relu(0.2, 3), x:leaky_relu(0.2) * 3), 0, "x:leaky_relu(slope, gain)")
  local gf = gan.grad((fused * g):sum(), { x, b })
  local gt = gan.grad((two * g):sum(), { x, b })
  U.equal(U.maxdiff(gf[1], gt[1]), 0, "gradient in x, bit for bit")
  U.equal(U.maxdiff(gf[2], gt[2]), 0, "gradient in b, bit for bit")
  local t = gan.tensor({ { -1.3, 0.7, 2.1 }, { -0.4, 1.1, -2.2 } }):requires_grad(true)
  local w = gan.tensor({ { 0.5, -1, 2 }, { 1.5, 0.25, -0.75 } })
  U.gradcheck(function() return (t:leaky_relu(0.2, 1.5) * w):sum() end, { t })
end)

T.case("EqualizedLinear: N(0, 1) weights scaled by gain / sqrt(fan_in) at run time", function()
  gan.manual_seed(1)
  local l = nn.EqualizedLinear(400, 300)
  U.close(std(l.weight), 1, 0.02, "stored weights ~ N(0, 1)")
  U.close(l.weight_gain, 1 / 20, 1e-12, "1 / sqrt(400)")
  U.tclose(l.bias, gan.zeros(300):totable(), 0, "bias 0")
  local x = gan.randn(5, 400)
  U.truthy(U.maxdiff(l(x), x:matmul(l.weight:t()) / 20 + l.bias) < 1e-5, "y = x (W / 20)^T + b")
  -- PGGAN's gain sqrt(2) goes into the weight; StyleGAN2's into the activation
  local p = nn.EqualizedLinear(400, 300, { gain = math.sqrt(2) })
  U.close(p.weight_gain, math.sqrt(2) / 20, 1e-12)
  local a = nn.EqualizedLinear(400, 3, { activation = "lrelu", bias_init = { 1, 2, 3 } })
  local want = nn.bias_act(x:matmul(a.weight:t()) / 20, gan.tensor({ 1, 2, 3 }), { act = "lrelu" })
  U.truthy(U.maxdiff(a(x), want) < 1e-5, "lrelu(x W^T / 20 + b) sqrt(2), bias from bias_init")
  U.shape(a(gan.randn(2, 4, 400)), { 2, 4, 3 }, "any leading dims")
  U.equal(tostring(a), "EqualizedLinear(in_features=400, out_features=3, activation=lrelu)")
end)

T.case("lr_multiplier: init scaled by 1 / lr_mult, gain by lr_mult; Adam's first step moves the layer lr * lr_mult / sqrt(fan_in)", function()
  gan.manual_seed(2)
  local m = 0.01
  local l = nn.EqualizedLinear(256, 256, { lr_multiplier = m, bias_init = 0.5 })
  U.close(std(l.weight), 1 / m, 0.02, "stored std 1 / lr_mult")
  U.close(std(l:effective_weight()) * 16, 1, 0.02, "effective std 1 / sqrt(fan_in), as without a multiplier")
  U.close(l.bias[1]:item() * l.bias_gain, 0.5, 1e-6, "effective bias starts at bias_init")
  local w0, b0 = l:effective_weight():detach():clone(), (l.bias * l.bias_gain):detach():clone()
  local opt = gan.optim.Adam(l, { lr = 0.1, betas = { 0, 0.99 }, eps = 1e-30 })
  opt:step((l(gan.randn(8, 256)) * gan.randn(8, 256)):sum())
  -- Adam's first step is lr * g / (|g| + eps): lr in every entry of the stored tensors
  local dw = (l:effective_weight() - w0):abs()
  local step = 0.1 * m / 16
  U.close(dw:max():item() / step, 1, 1e-3, "the largest step of an effective weight, over lr lr_mult / sqrt(256)")
  U.close(dw:min():item() / step, 1, 1e-3, "and the smallest")
  U.close(((l.bias * l.bias_gain) - b0):abs():mean():item() / (0.1 * m), 1, 1e-3, "bias steps lr * lr_mult")
  local sep = nn.EqualizedLinear(4, 4, { lr_multiplier = m, bias_lr_multiplier = 1, bias_init = 2 })
  U.close(sep.bias_gain, 1, 0); U.close(sep.bias[1]:item(), 2, 1e-7, "a bias with its own multiplier")
end)

T.case("EqualizedConv2d: same padding, He gain, bias_act, and the resampling paths", function()
  gan.manual_seed(3)
  local c = nn.EqualizedConv2d(3, 5, 3, { activation = "lrelu", bias_init = 0.1 })
  local x = gan.randn(2, 3, 6, 6)
  local w = c.weight / math.sqrt(27)
  local want = x:conv2d(w, gan.full({ 5 }, 0.1), { padding = 1 }):leaky_relu(0.2) * math.sqrt(2)
  U.truthy(U.maxdiff(c(x), want) < 1e-5, "lrelu(conv(x, W / sqrt(27)) + b) sqrt(2)")
  U.truthy(U.maxdiff(c(x, 0.5), want * 0.5) < 1e-5, "an extra gain")
  local f = gan.nn.resample.setup_filter({ 1, 3, 3, 1 })
  local d = nn.EqualizedConv2d(3, 4, 3, { down = 2, bias = false })
  U.shape(d(x), { 2, 4, 3, 3 })
  local dw = d.weight / math.sqrt(27)
  U.truthy(U.maxdiff(d(x), gan.nn.resample.conv2d_resample(x, dw, { f = f, down = 2, padding = 1 })) < 1e-5,
    "down: filter, then a strided convolution")
  local u = nn.EqualizedConv2d(3, 4, 3, { up = 2, bias = false })
  U.shape(u(x), { 2, 4, 12, 12 })
  local uw = u.weight / math.sqrt(27)
  U.truthy(U.maxdiff(u(x), gan.nn.resample.conv2d_resample(x, uw,
    { f = f, up = 2, padding = 1, flip_weight = false })) < 1e-5, "up: transposed convolution, then the filter")
  local s = nn.EqualizedConv2d(3, 4, 1, { down = 2, bias = false })
  U.shape(s(x), { 2, 4, 3, 3 }, "a 1x1 skip")
  U.equal(tostring(d), "EqualizedConv2d(3, 4, kernel_size=3, down=2, bias=false)")
end)

T.case("first and second derivatives through the equalized layers", function()
  gan.manual_seed(4)
  local l = nn.EqualizedLinear(4, 3, { activation = "tanh", lr_multiplier = 0.1, bias_init = 0.3 })
  U.gradcheck_module(l, gan.randn(2, 4), { points = 5 })
  local c = nn.EqualizedConv2d(2, 3, 3, { activation = "tanh", down = 2 })
  local x = gan.randn(2, 2, 4, 4):requires_grad(true)
  U.gradcheck_module(c, x, { points = 5 })
  -- R1-like: the squared input gradient, differentiated for the parameters
  local r = gan.randn(c(x):shape())
  U.gradcheck(function()
    local g = gan.grad((c(x) * r):sum(), x, { create_graph = true })
    return g:square():sum()
  end, c:parameters(), { points = 5, name = "second order" })
end)

T.run()
