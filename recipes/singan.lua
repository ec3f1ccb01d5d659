--- SinGAN — a GAN of one natural image: a pyramid of fully convolutional patch GANs, coarse to fine, each learning the patches of its scale.
-- @paper Shaham, Dekel, Michaeli. SinGAN: Learning a Generative Model from a Single Natural Image. 2019. arXiv:1905.01164
-- @year 2019
-- @ja 要点: 1枚の画像だけで学ぶ。画像を係数0.75で縮めたピラミッド(短辺25画素から長辺250画素まで)の各スケールに、全畳み込みのGとパッチ判別器Dの組を置く。
-- @ja 各スケールのGは下のスケールの出力を拡大した画像 prev にノイズを足して細部を加える: G(z + prev) = tanh(net(z + prev)) + prev。netは3x3畳み込み・BatchNorm・LeakyReLU(0.2)を5層、パディングは入力だけ(ゼロ5画素)。受容野11x11のDはそのスケールのパッチの分布だけを見るので、全体の配置は粗いスケールが、質感は細かいスケールが決める。
-- @ja 損失はWGAN-GP(λ=0.1、勾配ノルムは画素ごと)と再構成損失 α=10: 最も粗いスケールの固定ノイズ z_opt(上のスケールはノイズ0)で元画像をそのまま再現させる。ノイズの振幅は下からの再構成のRMSEの0.1倍(再現が粗いスケールほど新しい細部を足す)。
-- @ja 粗いスケールから1つずつ学び、学んだスケールは凍結する。各反復はD 3回・G 3回、Adam(5e-4, β1=0.5)、80%で学習率を0.1倍。全畳み込みなので任意の大きさ・縦横比で生成でき、途中のスケールに画像を注入すると超解像・絵から画像・編集・調和の応用になる(lab/singan_apps)。
-- @en Key points: one image is the whole training set. A pyramid of it, shrunk by 0.75 per scale (short side 25 to long side 250 pixels), gets a fully convolutional G and patch critic D per scale.
-- @en Each G adds detail to the upsampled output of the scale below, prev, plus noise: G(z + prev) = tanh(net(z + prev)) + prev, net being 5 layers of 3x3 conv, batch norm and LeakyReLU(0.2) with the input alone zero-padded (5 pixels). D's 11x11 receptive field sees only the patches of its scale: coarse scales place things, fine ones texture them.
-- @en Losses: WGAN-GP (lambda 0.1, the gradient norm taken per pixel) and a reconstruction loss (alpha 10): the fixed noise z_opt at the coarsest scale (no noise above it) must give the image back. Each scale's noise amplitude is 0.1 times the RMSE of the reconstruction from below.
-- @en Scales are trained one at a time, coarse to fine, and frozen when done; 3 D and 3 G steps per iteration, Adam 5e-4 (beta1 0.5), the rate times 0.1 at 80%. Being fully convolutional, it samples any size and aspect ratio, and injecting an image at a middle scale gives super-resolution, paint-to-image, editing and harmonization (lab/singan_apps).

local gan = require "gan"
local F = gan.F
local S = gan.nets.singan

-- Budget (2 cores, 45 minutes at --threads=1): the paper's 2000 iterations per scale at 250 pixels take
-- hours on one core; the default is 128 pixels on the long side and 250 iterations per scale (README, SinGAN).
-- 予算: 論文の各スケール2000反復・250画素は1コアで数時間かかるため、既定は長辺128画素・各スケール250反復。
-- one photograph, no data set and none of gan.nets' networks: --help lists only the training loop's options
local opt = gan.options({
  image = "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg", -- the training photograph (PNG or JPEG)
  max_size = 128,         -- long side of the finest scale, in pixels (the paper: 250)
  min_size = 25,          -- short side of the coarsest scale, in pixels
  scale_factor = 0.75,    -- shrink factor between scales (adjusted so the coarsest is min_size exactly)
  nfc = 32,               -- feature maps of the first scales (doubling every 4 scales, at most 128)
  niter = 250,            -- iterations per scale (the paper: 2000)
  iters = 0,              -- stop after this many iterations of the schedule (0: every scale, scales times niter)
  d_steps = 3,            -- critic steps per iteration
  g_steps = 3,            -- generator steps per iteration
  lr = 5e-4,              -- Adam learning rate of G and D
  beta1 = 0.5,            -- Adam beta1
  lr_drop = 0.8,          -- the rate is multiplied by 0.1 after this share of a scale's iterations
  lambda = 0.1,           -- weight of the gradient penalty
  alpha = 10.0,           -- weight of the reconstruction loss
  noise_amp = 0.1,        -- noise amplitude of a scale, times the RMSE of the reconstruction from below
  gen_start_scale = 1,    -- random samples: scales below this one reconstruct, random noise from it on
  sample_size = "",       -- size of the extra samples, WxH (default: twice as wide as the training image)
  samples = 12,           -- random samples written at each size
  eval_samples = 50,      -- samples behind the diversity and copy measures (metrics.json)
  sample_every = 0,       -- sample grids every N iterations (a grid ends each scale anyway)
  save_every = 100,       -- a checkpoint every N iterations
  out = "runs/singan",    -- run folder
}, { uses = {} })
for _, k in ipairs { "niter", "d_steps", "g_steps", "samples", "nfc" } do
  if opt[k] < 1 then error(("--%s must be >= 1, got %d"):format(k, opt[k]), 0) end
