-- gan.nn.resample: FIR filters, upsample2d, downsample2d, filter2d (Blur)
-- and conv2d_resample, on the upfirdn2d op. The op-based reference of
-- upfirdn2d_ref.lua is checked against the definition, and the op against both.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local R = require "upfirdn2d_ref"
local nn = gan.nn
local RS = nn.resample

local CASES = {
  { f = { 1, 3, 3, 1 }, o = { up = 2, pad = { 2, 1, 2, 1 } } },
  { f = { { 1, 2, 0 }, { 0.5, 1, 3 } }, o = { up = { 2, 3 }, down = { 1, 2 }, pad = { -1, 2, 3, -2 }, gain = 2 } },
  { f = { 1, 2, 3 }, o = { down = 2, pad = 1, flip = true, gain = 3 } },
  { f = { 1, 2, 3, 4, 5, 6, 7, 8 }, o = { up = 2, down = 3, pad = { 4, 3, -1, 5 } } },
  { f = { { 2 } }, o = { pad = { -1, -1, 0, 2 } } },
}

T.case("the op-based reference is the definition (upsample, pad and crop, filter, downsample)", function()
  gan.manual_seed(1)
  local x = gan.randn(2, 3, 5, 4)
  for i, c in ipairs(CASES) do
    local f = gan.tensor(c.f)
    U.tclose(R.upfirdn2d(x, f, c.o), R.naive(x, f, c.o), 1e-5, "case " .. i)
  end
end)

T.case("gan.upfirdn2d against the definition, once and twice differentiated", function()
  gan.manual_seed(2)
  local x = gan.randn(2, 3, 5, 4):requires_grad(true)
  for i, c in ipairs(CASES) do
    local f = gan.tensor(c.f)
    U.tclose(gan.upfirdn2d(x, f, c.o), R.naive(x, f, c.o), 1e-5, "case " .. i)
    local y = R.upfirdn2d(x, f, c.o)
    local r = gan.randn(y:shape())
    -- the op is linear in x: a square makes its gradient depend on x, so there is a second order to check
    local function second(fn)
      local g = gan.grad((fn(x, f, c.o):square() * r):sum(), x, { create_graph = true })
      return g:square():sum()
    end
    U.tclose(gan.grad((gan.upfirdn2d(x, f, c.o) * r):sum(), x), gan.grad((y * r):sum(), x):totable(), 1e-5,
      "gradient, case " .. i)
    U.gradcheck(function() return second(gan.upfirdn2d) end, { x }, { points = 4, name = "second order " .. i })
  end
end)

T.case("setup_filter: outer product, normalisation, separable taps, flip, gain", function()
  local f = RS.setup_filter({ 1, 3, 3, 1 })
  U.shape(f, { 4, 4 })
  U.close(f:sum():item(), 1, 1e-6, "normalised")
  U.close(f[2][3]:item(), 9 / 64, 1e-7, "3 * 3 / 64")
  local s = RS.setup_filter({ 1, 2, 3, 4, 4, 3, 2, 1 })
  U.shape(s, { 8 }, "8 taps stay separable")
  U.close(s:sum():item(), 1, 1e-6)
  U.tclose(RS.setup_filter({ 1, 2 }, { normalize = false, flip = true }), { { 4, 2 }, { 2, 1 } }, 0, "flipped")
  U.tclose(RS.setup_filter({ 1, 1 }, { gain = 4 }), { { 1, 1 }, { 1, 1 } }, 1e-7, "gain 4 on a 2-d filter")
  U.tclose(RS.setup_filter({ 1, 1 }, { gain = 4, separable = true }), { 1, 1 }, 1e-7, "sqrt(gain) per pass")
  local fw, fh = RS.filter_size(gan.zeros(3, 5))
  U.equal(fw, 5); U.equal(fh, 3)
  U.raises(function() RS.setup_filter({}) end, "non-empty")
end)

T.case("upsample2d and downsample2d with a box filter are nearest upsampling and 2x2 average pooling", function()
  gan.manual_seed(3)
  local x = gan.randn(2, 3, 4, 6)
  local box = RS.setup_filter({ 1, 1 })
  U.truthy(U.maxdiff(RS.upsample2d(x, box), x:upsample({ scale = 2 })) < 1e-6, "nearest")
  U.truthy(U.maxdiff(RS.downsample2d(x, box), x:avg_pool2d(2)) < 1e-6, "average pooling")
  -- {1, 3, 3, 1} upsampling is bilinear (weights 3/4, 1/4) away from the border, where it pads zeros
  local up = RS.upsample2d(x, RS.setup_filter({ 1, 3, 3, 1 }))
  local bil = x:upsample({ scale = 2 }, "bilinear")
  U.shape(up, { 2, 3, 8, 12 })
  U.truthy(U.maxdiff(up:narrow(3, 2, 6):narrow(4, 2, 10), bil:narrow(3, 2, 6):narrow(4, 2, 10)) < 1e-5,
    "bilinear inside")
end)

