--- truncation — the truncation trick in W: a trained StyleGAN2's quality against its diversity as psi goes from 1 to 0.
-- @paper Karras, Laine, Aila. A Style-Based Generator Architecture for Generative Adversarial Networks. 2018. arXiv:1812.04948
-- @year 2018
-- @ja 要点: 切り捨てトリック(truncation trick)は w を W の平均 w_avg に近づける: w' = w_avg + ψ (w - w_avg)。ψ=1 で元の分布、ψ=0 ではすべてが平均的な1枚の画像になる。w_avg は学習中のマッピング出力の移動平均。
-- @ja 学習データの少ない(密度の低い)領域の w は G がうまく描けないため、ψ を小さくすると品質(precision: 生成画像が実データの多様体に入る割合)は上がり、多様性(recall: 実データの多様体を生成画像が覆う割合、クラスの偏り)は下がる。品質と多様性のトレードオフ。
-- @ja Z ではなく W で切り捨てるのは、W の方がもつれが少なく平均へ向かう直線上も画像らしいから(BigGAN は z を切り捨てる)。各 ψ で同じ z を使い、FD、precision、recall、クラス被覆を測る。
-- @en Key points: the truncation trick pulls w towards the average w_avg of W: w' = w_avg + psi (w - w_avg). psi = 1 is the learned distribution; psi = 0 makes every sample the one average image. w_avg is a running mean of the mapping's outputs in training.
-- @en G draws poorly where the training data are sparse, so a smaller psi raises quality (precision: the share of samples inside the real data's manifold) and lowers diversity (recall: the share of the real manifold the samples cover; the classes drift apart): a trade-off between quality and diversity.
-- @en Truncating in W rather than Z works because W is less entangled: the line to the average stays on images (BigGAN truncates z). Every psi gets the same z; FD, precision, recall and class coverage are measured at each.

local gan = require "gan"

-- Time: after `ganlua stylegan2` (its run is the default checkpoint), about 4 minutes on one thread
-- for the eleven psi (README, "The truncation trick in W"); without that run it first trains one
-- with the recipe's defaults (about 40 minutes) into OUT/stylegan2.
-- 所要時間: `ganlua stylegan2` の後なら 11 個の psi で 1 スレッド約 4 分、その実行がなければ先に既定の学習(約 40 分)。
local opt = gan.options {
  checkpoint = "runs/stylegan2/checkpoint.safetensors", -- a StyleGAN2 checkpoint (recipes/stylegan2.lua); trained here when absent
  train_iters = 7000,     -- iterations of the StyleGAN2 trained when the checkpoint is absent (the recipe's default)
  train_extra = "",       -- more options for that run (e.g. "--channel_max=64")
  psi = { 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1 }, -- the truncation values psi
  samples = 2000,         -- samples measured at each psi (the same z at every psi)
  columns = 10,           -- images per row of the grid (one z per column)
  out = "runs/lab/truncation", -- results folder
}
if #opt.psi == 0 then error("--psi must list at least one value", 0) end
for _, p in ipairs(opt.psi) do
  if p < 0 or p > 1 then error(("--psi: %g is not between 0 and 1"):format(p), 0) end
end
if opt.samples < 10 then error("--samples must be >= 10", 0) end
if opt.columns < 1 then error("--columns must be >= 1", 0) end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))

-- the average G of a trained StyleGAN2: the checkpoint, or a run of our own
local ckpt = gan.recipes.checkpoint(opt.checkpoint, "stylegan2", {
  iters = opt.train_iters, seed = opt.seed, threads = opt.threads, limit = opt.limit, data = opt.data,
  eval = false, save_every = 0, sample_every = opt.train_iters, out = opt.out .. "/stylegan2",
}, opt.train_extra)
local G, info = gan.pretrained.stylegan2(ckpt)
print(("G from %s (step %s): z %d, w %d, %dx%d"):format(info.path, info.step, info.nz, info.w_dim, info.size,
  info.size))

