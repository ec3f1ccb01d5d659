--- ada — StyleGAN2 on 1,000 images: no augmentation, a fixed p, and adaptive discriminator augmentation, with the same budget.
-- @paper Karras, Aittala, Hellsten, Laine, Lehtinen, Aila. Training Generative Adversarial Networks with Limited Data. 2020. arXiv:2006.06676
-- @year 2020
-- @ja 要点: 少ないデータ(既定 1,000 枚、各クラス同数)で同じ StyleGAN2 を同じ反復数だけ 3 通りに学習する: 拡張なし、固定の p、適応的な p(ADA)。拡張なしでは D が訓練画像を覚え(r_t = E[sign(D(実画像))] が 1 に近づく)、FD の下がりが止まり、やがて上がる。
-- @ja 実画像だけを拡張すると、D は「拡張された画像が本物」と学ぶので G も回転・反転した画像を作るようになる(漏れ)。ADA は D が見るすべての画像(実・生成、D と G のステップ、R1)に同じ拡張をかける: G の画像も拡張されてから D に渡るので、拡張が分布として可逆である限り(p < 約 0.8)G は元の分布を学ぶ。
-- @ja 図: 3 つの実行の FD の推移、ADA の p と r_t の推移、各実行のサンプル。最後に 10,000 枚で FD、分類器のクラス被覆、反転した(背景が白い)サンプルの割合を測る。
-- @en Key points: on little data (1,000 images by default, the same number of each class) the same StyleGAN2 is trained three times for the same number of steps: without augmentation, with a fixed p, and with adaptive p (ADA). Without augmentation D memorises the training images (r_t = E[sign(D(real))] goes towards 1), FD stops falling and then rises.
-- @en Augmenting only the real images teaches D that augmented images are real, so G learns to draw rotated and inverted images: the augmentations leak. ADA augments everything D sees (real and generated images, in D's and G's steps and in R1): G's images are augmented before D sees them, so as long as the augmentations are invertible in distribution (p below about 0.8) G still learns the original distribution.
-- @en Figures: FD over training for the three runs, ADA's p and r_t, and each run's samples. At the end: FD on 10,000 samples, the classifier's class coverage and the share of inverted samples (white background).

local gan = require "gan"

-- Time: three StyleGAN2 runs one after another (README, "StyleGAN2-ADA on 1,000 images").
-- 所要時間: StyleGAN2 の学習 3 回を順に(README 参照)。
local opt = gan.options {
  n = 1000,               -- training images, the same number of each class (gan.data --subset)
  train_iters = 3000,     -- iterations of each run (batch 16)
  runs = { "none", "fixed", "ada" }, -- the runs: none, fixed, ada, and reals (real images only: the leak)
  p = 0.2,                -- augmentation probability of the fixed (and reals) run
  ada_kimg = 100.0,       -- the adaptive run's rate: thousands of images for p to move by 1
  ada_target = 0.6,       -- the adaptive run's target of r_t
  eval_every = 250,       -- quick FD (2,000 samples) every N iterations of each run: the curves
  fd_samples = 10000,     -- samples of each run's final FD
  leak_samples = 2000,    -- samples of each run checked for inversion
  train_extra = "",       -- more options for the runs (e.g. "--channel_max=64")
  out = "runs/lab/ada",   -- results folder: the runs, figures and table
}
local KINDS = { none = true, fixed = true, ada = true, reals = true }
if #opt.runs == 0 then error("--runs must list at least one run", 0) end
for _, r in ipairs(opt.runs) do
  if not KINDS[r] then error(("--runs: unknown run '%s' (none, fixed, ada, reals)"):format(tostring(r)), 0) end
