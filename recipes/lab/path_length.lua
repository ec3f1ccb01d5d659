--- path_length — perceptual path length in W of two StyleGAN2 runs with the same budget, with and without path length regularization.
-- @paper Karras, Laine, Aittala, Hellsten, Lehtinen, Aila. Analyzing and Improving the Image Quality of StyleGAN. 2019. arXiv:1912.04958
-- @year 2019
-- @ja 要点: 知覚的パス長(PPL)は、潜在空間の短い一歩 ε で画像が知覚的にどれだけ変わるかの平均: 2つの w を結ぶ直線上の点 t と t+ε の画像の特徴の距離の二乗を ε² で割る(NVlabs は VGG16 の LPIPS、ここでは Fashion-MNIST 分類器の特徴)。極端な 1% ずつを除いて平均する。小さいほど潜在空間が滑らか。
-- @ja StyleGAN2 の論文は PPL の小さい G ほど画像の形が整っていることを示し、パス長正則化を導入した: W の一定の一歩が画像を一定量だけ動かすように(ヤコビアン J_w が直交に近づくように)、|J_w^T y| をその移動平均に近づける罰則。4 ステップに 1 回、重み 2、半分のバッチ(遅延正則化)。
-- @ja 同じ反復数・バッチ・シードで、正則化あり(既定)と --pl_weight=0 の2回の学習を比べ、PPL と FD を測る。W で線形補間(lerp)、端点(t=0)、ε=1e-4、画像の切り抜きなし。
-- @en Key points: the perceptual path length (PPL) is how much an image changes, perceptually, for a short step epsilon in the latent space: on the line between two ws, the squared distance between the features of the images at t and t + epsilon, divided by epsilon^2 (NVlabs: VGG16's LPIPS; here the Fashion-MNIST classifier's features), averaged without the extreme 1% at each end. Lower is a smoother latent space.
-- @en The StyleGAN2 paper found that generators with a lower PPL draw better-formed shapes and introduced path length regularization: a fixed step in W should move the image by a fixed amount (a Jacobian J_w close to orthogonal), a penalty pulling |J_w^T y| towards its running mean, every 4 steps, weight 2, on half the batch (lazy regularization).
-- @en Two runs with the same iterations, batch and seed, with the regularizer (the default) and with --pl_weight=0, compared by PPL and FD. Linear interpolation in W, at the paths' ends (t = 0), epsilon = 1e-4, images not cropped.

local gan = require "gan"
local nn = gan.nn

-- Time: after `ganlua stylegan2` (its run is the default checkpoint) the lab trains only the twin,
-- as many steps (about 40 minutes on one thread), then measures both (a few minutes); without
-- that run it trains both. README, "Path length regularization": two runs of 2500 steps.
-- 所要時間: `ganlua stylegan2` の後なら正則化なしの双子だけを同じステップ数学習(1 スレッド約 40 分)、なければ両方。
local opt = gan.options {
  checkpoint = "runs/stylegan2/checkpoint.safetensors", -- the run with path length regularization (`ganlua stylegan2`); trained here when absent
  train_iters = 7000,     -- iterations of the runs trained here (the recipe's default; the twin takes the checkpoint's own)
  train_extra = "",       -- more options for the runs trained here (e.g. "--channel_max=64")
  pairs = 2000,           -- pairs of images per run (NVlabs: 50000)
  epsilon = 1e-4,         -- the step in t between the two images of a pair
  sampling = "end",       -- t: "end" (0, the paths' ends: NVlabs' ppl_wend) or "full" (uniform in [0, 1])
  fd_samples = 10000,     -- samples for each run's FD
  rows = 4,               -- interpolations per run in the figure
  steps = 10,             -- images per interpolation, ends included
  out = "runs/lab/path_length", -- results folder: the runs trained here, the figures and the table
}
if opt.sampling ~= "end" and opt.sampling ~= "full" then
  error(("--sampling must be end or full, got '%s'"):format(opt.sampling), 0)
