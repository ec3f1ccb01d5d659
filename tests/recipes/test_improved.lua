-- Smoke runs of recipes/improved.lua: the techniques alone and together on
-- tiny data, in fresh processes, then the outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/improved.lua", "--threads=1 " .. args) end

T.case("improved.lua on Fashion-MNIST at 16x16 with every technique at once", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_improved")
  local ok, text = run("--size=16 --nf=4 --nz=8 --feature_matching --vbn --ref_batch=4 --hist_weight=1e-3 --mb_kernels=4 "
    .. "--mb_dims=3 --iters=3 --limit=256 --batch=8 --sample_every=2 --save_every=2 --eval=false --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(U.read(out .. "/log.csv"):find("^step,D,D%(G%(z%)%),D%(x%),G\n"), "log columns")
  -- the checkpoint keeps the reference batch and both historical averages
  local t, meta = gan.io.load_safetensors(out .. "/checkpoint.safetensors")
  U.truthy(t["G.reference"] ~= nil, "VBN's reference batch in the checkpoint")
  U.shape(t["G.reference"], { 4, 8, 1, 1 })
  U.truthy(t["histD.avg.2.1.weight"] ~= nil and t["histG.avg.net.1.weight"] ~= nil, "historical averages")
  U.equal(meta["histD.count"], "3")
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 8, 8, 16), "an 8x8 grid of 16x16 images")
end)

T.case("improved.lua on 8 and 25 Gaussians; resume; errors for bad options", function()
  local out = U.tmpdir("recipe_improved_toy")
  local args = "--data=8gaussians --vbn --ref_batch=4 --hidden=16 --limit=256 --batch=8 --sample_every=2 --eval=false --out=" .. out
  local ok, text = run(args .. " --iters=2 --save_every=2")
  U.truthy(ok, text)
  U.check_run(out, text, "step 2/2")
  ok, text = run(args .. " --iters=3 --resume")
  U.truthy(ok and text:find("resumed from .* at step 2"), text)
  local out25 = U.tmpdir("recipe_improved_25")
  ok, text = run("--data=25gaussians --no-minibatch --smooth=0 --feature_matching --hidden=16 --iters=2 --limit=256 "
    .. "--batch=8 --sample_every=2 --eval=false --out=" .. out25)
  U.truthy(ok, text)
  ok, text = run("--smooth=1 --out=" .. out25)
  U.truthy(not ok and text:find("--smooth must be in [0, 1)", 1, true), text)
end)

T.run()
