-- Smoke runs of recipes/vae.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/vae.lua", args) end

T.case("vae.lua on Fashion-MNIST: ELBO terms logged, prior samples and reconstructions", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_vae")
  local ok, text = run("--iters=3 --limit=256 --batch=8 --nf=8 --sample_every=2 --save_every=2 --threads=1 "
    .. "--eval=false --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,KL,loss,rec\n"), log)
  -- loss = rec + KL; the reconstruction term of 32x32 pixels starts near 1024 ln 2 or below
  local kl, loss, rec = log:match("\n1,([^,]+),([^,]+),([^,\n]+)")
  kl, loss, rec = tonumber(kl), tonumber(loss), tonumber(rec)
  U.close(loss, rec + kl, 1e-4, "loss = rec + KL")
  U.truthy(kl >= 0 and rec > 100 and rec < 1024, ("KL %s rec %s"):format(kl, rec))
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 8, 8, 32), "an 8x8 grid of prior samples")
  local rec_grid = gan.image.load(out .. "/reconstructions.png")
  U.shape(rec_grid, U.grid_shape(1, 8, 8, 32), "32 test images and their reconstructions")
end)

T.case("vae.lua refuses a negative beta and 2-D points", function()
  local ok, text = run("--beta=-0.5 --iters=1 --out=" .. U.tmpdir("recipe_vae_bad"))
  U.truthy(not ok and text:find("--beta must be >= 0", 1, true), text)
  ok, text = run("--data=8gaussians --iters=1 --out=" .. U.tmpdir("recipe_vae_toy"))
  U.truthy(not ok and text:find("--data must be images", 1, true), text)
end)

T.run()
