--- attention — where SAGAN's self-attention looks: attention maps of chosen query pixels over generated garments, and sigma over training.
-- @paper Zhang, Goodfellow, Metaxas, Odena. Self-Attention Generative Adversarial Networks. 2018. arXiv:1805.08318
-- @year 2018
-- @ja 要点: 自己注意ブロックでは各クエリ画素が、特徴マップ全体(2x2 最大プーリングした格子)に softmax の重みを配る。その重みを画像の大きさに拡大して重ねると、クエリがどこを参照しているかが見える: 畳み込みの局所性を超え、同じ衣服の離れた部分(袖、裾、輪郭)や背景を見ていることがある。
-- @ja 出力は x + σ·o で σ は 0 から学習するので、σ の推移は G と D が注意をどれだけ使うようになったかを示す(学習ログ log.csv の sigma_G, sigma_D)。
-- @en Key points: in a self-attention block every query pixel spreads softmax weights over the whole feature map (its 2x2 max-pooled grid). Upsampled to the image's size and laid over it, the weights show where a query looks: beyond a convolution's neighbourhood, at far parts of the same garment (sleeves, hem, outline) or at the background.
-- @en The block's output is x + sigma * o with sigma learned from 0, so sigma's course shows how much G and D came to use attention (the run's log.csv: sigma_G, sigma_D).

local gan = require "gan"

-- Time: after `ganlua sagan` (its run is the default checkpoint) a few seconds; without that run
-- it first trains one with the recipe's defaults into OUT/sagan.
-- 所要時間: `ganlua sagan` の後なら数秒、なければ先に既定の学習。
local opt = gan.options {
  checkpoint = "runs/sagan/checkpoint.safetensors", -- a SAGAN checkpoint (recipes/sagan.lua, attention on); trained here when absent
  train_iters = 0,        -- iterations of the run trained when the checkpoint is absent (0: the recipe's default)
  train_extra = "",       -- more options for that run
  images = 6,             -- generated images shown (one row each)
  queries = { 0.3, 0.3, 0.5, 0.5, 0.8, 0.7 }, -- query pixels as pairs (row, column), fractions of the image's height and width
  out = "runs/lab/attention", -- results folder
}
if opt.images < 1 then error("--images must be >= 1", 0) end
if #opt.queries == 0 or #opt.queries % 2 ~= 0 then error("--queries must list pairs row,column", 0) end
for _, q in ipairs(opt.queries) do
  if q < 0 or q >= 1 then error(("--queries: %g is not in [0, 1)"):format(q), 0) end
end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))

local ckpt = gan.recipes.checkpoint(opt.checkpoint, "sagan", {
  iters = opt.train_iters > 0 and opt.train_iters or nil, seed = opt.seed, threads = opt.threads,
  limit = opt.limit, data = opt.data, eval = false, save_every = 0, out = opt.out .. "/sagan",
}, opt.train_extra)
local G, D, info = gan.pretrained.sagan(ckpt)
if not G.attention then error(("%s was trained with --attention=false: no attention to show"):format(ckpt), 0) end
print(("G and D from %s (step %s): attention at %dx%d"):format(info.path, info.step, info.attention, info.attention))

-- the images (a batch of 64 for the batch statistics; the first `images` shown) and the maps of
-- G's block on them, and of D's block when D reads them
local n = math.max(opt.images, 64)
local img, gmap, dmap = gan.no_grad(function()
  return gan.random.keyed("attention.samples", 0, function()
    G.attention.keep_map, D.attention.keep_map = true, true
    local x = G(gan.randn(n, info.nz))
    D(x)
    return x:narrow(1, 1, opt.images), G.attention.map:narrow(1, 1, opt.images),
      D.attention.map:narrow(1, 1, opt.images)
  end)
end)

-- one map (HW/4 weights) of query q: the pooled grid as an image, upsampled to the image's size and
-- scaled to [0, 1]
local size, a = info.size, info.attention
local function heat(map, i, qr, qc)
  local q = math.floor(qr * a) * a + math.floor(qc * a) + 1
  local w = map:narrow(1, i, 1):narrow(2, q, 1):reshape(1, 1, a // 2, a // 2)
  w = w / w:max()
  return w:upsample({ size = { size, size } }):reshape(size, size)
end

-- a tile: the garment in grey, the map in red, the query pixel in green
local function tile(x, h, qr, qc)
  local g = (x:reshape(size, size) + 1) / 2
  local r, gg, b = g * 0.5 + h * 0.5, g * 0.5, g * 0.5
  if qr then
    local py, px = math.floor(qr * size), math.floor(qc * size)
    local m = {}
    for y = 0, size - 1 do
      m[y + 1] = {}
      for xx = 0, size - 1 do m[y + 1][xx + 1] = (math.abs(y - py) <= 1 and math.abs(xx - px) <= 1) and 1 or 0 end
    end
    local mark = gan.tensor(m)
    gg = gg * (1 - mark) + mark
    r, b = r * (1 - mark), b * (1 - mark)
  end
  return gan.stack({ r, gg, b }, 1) * 2 - 1      -- as images in [-1, 1]
end

-- rows: one image each; columns: the image, then per query G's map and D's map
local tiles, nq = {}, #opt.queries // 2
for i = 1, opt.images do
  local x = img:narrow(1, i, 1):narrow(2, 1, 1)
  tiles[#tiles + 1] = tile(x, gan.zeros(size, size))
  for k = 1, nq do
    local qr, qc = opt.queries[2 * k - 1], opt.queries[2 * k]
    tiles[#tiles + 1] = tile(x, heat(gmap, i, qr, qc), qr, qc)
    tiles[#tiles + 1] = tile(x, heat(dmap, i, qr, qc), qr, qc)
  end
end
local grid = gan.image.grid(gan.stack(tiles, 1), { nrow = 1 + 2 * nq })
assert(gan.io.save_png(opt.out .. "/attention_maps.png", grid))

-- sigma over training, from the run's log
local dir = ckpt:match("^(.*)/[^/]*$") or "."
local log
local f = io.open(dir .. "/log.csv", "r")
if f then log = f:read("a"); f:close() end
local steps, sg, sd = {}, {}, {}
if log then
  local head = {}
  local first = true
  for line in log:gmatch("[^\n]+") do
    local cells = {}
    for c in (line .. ","):gmatch("([^,]*),") do cells[#cells + 1] = c end
    if first then
      for j, name in ipairs(cells) do head[name] = j end
      first = false
    elseif head.sigma_G and head.sigma_D then
      steps[#steps + 1] = tonumber(cells[head.step])
      sg[#sg + 1] = tonumber(cells[head.sigma_G])
      sd[#sd + 1] = tonumber(cells[head.sigma_D])
    end
  end
end
if #steps > 1 then
  local fig = gan.plot.lines_image({ { x = steps, y = sg, label = "sigma (G)" }, { x = steps, y = sd, label = "sigma (D)" } },
    { width = 480, height = 320, xlabel = "step", title = "attention's sigma over training", legend = "bottom_right" })
  assert(gan.io.save_png(opt.out .. "/sigma.png", fig))
  print(("sigma at step %d: G %.4f, D %.4f (%s/sigma.png)"):format(steps[#steps], sg[#sg], sd[#sd], opt.out))
else
  print(("no sigma_G, sigma_D columns in %s/log.csv: no sigma curve"):format(dir))
end
print(("figure: %s/attention_maps.png (rows: images; columns: the image, then for each query G's map and D's map;"
  .. " the query in green)"):format(opt.out))
