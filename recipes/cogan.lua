--- CoGAN — coupled GANs learn a joint distribution of two domains without pairs.
-- @paper Liu, Tuzel. Coupled Generative Adversarial Networks. 2016. arXiv:1606.07536
-- @year 2016
-- @ja 要点: 2つのGAN (G1, D1) と (G2, D2) を重み共有で結合し、対になったデータなしに2つのドメインの同時分布を学ぶ。
-- @ja Gは最初の層(抽象的な意味を決める高レベルの層)を共有し、最後の層(画素の細部)はドメインごとに持つ。Dは逆に最初の層をドメインごとに持ち、最後の層を共有する。
-- @ja 同じノイズzから G1(z) と G2(z) を作ると、対応する組(例: 服とそのエッジ画像)になる。学習データは各ドメインから独立に取り、対応は共有だけから生まれる。
-- @ja 損失は2つのGANの標準の損失の和。応用: ドメイン適応、画像変換(zを探して一方の画像を再現し、他方を生成)。
-- @en Key points: two GANs (G1, D1) and (G2, D2) coupled by weight sharing learn a joint distribution of two domains without paired data.
-- @en The generators share their first layers (the high-level ones that decide what is drawn) and keep their last layers (pixel detail) to themselves; the discriminators do the opposite: own first layers, shared last layers.
-- @en G1(z) and G2(z) from the same noise z form a corresponding pair (e.g. a garment and its edge map). Training images of each domain are drawn independently; the correspondence comes from the sharing alone.
-- @en The loss is the sum of the two GANs' standard losses. Uses: domain adaptation, image translation (search the z that reproduces an image of one domain, then draw it in the other).

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist or a folder of images: domain 1 their first half, domain 2 the Sobel edges of the second half
  size = 32,              -- image size: a power of two >= 16
  channels = 1,           -- channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)
  batch = 32,             -- minibatch size, per domain (the paper: 128)
  nf = 32,                -- feature maps of G's last and D's first layer
  g_private = 1,          -- G's last layers that each domain has to itself (the rest are shared; the paper: 1 for digits)
  d_private = 1,          -- D's first layers that each domain has to itself (the rest are shared; the paper: 1 for digits)
  edge_threshold = 0.8,   -- Sobel gradient magnitude (images in [0, 1]) that counts as an edge in domain 2
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 3000,           -- training iterations
  eval_every = 500,       -- measure how well pairs correspond, and domain 1's samples, every N iterations (0: never)
  out = "runs/cogan",     -- run folder
}
local layers = math.floor(math.log(opt.size, 2) + 0.5) - 1   -- G: 1 -> 4 -> ... -> size, D: the reverse
if opt.size < 16 or 2 ^ (layers + 1) ~= opt.size then error("--size must be a power of two >= 16", 0) end
if opt.g_private < 1 or opt.g_private > layers - 1 then
  error(("--g_private must be in [1, %d] (G has %d layers; one at least is shared)"):format(layers - 1, layers), 0)
end
if opt.d_private < 1 or opt.d_private > layers - 1 then
  error(("--d_private must be in [1, %d] (D has %d layers; one at least is shared)"):format(layers - 1, layers), 0)
end
if opt.nz < 1 or opt.nf < 1 then error("--nz and --nf must be >= 1", 0) end

-- the training set cut in two halves: garments from the first, edge maps of the second (never of the same image)
local all = gan.data.load(opt.data, opt).x
local half = all:size(1) // 2
if half < 1 then error("--data: need at least two images", 0) end
local x1 = all:narrow(1, 1, half)
local x2 = gan.data.sobel_edges(all:narrow(1, half + 1, half), opt.edge_threshold)
local data = setmetatable({ A = gan.data.from_tensors(x1, nil, opt, { stream = "data.1" }),
  B = gan.data.from_tensors(x2, nil, opt, { stream = "data.2" }),
  kind = "images" }, gan.data.Unpaired)
local C1, C2 = x1:size(2), x2:size(2)

-- G: layer t doubles the size with a transposed convolution (batch norm, ReLU) from nz at 1x1;
-- the first layers are one network shared by both domains, the last g_private of each its own
local function g_layer(t, cout)
  local cin = t == 1 and opt.nz or opt.nf * (1 << (layers - t))
  local up = t == 1 and nn.ConvTranspose2d(cin, cout, 4, 1, 0, { bias = false })
      or nn.ConvTranspose2d(cin, cout, 4, 2, 1, { bias = false })
  if t == layers then return { up, nn.Tanh() } end
  return { up, nn.BatchNorm2d(cout), nn.ReLU() }
