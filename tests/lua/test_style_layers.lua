-- The layers of StyleGAN and StyleGAN2: NoiseInjection, AdaIN, modulated_conv2d (both paths), ModulatedConv2d,
-- StyledConv2d and ToRGB, against loops over their definitions, PyTorch
-- numbers, and finite differences of first and second order.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn
local RS = nn.resample


-- the squared gradient of sum(f() * r) for x, as a function to check for other inputs
local function grad_norm(f, x, r)
  return function()
    local g = gan.grad((f() * r):sum(), x, { create_graph = true })
    return g:square():sum()
  end
end

T.case("NoiseInjection: strength from 0, random, const and none modes, per-channel strength", function()
  gan.manual_seed(3)
  local x = gan.randn(2, 3, 4, 4)
  local ni = nn.NoiseInjection({ resolution = 4 })
  U.equal(U.maxdiff(ni(x), x), 0, "strength 0: the identity")
  ni.strength:fill_(0.5)
  local a, b = ni(x), ni(x)
  U.truthy(U.maxdiff(a, b) > 0.1, "random: new noise each call")
  local d = (a - x):totable()
  for c = 2, 3 do U.close(d[1][c][2][3], d[1][1][2][3], 1e-6, "one noise map for every channel") end
  ni.noise_mode = "const"
  U.truthy(U.maxdiff(ni(x), x + ni.noise_const * 0.5) < 1e-6, "const: the buffer")
  U.equal(U.maxdiff(ni(x, "none"), x), 0, "none for one call")
  local z = gan.randn(2, 1, 4, 4)
  U.truthy(U.maxdiff(ni(x, z), x + z * 0.5) < 1e-6, "given noise")
  local pc = nn.NoiseInjection({ channels = 3 })
  U.shape(pc.strength, { 3 })
  pc.strength:copy_(gan.tensor({ 0, 1, 2 }))
  U.truthy(U.maxdiff(pc(x, z), x + z * gan.tensor({ 0, 1, 2 }):reshape(1, 3, 1, 1)) < 1e-6, "per channel")
  U.raises(function() pc(x, "const") end, "needs a resolution")
  U.raises(function() nn.NoiseInjection({ mode = "fixed" }) end, "mode must be")
  local net = nn.Sequential { nn.NoiseInjection(), nn.Sequential { nn.NoiseInjection() } }
  nn.set_noise_mode(net, "none")
  U.equal(net[2][1].noise_mode, "none", "set_noise_mode reaches nested layers")
  U.gradcheck(function() return (ni(x, z) * x):sum() end, { ni.strength })
end)

T.case("AdaIN: instance norm, then (1 + y_s) x + y_b from an affine map of w", function()
  gan.manual_seed(4)
  local ada = nn.AdaIN(3, 5)
  U.shape(ada.style.weight, { 6, 5 })
  local x, w = gan.randn(2, 3, 4, 4) * 3 + 1, gan.randn(2, 5)
  local y = ada(x, w)
  local s = (w:matmul(ada.style.weight:t()) / math.sqrt(5) + ada.style.bias):totable()
  local xv, yv = x:totable(), y:totable()
  for n = 1, 2 do
    for c = 1, 3 do
      local mean, var = 0, 0
      for i = 1, 4 do for j = 1, 4 do mean = mean + xv[n][c][i][j] / 16 end end
      for i = 1, 4 do for j = 1, 4 do var = var + (xv[n][c][i][j] - mean) ^ 2 / 16 end end
      for i = 1, 4 do
        for j = 1, 4 do
          local want = (xv[n][c][i][j] - mean) / math.sqrt(var + 1e-8) * (1 + s[n][c]) + s[n][3 + c]
          U.close(yv[n][c][i][j], want, 1e-4, "AdaIN")
        end
      end
    end
  end
  local xr = x:requires_grad(true)
  local r = gan.randn(2, 3, 4, 4)
  U.gradcheck(function() return (ada(xr, w) * r):sum() end, { xr, ada.style.weight }, { points = 5 })
  U.gradcheck(grad_norm(function() return ada(xr, w) end, xr, r), { ada.style.weight, ada.style.bias },
    { points = 5, name = "second order" })
end)