T.case("upsample2d and downsample2d against PyTorch numbers", function()
  -- /usr/bin/python3 with torch 1.13: NVlabs' upfirdn2d semantics in torch ops (zero insertion by
  -- reshape and F.pad, F.pad then slicing for the crop, a depthwise F.conv2d with the flipped filter,
  -- then [::dy, ::dx]) in float64, with f = outer([1,3,3,1], [1,3,3,1]) / 64; upsample2d is
  -- up=2, pad=(2, 1, 2, 1), gain=4 of x = sin(0.7 i + 0.3) reshaped to (1, 2, 3, 3); downsample2d is
  -- pad=(1, 1, 1, 1), down=2 of y = cos(0.3 i + 0.1) reshaped to (1, 1, 6, 6)
  local f = RS.setup_filter({ 1, 3, 3, 1 })
  local up = RS.upsample2d(U.det({ 1, 2, 3, 3 }, 0.7, 0.3), f)
  U.shape(up, { 1, 2, 6, 6 })
  U.tclose(up:narrow(2, 1, 1), {
    0.16623011624700348, 0.3240059258984841, 0.528737467703443, 0.6592645809142796, 0.715587265530994,
    0.5578114558795135, 0.29287946260034436, 0.45325406365390564, 0.578750290694132, 0.6288198369366018,
    0.603462702381315, 0.4430881013277537, 0.43535807780902375, 0.4957463885657593, 0.3262842915398813,
    0.12842062837172621, -0.09784460093870595, -0.15823291169544154, 0.19666114199781695,
    0.14924160022154942, -0.07670491132953036, -0.28034927143245225, -0.4616914800872164,
    -0.41427193831094883, -0.42321134483327616, -0.5862603013787243, -0.6302173179141031,
    -0.5974898624759337, -0.48807793506421615, -0.32502897851876805, -0.549860691186617,
    -0.7155084391341457, -0.6802301409047921, -0.5670451184982558, -0.37595337191453704,
    -0.21030562396700822,
  }, 1e-5, "upsample2d, channel 1")
  local down = RS.downsample2d(U.det({ 1, 1, 6, 6 }, 0.3, 0.1, "cos"), f)
  U.tclose(down, {
    0.062867747841706, -0.11167513829306652, -0.23283643496769899, 0.020764263021279965, 0.1382167501364132,
    0.18960054976146018, -0.1217181290952942, -0.28006081847186776, -0.3045322464016644,
  }, 1e-5, "downsample2d")
end)

T.case("filter2d keeps the size; nn.Blur is StyleGAN's normalised {1, 2, 1} blur", function()
  gan.manual_seed(4)
  local x = gan.randn(1, 2, 5, 7)
  local b = nn.Blur()
  local y = b(x)
  U.shape(y, { 1, 2, 5, 7 })
  -- the same as a depthwise 3x3 convolution with zero padding 1
  local k = gan.tensor({ { 1, 2, 1 }, { 2, 4, 2 }, { 1, 2, 1 } }) / 16
  local want = x:conv2d(k:reshape(1, 1, 3, 3):expand(2, 1, 3, 3):contiguous(), nil, { groups = 2, padding = 1 })
  U.truthy(U.maxdiff(y, want) < 1e-6, "depthwise 3x3")
  U.shape(RS.filter2d(x, b.filter, { pad = 1 }), { 1, 2, 7, 9 }, "extra pad")
  U.equal(tostring(b), "Blur({1, 2, 1})")
  -- a constant image stays constant away from the border, with the even {1, 3, 3, 1} too
  local c = RS.filter2d(gan.ones(1, 1, 6, 6), RS.setup_filter({ 1, 3, 3, 1 }))
  U.shape(c, { 1, 1, 6, 6 })
  U.truthy(U.maxdiff(c:narrow(3, 3, 2):narrow(4, 3, 2), gan.ones(1, 1, 2, 2)) < 1e-6, "DC gain 1")
end)

