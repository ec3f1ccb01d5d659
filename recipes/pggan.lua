--- PGGAN — progressive growing: G and D start at 4x4 and grow a layer pair at a time, each new resolution faded in.
-- @paper Karras, Aila, Laine, Lehtinen. Progressive Growing of GANs for Improved Quality, Stability, and Variation. 2017. arXiv:1710.10196
-- @year 2017
-- @ja 要点: 漸進的成長 — 4x4の小さなG・Dから学習を始め、解像度を倍にする層をG・Dの両方に順に加える。粗い構造を先に学ぶので安定し、低解像度の段階は計算が軽い。
-- @ja フェードイン — 新しい層はα(0→1)で混ぜて入れる: Gの出力は (1-α)·拡大(toRGB_旧(h_旧)) + α·toRGB_新(h_新)、Dの入力側も同様で、実画像も同じ割合で低解像度版と混ぜる。急に層を足すと学習済みの層が壊れるため。
-- @ja 損失はWGAN-GP(λ=10)にドリフト項 0.001·E[D(x)^2] を足す(Dの出力が0から離れていくのを防ぐ)。n_critic=1、Adam(β=(0, 0.99))、Gの重みの指数移動平均で生成する。
-- @ja 等化学習率 — 重みをN(0,1)で持ち、実行時にHeの定数 √2/√fan_in を掛ける。Adamの更新幅がどの層でも同じ速さになる。
-- @ja ピクセル正規化 — Gの各畳み込みの後、画素ごとに特徴ベクトルをチャネル方向の二乗平均平方根で割る(BatchNormの代わり、学習パラメータなし)。Dとの競争でGの信号の大きさが暴走するのを防ぐ。
-- @ja ミニバッチ標準偏差 — Dの最後のブロックで、バッチ(4枚ずつのグループ)の標準偏差の平均を特徴マップとして1枚加える。生成画像の多様性が乏しいとDが見抜けるので、モード崩壊を抑える。
-- @ja 既定の予算(2コアで45分以内): 公式コードは各段階(安定化・フェードイン)に60万枚を見せるが、ここでは各1万枚、バッチ32。4x4から32x32まで6万枚(1875ステップ)で育ち、残りの約13万枚(4125ステップ)を32x32で学ぶ。低解像度は粗い形を安く速く覚えるが、チャネル数 min(512/r, 128) では解像度ごとの畳み込みの計算量がほぼ同じなので、最終解像度にいちばん長く時間を使う。
-- @ja 学習率は公式の5倍の 5e-3: 32x32固定の1000ステップ(G自身、2000枚で評価)で FD 527 (1e-3)、439 (2e-3)、361 (3e-3)、256 (5e-3)。Gの移動平均は半減期を画像数で決め(1万枚、ただし見せた画像数の5%まで)、段階の短い成長中は短く保つ。
-- @en Key points: progressive growing — G and D start at 4x4 and layers doubling the resolution are added to both in turn; coarse structure is learned first, which is stable, and the low resolutions are cheap.
-- @en Fade-in — a new resolution is blended in by alpha from 0 to 1: G's image is (1 - alpha) upsample(toRGB_old(h_old)) + alpha toRGB_new(h_new), D's input path the mirror, and the real images are blended with their lower-resolution version alike; adding layers at once would shock the trained ones.
-- @en The loss is WGAN-GP (lambda 10) plus the drift term 0.001 E[D(x)^2], which keeps D's output from drifting away from 0; n_critic 1, Adam with betas (0, 0.99); samples come from an exponential moving average of G's weights.
-- @en Equalized learning rate — weights are stored as N(0, 1) and scaled at run time by He's constant sqrt(2) / sqrt(fan_in), so Adam moves every layer's weights at the same speed.
-- @en Pixel norm — after each of G's convs, each pixel's feature vector is divided by its root mean square over the channels (instead of batch norm, no parameters); it keeps G's signal magnitudes from spiralling out of control in the competition with D.
-- @en Minibatch stddev — D's last block appends one feature map: the standard deviation over groups of 4 samples, averaged; D can then tell a batch that lacks variety, which counters mode collapse.
-- @en The default budget (45 minutes on 2 cores): the official code shows 600k images per phase (stabilising, fading in); here 10k each, at batch 32. G and D grow from 4x4 to 32x32 within 60k images (1875 steps) and learn from the remaining ~130k (4125 steps) at 32x32: the low resolutions learn the coarse shapes cheaply and fast, but with min(512 / r, 128) channels every resolution's convs cost about the same, so the final one gets most of the time.
-- @en The learning rate is 5e-3, five times the official one: after 1000 steps at a fixed 32x32, G itself was at FD 527 (1e-3), 439 (2e-3), 361 (3e-3), 256 (5e-3) on 2000 samples. The half-life of G's average is counted in images (10k, at most 5% of the images shown so far), so it stays short while the phases are short.

