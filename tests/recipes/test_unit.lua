-- Smoke runs of recipes/unit.lua: a few iterations on Fashion-MNIST and
-- on a tiny CycleGAN-layout folder, then --test.
package.path = "tests/lua/?.lua;" .. package.path
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/unit.lua", args) end

U.translation_smoke_cases(T, {
  name = "unit",
  tiny = "--threads=1 --nf=2 --ndf=4 --blocks=0 --batch=2 --sample_every=2 --save_every=2 --eval=false ",
  log = "^step,D_A,D_B,G,cycle,cycle_kl,kl,lr,rec\n",
  folder = { "--gan_w=1 --cyc_kl_w=0 ", "with other loss weights" },
})

T.case("unit.lua: bad options are clear errors", function()
  local ok, text = run("--size=30 --iters=1")
  U.truthy(not ok and text:find("--size must be a multiple of 4", 1, true), text)
  ok, text = run("--shared=0 --iters=1")
  U.truthy(not ok and text:find("--shared >= 1", 1, true), text)
  ok, text = run("--kl_w=-1 --iters=1")
  U.truthy(not ok and text:find("--kl_w must be >= 0", 1, true), text)
end)

T.run()
