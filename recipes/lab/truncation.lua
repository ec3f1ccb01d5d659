--- truncation — the truncation trick: a trained StyleGAN2's quality against its diversity as psi goes from 1 to 0 (in W), or a BigGAN's as the threshold t of z shrinks.
-- @paper Karras, Laine, Aila. A Style-Based Generator Architecture for Generative Adversarial Networks. 2018. arXiv:1812.04948
-- @paper Brock, Donahue, Simonyan. Large Scale GAN Training for High Fidelity Natural Image Synthesis. 2018. arXiv:1809.11096
-- @year 2018
-- @ja 要点: 切り捨てトリック(truncation trick)は w を W の平均 w_avg に近づける: w' = w_avg + ψ (w - w_avg)。ψ=1 で元の分布、ψ=0 ではすべてが平均的な1枚の画像になる。w_avg は学習中のマッピング出力の移動平均。
-- @ja 学習データの少ない(密度の低い)領域の w は G がうまく描けないため、ψ を小さくすると品質(precision: 生成画像が実データの多様体に入る割合)は上がり、多様性(recall: 実データの多様体を生成画像が覆う割合、クラスの偏り)は下がる。品質と多様性のトレードオフ。
-- @ja Z ではなく W で切り捨てるのは、W の方がもつれが少なく平均へ向かう直線上も画像らしいから。BigGAN (--model=biggan) は z そのものを切り捨てる: 生成時の z を [-t, t] に切り捨てた正規分布から引き、t が小さいほど品質(precision、クラス一致率)が上がり多様性(recall)が下がる。各値で同じ乱数を使い、FD、precision、recall、クラス被覆(BigGAN ではクラス一致率も)を測る。
-- @en Key points: the truncation trick pulls w towards the average w_avg of W: w' = w_avg + psi (w - w_avg). psi = 1 is the learned distribution; psi = 0 makes every sample the one average image. w_avg is a running mean of the mapping's outputs in training.
-- @en G draws poorly where the training data are sparse, so a smaller psi raises quality (precision: the share of samples inside the real data's manifold) and lowers diversity (recall: the share of the real manifold the samples cover; the classes drift apart): a trade-off between quality and diversity.
-- @en Truncating in W rather than Z works because W is less entangled: the line to the average stays on images. BigGAN (--model=biggan) truncates z itself: at sampling time z comes from a normal truncated to [-t, t], and a smaller t raises quality (precision, class agreement) and lowers diversity (recall). Every value gets the same random draws; FD, precision, recall and class coverage (and for BigGAN class agreement) are measured at each.

local gan = require "gan"

-- Time: after `ganlua stylegan2` (its run is the default checkpoint), about 4 minutes on one thread
-- for the eleven psi (README, "The truncation trick in W"); without that run it first trains one
-- with the recipe's defaults (about 40 minutes) into OUT/stylegan2. With --model=biggan, after
-- `ganlua biggan`, seven t (README, "BigGAN: the truncation trick in z").
-- 所要時間: `ganlua stylegan2` の後なら 11 個の psi で 1 スレッド約 4 分、その実行がなければ先に既定の学習(約 40 分)。
local opt = gan.options {
  model = "stylegan2",    -- the generator: stylegan2 (truncation in W, psi) or biggan (truncated z, t)
  checkpoint = "",        -- its checkpoint (default runs/MODEL/checkpoint.safetensors); trained here when absent
  train_iters = 0,        -- iterations of the run trained when the checkpoint is absent (0: the recipe's default)
  train_extra = "",       -- more options for that run (e.g. "--channel_max=64")
  psi = { 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1 }, -- StyleGAN2: the truncation values psi
  t = { 0, 2, 1.5, 1, 0.75, 0.5, 0.25 }, -- BigGAN: the thresholds t of z (0: none, plain N(0, 1))
  samples = 2000,         -- samples measured at each value (the same draws at every value)
  columns = 10,           -- StyleGAN2: images per row of the grid (one z per column)
  out = "runs/lab/truncation", -- results folder
}
if opt.model ~= "stylegan2" and opt.model ~= "biggan" then
  error(("--model must be stylegan2 or biggan, got %s"):format(opt.model), 0)
end
local biggan = opt.model == "biggan"
local values = biggan and opt.t or opt.psi
if #values == 0 then error(("--%s must list at least one value"):format(biggan and "t" or "psi"), 0) end
for _, v in ipairs(values) do
  if biggan and v < 0 then error(("--t: %g is negative (0: no truncation)"):format(v), 0) end
  if not biggan and (v < 0 or v > 1) then error(("--psi: %g is not between 0 and 1"):format(v), 0) end
end
if opt.samples < 10 then error("--samples must be >= 10", 0) end
if opt.columns < 1 then error("--columns must be >= 1", 0) end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))

