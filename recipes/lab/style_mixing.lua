--- style_mixing — a trained StyleGAN's coarse, middle and fine styles copied from a source image into a destination: which one decides the class?
-- @paper Karras, Laine, Aila. A Style-Based Generator Architecture for Generative Adversarial Networks. 2018. arXiv:1812.04948
-- @year 2018
-- @ja 要点: 論文の図3。2つの z の w を層ごとに混ぜる: 行は「行き先」の画像、列は「元」の画像で、行き先の w のうち一部の解像度の層の w だけを元の w に置き換える。粗い層(4x4–8x8)を写すと形・クラスが元から来て、細かい層(32x32)を写すと質感・明るさだけが元から来る。
-- @ja スタイル混合正則化で学習した G では各層の w がその解像度の特徴だけを制御するので、この分担がはっきり出る。分類器で数える: N 組について、混ぜた画像のラベルが元のラベルと一致する割合(粗い層を写した場合と細かい層を写した場合)と、行き先のラベルと一致する割合。
-- @ja 学習済みの run がなければ、既定の `ganlua stylegan` と同じ 4000 ステップの run をここで作る(負荷のある2コアで20〜30分)。
-- @en Key points: the paper's Figure 3. The ws of two z are mixed layer by layer: rows are destination images, columns source images, and the destination's ws of some resolutions' layers are replaced by the source's. Copying the coarse layers (4x4-8x8) brings the shape and the class from the source; copying the fine ones (32x32) only the texture and the brightness.
-- @en A G trained with style mixing regularisation has each layer's w control its own resolution's features, so the split shows clearly. The classifier counts it: over N pairs, how often the mixed image's label equals the source's label (coarse ws copied against fine ws copied), and how often the destination's.
-- @en Without a trained run, it makes one here with the default `ganlua stylegan` budget, 4000 steps (20 to 30 minutes on two loaded cores).

local gan = require "gan"

local opt = gan.options {
  checkpoint = "runs/stylegan/checkpoint.safetensors", -- a StyleGAN checkpoint (recipes/stylegan.lua); trained here when absent
  train_iters = 4000,     -- iterations of the StyleGAN trained when the checkpoint is absent (the default run's)
  train_extra = "",       -- more options for that run (e.g. "--channel_max=64")
  pairs = 2000,           -- (destination, source) pairs counted by the classifier
  rows = 5,               -- destinations in each grid
  columns = 6,            -- sources in each grid
  psi = 1.0,              -- truncation in W of every w (1: none)
  noise = "const",        -- G's noise inputs: const (the same for every image, so only the styles differ), random, none
  out = "runs/lab/style_mixing", -- results folder
}
if opt.pairs < 10 then error("--pairs must be >= 10", 0) end
if opt.rows < 1 or opt.columns < 1 then error("--rows and --columns must be >= 1", 0) end
if opt.psi < 0 or opt.psi > 1 then error("--psi must be between 0 and 1", 0) end
if opt.noise ~= "const" and opt.noise ~= "random" and opt.noise ~= "none" then
  error(("--noise must be const, random or none, got %s"):format(opt.noise), 0)
end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))

-- the average G of a trained StyleGAN: the checkpoint, or a run of our own
local ckpt = gan.recipes.checkpoint(opt.checkpoint, "stylegan", {
  iters = opt.train_iters, seed = opt.seed, threads = opt.threads, limit = opt.limit, data = opt.data,
  out = opt.out .. "/stylegan",
}, opt.train_extra)
local G, info = gan.pretrained.stylegan(ckpt)
gan.nn.set_noise_mode(G, opt.noise)
print(("G from %s (step %s): z %d, w %d, %dx%d, %d ws"):format(info.path, info.step, info.nz, info.w_dim, info.size,
  info.size, G.num_ws))

