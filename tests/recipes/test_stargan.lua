-- Smoke runs of recipes/stargan.lua: a few iterations on Fashion-MNIST's
-- upper-body classes, the evaluation, clear errors.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/stargan.lua", args) end

T.case("stargan.lua on five Fashion-MNIST classes", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_stargan")
  local ok, text = run("--threads=1 --iters=3 --limit=64 --batch=4 --nf=4 --ndf=4 --blocks=1 --n_critic=2 --sample_every=2 "
    .. "--save_every=2 --eval_every=0 --eval_samples=20 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,G,GP,W,cls_fake,cls_real,lr,rec\n"), log)
  -- one row per test image, one column per target domain
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 5, 5, 32))
  local m = U.read(out .. "/metrics.json")
  for _, k in ipairs({ "translated_acc", "real_acc", "to_0", "to_6" }) do
    local v = tonumber(m:match('"' .. k .. '":%s*([-%d.e]+)'))
    U.truthy(v and v >= 0 and v <= 1, k .. " in metrics.json\n" .. m)
  end
end)

T.case("stargan.lua: bad options are clear errors", function()
  local ok, text = run("--domains=3 --iters=1")
  U.truthy(not ok and text:find("--domains needs at least two classes", 1, true), text)
  ok, text = run("--size=24 --iters=1")
  U.truthy(not ok and text:find("--size must be a multiple of 16", 1, true), text)
  ok, text = run("--padding=circular --iters=1")
  U.truthy(not ok and text:find("--padding must be zeros or reflect", 1, true), text)
  ok, text = run("--data=8gaussians --iters=1")
  U.truthy(not ok and text:find("StarGAN's domains are Fashion-MNIST classes", 1, true), text)
end)

T.run()
