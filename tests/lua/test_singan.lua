-- SinGAN's pieces: the antialiased resize (gan.image.resize) against a
-- direct sum and against PyTorch's interpolate(antialias=True); the
-- pyramid's sizes; the networks' shapes; the per-pixel gradient penalty;
-- generation, reconstruction, super-resolution and blending on a tiny
-- untrained pyramid.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local S = gan.nets.singan

-- the resize written out as a direct sum over the input, pixel by pixel:
-- y[i][j] = sum_a sum_b k_h(i, a) k_w(j, b) x[a][b] / (sum k_h)(sum k_w), with the
-- PIL bicubic kernel (a = -0.5) stretched by the shrink factor
local function reference_resize(x, h, w)
  local H, W = x:size(1), x:size(2)
  local v = x:totable()
  local function kernel(t)
    t = math.abs(t)
    if t < 1 then return 1.5 * t ^ 3 - 2.5 * t ^ 2 + 1 elseif t < 2 then return -0.5 * t ^ 3 + 2.5 * t ^ 2 - 4 * t + 2 end
    return 0
  end
  local function taps(n, m, i)
    local scale = n / m
    local st = math.max(scale, 1)
    local c = (i - 0.5) * scale -- i is 1-based
    local out = {}
    for a = 1, n do
      local t = (a - 0.5 - c) / st
      if math.abs(t) < 2 then out[a] = kernel(t) end
    end
    return out
  end
  local y = {}
  for i = 1, h do
    y[i] = {}
    local kh = taps(H, h, i)
    for j = 1, w do
      local kw = taps(W, w, j)
      local s, sh, sw = 0, 0, 0
      for _, k in pairs(kh) do sh = sh + k end
      for _, k in pairs(kw) do sw = sw + k end
      for a, ka in pairs(kh) do
        for b, kb in pairs(kw) do s = s + ka * kb * v[a][b] end
      end
      y[i][j] = s / (sh * sw)
    end
  end
  return y
end

T.case("resize: the direct sum of the bicubic kernel, shrinking, enlarging, both, odd sizes", function()
  local x = U.det({ 9, 13 }, 0.37, 0.1)
  for _, s in ipairs { { 4, 6 }, { 13, 20 }, { 9, 5 }, { 3, 17 }, { 1, 1 }, { 9, 13 } } do
    local y = gan.image.resize(x:reshape(1, 1, 9, 13), s[1], s[2])
    U.shape(y, { 1, 1, s[1], s[2] })
    U.tclose(y, reference_resize(x, s[1], s[2]), 1e-5, ("9x13 -> %dx%d"):format(s[1], s[2]))
  end
end)

T.case("resize: PyTorch's interpolate(mode='bicubic', antialias=True) on the same input", function()
  -- F.interpolate(x, size, mode="bicubic", antialias=True, align_corners=False), PyTorch 1.13, x =
  -- sin(0.37 i + 0.1) over (1, 2, 9, 13): the first six and the last three values
  local x = U.det({ 1, 2, 9, 13 }, 0.37, 0.1)
  local want = {
    { 4, 6, { -0.394702, -0.021599, 0.38509, 0.551389, 0.373888, -0.006005 }, { -0.400825, -0.544901, -0.372862 } },
    { 13, 20, { 0.141573, 0.311437, 0.573979, 0.770002, 0.91966, 1.017692 }, { -0.897331, -1.005825, -1.055458 } },
    { 9, 5, { 0.408465, 0.954098, 0.723576, -0.148812, -0.859946, -0.847771 }, { 0.661194, -0.233819, -0.898324 } },
  }
  for _, c in ipairs(want) do
    local y = gan.image.resize(x, c[1], c[2]):reshape(-1)
    local n = y:size(1)
    U.tclose(y:narrow(1, 1, 6), c[3], 2e-5, ("%dx%d, first values"):format(c[1], c[2]))
    U.tclose(y:narrow(1, n - 2, 3), c[4], 2e-5, ("%dx%d, last values"):format(c[1], c[2]))
  end
end)