-- the metrics at each psi, on the same keyed draws: the same z and the same noise every time
local rows = {}
for i, psi in ipairs(opt.psi) do
  local t0 = gan.clock()
  local m = gan.random.keyed("truncation.samples", 0, function()
    return gan.metrics.images(function(n) return G(gan.randn(n, info.nz), { psi = psi }) end,
      { n = opt.samples, bounds = i == 1 })
  end)
  local low = 1
  for c = 2, 10 do if m.coverage[c] < m.coverage[low] then low = c end end
  m.psi, m.smallest = psi, gan.metrics.CLASSES[low]
  rows[i] = m
  print(("psi %.2f  FD %7.2f  precision %.3f  recall %.3f  smallest class %4.1f%% (%s)  %.0f s"):format(psi, m.fd,
    m.precision, m.recall, 100 * m.min_coverage, m.smallest, gan.clock() - t0))
end

-- the grid: a row per psi, a column per z (the same z down a column)
local images = gan.no_grad(function()
  local z = gan.random.keyed("truncation.grid", 0, function() return gan.randn(opt.columns, info.nz) end)
  local list = {}
  for i, psi in ipairs(opt.psi) do
    list[i] = gan.random.keyed("truncation.grid.noise", 0, function() return G(z, { psi = psi }) end)
  end
  return gan.cat(list, 1)
end)
assert(gan.image.save_grid(opt.out .. "/truncation_grid.png", images, { nrow = opt.columns }))

-- the curves: FD; precision and recall; the smallest class's share, against psi
local psi, col = {}, { fd = {}, precision = {}, recall = {}, min_coverage = {} }
for i, r in ipairs(rows) do
  psi[i] = r.psi
  for k, list in pairs(col) do list[i] = r[k] end
end
local size = { width = 420, height = 320, xlabel = "psi", xmin = 0, xmax = 1 }
local function panel(series, o)
  for k, v in pairs(size) do o[k] = o[k] or v end
  return (gan.plot.lines_image(series, o))
end
local figure = gan.cat({
  panel({ { x = psi, y = col.fd, label = "FD" } }, { title = ("FD (%d samples)"):format(opt.samples), ymin = 0 }),
  panel({ { x = psi, y = col.precision, label = "precision" }, { x = psi, y = col.recall, label = "recall" } },
    { title = "precision and recall", ymin = 0, ymax = 1, legend = "bottom_right" }),
  panel({ { x = psi, y = col.min_coverage, label = "smallest class" } },
    { title = "smallest class share (0.1: uniform)", ymin = 0, ymax = math.max(0.1, table.unpack(col.min_coverage)) }),
}, 3)
assert(gan.io.save_png(opt.out .. "/truncation.png", figure))

local lines = {
  ("StyleGAN2 %s (step %s); %d samples per psi, the same z at every psi (FD floor %.2f at this count)"):format(
    info.path, info.step, opt.samples, rows[1].fd_floor),
  "",
  "| psi | FD | precision | recall | smallest class |",
  "|---|---|---|---|---|",
}
local csv = { "psi,fd,precision,recall,min_coverage," .. table.concat(gan.metrics.CLASSES, ",") }
for _, r in ipairs(rows) do
  lines[#lines + 1] = ("| %.2f | %.2f | %.3f | %.3f | %.1f%% (%s) |"):format(r.psi, r.fd, r.precision, r.recall,
    100 * r.min_coverage, r.smallest)
  local cov = {}
  for c = 1, 10 do cov[c] = ("%.4f"):format(r.coverage[c]) end
  csv[#csv + 1] = ("%g,%.4f,%.4f,%.4f,%.4f,%s"):format(r.psi, r.fd, r.precision, r.recall, r.min_coverage,
    table.concat(cov, ","))
end
local text = table.concat(lines, "\n")
print("\n" .. text)
assert(gan.util.write_file(opt.out .. "/table.md", text .. "\n"))
assert(gan.util.write_file(opt.out .. "/results.csv", table.concat(csv, "\n") .. "\n"))
print(("\nfigures: %s/truncation.png (curves), %s/truncation_grid.png (a row per psi, a column per z)")
  :format(opt.out, opt.out))
