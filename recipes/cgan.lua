--- CGAN — conditional GAN: the class label is an input of both G and D.
-- @paper Mirza, Osindero. Conditional Generative Adversarial Nets. 2014. arXiv:1411.1784
-- @year 2014
-- @ja 要点: 条件y(クラスラベル等)をGとDの両方に追加入力として与え、min_G max_D V = E[log D(x|y)] + E[log(1 - D(G(z|y)|y))] を解く。
-- @ja Gはzとyのone-hotを連結して受け取り、Dは画像とyを連結して受け取る(ここではラベルを画像サイズの平面にしてチャネル方向に連結)。生成時にyを指定すれば狙ったクラスの画像が得られる。
-- @en Key points: a condition y (here the class label) is an extra input of both G and D: min_G max_D E[log D(x|y)] + E[log(1 - D(G(z|y)|y))].
-- @en G takes z concatenated with y's one-hot code, D the image concatenated with y (here as one-hot planes of the image's size); choosing y at sampling time chooses the class.

local gan = require "gan"
local nn, F = gan.nn, gan.F
local join = gan.labels.join

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of MNIST-style IDX files with labels
  size = 32,              -- image size: a power of two from 16
  nf = 64,                -- feature maps of G's last and D's first layer
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 4000,           -- training iterations
  out = "runs/cgan",      -- run folder
}

local data = gan.data.load(opt.data, opt, { labels = true })
if not data.labels then error("--data must have class labels (fashion-mnist or IDX files)", 0) end
local K = math.floor(data.labels:float():max():item()) + 1   -- number of classes
local C = data.x:size(2)

-- G(z|y): noise and one-hot label in, an image out; D(x|y): image and label planes in, one logit out
local G = gan.nets.dcgan.generator(opt.nz + K, C, opt.size, opt.nf)
local body, c = gan.nets.dcgan.body(C + K, opt.size, opt.nf)
local D = nn.Sequential { body, nn.Conv2d(c, 1, 4, 1, 0), nn.Flatten() }
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
  local d_real, d_fake = D(join(real, y, K)), D(join(fake:detach(), yf, K))
  local lossD = F.bce_logits(d_real, 1) + F.bce_logits(d_fake, 0)
  optD:step(lossD)
  local lossG = F.bce_logits(D(join(fake, yf, K)), 1)
  optG:step(lossG)
  return { D = lossD, G = lossG, ["D(x|y)"] = d_real:sigmoid():mean(), ["D(G(z|y))"] = d_fake:sigmoid():mean() }
end, { sample = sample, sample_count = K * K })
