-- Smoke runs of recipes/stackgan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/stackgan.lua", args) end

T.case("stackgan.lua: two stages trained, a caption drawn", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_stackgan")
  local ok, text = run("--iters=3 --limit=256 --batch=8 --nf=8 --text_iters=5 --sample_every=2 --save_every=2 "
    .. "--threads=1 --eval=false --caption='A light narrow Ankle boot' --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(text:find("text encoder: 5 iterations", 1, true), text)
  U.truthy(U.read(out .. "/log.csv"):find("^step,D1,D2,G1,G2,KL\n"), text)
  U.shape(gan.image.load(out .. "/samples/step_000003.png"), U.grid_shape(1, 10, 10, 32), "10 classes x 10 captions")
  U.shape(gan.image.load(out .. "/caption.png"), U.grid_shape(1, 8, 8, 32), "64 samples of the caption")
  -- 10 captions, each as Stage-I (16x16 shown at 32) and Stage-II
  U.shape(gan.image.load(out .. "/stages_step000003.png"), U.grid_shape(1, 5, 4, 32), "stages")
end)

T.case("stackgan.lua refuses unknown words before training", function()
  local ok, text = run("--caption='a purple hat' --out=" .. U.tmpdir("recipe_stackgan_bad"))
  U.truthy(not ok and text:find("--caption: unknown word 'purple'", 1, true), text)
  ok, text = run("--size=64 --out=" .. U.tmpdir("recipe_stackgan_bad"))
  U.truthy(not ok and text:find("--size must be 32", 1, true), text)
  ok, text = run("--cdim=0 --out=" .. U.tmpdir("recipe_stackgan_bad"))
  U.truthy(not ok and text:find("--cdim must be >= 1", 1, true), text)
end)

T.run()
