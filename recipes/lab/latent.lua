--- latent — walks and vector arithmetic in a trained DCGAN's latent space.
-- @paper Radford, Metz, Chintala. Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks. 2015. arXiv:1511.06434
-- @year 2015
-- @ja 要点: DCGAN論文6章。2つのzの間を線形補間すると画像がなめらかに変化する(記憶ではなく滑らかな多様体を学んだ証拠)。
-- @ja 概念ごとに3つのzを平均してから足し引きする(例: 笑顔の女性 - 無表情の女性 + 無表情の男性 = 笑顔の男性)。1つのzでは不安定なので平均を使う。ここでは分類器で選んだ「暗い/明るい」×クラスで試す。
-- @en Key points: DCGAN paper section 6. Linear walks between two z change the image smoothly (a sign of a smooth manifold rather than memorised samples).
-- @en Vector arithmetic on z averaged over 3 samples per concept (smiling woman - neutral woman + neutral man = smiling man); one z per concept is unstable. Here the concepts are dark or light items of a class, picked by the classifier.

local gan = require "gan"

local opt = gan.options {
  checkpoint = "runs/dcgan/checkpoint.safetensors", -- a DCGAN checkpoint (recipes/dcgan.lua); trained here when absent
  train_iters = 2000,     -- iterations of the DCGAN trained when the checkpoint is absent
  train_nf = 64,          -- feature maps of the DCGAN trained when the checkpoint is absent
  rows = 8,               -- interpolations (rows of the grid)
  steps = 10,             -- images per interpolation, ends included
  slerp = false,          -- spherical instead of linear interpolation
  pool = 2000,            -- samples drawn to find the concepts
  class_a = 2,            -- class of the first two concepts, dark and light (2: Pullover)
  class_b = 8,            -- class of the third concept, light (8: Bag)
  jitter = 0.25,          -- std of the noise added to the result to show its neighbours
  out = "runs/latent",    -- run folder
}
if opt.rows < 1 or opt.steps < 2 then error("--rows must be >= 1 and --steps >= 2", 0) end
if opt.pool < 60 then error("--pool must be >= 60", 0) end
for _, k in ipairs({ "class_a", "class_b" }) do
  if opt[k] < 0 or opt[k] > 9 then error(("--%s must be a Fashion-MNIST class id in 0..9"):format(k), 0) end
end
if opt.class_a == opt.class_b then error("--class_a and --class_b must differ", 0) end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))
local names = gan.data.fashion_classes

-- G of a trained DCGAN: the checkpoint, or a short run of our own
local ckpt = gan.recipes.checkpoint(opt.checkpoint, "dcgan", {
  iters = opt.train_iters, nf = opt.train_nf, batch = opt.batch, seed = opt.seed, threads = opt.threads,
  limit = opt.limit, data = opt.data, size = opt.size, sample_every = opt.train_iters, save_every = 0, eval = false,
  out = opt.out .. "/dcgan",
})
local G, info = gan.pretrained.dcgan(ckpt)
local nz = info.nz
print(("G from %s (step %s): nz %d, nf %d, %dx%d"):format(info.path, info.step, nz, info.nf, info.size, info.size))

local function img(z) return G(z:reshape(z:size(1), nz, 1, 1)) end

-- mean intensity in [0, 1] of the item's pixels (those brighter than the background)
local function brightness(x)
  local mask = x:gt(-0.8):float()
  return (((x + 1) * 0.5) * mask):sum({ 2, 3, 4 }) / mask:sum({ 2, 3, 4 }):clamp(1, nil)
end