end
if opt.n < 10 then error("--n must be >= 10", 0) end
if opt.train_iters < 1 or opt.eval_every < 1 then error("--train_iters and --eval_every must be >= 1", 0) end
if opt.p < 0 or opt.p > 1 then error("--p must be between 0 and 1", 0) end
if opt.fd_samples < 10 or opt.leak_samples < 10 then error("--fd_samples and --leak_samples must be >= 10", 0) end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))
local extra = {}
for w in opt.train_extra:gmatch("%S+") do extra[#extra + 1] = w end

-- 1. The runs (a finished one is kept: its checkpoint at the asked step, with the same augmentation).
local function finished(dir, kind)
  local path = dir .. "/checkpoint.safetensors"
  if not gan.io.exists(path) then return false end
  local ok, _, info = pcall(gan.pretrained.stylegan2, path)
  return ok and info.step == opt.train_iters and info.options.augment == kind
end
local results = {}
for _, kind in ipairs(opt.runs) do
  local dir = opt.out .. "/" .. kind
  if not finished(dir, kind) then
    local o = { subset = opt.n, iters = opt.train_iters, eval_every = opt.eval_every, eval = false,
      sample_every = opt.train_iters, save_every = 0, seed = opt.seed, threads = opt.threads, out = dir,
      augment = kind, force = true } -- an unfinished run in dir starts over
    if kind == "fixed" or kind == "reals" then o.p = opt.p end
    if kind == "ada" then o.ada_kimg, o.ada_target = opt.ada_kimg, opt.ada_target end
    print(("== %s: %s"):format(kind, table.concat(gan.recipes.argv("stylegan2", o, extra), " ")))
    local t0 = gan.clock()
    local ok, _, why = gan.recipes.run("stylegan2", o, { extra = extra })
    if not ok then error(("lab/ada: the %s run failed: %s"):format(kind, why), 0) end
    print(("== %s: %.1f minutes"):format(kind, (gan.clock() - t0) / 60))
  end
  results[#results + 1] = { kind = kind, dir = dir }
end

-- 2. What each run measured: FD over time (eval.csv), p and r_t (log.csv), the final evaluation.
local function column(path, name)
  local cols, rows = gan.report.read_csv(path)
  if not cols then error(("lab/ada: %s is missing"):format(path), 0) end
  local k, ks
  for i, c in ipairs(cols) do
    if c == name then k = i end
    if c == "step" then ks = i end
  end
  local xs, ys = {}, {}
  if not k then return xs, ys end
  for _, row in ipairs(rows) do
    if row[k] then xs[#xs + 1], ys[#ys + 1] = row[ks], row[k] end
  end
  return xs, ys
end

-- the share of samples whose frame (the outermost two pixels) is brighter than mid-gray: Fashion-MNIST's
-- garments lie on a black background, so an inverted image has a white frame
local function inverted_share(images)
  local n, H = images:size(1), images:size(3)
  local inner = images:narrow(3, 3, H - 4):narrow(4, 3, H - 4)
  local frame = (images:sum({ 2, 3, 4 }) - inner:sum({ 2, 3, 4 })) / (images:size(2) * (H * H - (H - 4) ^ 2))
  return (frame:gt(0):float():sum():item()) / n, images:mean():item()
end

local real = gan.data.load("fashion-mnist", { subset = opt.n, batch = 16, size = 32 })
local real_inv, real_mean = inverted_share(real.x)
for _, r in ipairs(results) do
  r.fd_steps, r.fd = column(r.dir .. "/eval.csv", "fd")
  r.p_steps, r.p = column(r.dir .. "/log.csv", "p")
  r.rt_steps, r.rt = column(r.dir .. "/log.csv", "r_t")
  local G, info = gan.pretrained.stylegan2(r.dir .. "/checkpoint.safetensors")
  local draw = function(n) return G(gan.randn(n, info.nz)) end
  r.final = gan.random.keyed("lab.ada.final", 0, function()
    return gan.metrics.images(draw, { n = opt.fd_samples })
  end)
  local imgs = gan.no_grad(function()
    return gan.random.keyed("lab.ada.leak", 0, function() return draw(opt.leak_samples) end)
  end)
  r.inverted, r.mean = inverted_share(imgs)
  local low = 1
  for c = 2, 10 do if r.final.coverage[c] < r.final.coverage[low] then low = c end end
  r.smallest = gan.metrics.CLASSES[low]
  assert(gan.image.save_grid(("%s/samples_%s.png"):format(opt.out, r.kind), imgs:narrow(1, 1, math.min(64, opt.leak_samples)), { nrow = 8 }))
end

-- 3. Figures: FD over training; ADA's p and r_t.
local size = { width = 460, height = 320, xlabel = "step" }
local function panel(series, o)
  for k, v in pairs(size) do o[k] = o[k] or v end
  return (gan.plot.lines_image(series, o))
end
local fd_series, p_series, rt_series = {}, {}, {}
for _, r in ipairs(results) do
  fd_series[#fd_series + 1] = { x = r.fd_steps, y = r.fd, label = r.kind }
  if #r.p > 0 then p_series[#p_series + 1] = { x = r.p_steps, y = r.p, label = "p, " .. r.kind } end
  if #r.rt > 0 then
    -- r_t as the mean over each eval interval, for a readable line
    local xs, ys, acc, n = {}, {}, 0, 0
    for i, v in ipairs(r.rt) do
      acc, n = acc + v, n + 1
      if r.rt_steps[i] % opt.eval_every == 0 then xs[#xs + 1], ys[#ys + 1], acc, n = r.rt_steps[i], acc / n, 0, 0 end
    end
    rt_series[#rt_series + 1] = { x = xs, y = ys, label = "r_t, " .. r.kind }
  end
end
local panels = { panel(fd_series, { title = "FD (2,000 samples) over training", ymin = 0 }) }
if #p_series + #rt_series > 0 then
  local both = {}
  for _, s in ipairs(p_series) do both[#both + 1] = s end
  for _, s in ipairs(rt_series) do both[#both + 1] = s end
  panels[2] = panel(both, { title = ("p and r_t (target %.2f)"):format(opt.ada_target), ymin = -0.2, ymax = 1 })
end
assert(gan.io.save_png(opt.out .. "/ada.png", gan.cat(panels, 3)))

-- 4. The table.
local lines = {
  ("StyleGAN2 on %d Fashion-MNIST images (the same number of each class), %d iterations each; final FD on %d samples "
    .. "against the full reference; inverted = frame brighter than mid-gray (real images: %.2f%%, mean intensity %.3f)")
    :format(opt.n, opt.train_iters, opt.fd_samples, 100 * real_inv, real_mean),
  "",
  "| run | final p | FD | best quick FD (step) | precision | recall | smallest class | inverted | mean intensity |",
  "|---|---|---|---|---|---|---|---|---|",
}
for _, r in ipairs(results) do
  local best, at = math.huge, 0
  for i, v in ipairs(r.fd) do if v < best then best, at = v, r.fd_steps[i] end end
  r.best, r.best_step = best, at
  lines[#lines + 1] = ("| %s | %s | %.1f | %.1f (%d) | %.3f | %.3f | %.1f%% (%s) | %.2f%% | %.3f |"):format(r.kind,
    #r.p > 0 and ("%.3f"):format(r.p[#r.p]) or "0", r.final.fd, best, at, r.final.precision, r.final.recall,
    100 * r.final.min_coverage, r.smallest, 100 * r.inverted, r.mean)
end
local text = table.concat(lines, "\n")
print("\n" .. text)
assert(gan.util.write_file(opt.out .. "/table.md", text .. "\n"))
local by = {}
for _, r in ipairs(results) do by[r.kind] = r end
if by.none and by.ada then
  local change = 100 * (by.ada.final.fd / by.none.final.fd - 1)
  print(("\nADA's final FD is %.1f%% %s the run without augmentation's (%.1f against %.1f)"):format(
    math.abs(change), change <= 0 and "below" or "above", by.ada.final.fd, by.none.final.fd))
end
print(("figures: %s/ada.png (FD, p and r_t), %s/samples_RUN.png"):format(opt.out, opt.out))
