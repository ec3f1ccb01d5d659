--- f-GAN — a GAN for any f-divergence through its variational lower bound.
-- @paper Nowozin, Cseke, Tomioka. f-GAN: Training Generative Neural Samplers using Variational Divergence Minimization. 2016. arXiv:1606.00709
-- @year 2016
-- @ja 要点: f-ダイバージェンス D_f(P||Q)=∫q f(p/q) は凸共役 f* により下界 sup_T E_P[T] - E_Q[f*(T)] を持つ。DがTとなって下界を最大化し、Gが最小化する。
-- @ja Dの出力vを出力活性化 g_f で f* の定義域に写す(T=g_f(v))。KL・逆KL・JS・ピアソンχ²・二乗ヘリンジャー・GAN(=2JSD-log4)を選べ、元のGANはその特別な場合。
-- @en Key points: an f-divergence D_f(P||Q) = ∫ q f(p/q) has, through the convex conjugate f*, the lower bound sup_T E_P[T] - E_Q[f*(T)]; D plays T and raises the bound, G lowers it.
-- @en D's raw output v goes through an output activation g_f into the domain of f* (T = g_f(v)); KL, reverse KL, JS, Pearson chi-squared, squared Hellinger and GAN (= 2 JSD - log 4) are options, the original GAN being one case.

local gan = require "gan"
local nn = gan.nn
local div = gan.divergences

local opt = gan.options({
  data = "fashion-mnist", -- fashion-mnist, a folder of images, or a toy set: 8gaussians, 25gaussians
  size = 32,              -- image size: 16, 32, 64 (images only)
  channels = 1,           -- channels of images from a folder: 1 gray, 3 RGB
  divergence = "js",      -- kl, reverse_kl, js, pearson, hellinger or gan
  g_loss = "alt",         -- G's loss: alt = -E[g_f(D(G(z)))] (the paper's choice), saddle = -E[f*(g_f(D(G(z))))]
  nf = 32,                -- feature maps of G's last and D's first layer (images)
  hidden = 256,           -- units of the hidden layers (points)
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 5000,           -- training iterations
  out = "runs/fgan",      -- run folder
}, { toy = { lr = 3e-4, batch = 256, hidden = 512 } }) -- toy sets: wider MLPs, larger batches (README: 8 of 8 modes for seeds 1 and 3, 1 for seed 2)
div.get(opt.divergence)   -- an unknown name stops here, with the list of valid ones
if opt.g_loss ~= "alt" and opt.g_loss ~= "saddle" then error("--g_loss must be alt or saddle", 0) end

local data = gan.data.load(opt.data, opt)
local G, noise = gan.nets.generator(data, opt)
-- v = D(x), a raw number; T = g_f(v)
local D = gan.nets.discriminator(data, opt, { act = function() return gan.nn.LeakyReLU(0.2) end })
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real)
  local fake = G(noise(real:size(1)))
  -- D raises the bound E_P[g_f(v)] - E_Q[f*(g_f(v))]; its value estimates D_f(P || Q)
  local v_real, v_fake = D(real), D(fake:detach())
  local lossD = div.d_loss(opt.divergence, v_real, v_fake)
  optD:step(lossD)
  local lossG = div.g_loss(opt.divergence, D(fake), opt.g_loss)
  optG:step(lossG)
  return { D = lossD, G = lossG, bound = -lossD }
end, { noise = noise })