end
if opt.pairs < 10 then error("--pairs must be >= 10", 0) end
if opt.epsilon <= 0 then error("--epsilon must be > 0", 0) end
if opt.fd_samples < 10 then error("--fd_samples must be >= 10", 0) end
if opt.rows < 1 or opt.steps < 2 then error("--rows must be >= 1 and --steps >= 2", 0) end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))

-- 1. The run with the regularizer: the checkpoint, or one of our own.
local with = gan.recipes.checkpoint(opt.checkpoint, "stylegan2", {
  iters = opt.train_iters, seed = opt.seed, threads = opt.threads, limit = opt.limit, data = opt.data,
  eval = false, save_every = 0, out = opt.out .. "/with_pl",
}, opt.train_extra)
local _, info = gan.pretrained.stylegan2(with)
if (tonumber(info.options.pl_weight) or 0) <= 0 then
  error(("%s was trained without path length regularization (pl_weight=%s)"):format(with, info.options.pl_weight), 0)
end

-- 2. Its twin: every option the same (the steps: the checkpoint's), but --pl_weight=0.
local twin = {}
for k, v in pairs(info.options) do twin[k] = v end
twin.pl_weight, twin.iters, twin.out, twin.resume, twin.eval = 0, info.step, opt.out .. "/without_pl", false, false
local without = twin.out .. "/checkpoint.safetensors"
if gan.io.exists(without) then
  local _, o = gan.pretrained.stylegan2(without)
  if o.step ~= info.step or tonumber(o.options.pl_weight) ~= 0 then
    error(("%s is not the twin of %s (step %s, pl_weight %s): remove it to train it again"):format(without, with,
      o.step, o.options.pl_weight), 0)
  end
else
  print(("training the twin without path length regularization: %d steps into %s"):format(info.step, twin.out))
  local ok, _, why = gan.recipes.run("stylegan2", twin)
  if not ok then error(("the run without path length regularization failed: %s"):format(why), 0) end
end

-- Path lengths in W (NVlabs' PPL with our features): for each pair, two ws from two z, the
-- images at t and t + epsilon on the line between them, with the same noise (the noise buffers
-- drawn again for each batch of pairs, the layers reading them), the squared distance of their
-- features over epsilon^2.
local function path_lengths(G, n)
  local d = {}
  nn.set_noise_mode(G, "const")
  local noise = {}
  for _, m in ipairs(G:modules()) do if m.__name == "NoiseInjection" then noise[#noise + 1] = m.noise_const end end
  gan.random.keyed("path_length.pairs", 0, function()
    gan.no_grad(function()
      for first = 1, n, 250 do
        local b = math.min(250, n - first + 1)
        local t = opt.sampling == "full" and gan.rand(b, 1, 1) or gan.zeros(b, 1, 1)
        local ws = G.mapping(gan.randn(2 * b, info.nz))
        local w0, w1 = ws:narrow(1, 1, b), ws:narrow(1, b + 1, b)
        for _, buf in ipairs(noise) do buf:copy_(gan.randn(buf:shape())) end
        local dw = w1 - w0
        local img = G.synthesis(gan.cat({ w0 + dw * t, w0 + dw * (t + opt.epsilon) }, 1))
        local f = gan.metrics.features(img)
        local dist = (f:narrow(1, 1, b) - f:narrow(1, b + 1, b)):square():sum(2) / opt.epsilon ^ 2
        for _, v in ipairs(dist:totable()) do d[#d + 1] = v end
      end
    end)
  end)
  table.sort(d)
  return d
end

-- NVlabs' filter: the mean of the lengths between the 1st percentile (rounded down) and the 99th
-- (rounded up)
local function ppl(sorted)
  local n = #sorted
  local lo, hi = sorted[math.floor(0.01 * (n - 1)) + 1], sorted[math.ceil(0.99 * (n - 1)) + 1]
  local sum, k = 0, 0
  for _, v in ipairs(sorted) do
    if v >= lo and v <= hi then sum, k = sum + v, k + 1 end
  end
  return sum / k
end

-- interpolations in W for the figure: the same z pairs for both runs
local function walks(G)
  nn.set_noise_mode(G, "const")
  return gan.random.keyed("path_length.walks", 0, function()
    return gan.no_grad(function()
      local ws = G.mapping(gan.randn(2 * opt.rows, info.nz))
      local w0, w1 = ws:narrow(1, 1, opt.rows), ws:narrow(1, opt.rows + 1, opt.rows)
      local list = {}
      for r = 1, opt.rows do
        local t = gan.linspace(0, 1, opt.steps):reshape(opt.steps, 1, 1)
        local a = w0:narrow(1, r, 1)
        list[r] = G.synthesis(a + (w1:narrow(1, r, 1) - a) * t)
      end
      return gan.cat(list, 1)
    end)
  end)
end

local results = {}
for i, run in ipairs({ { name = "with path length regularization", path = with },
  { name = "without (--pl_weight=0)", path = without } }) do
  local G = gan.pretrained.stylegan2(run.path)
  local t0 = gan.clock()
  run.fd = gan.random.keyed("path_length.fd", 0, function()
    return gan.metrics.images(function(n) return G(gan.randn(n, info.nz)) end, { n = opt.fd_samples, bounds = false })
  end)
  run.lengths = path_lengths(G, opt.pairs)
  run.ppl = ppl(run.lengths)
  run.walks = walks(G)
  results[i] = run
  print(("%-32s PPL %9.1f  FD %6.2f  precision %.3f  recall %.3f  %.0f s"):format(run.name, run.ppl, run.fd.fd,
    run.fd.precision, run.fd.recall, gan.clock() - t0))
end

-- the figure: each run's path lengths, sorted, against their quantile (log scale), with its PPL
local series = {}
for i, r in ipairs(results) do
  local q = {}
  for k = 1, #r.lengths do q[k] = (k - 0.5) / #r.lengths end
  series[#series + 1] = { x = q, y = r.lengths, label = ("%s: PPL %.0f, FD %.1f"):format(
    i == 1 and "with PL reg." or "without", r.ppl, r.fd.fd) }
end
for i, r in ipairs(results) do
  series[#series + 1] = { x = { 0, 1 }, y = { r.ppl, r.ppl }, color = gan.plot.palette[i], dash = true, width = 1 }
end
assert(gan.plot.lines(opt.out .. "/path_length.png", series, {
  width = 720, height = 420, logy = true, xmin = 0, xmax = 1, legend = "top_left",
  title = ("path lengths in W, %d pairs (dashed: PPL)"):format(opt.pairs),
  xlabel = "quantile", ylabel = "feature distance^2 / eps^2",
}))
-- the walks: the regularized run's rows, then the other's, the same z pairs
assert(gan.image.save_grid(opt.out .. "/walks.png", gan.cat({ results[1].walks, results[2].walks }, 1),
  { nrow = opt.steps }))

local lines = {
  ("%d steps each (%s and its twin with --pl_weight=0); %d pairs, epsilon %g, t at %s; FD on %d samples"):format(
    info.step, with, opt.pairs, opt.epsilon, opt.sampling == "end" and "the ends" or "uniform", opt.fd_samples),
  "",
  "| run | PPL in W | median length | FD | precision | recall |",
  "|---|---|---|---|---|---|",
}
for _, r in ipairs(results) do
  lines[#lines + 1] = ("| %s | %.1f | %.1f | %.2f | %.3f | %.3f |"):format(r.name, r.ppl,
    r.lengths[(#r.lengths + 1) // 2], r.fd.fd, r.fd.precision, r.fd.recall)
end
local text = table.concat(lines, "\n")
print("\n" .. text)
assert(gan.util.write_file(opt.out .. "/table.md", text .. "\n"))
print(("\nfigures: %s/path_length.png (sorted path lengths), %s/walks.png (%d walks in W with, then %d without)")
  :format(opt.out, opt.out, opt.rows, opt.rows))
