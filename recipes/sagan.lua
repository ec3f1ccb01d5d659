--- SAGAN — self-attention in G and D for long-range structure, spectral norm in both, hinge loss, TTUR.
-- @paper Zhang, Goodfellow, Metaxas, Odena. Self-Attention Generative Adversarial Networks. 2018. arXiv:1805.08318
-- @year 2018
-- @ja 要点: 畳み込みは局所的なので、離れた部分どうしの整合(衣服の左右の袖や全体の形)は層を重ねないと伝わらない。自己注意ブロックは各画素(クエリ)が特徴マップ全体を見る: θ, φ (1x1 畳み込みで C/8 チャネル)、g (C/2 チャネル)、φ と g は 2x2 最大プーリング、β = softmax(θᵀφ) で g を重み付けし、1x1 畳み込みで C チャネルに戻して x + σ·o。σ は 0 から学習する(最初は恒等写像)。
-- @ja スペクトル正規化を D だけでなく G にも使い(G の学習が安定)、損失はヒンジ損失、TTUR(D の学習率 4e-4 > G の 1e-4)、Adam β1 = 0, β2 = 0.9。ここでは SNGAN 型の ResNet の G と D の 16x16 に注意ブロックを置く(StudioGAN の CIFAR 構成)。--attention=false で同じネットワークから注意ブロックだけを除いた比較ができる。
-- @ja 既定の学習率は D と G とも 2e-4(BigGAN の CIFAR 設定、1:1)。SNGAN の表(README の TTUR 節)では数千ステップの予算で 4:1 だと G が追いつかなかったため。論文の TTUR は --lr_d=4e-4 --lr_g=1e-4。
-- @en Key points: convolutions are local, so far-apart parts of an image (a garment's two sleeves, its overall shape) only meet after many layers. A self-attention block lets every pixel (a query) look at the whole feature map: theta and phi (1x1 convs to C/8), g (to C/2), phi and g max-pooled 2x2, beta = softmax(theta^T phi) weighs g, a 1x1 conv brings it back to C, and the output is x + sigma * o with sigma learned from 0 (the block starts as the identity).
-- @en Spectral norm in G as well as in D (it steadies G's training), hinge loss, TTUR (D's rate 4e-4 above G's 1e-4), Adam beta1 = 0, beta2 = 0.9. Here SNGAN-style ResNet G and D with the attention block at 16x16 in both (StudioGAN's CIFAR layout); --attention=false is the same network without the block, for the ablation.
-- @en The default rates are 2e-4 for both D and G (BigGAN's CIFAR setting, 1:1): at a budget of a few thousand steps SNGAN's table (README, TTUR) found 4:1 too slow for G. The paper's TTUR is --lr_d=4e-4 --lr_g=1e-4.

local gan = require "gan"
local F = gan.F
local B = gan.nets.biggan

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist or a folder of images
  size = 32,              -- image size: 16, 32 or 64
  nf = 12,                -- G's feature maps at full size (4 nf at 4x4 and 8x8, 2 nf at 16x16; the paper's CIFAR G: 256 everywhere)
  ndf = 16,               -- feature maps of every D block (the paper's CIFAR D: 128)
  attention = true,       -- the self-attention block at 16x16 in G and D (false: the ablation)
  lr_d = 2e-4,            -- Adam learning rate of D (the paper: 4e-4)
  lr_g = 2e-4,            -- Adam learning rate of G (the paper: 1e-4, TTUR; see the README's SAGAN section)
  beta1 = 0.0,            -- Adam beta1 (the paper's 0)
  beta2 = 0.9,            -- Adam beta2
  n_critic = 1,           -- D steps per G step
  iters = 2000,           -- training iterations (generator steps)
  eval_every = 500,       -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/sagan",     -- run folder
}
if opt.n_critic < 1 then error("--n_critic must be >= 1", 0) end
if opt.nf < 4 or opt.nf % 4 ~= 0 then error("--nf must be a positive multiple of 4", 0) end
if opt.ndf < 8 or opt.ndf % 8 ~= 0 then error("--ndf must be a positive multiple of 8", 0) end

local data = gan.data.load(opt.data, opt)
if gan.nets.is_points(data) then error("--data must hold images", 0) end
local at = opt.attention and math.min(16, opt.size // 2) or 0
local C = data.x:size(2)
local G = B.Generator { nz = opt.nz, channels = C, size = opt.size, nf = opt.nf, attention = at }
local D = B.Discriminator { channels = C, size = opt.size, ndf = opt.ndf, attention = at }
local optG = gan.optim.Adam(G, { lr = opt.lr_g, betas = { opt.beta1, opt.beta2 } })
local optD = gan.optim.Adam(D, { lr = opt.lr_d, betas = { opt.beta1, opt.beta2 } })
local function noise(n) return gan.randn(n, opt.nz) end

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real)
  local lossD, d_real, d_fake
  for i = 1, opt.n_critic do
    if i > 1 then real = data:next() end
    d_real, d_fake = D(real), D(G(noise(real:size(1))):detach())
    lossD = F.hinge_d(d_real, d_fake)
    optD:step(lossD)
  end
  local lossG = F.hinge_g(D(G(noise(opt.batch))))
  optG:step(lossG)
  local v = { D = lossD, G = lossG, ["D(x)"] = d_real:mean(), ["D(G(z))"] = d_fake:mean() }
  if G.attention then v["sigma_G"], v["sigma_D"] = G.attention.sigma:item(), D.attention.sigma:item() end
  return v
end, { noise = noise })
