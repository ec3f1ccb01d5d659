--- Training steps of the recipes' architecture families, timed: the peer of
-- bench/torch_steps.py. Each case builds its networks with the constructors
-- its recipe uses (gan.nets), and its step does what the recipe's step does,
-- on a fixed batch of random images in [-1, 1]:
--
-- * cyclegan_b1, cyclegan_b4: recipes/cyclegan.lua at 64x64 RGB, batch 1 or 4:
--   two ResNet generators (6 blocks, reflection padding, instance norm, nf 64)
--   and two PatchGAN discriminators (3 layers, instance norm, ndf 64); one G
--   step through both directions (LSGAN adversarial + 10 cycle + 5 identity L1),
--   then one D step on both critics with fakes from the pools of 50; Adam.
-- * pix2pix_b4: recipes/pix2pix.lua at 64x64 RGB, batch 4: the U-Net (6
--   levels, batch norm, nf 64, dropout on 1 level) and the conditional
--   PatchGAN (6 channels in, 3 layers, batch norm, ndf 64); one D step (BCE on
--   real and fake pairs), one G step (BCE + 100 L1); Adam.
-- * wgan_gp: recipes/wgan_gp.lua's critic step at 32x32x1, batch 64, nf 32:
--   DCGAN's critic without normalisation on real and G's (detached) fakes, the
--   gradient penalty on interpolates (a double backward); Adam(1e-4, 0, 0.9).
-- * sngan: recipes/sngan.lua at 32x32x1, batch 64: DCGAN's G (nf 64) and the
--   recipe's standard CNN D (ndf 32) with spectral norm on every layer; one D
--   step and one G step with the hinge loss; Adam(4e-4, 0.5, 0.999).
-- * sagan: recipes/sagan.lua at its defaults (32x32x1, batch 64): the residual G
--   (nf 12) and D (ndf 16) of gan.nets.biggan with the self-attention block at
--   16x16 in both, spectral norm on every layer of both (one power iteration
--   per forward), unconditional; one D step (hinge loss on real and detached
--   fakes), then one G step; Adam(2e-4, 0, 0.9) for both (the recipe's rates).
-- * stylegan2: recipes/stylegan2.lua's main step at its defaults (32x32x1,
--   batch 16): gan.nets.style's G (mapping network of 2 layers, modulated
--   convolutions, noise, the skip architecture; 128 to 32 maps) and residual D
--   (FIR downsampling, minibatch stddev); one G step (non-saturating logistic
--   loss, style mixing 0.9), one D step on real and fresh fakes, the EMA of
--   G's weights; Adam(0.0025, 0, 0.99) with the lazy regularizers' corrections,
--   the regularizers themselves left out.
-- * stylegan2_r1: the same recipe's lazy R1 step of D: gamma/2 |grad_x D(x)|^2
--   on the real batch, times 16 (the interval), a double backward through D.
-- * sgemm: an n x n by n x n product (n = 2048) through gan.matmul, that is
--   OpenBLAS's sgemm: the rate the convolutions are measured against.
--
-- Prints `case NAME key=value ...` (the settings), `gflop_per_step` (sgemm
-- only), `params NAME COUNT` for each network,
-- then `ms_per_step <median>` as its last line (bench/timing.lua); with
-- --losses, the losses of one untimed step first (`loss NAME VALUE`; the
-- sagan and stylegan2 cases). --dump=FILE writes the networks' weights and
-- buffers, a batch of inputs and what the networks make of them (a
-- safetensors file) for `bench/torch_steps.py --check=FILE`, which loads the
-- same weights into its networks and compares.
--
--     ganlua bench/steps.lua --case=cyclegan_b1 --steps=10 --threads=2
--     ganlua bench/steps.lua --case=sngan --size=16 --nf=4 --ndf=4 --batch=2 --steps=1   -- a tiny run
--     ganlua bench/steps.lua --case=stylegan2 --steps=5 --profile   -- the time per op
local gan = require "gan"
local nn, F, P = gan.nn, gan.F, gan.penalties

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local timing = dofile(here .. "timing.lua") -- declares the timing options (steps, warmup, profile, losses)
local opt = gan.options({
  case = "cyclegan_b1", -- cyclegan_b1, cyclegan_b4, pix2pix_b4, wgan_gp, sngan, sagan, stylegan2, stylegan2_r1 or sgemm
  batch = 0,            -- minibatch size (0: the case's)
  size = 0,             -- image size (0: the case's)
  nf = 0,               -- feature maps of G (0: the case's; stylegan2: the cap of both networks, channel_max)
  ndf = 0,              -- feature maps of D (0: the case's; wgan_gp's critic has nf, stylegan2's D the cap nf)
  threads = 2,          -- CPU threads
  dump = "",            -- sagan, stylegan2: write the networks' state, inputs and outputs to this file, then stop
}, { uses = { "bench.timing" } })
gan.set_threads(opt.threads)

local CASES = {
  cyclegan_b1 = { family = "cyclegan", batch = 1, size = 64, channels = 3, nf = 64, ndf = 64, blocks = 6, d_layers = 3 },
  cyclegan_b4 = { family = "cyclegan", batch = 4, size = 64, channels = 3, nf = 64, ndf = 64, blocks = 6, d_layers = 3 },
  pix2pix_b4 = { family = "pix2pix", batch = 4, size = 64, channels = 3, nf = 64, ndf = 64, d_layers = 3, dropout = 1 },
  wgan_gp = { family = "wgan_gp", batch = 64, size = 32, channels = 1, nf = 32, ndf = 32, nz = 100 },
  sngan = { family = "sngan", batch = 64, size = 32, channels = 1, nf = 64, ndf = 32, nz = 100 },
  -- the recipes' defaults (tests/lua/test_bench_steps.lua checks them against the recipes' --help)
  sagan = { family = "sagan", batch = 64, size = 32, channels = 1, nf = 12, ndf = 16, nz = 100,
    lr_d = 2e-4, lr_g = 2e-4, beta1 = 0.0, beta2 = 0.9 },
  stylegan2 = { family = "stylegan2", batch = 16, size = 32, channels = 1, nf = 128, ndf = 0, nz = 128, w_dim = 128,
    mapping = 2, channel_base = 1024, mbstd_group = 4, lr = 0.0025, gamma = 1.0, r1_every = 16, pl_every = 4,
    mixing = 0.9, ema_kimg = 5.0, ema_rampup = 0.05 },
  stylegan2_r1 = { family = "stylegan2", r1 = true, batch = 16, size = 32, channels = 1, nf = 128, ndf = 0, nz = 128,
    w_dim = 128, mapping = 2, channel_base = 1024, mbstd_group = 4, lr = 0.0025, gamma = 1.0, r1_every = 16,
    pl_every = 4 },
  sgemm = { family = "sgemm", batch = 0, size = 2048, nf = 0, ndf = 0 },
}

local case = CASES[opt.case]
if not case then
  local names = {}
  for k in pairs(CASES) do names[#names + 1] = k end
  table.sort(names)
  error(("--case must be one of %s, got '%s'"):format(table.concat(names, ", "), opt.case), 0)
end
local c = {}
for k, v in pairs(case) do c[k] = v end
for _, k in ipairs({ "batch", "size", "nf", "ndf" }) do
  if math.type(opt[k]) ~= "integer" or opt[k] < 0 then error(("--%s must be an integer >= 0"):format(k), 0) end
  if opt[k] > 0 then c[k] = opt[k] end
end
-- the settings in use, one line (the sagan and stylegan2 ones are their recipes' defaults)
do
  local kv = {}
  for k, v in pairs(c) do kv[#kv + 1] = ("%s=%s"):format(k, tostring(v)) end
  table.sort(kv)
  print(("case %s %s"):format(opt.case, table.concat(kv, " ")))
end

-- a fixed batch of images in [-1, 1]
local function images()
  return gan.rand(c.batch, c.channels, c.size, c.size) * 2 - 1
end

-- the cases' builders: each returns the step and its networks ({name, module} in order)
local build = {}

--- recipes/cyclegan.lua's networks and step (without its learning-rate schedules).
function build.cyclegan()
  if c.size % 4 ~= 0 then error("--size must be a multiple of 4 for cyclegan", 0) end
  local C = c.channels
  local function generator()
    return gan.nets.resnet.Generator(C, C, { nf = c.nf, blocks = c.blocks }):apply(nn.init.dcgan)
  end
  local function critic()
    return gan.nets.patch.Discriminator(C, { nf = c.ndf, n_layers = c.d_layers }):apply(nn.init.dcgan)
  end
  local G_AB, G_BA, D_A, D_B = generator(), generator(), critic(), critic()
  local adam = { lr = 2e-4, betas = { 0.5, 0.999 } }
  local optG, optD = gan.optim.Adam({ G_AB, G_BA }, adam), gan.optim.Adam({ D_A, D_B }, adam)
  local poolA, poolB = gan.pool.ImagePool(50), gan.pool.ImagePool(50)
  local a, b = images(), images()
  local lambda, identity = 10, 0.5
  local function step()
    local fake_b, fake_a = G_AB(a), G_BA(b)
    local adv = F.mse(D_B(fake_b), 1) + F.mse(D_A(fake_a), 1)
    local cycle = F.l1(G_BA(fake_b), a) + F.l1(G_AB(fake_a), b)
    local idt = F.l1(G_AB(b), b) + F.l1(G_BA(a), a)
    optG:step(adv + cycle * lambda + idt * (lambda * identity))
    local pa, pb = poolA:query(fake_a), poolB:query(fake_b)
    local lossD_A = (F.mse(D_A(a), 1) + F.mse(D_A(pa), 0)) * 0.5
    local lossD_B = (F.mse(D_B(b), 1) + F.mse(D_B(pb), 0)) * 0.5
    optD:step(lossD_A + lossD_B)
  end
  return step, { { "G_AB", G_AB }, { "G_BA", G_BA }, { "D_A", D_A }, { "D_B", D_B } }
end

--- recipes/pix2pix.lua's networks and step.
function build.pix2pix()
  local downs = math.floor(math.log(c.size, 2) + 0.5)
  if c.size < 32 or 2 ^ downs ~= c.size then error("--size must be a power of two >= 32 for pix2pix", 0) end
  local C = c.channels
  local G = gan.nets.unet.Generator(C, C, downs, { nf = c.nf, dropout = c.dropout }):apply(nn.init.dcgan)
  local D = gan.nets.patch.Discriminator(2 * C, { nf = c.ndf, n_layers = c.d_layers, norm = "batch" })
    :apply(nn.init.dcgan)
  local adam = { lr = 2e-4, betas = { 0.5, 0.999 } }
  local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)
  local a, b = images(), images()
  local lambda = 100
  local function pair(x, y) return gan.cat({ x, y }, 2) end
  local function step()
    local fake = G(a)
    optD:step((F.bce_logits(D(pair(a, b)), 1) + F.bce_logits(D(pair(a, fake:detach())), 0)) * 0.5)
    optG:step(F.bce_logits(D(pair(a, fake)), 1) + F.l1(fake, b) * lambda)
  end
  return step, { { "G", G }, { "D", D } }
end

-- real images and the recipes' gan.nets.generator; the shared nets read only the images'
-- shape from the data, so the batch stands in for the data set
local function real_and_generator()
  local real = images()
  local data, nopt = { x = real }, { nz = c.nz, nf = c.nf }
  local G, noise = gan.nets.generator(data, nopt)
  return real, G, noise, data, nopt
end

--- recipes/wgan_gp.lua's networks and one critic step.
function build.wgan_gp()
  local real, G, noise, data, nopt = real_and_generator()
  local D = gan.nets.discriminator(data, nopt, { norm = "none" })
  local optD = gan.optim.Adam(D, { lr = 1e-4, betas = { 0.0, 0.9 } })
  local function step()
    local fake = G(noise(c.batch)):detach()
    local w = F.wasserstein_d(D(real), D(fake))
    local gp = gan.penalties.gradient_penalty(D, real, fake, { lambda = 10 })
    optD:step(w + gp)
  end
  return step, { { "G", G }, { "D", D } }
end

--- recipes/sngan.lua's networks and step (n_critic = 1).
function build.sngan()
  if c.size % 8 ~= 0 then error("--size must be a multiple of 8 for sngan", 0) end
  local real, G, noise = real_and_generator()
  local D = nn.SpectralNorm.wrap(gan.nets.dcgan.standard_cnn(c.channels, c.size, c.ndf))
  local optG = gan.optim.Adam(G, { lr = 4e-4, betas = { 0.5, 0.999 } })
  local optD = gan.optim.Adam(D, { lr = 4e-4, betas = { 0.5, 0.999 } })
  local function step()
    optD:step(F.hinge_d(D(real), D(G(noise(c.batch)):detach())))
    optG:step(F.hinge_g(D(G(noise(c.batch)))))
  end
  return step, { { "G", G }, { "D", D } }
end

--- recipes/sagan.lua's networks and step at its defaults (n_critic = 1, attention on).
function build.sagan()
  if c.size ~= 16 and c.size ~= 32 and c.size ~= 64 then error("--size must be 16, 32 or 64 for sagan", 0) end
  if c.nf % 4 ~= 0 then error("--nf must be a positive multiple of 4 for sagan", 0) end
  if c.ndf % 8 ~= 0 then error("--ndf must be a positive multiple of 8 for sagan", 0) end
  local B = gan.nets.biggan
  local real = images()
  local at = math.min(16, c.size // 2) -- the recipe's place for the attention block
  local G = B.Generator { nz = c.nz, channels = c.channels, size = c.size, nf = c.nf, attention = at }
  local D = B.Discriminator { channels = c.channels, size = c.size, ndf = c.ndf, attention = at }
  local optG = gan.optim.Adam(G, { lr = c.lr_g, betas = { c.beta1, c.beta2 } })
  local optD = gan.optim.Adam(D, { lr = c.lr_d, betas = { c.beta1, c.beta2 } })
  local function noise(n) return gan.randn(n, c.nz) end
  local function step()
    local lossD = F.hinge_d(D(real), D(G(noise(c.batch)):detach()))
    optD:step(lossD)
    local lossG = F.hinge_g(D(G(noise(c.batch))))
    optG:step(lossG)
    return { D = lossD, G = lossG }
  end
  -- for --dump: one forward of each network (training mode: batch statistics, a power iteration)
  local function outputs()
    local z = noise(c.batch)
    return { z = z, real = real, G_z = G(z), D_real = D(real) }
  end
  return step, { { "G", G }, { "D", D } }, outputs
end

--- recipes/stylegan2.lua's networks at its defaults; its main step (G, then D, then the EMA) without
-- the lazy regularizers, or (c.r1) its lazy R1 step of D alone.
function build.stylegan2()
  if opt.ndf ~= 0 then error("--ndf: stylegan2's networks share one cap of feature maps, --nf", 0) end
  local ok, err = pcall(gan.nets.style.check_options, { size = c.size, batch = c.batch, mbstd_group = c.mbstd_group })
  if not ok then error(err, 0) end
  local style = gan.nets.style
  local nets = { channel_base = c.channel_base, channel_max = c.nf, mapping_layers = c.mapping,
    mbstd_group = c.mbstd_group }
  local real = images()
  local D = style.Discriminator(c.size, c.channels, nets)
  -- the rates and betas corrected for the lazy regularizers' extra steps, as the recipe builds them
  local optD = gan.optim.Adam(D, { lr = c.lr, betas = { 0, 0.99 }, reg_interval = c.r1_every })
  -- for --dump: D and R1 on the real batch (and G on z, noise from its noise_const buffers)
  local function outputs(G)
    local out = { real = real, D_real = D(real), R1 = P.r1(D, real, { gamma = c.gamma }) }
    if G then
      out.z = gan.randn(c.batch, c.nz)
      out.G_z = G(out.z, { noise = "const" })
    end
    return out
  end
  if c.r1 then
    local function step()
      local r1 = P.lazy(0, c.r1_every, P.r1, D, real, { gamma = c.gamma })
      optD:step(r1)
      return { R1 = r1 }
    end
    return step, { { "D", D } }, outputs
  end
  local G = style.Generator(c.nz, c.w_dim, c.size, c.channels, nets)
  local optG = gan.optim.Adam(G, { lr = c.lr, betas = { 0, 0.99 }, reg_interval = c.pl_every })
  local ema = gan.optim.EMA(G, { kimg = c.ema_kimg, batch = c.batch, rampup = c.ema_rampup })
  -- the recipe's generate: z -> ws, mixed with a second z's from a random layer on, -> images
  local function generate(n)
    local z = gan.randn(n, c.nz)
    local ws = G.mapping:mix(G.mapping(z), z, { prob = c.mixing })
    return G.synthesis(ws)
  end
  local function step()
    local lossG = F.bce_logits(D(generate(c.batch)), 1)
    optG:step(lossG)
    local fake = gan.no_grad(function() return generate(c.batch) end)
    local lossD = F.bce_logits(D(real), 1) + F.bce_logits(D(fake), 0)
    optD:step(lossD)
    ema:update()
    return { G = lossG, D = lossD }
  end
  return step, { { "G", G }, { "D", D } }, function() return outputs(G) end
end

--- An n x n by n x n product (n = --size) through gan.matmul.
function build.sgemm()
  local n = c.size
  local a, b = gan.randn(n, n), gan.randn(n, n)
  print(("gflop_per_step %.6f"):format(2 * n * n * n / 1e9))
  return function() a:matmul(b) end, {}
end

local step, nets, outputs = build[c.family]()

-- --dump: the networks' state before the outputs' forward (which moves spectral norm's u and v); the
-- parameters that start at 0 (biases, attention's sigma, the noise strengths) drawn first, so that
-- the comparison reaches the layers they would switch off
if opt.dump ~= "" then
  if not outputs then error(("--dump: only the sagan and stylegan2 cases, not %s"):format(opt.case), 0) end
  local tensors = {}
  for _, n in ipairs(nets) do
    gan.no_grad(function()
      for _, p in ipairs(n[2]:parameters()) do
        if p:abs():max():item() == 0 then p:copy_(gan.randn(p:shape()) * 0.5) end
      end
    end)
    for k, v in pairs(n[2]:state_dict()) do tensors[n[1] .. "." .. k] = v:clone() end
  end
  for k, v in pairs(outputs()) do tensors[k] = v:detach() end
  local ok, err = gan.io.save_safetensors(opt.dump, tensors, { case = opt.case })
  if not ok then error(("--dump: %s"):format(err), 0) end
  print(("wrote %s"):format(opt.dump))
  return
end
timing.run(opt, step, nets)
