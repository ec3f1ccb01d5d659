-- Smoke runs of recipes/acgan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/acgan.lua", args) end

T.case("acgan.lua on Fashion-MNIST: class loss logged, one row per class", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_acgan")
  local ok, text = run("--iters=3 --limit=256 --batch=8 --nf=8 --sample_every=2 --save_every=2 --threads=1 "
    .. "--eval=false --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,C,D,G,acc%(real%)\n"), log)
  -- the class loss starts near 2 ln 10 (two cross-entropies over 10 classes)
  local c1 = tonumber(log:match("\n1,([^,]+),"))
  U.truthy(c1 and c1 > 3 and c1 < 7, "C at step 1: " .. tostring(c1))
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 10, 10, 32), "a 10x10 grid")
end)

T.case("acgan.lua refuses a negative lambda and data without labels", function()
  local ok, text = run("--lambda=-1 --iters=1 --out=" .. U.tmpdir("recipe_acgan_bad"))
  U.truthy(not ok and text:find("--lambda must be >= 0", 1, true), text)
  ok, text = run("--data=25gaussians --iters=1 --out=" .. U.tmpdir("recipe_acgan_toy"))
  U.truthy(not ok and text:find("--data must have class labels", 1, true), text)
end)

T.run()
