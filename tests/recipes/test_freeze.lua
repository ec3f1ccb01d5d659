-- Smoke runs of recipes/lab/freeze.lua: the one-network form against the
-- two-optimizer form over a few steps, in a fresh process.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/lab/freeze.lua", args) end

local function check(out, text, steps)
  U.truthy(text:find("same training: yes", 1, true), text)
  local lines = {}
  for line in U.read(out .. "/freeze.csv"):gmatch("[^\n]+") do lines[#lines + 1] = line end
  U.equal(lines[1], "step,D_two_optimizers,D_one_network,G_two_optimizers,G_one_network,D_unfrozen,G_unfrozen", "header")
  U.equal(#lines, steps + 1, "one row per step")
  for i = 2, #lines do
    local v = {}
    for x in lines[i]:gmatch("[^,]+") do v[#v + 1] = tonumber(x) end
    U.close(v[3], v[2], 1e-5, "D losses at step " .. v[1])
    U.close(v[5], v[4], 1e-5, "G losses at step " .. v[1])
  end
end

T.case("freeze.lua on Fashion-MNIST: the frozen one-network form trains like two optimizers", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_freeze")
  local ok, text = run("--iters=4 --limit=256 --batch=8 --hidden=16 --threads=1 --out=" .. out)
  U.truthy(ok, text)
  check(out, text, 4)
end)

T.case("freeze.lua on 8 Gaussians; bad options refused", function()
  local out = U.tmpdir("recipe_freeze_toy")
  local ok, text = run("--data=8gaussians --iters=5 --batch=16 --hidden=16 --threads=1 --out=" .. out)
  U.truthy(ok, text)
  check(out, text, 5)
  ok, text = run("--iters=0 --out=" .. out)
  U.truthy(not ok and text:find("--iters must be >= 1", 1, true), text)
end)

T.run()
