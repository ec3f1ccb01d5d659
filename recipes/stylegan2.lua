--- StyleGAN2 — a mapping network to W, modulated convolutions, skip G and residual D, lazy R1 and path length regularization.
-- @paper Karras, Laine, Aittala, Hellsten, Lehtinen, Aila. Analyzing and Improving the Image Quality of StyleGAN. 2019. arXiv:1912.04958
-- @year 2019
-- @ja 要点: マッピングネットワーク(全結合8層)が z を中間潜在空間 W の w に写し、w は層ごとのアフィン変換でスタイルとなって合成ネットワークの各畳み込みを制御する。W は z より「もつれ」が少ない。合成は学習される 4x4 定数から始まり、各層にノイズを加える。
-- @ja StyleGAN の AdaIN は特徴マップごとの平均と分散を正規化するため、G が強い局所的なスパイクで信号の大きさを伝えようとし「水滴状のアーティファクト」が生じた。StyleGAN2 は重みをスタイルで変調(modulation)し、出力チャネルを重みのノルムで割る(demodulation):実際の統計ではなく期待される統計で正規化するので水滴が消える。
-- @ja 段階的成長(progressive growing)は特徴が位置に張り付く問題を生んだため、各解像度の RGB 出力を足し合わせる skip 構造の G と残差構造の D に置き換え、最初から最終解像度で学習する。
-- @ja 遅延正則化: R1(実データ上の勾配ノルムの二乗)は D の 16 ステップに 1 回、パス長正則化は G の 4 ステップに 1 回だけ計算し、間隔倍して Adam の学習率と β を補正する。パス長正則化は W での一定の小さな移動が画像を一定量だけ変えるようにし(ヤコビアンを直交に近づける)、G が滑らかになり PPL が下がる。損失は非飽和ロジスティック、スタイル混合 0.9、G の重みの指数移動平均(EMA)で評価する。
-- @en Key points: a mapping network (8 fully connected layers) sends z to w in an intermediate latent space W; per-layer affine maps turn w into styles that control every convolution of the synthesis network, which starts from a learned 4x4 constant and adds noise at each layer. W is less entangled than Z.
-- @en StyleGAN's AdaIN normalises the mean and variance of each feature map, so G learned to pass signal strength through a strong local spike: the "droplet" artefacts. StyleGAN2 scales the weights by the style (modulation) and divides each output channel by the norm of its scaled weights (demodulation), normalising by expected rather than actual statistics: no droplets.
-- @en Progressive growing made features stick to positions; a skip generator (the RGB outputs of every resolution summed) and a residual discriminator replace it, trained at the final resolution from the start.
-- @en Lazy regularization: R1 (the squared gradient norm on real data) every 16 D steps and path length regularization every 4 G steps, times the interval, with Adam's rate and betas corrected. Path length regularization asks a fixed small step in W to change the image by a fixed amount (a Jacobian close to orthogonal): a smoother G and a lower PPL. Non-saturating logistic loss, style mixing 0.9, and an exponential moving average of G's weights (EMA) for evaluation.

local gan = require "gan"
local F, P = gan.F, gan.penalties