-- the trained G: the checkpoint, or a run of our own
local path = opt.checkpoint ~= "" and opt.checkpoint or ("runs/%s/checkpoint.safetensors"):format(opt.model)
local ckpt = gan.recipes.checkpoint(path, opt.model, {
  iters = opt.train_iters > 0 and opt.train_iters or nil, seed = opt.seed, threads = opt.threads,
  limit = opt.limit, data = opt.data, eval = false, save_every = 0,
  sample_every = opt.train_iters > 0 and opt.train_iters or nil, out = opt.out .. "/" .. opt.model,
}, opt.train_extra)
local G, info = gan.pretrained[opt.model](ckpt)

-- what each model samples at a value: images (and the classes asked, for BigGAN)
local name, sample, describe
if biggan then
  name = "t"
  print(("G from %s (step %s): z %d, %d classes, %dx%d"):format(info.path, info.step, info.nz, info.classes,
    info.size, info.size))
  local K = info.classes
  -- the classes go round within each batch: the average G samples with batch statistics
  sample = function(t)
    return gan.labels.sampler(function(z, y) return G(z, y) end, K,
      function(n) return gan.nets.biggan.truncated_z(n, info.nz, t > 0 and t or nil) end, { interleave = true })
  end
  describe = function(t) return t > 0 and ("%.2f"):format(t) or "none" end
else
  name = "psi"
  print(("G from %s (step %s): z %d, w %d, %dx%d"):format(info.path, info.step, info.nz, info.w_dim, info.size,
    info.size))
  sample = function(psi) return function(n) return G(gan.randn(n, info.nz), { psi = psi }) end end
  describe = function(psi) return ("%.2f"):format(psi) end
end

-- the metrics at each value, on the same keyed draws
local rows = {}
for i, v in ipairs(values) do
  local t0 = gan.clock()
  local m = gan.random.keyed("truncation.samples", 0, function()
    return gan.no_grad(function() return gan.metrics.images(sample(v), { n = opt.samples, bounds = i == 1 }) end)
  end)
  local low = 1
  for c = 2, 10 do if m.coverage[c] < m.coverage[low] then low = c end end
  m.value, m.smallest = v, gan.metrics.CLASSES[low]
  rows[i] = m
  print(("%s %-5s FD %7.2f  precision %.3f  recall %.3f%s  smallest class %4.1f%% (%s)  %.0f s"):format(name,
    describe(v), m.fd, m.precision, m.recall, m.accuracy and ("  class agreement %.3f"):format(m.accuracy) or "",
    100 * m.min_coverage, m.smallest, gan.clock() - t0))
end

-- the grid: a row per value; StyleGAN2: a column per z (the same z down a column); BigGAN: a column
-- per class, with the same underlying draws at every t (truncated_z maps the same uniforms), and a
-- 10x10 grid per t (grid_t_VALUE.png, one class per column)
local images = gan.no_grad(function()
  local list = {}
  for i, v in ipairs(values) do
    if biggan then
      list[i] = gan.random.keyed("truncation.grid", 0, function() return (sample(v)(info.classes)) end)
      local g = gan.random.keyed("truncation.grid", 0, function() return (sample(v)(info.classes * 10)) end)
      assert(gan.image.save_grid(("%s/grid_t_%s.png"):format(opt.out, describe(v)), g, { nrow = info.classes }))
    else
      local z = gan.random.keyed("truncation.grid", 0, function() return gan.randn(opt.columns, info.nz) end)
      list[i] = gan.random.keyed("truncation.grid.noise", 0, function() return G(z, { psi = v }) end)
    end
  end
  return gan.cat(list, 1)
end)
local columns = biggan and info.classes or opt.columns
assert(gan.image.save_grid(opt.out .. "/truncation_grid.png", images, { nrow = columns }))

