--- SNGAN — spectral normalization of every discriminator layer, hinge loss, TTUR as an option.
-- @paper Miyato, Kataoka, Koyama, Yoshida. Spectral Normalization for Generative Adversarial Networks. 2018. arXiv:1802.05957
-- @year 2018
-- @ja 要点: 各層の重みをその最大特異値(スペクトルノルム)σ(W)で割り W/σ(W) とすると、層のリプシッツ定数が1以下になり、D全体のリプシッツ定数が抑えられる。
-- @ja σ(W)はべき乗法で推定し、ベクトルuを保持して学習の各ステップで1回だけ反復する(計算が軽い)。勾配ペナルティと違いサンプルに依存しない。
-- @ja 損失はヒンジ損失 D: E[max(0,1-D(x))] + E[max(0,1+D(G(z)))]、G: -E[D(G(z))]。TTUR(Heusel 2017)は D と G の学習率を変える(例: D 4e-4, G 1e-4)。5000ステップの既定では G が遅れて上衣に偏るため、既定は両方 4e-4(--lr_g=1e-4 で TTUR)。
-- @en Key points: dividing each layer's weight by its largest singular value (spectral norm) sigma(W) makes every layer 1-Lipschitz and so bounds the Lipschitz constant of D.
-- @en sigma(W) is estimated by power iteration, keeping the vector u and iterating once per training step (cheap); unlike a gradient penalty it does not depend on the samples.
-- @en Hinge loss, D: E max(0, 1 - D(x)) + E max(0, 1 + D(G(z))), G: -E D(G(z)); TTUR (Heusel et al. 2017) gives D and G different learning rates (e.g. 4e-4 and 1e-4); within the default 5000 steps G then lags and collapses onto tops, so the default is 4e-4 for both (--lr_g=1e-4 for TTUR).

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, a folder of images, or a toy set: 8gaussians, 25gaussians
  size = 32,              -- image size: 16, 32, 64 (a power of two)
  nf = 64,                -- feature maps of G's last conv layer (images)
  ndf = 32,               -- feature maps of D's first layers (images; the paper: 64)
  hidden = 256,           -- units of the MLPs' hidden layers (toy sets)
  n_critic = 1,           -- D steps per G step
  lr_d = 4e-4,            -- Adam learning rate of D
  lr_g = 4e-4,            -- Adam learning rate of G (TTUR: 1e-4; see the README's TTUR section)
  beta1 = 0.5,            -- Adam beta1
  beta2 = 0.999,          -- Adam beta2
  sn_g = false,           -- spectral normalization in G's layers too (as SAGAN, Zhang et al. 2018)
  iters = 5000,           -- training iterations (generator steps)
  eval_every = 500,       -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/sngan",     -- run folder
}
if opt.n_critic < 1 then error("--n_critic must be >= 1", 0) end
if opt.ndf < 1 then error("--ndf must be >= 1", 0) end

local data = gan.data.load(opt.data, opt)
local G, noise = gan.nets.generator(data, opt)
if opt.sn_g then nn.SpectralNorm.wrap(G) end

-- D: for images the paper's "standard CNN" (its Table 3): 3x3 stride-1 and 4x4 stride-2
-- convolutions in turn, LeakyReLU(0.1), then a linear layer; for points an MLP. Every layer is
-- spectrally normalized, so D is 1-Lipschitz per layer: a shallow DCGAN D would be too weak.
local D
if gan.nets.is_points(data) then
  D = gan.nets.discriminator(data, opt, { norm = "spectral" })
else
  local c, s = data.x:size(2), data.x:size(3)
  if s % 8 ~= 0 then error("--size must be a multiple of 8", 0) end
  D = nn.SpectralNorm.wrap(gan.nets.dcgan.standard_cnn(c, s, opt.ndf))
end
local optG = gan.optim.Adam(G, { lr = opt.lr_g, betas = { opt.beta1, opt.beta2 } })
local optD = gan.optim.Adam(D, { lr = opt.lr_d, betas = { opt.beta1, opt.beta2 } })

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
  return { D = lossD, G = lossG, ["D(x)"] = d_real:mean(), ["D(G(z))"] = d_fake:mean() }
end, { noise = noise })
