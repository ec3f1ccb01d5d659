-- gan.augment.pipeline and gan.augment.adaptive (StyleGAN2-ADA): each
-- transformation against a direct reference, composition against applying
-- the transformations one by one, p's control on a stub discriminator,
-- first and second order gradients by finite differences, the state.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local A = gan.augment
local TOL = 1e-2 -- smooth images through the geometric resampling (see smooth)

-- the image without a border of 3 pixels (where the reflection padding of
-- a smooth image has a kink)
local function inner(t) return t:narrow(3, 4, t:size(3) - 6):narrow(4, 4, t:size(4) - 6) end

-- the largest difference between a and b
local function diff(a, b) return (a - b):abs():max():item() end

-- smooth images (B, C, H, W): sums of three random cosines of at most 1/16
-- cycle per pixel, values within about [-1.5, 1.5]. The geometric group
-- resamples through the sym6 low-pass, whose phase is not linear: a flip or
-- a quarter turn of white noise is off by up to half its range at the
-- highest frequencies (as in NVlabs' pipeline), and exact on smooth images
-- up to a fraction of a percent.
local function smooth(B, C, H, W)
  local r = gan.rand(B * C, 3, 4):totable()
  local out = {}
  for b = 1, B do
    out[b] = {}
    for c = 1, C do
      local k = (b - 1) * C + c
      local plane = {}
      for i = 0, H - 1 do
        local row = {}
        for j = 0, W - 1 do
          local v = 0
          for t = 1, 3 do
            local fy, fx, ph = (r[k][t][1] - 0.5) / 8, (r[k][t][2] - 0.5) / 8, r[k][t][3] * 2 * math.pi
            v = v + 0.5 * math.cos(2 * math.pi * (fy * i + fx * j) + ph)
          end
          row[j + 1] = v
        end
        plane[i + 1] = row
      end
      out[b][c] = plane
    end
  end
  return gan.tensor(out)
end

-- a pipeline of one transformation (multiplier 1) at p = 1
local function only(name, extra)
  local spec = { groups = { [name] = 1 }, p = 1, seed = 11 }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return A.pipeline(spec)
end

T.case("x-flip and quarter turns are index permutations (on smooth images)", function()
  local x = smooth(16, 2, 12, 12)
  local function rot(t, q) -- q quarter turns of every image, by transposes and flips
    for _ = 1, q do t = t:transpose(3, 4):flip(4) end
    return t
  end
  for _, case in ipairs({ { "xflip", function(t, k) return k == 0 and t or t:flip(4) end, 2 },
    { "rotate90", rot, 4 } }) do
    local name, ref, n = case[1], case[2], case[3]
    local y = only(name)(x)
    local seen = {}
    for b = 1, 16 do
      local yb, xb = y:narrow(1, b, 1), x:narrow(1, b, 1)
      local best, which = math.huge, nil
      for k = 0, n - 1 do
        local d = diff(inner(yb), inner(ref(xb, k)))
        if d < best then best, which = d, k end
      end
      U.truthy(best < TOL, ("%s: image %d is no permutation of its input (closest %g)"):format(name, b, best))
      seen[which] = true
    end
    local kinds = 0
    for _ in pairs(seen) do kinds = kinds + 1 end
    T.eq(kinds, n, name .. ": every outcome among 16 images")
  end
end)

T.case("a flipped ramp is exact inside: no sub-pixel shift from the filter's phase", function()
  local rows = {}
  for i = 1, 24 do
    rows[i] = {}
    for j = 1, 24 do rows[i][j] = 0.1 * (j - 1) + 0.05 * (i - 1) end
  end
  local x = gan.tensor({ { rows } })
  local aug = A.pipeline({ p = 1 })
  local y = aug:warp(x, { { -1, 0, 0, 0, 1, 0, 0, 0, 1 } })
  U.truthy(diff(y:narrow(3, 7, 12):narrow(4, 7, 12), x:flip(4):narrow(3, 7, 12):narrow(4, 7, 12)) < 1e-3,
    "the flipped ramp")
  y = aug:warp(x, { { 0, -1, 0, 1, 0, 0, 0, 0, 1 } })
  local turned = x:transpose(3, 4):flip(4)
  local d1 = diff(y:narrow(3, 7, 12):narrow(4, 7, 12), turned:narrow(3, 7, 12):narrow(4, 7, 12))
  local d2 = diff(y:narrow(3, 7, 12):narrow(4, 7, 12), x:transpose(3, 4):flip(3):narrow(3, 7, 12):narrow(4, 7, 12))
  U.truthy(math.min(d1, d2) < 1e-3, "the turned ramp: " .. math.min(d1, d2))
end)

T.case("integer translation moves pixels by whole steps, reflecting at the border", function()
  local x = smooth(8, 1, 16, 16)
  local y = only("xint")(x)
  for b = 1, 8 do
    local xb, yb = x:select(1, b):select(1, 1), y:select(1, b):select(1, 1)
    local found = false
    for dy = -2, 2 do
      for dx = -2, 2 do -- at most 0.125 * 16 = 2 pixels; compare the interior
        local a = xb:narrow(1, 3 - dy, 12):narrow(2, 3 - dx, 12)
        local c = yb:narrow(1, 3, 12):narrow(2, 3, 12)
        if diff(a, c) < TOL then found = true end
      end
    end
    U.truthy(found, "image " .. b .. " is a whole-pixel shift of its input")
  end
end)

T.case("brightness adds and contrast multiplies one number per image; luma flip inverts gray", function()
  local x = gan.randn(16, 1, 8, 8)
  local y = only("brightness")(x)
  local shifts = {}
  for b = 1, 16 do
    local d = (y:narrow(1, b, 1) - x:narrow(1, b, 1))
    local m = d:mean():item()
    U.truthy(diff(d, gan.full({ 1, 1, 8, 8 }, m)) < 1e-5, "one shift per image")
    shifts[#shifts + 1] = m
  end
  local s2 = 0
  for _, v in ipairs(shifts) do s2 = s2 + v * v end
  U.truthy(math.sqrt(s2 / 16) > 0.05 and math.sqrt(s2 / 16) < 0.5, "shifts of about 0.2 deviation")
  y = only("contrast")(x)
  for b = 1, 16 do
    local xb, yb = x:narrow(1, b, 1), y:narrow(1, b, 1)
    local c = (yb * xb):sum():item() / (xb * xb):sum():item()
    U.truthy(c > 0 and diff(yb, xb * c) < 1e-5, "a positive factor per image")
  end
  y = only("lumaflip")(x)
  local inverted = 0
  for b = 1, 16 do
    local xb, yb = x:narrow(1, b, 1), y:narrow(1, b, 1)
    local same, neg = diff(yb, xb), diff(yb, -xb)
    U.truthy(math.min(same, neg) < 1e-6, "x or -x")
    if neg < 1e-6 then inverted = inverted + 1 end
  end
  U.truthy(inverted > 0 and inverted < 16, "inverted with probability 1/2: " .. inverted .. " of 16")
  -- hue and saturation keep gray images as they are
  for _, name in ipairs({ "hue", "saturation" }) do T.eq(diff(only(name)(x), x), 0, name .. " on gray") end
end)

T.case("hue rotation keeps the luma of RGB pixels and saturation 1 is the identity", function()
  local x = gan.randn(4, 3, 6, 6)
  local y = only("hue")(x)
  U.truthy(diff(y:sum(2), x:sum(2)) < 1e-4, "the sum of the channels (luma axis) kept")
  U.truthy(diff(y, x) > 1e-2, "the colours changed")
  T.eq(diff(only("saturation", { saturation_std = 0.0 })(x), x), 0)
end)

T.case("the composed geometric and colour matrices equal the transformations applied one by one", function()
  local aug = A.pipeline({ groups = "bgc", p = 1, seed = 5 })
  local x = smooth(3, 3, 16, 16)
  local rad = math.pi / 2
  -- blits are exact: a flip, then a quarter turn, then a shift, one resampling each
  local flip = { -1, 0, 0, 0, 1, 0, 0, 0, 1 }
  local turn = { math.floor(math.cos(rad) + 0.5), -1, 0, 1, 0, 0, 0, 0, 1 }
  local shift = { 1, 0, -2, 0, 1, 1, 0, 0, 1 }
  local function mm(a, b)
    local c = {}
    for i = 0, 2 do for j = 0, 2 do
      local s = 0
      for k = 0, 2 do s = s + a[i * 3 + k + 1] * b[k * 3 + j + 1] end
      c[i * 3 + j + 1] = s
    end end
    return c
  end
  local function all(m) return { m, m, m } end
  local composed = aug:warp(x, all(mm(mm(flip, turn), shift)))
  local stepwise = aug:warp(aug:warp(aug:warp(x, all(flip)), all(turn)), all(shift))
  U.truthy(diff(inner(composed), inner(stepwise)) < 3 * TOL, "one resampling = three, for blits: " .. diff(composed, stepwise))
  -- and both are the direct permutation: mirrored, turned (row r, column c from row W - 1 - c...),
  -- then y(i, j) = x(i + 1, j - 2)
  local direct = x:flip(4):transpose(3, 4):flip(3)
  U.truthy(diff(composed:narrow(3, 4, 10):narrow(4, 6, 10), direct:narrow(3, 5, 10):narrow(4, 4, 10)) < TOL,
    "the composed blit is the permutation")
  -- colour: C2 C1 at once = C1 then C2
  local c1 = { 1.5, 0, 0, 0.1, 0, 1.5, 0, 0.1, 0, 0, 1.5, 0.1, 0, 0, 0, 1 }
  local c2 = { 0.2, 0.3, 0.5, 0, 0.6, 0.1, 0.3, 0, 0.1, 0.8, 0.1, -0.2, 0, 0, 0, 1 }
  local c21 = {}
  for i = 0, 3 do for j = 0, 3 do
    local s = 0
    for k = 0, 3 do s = s + c2[i * 4 + k + 1] * c1[k * 4 + j + 1] end
    c21[i * 4 + j + 1] = s
  end end
  local once = aug:recolor(x, { c21, c21, c21 })
  local twice = aug:recolor(aug:recolor(x, { c1, c1, c1 }), { c2, c2, c2 })
  U.truthy(diff(once, twice) < 1e-5, "colour matrices compose")
  -- a general warp: identity matrices give the image back (sym6 up and down are inverse)
  U.truthy(diff(aug:warp(x, all({ 1, 0, 0, 0, 1, 0, 0, 0, 1 })), x) < 1e-4, "the identity warp")
end)

T.case("the filter bank: four bands of 43 taps that sum to the identity", function()
  local bank = A.filter_bank()
  T.eq(#bank, 4)
  for i = 1, 4 do T.eq(#bank[i], 43) end
  for k = 1, 43 do
    local s = bank[1][k] + bank[2][k] + bank[3][k] + bank[4][k]
    U.close(s, k == 22 and 1 or 0, 1e-9, "tap " .. k)
  end
  local x = gan.randn(2, 1, 32, 32)
  local aug = A.pipeline({ groups = "f", p = 1, seed = 3 })
  U.truthy(diff(aug:filter(x, { { 1, 1, 1, 1 }, { 1, 1, 1, 1 } }), x) < 1e-5, "unit gains keep the image")
  U.raises(function() aug:filter(gan.randn(1, 1, 16, 16), { { 1, 1, 1, 1 } }) end, "larger than 21x21")
end)

T.case("p = 0 leaves images alone, the draws depend on the seed and the call only", function()
  local x = gan.randn(4, 1, 16, 16)
  local aug = A.pipeline({ groups = "bgcfno", p = 0 })
  T.eq(aug(x), x)
  local a, b = A.pipeline({ p = 0.7, seed = 9 }), A.pipeline({ p = 0.7, seed = 9 })
  b.calls = 4
  for _ = 1, 4 do a(x) end
  T.eq(diff(a(x), b(x)), 0, "the fifth call's draw is the same however it is reached")
  U.raises(function() A.pipeline({ groups = "bgz" }) end, "unknown group 'z'")
  U.raises(function() A.pipeline({ p = 1.5 }) end, "p must be a number in [0, 1]")
  U.raises(function() A.pipeline({ scale_std = "big" }) end, "scale_std must be a number")
  U.raises(function() A.pipeline({ colour = 1 }) end, "unknown option colour")
  U.raises(function() aug(gan.randn(4, 16)) end, "images (B, C, H, W) expected")
  U.raises(function() A.pipeline({ groups = "c", p = 1 })(gan.randn(2, 2, 8, 8)) end, "1 or 3 channels")
end)

T.case("adaptive p on a stub discriminator: up while r_t is above the target, down below, in [0, 1]", function()
  local aug = A.pipeline({ p = 0 })
  local ada = A.adaptive({ pipeline = aug, batch = 16, interval = 4, kimg = 0.5 })
  local inc = 16 * 4 / 500
  local confident = gan.tensor({ 3, 2, 1, 5 }) -- overfit: every real scored positive, r_t = 1
  for s = 1, 12 do
    ada:observe(confident)
    local r_t, adjusted = ada:step()
    T.eq(adjusted, s % 4 == 0)
    U.close(r_t, 1, 0, "r_t")
  end
  U.close(aug.p, 3 * inc, 1e-12, "three increments")
  local unsure = gan.tensor({ 1, -1, -2, 3 }) -- r_t = 0 < 0.6
  for _ = 1, 4 do ada:observe(unsure); ada:step() end
  U.close(aug.p, 2 * inc, 1e-12, "one decrement")
  for _ = 1, 400 do ada:observe(confident); ada:step() end
  T.eq(aug.p, 1, "clamped at 1")
  for _ = 1, 400 do ada:observe(-confident); ada:step() end
  T.eq(aug.p, 0, "clamped at 0")
  -- exactly on target: no move
  local at = A.adaptive({ pipeline = aug, batch = 16, target = 0.5 })
  aug.p = 0.25
  for _ = 1, 4 do at:observe(gan.tensor({ 1, 1, 1, -1 })); at:step() end
  T.eq(aug.p, 0.25)
  -- state round trip
  ada:observe(confident)
  local sd = ada:state_dict()
  local twin = A.adaptive({ pipeline = A.pipeline({}), batch = 16, interval = 4, kimg = 0.5 })
  twin:load_state_dict({ sum = tostring(sd.sum), count = tostring(sd.count), steps = tostring(sd.steps) })
  T.eq(twin.sum, ada.sum); T.eq(twin.count, ada.count); T.eq(twin.steps, ada.steps)
  U.raises(function() twin:load_state_dict({ sum = "x", count = 1, steps = 1 }) end, "bad state")
  U.raises(function() A.adaptive({ pipeline = aug }) end, "batch must be an integer")
  U.raises(function() A.adaptive({ batch = 4 }) end, "pipeline")
end)

T.case("gradients through the pipeline: first order in the images, second order (R1) in D's weights", function()
  local aug = A.pipeline({ groups = "bgc", p = 1, seed = 21 })
  local x = gan.randn(2, 1, 8, 8):requires_grad(true)
  local r = gan.randn(2, 1, 8, 8)
  local function same_draw(fn) return function() aug.calls = 0; return fn() end end
  U.gradcheck(same_draw(function() return (aug(x) * r):sum() end), { x }, { points = 8, name = "d aug / dx" })
  -- R1 through the augmentation: |d sum D(aug(x)) / dx|^2 with D a convolution and a sum
  local w = (gan.randn(2, 1, 3, 3) * 0.5):requires_grad(true)
  local function D(img) return img:conv2d(w, nil, { padding = 1 }):tanh():sum({ 2, 3, 4 }) end
  local function r1()
    aug.calls = 0
    local xi = x:detach():requires_grad(true)
    local g = gan.grad(D(aug(xi)):sum(), xi, { create_graph = true })
    return g:square():sum()
  end
  -- along random directions of w (single entries can have a derivative below R1's float32 rounding)
  local g = gan.grad(r1(), w)
  for k = 1, 3 do
    local v = gan.randn(w:shape())
    local w0 = w:detach():clone()
    local function at(t)
      gan.no_grad(function() w:copy_(w0 + v * t) end)
      local r = r1():item()
      gan.no_grad(function() w:copy_(w0) end)
      return r
    end
    local numeric = (at(1e-2) - at(-1e-2)) / 2e-2
    local analytic = (g * v):sum():item()
    U.truthy(math.abs(numeric - analytic) < 0.05 * math.abs(numeric) + 0.05,
      ("direction %d: analytic %g, numeric %g"):format(k, analytic, numeric))
  end
end)

T.case("a stratified subset: the same number of each class, the first ones", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local d = gan.data.load("fashion-mnist", { subset = 1003, batch = 8 })
  T.eq(d.x:size(1), 1003)
  local counts = {}
  for _, c in ipairs(d.labels:totable()) do counts[c] = (counts[c] or 0) + 1 end
  for c = 0, 9 do T.eq(counts[c], c < 3 and 101 or 100, "class " .. c) end
  U.raises(function() gan.data.load("8gaussians", { subset = 10, batch = 8 }) end, "needs labels")
  U.raises(function() gan.data.load("fashion-mnist", { subset = 70000, batch = 8 }) end, "which has 6000")
end)

T.run()