end
if opt.eval_samples < 2 then error("--eval_samples must be >= 2 (a standard deviation needs two)", 0) end
if opt.lambda < 0 or opt.alpha < 0 or opt.noise_amp < 0 then error("--lambda, --alpha and --noise_amp must be >= 0", 0) end
if opt.lr_drop < 0 or opt.lr_drop > 1 then error("--lr_drop must be between 0 and 1", 0) end

local image, err = gan.image.load(opt.image, 3)
if not image then error(("--image: cannot read %s: %s"):format(opt.image, err), 0) end
local ok, P = pcall(S.Pyramid, image, opt)
if not ok then error(("--image %s: %s"):format(opt.image, (tostring(P):gsub("^.-gan%.nets%.singan[.%w]*: ", ""))), 0) end
local N = P:scales()
if opt.iters < 0 or opt.iters > N * opt.niter then
  error(("--iters must be from 0 to %d (%d scales times --niter=%d), got %d"):format(N * opt.niter, N, opt.niter,
    opt.iters), 0)
end
if opt.iters == 0 then opt.iters = N * opt.niter end
local fin = P.sizes[N]

-- the extra samples' size, and their scale against the training size
local sw, sh = fin[2] * 2, fin[1]
if opt.sample_size ~= "" then
  sw, sh = opt.sample_size:match("^(%d+)x(%d+)$")
  sw, sh = tonumber(sw), tonumber(sh)
  if not sw or sw < 8 or sh < 8 or sw > 8 * fin[2] or sh > 8 * fin[1] then
    error(("--sample_size must be WxH, each from 8 to 8 times the training size (%dx%d), got '%s'")
      :format(fin[2], fin[1], opt.sample_size), 0)
  end
end
if opt.gen_start_scale < 1 or opt.gen_start_scale > N then
  error(("--gen_start_scale must be from 1 to %d (the scales), got %d"):format(N, opt.gen_start_scale), 0)
end
local parts = {}
for n, s in ipairs(P.sizes) do parts[n] = ("%dx%d"):format(s[2], s[1]) end
print(("pyramid of %s: %d scales (factor %.4f), %s; %d iterations each"):format(opt.image, N, P.factor,
  table.concat(parts, " "), opt.niter))

local state = P:state {}
local rec_below = {} -- scale n -> the reconstruction of the scales below, at n's size (frozen: the same each time)
local function below(n, random)
  local s = P.sizes[n]
  if n == 1 then return gan.zeros(1, P.channels, s[1], s[2]) end
  local x = random and P:generate { last = n - 1 } or P:reconstruct(n - 1)
  return gan.no_grad(function() return gan.image.resize(x, s[1], s[2]) end)
end
local current = 1 -- the scale being trained (or the last one, at the end)

-- the first step of scale n: start from the scale below when the widths agree, set its noise amplitude
local function begin_scale(n)
  if n == 1 then return end
  if S.channels(n, opt.nfc) == S.channels(n - 1, opt.nfc) then
    P.G[n]:load_state_dict(P.G[n - 1]:state_dict())
    P.D[n]:load_state_dict(P.D[n - 1]:state_dict())
  end
  rec_below[n] = rec_below[n] or below(n, false)
  P.amp[n] = opt.noise_amp * gan.no_grad(function() return F.mse(rec_below[n], P.reals[n]):sqrt():item() end)
  P:state(state)
