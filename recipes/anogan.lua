--- AnoGAN — anomaly detection: a DCGAN of normal images, and how far a test image is from all it can make.
-- @paper Schlegl, Seeböck, Waldstein, Schmidt-Erfurth, Langs. Unsupervised Anomaly Detection with Generative Adversarial Networks to Guide Marker Discovery. 2017. arXiv:1703.05921
-- @year 2017
-- @ja 要点: 正常データだけでDCGANを学習する。テスト画像xに対して、G(z)がxに近づくようにzを勾配降下で探索する(G・Dの重みは固定)。
-- @ja 異常度 A(x) = (1-λ)·R(x) + λ·D(x)。R は残差損失 Σ|x - G(z)|、D は識別損失(Dの中間層の特徴の差 Σ|f(x) - f(G(z))|、feature matching)。λ=0.1。残差画像 |x - G(z)| が異常の場所を示す。
-- @en Key points: train a DCGAN on normal images only; for a test image x, search z by gradient descent so that G(z) comes close to x (G and D fixed).
-- @en Anomaly score A(x) = (1 - λ)·R(x) + λ·D(x): R the residual loss Σ|x - G(z)|, D the discrimination loss on an intermediate layer of D, Σ|f(x) - f(G(z))| (feature matching); λ = 0.1. The residual image |x - G(z)| shows where the anomaly is.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of MNIST-style IDX files with labels and a test split
  normal = 1,             -- the normal class (1: Trouser); every other class is an anomaly
  size = 32,              -- image size: a power of two from 16
  nf = 32,                -- feature maps of G's last and D's first layer
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 2000,           -- training iterations
  lambda = 0.1,           -- weight λ of the discrimination loss in the score (1 - λ on the residual loss)
  search = 100,           -- gradient steps of the search for z, per test image
  search_lr = 0.05,       -- Adam learning rate of the search
  test_n = 2000,          -- test images scored (the first N of the test split)
  out = "runs/anogan",    -- run folder
}
if opt.normal < 0 or opt.normal > 9 then error("--normal must be a class id in 0..9", 0) end
if opt.lambda < 0 or opt.lambda > 1 then error("--lambda must be in [0, 1]", 0) end
if opt.search < 1 or opt.test_n < 2 then error("--search must be >= 1 and --test_n >= 2", 0) end

-- training: the normal class only; testing: every class
local data = gan.data.load(opt.data, gan.options.with(opt, { classes = { opt.normal } }))
local test = gan.data.load(opt.data, gan.options.with(opt, { limit = opt.test_n }), { split = "test" })
local normal_name = (data.classes or {})[opt.normal + 1] or tostring(opt.normal)
-- a one-class generator is measured by its AUROC, not by gan.train's measures against all ten classes
data.evaluate = nil
local C = data.x:size(2)

-- DCGAN; D's body gives the features f(x) of the discrimination loss
local G = gan.nets.dcgan.generator(opt.nz, C, opt.size, opt.nf)
local body, c = gan.nets.dcgan.body(C, opt.size, opt.nf)
local D = nn.Sequential { body, nn.Conv2d(c, 1, 4, 1, 0), nn.Flatten() }
D[2]:apply(nn.init.dcgan)
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)
local function noise(n) return gan.randn(n, opt.nz, 1, 1) end

-- the search: z for each image of x by Adam on the score, G and D fixed; returns G(z*) and the scores
local function search(x)
  local n = x:size(1)
  local z = noise(n):requires_grad(true)
  local o = gan.optim.Adam({ z }, { lr = opt.search_lr })
  local fx = body(x):detach()
  local function score(g)
    local r = (x - g):abs():flatten(2):sum(2)             -- residual loss
    local d = (fx - body(g)):abs():flatten(2):sum(2)      -- discrimination loss
    return r * (1 - opt.lambda) + d * opt.lambda
  end
  for _ = 1, opt.search do
    o:step(score(G(z)):sum())                  -- the images' z are independent: one sum, one step
  end
  return gan.no_grad(function()
    local g = G(z)
    return g, score(g)
  end)
end

-- scores of the test images, their AUROC (anomalies positive), and residual maps
local function evaluate(step)
  G:eval(); D:eval()
  local x, y = test.x, test.labels
  local gs, scores = {}, {}
  gan.random.keyed("anogan.search", 0, function()   -- the same starting z at every evaluation
    for i = 1, x:size(1), 500 do
      local m = math.min(500, x:size(1) - i + 1)
      local g, s = gan.enable_grad(search, x:narrow(1, i, m))
      gs[#gs + 1], scores[#scores + 1] = g, s
    end
  end)
  G:train(); D:train()
  local g, s = gan.cat(gs, 1), gan.cat(scores, 1)
  local anomaly = y:ne(opt.normal)
  local auroc = gan.roc.auroc(s, anomaly:float())
  -- residual maps: 8 normal and 8 anomalous test images, each as x, G(z*), |x - G(z*)|
  local picks = { {}, {} }
  for i, v in ipairs(y:totable()) do
    local list = picks[v == opt.normal and 1 or 2]
    if #list < 8 then list[#list + 1] = i - 1 end
  end
  local rows = {}
  for _, list in ipairs(picks) do
    if #list > 0 then
      local idx = gan.tensor(list, "int64")
      local xi, gi = x:index_select(1, idx), g:index_select(1, idx)
      rows[#rows + 1] = xi
      rows[#rows + 1] = gi
      rows[#rows + 1] = (xi - gi):abs() - 1
    end
  end
  gan.image.save_grid(("%s/residuals_step%06d.png"):format(opt.out, step), gan.cat(rows, 1), { nrow = 8 })
  local a = anomaly:float()
  return { auroc = auroc, score_normal = ((1 - a) * s):sum():item() / math.max(1, (1 - a):sum():item()),
    score_anomaly = (a * s):sum():item() / math.max(1, a:sum():item()) }
end

-- evaluations are costly (a search per test image): the last one is kept for the summary
local last
local function eval_hook(step)
  if not (last and last.step == step) then last = { step = step, values = gan.no_grad(evaluate, step) } end
  return last.values
end

print(("normal class: %d (%s); %d training images, %d test images"):format(opt.normal, normal_name, data:size(),
  test:size()))
local summary = gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real)
  local fake = G(noise(real:size(1)))
  local lossD = F.bce_logits(D(real), 1) + F.bce_logits(D(fake:detach()), 0)
  optD:step(lossD)
  local lossG = F.bce_logits(D(fake), 1)
  optG:step(lossG)
  return { D = lossD, G = lossG }
end, { noise = noise, eval = eval_hook })

local v = eval_hook(summary.step)
local line = ("AUROC %.4f: normal class %d (%s) against the other classes, %d test images; residual maps in "
  .. "%s/residuals_step%06d.png"):format(v.auroc, opt.normal, normal_name, test:size(), opt.out, summary.step)
print(line)
local f = io.open(opt.out .. "/anogan.txt", "w")
if f then f:write(line, "\n"); f:close() end
