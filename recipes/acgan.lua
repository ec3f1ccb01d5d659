--- ACGAN — auxiliary classifier GAN: D also says which class an image is.
-- @paper Odena, Olah, Shlens. Conditional Image Synthesis With Auxiliary Classifier GANs. 2016. arXiv:1610.09585
-- @year 2016
-- @ja 要点: Gはノイズzとクラスcから画像を作り、Dは本物/偽物の判定に加えてクラスを予測する補助分類器(クラス分類ヘッド)を持つ。
-- @ja 目的関数は L_S(本物か偽物か)と L_C(正しいクラスの対数尤度)。DはL_S + L_C、GはL_C - L_S を最大化する。Dの入力にラベルを与えない点がCGANとの違い。
-- @en Key points: G makes an image from noise z and a class c; D judges real or fake and also predicts the class with an auxiliary classifier head.
-- @en Objectives: L_S (log-likelihood of the right source) and L_C (of the right class); D maximises L_S + L_C, G maximises L_C - L_S. Unlike CGAN, D does not see the label.

local gan = require "gan"
local nn, F = gan.nn, gan.F
local join = gan.labels.join

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of MNIST-style IDX files with labels
  size = 32,              -- image size: a power of two from 16
  nf = 32,                -- feature maps of G's last and D's first layer
  lambda = 1.0,           -- weight of the class loss L_C
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 3000,           -- training iterations
  out = "runs/acgan",     -- run folder
}
if opt.lambda < 0 then error("--lambda must be >= 0", 0) end

local data = gan.data.load(opt.data, opt, { labels = true })
if not data.labels then error("--data must have class labels (fashion-mnist or IDX files)", 0) end
local K = math.floor(data.labels:float():max():item()) + 1   -- number of classes
local C = data.x:size(2)

-- G(z, c): noise and one-hot class in; D(x): one body, two heads (source logit, class logits)
local G = gan.nets.dcgan.generator(opt.nz + K, C, opt.size, opt.nf)
local body, c = gan.nets.dcgan.body(C, opt.size, opt.nf)
local D = nn.Heads(body,
  nn.Sequential { nn.Conv2d(c, 1, 4, 1, 0), nn.Flatten() },   -- real or fake
  nn.Sequential { nn.Conv2d(c, K, 4, 1, 0), nn.Flatten() })   -- which class
D[1]:apply(nn.init.dcgan)
D[2]:apply(nn.init.dcgan)

local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)
local function noise(n) return gan.randn(n, opt.nz, 1, 1) end

-- n samples asked in class order (one row per class in a 10x10 grid)
local sample = gan.labels.sampler(function(z, y) return G(join(z, y, K)) end, K, noise)

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(batch)
  local real, y = batch[1], batch[2]
  local n = real:size(1)
  local yf = gan.randint(0, K, { n })                  -- classes asked of G
  local fake = G(join(noise(n), yf, K))
  local s_real, c_real = D(real)
  local s_fake, c_fake = D(fake:detach())
  -- D: right source and right class, on real and on generated images
  local lossS = F.bce_logits(s_real, 1) + F.bce_logits(s_fake, 0)
  local lossC = F.cross_entropy(c_real, y) + F.cross_entropy(c_fake, yf)
  optD:step(lossS + opt.lambda * lossC)
  -- G: fool the source head, satisfy the class head
  local s_g, c_g = D(fake)
  local lossG = F.bce_logits(s_g, 1) + opt.lambda * F.cross_entropy(c_g, yf)
  optG:step(lossG)
  local acc = c_real:argmax(2):eq(y):float():mean()
  return { D = lossS, C = lossC, G = lossG, ["acc(real)"] = acc }
end, { sample = sample, sample_count = K * K })