gan.no_grad(function()
  -- 1. interpolation: each row walks from one random z to another
  local rows = {}
  local z0, z1 = gan.randn(opt.rows, nz), gan.randn(opt.rows, nz)
  for r = 1, opt.rows do
    local a, b = z0[r], z1[r]
    local ts = gan.linspace(0, 1, opt.steps):reshape(opt.steps, 1)
    local z
    if opt.slerp then
      local omega = math.acos(math.max(-1, math.min(1, ((a * b):sum() / (a:square():sum():sqrt() * b:square():sum():sqrt())):item())))
      local so = math.sin(omega)
      z = (((1 - ts) * omega):sin() * a + (ts * omega):sin() * b) / so
    else
      z = (1 - ts) * a + ts * b
    end
    rows[r] = img(z)
  end
  local path = opt.out .. "/interpolation.png"
  gan.image.save_grid(path, gan.cat(rows, 1), { nrow = opt.steps })
  print(("interpolation: %d walks of %d steps -> %s"):format(opt.rows, opt.steps, path))

  -- 2. vector arithmetic: concepts are 3 samples each, picked by class (the classifier) and brightness
  local zs = gan.randn(opt.pool, nz)
  local x = img(zs)
  local cls = gan.metrics.predict(x):totable()
  local br = brightness(x):totable()
  -- 3 z of samples the classifier calls `class`, spread over its darkest (or lightest) quarter:
  -- typical members of the concept rather than the most extreme ones
  local function pick(class, darkest)
    local idx = {}
    for i, c in ipairs(cls) do if c == class then idx[#idx + 1] = i end end
    if #idx < 6 then error(("only %d of %d samples are %s: raise --pool"):format(#idx, opt.pool, names[class + 1]), 0) end
    table.sort(idx, function(i, j) if darkest then return br[i] < br[j] end return br[i] > br[j] end)
    local q = math.max(3, #idx // 4)
    local pos = {}
    for k = 1, 3 do pos[k] = idx[math.floor((k - 0.5) * q / 3) + 1] end
    return gan.stack({ zs[pos[1]], zs[pos[2]], zs[pos[3]] }, 1)
  end
  local concepts = {
    { "dark " .. names[opt.class_a + 1], pick(opt.class_a, true) },
    { "light " .. names[opt.class_a + 1], pick(opt.class_a, false) },
    { "light " .. names[opt.class_b + 1], pick(opt.class_b, false) },
  }
  local mean = {}
  local cells = {}
  for i, c in ipairs(concepts) do
    mean[i] = c[2]:mean(1, true)
    cells[#cells + 1] = img(gan.cat({ c[2], mean[i] }, 1))   -- the 3 samples, then their mean z
  end
  local zr = mean[1] - mean[2] + mean[3]
  local jit = gan.randn(7, nz) * opt.jitter + zr
  local result = img(gan.cat({ zr, jit }, 1))
  cells[#cells + 1] = result
  path = opt.out .. "/arithmetic.png"
  gan.image.save_grid(path, gan.cat(cells, 1), { nrow = 4 })

  -- did it work? the classifier and the brightness of the results
  local rc = gan.metrics.predict(result):totable()
  local hit = 0
  for _, c in ipairs(rc) do if c == opt.class_b then hit = hit + 1 end end
  local rb = brightness(result):mean():item()
  local b3 = brightness(cells[3]:narrow(1, 1, 3)):mean():item()
  local b1 = brightness(cells[1]:narrow(1, 1, 3)):mean():item()
  local lines = {
    ("%s - %s + %s = dark %s?"):format(concepts[1][1], concepts[2][1], concepts[3][1], names[opt.class_b + 1]),
    ("  results classified as %s: %d of %d"):format(names[opt.class_b + 1], hit, #rc),
    ("  brightness: results %.3f, light %s %.3f, dark %s %.3f"):format(rb, names[opt.class_b + 1], b3,
      names[opt.class_a + 1], b1),
    ("  grid: rows 1-3 the concepts (3 samples, then their mean z), rows 4-5 the result and 7 neighbours -> %s"):format(path),
  }
  local f = assert(io.open(opt.out .. "/latent.txt", "w"))
  for _, l in ipairs(lines) do print(l); f:write(l, "\n") end
  f:close()
end)