-- conv2d_resample's generic path, written out: FIR upsampling with the whole padding, a valid
-- convolution, FIR downsampling
local function generic(x, w, o)
  local f, up, down = o.f, o.up or 1, o.down or 1
  local fw = f and RS.filter_size(f) or 1
  local p = o.padding or 0
  local a, b = p, p
  if up > 1 then a, b = a + (fw + up - 1) // 2, b + (fw - up) // 2 end
  if down > 1 then a, b = a + (fw - down + 1) // 2, b + (fw - down) // 2 end
  x = R.upfirdn2d(x, up > 1 and f or gan.ones(1, 1), { up = up, pad = { a, b, a, b }, gain = up * up })
  if o.flip_weight == false then w = w:flip({ 3, 4 }) end
  x = x:conv2d(w, nil, { groups = o.groups or 1 })
  if down > 1 then x = R.upfirdn2d(x, f, { down = down }) end
  return x
end

T.case("conv2d_resample: each path equals the generic one (up, down, both, 1x1, groups, flips)", function()
  gan.manual_seed(5)
  local f = RS.setup_filter({ 1, 3, 3, 1 })
  local x = gan.randn(2, 4, 5, 5)
  for _, k in ipairs({ 1, 3 }) do
    for _, groups in ipairs({ 1, 2 }) do
      local w = gan.randn(6, 4 // groups, k, k)
      for _, c in ipairs({ { up = 2 }, { down = 2 }, { up = 2, down = 2 }, {}, { padding = -1 } }) do
        for _, flip in ipairs({ true, false }) do
          local o = { f = f, up = c.up, down = c.down, groups = groups, flip_weight = flip,
            padding = c.padding or k // 2 }
          local what = ("k %d, groups %d, up %d, down %d, flip_weight %s"):format(k, groups, c.up or 1,
            c.down or 1, tostring(flip))
          local got, want = RS.conv2d_resample(x, w, o), generic(x, w, o)
          U.equal(table.concat(got:shape(), ","), table.concat(want:shape(), ","), what)
          U.truthy(U.maxdiff(got, want) < 1e-4, what .. ": " .. U.maxdiff(got, want))
        end
      end
    end
  end
  U.shape(RS.conv2d_resample(x, gan.randn(6, 4, 3, 3), { f = f, up = 2, padding = 1 }), { 2, 6, 10, 10 })
  U.shape(RS.conv2d_resample(x:narrow(3, 1, 4):narrow(4, 1, 4), gan.randn(6, 4, 3, 3),
    { f = f, down = 2, padding = 1 }), { 2, 6, 2, 2 })
end)

T.case("conv2d_resample up and down: first and second derivatives against finite differences", function()
  gan.manual_seed(6)
  local f = RS.setup_filter({ 1, 3, 3, 1 })
  local x = gan.randn(2, 4, 3, 3):requires_grad(true)
  local w = gan.randn(4, 2, 3, 3):requires_grad(true)
  for _, o in ipairs({ { f = f, up = 2, padding = 1, groups = 2, flip_weight = false },
                       { f = f, down = 2, padding = 1, groups = 2 } }) do
    local r = gan.randn(RS.conv2d_resample(x, w, o):shape())
    U.gradcheck(function() return (RS.conv2d_resample(x, w, o) * r):sum() end, { x, w }, { points = 5 })
    -- the squared input gradient: a function of w through the gradient rules
    U.gradcheck(function()
      local g = gan.grad((RS.conv2d_resample(x, w, o) * r):sum(), x, { create_graph = true })
      return g:square():sum()
    end, { w }, { points = 5, name = "second order" })
  end
end)

T.case("filter2d, upsample2d and downsample2d inside a nonlinearity: second derivatives", function()
  gan.manual_seed(7)
  local f = RS.setup_filter({ 1, 3, 3, 1 })
  local x = gan.randn(1, 2, 4, 4):requires_grad(true)
  local r = gan.randn(1, 2, 4, 4)
  local scale = gan.randn(1, 2, 1, 1):requires_grad(true)
  local function y()
    local u = RS.upsample2d((x * scale):tanh(), f)
    return RS.downsample2d(RS.filter2d(u:tanh(), f), f)
  end
  U.gradcheck(function() return (y() * r):sum() end, { x, scale }, { points = 4 })
  U.gradcheck(function()
    local g = gan.grad((y() * r):sum(), x, { create_graph = true })
    return g:square():sum()
  end, { x, scale }, { points = 4, name = "second order" })
end)

T.case("errors name the function", function()
  U.raises(function() RS.conv2d_resample(gan.randn(2, 3), gan.randn(1, 1, 1, 1)) end, "conv2d_resample")
  U.raises(function() RS.upsample2d(gan.randn(1, 1, 2, 2), RS.setup_filter({ 1, 1 }), { up = "2" }) end,
    "up must be")
  U.raises(function() RS.padding({ 1, 2, 3 }) end, "a padding is")
end)

T.run()
