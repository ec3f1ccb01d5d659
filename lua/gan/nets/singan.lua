--- gan.nets.singan: SinGAN's pyramid of fully convolutional patch GANs, all
-- trained on one image (Shaham, Dekel, Michaeli 2019, arXiv:1905.01164).
--
--     local P = gan.nets.singan.Pyramid(real, { min_size = 25, max_size = 250 })
--     P.sizes[1], P.sizes[#P.sizes]      -- {h, w} of the coarsest and the finest scale
--     local x = P:generate { last = P.trained }                 -- a random sample
--     local y = P:generate { first = 3, image = paint }         -- a paint injected at scale 3
--
-- Scale n (1 the coarsest) has a generator G_n and a critic D_n with the
-- same body: five 3x3 convolutions without padding, the first four
-- followed by batch norm and LeakyReLU(0.2), nfc maps (32, doubling every
-- 4 scales up to 128). G_n takes the image of the scale below, upsampled
-- (prev), and noise z of amplitude amp_n, and refines it:
-- G_n(z, prev) = tanh(body(pad(amp_n z + prev))) + prev; only the input is
-- zero-padded (5 pixels: the body's five 3x3 convolutions give them back).
-- D_n is the body alone: one score per overlapping patch (its receptive
-- field is 11x11 pixels of its scale).
--
-- The pyramid's state (`state()`): every G_n and D_n, the fixed noise z_opt
-- of the coarsest scale (the reconstruction's), the amplitudes amp_n (1 at
-- the coarsest; 0.1 times the RMSE of the reconstruction from below at
-- the others), the training image and `trained` (the scales done).
-- Requires: gan.nn, gan.image (the antialiased resize). Reads no options.
-- @module gan.nets.singan

local gan = require "gan"
local nn = require "gan.nn"

local M = {}

M.LAYERS = 5 -- convolutions of each body
M.PAD = (3 - 1) * M.LAYERS // 2 -- zero padding of the input that they take back

--- The feature maps of scale n: 32 doubling every 4 scales, at most 128.
-- @param n the scale (1 the coarsest)
-- @param nfc the maps of the first scales (32)
-- @return number of maps
function M.channels(n, nfc)
  return math.min((nfc or 32) * (1 << ((n - 1) // 4)), 128)
end

--- The sizes of the pyramid of an image: the image shrunk so its long side
-- is at most max_size, then scales r^k times smaller, with r as close to
-- scale_factor as makes the coarsest's short side exactly min_size (as
-- the reference code's adjust_scales2image).
-- @param h the image's height
-- @param w the image's width
-- @param o {min_size=25, max_size=250, scale_factor=0.75}
-- @return list of {h, w}, the coarsest first; and the factor r used
function M.sizes(h, w, o)
  o = o or {}
  local min_size, max_size, factor = o.min_size or 25, o.max_size or 250, o.scale_factor or 0.75
  if not (factor > 0 and factor < 1) then
    error(("gan.nets.singan.sizes: scale_factor must be between 0 and 1, got %s"):format(factor), 2)
  end
  if min_size < 2 * M.PAD + 1 or max_size < min_size then
    error(("gan.nets.singan.sizes: need %d <= min_size <= max_size (the critic sees %dx%d patches), got %d and %d")
      :format(2 * M.PAD + 1, 2 * M.PAD + 1, 2 * M.PAD + 1, min_size, max_size), 2)
  end
  local s = math.min(max_size / math.max(h, w), 1)
  local H, W = math.floor(h * s + 0.5), math.floor(w * s + 0.5)
  local short = math.min(H, W)
  if short < min_size then
    error(("gan.nets.singan.sizes: the image (%dx%d at most %d on its long side) is smaller than min_size %d")
      :format(w, h, max_size, min_size), 2)
  end
  local n = short > min_size and math.ceil(math.log(min_size / short) / math.log(factor)) or 0
  local r = n > 0 and (min_size / short) ^ (1 / n) or 1
  local sizes = {}
  for i = n, 0, -1 do
    local f = r ^ i
    sizes[#sizes + 1] = { math.max(1, math.floor(H * f + 0.5)), math.max(1, math.floor(W * f + 0.5)) }
  end
  return sizes, r
end

-- conv 3x3 (no padding), then batch norm and LeakyReLU(0.2) but after the last
local function body(cin, nfc, cout)
  local net = nn.Sequential {}
  local ch = cin
  for i = 1, M.LAYERS - 1 do
    net:add(nn.Conv2d(ch, nfc, 3)):add(nn.BatchNorm2d(nfc)):add(nn.LeakyReLU(0.2))
    ch = nfc
  end
  net:add(nn.Conv2d(ch, cout, 3))
  return nn.init.dcgan_(net)
end

local Generator = nn.Module:extend("SinGANGenerator")
M.Generator = Generator

--- A scale's generator: G(x, prev) = tanh(body(x)) + prev, where x is
-- the padded amp z + prev.
-- @param channels image channels
-- @param nfc feature maps
function Generator:init(channels, nfc)
  self.body = body(channels, nfc, channels)
  self.config = ("%d, nfc=%d"):format(channels, nfc)
end

--- @param x the padded input (N, C, H + 10, W + 10)
-- @param prev the image from below (N, C, H, W)
-- @return the refined image (N, C, H, W)
function Generator:forward(x, prev)
  return self.body(x):tanh() + prev
end

--- Settings shown when printed.
function Generator:extra_repr() return self.config end

--- A scale's critic: the generator's body with one output map, a score per
-- patch (padding 0: the map is 10 pixels smaller than the image).
-- @param channels image channels
-- @param nfc feature maps
-- @return the critic
function M.Discriminator(channels, nfc)
  return body(channels, nfc, 1)
end

-- ----------------------------------------------------------------------------
-- The pyramid

local Pyramid = {}
Pyramid.__index = Pyramid
M.PyramidClass = Pyramid

--- A pyramid for one image: networks for every scale (untrained), the real
-- image at every scale, the fixed noise.
-- @function Pyramid
-- @param image the training image (C, H, W) or (1, C, H, W) in [-1, 1]
-- @param o {min_size=25, max_size=250, scale_factor=0.75, nfc=32, lr=5e-4, beta1=0.5 (each scale's
--   two Adam optimizers, optG[n] and optD[n])}
-- @return the pyramid
function M.Pyramid(image, o)
  o = o or {}
  if image:dim() == 3 then image = image:unsqueeze(1) end
  if image:dim() ~= 4 or image:size(1) ~= 1 then
    error(("gan.nets.singan.Pyramid: expected one image (C, H, W), got (%s)"):format(table.concat(image:shape(), ", ")), 2)
  end
  local sizes, r = M.sizes(image:size(3), image:size(4), o)
  local self = setmetatable({ sizes = sizes, factor = r, channels = image:size(2), G = {}, D = {}, amp = {},
    optG = {}, optD = {}, reals = {}, trained = 0 }, Pyramid)
  local adam = { lr = o.lr or 5e-4, betas = { o.beta1 or 0.5, 0.999 } }
  local fin = sizes[#sizes]
  self.real = gan.no_grad(function() return gan.image.resize(image, fin[1], fin[2]):clamp(-1, 1):contiguous() end)
  for n, s in ipairs(sizes) do
    local c = M.channels(n, o.nfc)
    self.G[n] = Generator(self.channels, c)
    self.D[n] = M.Discriminator(self.channels, c)
    self.optG[n], self.optD[n] = gan.optim.Adam(self.G[n], adam), gan.optim.Adam(self.D[n], adam)
    self.amp[n] = n == 1 and 1.0 or 0.0
    self.reals[n] = n == #sizes and self.real or gan.no_grad(function() return gan.image.resize(self.real, s[1], s[2]) end)
  end
  self.z_opt = self:noise(1, sizes[1][1], sizes[1][2])
  return self
end

--- The number of scales.
-- @return n
function Pyramid:scales() return #self.sizes end

--- Noise for scale n at h x w: one gray channel at the coarsest scale (as
-- the reference code), every channel its own elsewhere.
-- @param n the scale
-- @param h height
-- @param w width
-- @return (1, C, h, w)
function Pyramid:noise(n, h, w)
  if n == 1 then return gan.randn(1, 1, h, w):expand(1, self.channels, h, w):contiguous() end
  return gan.randn(1, self.channels, h, w)
end

--- One step up: G_n on prev with noise z (amp_n z + prev, padded).
-- @param n the scale
-- @param z the noise (1, C, h, w)
-- @param prev the image from below at scale n's size (1, C, h, w)
-- @return the image of scale n
function Pyramid:step(n, z, prev)
  return self.G[n]((z * self.amp[n] + prev):pad(M.PAD), prev)
end

--- Runs the pyramid from scale `first` to `last`.
-- Scales below `fixed` use the reconstruction's noise (z_opt at the
-- coarsest, none above) at the training sizes; the others draw fresh noise
-- at the training sizes times {sy, sx} (`scale`). The input of scale
-- `first` is `image` resized to its size (nothing: zeros); each scale's
-- output is resized to the next one's size.
-- @param o {first=1, last=self.trained, fixed=first (scales below it reconstruct), image=,
--   scale={sy, sx} (1, 1), noise_scale=1 (0: no noise above the reconstruction's)}
-- @return the image at scale last (1, C, h, w)
function Pyramid:generate(o)
  o = o or {}
  local first, last = o.first or 1, o.last or self.trained
  if first < 1 or last > #self.sizes or first > last then
    error(("gan.nets.singan: scales %d..%d are not in 1..%d"):format(first, last, #self.sizes), 2)
  end
  local fixed = o.fixed or first
  local sy, sx = (o.scale or {})[1] or 1, (o.scale or {})[2] or 1
  local ns = o.noise_scale or 1
  local x = o.image
  if x and x:dim() == 3 then x = x:unsqueeze(1) end
  return gan.no_grad(function()
    for n = first, last do
      local rec = n < fixed
      local s = self.sizes[n]
      local h, w = s[1], s[2]
      if not rec then h, w = math.max(1, math.floor(h * sy + 0.5)), math.max(1, math.floor(w * sx + 0.5)) end
      local prev = x and gan.image.resize(x, h, w) or gan.zeros(1, self.channels, h, w)
      local z
      if rec then z = n == 1 and self.z_opt or gan.zeros(1, self.channels, h, w)
      else z = self:noise(n, h, w) * ns end
      x = self:step(n, z, prev)
    end
    return x
  end)
end

--- The reconstruction at scale n: every scale up to n on its fixed noise.
-- @param n the scale
-- @return (1, C, h, w)
function Pyramid:reconstruct(n)
  return self:generate { last = n, fixed = n + 1 }
end

--- Super-resolution (the paper's section 4.1): the image is upsampled by
-- `factor` in `steps` equal steps, and after each the finest generator,
-- trained on that image itself, puts back the detail of its scale (noise of
-- its amplitude times noise_scale added, as in sampling).
-- @param x the low-resolution image (C, h, w) or (1, C, h, w)
-- @param factor the magnification (4)
-- @param steps the number of steps (the pyramid's factor r makes r^-steps about factor)
-- @param noise_scale 1 (0: no noise)
-- @return the image, factor times larger (1, C, H, W)
function Pyramid:super_resolve(x, factor, steps, noise_scale)
  if x:dim() == 3 then x = x:unsqueeze(1) end
  local n, h, w = self.trained, x:size(3), x:size(4)
  return gan.no_grad(function()
    for i = 1, steps do
      local f = factor ^ (i / steps)
      local prev = gan.image.resize(x, math.floor(h * f + 0.5), math.floor(w * f + 0.5))
      x = self:step(n, self:noise(n, prev:size(3), prev:size(4)) * (noise_scale or 1), prev)
    end
    return x
  end)
end

--- Puts `result` into `background` where `mask` is 1: the mask grown by
-- `grow` pixels and softened (as the reference code's editing and
-- harmonization do), so the seam falls on generated pixels.
-- @param result (1, C, H, W)
-- @param background (1, C, H, W)
-- @param mask (1, 1, H, W) in [0, 1]
-- @param grow pixels (default 2)
-- @return (1, C, H, W)
function M.blend(result, background, mask, grow)
  grow = grow or 2
  return gan.no_grad(function()
    local m = mask
    if grow > 0 then m = m:max_pool2d(2 * grow + 1, 1, grow) end
    m = m:avg_pool2d(3, 1, 1)
    return background * (1 - m) + result * m
  end)
end

--- Marks scales 1..n trained: their networks in evaluation mode (batch
-- norm on its running statistics) and frozen.
-- @param n the number of scales done
function Pyramid:freeze(n)
  self.trained = n
  for i = 1, n do self.G[i]:eval(); self.D[i]:eval() end
end

--- The pyramid's state for a checkpoint: G1.., D1.., optG1.., optD1..,
-- z_opt, real, amp1.., trained (merged into `into` when given).
-- @param into a table to add to (optional)
-- @return the table
function Pyramid:state(into)
  local s = into or {}
  for n = 1, #self.sizes do
    s["G" .. n], s["D" .. n], s["amp" .. n] = self.G[n], self.D[n], self.amp[n]
    s["optG" .. n], s["optD" .. n] = self.optG[n], self.optD[n]
  end
  s.z_opt, s.real, s.trained = self.z_opt, self.real, self.trained
  return s
end

--- Takes back the plain values of a state table after it was loaded
-- (amplitudes, scales trained) and freezes the trained scales.
-- @param s the table from state(), loaded
function Pyramid:restore(s)
  for n = 1, #self.sizes do self.amp[n] = s["amp" .. n] end
  self:freeze(s.trained)
end

--- A pyramid of a saved run: built from the checkpoint's own training
-- image and options (min_size, max_size, scale_factor, nfc), loaded, its
-- trained scales frozen.
-- @param path the checkpoint of a run of recipes/singan.lua
-- @return the pyramid and the run's options (key -> text); raises a clear error otherwise
function M.load(path)
  if not gan.io.exists(path) then error(("%s not found: train a SinGAN first (`ganlua singan`)"):format(path), 0) end
  local tensors, meta = gan.io.load_safetensors(path)
  if not tensors then error(("cannot read %s: %s"):format(path, meta), 0) end
  if not tensors.real or not tensors.z_opt then error(("%s is not a SinGAN checkpoint (no real, z_opt)"):format(path), 0) end
  local o = require("gan.pretrained").options(meta)
  local num = function(k, d) return tonumber(o[k]) or d end
  local P = M.Pyramid(tensors.real, { min_size = num("min_size", 25), max_size = num("max_size", 250),
    scale_factor = num("scale_factor", 0.75), nfc = num("nfc", 32) })
  local s = P:state()
  local extra, err = require("gan.checkpoint").load(path, s, { rng = false })
  if not extra then error(("cannot load %s: %s"):format(path, err), 0) end
  P:restore(s)
  if P.trained < 1 then error(("%s holds no trained scale yet"):format(path), 0) end
  return P, o
end

return M