-- The defaults are a small run for Fashion-MNIST at 32x32 on two CPU cores, chosen by short runs
-- measured by FD (README, "StyleGAN2 on two cores"): batch 16, not NVlabs' 32, because at this budget
-- FD falls about as fast per step and a step costs half; R1 weight gamma 1, not NVlabs' 'auto'
-- 0.0002 size^2 / batch (FD at step 1000: gamma 0.0064 542 and gamma 1 462 at batch 32; gamma 0.1
-- 559, 1 475 and 4 514 at batch 16); 128 to 32 feature maps (64 at 32x32 cost 3.5 times as much a
-- step); 2 mapping layers; 7000 steps: 37 minutes on one thread of the shared 2-core machine, FD 98.
-- 既定値は 2 コアの CPU で Fashion-MNIST 32x32 を学習する小さな構成(短い試行の FD で選んだ):
-- バッチ 16(同じステップ数で FD はほぼ同じ、1 ステップの時間は半分)、R1 の重み gamma=1
-- (NVlabs の auto 規則 0.0002・解像度²/バッチより速く FD が下がった)、特徴マップ 128〜32、
-- マッピング 2 層、7000 ステップ(1 スレッドで約 37 分、FD 98)。
-- The paper's configuration F on a folder of images (every option below is read by this file):
--   ganlua stylegan2 --data=DIR --channels=3 --size=256 --nz=512 --w_dim=512 --mapping=8 --channel_base=32768
--     --channel_max=512 --batch=32 --lr=0.002 --gamma=10 --ema_kimg=10 --ema_rampup=0
-- (at 64x64: --size=64, the same widths, 512 maps at every resolution; 2 steps of batch 8 take
-- minutes on this CPU, so that is a job for many cores or many machines under mpirun).
-- 論文の構成 F は画像フォルダに対して上のオプションで再現できる(64x64 でも各解像度 512 マップ)。
local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of images
  size = 32,              -- image size: a power of two from 8
  channels = 1,           -- channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)
  batch = 16,             -- minibatch size (NVlabs' 'auto' at 32x32 on one GPU: 32; the paper: 32)
  nz = 128,               -- size of z (the paper: 512)
  w_dim = 128,            -- size of w (the paper: 512)
  mapping = 2,            -- layers of the mapping network (the paper: 8; NVlabs' 'auto': 2)
  channel_base = 1024,    -- feature maps at resolution r: min(channel_base / r, channel_max) (the paper: 32768)
  channel_max = 128,      -- (the paper: 512); the defaults give 128, 128, 64, 32 at 4, 8, 16, 32
  lr = 0.0025,            -- Adam learning rate of G and D (NVlabs' 'auto'; betas 0 and 0.99)
  gamma = 1.0,            -- R1 weight (NVlabs' 'auto': 0.0002 size^2 / batch; the paper: 10 at 1024x1024)
  r1_every = 16,          -- R1 every N D steps (lazy regularization)
  pl_weight = 2.0,        -- path length regularization weight (0: none)
  pl_every = 4,           -- path length regularization every N G steps
  pl_batch_shrink = 2,    -- its batch: batch / pl_batch_shrink
  mixing = 0.9,           -- probability of style mixing in training (0: none)
  ema_kimg = 5.0,         -- half-life of G's average, in thousands of images (NVlabs' 'auto': batch * 10 / 32)
  ema_rampup = 0.05,      -- the half-life is at most ema_rampup times the images seen (0: no ramp-up)
  mbstd_group = 4,        -- group size of D's minibatch standard deviation (0: none)
  augment = "none",       -- augment every image D sees: none, fixed (probability --p), ada (p adapted: StyleGAN2-ADA), or reals (only the real ones: the augmentations leak)
  augpipe = "bgc",        -- the transformations (gan.augment.pipeline: b blit, g geometry, c colour, f filter, n noise, o cutout)
  p = 0.0,                -- augmentation probability: the fixed one, or ada's start
  ada_target = 0.6,       -- ada: the target of r_t = E[sign(D(real))]
  ada_interval = 4,       -- ada: steps between adjustments of p
  ada_kimg = 500.0,       -- ada: thousands of real images for p to move by 1 (NVlabs: 500)
  iters = 7000,           -- training iterations (each a G step and a D step)
  eval_every = 500,       -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/stylegan2", -- run folder
}
for _, k in ipairs({ "r1_every", "pl_every", "pl_batch_shrink", "mapping", "nz", "w_dim" }) do
  if opt[k] < 1 then error(("--%s must be >= 1"):format(k), 0) end
end
for _, k in ipairs({ "gamma", "pl_weight", "ema_kimg", "ema_rampup", "mbstd_group", "lr" }) do
  if opt[k] < 0 then error(("--%s must be >= 0"):format(k), 0) end
end
if opt.mixing < 0 or opt.mixing > 1 then error("--mixing must be between 0 and 1", 0) end
if not ({ none = true, fixed = true, ada = true, reals = true })[opt.augment] then
  error(("--augment must be none, fixed, ada or reals, got '%s'"):format(opt.augment), 0)
end
if opt.p < 0 or opt.p > 1 then error("--p must be between 0 and 1", 0) end
if opt.ada_interval < 1 or opt.ada_kimg <= 0 then error("--ada_interval must be >= 1 and --ada_kimg > 0", 0) end
gan.nets.style.check_options(opt) -- --size, and --batch against --mbstd_group

local data = gan.data.load(opt.data, opt)
local C = data.x:size(2)
local nets = { channel_base = opt.channel_base, channel_max = opt.channel_max, mapping_layers = opt.mapping,
  mbstd_group = opt.mbstd_group }
-- G: z -> mapping (PixelNorm, equalized lrelu layers at 0.01 the rate) -> w, one copy per layer ->
-- synthesis from a 4x4 constant, each block doubling the size with modulated 3x3 convolutions,
-- noise and a ToRGB whose image is added to the previous block's, upsampled (the skip generator)
local G = gan.nets.style.Generator(opt.nz, opt.w_dim, opt.size, C, nets)
-- D: residual blocks (two 3x3 convolutions and a 1x1 skip, halving the size with a FIR filter)
-- down to 4x4, then minibatch standard deviation, a convolution and two dense layers
local D = gan.nets.style.Discriminator(opt.size, C, nets)
-- with lazy regularization every k steps, rate and betas scaled by k / (k + 1) (gan.optim.lazy_rates)
local g_every = opt.pl_weight > 0 and opt.pl_every or 0
local d_every = opt.gamma > 0 and opt.r1_every or 0
local optG = gan.optim.Adam(G, { lr = opt.lr, betas = { 0, 0.99 }, reg_interval = g_every })
local optD = gan.optim.Adam(D, { lr = opt.lr, betas = { 0, 0.99 }, reg_interval = d_every })
-- G's average, the G that is sampled and measured (in evaluation mode: the fused convolution)
local ema = gan.optim.EMA(G, { kimg = opt.ema_kimg, batch = opt.batch,
  rampup = opt.ema_rampup > 0 and opt.ema_rampup or nil })
ema:module():eval()
local pl = P.PathLength({ weight = opt.pl_weight, batch_shrink = opt.pl_batch_shrink })
-- ADA: every image D sees, real or fake, in D's and G's steps and in R1, goes through the same
-- random augmentation with probability p; with --augment=ada, p follows r_t (gan.augment.adaptive)
local aug, ada
if opt.augment ~= "none" then
  local ok, made = pcall(gan.augment.pipeline, { groups = opt.augpipe, p = opt.p })
  if not ok then error("--augpipe: " .. tostring(made), 0) end
  aug = made
end
if opt.augment == "ada" then
  ada = gan.augment.adaptive({ pipeline = aug, batch = opt.batch, target = opt.ada_target,
    interval = opt.ada_interval, kimg = opt.ada_kimg })
end
-- (--augment=reals augments the real images only: the lesson of what not to do)
local function DA(x, real)
  if aug and (real or opt.augment ~= "reals") then x = aug(x) end
  return D(x)
end
local function DA_real(x) return DA(x, true) end

-- G in training: z -> ws, mixed with a second z's from a random layer on, -> images
local function generate(n)
  local z = gan.randn(n, opt.nz)
  local ws = G.mapping(z)
  if opt.mixing > 0 then ws = G.mapping:mix(ws, z, { prob = opt.mixing }) end
  return G.synthesis(ws), ws
end

-- One iteration, in NVlabs' order of phases: G, G's regularizer, D, D's regularizer. A
-- regularizer runs when the number of steps before this one is a multiple of its interval
-- (steps 1, 1 + k, 1 + 2k, ...), as NVlabs' phases; log.csv leaves its columns empty elsewhere.
local function step(real, s)
  -- G: the non-saturating loss; every pl_every steps the path length penalty, times pl_every
  local lossG = F.bce_logits(DA((generate(opt.batch))), 1)
  optG:step(lossG)
  local reg_pl, pl_len
  if g_every > 0 then
    reg_pl, pl_len = P.lazy(s - 1, g_every, function() return pl:penalty(generate(pl:batch(opt.batch))) end)
    if reg_pl then optG:step(reg_pl) end
  end
  -- D: the logistic loss on fresh samples; every r1_every steps R1 on real data, times r1_every
  local fake = gan.no_grad(function() return (generate(opt.batch)) end)
  local d_real, d_fake = DA_real(real), DA(fake)
  if ada then ada:observe(d_real) end
  local lossD = F.bce_logits(d_real, 1) + F.bce_logits(d_fake, 0)
  optD:step(lossD)
  local reg_r1 = d_every > 0 and P.lazy(s - 1, d_every, P.r1, DA_real, real, { gamma = opt.gamma }) or nil
  if reg_r1 then optD:step(reg_r1) end
  ema:update()
  return { D = lossD, G = lossG, ["D(x)"] = d_real:sigmoid():mean(), ["D(G(z))"] = d_fake:sigmoid():mean(),
    R1 = reg_r1, PL = reg_pl, pl_length = pl_len, pl_mean = g_every > 0 and pl.pl_mean or nil,
    p = aug and aug.p, r_t = ada and (ada:step()) }
end

-- samples and evaluations: the average G, random noise as in the paper's FID
local function sample(n) return ema:module()(gan.randn(n, opt.nz)) end

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, ema = ema, pl = pl, data = data, aug = aug, ada = ada }, step,
  { sample = sample })
