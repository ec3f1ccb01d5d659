-- Smoke runs of recipes/cgan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/cgan.lua", args) end

T.case("cgan.lua on Fashion-MNIST: one row per class in the sample grid", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_cgan")
  local ok, text = run("--iters=3 --limit=256 --batch=8 --nf=8 --sample_every=2 --save_every=2 --threads=1 "
    .. "--eval=false --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,D%(G%(z|y%)%),D%(x|y%),G\n"), log)
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  -- 10 classes x 10 samples of 32x32 with 2-pixel gaps
  U.shape(grid, U.grid_shape(1, 10, 10, 32), "a 10x10 grid")
end)

T.case("cgan.lua refuses data without labels", function()
  local ok, text = run("--data=8gaussians --iters=1 --out=" .. U.tmpdir("recipe_cgan_toy"))
  U.truthy(not ok and text:find("--data must have class labels", 1, true), text)
end)

T.run()
