--- UNIT — unsupervised image-to-image translation through a latent space shared by two VAE-GANs.
-- @paper Liu, Breuel, Kautz. Unsupervised Image-to-Image Translation Networks. 2017. arXiv:1703.00848
-- @year 2017
-- @ja 要点: 共有潜在空間の仮定: 2つのドメインの対応する画像は同じ潜在コードzを持つ。ドメインごとにVAE(エンコーダE_i、生成器G_i)とGANの識別器D_iを置く。
-- @ja 重み共有: エンコーダの最後の層と生成器の最初の層を2つのドメインで共有し、潜在空間を揃える。変換は x_A → E_A → z → G_B。
-- @ja 損失: VAE(再構成L1 λ2=100 + KL λ1=0.1; z = μ + 単位分散のノイズ)、変換画像へのGAN損失(λ0=10)、潜在空間を通るサイクル一貫性(KL λ3=0.1 + 再構成 λ4=100)。
-- @ja CycleGANのサイクル損失に、VAEの再構成と潜在空間の共有という制約を加えたもの。Adam(β1=0.5)。
-- @en Key points: the shared-latent-space assumption: corresponding images of the two domains have the same latent code z. Each domain has a VAE (encoder E_i, generator G_i) and a GAN discriminator D_i.
-- @en Weight sharing: the last encoder layers and the first generator layers are shared between the domains, which ties their latent spaces; translation is x_A → E_A → z → G_B.
-- @en Losses: VAE (L1 reconstruction λ2 = 100 + KL λ1 = 0.1, with z = μ + unit-variance noise), GAN on the translations (λ0 = 10), and cycle consistency through the latent space (KL λ3 = 0.1 + reconstruction λ4 = 100).
-- @en CycleGAN's cycle loss plus the VAE reconstructions and the shared latent space as constraints. Adam (β1 = 0.5).

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist (sneakers A <-> ankle boots B), or a folder DIR/trainA, trainB, testA, testB
  size = 32,              -- image size after the random crop: a multiple of 4
  flip = true,            -- mirror training images left-right at random
  batch = 8,              -- minibatch size (the paper: 1)
  nf = 16,                -- feature maps of E's first layer; the latent code has 4 nf at a quarter of the size (the paper: 64)
  blocks = 1,             -- residual blocks of each domain's own, in E and in G (the paper: 3)
  shared = 1,             -- residual blocks shared between the domains: at E's end and at G's start (the paper: 1)
  ndf = 32,               -- feature maps of D's first layer
  d_layers = 2,           -- D's stride-2 layers (PatchGAN)
  gan_w = 10.0,           -- λ0: weight of the GAN losses
  kl_w = 0.1,             -- λ1: weight of the VAE's KL term
  rec_w = 100.0,          -- λ2: weight of the VAE's L1 reconstruction
  cyc_kl_w = 0.1,         -- λ3: weight of the cycle's KL term
  cyc_w = 100.0,          -- λ4: weight of the cycle's L1 reconstruction
  lr = 2e-4,              -- Adam learning rate (the paper: 1e-4)
  beta1 = 0.5,            -- Adam beta1
  decay = 0.5,            -- share of the run, at its end, over which the rate falls linearly to 0
  iters = 1500,           -- training iterations
  eval_every = 500,       -- translate the test split and measure every N iterations (0: never)
  test = false,           -- translate testA and testB with the run's checkpoint into OUT/results/
  out = "runs/unit",      -- run folder
}
if opt.size % 4 ~= 0 then error("--size must be a multiple of 4 (E halves it twice)", 0) end
if opt.nf < 1 or opt.ndf < 1 or opt.d_layers < 1 then error("--nf, --ndf and --d_layers must be >= 1", 0) end
if opt.blocks < 0 or opt.shared < 1 then error("--blocks must be >= 0 and --shared >= 1", 0) end
for _, k in ipairs({ "gan_w", "kl_w", "rec_w", "cyc_kl_w", "cyc_w" }) do
  if opt[k] < 0 then error(("--%s must be >= 0"):format(k), 0) end
end
if opt.decay < 0 or opt.decay > 1 then error("--decay must be in [0, 1]", 0) end

local data = gan.data.unpaired(opt.data, opt)
local test, have_test, why = gan.translate.test_split(opt, data)
local C = data.A:items(1, 1):size(2)
local ch = 4 * opt.nf   -- channels of the latent code

-- each domain's own front of E: a 7x7 convolution and two stride-2 ones (instance norm, ReLU), residual blocks
local function encoder()
  local E = nn.Sequential {
    nn.Pad2d(3), nn.Conv2d(C, opt.nf, 7), nn.InstanceNorm2d(opt.nf), nn.ReLU(),
    nn.Conv2d(opt.nf, 2 * opt.nf, 4, 2, 1), nn.InstanceNorm2d(2 * opt.nf), nn.ReLU(),
    nn.Conv2d(2 * opt.nf, ch, 4, 2, 1), nn.InstanceNorm2d(ch), nn.ReLU(),
  }
  for _ = 1, opt.blocks do E:add(gan.nets.resnet.Block(ch)) end
  return E:apply(nn.init.dcgan)
