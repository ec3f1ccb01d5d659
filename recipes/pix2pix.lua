--- pix2pix — paired image-to-image translation with a conditional GAN.
-- @paper Isola, Zhu, Zhou, Efros. Image-to-Image Translation with Conditional Adversarial Networks. 2016. arXiv:1611.07004
-- @year 2016
-- @ja 要点: 入力画像xと出力画像yの対から変換 G: x→y を学ぶ条件付きGAN。Dは(x, y)の組を見て本物の対か偽物の対かを判定する。
-- @ja 損失は敵対的損失 + λ‖y − G(x)‖₁ (λ=100)。L1が低周波(全体の形と明るさ)を、Dが高周波(鋭さ・質感)を担う。
-- @ja GはU-Net: エンコーダとデコーダの対応する層をスキップ接続で結び、入力の細部を出力へ直接渡す。ノイズzの代わりにドロップアウトが確率性を与える。
-- @ja DはPatchGAN: 70×70のパッチごとに真偽を出し、平均する。Adam(2e-4, β1=0.5)。
-- @en Key points: a conditional GAN that learns a mapping G: x→y from pairs of input and output images; D sees the pair (x, y) and tells real pairs from fake ones.
-- @en Loss: adversarial + λ‖y − G(x)‖₁ with λ = 100; L1 takes care of the low frequencies (layout, brightness), D of the high ones (sharpness, texture).
-- @en G is a U-Net: skip connections join mirrored encoder and decoder layers, passing the input's details straight to the output; dropout, not a noise z, makes it stochastic.
-- @en D is a PatchGAN: real or fake for each 70×70 patch, averaged. Adam (2e-4, β1 = 0.5).

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist (Sobel edges -> garment), or a folder: DIR/train of A|B images, or DIR/A, DIR/B
  classes = {},           -- Fashion-MNIST classes to keep (empty: all ten)
  direction = "AtoB",     -- AtoB translates the left/A images into the right/B ones; BtoA the other way
  size = 32,              -- image size after the random crop: a power of two >= 32 (the paper: 256)
  load_size = 0,          -- images are resized to this before the crop (0: size; the paper: 286)
  flip = true,            -- mirror training pairs left-right at random
  channels = 3,           -- channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)
  batch = 16,             -- minibatch size (the paper: 1 to 10)
  nf = 32,                -- feature maps of G's first layer (the paper: 64)
  ndf = 32,               -- feature maps of D's first layer (the paper: 64)
  d_layers = 2,           -- D's stride-2 layers: 3 judges 70x70 patches, 2 34x34, 1 16x16
  dropout = 1,            -- U-Net levels (next to the innermost) with dropout 0.5 (the paper: 3 at 256 px)
  lambda = 100.0,         -- weight of the L1 loss
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  decay = 0.5,            -- share of the run, at its end, over which the rate falls linearly to 0
  iters = 4000,           -- training iterations
  eval_every = 1000,      -- measure the translations of the test split (L1 to the ground truth, FD) every N iterations (0: never)
  out = "runs/pix2pix",   -- run folder
}
local downs = math.floor(math.log(opt.size, 2) + 0.5)
if opt.size < 32 or 2 ^ downs ~= opt.size then error("--size must be a power of two >= 32", 0) end
if opt.decay < 0 or opt.decay > 1 then error("--decay must be in [0, 1]", 0) end
if opt.nf < 1 or opt.ndf < 1 or opt.d_layers < 1 then error("--nf, --ndf and --d_layers must be >= 1", 0) end
if opt.dropout < 0 or opt.dropout > downs - 2 then error(("--dropout must be in [0, %d]"):format(downs - 2), 0) end
if opt.direction ~= "AtoB" and opt.direction ~= "BtoA" then error("--direction must be AtoB or BtoA", 0) end

