--- Mode collapse — a GAN, Unrolled GAN and WGAN-GP on 8 and 25 Gaussians with the same budget and seed.
-- @paper Metz, Poole, Pfau, Sohl-Dickstein. Unrolled Generative Adversarial Networks. 2016. arXiv:1611.02163
-- @year 2016
-- @ja 要点: モード崩壊とは、Gがデータの一部のモードだけを生成すること。混合ガウス分布(円周上の8個、格子状の25個)ではどのモードを覆ったかが直接数えられる。
-- @ja 通常のGANはDの弱いモードへ集まり、Dが追いつくと別のモードへ移る(モード間の振動)。Unrolled GANはDの反応を先読みし、WGAN-GPは飽和しない損失で全体を押し広げる。
-- @ja 指標: 覆ったモードの数と高品質サンプルの割合(最も近いモード中心から3σ以内)。同じ反復回数・バッチ・シードで比べる。
-- @en Key points: mode collapse is G producing only some modes of the data; on Gaussian mixtures (8 on a circle, 25 on a grid) the modes covered can be counted directly.
-- @en An ordinary GAN gathers on a mode D handles badly, then hops to another when D catches up; Unrolled GAN anticipates D's answer, WGAN-GP's non-saturating critic spreads G over the data.
-- @en Measures: modes covered and the share of high-quality samples (within 3 standard deviations of the nearest mode centre); every recipe gets the same iterations, batch and seed.

local gan = require "gan"

local opt = gan.options {
  recipes = { "gan", "unrolled_gan --unroll=0", "unrolled_gan", "wgan_gp --lr=1e-3 --beta1=0.5" }, -- recipes (and their options)
  sets = { "8gaussians", "25gaussians" },          -- toy sets
  iters = 5000,           -- generator steps, the same for every recipe
  batch = 256,            -- minibatch size, the same for every recipe
  snapshots = 5,          -- measurements (and figure columns) over each run
  samples = 2500,         -- points drawn per measurement (gan.metrics.points)
  extra = "",             -- more options passed to every recipe (e.g. --hidden=128)
  threads = 1,            -- CPU threads of each run (small MLPs run best on 1)
  out = "runs/lab/mode_collapse", -- results folder
}
if opt.snapshots < 1 or opt.iters < opt.snapshots then error("--snapshots must be between 1 and --iters", 0) end
if #opt.recipes == 0 then error("--recipes must name at least one recipe", 0) end
for _, s in ipairs(opt.sets) do
  if s ~= "8gaussians" and s ~= "25gaussians" then
    error(("--sets: '%s' is not a mixture with countable modes (8gaussians, 25gaussians)"):format(s), 0)
  end
end
local every = opt.iters // opt.snapshots
assert(gan.io.mkdir(opt.out))