T.case("resize: a flat image stays flat, rows of weights sum to 1, (C, H, W) works, bad sizes are named", function()
  local y = gan.image.resize(gan.full({ 3, 20, 30 }, 0.25), 7, 11)
  U.shape(y, { 3, 7, 11 })
  U.close(y:min():item(), 0.25, 1e-6, "min")
  U.close(y:max():item(), 0.25, 1e-6, "max")
  for _, r in ipairs(gan.image.resize_weights(100, 7)) do
    local s = 0
    for _, w in ipairs(r.w) do s = s + w end
    U.close(s, 1, 1e-12, "row sum")
    U.truthy(#r.w > 20, "shrinking 100 -> 7 stretches the kernel over about 4 x 100/7 taps")
  end
  U.raises(function() gan.image.resize(gan.zeros(4, 4), 2, 2) end, "expected images (N, C, H, W) or (C, H, W), got (4, 4)")
  U.raises(function() gan.image.resize(gan.zeros(1, 4, 4), 0, 2) end, "whole numbers >= 1, got 0 x 2")
end)

T.case("pyramid sizes: the coarsest short side is min_size, the finest long side max_size, about 0.75 apart", function()
  local sizes, r = S.sizes(600, 512, { min_size = 25, max_size = 128, scale_factor = 0.75 })
  U.equal(#sizes, 7, "scales")
  U.equal(sizes[1][2], 25, "coarsest width (the short side)")
  U.equal(sizes[7][1], 128, "finest height")
  U.equal(sizes[7][2], 109, "finest width")
  U.truthy(r > 0.75 and r < 0.8, "the factor, adjusted: " .. r)
  for n = 2, 7 do U.truthy(sizes[n][1] > sizes[n - 1][1], "growing") end
  U.equal(#S.sizes(25, 40, {}), 1, "an image at min_size is one scale")
  U.raises(function() S.sizes(20, 20, { min_size = 25 }) end, "smaller than min_size 25")
  U.raises(function() S.sizes(200, 200, { min_size = 8 }) end, "need 11 <= min_size")
  U.raises(function() S.sizes(200, 200, { scale_factor = 1.5 }) end, "scale_factor must be between 0 and 1")
  U.equal(S.channels(1), 32, "nfc at scale 1")
  U.equal(S.channels(5), 64, "doubles at scale 5")
  U.equal(S.channels(13), 128, "at most 128")
end)

T.case("G keeps the size, adds to prev; D scores patches; the per-pixel gradient penalty", function()
  gan.manual_seed(3)
  local G, D = S.Generator(3, 8), S.Discriminator(3, 8)
  local prev = gan.randn(1, 3, 14, 17)
  local y = G(prev:pad(S.PAD), prev)
  U.shape(y, { 1, 3, 14, 17 })
  U.truthy(U.maxdiff(y, prev) <= 1, "tanh(...) + prev stays within 1 of prev")
  U.shape(D(prev), { 1, 1, 4, 7 }, "one score per 11x11 patch")
  -- a 1x1 convolution critic sum_c w_c x_c has the input gradient w at every pixel: norm |w| per pixel
  local conv = gan.nn.Conv2d(3, 1, 1)
  conv.weight:copy_(gan.tensor({ 0.6, 0.0, 0.8 }):reshape(1, 3, 1, 1))
  conv.weight:mul_(2)                                            -- |w| = 2 at each of the 14 x 17 pixels
  local gp, norm = gan.penalties.gradient_penalty(conv, prev, gan.randn(1, 3, 14, 17), { lambda = 0.1, per_pixel = true })
  U.close(norm, 2, 1e-5, "the norm per pixel, not over the image")
  U.close(gp:item(), 0.1, 1e-5, "lambda (2 - 1)^2")
  local whole = select(2, gan.penalties.gradient_penalty(conv, prev, gan.randn(1, 3, 14, 17)))
  U.close(whole, 2 * math.sqrt(14 * 17), 1e-4, "without per_pixel: the norm over the whole image")
  U.raises(function() gan.penalties.gradient_penalty(gan.nn.Linear(3, 1), gan.randn(2, 3), gan.randn(2, 3),
    { per_pixel = true }) end, "per_pixel needs images")
end)

T.case("a tiny pyramid: generation at other sizes, injection, reconstruction, super-resolution, blending", function()
  gan.manual_seed(5)
  local img = U.det({ 3, 30, 36 }, 0.11, 0.3)
  local P = S.Pyramid(img, { min_size = 25, max_size = 36, nfc = 8 })
  U.equal(P:scales(), 2, "two scales")
  U.equal(P.sizes[1][1], 25, "coarsest height")
  U.shape(P.real, { 1, 3, 30, 36 })
  U.shape(P.z_opt, { 1, 3, 25, 30 })
  U.equal(U.maxdiff(P.z_opt:narrow(2, 1, 1), P.z_opt:narrow(2, 3, 1)), 0, "gray noise at the coarsest scale")
  P:freeze(2)
  local a = P:generate {}
  U.shape(a, { 1, 3, 30, 36 })
  U.truthy(U.maxdiff(a, P:generate {}) > 0, "fresh noise, another sample")
  U.shape(P:generate { scale = { 1, 2 } }, { 1, 3, 30, 72 }, "twice as wide")
  U.equal(U.maxdiff(P:reconstruct(2), P:reconstruct(2)), 0, "the reconstruction is fixed")
  U.shape(P:generate { fixed = 2, scale = { 1, 2 } }, { 1, 3, 30, 72 }, "scale 1 reconstructs, scale 2 is wider")
  local inj = P:generate { first = 2, image = gan.zeros(3, 30, 36) }
  U.shape(inj, { 1, 3, 30, 36 })
  U.raises(function() P:generate { first = 3 } end, "scales 3..2 are not in 1..2")
  U.shape(P:super_resolve(gan.zeros(3, 10, 12), 4, 3), { 1, 3, 40, 48 }, "x4 in three steps")
  local mask = gan.zeros(1, 1, 30, 36)
  mask:narrow(3, 11, 10):narrow(4, 11, 10):fill_(1)
  local bg, fg = gan.zeros(1, 3, 30, 36), gan.ones(1, 3, 30, 36)
  local b = S.blend(fg, bg, mask, 2)
  U.equal(b[1][1][1][1]:item(), 0, "outside the grown mask: the background")
  U.close(b[1][1][15][15]:item(), 1, 1e-6, "inside: the result")
  U.truthy(b[1][1][9][15]:item() > 0, "the mask grown by 2 pixels then softened")
  local s = P:state {}
  U.truthy(s.G1 and s.D2 and s.optG2 and s.z_opt and s.real and s.amp2 == 0 and s.trained == 2, "the state")
end)

T.run()
