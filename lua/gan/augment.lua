--- gan.augment: random transformations of training batches.
--
-- The data pipeline applies them to every training batch (gan.data):
-- images stored at `load_size` are cropped to `size` at a random place
-- and, with `flip`, mirrored left-right with probability 1/2, as the
-- image-to-image papers' code does (pix2pix, CycleGAN). A pair (A and B
-- stacked on the channel dim) gets the same crop and flip on both sides.
--
--     local aug = gan.augment.new { size = 32, flip = true, stream = "data" }
--     local x = aug:apply(batch)       -- (B, C, L, L) -> (B, C, 32, 32)
--
-- The draws of a batch depend only on the seed, the stream's name and the
-- number of batches augmented so far, which is the augmenter's state
-- (saved in checkpoints with the data's).
--
-- The second half is StyleGAN2-ADA's augmentation of everything a
-- discriminator sees (gan.augment.pipeline) and the control of its
-- probability p by D's overfitting (gan.augment.adaptive):
--
--     local aug = gan.augment.pipeline { groups = "bgc" }
--     local ada = gan.augment.adaptive { pipeline = aug, batch = 16 }
--     local d_real = D(aug(real))          -- and D(aug(fake)) in D's and G's steps, R1 through aug
--     ada:observe(d_real); ada:step()      -- p follows r_t = E[sign(D(real))]
--
-- Options read (declared here): load_size, flip.
-- Requires: gan.options, gan.random.
-- @module gan.augment

local gan = require "gan"
local options = require "gan.options"
local random = require "gan.random"

local M = {}

--- The options of the data pipeline's augmentation.
M.options = options.declare("gan.augment", "augmentation", {
  { "load_size", 0, "resize images to this, then crop --size at random (0: no crop)" },
  { "flip", false, "mirror training images left-right at random" },
})

local Augment = {}
Augment.__index = Augment
M.Augment = Augment

--- An augmenter.
-- @param spec {size= (the crop), flip=false, stream="data" (its random stream's name),
--   seed= (default: the generator's)}
-- @return the augmenter
function M.new(spec)
  assert(type(spec) == "table" and math.type(spec.size) == "integer", "gan.augment.new: {size = crop size} expected")
  return setmetatable({ size = spec.size, flip = spec.flip == true, stream = (spec.stream or "data") .. ".augment",
    seed = spec.seed or gan.rng_state().seed, batches = 0 }, Augment)
end

--- Crops each image of x at random to size x size and, with flip, mirrors
-- it with probability 1/2. The draws of the k-th batch are the keyed draw
-- (stream, k): three uniforms per image (top, left, flip).
-- @param x images (B, C, L, L) with L >= size
-- @return (B, C, size, size)
function Augment:apply(x)
  local L, s = x:size(3), self.size
  if x:size(4) ~= L or L < s then
    error(("gan.augment: images (%s) must be square and at least %d wide"):format(table.concat(x:shape(), ", "), s), 2)
  end
  self.batches = self.batches + 1
  local B = x:size(1)
  local u = random.keyed(self.stream, self.batches, function() return gan.rand(B, 3) end, self.seed):totable()
  local out = {}
  for i = 1, B do
    local top, left = math.floor(u[i][1] * (L - s + 1)), math.floor(u[i][2] * (L - s + 1))
    local xi = x:select(1, i)
    if L > s then xi = xi:narrow(2, top + 1, s):narrow(3, left + 1, s) end
    if self.flip and u[i][3] < 0.5 then xi = xi:flip(3) end
    out[i] = xi
  end
  return gan.stack(out, 1)
end

--- The augmenter's state: {batches=} (the batches augmented so far).
-- @return table
function Augment:state_dict()
  return { batches = self.batches }
end

--- Restores the state (numbers may be strings).
-- @param sd table from state_dict()
function Augment:load_state_dict(sd)
  local check = require "gan.check"
  check.table("gan.augment:load_state_dict", "the state", sd)
  self.batches = sd.batches == nil and 0 or check.integer_or_text("gan.augment:load_state_dict", "batches", sd.batches, 0)
end


-- ----------------------------------------------------------------------------
-- Adaptive discriminator augmentation (Karras et al. 2020, StyleGAN2-ADA)

-- the low-pass filters of two orthogonal wavelets (decomposition)
local SYM2 = { -0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025 }
local SYM6 = { 0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
  0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
  -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148 }

--- Low-pass filters of orthogonal wavelets (decomposition, as the wavelet
-- literature lists them): sym2 builds the image filter bank, sym6 is the
-- anti-aliasing filter of the geometric group.
M.wavelets = { sym2 = SYM2, sym6 = SYM6 }

-- the transformations of each group, in the order they are composed
local GROUPS = {
  b = { "xflip", "rotate90", "xint" },
  g = { "scale", "rotate", "aniso", "xfrac" },
  c = { "brightness", "contrast", "lumaflip", "hue", "saturation" },
  f = { "imgfilter" },
  n = { "noise" },
  o = { "cutout" },
}

local BANDS = { 1, 1, 1, 1 } -- the image filter's multipliers of its four bands

--- The strengths and ranges of the transformations, as the paper's
-- Appendix B: a translation is relative to the image size, scales are
-- log2 standard deviations, angles fractions of a full turn.
M.ada_defaults = {
  xint_max = 0.125, scale_std = 0.2, rotate_max = 1, aniso_std = 0.2, xfrac_std = 0.125,
  brightness_std = 0.2, contrast_std = 0.5, hue_max = 1, saturation_std = 1,
  imgfilter_std = 1, imgfilter_bands = BANDS, noise_std = 0.1, cutout_size = 0.5,
}

-- 3x3 and 4x4 matrices as flat row-major Lua arrays
local function mat_mul(a, b, n)
  local c = {}
  for i = 0, n - 1 do
    for j = 0, n - 1 do
      local s = 0
      for k = 0, n - 1 do s = s + a[i * n + k + 1] * b[k * n + j + 1] end
      c[i * n + j + 1] = s
    end
  end
  return c
end
local function eye(n)
  local m = {}
  for i = 0, n - 1 do for j = 0, n - 1 do m[i * n + j + 1] = i == j and 1 or 0 end end
  return m
end
local function is_eye(m, n)
  for i = 0, n - 1 do
    for j = 0, n - 1 do if m[i * n + j + 1] ~= (i == j and 1 or 0) then return false end end
  end
  return true
end
local function translate2(tx, ty) return { 1, 0, tx, 0, 1, ty, 0, 0, 1 } end
local function scale2(sx, sy) return { sx, 0, 0, 0, sy, 0, 0, 0, 1 } end
-- rotation by theta; quarter turns exact, so that rotate90 permutes pixels
local function rotate2(theta, quarters)
  local c, s
  if quarters then
    local q = quarters % 4
    c, s = ({ 1, 0, -1, 0 })[q + 1], ({ 0, 1, 0, -1 })[q + 1]
  else
    c, s = math.cos(theta), math.sin(theta)
  end
  return { c, -s, 0, s, c, 0, 0, 0, 1 }
end

local LUMA = 1 / math.sqrt(3) -- the luma axis v = (1, 1, 1, 0) / sqrt(3)
-- v v^T, I - 2 v v^T (the Householder reflection), the rotation about v
local function luma_outer(scale)
  local m = eye(4)
  for i = 0, 2 do for j = 0, 2 do m[i * 4 + j + 1] = (i == j and 1 or 0) - scale * LUMA * LUMA end end
  return m
end
local function luma_rotation(theta)
  local s, c = math.sin(theta), math.cos(theta)
  local cc, v = 1 - c, LUMA
  return {
    v * v * cc + c, v * v * cc - v * s, v * v * cc + v * s, 0,
    v * v * cc + v * s, v * v * cc + c, v * v * cc - v * s, 0,
    v * v * cc - v * s, v * v * cc + v * s, v * v * cc + c, 0,
    0, 0, 0, 1 }
end
local function saturation_matrix(s)
  local m = eye(4)
  for i = 0, 2 do
    for j = 0, 2 do m[i * 4 + j + 1] = LUMA * LUMA + ((i == j and 1 or 0) - LUMA * LUMA) * s end
  end
  return m
end

-- The filter bank of the image filter group: four bands (lowest first) of
-- 43 taps, from the sym2 wavelet's half-band filters H(z) H(1/z) / 2 and
-- H(-z) H(-1/z) / 2, each level upsampled by two and smoothed again.
local function filter_bank()
  local lo = M.wavelets.sym2
  local hi = {}
  for k, v in ipairs(lo) do hi[k] = v * ((k - 1) % 2 == 0 and 1 or -1) end
  local function autocorr(h)
    local n, r = #h, {}
    for k = 1, 2 * n - 1 do
      local s = 0
      for i = 1, n do
        local j = n + i - k -- h reversed
        if j >= 1 and j <= n then s = s + h[i] * h[j] end
      end
      r[k] = s / 2
    end
    return r
  end
  local lo2, hi2 = autocorr(lo), autocorr(hi)
  local bank = { { 1 }, { 0 }, { 0 }, { 0 } }
  for i = 2, 4 do
    for b = 1, 4 do
      local row, up = bank[b], {}
      for k = 1, #row do
        up[2 * k - 1] = row[k]
        if k < #row then up[2 * k] = 0 end
      end
      local out = {}
      for k = 1, #up + #lo2 - 1 do
        local s = 0
        for j = 1, #lo2 do
          local t = k - j + 1
          if t >= 1 and t <= #up then s = s + up[t] * lo2[j] end
        end
        out[k] = s
      end
      bank[b] = out
    end
    local n, m = #bank[i], #hi2
    local first = (n - m) // 2
    for k = 1, m do bank[i][first + k] = bank[i][first + k] + hi2[k] end
  end
  return bank
end
--- The filter bank of the image filter group: four bands of 43 taps, the
-- lowest first, whose sum is the identity filter.
-- @return list of 4 lists of 43 numbers
function M.filter_bank() return filter_bank() end

local Pipeline = {}
Pipeline.__index = Pipeline
M.Pipeline = Pipeline

-- the draws of one call: uniform and normal columns, by use
local U_COLS, N_COLS = 29, 12

--- An augmentation pipeline for everything a discriminator sees (ADA): each
-- transformation is applied to each image with probability `p` times its
-- multiplier (1 for the groups asked). The geometric transformations are
-- composed into one matrix per image and applied once (reflection padding,
-- 2x upsampling with the sym6 low-pass, bilinear sampling, 2x
-- downsampling); the colour ones into one 4x4 matrix. Every step is made of
-- differentiable ops, so gradients of any order flow through it (R1).
--
-- Groups, by letter (NVlabs' names): `b` pixel blitting (x-flip, quarter
-- turns, integer translation), `g` general geometry (isotropic scaling,
-- rotation before and after anisotropic scaling, each with probability
-- 1 - sqrt(1 - p) so that one or the other happens with probability p,
-- fractional translation), `c` colour (brightness, contrast, luma flip,
-- hue rotation, saturation), `f` image-space filtering (gains of four
-- frequency bands), `n` additive noise, `o` cutout. "bgc" is the paper's
-- choice. On gray images (1 channel) the colour group keeps what it means
-- for gray: brightness, contrast and the luma flip, which is inversion
-- (x -> -x); hue and saturation are the identity there.
--
-- The draws of the k-th call are the keyed draw (stream, k) (gan.random),
-- so they depend on the seed and k only, not on p; k is the state.
--
--     local aug = gan.augment.pipeline { groups = "bgc", p = 0.2 }
--     local logits = D(aug(images))
-- @param spec {groups="bgc" (letters, or a table name -> multiplier), p=0,
--   stream="augment", seed= (default: the generator's), and any of
--   gan.augment.ada_defaults to change a range}
-- @return the pipeline (callable)
function M.pipeline(spec)
  spec = spec or {}
  if type(spec) ~= "table" then error("gan.augment.pipeline: a table of options expected", 2) end
  local self = setmetatable({ mult = {}, p = spec.p or 0, calls = 0, stream = spec.stream or "augment",
    seed = spec.seed or gan.rng_state().seed }, Pipeline)
  if type(self.p) ~= "number" or self.p < 0 or self.p > 1 then
    error(("gan.augment.pipeline: p must be a number in [0, 1], got %s"):format(tostring(spec.p)), 2)
  end
  local groups = spec.groups or "bgc"
  if type(groups) == "string" then
    for letter in groups:gmatch(".") do
      if not GROUPS[letter] then
        error(("gan.augment.pipeline: unknown group '%s' in \"%s\" (b, g, c, f, n, o)"):format(letter, groups), 2)
      end
      for _, name in ipairs(GROUPS[letter]) do self.mult[name] = 1 end
    end
  elseif type(groups) == "table" then
    local known = {}
    for _, list in pairs(GROUPS) do for _, name in ipairs(list) do known[name] = true end end
    for name, m in pairs(groups) do
      if not known[name] or type(m) ~= "number" or m < 0 then
        error(("gan.augment.pipeline: groups.%s must be a known transformation with a multiplier >= 0"):format(
          tostring(name)), 2)
      end
      self.mult[name] = m
    end
  else
    error("gan.augment.pipeline: groups must be letters (\"bgc\") or a table", 2)
  end
  for k, v in pairs(M.ada_defaults) do self[k] = v end
  for k in pairs(spec) do
    if M.ada_defaults[k] ~= nil then
      if type(spec[k]) ~= type(M.ada_defaults[k]) then
        error(("gan.augment.pipeline: %s must be a %s"):format(k, type(M.ada_defaults[k])), 2)
      end
      self[k] = spec[k]
    elseif not ({ groups = true, p = true, stream = true, seed = true })[k] then
      error(("gan.augment.pipeline: unknown option %s"):format(tostring(k)), 2)
    end
  end
  local f = M.wavelets.sym6
  local sum, centroid = 0, 0
  for k, v in ipairs(f) do sum, centroid = sum + v, centroid + (k - 1) * v end
  local taps = {}
  for k, v in ipairs(f) do taps[k] = v / sum end
  self.geom_filter = gan.tensor(taps)
  self.geom_shift = -(centroid / sum - (#f - 1) / 2) / 4
  return self
end

-- true when the transformation is on with probability p * multiplier
local function on(self, name, u) return u < (self.mult[name] or 0) * self.p end

--- The per-image parameters of one call, drawn from u (B x 29 uniforms)
-- and n (B x 12 normals): the inverse geometric matrix (pixel of the
-- output -> pixel of the input, about the image centre), the colour matrix,
-- the four band gains, the noise deviation and the cutout (size, centre).
-- @param B images
-- @param H height
-- @param W width
-- @param C channels
-- @param u uniforms (a table of B rows)
-- @param n normals (a table of B rows)
-- @return list of {geom=, color=, bands=, noise=, cutout=}
function Pipeline:parameters(B, H, W, C, u, n)
  local m, out = self.mult, {}
  local p_rot = 1 - math.sqrt(math.max(0, math.min(1, 1 - (m.rotate or 0) * self.p)))
  for b = 1, B do
    local U, N = u[b], n[b]
    local G = eye(3)
    if on(self, "xflip", U[2]) then G = mat_mul(G, scale2(1 - 2 * math.floor(U[1] * 2), 1), 3) end
    if on(self, "rotate90", U[4]) then G = mat_mul(G, rotate2(nil, math.floor(U[3] * 4)), 3) end
    if on(self, "xint", U[7]) then
      local tx, ty = (U[5] * 2 - 1) * self.xint_max, (U[6] * 2 - 1) * self.xint_max
      G = mat_mul(G, translate2(-math.floor(tx * W + 0.5), -math.floor(ty * H + 0.5)), 3)
    end
    if on(self, "scale", U[8]) then
      local s = 2 ^ (N[1] * self.scale_std)
      G = mat_mul(G, scale2(1 / s, 1 / s), 3)
    end
    if (m.rotate or 0) > 0 and U[10] < p_rot then G = mat_mul(G, rotate2((U[9] * 2 - 1) * math.pi * self.rotate_max), 3) end
    if on(self, "aniso", U[11]) then
      local s = 2 ^ (N[2] * self.aniso_std)
      G = mat_mul(G, scale2(1 / s, s), 3)
    end
    if (m.rotate or 0) > 0 and U[13] < p_rot then G = mat_mul(G, rotate2((U[12] * 2 - 1) * math.pi * self.rotate_max), 3) end
    if on(self, "xfrac", U[14]) then
      G = mat_mul(G, translate2(-N[3] * self.xfrac_std * W, -N[4] * self.xfrac_std * H), 3)
    end
    local Cm = eye(4)
    if on(self, "brightness", U[15]) then
      local v = N[5] * self.brightness_std
      Cm = mat_mul({ 1, 0, 0, v, 0, 1, 0, v, 0, 0, 1, v, 0, 0, 0, 1 }, Cm, 4)
    end
    if on(self, "contrast", U[16]) then
      local c = 2 ^ (N[6] * self.contrast_std)
      Cm = mat_mul({ c, 0, 0, 0, 0, c, 0, 0, 0, 0, c, 0, 0, 0, 0, 1 }, Cm, 4)
    end
    if on(self, "lumaflip", U[18]) and math.floor(U[17] * 2) == 1 then Cm = mat_mul(luma_outer(2), Cm, 4) end
    if C > 1 and on(self, "hue", U[20]) then
      Cm = mat_mul(luma_rotation((U[19] * 2 - 1) * math.pi * self.hue_max), Cm, 4)
    end
    if C > 1 and on(self, "saturation", U[21]) then
      Cm = mat_mul(saturation_matrix(2 ^ (N[7] * self.saturation_std)), Cm, 4)
    end
    local bands
    if (m.imgfilter or 0) > 0 then
      local power = { 10 / 13, 1 / 13, 1 / 13, 1 / 13 }
      bands = { 1, 1, 1, 1 }
      for i = 1, 4 do
        local t_i = 1
        if U[21 + i] < m.imgfilter * self.p * self.imgfilter_bands[i] then t_i = 2 ^ (N[7 + i] * self.imgfilter_std) end
        local t, norm = { 1, 1, 1, 1 }, 0
        t[i] = t_i
        for k = 1, 4 do norm = norm + power[k] * t[k] * t[k] end
        for k = 1, 4 do bands[k] = bands[k] * t[k] / math.sqrt(norm) end
      end
    end
    local noise = on(self, "noise", U[26]) and math.abs(N[12]) * self.noise_std or 0
    local cutout = on(self, "cutout", U[27]) and self.cutout_size or 0
    out[b] = { geom = G, color = Cm, bands = bands, noise = noise, cutout = { cutout, U[28], U[29] } }
  end
  return out
end

-- the normalised output coordinates of every pixel of an (Ho, Wo) image
-- with a 1 appended, (Ho Wo, 3), as affine_grid with align_corners false
local function base_grid(Ho, Wo)
  local rows = {}
  for i = 0, Ho - 1 do
    for j = 0, Wo - 1 do rows[#rows + 1] = { (2 * j + 1) / Wo - 1, (2 * i + 1) / Ho - 1, 1 } end
  end
  return gan.tensor(rows)
end

--- The reflection padding a batch needs, {x0, x1, y0, y1}: wide enough for
-- the corners of every image's transformed frame and the filters' reach.
-- @param mats list of 3x3 matrices (flat, row-major), one per image
-- @param H height
-- @param W width
-- @return list of 4 integers
function Pipeline:margins(mats, H, W)
  local cx, cy = (W - 1) / 2, (H - 1) / 2
  local pad = #M.wavelets.sym6 // 4
  local margin = { 0, 0, 0, 0 } -- x0, y0, x1, y1: the furthest corner beyond each side
  for _, G in ipairs(mats) do
    for _, c in ipairs({ { -cx, -cy }, { cx, -cy }, { cx, cy }, { -cx, cy } }) do
      local px = G[1] * c[1] + G[2] * c[2] + G[3]
      local py = G[4] * c[1] + G[5] * c[2] + G[6]
      margin[1], margin[2] = math.max(margin[1], -px), math.max(margin[2], -py)
      margin[3], margin[4] = math.max(margin[3], px), math.max(margin[4], py)
    end
  end
  local lim = { W - 1, H - 1, W - 1, H - 1 }
  local m = {}
  for k = 1, 4 do
    local extra = (k % 2 == 1) and (pad * 2 - cx) or (pad * 2 - cy)
    m[k] = math.ceil(math.min(lim[k], math.max(0, margin[k] + extra)))
  end
  return { m[1], m[3], m[2], m[4] }
end

--- Applies the geometric matrices (inverse, one per image, about the image
-- centre in pixels) to x, as one resampling: reflection padding wide enough
-- for every image's corners, 2x upsampling with the sym6 low-pass, bilinear
-- sampling, 2x downsampling with the same filter.
-- @param x (B, C, H, W)
-- @param mats list of B 3x3 matrices (flat, row-major)
-- @param pads the padding {x0, x1, y0, y1} (default: margins(mats, H, W))
-- @return (B, C, H, W)
function Pipeline:warp(x, mats, pads)
  local B, C, H, W = x:size(1), x:size(2), x:size(3), x:size(4)
  local pad = #M.wavelets.sym6 // 4
  pads = pads or self:margins(mats, H, W)
  local mx0, mx1, my0, my1 = pads[1], pads[2], pads[3], pads[4]
  x = x:pad({ mx0, mx1, my0, my1 }, "reflect")
  local Hu, Wu = (H + my0 + my1) * 2, (W + mx0 + mx1) * 2
  x = x:upfirdn2d(self.geom_filter, { up = 2, pad = { 6, 5, 6, 5 }, gain = 4 })
  local Ho, Wo = (H + pad * 2) * 2, (W + pad * 2) * 2
  -- from input pixels to upsampled pixels, whose centres sit half a pixel in. The sym6 filter's
  -- centroid is 0.40 taps before its middle, which shifts the upsampled image; the identity cancels
  -- it on the way down, but a flip or a turn doubles it (NVlabs' pipeline leaves every flipped
  -- image a tenth of a pixel off): the shift a removes it
  local a = self.geom_shift
  local pre = mat_mul(translate2(-0.5 + a, -0.5 + a), scale2(2, 2), 3)
  local post = mat_mul(scale2(0.5, 0.5), translate2(0.5 - a, 0.5 - a), 3)
  local outer_l, outer_r = scale2(2 / Wu, 2 / Hu), scale2(Wo / 2, Ho / 2)
  local theta = {}
  for b = 1, B do
    local G = mat_mul(translate2((mx0 - mx1) / 2, (my0 - my1) / 2), mats[b], 3)
    G = mat_mul(mat_mul(pre, G, 3), post, 3)
    G = mat_mul(mat_mul(outer_l, G, 3), outer_r, 3)
    theta[b] = { { G[1], G[2], G[3] }, { G[4], G[5], G[6] } }
  end
  local key = Ho .. "x" .. Wo
  self.grids = self.grids or {}
  self.grids[key] = self.grids[key] or base_grid(Ho, Wo)
  local grid = gan.matmul(self.grids[key], gan.tensor(theta):transpose(2, 3)):reshape(B, Ho, Wo, 2)
  x = x:grid_sample(grid)
  return x:upfirdn2d(self.geom_filter, { down = 2, pad = -1, flip = true })
end

--- Applies the colour matrices: on RGB, C[1:3, 1:3] x + C[1:3, 4]; on gray,
-- the mean of its first three rows acting on (x, x, x, 1).
-- @param x (B, C, H, W) with C 1 or 3
-- @param mats list of B 4x4 matrices (flat, row-major)
-- @return (B, C, H, W)
function Pipeline:recolor(x, mats)
  local B, C, H, W = x:size(1), x:size(2), x:size(3), x:size(4)
  if C == 3 then
    local lin, bias = {}, {}
    for b = 1, B do
      local m = mats[b]
      lin[b] = { { m[1], m[2], m[3] }, { m[5], m[6], m[7] }, { m[9], m[10], m[11] } }
      bias[b] = { { m[4] }, { m[8] }, { m[12] } }
    end
    return (gan.matmul(gan.tensor(lin), x:reshape(B, 3, H * W)) + gan.tensor(bias)):reshape(B, C, H, W)
  elseif C == 1 then
    local a, c = {}, {}
    for b = 1, B do
      local m = mats[b]
      a[b] = (m[1] + m[2] + m[3] + m[5] + m[6] + m[7] + m[9] + m[10] + m[11]) / 3
      c[b] = (m[4] + m[8] + m[12]) / 3
    end
    return x * gan.tensor(a):reshape(B, 1, 1, 1) + gan.tensor(c):reshape(B, 1, 1, 1)
  end
  error(("gan.augment: the colour group needs 1 or 3 channels, got %d"):format(C), 3)
end

--- Filters each image with its band gains: the filter sum_i gains[i] bank[i]
-- (43 taps), separably, after reflection padding.
-- @param x (B, C, H, W), H and W above 21
-- @param gains list of B lists of 4 gains
-- @return (B, C, H, W)
function Pipeline:filter(x, gains)
  local B, C, H, W = x:size(1), x:size(2), x:size(3), x:size(4)
  self.bank = self.bank or filter_bank()
  local taps, rows = #self.bank[1], {}
  local half = taps // 2
  if H <= half or W <= half then
    error(("gan.augment: the image filter needs images larger than %dx%d, got %dx%d"):format(half, half, H, W), 3)
  end
  for b = 1, B do
    local f = {}
    for k = 1, taps do
      local s = 0
      for i = 1, 4 do s = s + gains[b][i] * self.bank[i][k] end
      f[k] = s
    end
    for _ = 1, C do rows[#rows + 1] = f end
  end
  local w = gan.tensor(rows)
  local y = x:reshape(1, B * C, H, W):pad(half, "reflect")
  y = y:conv2d(w:reshape(B * C, 1, 1, taps), nil, { groups = B * C })
  y = y:conv2d(w:reshape(B * C, 1, taps, 1), nil, { groups = B * C })
  return y:reshape(B, C, H, W)
end

--- Augments a batch: every image gets its own draw of every transformation.
-- @param x images (B, C, H, W), C 1 or 3 when the colour group is on
-- @return the augmented images, (B, C, H, W); x itself when p is 0
function Pipeline:apply(x)
  if not gan.is_tensor(x) or x:dim() ~= 4 then
    error("gan.augment: images (B, C, H, W) expected", 2)
  end
  self.calls = self.calls + 1
  if self.p == 0 then return x end
  local B, C, H, W = x:size(1), x:size(2), x:size(3), x:size(4)
  local u, n = random.keyed(self.stream, self.calls, function()
    return gan.rand(B, U_COLS), gan.randn(B, N_COLS)
  end, self.seed)
  local params = self:parameters(B, H, W, C, u:totable(), n:totable())
  local geom, color, any_geom, any_color, any_filter, any_noise, any_cut = {}, {}, false, false, false, false, false
  for b, pb in ipairs(params) do
    geom[b], color[b] = pb.geom, pb.color
    any_geom = any_geom or not is_eye(pb.geom, 3)
    any_color = any_color or not is_eye(pb.color, 4)
    any_filter = any_filter or pb.bands ~= nil
    any_noise = any_noise or pb.noise > 0
    any_cut = any_cut or pb.cutout[1] > 0
  end
  local dist = require "gan.dist"
  if dist.shards() > 1 then
    -- under mpirun each rank holds a shard: the job's whole batch decides whether to warp and
    -- how wide to pad, as one process would
    local pads = self:margins(geom, H, W)
    local t = gan.tensor({ any_geom and 1 or 0, pads[1], pads[2], pads[3], pads[4] })
    dist.all_reduce({ t }, "max")
    local v = t:totable()
    if v[1] > 0 then x = self:warp(x, geom, { v[2], v[3], v[4], v[5] }) end
  elseif any_geom then
    x = self:warp(x, geom)
  end
  if any_color then x = self:recolor(x, color) end
  if any_filter then
    local gains = {}
    for b, pb in ipairs(params) do gains[b] = pb.bands or { 1, 1, 1, 1 } end
    x = self:filter(x, gains)
  end
  if any_noise then
    local sigma = {}
    for b, pb in ipairs(params) do sigma[b] = pb.noise end
    local z = random.keyed(self.stream .. ".noise", self.calls, function() return gan.randn(B, C, H, W) end, self.seed)
    x = x + z * gan.tensor(sigma):reshape(B, 1, 1, 1)
  end
  if any_cut then
    local mask = {}
    for b, pb in ipairs(params) do
      local size, cxn, cyn = pb.cutout[1], pb.cutout[2], pb.cutout[3]
      local plane = {}
      for i = 0, H - 1 do
        local row = {}
        local out_y = math.abs((i + 0.5) / H - cyn) >= size / 2
        for j = 0, W - 1 do row[j + 1] = (out_y or math.abs((j + 0.5) / W - cxn) >= size / 2) and 1 or 0 end
        plane[i + 1] = row
      end
      mask[b] = { plane }
    end
    x = x * gan.tensor(mask)
  end
  return x
end
Pipeline.__call = Pipeline.apply

--- The pipeline's state: {p=, calls=} (numbers may come back as strings).
-- @return table
function Pipeline:state_dict()
  return { p = self.p, calls = self.calls }
end

--- Restores the state saved by state_dict.
-- @param sd table
function Pipeline:load_state_dict(sd)
  local p, calls = tonumber(sd.p), math.tointeger(tonumber(sd.calls))
  if not p or p ~= p or p < 0 or p > 1 or not calls or calls < 0 then
    error(("gan.augment: bad pipeline state (p=%s, calls=%s)"):format(tostring(sd.p), tostring(sd.calls)), 2)
  end
  self.p, self.calls = p, calls
end

local Adaptive = {}
Adaptive.__index = Adaptive
M.Adaptive = Adaptive

--- ADA's control of a pipeline's p: the overfitting heuristic
-- r_t = E[sign(D(real))], averaged over `interval` training steps, is
-- compared with its target; p moves by sign(r_t - target) times
-- batch * interval / (kimg * 1000), so it can go from 0 to 1 in `kimg`
-- thousand real images. p stays in [0, max]: NVlabs' code clamps it at 0
-- only, and p above 1 makes transformations such as the quarter turns and
-- the luma flip certain rather than random, so that G learns them (they leak
-- into the samples); max = 1 by default.
--
-- The sum and count of signs since the last adjustment and the steps are
-- state (state_dict), so a resumed run goes on with the same p. Under
-- mpirun, r_t is taken over every rank's signs (gan.dist), so every rank
-- moves p the same way.
--
--     local aug = gan.augment.pipeline { groups = "bgc" }
--     local ada = gan.augment.adaptive { pipeline = aug, batch = 16, kimg = 100 }
--     local d_real = D(aug(real)); ada:observe(d_real); ... ; ada:step()
-- @param spec {pipeline= (required), batch= (required: the images of a step of this process;
--   under mpirun, the job's step has gan.dist.size times as many),
--   target=0.6, interval=4 (steps), kimg=500, max=1}
-- @return the controller
function M.adaptive(spec)
  if type(spec) ~= "table" or getmetatable(spec.pipeline) ~= Pipeline then
    error("gan.augment.adaptive: {pipeline = gan.augment.pipeline(...), batch = N} expected", 2)
  end
  local self = setmetatable({ pipeline = spec.pipeline, batch = spec.batch, target = spec.target or 0.6,
    interval = spec.interval or 4, kimg = spec.kimg or 500, max = spec.max or 1, sum = 0, count = 0, steps = 0 },
    Adaptive)
  local function check(ok, what) if not ok then error("gan.augment.adaptive: " .. what, 3) end end
  check(math.type(self.batch) == "integer" and self.batch >= 1, "batch must be an integer >= 1")
  check(math.type(self.interval) == "integer" and self.interval >= 1, "interval must be an integer >= 1")
  check(type(self.kimg) == "number" and self.kimg > 0, "kimg must be a number > 0")
  check(type(self.target) == "number" and self.target >= -1 and self.target <= 1, "target must be in [-1, 1]")
  check(type(self.max) == "number" and self.max >= 0, "max must be a number >= 0")
  return self
end

--- Adds the signs of D's logits on real images (after augmentation) to the
-- current interval's sum.
-- @param logits tensor of any shape
function Adaptive:observe(logits)
  gan.no_grad(function()
    self.sum = self.sum + logits:detach():sign():sum():item()
    self.count = self.count + logits:numel()
  end)
end

--- Ends a training step. r_t is the mean sign observed in the interval so
-- far; at the interval's end p moves by one increment towards the target's
-- side and a new interval starts.
-- @return r_t (0 before anything was observed), and true when p was adjusted at this step
function Adaptive:step()
  self.steps = self.steps + 1
  local r_t = self.count > 0 and self.sum / self.count or 0
  if self.steps % self.interval ~= 0 or self.count == 0 then return r_t, false end
  local dist = require "gan.dist"
  if dist.size > 1 then
    -- under mpirun every rank saw its shard of the batches: r_t over the whole job's, the same p everywhere
    local t = gan.tensor({ self.sum, self.count })
    dist.all_reduce({ t }, "sum")
    local v = t:totable()
    r_t = v[1] / v[2]
  end
  local dir = r_t > self.target and 1 or (r_t < self.target and -1 or 0)
  -- the images of a step: this process's batch times the processes of the job
  local p = self.pipeline.p + dir * self.batch * dist.size * self.interval / (self.kimg * 1000)
  self.pipeline.p = math.max(0, math.min(self.max, p))
  self.sum, self.count, self.r_t = 0, 0, r_t
  return r_t, true
end

--- The controller's state: the open interval's sum and count, the steps and
-- the last r_t (p is the pipeline's state).
-- @return table
function Adaptive:state_dict()
  return { sum = self.sum, count = self.count, steps = self.steps, r_t = self.r_t }
end

--- Restores the state saved by state_dict.
-- @param sd table
function Adaptive:load_state_dict(sd)
  local sum, count, steps = tonumber(sd.sum), math.tointeger(tonumber(sd.count)), math.tointeger(tonumber(sd.steps))
  if not sum or sum ~= sum or not count or count < 0 or not steps or steps < 0 then
    error(("gan.augment.adaptive: bad state (sum=%s, count=%s, steps=%s)"):format(tostring(sd.sum),
      tostring(sd.count), tostring(sd.steps)), 2)
  end
  self.sum, self.count, self.steps, self.r_t = sum, count, steps, tonumber(sd.r_t)
end

return M
