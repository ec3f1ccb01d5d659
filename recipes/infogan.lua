--- InfoGAN — codes that mean something, learned without labels by maximising mutual information.
-- @paper Chen, Duan, Houthooft, Schulman, Sutskever, Abbeel. InfoGAN: Interpretable Representation Learning by Information Maximizing Generative Adversarial Nets. 2016. arXiv:1606.03657
-- @year 2016
-- @ja 要点: Gの入力をノイズzと潜在コードc(10値のカテゴリ1つ、連続値2つ)に分け、cとG(z, c)の相互情報量 I(c; G(z, c)) を最大化する項 -λ·I を目的関数に加える。
-- @ja I は補助分布Q(c|x)による変分下限で近似し、QはDと畳み込み層を共有する頭(Qヘッド)として実装するので追加コストは小さい。ラベルを使わずにカテゴリコードがクラスに、連続コードが太さや傾きなどに対応するようになる。
-- @en Key points: G's input is split into noise z and a latent code c (one 10-way categorical, two continuous); the objective adds -λ·I(c; G(z, c)), the mutual information between the code and the image.
-- @en I is bounded below with an auxiliary distribution Q(c|x), a head that shares D's convolutional body, so it costs little; without labels the categorical code comes to match classes and the continuous ones styles (width, slant).

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of images (purity needs fashion-mnist)
  size = 32,              -- image size: a power of two from 16
  nz = 62,                -- dimension of the incompressible noise z
  ncat = 10,              -- values of the categorical code
  ncont = 2,              -- number of continuous codes, each uniform in [-1, 1]
  lambda_cat = 1.0,       -- weight λ of the mutual-information term of the categorical code
  lambda_cont = 0.1,      -- weight λ of the continuous codes' term (Gaussian log-likelihood, unit variance)
  nf = 32,                -- feature maps of G's last and D's first layer
  lr_g = 1e-3,            -- Adam learning rate of G (and of Q through D's body: see lr_d)
  lr_d = 2e-4,            -- Adam learning rate of D and the Q head
  beta1 = 0.5,            -- Adam beta1
  iters = 3000,           -- training iterations
  out = "runs/infogan",   -- run folder
}
if opt.ncat < 2 then error("--ncat must be >= 2", 0) end
if opt.ncont < 0 then error("--ncont must be >= 0", 0) end
if opt.lambda_cat < 0 or opt.lambda_cont < 0 then error("--lambda_cat and --lambda_cont must be >= 0", 0) end

local data = gan.data.load(opt.data, opt)   -- images only: labels are never used for training
local C = data.x:size(2)
local K, NC = opt.ncat, opt.ncont
local nin = opt.nz + K + NC

-- G(z, c); D's body feeds two heads: the real/fake logit and Q(c|x) (K logits, NC means)
local G = gan.nets.dcgan.generator(nin, C, opt.size, opt.nf)
local body, c = gan.nets.dcgan.body(C, opt.size, opt.nf)
local D = nn.Heads(body,
  nn.Sequential { nn.Conv2d(c, 1, 4, 1, 0), nn.Flatten() },
  nn.Sequential { nn.Conv2d(c, 128, 4, 1, 0), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                  nn.Conv2d(128, K + NC, 1), nn.Flatten() })
D[1]:apply(nn.init.dcgan)
D[2]:apply(nn.init.dcgan)

local optG = gan.optim.Adam(G, { lr = opt.lr_g, betas = { opt.beta1, 0.999 } })
local optD = gan.optim.Adam(D, { lr = opt.lr_d, betas = { opt.beta1, 0.999 } })

-- the input of G: z, the one-hot categorical code, the continuous codes
local function input(z, cat, cont)
  local parts = { z, cat:one_hot(K) }
  if NC > 0 then parts[3] = cont end
  return gan.cat(parts, 2):reshape(z:size(1), nin, 1, 1)
end
local function codes(n)
  return gan.randn(n, opt.nz), gan.randint(0, K, { n }), gan.uniform({ n, NC }, -1, 1)
end
-- the same codes at every call for a key (the run's random stream is left as it was)
local function fixed_codes(n, key)
  return table.unpack(gan.random.keyed("infogan.codes", key, function() return { codes(n) } end))
end

-- the information term: -log Q(c|x) for the code that made x (cross-entropy, and a unit-variance Gaussian)
local function info(q, cat, cont)
  local l_cat = F.cross_entropy(q:narrow(2, 1, K), cat)
  if NC == 0 then return opt.lambda_cat * l_cat, l_cat, gan.scalar(0) end
  local l_cont = F.mse(q:narrow(2, K + 1, NC), cont, "none"):sum(2):mean() * 0.5
  return opt.lambda_cat * l_cat + opt.lambda_cont * l_cont, l_cat, l_cont
end

-- samples: one row per categorical value, z and continuous codes the same along each column
local function grid(n)
  local per = math.max(1, n // K)
  local z, _, cont = codes(per)
  local rows = {}
  for k = 0, K - 1 do
    rows[#rows + 1] = G(input(z, gan.full({ per }, k):long(), cont))
  end
  return gan.cat(rows, 1)
end

-- latent traversals of each continuous code: rows are the K categorical values, columns c_j from -2 to 2
local function traversals(dir)
  gan.no_grad(function()
    local z, _, cont = fixed_codes(1, 1)
    local steps = gan.linspace(-2, 2, 10)
    for j = 1, NC do
      local imgs = {}
      for k = 0, K - 1 do
        local cj = cont:expand(10, NC):clone()
        cj:narrow(2, j, 1):copy_(steps:reshape(10, 1))
        imgs[#imgs + 1] = G(input(z:expand(10, opt.nz), gan.full({ 10 }, k):long(), cj))
      end
      gan.image.save_grid(("%s/traversal_c%d.png"):format(dir, j), gan.cat(imgs, 1), { nrow = 10 })
    end
    gan.image.save_grid(dir .. "/traversal_cat.png", gan.random.keyed("infogan.grid", 0, function() return grid(K * K) end),
      { nrow = K })
  end)
end

-- how well the categorical code matches the classes, never shown to training: n generated
-- images (as many of each code) labelled by gan.metrics.predict against the code that made them
local function eval(_, n)
  local cat, pred = gan.labels.rows(n, K), {}
  local z, _, cont = fixed_codes(n, 2)
  for i = 1, n, 500 do
    local m = math.min(500, n - i + 1)
    local x = G(input(z:narrow(1, i, m), cat:narrow(1, i, m), cont:narrow(1, i, m)))
    pred[#pred + 1] = gan.metrics.predict(x)
  end
  pred = gan.cat(pred, 1)
  return { purity = gan.cluster.purity(cat, pred), nmi = gan.cluster.nmi(cat, pred) }
end

gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real)
  local n = real:size(1)
  local z, cat, cont = codes(n)
  local fake = G(input(z, cat, cont))
  -- D and Q: the adversarial loss, plus the information term on the generated images
  local d_real = D(real)
  local d_fake, q_fake = D(fake:detach())
  local lossI_D = info(q_fake, cat, cont)
  local lossD = F.bce_logits(d_real, 1) + F.bce_logits(d_fake, 0)
  optD:step(lossD + lossI_D)
  -- G: fool D and make its codes recoverable by Q
  local d_g, q_g = D(fake)
  local lossI, l_cat, l_cont = info(q_g, cat, cont)
  local lossG = F.bce_logits(d_g, 1)
  optG:step(lossG + lossI)
  return { D = lossD, G = lossG, ["I_cat"] = l_cat, ["I_cont"] = l_cont }
end, { sample = grid, sample_count = K * K, eval = eval })

traversals(opt.out)
