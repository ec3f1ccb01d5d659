-- Smoke runs of recipes/sngan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/sngan.lua", "--threads=1 " .. args) end

T.case("sngan.lua on Fashion-MNIST at 16x16: u vectors in the checkpoint", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_sngan")
  local ok, text = run("--no-eval --size=16 --nf=8 --ndf=4 --nz=16 --iters=3 --limit=256 --batch=8 --sample_every=2 --save_every=2 "
    .. "--out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(not U.exists(out .. "/metrics.json"), "no evaluation with --no-eval")
  local t = assert(gan.io.load_safetensors(out .. "/checkpoint.safetensors"))
  local u, orig = 0, 0
  for name, x in pairs(t) do
    if name:match("^D%..*%.u$") then
      u = u + 1
      U.close(x:square():sum():item(), 1, 1e-4, name .. " has unit norm")
    end
    if name:match("^D%..*weight_orig$") then orig = orig + 1 end
  end
  T.eq(u, 8, "one u per layer of D (the standard CNN: 7 convolutions and the linear layer)")
  T.eq(orig, 8)
  U.truthy(U.read(out .. "/options.txt"):find("lr_d=0.0004", 1, true), "learning rates recorded")
  local bad
  ok, bad = run("--ndf=0 --iters=1")
  U.truthy(not ok and bad:find("--ndf must be >= 1", 1, true), bad)
end)

T.case("sngan.lua on 25 gaussians, resumed", function()
  local out = U.tmpdir("recipe_sngan_toy")
  local args = "--no-eval --data=25gaussians --hidden=16 --nz=4 --limit=256 --batch=8 --sample_every=2 --save_every=2 --out=" .. out
  local ok, text = run("--iters=2 " .. args)
  U.truthy(ok, text)
  ok, text = run("--iters=3 --resume " .. args)
  U.truthy(ok, text)
  U.truthy(text:find("resumed from .* at step 2"), text)
  U.check_run(out, text, "step 3/3")
end)

T.case("sngan.lua --sn_g: G's layers are spectrally normalized too", function()
  local out = U.tmpdir("recipe_sngan_g")
  local ok, text = run("--no-eval --sn_g --data=8gaussians --hidden=16 --nz=4 --limit=256 --batch=8 --iters=2 "
    .. "--sample_every=2 --save_every=2 --out=" .. out)
  U.truthy(ok, text)
  local t = assert(gan.io.load_safetensors(out .. "/checkpoint.safetensors"))
  local g = 0
  for name in pairs(t) do if name:match("^G%..*%.u$") then g = g + 1 end end
  T.eq(g, 4, "a u vector for each of the toy G's 4 linear layers")
end)

T.run()
