--- adain — inside a trained StyleGAN: each channel's statistics before and after AdaIN against its style, and what the noise inputs change.
-- @paper Karras, Laine, Aila. A Style-Based Generator Architecture for Generative Adversarial Networks. 2018. arXiv:1812.04948
-- @year 2018
-- @ja 要点: AdaIN(x, y) = y_s (x - μ(x)) / σ(x) + y_b。各特徴マップ(チャネル)を平均0・標準偏差1に正規化してから、w から作ったスタイルのスケールとバイアスを与える。だから AdaIN の後の各チャネルの平均はスタイルのバイアス y_b、標準偏差は |スケール| にちょうど等しく、前の層から来た統計は消える。実際のバッチで、AdaIN の前(畳み込み・ノイズ・バイアス・LeakyReLU の後)と後の平均・標準偏差を、スタイルが予言する値と比べる。
-- @ja ノイズ入力: 同じ z(同じ w)で、ノイズを random(毎回新しい)・const(固定)・none(なし)にして画像を比べ、16回のノイズの引き直しでの画素ごとの標準偏差をヒートマップにする。ノイズを粗い層だけ、細かい層だけに入れた場合も測る。確率的な変化は輪郭や質感の細部に現れ、形やクラスは変わらない(論文の図4・図5)。
-- @ja 学習済みの run がなければ、既定の `ganlua stylegan` と同じ 4000 ステップの run をここで作る(負荷のある2コアで20〜30分)。
-- @en Key points: AdaIN(x, y) = y_s (x - mu(x)) / sigma(x) + y_b: each feature map (channel) is normalised to mean 0 and standard deviation 1, then given the scale and bias of the style made from w. After AdaIN each channel's mean therefore equals the style's bias y_b and its standard deviation |scale|, exactly, and the statistics the previous layers made are gone. On a real batch, the means and standard deviations before AdaIN (after the conv, noise, bias and LeakyReLU) and after it are set against the style's prediction.
-- @en Noise inputs: the same z (the same w) with noise random (fresh each time), const (fixed) and none; the per-pixel standard deviation over 16 redraws of the noise as a heat map, also with noise in the coarse layers only and in the fine layers only. The stochastic variation sits in the fine detail of edges and texture; the shape and the class stay (the paper's Figures 4 and 5).
-- @en Without a trained run, it makes one here with the default `ganlua stylegan` budget, 4000 steps (20 to 30 minutes on two loaded cores).

local gan = require "gan"

local opt = gan.options {
  checkpoint = "runs/stylegan/checkpoint.safetensors", -- a StyleGAN checkpoint (recipes/stylegan.lua); trained here when absent
  train_iters = 4000,     -- iterations of the StyleGAN trained when the checkpoint is absent (the default run's)
  train_extra = "",       -- more options for that run (e.g. "--channel_max=64")
  samples = 32,           -- z whose activations are measured
  examples = 4,           -- z shown with their noise
  draws = 16,             -- noise draws for the per-pixel standard deviation
  out = "runs/lab/adain", -- results folder
}
if opt.samples < 2 then error("--samples must be >= 2", 0) end
if opt.examples < 1 then error("--examples must be >= 1", 0) end
if opt.draws < 2 then error("--draws must be >= 2", 0) end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))

local ckpt = gan.recipes.checkpoint(opt.checkpoint, "stylegan", {
  iters = opt.train_iters, seed = opt.seed, threads = opt.threads, limit = opt.limit, data = opt.data,
  out = opt.out .. "/stylegan",
}, opt.train_extra)
local G, info = gan.pretrained.stylegan(ckpt)
local S = G.synthesis
print(("G from %s (step %s): z %d, w %d, %dx%d, %d ws"):format(info.path, info.step, info.nz, info.w_dim, info.size,
  info.size, G.num_ws))

-- per-(sample, channel) mean and standard deviation over the pixels: (N, C) each
local function stats(x)
  local mean = x:mean({ 3, 4 })
  local std = (x - mean:reshape(x:size(1), x:size(2), 1, 1)):square():mean({ 3, 4 }):sqrt()
  return mean, std
end
local function flat(t) return t:reshape(-1):totable() end
local function maxabs(a, b) return (a - b):abs():max():item() end
local function meanabs(a, b) return (a - b):abs():mean():item() end

