-- Smoke runs of recipes/unrolled_gan.lua: a few iterations on a small
-- subset, in a fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/unrolled_gan.lua", "--threads=1 " .. args) end

T.case("unrolled_gan.lua on 8 gaussians (its default), second and first order", function()
  for _, order in ipairs({ 2, 1 }) do
    local out = U.tmpdir("recipe_unrolled_gan_" .. order)
    local ok, text = run(("--no-eval --order=%d --unroll=3 --hidden=16 --nz=4 --iters=3 --limit=256 --batch=16 "
      .. "--sample_every=2 --save_every=2 --out=%s"):format(order, out))
    U.truthy(ok, text)
    U.check_run(out, text, "step 3/3")
    U.truthy(U.read(out .. "/options.txt"):find("data=8gaussians", 1, true), "8gaussians by default")
    U.truthy(U.read(out .. "/log.csv"):find("^step,D,G\n"), "log columns")
  end
end)

T.case("unrolled_gan.lua on Fashion-MNIST at 16x16", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_unrolled_gan_fm")
  local ok, text = run("--no-eval --data=fashion-mnist --size=16 --nf=8 --nz=16 --unroll=1 --iters=3 "
    .. "--limit=256 --batch=8 --sample_every=2 --save_every=2 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(not U.exists(out .. "/metrics.json"), "no evaluation with --no-eval")
  U.shape(gan.image.load(out .. "/samples/step_000003.png"), U.grid_shape(1, 8, 8, 16), "an 8x8 grid of 16x16 images")
end)

T.case("unrolled_gan.lua rejects a bad order", function()
  local ok, text = run("--order=3 --out=" .. U.tmpdir("recipe_unrolled_gan_bad"))
  U.truthy(not ok and text:find("--order must be 1", 1, true), text)
end)

T.run()
