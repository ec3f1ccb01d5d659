--- CycleGAN — unpaired image-to-image translation with cycle consistency.
-- @paper Zhu, Park, Isola, Efros. Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks. 2017. arXiv:1703.10593
-- @year 2017
-- @ja 要点: 対になっていない2つの画像集合A・Bの間の変換を学ぶ。生成器 G: A→B と F: B→A、識別器 D_A・D_B の4つのネットワーク。
-- @ja サイクル一貫性損失 ‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁ (λ=10) が写像を制約し、恒等損失 ‖G(b) − b‖₁ (0.5λ) が色や形を保つ。
-- @ja 敵対的損失は最小二乗 (LSGAN)。GはResNet (反射パディング・インスタンス正規化)、DはPatchGAN (70×70のパッチごとに真偽)。
-- @ja 識別器は過去の生成画像50枚のプールからも学ぶ。Adam(2e-4, β1=0.5)、学習率は前半一定・後半で0まで線形減衰。
-- @en Key points: learns a translation between two unpaired image sets A and B with two generators G: A→B, F: B→A and two discriminators D_A, D_B.
-- @en The cycle-consistency loss ‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁ (λ = 10) constrains the mappings; the identity loss ‖G(b) − b‖₁ (0.5 λ) keeps colours and shapes.
-- @en Least-squares adversarial loss (LSGAN); a ResNet generator (reflection padding, instance norm) and a PatchGAN discriminator (real or fake per 70×70 patch).
-- @en D also learns from a pool of 50 earlier fakes; Adam (2e-4, β1 = 0.5); the learning rate is constant, then falls linearly to 0 over the second half.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist (sneakers A <-> ankle boots B), or a folder DIR/trainA, trainB, testA, testB
  classes_a = { 7 },      -- Fashion-MNIST classes of domain A (7: sneaker)
  classes_b = { 9 },      -- Fashion-MNIST classes of domain B (9: ankle boot)
  size = 32,              -- image size after the random crop (the paper: 256)
  load_size = 0,          -- images are resized to this before the crop (0: size; the paper: 286)
  flip = true,            -- mirror training images left-right at random
  channels = 3,           -- channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)
  batch = 8,              -- minibatch size (the paper: 1)
  nf = 16,                -- feature maps of G's first layer (the paper: 64)
  blocks = 6,             -- residual blocks in G (the paper: 9 at 256 px, 6 at 128 px)
  ndf = 32,               -- feature maps of D's first layer (the paper: 64)
  d_layers = 2,           -- D's stride-2 layers: 3 judges 70x70 patches, 2 34x34, 1 16x16
  lambda = 10.0,          -- weight of the cycle-consistency loss
  identity = 0.5,         -- weight of the identity loss, as a multiple of lambda (0: none)
  pool = 50,              -- earlier fakes kept for D (0: D sees only the latest)
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  decay = 0.5,            -- share of the run, at its end, over which the rate falls linearly to 0
  iters = 4000,           -- training iterations
  eval_every = 1000,      -- translate the test split and measure every N iterations (0: never)
  test = false,           -- translate testA and testB with the run's checkpoint into OUT/results/
  out = "runs/cyclegan",  -- run folder
}
if opt.size % 4 ~= 0 then error("--size must be a multiple of 4 (G halves it twice)", 0) end
if opt.decay < 0 or opt.decay > 1 then error("--decay must be in [0, 1]", 0) end
if opt.blocks < 0 or opt.nf < 1 or opt.ndf < 1 or opt.d_layers < 1 then
  error("--nf and --ndf must be >= 1, --blocks >= 0, --d_layers >= 1", 0)
end
if opt.lambda < 0 or opt.identity < 0 then error("--lambda and --identity must be >= 0", 0) end

local data = gan.data.unpaired(opt.data, opt)
local test, have_test, why = gan.translate.test_split(opt, data)
local C = data.A:items(1, 1):size(2)

-- G_AB: A -> B and G_BA: B -> A; D_A judges A images, D_B judges B images
local function generator() return gan.nets.resnet.Generator(C, C, { nf = opt.nf, blocks = opt.blocks }):apply(nn.init.dcgan) end
local function critic() return gan.nets.patch.Discriminator(C, { nf = opt.ndf, n_layers = opt.d_layers }):apply(nn.init.dcgan) end
local G_AB, G_BA, D_A, D_B = generator(), generator(), critic(), critic()
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam({ G_AB, G_BA }, adam), gan.optim.Adam({ D_A, D_B }, adam)
local hold = math.floor(opt.iters * (1 - opt.decay) + 0.5)
local linear = { hold = hold, decay = opt.iters - hold }
local schedG = gan.optim.schedule.constant_then_linear(optG, linear)
local schedD = gan.optim.schedule.constant_then_linear(optD, linear)
local poolA, poolB = gan.pool.ImagePool(opt.pool), gan.pool.ImagePool(opt.pool)
local state = { G_AB = G_AB, G_BA = G_BA, D_A = D_A, D_B = D_B, optG = optG, optD = optD, schedG = schedG,
  schedD = schedD, poolA = poolA, poolB = poolB, data = data }

local function step(batch)
  local a, b = batch.A, batch.B
  -- G: fool both critics (least squares), come back where it started, leave the other domain alone
  local fake_b, fake_a = G_AB(a), G_BA(b)
  local adv = F.mse(D_B(fake_b), 1) + F.mse(D_A(fake_a), 1)
  local cycle = F.l1(G_BA(fake_b), a) + F.l1(G_AB(fake_a), b)
  local lossG = adv + cycle * opt.lambda
  local idt
  if opt.identity > 0 then
    idt = F.l1(G_AB(b), b) + F.l1(G_BA(a), a)
    lossG = lossG + idt * (opt.lambda * opt.identity)
  end
  optG:step(lossG)
  -- D: real images against fakes from the pool, halved so D learns at half G's rate
  local pa, pb = poolA:query(fake_a), poolB:query(fake_b)
  local lossD_A = (F.mse(D_A(a), 1) + F.mse(D_A(pa), 0)) * 0.5
  local lossD_B = (F.mse(D_B(b), 1) + F.mse(D_B(pb), 0)) * 0.5
  optD:step(lossD_A + lossD_B)
  local lr = optG.lr -- the rate of this step; the schedules set the next one
  schedG:step()
  schedD:step()
  return { G = adv, cycle = cycle, idt = idt, D_A = lossD_A, D_B = lossD_B, lr = lr }
end

-- train; with --test, translate the whole test split with the trained networks
gan.translate.train(opt, state, step, test, G_AB, G_BA,
  { have_test = have_test, why = why, same = "--nf, --blocks, --ndf, --d_layers, --size" })