-- 1. the statistics of every layer's channels on a batch, random noise as in training
local trace = {}
gan.no_grad(function()
  gan.random.keyed("adain.samples", 0, function()
    S(G.mapping(gan.randn(opt.samples, info.nz)), { noise = "random", trace = trace })
  end)
end)
local lines = {
  ("StyleGAN %s (step %s), %dx%d; %d z, random noise. Per channel of every sample: mean and standard deviation "
    .. "over the pixels, before AdaIN (after conv, noise, bias, LeakyReLU) and after, against the style's bias y_b "
    .. "and scale |1 + y_s| (after AdaIN: times s = std / sqrt(std^2 + 1e-8), AdaIN's epsilon, which is 1 unless a "
    .. "map is flat)."):format(info.path, info.step, info.size, info.size, opt.samples),
  "",
  "| layer | res | channels | before: mean | before: std | before: mean abs(mean - y_b) | before: mean abs(std - abs(scale)) "
    .. "| after: max abs(mean - y_b) | after: max abs(std - abs(scale) s) | noise strength, mean abs |",
  "|---|---|---|---|---|---|---|---|---|---|",
}
local csv = { "layer,res,channels,before_mean,before_std,before_mean_err,before_std_err,after_mean_err,after_std_err,noise" }
local pts = { bstd = { x = {}, y = {} }, astd = { x = {}, y = {} }, bmean = { x = {}, y = {} }, amean = { x = {}, y = {} } }
local worst_mean, worst_std = 0, 0
gan.no_grad(function()
  for i, t in ipairs(trace) do
    local bm, bs = stats(t.features)
    local am, as = stats(t.out)
    local scale = t.scale:abs()
    -- AdaIN divides by sqrt(var + 1e-8): a flat map (the constant's, before noise) keeps std 0
    local predicted = scale * (bs:square() / (bs:square() + 1e-8)):sqrt()
    local block = S["b" .. t.resolution]
    local epi = i % 2 == 1 and block.epi0 or block.epi1
    local strength = epi.noise.strength:abs():mean():item()
    local row = { i, t.resolution, t.features:size(2), bm:mean():item(), bs:mean():item(), meanabs(bm, t.shift),
      meanabs(bs, scale), maxabs(am, t.shift), maxabs(as, predicted), strength }
    worst_mean, worst_std = math.max(worst_mean, row[8]), math.max(worst_std, row[9])
    lines[#lines + 1] = ("| %d | %dx%d | %d | %.3f | %.3f | %.3f | %.3f | %.1e | %.1e | %.4f |"):format(row[1], row[2],
      row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10])
    csv[#csv + 1] = ("%d,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g"):format(table.unpack(row))
    for k, pair in pairs({ bstd = { scale, bs }, astd = { scale, as }, bmean = { t.shift, bm }, amean = { t.shift, am } }) do
      local xs, ys = flat(pair[1]), flat(pair[2])
      for j = 1, #xs do
        pts[k].x[#pts[k].x + 1], pts[k].y[#pts[k].y + 1] = xs[j], ys[j]
      end
    end
  end
end)

-- the figure: measured against predicted, before and after, with y = x dashed
local function range(list)
  local lo, hi = math.huge, -math.huge
  for _, l in ipairs(list) do for _, v in ipairs(l) do lo, hi = math.min(lo, v), math.max(hi, v) end end
  return lo, hi
end
local function panel(before, after, title, xlabel)
  local lo, hi = range({ after.x, after.y, before.x })
  local blo, bhi = range({ before.y })
  local ylo, yhi = math.min(lo, math.max(blo, lo - (hi - lo))), math.max(hi, math.min(bhi, hi + (hi - lo)))
  return (gan.plot.lines_image({
    { x = before.x, y = before.y, points = true, width = 2, color = { 0.6, 0.6, 0.6 }, label = "before AdaIN" },
    { x = after.x, y = after.y, points = true, width = 3, color = { 0.95, 0.45, 0.05 }, label = "after AdaIN" },
    { x = { lo, hi }, y = { lo, hi }, dash = true, width = 1, color = { 0, 0, 0 }, label = "y = x" },
  }, { width = 480, height = 400, title = title, xlabel = xlabel, xmin = lo, xmax = hi, ymin = ylo, ymax = yhi,
    legend = "top_left" }))
end
local fig = gan.cat({
  panel(pts.bstd, pts.astd, "channel std vs the style's scale", "abs(1 + y_s)"),
  gan.ones(3, 400, 10),
  panel(pts.bmean, pts.amean, "channel mean vs the style's bias", "y_b"),
}, 3)
assert(gan.io.save_png(opt.out .. "/adain_stats.png", fig))

-- 2. noise: the same w, noise random / const / none, and where the variation lives
local function set_noise(res_list)
  local on = {}
  for _, r in ipairs(res_list) do on[r] = true end
  for _, b in ipairs(S.blocks) do
    local mode = on[b.resolution] and "random" or "none"
    b.epi0.noise.noise_mode, b.epi1.noise.noise_mode = mode, mode
  end
end
local all, coarse, middle, fine = {}, {}, {}, {}
for _, b in ipairs(S.blocks) do
  all[#all + 1] = b.resolution
  if b.resolution <= 8 then coarse[#coarse + 1] = b.resolution
  elseif b.resolution < info.size then middle[#middle + 1] = b.resolution
  else fine[#fine + 1] = b.resolution end
end
local placements = {
  { name = "all layers", list = all }, { name = "coarse (4x4-8x8)", list = coarse },
  { name = "middle", list = middle }, { name = "fine (" .. info.size .. "x" .. info.size .. ")", list = fine },
}

local wz = gan.no_grad(function()
  return gan.random.keyed("adain.examples", 0, function() return G.mapping(gan.randn(opt.examples, info.nz)) end)
end)
local none_img, const_img, draws1, stds = nil, nil, nil, {}
local noise_rows = {}
gan.no_grad(function()
  none_img = S(wz, { noise = "none" })
  const_img = S(wz, { noise = "const" })
  local none_label = gan.metrics.predict(none_img):totable()
  for p, pl in ipairs(placements) do
    set_noise(pl.list)
    local imgs = {}
    for d = 1, opt.draws do imgs[d] = gan.random.keyed("adain.noise", d, function() return S(wz) end) end
    local stack = gan.stack(imgs, 1)                                  -- (draws, N, C, H, W)
    local std = (stack - stack:mean(1, true)):square():mean(1):sqrt():mean(2, true)  -- (N, 1, H, W)
    stds[p] = std
    if p == 1 then draws1 = imgs end
    local same = 0
    for d = 1, opt.draws do
      for i, l in ipairs(gan.metrics.predict(imgs[d]):totable()) do if l == none_label[i] then same = same + 1 end end
    end
    local mean_std = #pl.list > 0 and std:mean():item() or 0
    noise_rows[p] = { name = pl.name, mean = mean_std, max = std:max():item(), same = same / (opt.draws * opt.examples),
      diff = (imgs[1] - none_img):abs():mean():item() }
  end
  set_noise(all)
end)

-- the heat maps on one scale: black (0) through red and yellow to white (the largest std)
local top = 0
for _, s in ipairs(stds) do top = math.max(top, s:max():item()) end
local function heat(s)
  local v = (s / math.max(top, 1e-12)):clamp(0, 1)                    -- (N, 1, H, W)
  local r, g, b = (v * 3):clamp(0, 1), (v * 3 - 1):clamp(0, 1), (v * 3 - 2):clamp(0, 1)
  return gan.cat({ r, g, b }, 2) * 2 - 1                             -- in [-1, 1] like images
end
local function rgb(x) return x:size(2) == 1 and x:expand(x:size(1), 3, x:size(3), x:size(4)) or x end
local cols = { rgb(none_img), rgb(const_img), rgb(draws1[1]), rgb(draws1[2]) }
for p = 1, #placements do cols[#cols + 1] = heat(stds[p]) end
local cells = {}
local zoom = math.max(1, 96 // info.size)                             -- cells of about 96 pixels
for i = 1, opt.examples do
  for _, c in ipairs(cols) do
    local cell = c:narrow(1, i, 1)
    cells[#cells + 1] = zoom > 1 and cell:upsample({ scale = zoom }) or cell
  end
end
local grid = gan.image.grid(gan.cat(cells, 1), { nrow = #cols, pad_value = 1, pad = 4 })
local cv = gan.plot.canvas(grid:size(3), 14)
local heads = { "no noise", "const", "random 1", "random 2", "std: all", "std: coarse", "std: middle", "std: fine" }
local cw = (grid:size(3) - 4) / #cols
for k, h in ipairs(heads) do
  if k <= #cols then cv:text(4 + (k - 1) * cw, 4, h:sub(1, math.floor(cw / 6)), { 0, 0, 0 }) end
end
assert(gan.io.save_png(opt.out .. "/adain_noise.png", gan.cat({ cv:image(), grid }, 2)))

lines[#lines + 1] = ""
lines[#lines + 1] = ("Noise inputs, the same %d w: per-pixel standard deviation over %d draws (images in [-1, 1]), "
  .. "averaged over the pixels; the share of draws the classifier labels as the noiseless image; the mean abs "
  .. "difference of one draw from the noiseless image. The const noise image differs from the noiseless one by %.4f "
  .. "on average."):format(opt.examples, opt.draws, (const_img - none_img):abs():mean():item())
lines[#lines + 1] = ""
lines[#lines + 1] = "| noise in | mean per-pixel std | largest per-pixel std | label unchanged | mean abs(draw - none) |"
lines[#lines + 1] = "|---|---|---|---|---|"
for _, r in ipairs(noise_rows) do
  lines[#lines + 1] = ("| %s | %.4f | %.3f | %.1f%% | %.4f |"):format(r.name, r.mean, r.max, 100 * r.same, r.diff)
  csv[#csv + 1] = ("noise,%s,%.6g,%.6g,%.6g,%.6g"):format(r.name, r.mean, r.max, r.same, r.diff)
end
local text = table.concat(lines, "\n")
print("\n" .. text)
print(("\nafter AdaIN: the channel means differ from y_b by at most %.1e, the standard deviations from |1 + y_s| s by at "
  .. "most %.1e"):format(worst_mean, worst_std))
assert(gan.util.write_file(opt.out .. "/table.md", text .. "\n"))
assert(gan.util.write_file(opt.out .. "/results.csv", table.concat(csv, "\n") .. "\n"))
print(("figures: %s/adain_stats.png (measured against the style, before and after AdaIN), %s/adain_noise.png "
  .. "(per z: no noise, const, two random draws, then the per-pixel std with noise in all, coarse, middle, fine layers)")
  :format(opt.out, opt.out))
