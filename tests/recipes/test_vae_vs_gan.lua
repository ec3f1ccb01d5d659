-- Smoke run of recipes/lab/vae_vs_gan.lua: both models for a few iterations,
-- then the side-by-side figure and the summary are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

T.case("vae_vs_gan.lua: two runs with the same budget, one figure", function()
  local dir = U.image_folder("recipe_vae_vs_gan_imgs", 8, 1, 28)
  local out = U.tmpdir("recipe_vae_vs_gan")
  local ok, text = U.run_recipe("recipes/lab/vae_vs_gan.lua",
    "--data=" .. dir .. " --iters=2 --limit=64 --batch=8 --nf=8 --threads=1 --eval=false --gap=6 --out=" .. out)
  U.truthy(ok, text)
  for _, name in ipairs({ "dcgan", "vae" }) do
    U.truthy(U.exists(out .. "/" .. name .. "/checkpoint.safetensors"), name .. " checkpoint\n" .. text)
    local o = "\n" .. U.read(out .. "/" .. name .. "/options.txt") .. "\n"
    for _, kv in ipairs({ "iters=2", "batch=8", "nf=8", "limit=64" }) do
      U.truthy(o:find("\n" .. kv .. "\n", 1, true), name .. " runs with " .. kv .. ":\n" .. o)
    end
  end
  local fig = gan.image.load(out .. "/vae_vs_gan.png")
  local grid = U.grid_shape(1, 8, 8, 32)
  U.shape(fig, { 1, grid[2], 2 * grid[3] + 6 }, "two 8x8 grids and a gap")
  local summary = U.read(out .. "/summary.txt")
  U.truthy(summary:find("\ndcgan ") and summary:find("\nvae "), summary)
end)

T.case("vae_vs_gan.lua refuses bad options", function()
  local ok, text = U.run_recipe("recipes/lab/vae_vs_gan.lua", "--iters=0 --out=" .. U.tmpdir("recipe_vvg_bad"))
  U.truthy(not ok and text:find("--iters must be >= 1", 1, true), text)
end)

T.run()
