-- Smoke runs of recipes/biggan.lua: a few iterations on a small subset, then
-- its outputs are checked (EMA, class agreement in the evaluation, one class
-- per column of the grid); and the truncation lab on the run.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/biggan.lua", "--threads=1 " .. args) end

T.case("biggan.lua: conditional G, projection D, EMA, class agreement; truncation lab on it", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_biggan")
  local ok, text = run("--size=16 --nf=4 --ndf=8 --nz=12 --shared_dim=4 --attention=8 --iters=3 --ema_start=1 "
    .. "--ortho=1e-4 --truncation=1 --limit=64 --batch=8 --sample_every=2 --save_every=2 --eval_samples=40 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local m = U.read(out .. "/metrics.json")
  U.truthy(m:find('"accuracy"', 1, true), "class agreement measured: " .. m)
  local t = assert(gan.io.load_safetensors(out .. "/checkpoint.safetensors"))
  U.truthy(t["ema.shared.weight"] and t["D.embed.weight_orig"], "EMA copy and projection embedding saved")
  U.truthy(t["G.blocks.1.bn1.gain.weight_orig"], "conditional BN")
  U.shape(gan.image.load(out .. "/samples/step_000003.png"), U.grid_shape(1, 10, 10, 16), "a 10x10 grid")
  local lab = U.tmpdir("recipe_truncation_biggan")
  ok, text = U.run_recipe("recipes/lab/truncation.lua", "--model=biggan --threads=1 --t=0,1,0.5 --samples=40 "
    .. "--checkpoint=" .. out .. "/checkpoint.safetensors --out=" .. lab)
  U.truthy(ok, text)
  local tbl = U.read(lab .. "/table.md")
  for _, v in ipairs({ "none", "1.00", "0.50" }) do U.truthy(tbl:find("\n| " .. v .. " | ", 1, true), tbl) end
  U.truthy(U.read(lab .. "/results.csv"):find("^t,fd,precision,recall,accuracy,min_coverage,"), "csv header")
  U.shape(gan.image.load(lab .. "/truncation_grid.png"), U.grid_shape(1, 3, 10, 16), "3 t by 10 classes")
  U.truthy(U.exists(lab .. "/grid_t_none.png") and U.exists(lab .. "/grid_t_0.50.png"), "a grid per t")
  ok, text = U.run_recipe("recipes/lab/truncation.lua", "--model=biggan --t=-1 --out=" .. lab)
  U.truthy(not ok and text:find("--t: -1 is negative", 1, true), text)
end)

T.case("biggan.lua refuses bad options and data without labels", function()
  local out = U.tmpdir("recipe_biggan_bad")
  for args, msg in pairs({ ["--data=8gaussians"] = "--data must have class labels", ["--ndf=12"] = "--ndf must be",
    ["--ema_decay=1"] = "--ema_decay must be in [0, 1)", ["--truncation=-1"] = "--truncation must be >= 0" }) do
    local ok, text = run(args .. " --iters=1 --out=" .. out)
    U.truthy(not ok and text:find(msg, 1, true), args .. ":\n" .. text)
  end
end)

T.run()