end
-- each domain's own back of G: residual blocks, two stride-2 transposed convolutions, a 7x7 convolution, Tanh
local function decoder()
  local G = nn.Sequential()
  for _ = 1, opt.blocks do G:add(gan.nets.resnet.Block(ch)) end
  G:add(nn.ConvTranspose2d(ch, 2 * opt.nf, 4, 2, 1)):add(nn.InstanceNorm2d(2 * opt.nf)):add(nn.ReLU())
  G:add(nn.ConvTranspose2d(2 * opt.nf, opt.nf, 4, 2, 1)):add(nn.InstanceNorm2d(opt.nf)):add(nn.ReLU())
  G:add(nn.Pad2d(3)):add(nn.Conv2d(opt.nf, C, 7)):add(nn.Tanh())
  return G:apply(nn.init.dcgan)
end
local function shared()
  local S = nn.Sequential()
  for _ = 1, opt.shared do S:add(gan.nets.resnet.Block(ch)) end
  return S:apply(nn.init.dcgan)
end
local function critic()
  return gan.nets.patch.Discriminator(C, { nf = opt.ndf, n_layers = opt.d_layers }):apply(nn.init.dcgan)
end

local E_A, E_B, E_shared = encoder(), encoder(), shared()   -- E_i(x) = E_shared(E_i's own layers(x))
local G_A, G_B, G_shared = decoder(), decoder(), shared()   -- G_i(z) = G_i's own layers(G_shared(z))
local D_A, D_B = critic(), critic()
local function encode(E, x) return E_shared(E(x)) end
local function decode(G, z) return G(G_shared(z)) end
-- z = μ + ε, ε ~ N(0, I): the encoder gives the mean of a Gaussian of unit variance
local function draw(mu) return mu + gan.randn(table.unpack(mu:shape())) end
-- KL(N(μ, I) || N(0, I)) up to the constant factor: the mean of μ²
local function kl(mu) return mu:square():mean() end

local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG = gan.optim.Adam({ E_A, E_B, E_shared, G_A, G_B, G_shared }, adam)
local optD = gan.optim.Adam({ D_A, D_B }, adam)
local hold = math.floor(opt.iters * (1 - opt.decay) + 0.5)
local linear = { hold = hold, decay = opt.iters - hold }
local schedG = gan.optim.schedule.constant_then_linear(optG, linear)
local schedD = gan.optim.schedule.constant_then_linear(optD, linear)
local state = { E_A = E_A, E_B = E_B, E_shared = E_shared, G_A = G_A, G_B = G_B, G_shared = G_shared, D_A = D_A,
  D_B = D_B, optG = optG, optD = optD, schedG = schedG, schedD = schedD, data = data }

local function step(batch)
  local a, b = batch.A, batch.B
  -- VAE: each domain through the shared space and back
  local mu_a, mu_b = encode(E_A, a), encode(E_B, b)
  local z_a, z_b = draw(mu_a), draw(mu_b)
  local rec = F.l1(decode(G_A, z_a), a) + F.l1(decode(G_B, z_b), b)
  local vae_kl = kl(mu_a) + kl(mu_b)
  -- GAN: the translations should fool the other domain's critic (least squares, as the authors' code)
  local ab, ba = decode(G_B, z_a), decode(G_A, z_b)
  local adv = F.mse(D_B(ab), 1) + F.mse(D_A(ba), 1)
  -- cycle: translate back through the shared space
  local mu_ab, mu_ba = encode(E_B, ab), encode(E_A, ba)
  local cyc = F.l1(decode(G_A, draw(mu_ab)), a) + F.l1(decode(G_B, draw(mu_ba)), b)
  local cyc_kl = kl(mu_ab) + kl(mu_ba)
  optG:step(adv * opt.gan_w + vae_kl * opt.kl_w + rec * opt.rec_w + cyc_kl * opt.cyc_kl_w + cyc * opt.cyc_w)
  -- D: real images against the latest translations
  local lossD_A = F.mse(D_A(a), 1) + F.mse(D_A(ba:detach()), 0)
  local lossD_B = F.mse(D_B(b), 1) + F.mse(D_B(ab:detach()), 0)
  optD:step((lossD_A + lossD_B) * opt.gan_w)
  local lr = optG.lr -- the rate of this step; the schedules set the next one
  schedG:step()
  schedD:step()
  return { G = adv, rec = rec, kl = vae_kl, cycle = cyc, cycle_kl = cyc_kl, D_A = lossD_A, D_B = lossD_B, lr = lr }
end

-- translations take the code's mean, without noise
local function AtoB(x) return decode(G_B, encode(E_A, x)) end
local function BtoA(x) return decode(G_A, encode(E_B, x)) end
-- train; with --test, translate the whole test split
gan.translate.train(opt, state, step, test, AtoB, BtoA,
  { have_test = have_test, why = why, same = "--nf, --blocks, --shared, --ndf, --d_layers, --size" })
