--- BigGAN — class-conditional ResNet GAN: conditional BN with a shared embedding, hierarchical z, projection D, self-attention, spectral norm, G's EMA and the truncation trick.
-- @paper Brock, Donahue, Simonyan. Large Scale GAN Training for High Fidelity Natural Image Synthesis. 2018. arXiv:1809.11096
-- @year 2018
-- @ja 要点: G のバッチ正規化はクラス条件付き(条件付き BN): アフィンなしの BN のあと (1 + gain(c)) 倍して bias(c) を足す。c は全ブロック共有のクラス埋め込みと z の一部を連結したもの(階層的 z: z を分けて最初の線形層と各ブロックに1つずつ渡す)。
-- @ja D は射影判別器: 大域和プーリングの特徴 h に対し linear(h) + embed(y)·h。G と D の両方にスペクトル正規化、16x16 に自己注意、ヒンジ損失、Adam β1 = 0。G の重みの指数移動平均(EMA、開始ステップ以降)で生成する。直交正則化(β = 1e-4)は --ortho で使える(公開された BigGAN の重みは直交正則化なしで学習された)。
-- @ja 切り捨てトリック: 生成時に z を [-t, t] に切り捨てた正規分布から引く。t を小さくすると品質(precision、クラス一致率)は上がり多様性(recall)は下がる(lab/truncation で曲線を測る)。
-- @en Key points: G's batch norms are class-conditional: BN without affine parameters, times (1 + gain(c)) plus bias(c), where c is a class embedding shared by every block concatenated with a chunk of z (hierarchical z: z is cut into one chunk for the first linear layer and one per block).
-- @en D is a projection discriminator: with h its globally sum-pooled features, linear(h) + embed(y) . h. Spectral norm in G and D, self-attention at 16x16, hinge loss, Adam beta1 = 0; samples come from an exponential moving average of G's weights (from a start step on). Orthogonal regularization (beta = 1e-4) is --ortho (the released BigGAN weights were trained without it).
-- @en The truncation trick: at sampling time z is drawn from a normal truncated to [-t, t]; a smaller t gives higher quality (precision, class agreement) and less diversity (recall); lab/truncation measures the curve.

local gan = require "gan"
local F = gan.F
local B = gan.nets.biggan

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of MNIST-style IDX files with labels
  size = 32,              -- image size: 16, 32 or 64
  nf = 16,                -- G's feature maps at full size (4 nf at 4x4 and 8x8, 2 nf at 16x16; the paper's CIFAR G: 256 everywhere)
  ndf = 32,               -- feature maps of D's first block, doubling per block up to 4 ndf (the paper's CIFAR D: 256 in every block)
  shared_dim = 64,        -- size of G's shared class embedding (the paper's CIFAR: 128)
  attention = 16,         -- resolution of the self-attention block in G and D (0: none)
  lr_d = 4e-4,            -- Adam learning rate of D (the paper's CIFAR: 2e-4; at 2e-4 this small D stayed at chance: README)
  lr_g = 2e-4,            -- Adam learning rate of G (the paper's CIFAR: 2e-4)
  beta1 = 0.0,            -- Adam beta1
  beta2 = 0.999,          -- Adam beta2
  n_critic = 1,           -- D steps per G step (the paper's CIFAR: 4)
  ortho = 0.0,            -- strength of the orthogonal regularization of G (BigGAN's 1e-4; 0: off)
  ema_decay = 0.999,      -- decay of G's moving average (the paper: 0.9999 over far longer runs)
  ema_start = 1000,       -- the average copies G until this step, then averages
  truncation = 0.0,       -- truncation threshold t of z for the run's samples and evaluation (0: none)
  iters = 5000,           -- training iterations (generator steps)
  eval_every = 500,       -- quick evaluation (FD, precision, recall, class agreement) every N iterations
  out = "runs/biggan",    -- run folder
}
if opt.n_critic < 1 then error("--n_critic must be >= 1", 0) end
if opt.nf < 4 or opt.nf % 4 ~= 0 then error("--nf must be a positive multiple of 4", 0) end
if opt.ndf < 8 or opt.ndf % 8 ~= 0 then error("--ndf must be a positive multiple of 8", 0) end
for _, k in ipairs({ "ortho", "truncation", "ema_start" }) do
  if opt[k] < 0 then error(("--%s must be >= 0"):format(k), 0) end
end
if opt.ema_decay < 0 or opt.ema_decay >= 1 then error("--ema_decay must be in [0, 1)", 0) end

local data = gan.data.load(opt.data, opt, { labels = true })
if not data.labels then error("--data must have class labels (fashion-mnist or IDX files)", 0) end
local K = math.floor(data.labels:float():max():item()) + 1   -- number of classes
local C = data.x:size(2)

local G = B.Generator { nz = opt.nz, channels = C, size = opt.size, nf = opt.nf, attention = opt.attention,
  classes = K, shared_dim = opt.shared_dim }
-- D widens as it shrinks (ndf, 2 ndf, 4 ndf, 4 ndf at 32x32), as BigGAN's D at 64 pixels and up: the paper's
-- CIFAR D keeps 256 maps at every size, far beyond 2 cores; one width everywhere at this cost left D too
-- weak (the README's BigGAN section gives the pilots).
local D = B.Discriminator { channels = C, size = opt.size, ndf = opt.ndf, attention = opt.attention, classes = K,
  widen = true }
local optG = gan.optim.Adam(G, { lr = opt.lr_g, betas = { opt.beta1, opt.beta2 } })
local optD = gan.optim.Adam(D, { lr = opt.lr_d, betas = { opt.beta1, opt.beta2 } })
local ema = gan.optim.EMA(G, opt.ema_decay)
local function noise(n) return gan.randn(n, opt.nz) end

-- n samples of the average G, z truncated at --truncation when it is set. The average G samples with
-- batch statistics, as BigGAN's code does by default (G's running statistics belong to G's weights,
-- not to their average), so the classes go round within each chunk: one class per column of a grid.
local sample = gan.labels.sampler(function(z, y) return ema:module()(z, y) end, K,
  function(n) return B.truncated_z(n, opt.nz, opt.truncation > 0 and opt.truncation or nil) end,
  { interleave = true })

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, ema = ema, data = data }, function(batch, step)
  local lossD, d_real, d_fake
  for i = 1, opt.n_critic do
    if i > 1 then batch = data:next() end
    local real, y = batch[1], batch[2]
    local yf = gan.randint(0, K, { real:size(1) })
    d_real, d_fake = D(real, y), D(G(noise(real:size(1)), yf):detach(), yf)
    lossD = F.hinge_d(d_real, d_fake)
    optD:step(lossD)
  end
  local yf = gan.randint(0, K, { opt.batch })
  local lossG = F.hinge_g(D(G(noise(opt.batch), yf), yf))
  local total = lossG
  if opt.ortho > 0 then total = lossG + B.orthogonal_penalty(G, opt.ortho, { G.shared.weight }) end
  optG:step(total)
  ema:update(step <= opt.ema_start and 0 or nil)
  return { D = lossD, G = lossG, ["D(x|y)"] = d_real:mean(), ["D(G(z|y))"] = d_fake:mean(),
    sigma_G = G.attention and G.attention.sigma:item() or nil }
end, { sample = sample, sample_count = K * K })
