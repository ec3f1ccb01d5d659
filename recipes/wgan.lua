--- WGAN — a critic estimates the Wasserstein-1 distance; weight clipping keeps it Lipschitz.
-- @paper Arjovsky, Chintala, Bottou. Wasserstein GAN. 2017. arXiv:1701.07875
-- @year 2017
-- @ja 要点: JSダイバージェンスは分布の台が重ならないと log 2 で飽和し勾配が消えるが、Wasserstein距離(Earth Mover's距離)は連続で勾配が残る。
-- @ja Kantorovich-Rubinstein双対により W = max_{|f|_L<=1} E[f(x)] - E[f(G(z))]。識別器はシグモイドのない「クリティック」fで、1-リプシッツ性を重みクリッピング(±0.01)で保つ。
-- @ja クリティックを n_critic=5 回更新してからGを1回。モーメンタムのない RMSprop(lr 5e-5)。クリティックの値 E[f(x)]-E[f(G(z))] が学習の進みを表す(損失が品質と相関する)。
-- @en Key points: the JS divergence saturates at log 2 when the supports do not overlap and its gradient vanishes; the Wasserstein (earth mover's) distance stays continuous and keeps a gradient.
-- @en By Kantorovich-Rubinstein duality W = max over 1-Lipschitz f of E f(x) - E f(G(z)); the discriminator becomes a critic f without a sigmoid, kept Lipschitz by clipping its weights to ±0.01.
-- @en n_critic = 5 critic steps per generator step; RMSprop (no momentum) with lr 5e-5. The critic's estimate E f(x) - E f(G(z)) tracks training progress (a loss that correlates with quality).

local gan = require "gan"
local F = gan.F

local opt = gan.options({
  data = "fashion-mnist", -- fashion-mnist, a folder of images, or a toy set: 8gaussians, 25gaussians
  size = 32,              -- image size: 16, 32, 64 (a power of two)
  nf = 32,                -- feature maps of G's last and D's first conv layer (images)
  hidden = 256,           -- units of the MLPs' hidden layers (toy sets)
  norm = "batch",         -- critic normalisation: batch (the paper's DCGAN critic), layer or none
  clip = 0.01,            -- critic weights are clipped to [-clip, clip] after each step
  n_critic = 5,           -- critic steps per generator step
  warmup = 25,            -- the first N generator steps (and every 500th) take 100 critic steps (0: never)
  lr = 5e-5,              -- RMSprop learning rate
  iters = 4000,           -- training iterations (generator steps)
  eval_every = 250,       -- quick evaluation (FD, precision, recall, coverage on 2000 samples) every N iterations
  out = "runs/wgan",      -- run folder
}, { toy = { lr = 3e-4, clip = 0.1, batch = 256 } }) -- toy sets: a looser clip and a higher rate (still 1 to 5 of 8 modes: README)
if opt.clip <= 0 then error("--clip must be > 0", 0) end
if opt.n_critic < 1 then error("--n_critic must be >= 1", 0) end
if opt.norm == "spectral" then error("--norm must be batch, layer or none (spectral would undo the clipping)", 0) end

local data = gan.data.load(opt.data, opt)
local G, noise = gan.nets.generator(data, opt)
local D = gan.nets.discriminator(data, opt, { norm = opt.norm })
local optG, optD = gan.optim.RMSprop(G, { lr = opt.lr }), gan.optim.RMSprop(D, { lr = opt.lr })
local weights = D:parameters()

local function clip()
  for _, p in ipairs(weights) do p:clamp_(-opt.clip, opt.clip) end
end
clip()

-- the mean estimate between two evaluations goes into eval.csv next to FD
local w_mean = gan.metrics.mean_between("W_mean")

local run = gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real, step)
  -- the critic: ascend E f(x) - E f(G(z)) (descend its negative), then clip
  local k = opt.n_critic
  if opt.warmup > 0 and (step <= opt.warmup or step % 500 == 0) then k = 100 end
  local lossD
  for i = 1, k do
    if i > 1 then real = data:next() end
    lossD = F.wasserstein_d(D(real), D(G(noise(real:size(1))):detach()))
    optD:step(lossD)
    clip()
  end
  -- the generator: descend -E f(G(z))
  local lossG = F.wasserstein_g(D(G(noise(opt.batch))))
  optG:step(lossG)
  local w = -lossD:item()                           -- the critic's estimate of the Wasserstein distance
  w_mean:add(w)
  return { D = lossD, G = lossG, W = w }
end, { noise = noise, eval = w_mean.eval })

-- Does the critic's estimate track sample quality? Pearson's r between the mean estimate and FD
-- over the quick evaluations in eval.csv (the paper's claim: W falls as the samples improve).
gan.metrics.track_fd(run.out, "W_mean", "w_vs_fd.txt")