local data = gan.data.paired(opt.data, opt)
-- the test split: in order, at --size, neither cropped nor mirrored
-- (as many as the final evaluation measures: the first eval_samples, at least 100)
local topt = gan.options.with(opt, { load_size = opt.size, flip = false, limit = math.max(100, opt.eval_samples) })
local have_test, test = pcall(gan.data.paired, opt.data, topt, { split = "test" })
if not have_test then
  print("note: no test split (" .. tostring(test) .. "); samples and evaluation use training pairs")
  test = data
end
local first = data:items(1, 1)
local CA, CB = first.A:size(2), first.B:size(2)

local G = gan.nets.unet.Generator(CA, CB, downs, { nf = opt.nf, dropout = opt.dropout }):apply(nn.init.dcgan)
-- D is conditional: it judges the input and the output stacked on the channel dim
local D = gan.nets.patch.Discriminator(CA + CB, { nf = opt.ndf, n_layers = opt.d_layers, norm = "batch" }):apply(nn.init.dcgan)
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)
local hold = math.floor(opt.iters * (1 - opt.decay) + 0.5)
local linear = { hold = hold, decay = opt.iters - hold }
local schedG = gan.optim.schedule.constant_then_linear(optG, linear)
local schedD = gan.optim.schedule.constant_then_linear(optD, linear)

local function pair(a, b) return gan.cat({ a, b }, 2) end

local function step(batch)
  local a, b = batch.A, batch.B
  local fake = G(a)
  -- D: real pairs against fake pairs, halved so D learns at half G's rate
  local lossD = (F.bce_logits(D(pair(a, b)), 1) + F.bce_logits(D(pair(a, fake:detach())), 0)) * 0.5
  optD:step(lossD)
  -- G: fool D on the pair, and stay close to the ground truth
  local adv = F.bce_logits(D(pair(a, fake)), 1)
  local l1 = F.l1(fake, b)
  optG:step(adv + l1 * opt.lambda)
  local lr = optG.lr -- the rate of this step; the schedules set the next one
  schedG:step()
  schedD:step()
  return { D = lossD, G = adv, L1 = l1, lr = lr }
end

-- G in evaluation mode (batch norm's running statistics, no dropout), put back after
local function evaluating(fn)
  G:eval()
  local ok, r = pcall(fn)
  G:train()
  if not ok then error(r, 0) end
  return r
end

--- Rows of (input, translation, ground truth) triplets from the test split.
local function sample(n)
  return evaluating(function()
    local k = math.min(math.max(1, math.ceil(n / 3)), test:size())
    local t = test:items(1, k)
    local out = {}
    for i = 1, math.ceil(n / 3) do
      local j = (i - 1) % k + 1
      local a = t.A[j]
      if CA ~= CB then a = a:mean(1, true):expand(CB, opt.size, opt.size) end   -- shown with B's channels
      out[#out + 1] = a
      out[#out + 1] = G(t.A:narrow(1, j, 1))[1]
      out[#out + 1] = t.B[j]
    end
    return gan.stack(out, 1):narrow(1, 1, n)
  end)
end

--- On (up to n pairs of) the test split: L1 between translations and the ground truth
-- ([-1, 1] scale), and for Fashion-MNIST the metrics of gan.metrics on the translations.
local function eval(_, n)
  n = (n and n > 0) and math.min(n, test:size()) or test:size()
  return evaluating(function()
    local sum, at = 0, 1
    for i = 1, n, 100 do
      local t = test:items(i, math.min(100, n - i + 1))
      sum = sum + F.l1(G(t.A), t.B, "sum"):item()
    end
    local r = { L1 = sum / (n * CB * opt.size * opt.size) }
    if opt.data == "fashion-mnist" and n >= 10 then
      local m = gan.metrics.images(function(b)  -- the test split's translations, in order
        local t = test:items(at, b)
        at = at + b
        return G(t.A)
      end, { n = n })
      for k, v in pairs(m) do r[k] = v end
    end
    return r
  end)
end

-- `ganlua translate RUN DIR` translates a folder with the trained G
local translate = { channels = CA, [opt.direction] = function(x) return evaluating(function() return G(x) end) end }

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, schedG = schedG, schedD = schedD, data = data }, step,
  { sample = sample, sample_count = 36, eval = eval, translate = translate })