local gan = require "gan"
local F = gan.F
local pggan = gan.nets.pggan

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of images
  size = 32,              -- the final image size: 32 or 64 (a power of two; growing starts at 4x4)
  channels = 1,           -- channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)
  batch = 32,             -- minibatch size
  nz = 128,               -- dimension of z (official: 512)
  channel_base = 512,     -- channels at resolution r: min(channel_base / r, channel_max) (official: 16384)
  channel_max = 128,      -- (official: 512)
  stabilize_kimg = 10.0,  -- thousands of images shown at each resolution before the next fades in (official: 600)
  fade_kimg = 10.0,       -- thousands of images shown while a new resolution fades in (official: 600)
  lambda = 10.0,          -- weight of the gradient penalty
  drift = 0.001,          -- weight of the drift term E[D(x)^2]
  lr = 5e-3,              -- Adam learning rate of G and D (official: 1e-3)
  beta1 = 0.0,            -- Adam beta1
  beta2 = 0.99,           -- Adam beta2
  ema_kimg = 10.0,        -- half-life of the moving average of G's weights (which draws the samples), in thousands of images
  ema_rampup = 0.05,      -- the half-life is at most ema_rampup times the images shown so far (0: no ramp-up)
  mbstd_group = 4,        -- minibatch stddev group size (0: none)
  iters = 6000,           -- training iterations (one D and one G step each)
  sample_every = 1000,    -- a sample grid every N iterations (and one at the end of each resolution)
  eval_every = 1000,      -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/pggan",     -- run folder
}
gan.nets.style.check_options(opt) -- --size, and --batch against --mbstd_group
if opt.stabilize_kimg < 0 or opt.fade_kimg < 0 then error("--stabilize_kimg and --fade_kimg must be >= 0", 0) end
if opt.ema_kimg < 0 or opt.ema_rampup < 0 then error("--ema_kimg and --ema_rampup must be >= 0", 0) end

local data = gan.data.load(opt.data, opt)
local nets = { channel_base = opt.channel_base, channel_max = opt.channel_max, mbstd_group = opt.mbstd_group }
local G = pggan.Generator(opt.nz, data.x:size(2), opt.size, nets)
local D = pggan.Discriminator(data.x:size(2), opt.size, nets)
local adam = { lr = opt.lr, betas = { opt.beta1, opt.beta2 }, eps = 1e-8 }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)
local ema = gan.optim.EMA(G, { kimg = opt.ema_kimg, batch = opt.batch,
  rampup = opt.ema_rampup > 0 and opt.ema_rampup or nil })
local growth = pggan.Growth { resolution = opt.size, stabilize = math.floor(opt.stabilize_kimg * 1000 + 0.5),
  fade = math.floor(opt.fade_kimg * 1000 + 0.5) }
local function noise(n) return gan.randn(n, opt.nz) end

-- the schedule in steps, printed at the start
local function schedule()
  local function step(n) return (n + opt.batch - 1) // opt.batch + 1 end -- the first step after n images
  local parts, res, n = { ("4x4 for steps 1-%d"):format(step(growth.stabilize) - 1) }, 4, growth.stabilize
  while res < opt.size do
    res = res * 2
    parts[#parts + 1] = ("%dx%d fades in over steps %d-%d, alone from step %d"):format(res, res, step(n),
      step(n + growth.fade) - 1, step(n + growth.fade))
    n = n + growth.fade + growth.stabilize
  end
  local note = step(growth:grown()) > opt.iters and (" (--iters=%d stops before that)"):format(opt.iters) or ""
  return ("growing (batch %d): %s%s"):format(opt.batch, table.concat(parts, "; "), note)
end
print(schedule())

-- a labelled grid at the end of each resolution's phase and at the last step
local ended -- the phase the last step ended, if it did
local function label(step)
  local res
  if ended and ended.stabilized then res = ended.res elseif step == opt.iters then res = growth:current() end
  return res and ("%dx%d"):format(res, res)
end

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, ema = ema, growth = growth, data = data }, function(x)
  local res, alpha = growth:current()
  local function critic(img) return D(img, res, alpha) end
  local real = pggan.reals(x, res, alpha)                 -- the real images at the fractional resolution
  local fake = G(noise(real:size(1)), res, alpha):detach()
  local d_real = critic(real)
  local w = F.wasserstein_d(d_real, critic(fake))          -- E D(G(z)) - E D(x) = -W
  local gp, norm = gan.penalties.gradient_penalty(critic, real, fake, { lambda = opt.lambda })
  local drift = d_real:square():mean() * opt.drift
  local lossD = w + gp + drift
  optD:step(lossD)
  local lossG = F.wasserstein_g(critic(G(noise(real:size(1)), res, alpha)))
  optG:step(lossG)
  ema:update()
  ended = growth:advance(real:size(1))
  if ended then optG:reset(); optD:reset() end            -- as the official code: fresh Adam state per phase
  return { D = lossD, G = lossG, W = -w, GP = gp, grad_norm = norm, drift = drift, alpha = alpha,
    resolution = res }
end, {
  -- the moving average of G at the current resolution, upsampled to the final size
  sample = function(n)
    local res, alpha = growth:current()
    local img = ema:module()(noise(n), res, alpha)
    return res < opt.size and img:upsample({ size = { opt.size, opt.size } }) or img
  end,
  sample_label = label,
})
