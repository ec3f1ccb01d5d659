-- Smoke runs of recipes/sagan.lua: a few iterations on a small subset, with and
-- without the attention block, then its outputs are checked; and
-- recipes/lab/attention.lua on the run.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/sagan.lua", "--threads=1 " .. args) end
local tiny = "--no-eval --nf=4 --ndf=8 --nz=16 --iters=3 --limit=64 --batch=8 --sample_every=2 --save_every=2 "

T.case("sagan.lua: attention at 16x16 in G and D, sigma logged; the lab draws its maps", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_sagan")
  local ok, text = run(tiny .. "--out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(U.read(out .. "/log.csv"):find("sigma_D", 1, true), "sigma in the log")
  local t = assert(gan.io.load_safetensors(out .. "/checkpoint.safetensors"))
  U.truthy(t["G.attention.sigma"] and t["D.attention.sigma"], "both attention blocks saved")
  U.truthy(t["G.attention.theta.u"] and t["G.blocks.1.conv1.u"], "spectral norm in G too")
  local lab = U.tmpdir("recipe_lab_attention")
  ok, text = U.run_recipe("recipes/lab/attention.lua", "--threads=1 --images=2 --checkpoint=" .. out
    .. "/checkpoint.safetensors --out=" .. lab)
  U.truthy(ok, text)
  -- 2 rows of 1 + 2 x 3 tiles of 32x32 with 2-pixel gaps
  U.shape(gan.image.load(lab .. "/attention_maps.png"), { 3, 2 * 34 + 2, 7 * 34 + 2 })
  U.truthy(U.exists(lab .. "/sigma.png"), text)
end)

T.case("sagan.lua --attention=false: the same network without the block", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_sagan_noatt")
  local ok, text = run(tiny .. "--attention=false --out=" .. out)
  U.truthy(ok, text)
  local t = assert(gan.io.load_safetensors(out .. "/checkpoint.safetensors"))
  U.truthy(not t["G.attention.sigma"] and t["G.blocks.1.conv1.weight_orig"], "no attention block")
  local lab = U.tmpdir("recipe_lab_attention_none")
  ok, text = U.run_recipe("recipes/lab/attention.lua", "--threads=1 --checkpoint=" .. out
    .. "/checkpoint.safetensors --out=" .. lab)
  U.truthy(not ok and text:find("no attention to show", 1, true), text)
  ok, text = run("--nf=6 --iters=1 --out=" .. out)
  U.truthy(not ok and text:find("--nf must be a positive multiple of 4", 1, true), text)
  ok, text = run("--data=8gaussians --iters=1 --out=" .. out)
  U.truthy(not ok and text:find("--data must hold images", 1, true), text)
end)

T.run()
