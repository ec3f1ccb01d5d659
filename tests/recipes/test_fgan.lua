-- Smoke runs of recipes/fgan.lua: a few iterations on tiny data (images,
-- both toy sets, both G losses), in fresh processes, then the outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/fgan.lua", "--threads=1 " .. args) end

T.case("fgan.lua on Fashion-MNIST at 16x16, Pearson chi-squared", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_fgan")
  local ok, text = run("--divergence=pearson --size=16 --nf=8 --iters=3 --limit=256 --batch=8 --sample_every=2 "
    .. "--save_every=2 --eval=false --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,G,bound\n"), log)
  -- the bound column is minus D's loss
  local d, bound = log:match("\n3,([^,]+),[^,]+,([^,\n]+)")
  U.close(tonumber(bound), -tonumber(d), 1e-6, "bound = -D")
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 8, 8, 16), "an 8x8 grid of 16x16 images")
end)

T.case("fgan.lua on 8 and 25 Gaussians, both G losses", function()
  local base = U.tmpdir("recipe_fgan_toy")
  for _, c in ipairs({ { "8gaussians", "kl", "saddle" }, { "25gaussians", "reverse_kl", "alt" } }) do
    local out = base .. "/" .. c[2]
    local ok, text = run(("--data=%s --divergence=%s --g_loss=%s --iters=2 --limit=256 --batch=8 --hidden=16 "
      .. "--sample_every=2 --save_every=2 --eval=false --out=%s"):format(c[1], c[2], c[3], out))
    U.truthy(ok, c[2] .. "\n" .. text)
    U.check_run(out, text, "step 2/2")
    U.truthy(U.read(out .. "/options.txt"):find("divergence=" .. c[2], 1, true), "the divergence in options.txt")
    U.truthy(text:find("defaults for toy sets (8gaussians, 25gaussians, ring, swissroll): --lr=0.0003\n", 1, true), text)
  end
end)

T.case("fgan.lua: clear errors for bad options", function()
  local out = U.tmpdir("recipe_fgan_bad")
  local ok, text = run("--divergence=wasserstein --out=" .. out)
  U.truthy(not ok and text:find("unknown divergence 'wasserstein' %(use kl, reverse_kl"), text)
  ok, text = run("--g_loss=minimax --out=" .. out)
  U.truthy(not ok and text:find("--g_loss must be alt or saddle", 1, true), text)
end)

T.run()
