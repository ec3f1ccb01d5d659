-- Smoke runs of recipes/pix2pix.lua: a few iterations on Fashion-MNIST edges
-- and on a tiny side-by-side folder.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/pix2pix.lua", args) end
local tiny = "--threads=1 --nf=4 --ndf=4 --batch=4 --sample_every=2 --save_every=2 --eval=false "

T.case("pix2pix.lua on Fashion-MNIST edges -> garments", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_pix2pix")
  local ok, text = run("--iters=3 --limit=32 " .. tiny .. "--eval=true --eval_every=0 --eval_samples=20 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,G,L1,lr\n"), log)
  -- the evaluation at the end, on 20 test pairs: L1 to the ground truth and FD
  local m = U.read(out .. "/metrics.json")
  local l1, fd = tonumber(m:match('"L1":%s*([-%d.e]+)')), tonumber(m:match('"fd":%s*([-%d.e]+)'))
  U.truthy(l1 and l1 > 0 and l1 < 2 and fd and fd > 0, m)
  -- (input, translation, ground truth) triplets, two per row
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 6, 6, 32))
end)

T.case("pix2pix.lua on a side-by-side folder (JPEG and PNG), and clear errors", function()
  local dir = U.tmpdir("recipe_pix2pix_folder")
  os.execute(("mkdir -p '%s/train' '%s/test'"):format(dir, dir))
  os.execute(("cp tests/data/pair_64x32.jpg '%s/train/1.jpg'"):format(dir))
  for i = 2, 4 do assert(gan.io.save_png(("%s/train/%d.png"):format(dir, i), gan.rand(3, 32, 64))) end
  os.execute(("cp tests/data/pair_64x32.jpg '%s/test/1.jpg'"):format(dir))
  local out = dir .. "/run"
  local ok, text = run(("--data=%s --iters=2 --eval_every=2 --load_size=36 --out=%s "):format(dir, out) .. tiny)
  U.truthy(ok, text)
  U.check_run(out, text, "step 2/2")
  U.truthy(U.read(out .. "/eval.csv"):find("^step,L1\n2,"), "eval on the test folder")
  U.shape(gan.image.load(out .. "/samples/step_000002.png"), U.grid_shape(3, 6, 6, 32))
  ok, text = run("--size=48 --iters=1")
  U.truthy(not ok and text:find("--size must be a power of two >= 32", 1, true), text)
  ok, text = run("--dropout=9 --iters=1")
  U.truthy(not ok and text:find("--dropout must be in [0, 3]", 1, true), text)
end)

T.run()
