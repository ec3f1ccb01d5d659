-- Smoke runs of recipes/pggan.lua: tiny phases that grow 4x4 -> 8x8 -> 16x16
-- within 14 steps, in fresh processes: the schedule in the log, a grid per
-- resolution at the final size, and a run stopped in the middle of a
-- fade-in and resumed that logs the same bits as one that was not.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/pggan.lua", "--threads=1 " .. args) end

-- batch 8: 4x4 for steps 1-2, 8x8 fades in over 3-6 and is alone for 7-8, 16x16 fades in over 9-12
local TINY = "--size=16 --nz=8 --channel_base=32 --channel_max=8 --batch=8 --limit=256 --stabilize_kimg=0.016 "
  .. "--fade_kimg=0.032 --eval_every=0 --save_every=0 --sample_every=0 "

local function skip_without_data()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
end

T.case("pggan.lua grows 4x4 -> 8x8 -> 16x16: alpha and resolution logged, a grid per resolution", function()
  skip_without_data()
  local out = U.tmpdir("recipe_pggan")
  local ok, text = run(TINY .. "--iters=14 --eval_samples=200 --out=" .. out)
  U.truthy(ok, text)
  U.truthy(text:find("growing (batch 8): 4x4 for steps 1-2; 8x8 fades in over steps 3-6, alone from step 7; "
    .. "16x16 fades in over steps 9-12, alone from step 13\n", 1, true), text)
  U.truthy(text:find("step 14/14") and text:find("FD %d") and U.exists(out .. "/metrics.json"), text)
  local rows = {}
  for line in io.lines(out .. "/log.csv") do rows[#rows + 1] = line end
  U.equal(rows[1], "step,D,G,GP,W,alpha,drift,grad_norm,resolution")
  local want = { { 1, 4 }, { 1, 4 }, { 0, 8 }, { 0.25, 8 }, { 0.5, 8 }, { 0.75, 8 }, { 1, 8 }, { 1, 8 },
    { 0, 16 }, { 0.25, 16 }, { 0.5, 16 }, { 0.75, 16 }, { 1, 16 }, { 1, 16 } }
  U.equal(#rows, 15, "a row per step")
  for s, w in ipairs(want) do
    local f = {}
    for v in rows[s + 1]:gmatch("[^,]+") do f[#f + 1] = tonumber(v) end
    U.equal(f[1], s)
    U.equal(f[6], w[1], ("alpha at step %d"):format(s))
    U.equal(f[9], w[2], ("resolution at step %d"):format(s))
  end
  local size
  for _, name in ipairs({ "step_000002_4x4", "step_000008_8x8", "step_000014_16x16" }) do
    local grid = gan.image.load(("%s/samples/%s.png"):format(out, name))
    U.truthy(grid, name .. " written")
    size = size or grid:shape()
    U.equal(table.concat(grid:shape(), "x"), table.concat(size, "x"), name .. ": every grid at the final size")
  end
  U.equal(size[2], U.grid_shape(size[1], 8, 8, 16)[2], "8 rows of 16x16 samples")
  local html = U.read(out .. "/report.html")
  U.truthy(html:find("step 2, 4x4", 1, true) and html:find("step 8, 8x8", 1, true)
    and html:find("step 14, 16x16", 1, true), "the report shows each resolution's grid")
end)

T.case("pggan.lua: stopped in the middle of a fade-in and resumed, the same bits as a run straight through", function()
  skip_without_data()
  local a, b = U.tmpdir("recipe_pggan_straight"), U.tmpdir("recipe_pggan_resumed")
  local ok, text = run(TINY .. "--no-eval --iters=14 --out=" .. a)
  U.truthy(ok, text)
  ok, text = run(TINY .. "--no-eval --iters=10 --out=" .. b)          -- 16x16 at alpha 0.25
  U.truthy(ok, text)
  local t = assert(gan.io.load_safetensors(b .. "/checkpoint.safetensors"))
  local _, meta = gan.io.load_safetensors(b .. "/checkpoint.safetensors")
  U.equal(meta["growth.nimg"], "80", "the images shown are in the checkpoint")
  U.truthy(t["ema.b16.conv1.weight"] and t["optD.b16.conv0.weight.v"], "the EMA and Adam's state of the new block")
  ok, text = run(TINY .. "--no-eval --resume --iters=14 --out=" .. b)
  U.truthy(ok, text)
  U.equal(U.read(b .. "/log.csv"), U.read(a .. "/log.csv"), "log.csv, bit for bit")
  local ta, tb = assert(gan.io.load_safetensors(a .. "/checkpoint.safetensors")),
    assert(gan.io.load_safetensors(b .. "/checkpoint.safetensors"))
  for _, k in ipairs({ "G.b16.conv1.weight", "D.fromrgb8.weight", "ema.torgb16.weight" }) do
    U.equal(U.maxdiff(ta[k], tb[k]), 0, k)
  end
end)

T.case("pggan.lua refuses bad options with clear errors", function()
  local out = U.tmpdir("recipe_pggan_bad")
  local cases = {
    { "--size=12", "--size must be a power of two >= 8, got 12" },
    { "--batch=6", "--batch (6) must be a multiple of --mbstd_group (4)" },
    { "--fade_kimg=-1", "--stabilize_kimg and --fade_kimg must be >= 0" },
    { "--ema_kimg=-1", "--ema_kimg and --ema_rampup must be >= 0" },
  }
  for _, c in ipairs(cases) do
    local ok, text = run(c[1] .. " --data=" .. U.image_folder("pggan_bad_images", 4, 1, 8) .. " --out=" .. out)
    U.truthy(not ok and text:find(c[2], 1, true), c[1] .. ": " .. text)
  end
end)

T.run()
