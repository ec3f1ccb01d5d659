--- DCGAN — all-convolutional generator and discriminator with batch norm.
-- @paper Radford, Metz, Chintala. Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks. 2015. arXiv:1511.06434
-- @year 2015
-- @ja 要点: プーリングの代わりにストライド付き畳み込み(D)と転置畳み込み(G)、全結合層を除く。G・D両方にBatchNorm(Gの出力層とDの入力層を除く)。
-- @ja 活性化はGがReLU(出力Tanh)、DがLeakyReLU(0.2)。重みはN(0, 0.02)で初期化、Adam(lr 2e-4, β1=0.5)。
-- @en Key points: strided convolutions (D) and transposed convolutions (G) instead of pooling, no fully connected layers; batch norm in both (not on G's output nor D's input).
-- @en ReLU in G (Tanh output), LeakyReLU(0.2) in D; weights from N(0, 0.02); Adam with lr 2e-4 and beta1 0.5.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of images
  size = 32,              -- image size: 32, 64 (any power of two from 16)
  channels = 1,           -- channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)
  nf = 64,                -- feature maps of G's last and D's first layer
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 5000,           -- training iterations
  eval_every = 1000,      -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/dcgan",     -- run folder
}

local data = gan.data.load(opt.data, opt)
local C = data.x:size(2)

-- G: z (nz, 1, 1) -> 4x4 -> ... -> size x size by transposed convolutions, halving the
-- feature maps at each doubling, batch norm and ReLU after each but the last, then Tanh.
local G = gan.nets.dcgan.generator(opt.nz, C, opt.size, opt.nf, { init = false })
-- D: the mirror image with strided convolutions and LeakyReLU(0.2), batch norm after each but
-- the first, then a 4x4 convolution to one logit per image. No biases where batch norm follows.
local D, c = gan.nets.dcgan.body(C, opt.size, opt.nf, { init = false })
D:add(nn.Conv2d(c, 1, 4, 1, 0, { bias = false })):add(nn.Flatten())
-- weights from N(0, 0.02), batch-norm scales from N(1, 0.02) (the paper's initialization)
G:apply(nn.init.dcgan)
D:apply(nn.init.dcgan)
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)
local function noise(n) return gan.randn(n, opt.nz, 1, 1) end

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real)
  local fake = G(noise(real:size(1)))
  local d_real, d_fake = D(real), D(fake:detach())
  local lossD = F.bce_logits(d_real, 1) + F.bce_logits(d_fake, 0)
  optD:step(lossD)
  local lossG = F.bce_logits(D(fake), 1)       -- non-saturating: G maximises log D(G(z))
  optG:step(lossG)
  return { D = lossD, G = lossG, ["D(x)"] = d_real:sigmoid():mean(), ["D(G(z))"] = d_fake:sigmoid():mean() }
end, { noise = noise })
