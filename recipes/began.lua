--- BEGAN — an autoencoder as discriminator, kept in equilibrium with the generator.
-- @paper Berthelot, Schumm, Metz. BEGAN: Boundary Equilibrium Generative Adversarial Networks. 2017. arXiv:1703.10717
-- @year 2017
-- @ja 要点: Dはオートエンコーダで、再構成誤差 L(v)=|v-D(v)| を実画像では小さく、生成画像では大きくする: L_D = L(x) - k_t L(G(z))、L_G = L(G(z))。
-- @ja 比例制御 k_{t+1} = k_t + λ_k(γL(x) - L(G(z))) (λ_k=0.001、kは[0,1])で均衡 E[L(G(z))] = γE[L(x)] を保つ。γ(多様性比)が小さいほど多様性より画質を重視。収束指標 M = L(x) + |γL(x) - L(G(z))| が学習の進み具合を示す。
-- @en Key points: D is an autoencoder with reconstruction loss L(v) = |v - D(v)|, made small on real and large on generated images: L_D = L(x) - k_t L(G(z)), L_G = L(G(z)).
-- @en A proportional control k_{t+1} = k_t + λ_k (γ L(x) - L(G(z))) (λ_k = 0.001, k in [0, 1]) holds the equilibrium E[L(G(z))] = γ E[L(x)]; a lower γ (the diversity ratio) favours quality over diversity. The convergence measure M = L(x) + |γ L(x) - L(G(z))| tracks progress.

local gan = require "gan"
local nn = gan.nn

local opt = gan.options({
  data = "fashion-mnist", -- fashion-mnist, a folder of images, or a toy set: 8gaussians, 25gaussians
  size = 32,              -- image size: 32 or 64 (images only)
  channels = 1,           -- channels of images from a folder: 1 gray, 3 RGB
  nz = 64,                -- dimension of the noise z, uniform in [-1, 1]
  nh = 64,                -- dimension of the autoencoder's code h
  nf = 32,                -- feature maps n of the convolutions (images; the encoder grows them n, 2n, 3n, ...)
  g_bn = true,            -- batch norm after G's convolutions (images; the paper's G has none)
  hidden = 256,           -- units of the hidden layers (points)
  gamma = 1.0,            -- diversity ratio γ = E[L(G(z))] / E[L(x)] at equilibrium (the paper: 0.3 to 0.7 on faces)
  lambda_k = 0.01,        -- learning rate λ_k of the control variable k (the paper: 0.001)
  lr = 1e-4,              -- Adam learning rate
  batch = 16,             -- minibatch size (the paper: 16)
  beta1 = 0.5,            -- Adam beta1
  lr_halve = 0,           -- halve the learning rates every N steps (0: never)
  iters = 5000,           -- training iterations
  out = "runs/began",     -- run folder
}, { toy = { nh = 1, gamma = 0.5, lambda_k = 0.01, lr = 1e-3, batch = 256, iters = 2000 } }) -- toy sets: a 1-D code, or D reconstructs any point
if opt.gamma <= 0 or opt.gamma > 1 then error("--gamma must be in (0, 1]", 0) end
if opt.lambda_k < 0 then error("--lambda_k must be >= 0", 0) end
if opt.size < 16 or 8 * 2 ^ math.floor(math.log(opt.size / 8, 2) + 0.5) ~= opt.size then
  error("--size must be 16, 32, 64 or a larger power of two", 0)
end

local data = gan.data.load(opt.data, opt)
local points = data.kind == "points"
local elu = function() return nn.ELU() end

-- images: the decoder maps h (or z) to 8x8xn, then 3x3 convolutions and nearest-neighbour
-- upsampling to size x size; the encoder mirrors it with stride-2 convolutions down to 8x8.
-- With bn, each hidden convolution is followed by batch norm (G only: D stays the paper's).
local function decoder(nin, bn)
  if points then return gan.nets.mlp({ nin, opt.hidden, opt.hidden, data.x:size(2) }, { act = elu }) end
  local n, C = opt.nf, data.x:size(2)
  local net = nn.Sequential { nn.Linear(nin, 8 * 8 * n), nn.Reshape(n, 8, 8) }
  local function conv()
    net:add(nn.Conv2d(n, n, 3, 1, 1))
    if bn then net:add(nn.BatchNorm2d(n)) end
    net:add(nn.ELU())
  end
  local s = 8
  while true do
    conv(); conv()
    if s == opt.size then break end
    net:add(nn.Upsample(2))
    s = s * 2
  end
  return net:add(nn.Conv2d(n, C, 3, 1, 1))
end

local function encoder()
  if points then return gan.nets.mlp({ data.x:size(2), opt.hidden, opt.hidden, opt.nh }, { act = elu }) end
  local n, C = opt.nf, data.x:size(2)
  local net = nn.Sequential { nn.Conv2d(C, n, 3, 1, 1), nn.ELU() }
  local c, s = n, opt.size
  while true do
    net:add(nn.Conv2d(c, c, 3, 1, 1)):add(nn.ELU())
    if s == 8 then break end
    net:add(nn.Conv2d(c, c + n, 3, 2, 1)):add(nn.ELU())    -- subsample, n more feature maps
    c, s = c + n, s // 2
  end
  return net:add(nn.Flatten()):add(nn.Linear(c * 8 * 8, opt.nh))
end

local G = decoder(opt.nz, opt.g_bn)
local D = nn.Sequential { encoder(), decoder(opt.nh) }   -- an autoencoder
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)
local function noise(n) return gan.uniform({ n, opt.nz }, -1, 1) end

-- L(v): the mean absolute reconstruction error
local function L(v) return (D(v) - v):abs():mean() end

local state = { G = G, D = D, optG = optG, optD = optD, data = data, k = 0.0 }
if opt.lr_halve > 0 then
  state.schedG = gan.optim.schedule.step(optG, { every = opt.lr_halve, gamma = 0.5 })
  state.schedD = gan.optim.schedule.step(optD, { every = opt.lr_halve, gamma = 0.5 })
end

-- the mean of M between two evaluations goes into eval.csv next to FD
local m_mean = gan.metrics.mean_between("M_mean")

local run = gan.train(opt, state, function(real)
  local fake = G(noise(real:size(1)))
  local l_real = L(real)
  local lossD = l_real - L(fake:detach()) * state.k
  optD:step(lossD)
  local l_fake = L(fake)
  optG:step(l_fake)
  -- the proportional control of k towards E[L(G(z))] = γ E[L(x)], and the convergence measure
  local lr, lf = l_real:item(), l_fake:item()
  local balance = opt.gamma * lr - lf
  state.k = math.min(1, math.max(0, state.k + opt.lambda_k * balance))
  if state.schedG then state.schedG:step(); state.schedD:step() end
  local M = lr + math.abs(balance)
  m_mean:add(M)
  return { D = lossD, G = l_fake, L_real = lr, k = state.k, M = M }
end, { noise = noise, eval = m_mean.eval })

-- Does M track sample quality, as the paper says? Pearson's r between its mean and FD over the
-- quick evaluations in eval.csv (--eval_every).
gan.metrics.track_fd(run.out, "M_mean", "m_vs_fd.txt")