end
local function g_part(from, to, C)
  local seq = nn.Sequential()
  for t = from, to do
    for _, m in ipairs(g_layer(t, t == layers and C or opt.nf * (1 << (layers - t - 1)))) do seq:add(m) end
  end
  return seq:apply(nn.init.dcgan)
end
local cut = layers - opt.g_private
local G_shared, G1, G2 = g_part(1, cut), g_part(cut + 1, layers, C1), g_part(cut + 1, layers, C2)

-- D: layer t halves the size with a strided convolution (batch norm but on the first, LeakyReLU), then a
-- 4x4 convolution to one logit; the first d_private layers of each domain its own, the rest shared
local function d_part(from, to, C)
  local seq = nn.Sequential()
  for t = from, to do
    if t == layers then
      seq:add(nn.Conv2d(opt.nf * (1 << (layers - 2)), 1, 4, 1, 0, { bias = false })):add(nn.Flatten())
    else
      local cin, cout = t == 1 and C or opt.nf * (1 << (t - 2)), opt.nf * (1 << (t - 1))
      seq:add(nn.Conv2d(cin, cout, 4, 2, 1, { bias = false }))
      if t > 1 then seq:add(nn.BatchNorm2d(cout)) end
      seq:add(nn.LeakyReLU(0.2))
    end
  end
  return seq:apply(nn.init.dcgan)
end
local D1, D2, D_shared = d_part(1, opt.d_private, C1), d_part(1, opt.d_private, C2), d_part(opt.d_private + 1, layers)

local function noise(n) return gan.randn(n, opt.nz, 1, 1) end
-- one z, two images: (G1(z), G2(z))
local function generate(z)
  local h = G_shared(z)
  return G1(h), G2(h)
end

local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG = gan.optim.Adam({ G_shared, G1, G2 }, adam)
local optD = gan.optim.Adam({ D1, D2, D_shared }, adam)

local function step(batch)
  local real1, real2 = batch.A, batch.B
  local fake1, fake2 = generate(noise(real1:size(1)))
  -- D: each domain's real images against its fakes, through its own first layers and the shared rest
  local r1, r2 = D_shared(D1(real1)), D_shared(D2(real2))
  local lossD = F.bce_logits(r1, 1) + F.bce_logits(D_shared(D1(fake1:detach())), 0)
      + F.bce_logits(r2, 1) + F.bce_logits(D_shared(D2(fake2:detach())), 0)
  optD:step(lossD)
  -- G: both fakes should pass (non-saturating)
  local lossG = F.bce_logits(D_shared(D1(fake1)), 1) + F.bce_logits(D_shared(D2(fake2)), 1)
  optG:step(lossG)
  return { D = lossD, G = lossG, ["D1(x)"] = r1:sigmoid():mean(), ["D2(x)"] = r2:sigmoid():mean() }
end

-- domain 2 shown with domain 1's channels
local function show(x2) return C1 == C2 and x2 or x2:expand(x2:size(1), C1, opt.size, opt.size) end

--- Pairs (G1(z), G2(z)) side by side: each row holds n / 2 / rows pairs.
local function sample(n)
  local k = math.ceil(n / 2)
  local a, b = generate(noise(k))
  return gan.stack({ a, show(b) }, 2):reshape(2 * k, C1, opt.size, opt.size):narrow(1, 1, n)
end

--- How well pairs correspond, on n draws of z: pair_l1, the mean |sobel_edges(G1(z)) - G2(z)|
-- ([-1, 1] scale), against shuffled_l1, the same with G2 of another z; and for Fashion-MNIST,
-- gan.metrics on G1's images. (gan.train runs it on a fixed stream and puts the run's RNG back.)
local function eval(_, n)
  n = (n and n > 0) and n or 2000
  local r, same, other = {}, 0, 0
  for i = 1, n, 500 do
    local k = math.min(500, n - i + 1)
    local a, b = generate(noise(k))
    local e = gan.data.sobel_edges(a, opt.edge_threshold)
    same = same + F.l1(e, b, "sum"):item()
    -- the shuffled baseline: each G1(z) against the next z's G2 (a cyclic shift of the batch)
    other = other + F.l1(e, gan.cat({ b:narrow(1, 2, k - 1), b:narrow(1, 1, 1) }, 1), "sum"):item()
  end
  local per = n * opt.size * opt.size
  r.pair_l1, r.shuffled_l1 = same / per, other / per
  if opt.data == "fashion-mnist" and n >= 10 then
    for key, v in pairs(gan.metrics.images(function(k) return (generate(noise(k))) end, { n = n })) do r[key] = v end
  end
  return r
end

gan.train(opt, { G_shared = G_shared, G1 = G1, G2 = G2, D1 = D1, D2 = D2, D_shared = D_shared, optG = optG,
  optD = optD, data = data }, step, { sample = sample, sample_count = 64, eval = eval })