end

local function sample_at(scale, n, first_random)
  local list = {}
  for i = 1, n do list[i] = P:generate { last = current, fixed = first_random, scale = scale } end
  return gan.cat(list, 1)
end

-- the measures of a trained pyramid (metrics.json): reconstruction, diversity, distance to the image
local function measure(_, m)
  local r, real = {}, P.reals[current] -- the image at the scale reached (the finest once trained)
  for n = 1, current do
    r[("rec_rmse_scale%d"):format(n)] = F.mse(P:reconstruct(n), P.reals[n]):sqrt():item()
  end
  local rec = P:reconstruct(current)
  local img_std = ((real - real:mean()):square():mean():sqrt():item())
  for k = 1, current do
    local x = sample_at(nil, m, k)                                        -- (M, C, H, W)
    local mean = x:mean(1, true)
    local std = ((x - mean):square():sum(1) / (m - 1)):sqrt():mean():item()
    r[("diversity_scale%d"):format(k)] = std / 2                          -- intensities in [0, 1]
    r[("diversity_norm_scale%d"):format(k)] = std / img_std               -- the paper's: over the image's std
    if k == 1 then
      r.l1_samples = (x - real):abs():mean():item() / 2
      r.l1_reconstruction = (rec - real):abs():mean():item() / 2
    end
  end
  return r
end

local observer = {
  start = function()
    P:restore(state)
    current = math.max(1, math.min(P.trained + 1, N))
  end,
}

local function label(step)
  if step % opt.niter == 0 then
    local s = P.sizes[step // opt.niter]
    return ("scale%d-%dx%d"):format(step // opt.niter, s[2], s[1])
  end
end

local run = gan.train(opt, state, function(_, step)
  local n, t = (step - 1) // opt.niter + 1, (step - 1) % opt.niter + 1
  current = n
  if t == 1 then begin_scale(n) end
  local G, D, optG, optD, real = P.G[n], P.D[n], P.optG[n], P.optD[n], P.reals[n]
  local lr = opt.lr * (t > math.floor(opt.lr_drop * opt.niter) and 0.1 or 1)
  optG.lr, optD.lr = lr, lr
  local s = P.sizes[n]
  local z = P:noise(n, s[1], s[2])
  local prev, lossD, w, gp, norm
  for _ = 1, opt.d_steps do
    prev = below(n, true)                                   -- a new random image from the frozen scales
    local fake = P:step(n, z, prev):detach()
    w = F.wasserstein_d(D(real), D(fake))                    -- E D(fake) - E D(real) = -W
    gp, norm = gan.penalties.gradient_penalty(D, real, fake, { lambda = opt.lambda, per_pixel = true })
    lossD = w + gp
    optD:step(lossD)
  end
  rec_below[n] = rec_below[n] or below(n, false)
  local z_rec = n == 1 and P.z_opt or gan.zeros(1, P.channels, s[1], s[2])
  local adv, rec
  for _ = 1, opt.g_steps do
    adv = -D(P:step(n, z, prev)):mean()
    rec = F.mse(P:step(n, z_rec, rec_below[n]), real)
    optG:step(adv + rec * opt.alpha)
  end
  if t == opt.niter then P:freeze(n); P:state(state) end
  return { D = lossD, G = adv, rec = rec, W = -w, GP = gp, grad_norm = norm, scale = n, amp = P.amp[n] }
end, {
  sample = function(k) return sample_at(nil, k, 1) end,
  sample_count = 16,
  sample_label = label,
  eval = measure,
  observers = { observer },
})

-- random samples at the training size and at another one
if run.steps > 0 then
  gan.no_grad(function()
    local a = sample_at(nil, opt.samples, opt.gen_start_scale)
    local b = sample_at({ sh / fin[1], sw / fin[2] }, opt.samples, opt.gen_start_scale)
    assert(gan.image.save_grid(run.out .. "/random_samples.png", gan.cat({ P.reals[current], a }, 1), { nrow = 4 }))
    local name = ("/random_samples_%dx%d.png"):format(b:size(4), b:size(3))
    assert(gan.image.save_grid(run.out .. name, b, { nrow = sw > 2 * sh and 1 or 2 }))
    print(("random samples (from scale %d): %s/random_samples.png (the image first), %s%s")
      :format(opt.gen_start_scale, run.out, run.out, name))
  end)
end
return run