-- the modulated convolution one sample at a time: its own scaled (and demodulated) kernel
local function modconv_loop(x, weight, styles, o)
  local outs = {}
  for i = 1, x:size(1) do
    local w = weight * styles:narrow(1, i, 1):reshape(1, -1, 1, 1)
    if o.demodulate ~= false then w = w / (w:square():sum({ 2, 3, 4 }, true) + 1e-8):sqrt() end
    outs[i] = RS.conv2d_resample(x:narrow(1, i, 1), w, { f = o.f, up = o.up, padding = o.padding,
      flip_weight = o.flip_weight })
  end
  return gan.cat(outs, 1)
end

T.case("modulated_conv2d: the fused and training paths agree, and match a per-sample loop", function()
  gan.manual_seed(5)
  local f = RS.setup_filter({ 1, 3, 3, 1 })
  local x = gan.randn(3, 4, 5, 5)
  local s = gan.randn(3, 4) + 1
  for _, k in ipairs({ 3, 1 }) do
    local weight = gan.randn(6, 4, k, k)
    for _, o in ipairs({ { padding = k // 2 }, { padding = k // 2, up = 2, f = f, flip_weight = false },
                         { padding = k // 2, demodulate = false }, { padding = k // 2, demodulate = false, up = 2, f = f } }) do
      local what = ("k %d, up %d, demodulate %s"):format(k, o.up or 1, tostring(o.demodulate ~= false))
      local train = nn.modulated_conv2d(x, weight, s, setmetatable({ fused = false }, { __index = o }))
      local fused = nn.modulated_conv2d(x, weight, s, setmetatable({ fused = true }, { __index = o }))
      U.shape(train, { 3, 6, 5 * (o.up or 1), 5 * (o.up or 1) }, what)
      U.truthy(U.maxdiff(train, fused) < 1e-4, what .. ": fused vs training path " .. U.maxdiff(train, fused))
      U.truthy(U.maxdiff(train, modconv_loop(x, weight, s, o)) < 1e-4, what .. ": per-sample loop")
    end
  end
  U.raises(function() nn.modulated_conv2d(x, gan.randn(6, 4, 3, 3), gan.randn(2, 4)) end, "styles must be (N, C_in)")
end)

T.case("modulated_conv2d against PyTorch numbers (up 2, demodulated; 3x3 without demodulation)", function()
  -- /usr/bin/python3, torch 1.13, float64: NVlabs' modulated_conv2d (training path) on NVlabs'
  -- generic conv2d_resample (FIR upsampling of x with the whole padding by zero insertion, F.pad
  -- and a depthwise F.conv2d with the flipped filter, then a valid F.conv2d), with
  -- x = sin(0.7 i + 0.3) as (2, 3, 3, 3), weight = cos(0.5 i + 0.2) as (2, 3, 3, 3),
  -- styles = 1 + 0.5 sin(1.3 i) as (2, 3), f = outer([1,3,3,1], [1,3,3,1]) / 64;
  -- its fused path agreed to 6e-16
  local x, weight = U.det({ 2, 3, 3, 3 }, 0.7, 0.3), U.det({ 2, 3, 3, 3 }, 0.5, 0.2, "cos")
  local styles = U.det({ 2, 3 }, 1.3, 0) * 0.5 + 1
  local f = RS.setup_filter({ 1, 3, 3, 1 })
  for _, fused in ipairs({ false, true }) do
    local y = nn.modulated_conv2d(x, weight, styles, { up = 2, f = f, padding = 1, flip_weight = false, fused = fused })
    U.tclose(y:narrow(1, 2, 1), {
      -0.026792651359723932, 0.004533521763057446, 0.05374425291596624, 0.10713954863098984, 0.14152144042082046,
      0.14211745550118016, 0.06315148064496094, 0.19115259698000311, 0.3200174091812112, 0.41730214318623454,
      0.42284287328083997, 0.30018568699755466, 0.1856568871159822, 0.3047194428652013, 0.35497124220616066,
      0.3402185831976157, 0.26282345141616525, 0.12299698176512222, 0.28048964891358674, 0.2919424002562365,
      0.1941216774688556, 0.03900171747490297, -0.0852481928279973, -0.12812707886039962, 0.08660243049678566,
      0.0005652803804264135, -0.10419684418747949, -0.19870046786264045, -0.23254002309601554,
      -0.1754157941402759, -0.2189958478637629, -0.31913448617751483, -0.33725277581901586, -0.2923253496066485,
      -0.21481699736495605, -0.12012002915233919, 0.12260374963683106, 0.22970029486972393, 0.31975151151973175,
      0.37635194946482237, 0.36785820942773867, 0.273786524432728, 0.19068203471886314, 0.3034374891228976,
      0.3391151700232636, 0.30669391883988845, 0.2175586512840334, 0.07745029951117421, 0.19071368477546352,
      0.20378204038575978, 0.11730145543352169, -0.02402562426061847, -0.1442535060752059, -0.19889044799855063,
      0.038017368612280146, -0.0811193167270926, -0.19906416565646218, -0.2894010819119607, -0.30553383252395677,
      -0.21871838431340854, -0.21734690638377813, -0.36595480231621513, -0.40600699714592803, -0.358265819733127,
      -0.25624116071074277, -0.1167714517539921, -0.25849169548859147, -0.30993200107166097, -0.2828395721344731,
      -0.20359313078173796, -0.1145471586182154, -0.039117543696094784,
    }, 1e-5, "sample 2, fused " .. tostring(fused))
    local z = nn.modulated_conv2d(x, weight, styles, { demodulate = false, padding = 1, fused = fused })
    U.tclose(z:narrow(1, 1, 1):narrow(2, 2, 1), {
      -0.45039499089299156, 0.9154240473064226, 1.7031964318583481, 3.1963421691966385, 4.187410899538686,
      1.9674150498172074, 0.23768459014047416, -1.3623076821630606, -1.4207192886323512,
    }, 1e-5, "no demodulation, sample 1 channel 2")
  end
end)

T.case("demodulation: every sample's scaled kernel of every output channel has unit norm", function()
  gan.manual_seed(6)
  local m = nn.ModulatedConv2d(4, 5, 3, 8)
  U.tclose(m.affine.bias, { 1, 1, 1, 1 }, 0, "styles start as the identity: bias 1")
  local w = gan.randn(2, 8)
  local s = m:styles(w)
  for i = 1, 2 do
    local k = m.weight * s:narrow(1, i, 1):reshape(1, 4, 1, 1)
    local d = (k:square():sum({ 2, 3, 4 }) + 1e-8):rsqrt()
    U.tclose((k * d:reshape(5, 1, 1, 1)):square():sum({ 2, 3, 4 }), { 1, 1, 1, 1, 1 }, 1e-5, "unit norms")
  end
  -- hence the output barely depends on the scale of the styles
  local x = gan.randn(2, 4, 4, 4)
  local y1 = nn.modulated_conv2d(x, m.weight, s, { padding = 1 })
  local y2 = nn.modulated_conv2d(x, m.weight, s * 10, { padding = 1 })
  U.truthy(U.maxdiff(y1, y2) < 1e-4, "scale-free")
end)

T.case("ModulatedConv2d: fused in evaluation mode, the training path in training mode, same numbers", function()
  gan.manual_seed(7)
  local m = nn.ModulatedConv2d(3, 4, 3, 6, { up = 2 })
  local x, w = gan.randn(2, 3, 4, 4), gan.randn(2, 6)
  local train = m(x, w)
  m:eval()
  local fused = m(x, w)
  U.shape(fused, { 2, 4, 8, 8 })
  U.truthy(U.maxdiff(train, fused) < 1e-4, "the two paths")
  local want = modconv_loop(x, m.weight, m:styles(w), { up = 2, f = m.filter, padding = 1, flip_weight = false })
  U.truthy(U.maxdiff(fused, want) < 1e-4, "per-sample loop")
  U.equal(m:extra_repr(), "3, 4, kernel_size=3, w_dim=6, up=2")
end)

T.case("first and second derivatives of the modulated convolution, both paths, up and not", function()
  gan.manual_seed(8)
  for _, up in ipairs({ 1, 2 }) do
    for _, fused in ipairs({ false, true }) do
      local m = nn.ModulatedConv2d(2, 3, 3, 4, { up = up })
      local x = gan.randn(2, 2, 3, 3):requires_grad(true)
      local w = gan.randn(2, 4):requires_grad(true)
      local r = gan.randn(2, 3, 3 * up, 3 * up)
      local f = function() return m(x, w, { fused = fused }) end
      local what = ("up %d, fused %s"):format(up, tostring(fused))
      U.gradcheck(function() return (f() * r):sum() end, { x, w, m.weight, m.affine.weight }, { points = 4, name = what })
      -- R1 and path length differentiate through gradients: w's gradient, then the weights'
      U.gradcheck(grad_norm(f, w, r), { m.weight, m.affine.weight, x }, { points = 4, name = what .. ", second order" })
    end
  end
end)

T.case("StyledConv2d: modulated conv, noise, bias, lrelu * sqrt(2)", function()
  gan.manual_seed(9)
  local sc = nn.StyledConv2d(3, 4, 3, 5, { up = 2, resolution = 8 })
  local x, w = gan.randn(2, 3, 4, 4), gan.randn(2, 5)
  sc.noise.strength:fill_(0.3)
  sc.bias:copy_(gan.tensor({ 0.1, -0.2, 0.3, 0 }))
  local y = sc(x, w, { noise = "const" })
  local pre = sc.conv(x, w) + sc.noise.noise_const * 0.3 + sc.bias:reshape(1, 4, 1, 1)
  U.truthy(U.maxdiff(y, pre:leaky_relu(0.2) * math.sqrt(2)) < 1e-5, "the layer's formula")
  U.shape(sc(x, w), { 2, 4, 8, 8 }, "random noise")
  U.shape(nn.StyledConv2d(3, 4, 3, 5, { noise = false })(x, w), { 2, 4, 4, 4 }, "without noise")
  -- a smooth activation for the finite differences (lrelu's kink makes them jump)
  local smooth = nn.StyledConv2d(3, 4, 3, 5, { up = 2, resolution = 8, activation = "tanh" })
  smooth.noise.strength:fill_(0.3)
  local xr = x:requires_grad(true)
  local r = gan.randn(2, 4, 8, 8)
  U.gradcheck(grad_norm(function() return smooth(xr, w, { noise = "const" }) end, xr, r),
    { smooth.conv.weight, smooth.noise.strength, smooth.bias }, { points = 4, name = "second order" })
end)

T.case("ToRGB: modulation without demodulation, a bias, and the skip generator's upsampled image", function()
  gan.manual_seed(10)
  local t = nn.ToRGB(4, 3, 6)
  U.equal(t.conv.demodulate, false)
  local x, w = gan.randn(2, 4, 4, 4), gan.randn(2, 6)
  t.bias:copy_(gan.tensor({ 1, 2, 3 }))
  local s = t.conv.affine(w) / 2                               -- 1 / sqrt(4 * 1 * 1)
  local want = (x * s:reshape(2, 4, 1, 1)):conv2d(t.conv.weight, t.bias)
  U.truthy(U.maxdiff(t(x, w), want) < 1e-5, "1x1 modulated conv + bias")
  local img = gan.randn(2, 3, 2, 2)
  local y = t(x, w, { skip = img })
  U.truthy(U.maxdiff(y, RS.upsample2d(img, RS.setup_filter({ 1, 3, 3, 1 })) + want) < 1e-5, "skip")
  t:eval()
  U.truthy(U.maxdiff(t(x, w), want) < 1e-5, "fused")
end)

T.run()
