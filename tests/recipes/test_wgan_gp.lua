-- Smoke runs of recipes/wgan_gp.lua: a few iterations on a small subset, in
-- a fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/wgan_gp.lua", "--threads=1 " .. args) end

T.case("wgan_gp.lua on Fashion-MNIST at 16x16 with layer norm", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_wgan_gp")
  local ok, text = run("--no-eval --size=16 --nf=8 --nz=16 --iters=3 --limit=256 --batch=8 --n_critic=2 --norm=layer "
    .. "--sample_every=2 --save_every=2 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(not U.exists(out .. "/metrics.json"), "no evaluation with --no-eval")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,G,GP,W,grad_norm\n"), log)
  for gp, norm in log:gmatch("\n%d+,[^,]+,[^,]+,([^,]+),[^,]+,([^,\n]+)") do
    U.truthy(tonumber(gp) >= 0 and tonumber(norm) > 0, "a penalty and a gradient norm")
  end
  local t = assert(gan.io.load_safetensors(out .. "/checkpoint.safetensors"))
  local ln, bn = 0, 0
  for name, x in pairs(t) do
    if name:match("^D%.") and x:dim() == 3 then ln = ln + 1 end       -- LayerNorm weights (C, H, W)
    if name:match("^D%..*running_mean") then bn = bn + 1 end
  end
  U.truthy(ln > 0 and bn == 0, "layer norm and no batch norm in the critic")
end)

T.case("wgan_gp.lua on 25 gaussians", function()
  local out = U.tmpdir("recipe_wgan_gp_toy")
  local ok, text = run("--eval_samples=100 --data=25gaussians --hidden=16 --nz=4 --iters=3 --limit=256 --batch=8 "
    .. "--sample_every=2 --save_every=2 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(text:find("modes covered %d+ of %d+") and U.exists(out .. "/metrics.json"), text)
  -- the toy sets' own rates, the command line's batch and iterations
  U.truthy(text:find("defaults for toy sets (8gaussians, 25gaussians, ring, swissroll): --beta1=0.5 --lr=0.001\n",
    1, true), text)
  U.truthy(text:find("\nlr=0.001\n", 1, true) and text:find("\nbatch=8\n", 1, true), text)
end)

T.case("wgan_gp.lua refuses batch norm in the critic", function()
  local ok, text = run("--data=8gaussians --norm=batch --out=" .. U.tmpdir("recipe_wgan_gp_bad"))
  U.truthy(not ok and text:find("--norm must be none or layer", 1, true), text)
end)

T.run()
