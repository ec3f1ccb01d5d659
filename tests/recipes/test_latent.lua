-- Smoke run of recipes/lab/latent.lua: without a checkpoint it trains a
-- DCGAN for a few iterations, then writes the interpolation and arithmetic grids.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/lab/latent.lua", args) end

T.case("latent.lua: a short DCGAN, interpolation and concept arithmetic grids", function()
  local dir = U.image_folder("recipe_latent_imgs", 8, 1, 28)
  local out = U.tmpdir("recipe_latent")
  local ok, text = run("--checkpoint=" .. out .. "/none.safetensors --data=" .. dir .. " --train_iters=2 --train_nf=8 "
    .. "--batch=4 --threads=1 --rows=3 --steps=5 --pool=200 --out=" .. out)
  U.truthy(text:find("none.safetensors not found: running dcgan into", 1, true), text)
  U.truthy(U.exists(out .. "/dcgan/checkpoint.safetensors"), "the DCGAN's checkpoint\n" .. text)
  local g = gan.image.load(out .. "/interpolation.png")
  U.truthy(g, "interpolation.png\n" .. text)
  U.shape(g, U.grid_shape(1, 3, 5, 32), "3 walks of 5 steps")
  -- a 2-step DCGAN may draw too few items of a class for the arithmetic: then the message says so
  if ok then
    U.shape(gan.image.load(out .. "/arithmetic.png"), U.grid_shape(1, 5, 4, 32), "5 rows of 4")
    U.truthy(U.read(out .. "/latent.txt"):find("results classified as Bag: %d of 8"), text)
  else
    U.truthy(text:find("samples are [%w/ ]+: raise %-%-pool"), text)
  end
end)

T.case("latent.lua refuses bad options and checkpoints of other recipes", function()
  local out = U.tmpdir("recipe_latent_bad")
  local ok, text = run("--class_a=3 --class_b=3 --out=" .. out)
  U.truthy(not ok and text:find("--class_a and --class_b must differ", 1, true), text)
  ok, text = run("--class_b=10 --out=" .. out)
  U.truthy(not ok and text:find("--class_b must be a Fashion-MNIST class id in 0..9", 1, true), text)
  assert(gan.io.save_safetensors(out .. "/other.safetensors", { ["x"] = gan.zeros(2) }, { ["ganlua.options"] = "size=32" }))
  ok, text = run("--checkpoint=" .. out .. "/other.safetensors --out=" .. out)
  U.truthy(not ok and text:find("is not a DCGAN checkpoint", 1, true), text)
end)

T.run()
