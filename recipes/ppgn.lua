--- PPGN — Plug & Play Generative Networks: class-conditional samples from an unconditional G and a classifier.
-- @paper Nguyen, Clune, Bengio, Dosovitskiy, Yosinski. Plug & Play Generative Networks: Conditional Iterative Generation of Images in Latent Space. 2016. arXiv:1612.00005
-- @year 2016
-- @ja 要点: 条件なしの生成器Gと、別に学習した条件ネットワーク(分類器)Cを「差し込んで」組み合わせ、潜在空間でのMCMC(ランジュバン的な反復)でクラスyの画像を生成する。
-- @ja 更新式 h ← h + ε1·∂log p(h)/∂h + ε2·∂log C_y(G(h))/∂h + N(0, ε3²)。ε1項は事前分布(DAEやGの潜在分布)に引き戻し、ε2項はクラスyらしくし、ε3項は多様性のための雑音。Gを学習し直さずに条件を差し替えられる。
-- @en Key points: an unconditional generator G and a separately trained condition network (a classifier C) are plugged together; images of class y come from an MCMC-like (Langevin) iteration in latent space.
-- @en Update h <- h + ε1·d log p(h)/dh + ε2·d log C_y(G(h))/dh + N(0, ε3²): the ε1 term pulls towards the prior (a DAE, or G's latent prior), the ε2 term towards class y, the ε3 noise keeps samples diverse. The condition is swapped without retraining G.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  checkpoint = "runs/dcgan/checkpoint.safetensors", -- the unconditional G: a DCGAN checkpoint (trained here when absent)
  train_iters = 2000,     -- iterations of the DCGAN trained when the checkpoint is absent
  train_nf = 64,          -- feature maps of the DCGAN trained when the checkpoint is absent
  batch = 64,             -- minibatch size of the condition network's training
  lr = 1e-3,              -- Adam learning rate of the condition network
  iters = 600,            -- training iterations of the condition network C
  nf = 16,                -- feature maps of C's first layer
  steps = 40,             -- sampling iterations in latent space
  eps1 = 0.05,            -- ε1: weight of the prior's gradient, -h for G's N(0, I) latent prior
  eps2 = 0.5,             -- ε2: weight of the condition's gradient d log C_y(G(h))/dh
  eps3 = 0.05,            -- ε3: std of the noise added at each iteration
  eval_samples = 1000,    -- samples drawn by the final evaluation (each takes `steps` iterations)
  out = "runs/ppgn",      -- run folder
}
if opt.steps < 0 then error("--steps must be >= 0", 0) end
if opt.eps1 < 0 or opt.eps2 < 0 or opt.eps3 < 0 then error("--eps1, --eps2 and --eps3 must be >= 0", 0) end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))

-- the generator: unconditional, trained elsewhere, never changed here
local ckpt = gan.recipes.checkpoint(opt.checkpoint, "dcgan", {
  iters = opt.train_iters, nf = opt.train_nf, batch = opt.batch, seed = opt.seed, threads = opt.threads,
  limit = opt.limit, data = opt.data, size = opt.size, sample_every = opt.train_iters, save_every = 0, eval = false,
  out = opt.out .. "/dcgan",
})
local G, info = gan.pretrained.dcgan(ckpt)
print(("G from %s (step %s): nz %d, %dx%d"):format(info.path, info.step, info.nz, info.size, info.size))

-- the condition network: a small classifier of our own (the measuring classifier, gan.metrics, stays independent)
local data = gan.data.load("fashion-mnist", gan.options.with(opt, { size = info.size }), { labels = true })
local K = 10
local pool = nn.Lambda(function(x) return x:max_pool2d(2) end, "max_pool2d(2)")
local f = opt.nf
local Cnet = nn.Sequential {
  nn.Conv2d(info.channels, f, 3, 1, 1), nn.ReLU(), pool,
  nn.Conv2d(f, f * 2, 3, 1, 1), nn.ReLU(), pool,
  nn.Conv2d(f * 2, f * 4, 3, 1, 1), nn.ReLU(), pool,
  nn.Flatten(), nn.Linear(f * 4 * (info.size // 8) ^ 2, K),
}
local optC = gan.optim.Adam(Cnet, { lr = opt.lr })

-- class-conditional sampling in G's latent space, starting from draws of its prior N(0, I)
local function ppgn(h, y)
  for _ = 1, opt.steps do
    h = h:detach():requires_grad(true)
    local logp = Cnet(G(h)):log_softmax(2):gather(2, y:unsqueeze(2)):sum()
    local g = gan.grad(logp, h)
    h = h - h * opt.eps1 + g * opt.eps2 + gan.randn(h:shape()) * opt.eps3
  end
  return G(h:detach())
end
local sample = gan.labels.sampler(function(h, y) return gan.enable_grad(ppgn, h, y) end, K,
  function(n) return gan.randn(n, info.nz, 1, 1) end, 250)

gan.train(opt, { C = Cnet, optC = optC, data = data }, function(batch)
  local x, y = batch[1], batch[2]
  local logits = Cnet(x)
  local loss = F.cross_entropy(logits, y)
  optC:step(loss)
  return { loss = loss, acc = logits:argmax(2):eq(y):float():mean() }
end, { sample = sample, sample_count = K * K })
