--- LSGAN — least-squares losses instead of the sigmoid cross-entropy.
-- @paper Mao, Li, Xie, Lau, Wang, Smolley. Least Squares Generative Adversarial Networks. 2017. arXiv:1611.04076
-- @year 2017
-- @ja 要点: シグモイド交差エントロピーでは、決定境界の正しい側にあるが実データから遠い生成サンプルの勾配が消える。最小二乗損失は境界からの距離に比例して罰し、サンプルを実データへ引き寄せる。
-- @ja D: ½E[(D(x)-b)^2] + ½E[(D(G(z))-a)^2]、G: ½E[(D(G(z))-c)^2]。b-c=1, b-a=2 のとき(a,b,c)=(-1,1,0)でピアソンχ²ダイバージェンスの最小化になる。実用上は(0,1,1)の符号化も使う。
-- @ja Dの出力は線形(シグモイドなし)。学習が安定しやすく、勾配消失が起こりにくい。
-- @en Key points: with the sigmoid cross-entropy, generated samples on the right side of the decision boundary but far from the real data get vanishing gradients; the least-squares loss penalises them by their distance and pulls them towards the data.
-- @en D: 1/2 E(D(x) - b)^2 + 1/2 E(D(G(z)) - a)^2; G: 1/2 E(D(G(z)) - c)^2. With b - c = 1 and b - a = 2, e.g. (a, b, c) = (-1, 1, 0), G minimises the Pearson chi-squared divergence; the (0, 1, 1) coding is the common practical choice.
-- @en D's output is linear (no sigmoid); training is more stable and gradients vanish less.

local gan = require "gan"
local F = gan.F

local opt = gan.options({
  data = "fashion-mnist", -- fashion-mnist, a folder of images, or a toy set: 8gaussians, 25gaussians
  size = 32,              -- image size: 16, 32, 64 (a power of two)
  nf = 64,                -- feature maps of G's last and D's first conv layer (images)
  hidden = 256,           -- units of the MLPs' hidden layers (toy sets)
  coding = { 0, 1, 1 },   -- targets a,b,c: D pushes fakes to a and reals to b, G pushes fakes to c (0,1,1 or -1,1,0)
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 5000,           -- training iterations
  eval_every = 500,       -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/lsgan",     -- run folder
}, { toy = { lr = 1e-3, batch = 256, iters = 2000 } }) -- toy sets: a higher rate, larger batches, a shorter run
if #opt.coding ~= 3 then error("--coding must be three numbers a,b,c (e.g. 0,1,1 or -1,1,0)", 0) end
local a, b, c = table.unpack(opt.coding)
if a == b then error("--coding: a (the fakes' target) and b (the reals') must differ", 0) end

local data = gan.data.load(opt.data, opt)
local G, noise = gan.nets.generator(data, opt)
local D = gan.nets.discriminator(data, opt, { norm = "batch" })
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real)
  local fake = G(noise(real:size(1)))
  local d_real, d_fake = D(real), D(fake:detach())
  local lossD = (F.mse(d_real, b) + F.mse(d_fake, a)) * 0.5
  optD:step(lossD)
  local lossG = F.mse(D(fake), c) * 0.5
  optG:step(lossG)
  return { D = lossD, G = lossG, ["D(x)"] = d_real:mean(), ["D(G(z))"] = d_fake:mean() }
end, { noise = noise })
