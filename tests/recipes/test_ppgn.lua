-- Smoke runs of recipes/ppgn.lua: a tiny DCGAN trained first (no checkpoint),
-- a few iterations of the condition network, and class-conditional samples.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/ppgn.lua", args) end

-- a checkpoint of the layout recipes/dcgan.lua writes, with an untrained G
local function fake_dcgan(path)
  local G = gan.nets.dcgan.generator(16, 1, 32, 8)
  local tensors = {}
  for k, t in pairs(G:state_dict()) do tensors["G." .. k] = t end
  assert(gan.io.save_safetensors(path, tensors, { ["ganlua.options"] = "size=32\nchannels=1\nnz=16\nnf=8\n",
    ["ganlua.step"] = "1" }))
end

T.case("ppgn.lua: condition network trained, one row per asked class", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_ppgn")
  fake_dcgan(out .. "/dcgan.safetensors")
  local ok, text = run("--checkpoint=" .. out .. "/dcgan.safetensors --iters=3 --limit=128 --batch=8 --nf=4 --steps=2 "
    .. "--sample_every=2 --save_every=2 --threads=1 --eval=false --out=" .. out)
  U.truthy(ok, text)
  U.truthy(text:find("G from " .. out .. "/dcgan.safetensors (step 1): nz 16, 32x32", 1, true), text)
  U.check_run(out, text, "step 3/3")
  U.truthy(U.read(out .. "/log.csv"):find("^step,acc,loss\n"), text)
  U.shape(gan.image.load(out .. "/samples/step_000003.png"), U.grid_shape(1, 10, 10, 32), "10 classes x 10 samples")
end)

T.case("ppgn.lua refuses negative step sizes", function()
  local ok, text = run("--eps2=-1 --out=" .. U.tmpdir("recipe_ppgn_bad"))
  U.truthy(not ok and text:find("--eps1, --eps2 and --eps3 must be >= 0", 1, true), text)
end)

T.run()