-- Runs one recipe on one set in a fresh process, as a user would; gan.train
-- measures the points (gan.metrics.points on `samples` points: its quick
-- evaluations draw a fifth of --eval_samples) and draws them at the same steps.
-- An entry is a recipe's name, optionally followed by its own options
-- ("unrolled_gan --unroll=0").
local function run(entry, set)
  local name, own = entry:match("^(%S+)%s*(.*)$")
  local out = ("%s/%s/%s"):format(opt.out, set, (entry:gsub("[^%w_]+", "_")))
  local words = {}
  for w in (opt.extra .. " " .. own):gmatch("%S+") do words[#words + 1] = w end
  io.write(("%-24s %-12s "):format(entry, set)); io.flush()
  local t0 = gan.clock()
  local ok, text, why = gan.recipes.run(name, {
    data = set, iters = opt.iters, batch = opt.batch, seed = opt.seed, threads = opt.threads, eval_every = every,
    eval_samples = 5 * opt.samples, eval = false, sample_every = every, save_every = 0, out = out, force = true,
  }, { capture = true, extra = words })
  local seconds = gan.clock() - t0
  if not ok then error(("%s on %s failed: %s\n%s"):format(entry, set, why, text or ""), 0) end
  local rows = {}
  local f = io.open(out .. "/eval.csv")
  if not f then error(("%s on %s measured nothing (no %s/eval.csv):\n%s"):format(entry, set, out, text), 0) end
  local head = {}
  for col in f:read("l"):gmatch("[^,]+") do head[#head + 1] = col end
  for line in f:lines() do
    local r, i = {}, 0
    for v in (line .. ","):gmatch("([^,]*),") do i = i + 1; if head[i] then r[head[i]] = tonumber(v) end end
    rows[#rows + 1] = r
  end
  f:close()
  local last = rows[#rows]
  print(("modes %2d  high quality %5.1f%%  %.0f s"):format(last.modes, 100 * last.hq, seconds))
  return { name = entry, set = set, out = out, rows = rows, last = last, seconds = seconds }
end

-- One panel: the scatter plot gan.train drew at `step`, shrunk.
local function panel(r, step)
  local img = assert(gan.image.load(("%s/samples/step_%06d.png"):format(r.out, step), 3))
  img = gan.data.resize(img:unsqueeze(1), 200, 200):squeeze(1)
  return ((img + 1) * 0.5):pad({ 3, 3, 3, 3 }):clamp(0, 1)
end

local results, by = {}, {}
for _, set in ipairs(opt.sets) do
  for _, name in ipairs(opt.recipes) do
    local r = run(name, set)
    local cols = {}
    for _, row in ipairs(r.rows) do cols[#cols + 1] = panel(r, row.step) end
    r.strip = gan.cat(cols, 3)     -- samples over time, left to right
    results[#results + 1] = r
    by[name] = by[name] or {}
    by[name][#by[name] + 1] = r
  end
  -- all recipes on this set, one row each
  local rows = {}
  for _, r in ipairs(results) do if r.set == set then rows[#rows + 1] = r.strip end end
  gan.io.save_png(("%s/%s.png"):format(opt.out, set), gan.cat(rows, 2))
end
-- one figure per recipe: a row per set
for name, rs in pairs(by) do
  local rows = {}
  for _, r in ipairs(rs) do rows[#rows + 1] = r.strip end
  local w = 0
  for _, s in ipairs(rows) do w = math.max(w, s:size(3)) end
  for i, s in ipairs(rows) do
    if s:size(3) < w then rows[i] = s:pad({ 0, w - s:size(3), 0, 0 }) end
  end
  gan.io.save_png(("%s/%s.png"):format(opt.out, (name:gsub("[^%w_]+", "_"))), gan.cat(rows, 2))
end

local lines = {
  ("%d generator steps, batch %d, seed %d; %d samples per measurement at steps %s"):format(opt.iters, opt.batch,
    opt.seed, opt.samples, table.concat((function()
      local s = {}
      for i, row in ipairs(results[1].rows) do s[i] = tostring(row.step) end
      return s
    end)(), ", ")),
  "",
  "| recipe | data | modes covered | high-quality samples | modes over time | seconds |",
  "|---|---|---|---|---|---|",
}
local csv = { "recipe,data,modes,of,hq,seconds" }
for _, r in ipairs(results) do
  local k = r.set == "8gaussians" and 8 or 25
  local over = {}
  for i, row in ipairs(r.rows) do over[i] = tostring(row.modes) end
  lines[#lines + 1] = ("| %s | %s | %d / %d | %.1f%% | %s | %.0f |"):format(r.name, r.set, r.last.modes, k,
    100 * r.last.hq, table.concat(over, " → "), r.seconds)
  csv[#csv + 1] = ("%s,%s,%d,%d,%.4f,%.1f"):format(r.name, r.set, r.last.modes, k, r.last.hq, r.seconds)
end
local text = table.concat(lines, "\n")
print("\n" .. text)
local f = assert(io.open(opt.out .. "/table.md", "w")); f:write(text, "\n"); f:close()
f = assert(io.open(opt.out .. "/results.csv", "w")); f:write(table.concat(csv, "\n"), "\n"); f:close()
print(("\nfigures: %s/<recipe>.png (a row per set, time left to right) and %s/<set>.png (a row per recipe)")
  :format(opt.out, opt.out))
