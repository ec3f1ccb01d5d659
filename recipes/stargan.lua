--- StarGAN — one generator translates among many domains.
-- @paper Choi, Choi, Kim, Ha, Kim, Choo. StarGAN: Unified Generative Adversarial Networks for Multi-Domain Image-to-Image Translation. 2017. arXiv:1711.09020
-- @year 2017
-- @ja 要点: ドメインごとに生成器を用意せず、1つの生成器 G(x, c) が目標ドメインのラベルcを入力画像に連結(空間方向に複製)して受け取り、任意のドメインへ変換する。
-- @ja 識別器は2つの出力を持つ: 本物か偽物か(D_src)と、ドメインの分類(D_cls)。本物画像の分類損失でD_clsを、変換画像の分類損失でGを学習する。
-- @ja 再構成損失 ‖x − G(G(x, c), c′)‖₁ (λ_rec=10、c′は元のドメイン)で入力の内容を保つ(CycleGANのサイクル一貫性を1つの生成器で)。
-- @ja 敵対的損失はWGAN-GP(λ_gp=10、n_critic=5)、λ_cls=1、Adam(1e-4, β1=0.5)、学習率は後半で線形減衰。
-- @en Key points: instead of one generator per pair of domains, a single G(x, c) takes the target domain's label c, tiled over the image and concatenated to it, and translates to any domain.
-- @en D has two outputs: real or fake (D_src) and the domain (D_cls). The classification loss on real images trains D_cls; on translated images, it trains G.
-- @en A reconstruction loss ‖x − G(G(x, c), c′)‖₁ (λ_rec = 10, c′ the original domain) keeps the input's content: CycleGAN's cycle with one generator.
-- @en WGAN-GP adversarial loss (λ_gp = 10, n_critic = 5), λ_cls = 1, Adam (1e-4, β1 = 0.5), the rate decaying linearly over the second half.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- Fashion-MNIST: each class is a domain
  domains = { 0, 2, 3, 4, 6 }, -- the classes used as domains (the upper-body garments: T-shirt/top, Pullover, Dress, Coat, Shirt)
  size = 32,              -- image size: a multiple of 16
  batch = 16,             -- minibatch size
  nf = 16,                -- feature maps of G's first layer (the paper: 64)
  blocks = 6,             -- residual blocks in G
  padding = "zeros",      -- G's padding: zeros (the paper's) or reflect (then G cannot see the target domain)
  ndf = 32,               -- feature maps of D's first layer (the paper: 64)
  lambda_cls = 1.0,       -- weight of the domain classification losses
  lambda_rec = 10.0,      -- weight of the reconstruction loss
  lambda_gp = 10.0,       -- weight of the gradient penalty
  n_critic = 5,           -- D steps per G step
  lr = 1e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  decay = 0.5,            -- share of the run, at its end, over which the rate falls linearly to 0
  iters = 3000,           -- training iterations (G steps; D takes n_critic steps in each)
  eval_every = 500,       -- translate test images to every other domain and classify them, every N iterations (0: never)
  out = "runs/stargan",   -- run folder
}
local K = #opt.domains
if K < 2 then error("--domains needs at least two classes", 0) end
if opt.size % 16 ~= 0 then error("--size must be a multiple of 16", 0) end
if opt.n_critic < 1 then error("--n_critic must be >= 1", 0) end
if opt.padding ~= "zeros" and opt.padding ~= "reflect" then error("--padding must be zeros or reflect", 0) end
if opt.decay < 0 or opt.decay > 1 then error("--decay must be in [0, 1]", 0) end
if opt.data ~= "fashion-mnist" then error("--data: StarGAN's domains are Fashion-MNIST classes (--domains)", 0) end

-- batches of (images, labels) of the chosen classes; labels become domain ids 0 .. K-1
local function load(split)
  local o = gan.options.with(opt, { classes = opt.domains, limit = split == "test" and 0 or opt.limit })
  return gan.data.load(opt.data, o, { labels = true, split = split })
end
local data, test = load("train"), load("test")
local dom_of_class = {}   -- class id + 1 -> domain id
for c = 0, 9 do dom_of_class[c + 1] = 0 end
for d, c in ipairs(opt.domains) do dom_of_class[c + 1] = d - 1 end
local lut = gan.tensor(dom_of_class, "int64")
local function domain_of(labels) return lut:index_select(1, labels) end
local C = data.x:size(2)

-- G(x, c): the target domain's one-hot code tiled over the image, stacked on its channels.
-- Zero padding matters: the code's planes are constant, so after the first convolution they
-- add a constant to each map, which instance norm subtracts again; only at the zero-padded
-- borders do they leave a trace G can use. Reflection padding keeps them constant: G is blind.
local G = gan.nets.resnet.Generator(C + K, C, { nf = opt.nf, blocks = opt.blocks, padding = opt.padding })
  :apply(nn.init.dcgan)
local function translate(x, c)
  local code = c:one_hot(K):reshape(x:size(1), K, 1, 1):expand(x:size(1), K, x:size(3), x:size(4))
  return G(gan.cat({ x, code }, 2))
end

-- D: four stride-2 convolutions (to size/16), then two heads: real/fake per patch, and the domain
local ch = opt.ndf
local trunk = nn.Sequential { nn.Conv2d(C, ch, 4, 2, 1), nn.LeakyReLU(0.01) }
for _ = 2, 4 do
  trunk:add(nn.Conv2d(ch, ch * 2, 4, 2, 1)):add(nn.LeakyReLU(0.01))
  ch = ch * 2
