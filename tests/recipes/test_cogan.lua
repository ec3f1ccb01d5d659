-- Smoke runs of recipes/cogan.lua: a few iterations on Fashion-MNIST (garments
-- and the edge maps of other garments) and on a folder of images.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/cogan.lua", args) end
local tiny = "--threads=1 --nf=4 --nz=8 --batch=4 --sample_every=2 --save_every=2 --eval=false "

T.case("cogan.lua on Fashion-MNIST: pairs of a garment and an edge map from one z", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_cogan")
  local ok, text = run("--iters=3 --limit=64 " .. tiny .. "--eval=true --eval_every=0 --eval_samples=20 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,D1%(x%),D2%(x%),G\n"), log)
  -- 64 images, 8 per row: four (garment, edge map) pairs in each row
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 8, 8, 32), "an 8x8 grid of 32x32 gray images")
  local m = U.read(out .. "/metrics.json")
  for _, k in ipairs({ "pair_l1", "shuffled_l1", "fd", "precision" }) do
    local v = tonumber(m:match('"' .. k .. '":%s*([-%d.e]+)'))
    U.truthy(v and v >= 0, k .. " in metrics.json\n" .. m)
  end
  local pair = tonumber(m:match('"pair_l1":%s*([-%d.e]+)'))
  U.truthy(pair <= 2, "pair_l1 on the [-1, 1] scale\n" .. m)
end)

T.case("cogan.lua trains on a folder of RGB images, sharing all but one layer", function()
  local dir = U.image_folder("recipe_cogan_folder", 8, 3, 20)
  local out = U.tmpdir("recipe_cogan_run")
  local ok, text = run(("--iters=2 --data=%s --size=16 --channels=3 --g_private=2 --d_private=2 --out=%s "):format(dir,
    out) .. tiny)
  U.truthy(ok, text)
  U.check_run(out, text, "step 2/2")
  U.truthy(text:find("G1: %d+ parameters") and text:find("D_shared: %d+ parameters"), text)
  -- the edge maps (one channel) are shown with the images' three
  local grid = gan.image.load(out .. "/samples/step_000002.png")
  U.shape(grid, U.grid_shape(3, 8, 8, 16), "an 8x8 grid of 16x16 RGB images")
end)

T.case("cogan.lua: bad options are clear errors", function()
  local ok, text = run("--size=24 --iters=1")
  U.truthy(not ok and text:find("--size must be a power of two >= 16", 1, true), text)
  ok, text = run("--g_private=0 --iters=1")
  U.truthy(not ok and text:find("--g_private must be in [1, 3]", 1, true), text)
  ok, text = run("--d_private=4 --iters=1")
  U.truthy(not ok and text:find("--d_private must be in [1, 3]", 1, true), text)
end)

T.run()
