--- StyleGAN — a mapping network to W, styles through AdaIN at every layer, noise inputs, a learned constant; style mixing and truncation in W.
-- @paper Karras, Laine, Aila. A Style-Based Generator Architecture for Generative Adversarial Networks. 2018. arXiv:1812.04948
-- @year 2018
-- @ja 要点: マッピングネットワーク(全結合8層、学習率0.01倍)が z を中間潜在空間 W の w に写す。合成ネットワークは z を入力に取らず、学習される 4x4 の定数から始まる。各畳み込みの後に AdaIN: 特徴マップをチャネルごとに平均0・分散1に正規化(instance norm)し、w のアフィン変換が与えるスタイル(スケール 1+y_s とバイアス y_b)を掛けて足す。統計が毎層で上書きされるので、各層の w はその解像度の特徴だけを制御する。
-- @ja ノイズ入力: 各層の特徴マップに画素ごとのガウスノイズを、チャネルごとに学習される強さ(初期値0)で足す。髪の毛の配置のような確率的な細部をノイズが担い、全体の構図は w が決める。
-- @ja スタイル混合正則化: 学習中 90% の確率で、2つの z の w を、ランダムな層(1 から層数-1 の一様)で切り替えて使う。隣り合う層のスタイルが相関すると G が仮定できなくなり、粗い層(4x4–8x8: 形やクラス)、中間(16x16)、細かい層(32x32: 質感)が分かれる。
-- @ja 切り捨てトリック: w' = w_avg + ψ (w - w_avg) を W で行う(粗い層だけにも)。D は PGGAN と同じ(ぼかしフィルタ付き、ミニバッチ標準偏差)、損失は非飽和ロジスティックと R1(実データ上の勾配ノルムの二乗)、Adam(β=(0, 0.99))、G の重みの指数移動平均で評価。
-- @en Key points: a mapping network (8 fully connected layers at 0.01 the learning rate) sends z to w in an intermediate latent space W. The synthesis network takes no z: it starts from a learned 4x4 constant. After every convolution AdaIN normalises each feature map to mean 0 and variance 1 (instance norm) and applies the style an affine map of w gives (scale 1 + y_s, bias y_b). The statistics are overwritten at every layer, so each layer's w controls that resolution's features only.
-- @en Noise inputs: per-pixel Gaussian noise is added to every layer's feature maps, scaled by a learned per-channel strength that starts at 0. Noise takes the stochastic detail (where the hairs fall); w the overall composition.
-- @en Style mixing regularisation: 90% of the time in training, the ws of two z are switched at a random layer (uniform from 1 to the number of layers - 1). G can no longer assume that neighbouring layers' styles correlate, so the coarse layers (4x4-8x8: shape, class), the middle (16x16) and the fine ones (32x32: texture) separate.
-- @en The truncation trick, w' = w_avg + psi (w - w_avg), works in W (and on the coarse layers alone if wished). D is PGGAN's (with a blur filter and minibatch standard deviation); the losses are the non-saturating logistic loss and R1 (the squared gradient norm on real data); Adam with betas (0, 0.99); an exponential moving average of G's weights is the G measured.

local gan = require "gan"
local F, P = gan.F, gan.penalties

-- The defaults are a small run for Fashion-MNIST at 32x32 on two loaded CPU cores (see the README's
-- stylegan row and its section on R1's weight). Growing is left out: the whole budget goes to the
-- final resolution (growing through 4x4-16x16 first would spend much of 20 minutes below it), and
-- StyleGAN's successor drops it (StyleGAN2 from config E on).
-- The paper's FFHQ configuration, on a folder:
--   ganlua stylegan --data=DIR --channels=3 --size=1024 --nz=512 --w_dim=512 --mapping=8
--     --channel_base=16384 --channel_max=512 --batch=32 --lr=0.001 --gamma=10 --ema_kimg=10
local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of images
  size = 32,              -- image size: a power of two from 8
  channels = 1,           -- channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)
  batch = 32,             -- minibatch size (the paper: 64 at 32x32 over 8 GPUs)
  nz = 128,               -- size of z (the paper: 512)
  w_dim = 128,            -- size of w (the paper: 512)
  mapping = 8,            -- layers of the mapping network (the paper's 8: at w 128 they cost no measurable time)
  channel_base = 512,     -- feature maps at resolution r: min(channel_base / r, channel_max) (the paper: 16384)
  channel_max = 128,      -- (the paper: 512); the defaults give 128, 64, 32, 16 at 4, 8, 16, 32
  lr = 0.0025,            -- Adam learning rate of G and D, betas 0 and 0.99 (the paper's 0.001 below 128x128
                          -- measured slower here: FD 501 against 410 at step 1000, 289 against 192 at 4000)
  gamma = 10.0,           -- R1 weight: the paper's FFHQ 10 (scaled to 32x32, 0.01, G collapsed: the README's R1 section)
  r1_every = 1,           -- R1 every N D steps (1: the paper, in the D loss; more: lazy, StyleGAN2's)
  mixing = 0.9,           -- probability of style mixing in training (0: none)
  ema_kimg = 10.0,        -- half-life of G's average, in thousands of images (the paper's G_smoothing_kimg)
  ema_rampup = 0.0,       -- the half-life is at most ema_rampup times the images seen (0: none, as the paper)
  mbstd_group = 4,        -- group size of D's minibatch standard deviation (0: none)
  iters = 4000,           -- training iterations (each a G step and a D step)
  eval_every = 1000,      -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/stylegan",  -- run folder
}
for _, k in ipairs({ "r1_every", "mapping", "nz", "w_dim" }) do
  if opt[k] < 1 then error(("--%s must be >= 1"):format(k), 0) end
