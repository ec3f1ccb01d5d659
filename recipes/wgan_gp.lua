--- WGAN-GP — the critic's Lipschitz constraint as a gradient penalty instead of weight clipping.
-- @paper Gulrajani, Ahmed, Arjovsky, Dumoulin, Courville. Improved Training of Wasserstein GANs. 2017. arXiv:1704.00028
-- @year 2017
-- @ja 要点: 重みクリッピングは容量の浪費(重みが±cに張り付く)と勾配の消失・爆発を招く。代わりに最適なクリティックは実データと生成データを結ぶ直線上で勾配ノルム1を持つことを使う。
-- @ja 勾配ペナルティ λ E[(|∇_x̂ D(x̂)|_2 - 1)^2](λ=10)を、実データと生成データのランダムな内分点 x̂ = εx + (1-ε)G(z) で課す。勾配の勾配が要る(create_graph)。
-- @ja ペナルティはサンプルごとに効くので、クリティックにBatchNormは使わない(LayerNormは可)。Adam(lr 1e-4, β1=0, β2=0.9)、n_critic=5。
-- @en Key points: weight clipping wastes capacity (weights pile up at ±c) and makes gradients vanish or explode; instead use that the optimal critic has gradient norm 1 on lines between real and generated samples.
-- @en The gradient penalty lambda E[(||grad D(x_hat)||_2 - 1)^2] (lambda = 10) on random interpolates x_hat = eps x + (1 - eps) G(z); it needs the gradient of a gradient (create_graph).
-- @en The penalty acts per sample, so the critic has no batch norm (layer norm is fine); Adam with lr 1e-4, beta1 = 0, beta2 = 0.9; n_critic = 5.

local gan = require "gan"
local F = gan.F

local opt = gan.options({
  data = "fashion-mnist", -- fashion-mnist, a folder of images, or a toy set: 8gaussians, 25gaussians
  size = 32,              -- image size: 16, 32, 64 (a power of two)
  nf = 32,                -- feature maps of G's last and D's first conv layer (images)
  hidden = 256,           -- units of the MLPs' hidden layers (toy sets)
  norm = "none",          -- critic normalisation: none or layer (not batch: the penalty is per sample)
  lambda = 10.0,          -- weight of the gradient penalty
  n_critic = 5,           -- critic steps per generator step
  lr = 1e-4,              -- Adam learning rate
  beta1 = 0.0,            -- Adam beta1
  beta2 = 0.9,            -- Adam beta2
  iters = 3000,           -- training iterations (generator steps)
  eval_every = 500,       -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/wgan_gp",   -- run folder
}, { toy = { lr = 1e-3, beta1 = 0.5, batch = 256, iters = 2000 } }) -- toy sets: the rates above are for images
if opt.norm ~= "none" and opt.norm ~= "layer" then
  error(("--norm must be none or layer, got '%s' (batch norm would couple the samples the penalty treats one by one)")
    :format(opt.norm), 0)
end
if opt.n_critic < 1 then error("--n_critic must be >= 1", 0) end
if opt.lambda < 0 then error("--lambda must be >= 0", 0) end

local data = gan.data.load(opt.data, opt)
local G, noise = gan.nets.generator(data, opt)
local D = gan.nets.discriminator(data, opt, { norm = opt.norm })
local adam = { lr = opt.lr, betas = { opt.beta1, opt.beta2 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real)
  local lossD, w, gp, norm
  for i = 1, opt.n_critic do
    if i > 1 then real = data:next() end
    local fake = G(noise(real:size(1))):detach()
    w = F.wasserstein_d(D(real), D(fake))                  -- E f(G(z)) - E f(x) = -W
    gp, norm = gan.penalties.gradient_penalty(D, real, fake, { lambda = opt.lambda })
    lossD = w + gp
    optD:step(lossD)
  end
  local lossG = F.wasserstein_g(D(G(noise(opt.batch))))
  optG:step(lossG)
  return { D = lossD, G = lossG, W = -w, GP = gp, grad_norm = norm }
end, { noise = noise })
