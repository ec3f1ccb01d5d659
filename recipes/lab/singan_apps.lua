--- singan_apps — SinGAN's four applications: super-resolution, paint-to-image, editing and harmonization, each an image injected into a trained pyramid.
-- @paper Shaham, Dekel, Michaeli. SinGAN: Learning a Generative Model from a Single Natural Image. 2019. arXiv:1905.01164
-- @year 2019
-- @ja 要点: 学習済みのピラミッドのあるスケールに(ノイズの代わりに)画像を注入すると、そのスケールより上のGがその画像を学習画像のパッチの統計に合わせて描き直す。どのスケールから注入するかで、どこまで変えるかが決まる。
-- @ja 超解像: 低解像度画像そのものでSinGANを学習し(係数 4^(-1/6) のピラミッド)、拡大→最も細かいGを6回繰り返して×4にする。元画像とのPSNRをバイキュービック拡大と並べて測る。
-- @ja 絵から画像: 学習画像を少数色で塗った粗い絵を中間スケールに注入。編集: 画像の一部を切り貼りした画像を注入し、貼った所(少し広げてぼかしたマスク)だけ結果に置き換える。調和: 別の画像の物体(マトプロットリブ同梱の青い箱の絵)を貼り、細かいスケールから注入して色と質感を周囲に合わせる。
-- @en Key points: injecting an image (instead of noise) at some scale of a trained pyramid lets the generators above redraw it with the patch statistics of the training image; the scale chosen sets how much may change.
-- @en Super-resolution: a SinGAN is trained on the low-resolution image itself (a pyramid of factor 4^(-1/6)), then upsampling and the finest G are applied 6 times for x4; PSNR against the original is measured beside bicubic upsampling.
-- @en Paint-to-image: a coarse paint of the training image in a few flat colours, injected at a middle scale. Editing: a patch of the image cut and pasted elsewhere, injected, the result kept only where it was pasted (the mask grown and softened). Harmonization: an object from another image (matplotlib's blue present clip art) pasted in and injected at a fine scale, so that its colours and texture follow the surroundings.

local gan = require "gan"
local S = gan.nets.singan

-- Time: with the checkpoint of `ganlua singan`, under a minute for paint, edit and harmonize; sr first
-- trains a SinGAN on the low-resolution copy (a few minutes on one thread).
-- 所要時間: `ganlua singan` の学習済みなら paint・edit・harmonize は1分以内。sr は低解像度画像での学習が数分。
local opt = gan.options {
  mode = "all",           -- sr, paint, edit, harmonize, or all
  checkpoint = "runs/singan/checkpoint.safetensors", -- a trained pyramid (recipes/singan.lua), for paint, edit, harmonize
  input = "",             -- the image to inject (paint, edit, harmonize; default: made from the training image)
  mask = "",              -- where the result replaces the image (edit, harmonize; default: the pasted region)
  inject_scale = 0,       -- the scale the input is injected at (0: paint N/2 + 1, edit N - 2, harmonize N - 1)
  object = "/usr/share/matplotlib/mpl-data/sample_data/Minduka_Present_Blue_Pack.png", -- harmonize: an RGBA object
  image = "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg", -- sr: the photograph
  sr_size = 200,          -- sr: long side of the original, in pixels (the low-resolution copy is sr_factor smaller)
  sr_factor = 4,          -- sr: the magnification
  sr_steps = 6,           -- sr: upsampling steps (the pyramid's factor is sr_factor^(-1/sr_steps))
  sr_niter = 250,         -- sr: iterations per scale of the SinGAN trained on the low-resolution copy
  sr_min_size = 18,       -- sr: its coarsest short side
  sr_noise = 1.0,         -- sr: noise added at each step, times the finest scale's amplitude (0: none)
  colors = 5,             -- paint: colours of the default paint (k-means of the image's pixels)
  out = "runs/lab/singan_apps", -- results folder
}
local MODES = { sr = true, paint = true, edit = true, harmonize = true, all = true }
if not MODES[opt.mode] then error(("--mode must be sr, paint, edit, harmonize or all, got '%s'"):format(opt.mode), 0) end
if opt.sr_factor < 1 or opt.sr_steps < 1 or opt.sr_niter < 1 or opt.colors < 2 or opt.sr_noise < 0 then
  error("--sr_factor, --sr_steps, --sr_niter must be >= 1, --sr_noise >= 0 and --colors >= 2", 0)
end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))

local function load(path, what, channels)
  local x, err = gan.image.load(path, channels)
  if not x then error(("--%s: cannot read %s: %s"):format(what, path, err), 0) end
  return x:unsqueeze(1)
end

local function save(name, images, nrow)
  local path = opt.out .. "/" .. name
  assert(gan.image.save_grid(path, gan.cat(images, 1), { nrow = nrow or #images, pad = 2, pad_value = 1 }))
  return path
end

local results = {}

-- ----------------------------------------------------------------------------
-- Super-resolution x sr_factor of a downscaled copy of the photograph

local function psnr(x, ref)
  local mse = (((x:clamp(-1, 1) - ref) / 2):square():mean():item()) -- intensities in [0, 1]
  return 10 * math.log(1 / mse, 10)
end

local function super_resolution()
  local photo = load(opt.image, "image", 3)
  local h, w = photo:size(3), photo:size(4)
  local s = opt.sr_size / math.max(h, w)
  local H, W = math.floor(h * s + 0.5), math.floor(w * s + 0.5)
  local hr = gan.image.resize(photo, H, W):clamp(-1, 1)
  local lh, lw = math.floor(H / opt.sr_factor + 0.5), math.floor(W / opt.sr_factor + 0.5)
  local lr = gan.image.resize(hr, lh, lw):clamp(-1, 1)
  assert(gan.io.mkdir(opt.out .. "/sr"))
  local lr_path = opt.out .. "/sr/low_resolution.png"
  assert(gan.image.save(lr_path, lr[1]))
  lr = load(lr_path, "image", 3) -- the 8-bit file the SinGAN is trained on
  local ckpt = gan.recipes.checkpoint(opt.out .. "/sr/singan/checkpoint.safetensors", "singan", {
    image = lr_path, max_size = math.max(lh, lw), min_size = opt.sr_min_size,
    scale_factor = opt.sr_factor ^ (-1 / opt.sr_steps), niter = opt.sr_niter, seed = opt.seed, threads = opt.threads,
    eval = false, samples = 4, out = opt.out .. "/sr/singan",
  })
  local P = S.load(ckpt)
  if P.trained < P:scales() then
    error(("%s holds %d of %d scales: finish it with `ganlua singan --resume` and the options in %s/sr/singan/options.txt")
      :format(ckpt, P.trained, P:scales(), opt.out), 0)
  end
  local sr = P:super_resolve(lr, opt.sr_factor, opt.sr_steps, opt.sr_noise)
  sr = gan.image.resize(sr, H, W) -- the rounding of sizes over the steps can leave a pixel over
  local bicubic = gan.image.resize(lr, H, W)
  local nearest = lr:upsample({ size = { H, W } }, "nearest")
  results.sr_psnr_singan, results.sr_psnr_bicubic = psnr(sr, hr), psnr(bicubic, hr)
  local path = save("sr.png", { nearest, bicubic, sr, hr })
  print(("super-resolution x%g of %dx%d to %dx%d: PSNR SinGAN %.2f dB, bicubic %.2f dB; %s (low resolution, bicubic, SinGAN, original)")
    :format(opt.sr_factor, lw, lh, W, H, results.sr_psnr_singan, results.sr_psnr_bicubic, path))
end

-- ----------------------------------------------------------------------------
-- Injection into the trained pyramid

local P
local function pyramid()
  P = P or S.load(opt.checkpoint)
  return P
end

local function injection_scale(default)
  local N = pyramid().trained
  local n = opt.inject_scale > 0 and opt.inject_scale or math.max(1, math.min(default, N))
  if n > N then error(("--inject_scale must be from 1 to %d (the trained scales), got %d"):format(N, n), 0) end
  return n
end

-- the input image at the finest size, from --input or made by fn()
local function input_or(fn)
  local real = pyramid().real
  if opt.input == "" then return fn(real) end
  local x = load(opt.input, "input", 3)
  return gan.image.resize(x, real:size(3), real:size(4)):clamp(-1, 1)
end

local function mask_or(default)
  if opt.mask == "" then return default end
  local m = load(opt.mask, "mask", 1)
  local real = pyramid().real
  return ((gan.image.resize(m, real:size(3), real:size(4)) + 1) / 2):clamp(0, 1)
end

-- k-means of the pixels of x (1, C, h, w) into k colours: each pixel its cluster's mean
local function posterize(x, k)
  local c = x:size(2)
  local px = x[1]:reshape(c, -1):t():contiguous()                  -- (P, C)
  local n = px:size(1)
  local centers = {}
  for i = 1, k do centers[i] = px[math.floor((i - 0.5) * n / k) + 1] end
  local C = gan.stack(centers, 1)                                 -- (k, C)
  local assign
  for _ = 1, 20 do
    local d = (px:unsqueeze(2) - C:unsqueeze(1)):square():sum(3)   -- (P, k)
    assign = select(2, d:min(2))
    local onehot = gan.one_hot(assign, k)                         -- (P, k)
    local count = onehot:sum(1):unsqueeze(2)                      -- (k, 1)
    C = onehot:t():matmul(px) / (count + 1e-8) + C * (count:eq(0):float())
  end
  return gan.one_hot(assign, k):matmul(C):t():reshape(x:shape())
end

local function paint()
  local n = injection_scale(pyramid().trained // 2 + 1)
  local x = input_or(function(real)
    -- a child's paint of the image: a few flat colours at a coarse size, blocky when enlarged
    local s = P.sizes[math.max(1, n - 1)]
    local coarse = posterize(gan.image.resize(real, s[1], s[2]):clamp(-1, 1), opt.colors)
    return coarse:upsample({ size = { real:size(3), real:size(4) } }, "nearest")
  end)
  local y = P:generate { first = n, last = P.trained, image = x }
  local path = save("paint.png", { x, y })
  print(("paint-to-image (injected at scale %d of %d): %s (paint, result)"):format(n, P.trained, path))
end

local function edit()
  local n = injection_scale(pyramid().trained - 2)
  local real = P.real
  local h, w = real:size(3), real:size(4)
  local ph, pw = h // 4, w // 4
  -- the default edit: a quarter-size patch from the lower left copied onto the upper right
  local mask = gan.zeros(1, 1, h, w)
  local x = input_or(function()
    local e = real:clone()
    local src = real:narrow(3, h - ph - h // 8 + 1, ph):narrow(4, w // 8 + 1, pw)
    e:narrow(3, h // 8 + 1, ph):narrow(4, w - pw - w // 8 + 1, pw):copy_(src)
    mask:narrow(3, h // 8 + 1, ph):narrow(4, w - pw - w // 8 + 1, pw):fill_(1)
    return e
  end)
  if opt.input ~= "" then mask = (x - real):abs():sum(2, true):gt(1 / 64):float() end
  mask = mask_or(mask)
  local y = P:generate { first = n, last = P.trained, image = x }
  local blended = S.blend(y, x, mask)
  local path = save("edit.png", { x, y, blended })
  print(("editing (injected at scale %d of %d): %s (edited input, result, result inside the mask)")
    :format(n, P.trained, path))
end

local function harmonize()
  local n = injection_scale(pyramid().trained - 1)
  local real = P.real
  local h, w = real:size(3), real:size(4)
  local mask = gan.zeros(1, 1, h, w)
  local x = input_or(function()
    -- the object, a third of the image's width, pasted by its alpha into the lower right
    local obj = load(opt.object, "object", 0)
    if obj:size(2) ~= 4 then error(("--object %s must have an alpha channel (RGBA)"):format(opt.object), 0) end
    local s = math.max(8, w // 3)
    obj = gan.image.resize(obj, s, s):clamp(-1, 1)
    local rgb, alpha = obj:narrow(2, 1, 3), (obj:narrow(2, 4, 1) + 1) / 2
    local e = real:clone()
    local region = e:narrow(3, h - s - h // 10 + 1, s):narrow(4, w - s - w // 10 + 1, s)
    region:copy_(region * (1 - alpha) + rgb * alpha)
    mask:narrow(3, h - s - h // 10 + 1, s):narrow(4, w - s - w // 10 + 1, s):copy_(alpha)
    return e
  end)
  if opt.input ~= "" then mask = (x - real):abs():sum(2, true):gt(1 / 64):float() end
  mask = mask_or(mask)
  local y = P:generate { first = n, last = P.trained, image = x }
  local blended = S.blend(y, x, mask, 0)
  local path = save("harmonize.png", { x, y, blended })
  print(("harmonization (injected at scale %d of %d): %s (naive paste, result, result inside the mask)")
    :format(n, P.trained, path))
end

gan.no_grad(function()
  if opt.mode == "sr" or opt.mode == "all" then super_resolution() end
  if opt.mode == "paint" or opt.mode == "all" then paint() end
  if opt.mode == "edit" or opt.mode == "all" then edit() end
  if opt.mode == "harmonize" or opt.mode == "all" then harmonize() end
end)
if next(results) then assert(gan.util.write_file(opt.out .. "/sr.json", gan.util.json(results) .. "\n")) end
return results