-- the three groups of layers (the paper's coarse, middle and fine, at this resolution)
local top = info.size
local groups = {
  { name = "coarse", lo = 4, hi = math.min(8, top // 4) },
  { name = "middle", lo = math.min(16, top // 2), hi = math.min(16, top // 2) },
  { name = "fine", lo = top, hi = top },
}
if top < 16 then error("the StyleGAN must be 16x16 or larger for three groups of layers", 0) end
for _, g in ipairs(groups) do
  g.first, g.last = G:layers(g.lo, g.hi)
  g.what = g.lo == g.hi and ("%dx%d"):format(g.lo, g.lo) or ("%dx%d-%dx%d"):format(g.lo, g.lo, g.hi, g.hi)
end

local function ws_of(z) return G.mapping(z, { psi = opt.psi }) end
local mix = gan.nn.MappingNetwork.copy_styles

-- 1. the grids: the destination's ws with one group's taken from the source
local panels = gan.no_grad(function()
  local zd, zs = gan.random.keyed("style_mixing.grid", 0, function()
    return gan.randn(opt.rows, info.nz), gan.randn(opt.columns, info.nz)
  end)
  local wd, wsrc = ws_of(zd), ws_of(zs)
  local dst, src = G.synthesis(wd), G.synthesis(wsrc)
  local list = {}
  for k, g in ipairs(groups) do
    local cells = { gan.full({ 1, src:size(2), top, top }, 1) } -- the corner: white
    for c = 1, opt.columns do cells[#cells + 1] = src:narrow(1, c, 1) end
    for r = 1, opt.rows do
      cells[#cells + 1] = dst:narrow(1, r, 1)
      local w = mix(wd:narrow(1, r, 1):expand(opt.columns, G.num_ws, info.w_dim), wsrc, g.first, g.last)
      cells[#cells + 1] = G.synthesis(w)
    end
    local grid = gan.image.grid(gan.cat(cells, 1), { nrow = opt.columns + 1, pad_value = 1 })
    if grid:size(1) == 1 then grid = grid:expand(3, grid:size(2), grid:size(3)) end
    -- a title band above the grid
    local title = ("%s styles (%s) from the column"):format(g.name, g.what)
    local cv = gan.plot.canvas(grid:size(3), 12)
    cv:text(2, 2, title:sub(1, (grid:size(3) - 4) // 6), { 0, 0, 0 })
    list[k] = gan.cat({ cv:image(), grid }, 2)
  end
  return list
end)
local spaced = {}
for k, p in ipairs(panels) do
  spaced[#spaced + 1] = p
  if k < #panels then spaced[#spaced + 1] = gan.ones(3, p:size(2), 10) end
end
assert(gan.plot.save_row(opt.out .. "/style_mixing.png", spaced))
for k, g in ipairs(groups) do assert(gan.io.save_png(("%s/style_mixing_%s.png"):format(opt.out, g.name), panels[k])) end

-- 2. the count: labels of the destination, the source and each mix, on the same keyed pairs
local t0 = gan.clock()
local counts = {}
for _, g in ipairs(groups) do counts[g.name] = { src = 0, dst = 0, src_diff = 0, dst_diff = 0 } end
local diff, same_class = 0, 0
gan.no_grad(function()
  local done = 0
  while done < opt.pairs do
    local b = math.min(250, opt.pairs - done)
    local zd, zs = gan.random.keyed("style_mixing.pairs", done, function()
      return gan.randn(b, info.nz), gan.randn(b, info.nz)
    end)
    local wd, wsrc = ws_of(zd), ws_of(zs)
    local ld = gan.metrics.predict(G.synthesis(wd)):totable()
    local ls = gan.metrics.predict(G.synthesis(wsrc)):totable()
    for i = 1, b do
      if ld[i] ~= ls[i] then diff = diff + 1 else same_class = same_class + 1 end
    end
    for _, g in ipairs(groups) do
      local lm = gan.metrics.predict(G.synthesis(mix(wd, wsrc, g.first, g.last))):totable()
      local c = counts[g.name]
      for i = 1, b do
        local differ = ld[i] ~= ls[i]
        if lm[i] == ls[i] then c.src = c.src + 1; if differ then c.src_diff = c.src_diff + 1 end end
        if lm[i] == ld[i] then c.dst = c.dst + 1; if differ then c.dst_diff = c.dst_diff + 1 end end
      end
    end
    done = done + b
  end
end)

local lines = {
  ("StyleGAN %s (step %s), %dx%d, %d ws; %d (destination, source) pairs, psi %g, %s noise; labels from the "
    .. "Fashion-MNIST classifier. %d pairs have destinations and sources of different classes (%d the same)."):format(
    info.path, info.step, top, top, G.num_ws, opt.pairs, opt.psi, opt.noise, diff, same_class),
  "",
  "| styles copied from the source | layers (ws) | label = source's | label = destination's | "
    .. "different-class pairs: = source's | = destination's |",
  "|---|---|---|---|---|---|",
}
local csv = { "group,first,last,pairs,src,dst,diff_pairs,src_diff,dst_diff" }
for _, g in ipairs(groups) do
  local c = counts[g.name]
  local function pct(n, d) return d > 0 and ("%.1f%%"):format(100 * n / d) or "-" end
  lines[#lines + 1] = ("| %s (%s) | %d-%d | %s | %s | %s | %s |"):format(g.name, g.what, g.first, g.last,
    pct(c.src, opt.pairs), pct(c.dst, opt.pairs), pct(c.src_diff, diff), pct(c.dst_diff, diff))
  csv[#csv + 1] = ("%s,%d,%d,%d,%d,%d,%d,%d,%d"):format(g.name, g.first, g.last, opt.pairs, c.src, c.dst, diff,
    c.src_diff, c.dst_diff)
end
local text = table.concat(lines, "\n")
print("\n" .. text)
print(("(%d pairs classified in %.0f s)"):format(opt.pairs, gan.clock() - t0))
assert(gan.util.write_file(opt.out .. "/table.md", text .. "\n"))
assert(gan.util.write_file(opt.out .. "/results.csv", table.concat(csv, "\n") .. "\n"))
print(("\nfigures: %s/style_mixing.png (coarse, middle, fine side by side: the first row the sources, the first "
  .. "column the destinations), and one file per group"):format(opt.out))