end
for _, k in ipairs({ "gamma", "ema_kimg", "ema_rampup", "mbstd_group", "lr" }) do
  if opt[k] < 0 then error(("--%s must be >= 0"):format(k), 0) end
end
if opt.mixing < 0 or opt.mixing > 1 then error("--mixing must be between 0 and 1", 0) end
gan.nets.style.check_options(opt) -- --size, and --batch against --mbstd_group

local data = gan.data.load(opt.data, opt)
local C = data.x:size(2)
local nets = { channel_base = opt.channel_base, channel_max = opt.channel_max, mapping_layers = opt.mapping,
  mbstd_group = opt.mbstd_group }
-- G: z -> mapping (PixelNorm, 8 equalized lrelu layers at 0.01 the rate) -> w, one copy per layer ->
-- synthesis from a 4x4 constant; per resolution two 3x3 convolutions (the first upsampling, then a
-- blur), each followed by noise, bias, lrelu and AdaIN with its own w; a 1x1 ToRGB at the end
local G = gan.nets.stylegan.Generator(opt.nz, opt.w_dim, opt.size, C, nets)
-- D: PGGAN's at the fixed resolution: fromRGB, per resolution conv, blur, conv and 2x2 pool, then at
-- 4x4 minibatch standard deviation, a convolution and two dense layers
local D = gan.nets.stylegan.Discriminator(C, opt.size, nets)
local lazy = opt.gamma > 0 and opt.r1_every > 1
local optG = gan.optim.Adam(G, { lr = opt.lr, betas = { 0, 0.99 } })
local optD = gan.optim.Adam(D, { lr = opt.lr, betas = { 0, 0.99 }, reg_interval = lazy and opt.r1_every or 0 })
-- G's average, the G that is sampled and measured
local ema = gan.optim.EMA(G, { kimg = opt.ema_kimg, batch = opt.batch,
  rampup = opt.ema_rampup > 0 and opt.ema_rampup or nil })
ema:module():eval()

-- G in training: z -> ws, mixed with a second z's from a random layer on, -> images
local function generate(n)
  local z = gan.randn(n, opt.nz)
  local ws = G.mapping(z)
  if opt.mixing > 0 then ws = G.mapping:mix(ws, z, { prob = opt.mixing }) end
  return G.synthesis(ws)
end

local function step(real, s)
  -- G: the non-saturating logistic loss, softplus(-D(G(z)))
  local lossG = F.bce_logits(D(generate(opt.batch)), 1)
  optG:step(lossG)
  -- D: the logistic loss on fresh samples, with R1 on the real images (gamma / 2 E |grad D(x)|^2):
  -- in the same loss every step as the paper, or on its own every r1_every steps (lazy)
  local fake = gan.no_grad(function() return generate(opt.batch) end)
  local d_real, d_fake = D(real), D(fake)
  local lossD = F.bce_logits(d_real, 1) + F.bce_logits(d_fake, 0)
  local r1
  if opt.gamma > 0 and not lazy then
    r1 = P.r1(D, real, { gamma = opt.gamma })
    optD:step(lossD + r1)
  else
    optD:step(lossD)
    if lazy then
      r1 = P.lazy(s - 1, opt.r1_every, P.r1, D, real, { gamma = opt.gamma })
      if r1 then optD:step(r1) end
    end
  end
  ema:update()
  return { D = lossD, G = lossG, ["D(x)"] = d_real:sigmoid():mean(), ["D(G(z))"] = d_fake:sigmoid():mean(), R1 = r1 }
end

-- samples and evaluations: the average G, no truncation, random noise
local function sample(n) return ema:module()(gan.randn(n, opt.nz)) end

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, ema = ema, data = data }, step, { sample = sample })
