-- Smoke runs of recipes/dcgan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/dcgan.lua", args) end

T.case("dcgan.lua on Fashion-MNIST at 32x32", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_dcgan")
  local ok, text = run("--iters=3 --limit=256 --batch=16 --sample_every=2 --save_every=2 --nf=16 --eval_samples=100 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(text:find("precision %d") and U.exists(out .. "/metrics.json") and U.exists(out .. "/report.html"), text)
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,D%(G%(z%)%),D%(x%),G\n"), log)
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 8, 8, 32), "an 8x8 grid of 32x32 images")
  -- `ganlua eval` measures the run again from its checkpoint, training nothing
  local before = U.read(out .. "/log.csv")
  os.remove(out .. "/metrics.json")
  ok, text = U.run_recipe("eval", out .. " --eval_samples=50")
  U.truthy(ok, text)
  U.truthy(text:find("metrics at step 3 %(50 samples%)"), text)
  U.truthy(U.read(out .. "/metrics.json"):find('"step": 3'), "metrics.json of step 3")
  U.equal(U.read(out .. "/log.csv"), before, "the log is untouched")
  ok, text = U.run_recipe("eval", U.tmpdir("recipe_dcgan_not_a_run"))
  U.truthy(not ok and text:find("options.txt not found: is .* a run folder%?"), text)
end)

T.case("dcgan.lua: a typo in any option, the library's too, is an error that names the nearest", function()
  for typo, hint in pairs { ["--nz_typo=3"] = "unknown option --nz_typo (did you mean --nz?)",
    ["--lod_size=3"] = "(did you mean --load_size?)" } do
    local ok, text = run(typo)
    U.truthy(not ok and text:find(hint, 1, true), text)
  end
  local ok, text = run("--help")
  U.truthy(ok and text:find("options of dcgan.lua:", 1, true) and text:find("training loop (gan.train):", 1, true)
    and text:find("--limit=0", 1, true) and text:find("--load_size=0", 1, true), text)
end)

T.case("dcgan.lua on an RGB folder at 64x64", function()
  local dir = U.tmpdir("recipe_dcgan_folder")
  os.execute(("mkdir -p '%s/imgs'"):format(dir))
  for i = 1, 6 do assert(gan.io.save_png(("%s/imgs/%d.png"):format(dir, i), gan.rand(3, 70, 80))) end
  local out = dir .. "/run"
  local ok, text = run(("--data=%s/imgs --channels=3 --size=64 --iters=2 --batch=4 --nf=8 --sample_every=2 "
    .. "--save_every=2 --out=%s"):format(dir, out))
  U.truthy(ok, text)
  local grid = gan.image.load(out .. "/samples/step_000002.png")
  U.shape(grid, U.grid_shape(3, 8, 8, 64), "an 8x8 grid of 64x64 RGB samples")
end)

T.run()
