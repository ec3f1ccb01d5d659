-- Smoke runs of recipes/discogan.lua: a few iterations on Fashion-MNIST and
-- on a tiny CycleGAN-layout folder, then --test.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/discogan.lua", args) end

U.translation_smoke_cases(T, {
  name = "discogan",
  tiny = "--threads=1 --nf=4 --ndf=4 --batch=2 --sample_every=2 --save_every=2 --eval=false ",
  log = "^step,D%(x%),D_A,D_B,G,fm,rec\n",
  folder = { "--fm=0 --recon=l1 ", "plain GAN loss and L1" },
})

T.case("discogan.lua: bad options are clear errors", function()
  local ok, text = run("--size=24 --iters=1")
  U.truthy(not ok and text:find("--size must be a power of two >= 16", 1, true), text)
  ok, text = run("--recon=huber --iters=1")
  U.truthy(not ok and text:find("--recon must be mse or l1", 1, true), text)
  ok, text = run("--fm=2 --iters=1")
  U.truthy(not ok and text:find("--fm must be in [0, 1]", 1, true), text)
end)

T.run()
