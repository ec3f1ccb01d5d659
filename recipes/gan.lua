--- GAN — the original adversarial nets: an MLP generator against an MLP discriminator.
-- @paper Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville, Bengio. Generative Adversarial Nets. 2014. arXiv:1406.2661
-- @year 2014
-- @ja 要点: 生成器Gと識別器Dのミニマックスゲーム min_G max_D V(D,G)。Dをkステップ更新してからGを1ステップ更新する。
-- @ja 学習初期は log(1-D(G(z))) が飽和して勾配が消えるため、G は log D(G(z)) を最大化する(非飽和損失)。最適なDのもとでVはJSダイバージェンスになる。
-- @en Key points: a two-player minimax game min_G max_D V(D, G); k discriminator steps per generator step.
-- @en Early on log(1 - D(G(z))) saturates, so G maximises log D(G(z)) instead (the non-saturating loss); for the optimal D, V is a Jensen-Shannon divergence.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options({
  data = "fashion-mnist", -- fashion-mnist, a folder of images, or a toy set: 8gaussians, 25gaussians, ring, swissroll
  size = 28,              -- image size in pixels (images only)
  hidden = 512,           -- units of the hidden layers
  k = 1,                  -- discriminator steps per generator step
  nonsat = true,          -- non-saturating G loss -log D(G(z)) (false: the minimax log(1 - D(G(z))))
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 10000,          -- training iterations (generator steps)
  eval_every = 2000,      -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/gan",       -- run folder
}, { toy = { lr = 1e-3, batch = 256, iters = 2000 } }) -- toy sets: shorter runs; a plain GAN still misses modes there

local data = gan.data.load(opt.data, opt)
local points = data.kind == "points"
local shape = data.x[1]:shape()     -- one item: (2) or (C, H, W)
local dim = data.x[1]:numel()
local h = opt.hidden

-- G maps z to a flat sample; images come out through Tanh in [-1, 1]
local G = nn.Sequential {
  nn.Linear(opt.nz, h // 2), nn.LeakyReLU(0.2),
  nn.Linear(h // 2, h), nn.LeakyReLU(0.2),
  nn.Linear(h, dim),
}
if not points then G:add(nn.Tanh()):add(nn.Reshape(shape)) end

-- D gives one logit: log D(x) = -softplus(-logit)
local D = nn.Sequential {
  nn.Flatten(),
  nn.Linear(dim, h), nn.LeakyReLU(0.2),
  nn.Linear(h, h // 2), nn.LeakyReLU(0.2),
  nn.Linear(h // 2, 1),
}

local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)
local function noise(n) return gan.randn(n, opt.nz) end

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real)
  -- k steps of ascent on V = E log D(x) + E log(1 - D(G(z))) for D
  local lossD
  for i = 1, opt.k do
    if i > 1 then real = data:next() end
    local fake = G(noise(real:size(1))):detach()
    lossD = F.logistic_d(D(real), D(fake))
    optD:step(lossD)
  end
  -- one step for G: descend log(1 - D(G(z))), or ascend log D(G(z))
  local logits = D(G(noise(opt.batch)))
  local lossG = opt.nonsat and F.logistic_g(logits) or F.logistic_g_minimax(logits)
  optG:step(lossG)
  return { D = lossD, G = lossG }
end, { noise = noise })