end
local src_head = nn.Conv2d(ch, 1, 3, 1, 1)
local cls_head = nn.Conv2d(ch, K, opt.size // 16)
local function D(x)
  local h = trunk(x)
  return src_head(h), cls_head(h):flatten(2)
end
local function D_src(x) return (D(x)) end

local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam({ trunk, src_head, cls_head }, adam)
local hold = math.floor(opt.iters * (1 - opt.decay) + 0.5)
local linear = { hold = hold, decay = opt.iters - hold }
local schedG = gan.optim.schedule.constant_then_linear(optG, linear)
local schedD = gan.optim.schedule.constant_then_linear(optD, linear)

local function step(batch)
  local lossD, gp, cls_real, w
  for i = 1, opt.n_critic do
    if i > 1 then batch = data:next() end
    local x, org = batch.images, domain_of(batch.labels)
    local fake = gan.no_grad(translate, x, gan.randint(0, K, { x:size(1) }))
    local src_real, logits = D(x)
    w = src_real:mean() - D_src(fake):mean()           -- the critic's estimate of the Wasserstein distance
    cls_real = F.cross_entropy(logits, org)
    gp = gan.penalties.gradient_penalty(D_src, x, fake, { lambda = opt.lambda_gp })
    lossD = -w + cls_real * opt.lambda_cls + gp
    optD:step(lossD)
  end
  -- G: fool D, be classified as the target domain, and come back to the input
  local x, org = batch.images, domain_of(batch.labels)
  local trg = gan.randint(0, K, { x:size(1) })
  local fake = translate(x, trg)
  local src_fake, logits = D(fake)
  local adv, cls_fake = -src_fake:mean(), F.cross_entropy(logits, trg)
  local rec = F.l1(translate(fake, org), x)
  optG:step(adv + cls_fake * opt.lambda_cls + rec * opt.lambda_rec)
  local lr = optG.lr -- the rate of this step; the schedules set the next one
  schedG:step()
  schedD:step()
  return { D = lossD, W = w, GP = gp, cls_real = cls_real, G = adv, cls_fake = cls_fake, rec = rec, lr = lr }
end

-- test images taken in turn from each domain: the i-th of domain d is at by_domain[d][i]
local by_domain = {}
for d = 1, K do by_domain[d] = {} end
for i, c in ipairs(test.labels:totable()) do
  local list = by_domain[dom_of_class[c + 1] + 1]
  list[#list + 1] = i - 1
end
local function test_images(k)   -- k images, domains in turn; returns images and their domains
  local idx, dom = {}, {}
  for j = 1, k do
    local d = (j - 1) % K + 1
    local list = by_domain[d]
    idx[j], dom[j] = list[((j - 1) // K) % #list + 1], d - 1
  end
  return test.x:index_select(1, gan.tensor(idx, "int64")), gan.tensor(dom, "int64")
end

--- Rows of one test image translated into each domain in turn (the column is the target).
local function sample(n)
  local rows = math.ceil(n / K)
  local x = test_images(rows)
  local out = {}
  for d = 0, K - 1 do out[d + 1] = translate(x, gan.full({ rows }, d):long()) end
  return gan.stack(out, 2):reshape(rows * K, C, opt.size, opt.size):narrow(1, 1, n)
end

--- Test images translated into every other domain: how often the Fashion-MNIST classifier
-- names the target class (overall and by target), and, for scale, how often it names real images' classes.
local function eval(_, n)
  n = (n and n > 0) and math.min(n, 2000) or 2000
  local x, org = test_images(n)
  local class = gan.tensor(opt.domains, "int64")
  local r = { real_acc = gan.metrics.predict(x):eq(class:index_select(1, org)):float():mean():item() }
  local hits, count = {}, {}
  for d = 1, K do hits[d], count[d] = 0, 0 end
  local o = org:totable()
  for shift = 1, K - 1 do
    local t = {}
    for j, d in ipairs(o) do t[j] = (d + shift) % K end
    local trg = gan.tensor(t, "int64")
    local ok = gan.metrics.predict(translate(x, trg)):eq(class:index_select(1, trg)):totable()
    for j, d in ipairs(t) do
      count[d + 1] = count[d + 1] + 1
      if ok[j] ~= 0 then hits[d + 1] = hits[d + 1] + 1 end
    end
  end
  local all, total = 0, 0
  for d = 1, K do
    r[("to_%d"):format(opt.domains[d])] = hits[d] / count[d]
    all, total = all + hits[d], total + count[d]
  end
  r.translated_acc = all / total
  return r
end

-- `ganlua translate RUN DIR --target=3` (or dress): into one domain, named by its class
local targets = {}
for d, c in ipairs(opt.domains) do targets[d] = { id = c, name = gan.data.fashion_classes[c + 1] } end
local into = { channels = C, targets = targets,
  to = function(x, d) return translate(x, gan.full({ x:size(1) }, d - 1):long()) end }

gan.train(opt, { G = G, D_trunk = trunk, D_src = src_head, D_cls = cls_head, optG = optG, optD = optD,
  schedG = schedG, schedD = schedD, data = data }, step,
  { sample = sample, sample_count = K * K, eval = eval, translate = into })
