--- Improved GAN — feature matching, minibatch discrimination, historical averaging, one-sided label smoothing, virtual batch norm.
-- @paper Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen. Improved Techniques for Training GANs. 2016. arXiv:1606.03498
-- @year 2016
-- @ja 要点: 特徴マッチング(Gは識別器の中間特徴の平均 E f(x) に E f(G(z)) を合わせる)、ミニバッチ識別(バッチ内のサンプル間距離をDに見せてモード崩壊を防ぐ)、
-- @ja 履歴平均(パラメータの過去平均からの距離 ||θ - 平均||² を損失に加える)、片側ラベル平滑化(本物のラベルだけ0.9にする)、仮想バッチ正規化(学習開始時に固定した参照バッチの統計で正規化)。
-- @en Key points: feature matching (G matches the mean E f(G(z)) of an intermediate layer of D to E f(x)); minibatch discrimination (D sees distances between the samples of a batch, against mode collapse);
-- @en historical averaging (the distance ||θ - past average||² joins the cost); one-sided label smoothing (only real labels become 0.9); virtual batch norm (statistics of a reference batch fixed at the start).

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist",   -- fashion-mnist, a folder of images, or a toy set: 8gaussians, 25gaussians
  size = 32,                -- image size: 16, 32, 64 (images only)
  channels = 1,             -- channels of images from a folder: 1 gray, 3 RGB
  feature_matching = false, -- G matches the mean of D's features on real data instead of fooling D
  minibatch = true,         -- minibatch discrimination in D
  mb_kernels = 32,          -- minibatch discrimination: number of kernels B
  mb_dims = 8,              -- minibatch discrimination: size C of each kernel
  hist_weight = 0.0,        -- weight of historical averaging ||θ - average||² in both costs (0: off)
  smooth = 0.1,             -- one-sided label smoothing: D's target for real data is 1 - smooth (0: off)
  vbn = false,              -- virtual batch norm in G instead of batch norm
  ref_batch = 32,           -- size of VBN's reference batch (noise fixed at the start, kept in checkpoints)
  nf = 32,                  -- feature maps of G's last and D's first layer (images)
  hidden = 256,             -- units of the hidden layers (points)
  lr = 2e-4,                -- Adam learning rate
  beta1 = 0.5,              -- Adam beta1
  iters = 5000,             -- training iterations
  out = "runs/improved",    -- run folder
}
if opt.smooth < 0 or opt.smooth >= 1 then error("--smooth must be in [0, 1)", 0) end
if opt.hist_weight < 0 then error("--hist_weight must be >= 0", 0) end
if opt.mb_kernels < 1 or opt.mb_dims < 1 then error("--mb_kernels and --mb_dims must be >= 1", 0) end
if opt.vbn and opt.ref_batch < 2 then error("--ref_batch must be >= 2", 0) end

local data = gan.data.load(opt.data, opt)
local vbn = opt.vbn and { norm = function(c) return nn.VirtualBatchNorm(c) end, bias = false } or nil
local G, noise = gan.nets.generator(data, opt, vbn)
if opt.vbn then G = nn.ReferenceBatch(G, noise(opt.ref_batch)) end   -- every G(z) runs on [z_ref; z]

-- D = head(features(x)): the features are what feature matching matches
local features, nfeat = gan.nets.features(data, opt)
local head = nn.Sequential()
if opt.minibatch then
  head:add(nn.MinibatchDiscrimination(nfeat, opt.mb_kernels, opt.mb_dims))
  nfeat = nfeat + opt.mb_kernels
end
head:add(nn.Linear(nfeat, 1))
local D = nn.Sequential { features, head }

local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local state = { G = G, D = D, optG = gan.optim.Adam(G, adam), optD = gan.optim.Adam(D, adam), data = data }
if opt.hist_weight > 0 then state.histG, state.histD = gan.historical(G), gan.historical(D) end
local function with_history(loss, hist)
  if hist then return loss + hist:penalty() * opt.hist_weight end
  return loss
end

gan.train(opt, state, function(real)
  local fake = G(noise(real:size(1)))
  -- D: real and generated samples in separate batches (minibatch discrimination compares within one)
  local f_real = features(real)
  local d_real, d_fake = head(f_real), D(fake:detach())
  local lossD = F.bce_logits(d_real, 1 - opt.smooth) + F.bce_logits(d_fake, 0)
  state.optD:step(with_history(lossD, state.histD))
  local lossG
  if opt.feature_matching then
    -- || E f(x) - E f(G(z)) ||^2 on D's last hidden layer
    lossG = (f_real:detach():mean(1) - features(fake):mean(1)):square():sum()
  else
    lossG = F.bce_logits(D(fake), 1)
  end
  state.optG:step(with_history(lossG, state.histG))
  if state.histD then state.histD:update(); state.histG:update() end
  return { D = lossD, G = lossG, ["D(x)"] = d_real:sigmoid():mean(), ["D(G(z))"] = d_fake:sigmoid():mean() }
end, { noise = noise })
