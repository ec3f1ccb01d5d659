-- Smoke runs of recipes/lsgan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/lsgan.lua", "--threads=1 " .. args) end

T.case("lsgan.lua on Fashion-MNIST at 16x16, the (-1, 1, 0) coding", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_lsgan")
  local ok, text = run("--no-eval --size=16 --nf=8 --nz=16 --iters=3 --limit=256 --batch=8 --coding=-1,1,0 "
    .. "--sample_every=2 --save_every=2 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(not U.exists(out .. "/metrics.json"), "no evaluation with --no-eval")
  U.truthy(U.read(out .. "/options.txt"):find("coding=-1,1,0", 1, true), "the coding is recorded")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,D%(G%(z%)%),D%(x%),G\n"), log)
end)

T.case("lsgan.lua on 8 gaussians", function()
  local out = U.tmpdir("recipe_lsgan_toy")
  local ok, text = run("--eval_samples=100 --data=8gaussians --hidden=16 --nz=4 --iters=3 --limit=256 --batch=8 "
    .. "--sample_every=2 --save_every=2 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(text:find("modes covered %d+ of %d+") and U.exists(out .. "/metrics.json"), text)
end)

T.case("lsgan.lua rejects a bad coding", function()
  local ok, text = run("--data=8gaussians --coding=0,1 --out=" .. U.tmpdir("recipe_lsgan_bad"))
  U.truthy(not ok and text:find("--coding must be three numbers", 1, true), text)
  ok, text = run("--data=8gaussians --coding=1,1,0 --out=" .. U.tmpdir("recipe_lsgan_bad"))
  U.truthy(not ok and text:find("must differ", 1, true), text)
end)

T.run()
