--- Unrolled GAN — the generator optimises against the discriminator K steps ahead.
-- @paper Metz, Poole, Pfau, Sohl-Dickstein. Unrolled Generative Adversarial Networks. 2016. arXiv:1611.02163
-- @year 2016
-- @ja 要点: 通常のGは現在のDにだけ最適化するので、Dが苦手なモードへ集まり、Dが追いつくと別のモードへ移る(モード崩壊・振動)。
-- @ja Unrolled GANではDの更新をKステップ先まで展開した θ_D^K(θ_G) に対する損失 f(θ_G, θ_D^K) でGを更新する。Gは「自分の動きにDがどう反応するか」を考慮できる。Dの更新は通常どおり1ステップ。
-- @ja 展開したステップを通して微分する(2階微分、create_graph)のが本来の方法。展開したDの値だけを使う1次近似は安いがDの反応の勾配を失う。K=0で普通のGAN。
-- @en Key points: an ordinary G optimises against the current D only, so it gathers on a mode D handles badly, then hops to another when D catches up (mode collapse, oscillation).
-- @en Unrolled GAN updates G on f(theta_G, theta_D^K(theta_G)), the loss against D after K unrolled optimizer steps; G thereby sees how D would react to its move. D itself takes its usual single step.
-- @en The true method differentiates through the unrolled steps (second order, create_graph); the first-order shortcut only uses the unrolled D's values and loses the gradient of D's reaction. K = 0 is an ordinary GAN.

local gan = require "gan"
local F = gan.F

local opt = gan.options {
  data = "8gaussians",    -- a toy set (8gaussians, 25gaussians), fashion-mnist, or a folder of images
  size = 32,              -- image size: 16, 32, 64 (a power of two; images only)
  batch = 512,            -- minibatch size
  nz = 256,               -- dimension of the noise z
  nf = 32,                -- feature maps of G's last and D's first conv layer (images)
  hidden = 128,           -- units of the MLPs' hidden layers (toy sets)
  depth = 2,              -- hidden layers of the MLPs (toy sets)
  unroll = 5,             -- K: unrolled D steps in G's loss (0: an ordinary GAN)
  order = 2,              -- 2: differentiate through the unrolled steps (create_graph); 1: first order
  lr_d = 1e-4,            -- Adam learning rate of D (and of its unrolled steps)
  lr_g = 1e-3,            -- Adam learning rate of G
  beta1 = 0.5,            -- Adam beta1
  iters = 5000,           -- training iterations (generator steps)
  eval_every = 500,       -- quick evaluation every N iterations (FD and coverage, or modes and high-quality share)
  out = "runs/unrolled_gan", -- run folder
}
if opt.unroll < 0 then error("--unroll must be >= 0", 0) end
if opt.order ~= 1 and opt.order ~= 2 then error("--order must be 1 (first order) or 2 (through create_graph)", 0) end

local data = gan.data.load(opt.data, opt)
local G, noise = gan.nets.generator(data, opt)
local D = gan.nets.discriminator(data, opt, { norm = "none" })
local optG = gan.optim.Adam(G, { lr = opt.lr_g, betas = { opt.beta1, 0.999 } })
local optD = gan.optim.Adam(D, { lr = opt.lr_d, betas = { opt.beta1, 0.999 } })

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real)
  local fake = G(noise(real:size(1)))
  -- D: one ordinary step
  local lossD = F.logistic_d(D(real), D(fake:detach()))
  optD:step(lossD)
  -- G: against D after K more (imagined) steps on the same batch; with order 2 the
  -- steps are functions of G's parameters, through the fake samples
  local seen = opt.order == 2 and fake or fake:detach()
  local params = gan.unroll.steps(D, optD, opt.unroll, function()
    return F.logistic_d(D(real), D(seen))
  end, { create_graph = opt.order == 2 })
  local lossG = gan.unroll.with_params(D, params, function() return F.logistic_g(D(fake)) end)
  optG:step(lossG)
  return { D = lossD, G = lossG }
end, { noise = noise })