-- the curves: FD; precision and recall (and class agreement); the smallest class's share, against the
-- value (BigGAN: "none" is drawn at 2.5)
local xs, col = {}, { fd = {}, precision = {}, recall = {}, min_coverage = {}, accuracy = {} }
for i, r in ipairs(rows) do
  xs[i] = (biggan and r.value == 0) and 2.5 or r.value
  for k, list in pairs(col) do list[i] = r[k] or 0 end
end
local size = { width = 420, height = 320, xlabel = biggan and "t (none at 2.5)" or "psi", xmin = 0,
  xmax = biggan and 2.5 or 1 }
local function panel(series, o)
  for k, v in pairs(size) do o[k] = o[k] or v end
  return (gan.plot.lines_image(series, o))
end
local quality = { { x = xs, y = col.precision, label = "precision" }, { x = xs, y = col.recall, label = "recall" } }
if biggan then quality[3] = { x = xs, y = col.accuracy, label = "class agreement" } end
local figure = gan.cat({
  panel({ { x = xs, y = col.fd, label = "FD" } }, { title = ("FD (%d samples)"):format(opt.samples), ymin = 0 }),
  panel(quality, { title = biggan and "precision, recall, class agreement" or "precision and recall", ymin = 0,
    ymax = 1, legend = "bottom_right" }),
  panel({ { x = xs, y = col.min_coverage, label = "smallest class" } },
    { title = "smallest class share (0.1: uniform)", ymin = 0, ymax = math.max(0.1, table.unpack(col.min_coverage)) }),
}, 3)
assert(gan.io.save_png(opt.out .. "/truncation.png", figure))

local lines = {
  ("%s %s (step %s); %d samples per %s, the same draws at every %s (FD floor %.2f at this count)"):format(
    biggan and "BigGAN" or "StyleGAN2", info.path, info.step, opt.samples, name, name, rows[1].fd_floor),
  "",
  biggan and "| t | FD | precision | recall | class agreement | smallest class |"
    or "| psi | FD | precision | recall | smallest class |",
  biggan and "|---|---|---|---|---|---|" or "|---|---|---|---|---|",
}
local csv = { name .. ",fd,precision,recall," .. (biggan and "accuracy," or "") .. "min_coverage,"
  .. table.concat(gan.metrics.CLASSES, ",") }
for _, r in ipairs(rows) do
  lines[#lines + 1] = ("| %s | %.2f | %.3f | %.3f |%s %.1f%% (%s) |"):format(describe(r.value), r.fd, r.precision,
    r.recall, biggan and (" %.1f%% |"):format(100 * r.accuracy) or "", 100 * r.min_coverage, r.smallest)
  local cov = {}
  for c = 1, 10 do cov[c] = ("%.4f"):format(r.coverage[c]) end
  csv[#csv + 1] = ("%g,%.4f,%.4f,%.4f,%s%.4f,%s"):format(r.value, r.fd, r.precision, r.recall,
    biggan and ("%.4f,"):format(r.accuracy) or "", r.min_coverage, table.concat(cov, ","))
end
local text = table.concat(lines, "\n")
print("\n" .. text)
assert(gan.util.write_file(opt.out .. "/table.md", text .. "\n"))
assert(gan.util.write_file(opt.out .. "/results.csv", table.concat(csv, "\n") .. "\n"))
print(("\nfigures: %s/truncation.png (curves), %s/truncation_grid.png (a row per %s, a column per %s)")
  :format(opt.out, opt.out, name, biggan and "class" or "z"))
