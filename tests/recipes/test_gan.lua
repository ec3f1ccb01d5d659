-- Smoke runs of recipes/gan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/gan.lua", args) end

local check = U.check_run

T.case("gan.lua on Fashion-MNIST", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_gan")
  local ok, text = run("--iters=3 --limit=256 --batch=16 --sample_every=2 --save_every=2 --hidden=64 --eval_samples=100 --out=" .. out)
  U.truthy(ok, text)
  check(out, text, "step 3/3")
  U.truthy(text:find("FD %d") and U.exists(out .. "/metrics.json") and U.exists(out .. "/report.html"), text)
  local img = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(img, U.grid_shape(1, 8, 8, 28), "an 8x8 grid of 28x28 images")
end)

T.case("gan.lua on the 8-gaussians toy set, minimax loss, k = 2", function()
  local out = U.tmpdir("recipe_gan_toy")
  local ok, text = run("--data=8gaussians --no-nonsat --k=2 --iters=3 --limit=256 --batch=16 "
    .. "--sample_every=2 --save_every=2 --hidden=32 --out=" .. out)
  U.truthy(ok, text)
  check(out, text, "step 3/3")
  U.truthy(text:find("modes covered %d+ of 8"), text)
end)

T.run()
