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
  U.truthy(grid:size(2) >= 8 * 32, "an 8x8 grid of 32x32 images")
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
  U.shape(grid, { 3, grid:size(2), grid:size(3) })
  U.truthy(grid:size(2) >= 64, "64x64 samples")
end)

T.run()
