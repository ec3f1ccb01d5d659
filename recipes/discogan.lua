--- DiscoGAN — two coupled encoder-decoder GANs discover relations between unpaired domains.
-- @paper Kim, Cha, Kim, Lee, Kim. Learning to Discover Cross-Domain Relations with Generative Adversarial Networks. 2017. arXiv:1703.05192
-- @year 2017
-- @ja 要点: 対のない2つのドメインA・Bの間に、生成器 G_AB: A→B と G_BA: B→A、識別器 D_A・D_B を置く。生成器は畳み込みのエンコーダと転置畳み込みのデコーダ(ボトルネックあり)。
-- @ja 再構成損失 d(G_BA(G_AB(x_A)), x_A) (距離はL2、L1、Huberのいずれか)を両方向に課し、1対1対応(全単射)を促してモード崩壊を防ぐ。
-- @ja 敵対的損失は標準のGAN(シグモイド交差エントロピー)。論文のコードでは識別器の中間特徴の平均を本物と揃える特徴マッチングを併用する。
-- @ja CycleGAN(同時期)と同じ構造だが、ボトルネックのある生成器で形の変化を許す。Adam(2e-4, β1=0.5)、BatchNorm、LeakyReLU。
-- @en Key points: between two unpaired domains A and B, generators G_AB: A→B and G_BA: B→A and discriminators D_A, D_B; each generator is a convolutional encoder and a transposed-convolution decoder with a bottleneck.
-- @en A reconstruction loss d(G_BA(G_AB(x_A)), x_A) (d: L2, L1 or Huber) in both directions pushes towards a one-to-one (bijective) mapping and keeps the generators from collapsing.
-- @en The standard GAN loss (sigmoid cross-entropy); the paper's code adds feature matching: D's mean intermediate features on fakes are matched to those on real images.
-- @en The same structure as CycleGAN (same year), but the bottleneck lets shapes change. Adam (2e-4, β1 = 0.5), batch norm, LeakyReLU.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist (sneakers A <-> ankle boots B), or a folder DIR/trainA, trainB, testA, testB
  size = 32,              -- image size: a power of two >= 16 (the paper: 64)
  flip = true,            -- mirror training images left-right at random
  batch = 16,             -- minibatch size (the paper's code: 64)
  nf = 32,                -- feature maps of G's first layer; they double at each halving (the paper: 64)
  ndf = 32,               -- feature maps of D's first layer (the paper: 64)
  recon = "mse",          -- reconstruction distance: mse (the paper's L2) or l1
  lambda = 1.0,           -- weight of the reconstruction losses (the paper: 1)
  fm = 0.9,               -- share of G's adversarial term given to feature matching (the paper's code: 0.9; 0: plain GAN loss)
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  weight_decay = 1e-5,    -- L2 weight decay (the paper's code: 1e-5)
  iters = 2000,           -- training iterations
  eval_every = 1000,      -- translate the test split and measure every N iterations (0: never)
  test = false,           -- translate testA and testB with the run's checkpoint into OUT/results/
  out = "runs/discogan",  -- run folder
}
local downs = math.floor(math.log(opt.size, 2) + 0.5) - 2   -- halvings down to 4x4
if opt.size < 16 or 4 * 2 ^ downs ~= opt.size then error("--size must be a power of two >= 16", 0) end
if opt.nf < 1 or opt.ndf < 1 then error("--nf and --ndf must be >= 1", 0) end
if opt.recon ~= "mse" and opt.recon ~= "l1" then error("--recon must be mse or l1", 0) end
if opt.fm < 0 or opt.fm > 1 then error("--fm must be in [0, 1]", 0) end
if opt.lambda < 0 then error("--lambda must be >= 0", 0) end

local data = gan.data.unpaired(opt.data, opt)
local test, have_test, why = gan.translate.test_split(opt, data)
local C = data.A:items(1, 1):size(2)

-- G: stride-2 4x4 convolutions down to 4x4 (LeakyReLU, batch norm but on the first), then
-- transposed convolutions back up (ReLU, batch norm but on the last, Tanh)
local function generator()
  local G, ch = nn.Sequential { nn.Conv2d(C, opt.nf, 4, 2, 1, { bias = false }), nn.LeakyReLU(0.2) }, opt.nf
  for _ = 2, downs do
    G:add(nn.Conv2d(ch, ch * 2, 4, 2, 1, { bias = false })):add(nn.BatchNorm2d(ch * 2)):add(nn.LeakyReLU(0.2))
    ch = ch * 2
  end
  for _ = 2, downs do
    G:add(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, { bias = false })):add(nn.BatchNorm2d(ch // 2)):add(nn.ReLU())
    ch = ch // 2
  end
  return G:add(nn.ConvTranspose2d(ch, C, 4, 2, 1, { bias = false })):add(nn.Tanh()):apply(nn.init.dcgan)
end

-- D: the same encoder, then one logit; its stages' outputs are the features matched
local function critic()
  local stages, ch = { nn.Sequential { nn.Conv2d(C, opt.ndf, 4, 2, 1, { bias = false }), nn.LeakyReLU(0.2) } }, opt.ndf
  for _ = 2, downs do
    stages[#stages + 1] = nn.Sequential { nn.Conv2d(ch, ch * 2, 4, 2, 1, { bias = false }), nn.BatchNorm2d(ch * 2),
      nn.LeakyReLU(0.2) }
    ch = ch * 2
  end
  stages[#stages + 1] = nn.Sequential { nn.Conv2d(ch, 1, 4, 1, 0, { bias = false }), nn.Flatten() }
  return nn.Sequential(stages):apply(nn.init.dcgan)
end
-- D's logits and the features of its hidden stages
local function judge(D, x)
  local feats = {}
  for i = 1, D:size() - 1 do
    x = D:get(i)(x)
    feats[i] = x
  end
  return D:get(D:size())(x), feats
end
-- squared distance between the batch means of two feature lists, summed over stages
local function feature_matching(real, fake)
  local loss = 0
  for i = 1, #real do loss = loss + F.mse(fake[i]:mean(1), real[i]:detach():mean(1)) end
  return loss
end

local distance = opt.recon == "mse" and F.mse or F.l1

local G_AB, G_BA, D_A, D_B = generator(), generator(), critic(), critic()
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 }, weight_decay = opt.weight_decay }
local optG, optD = gan.optim.Adam({ G_AB, G_BA }, adam), gan.optim.Adam({ D_A, D_B }, adam)
local state = { G_AB = G_AB, G_BA = G_BA, D_A = D_A, D_B = D_B, optG = optG, optD = optD, data = data }

local function step(batch)
  local a, b = batch.A, batch.B
  local fake_b, fake_a = G_AB(a), G_BA(b)
  -- G: fool both critics (and match their features on real images), and come back where it started
  local out_b, feat_b = judge(D_B, fake_b)
  local out_a, feat_a = judge(D_A, fake_a)
  local real_b_out, real_b_feat = judge(D_B, b)
  local real_a_out, real_a_feat = judge(D_A, a)
  local adv = F.bce_logits(out_b, 1) + F.bce_logits(out_a, 1)
  local fm = feature_matching(real_b_feat, feat_b) + feature_matching(real_a_feat, feat_a)
  local rec = distance(G_BA(fake_b), a) + distance(G_AB(fake_a), b)
  optG:step(adv * (1 - opt.fm) + fm * opt.fm + rec * opt.lambda)
  -- D: real images against the latest fakes
  local lossD_A = F.bce_logits(D_A(a), 1) + F.bce_logits(D_A(fake_a:detach()), 0)
  local lossD_B = F.bce_logits(D_B(b), 1) + F.bce_logits(D_B(fake_b:detach()), 0)
  optD:step(lossD_A + lossD_B)
  return { G = adv, fm = fm, rec = rec, D_A = lossD_A, D_B = lossD_B,
    ["D(x)"] = (real_a_out:sigmoid():mean() + real_b_out:sigmoid():mean()) * 0.5 }
end

-- train; with --test, translate the whole test split with the trained networks
gan.translate.train(opt, state, step, test, G_AB, G_BA, { have_test = have_test, why = why, same = "--nf, --size" })
