-- Smoke run of recipes/lab/truncation.lua: without a checkpoint it trains a
-- tiny StyleGAN2 for a few steps, then measures three values of psi and
-- writes the curves, the grid and the table.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/lab/truncation.lua", args) end

T.case("truncation.lua: a tiny StyleGAN2, three psi, the curves, the grid and the table", function()
  U.skip_without_style(T)
  local out = U.tmpdir("recipe_truncation")
  local ok, text = run("--checkpoint=" .. out .. "/none.safetensors --train_iters=2 --limit=64 --threads=1 "
    .. "--train_extra='--batch=8 --nz=16 --w_dim=16 --channel_base=64 --channel_max=16' "
    .. "--psi=0,0.5,1 --samples=40 --columns=3 --out=" .. out)
  U.truthy(ok, text)
  U.truthy(text:find("none.safetensors not found: running stylegan2 into", 1, true), text)
  local o = "\n" .. U.read(out .. "/stylegan2/options.txt")
  U.truthy(o:find("\nchannel_max=16\n", 1, true) and o:find("\niters=2\n", 1, true), o)
  local tbl = U.read(out .. "/table.md")
  for _, p in ipairs({ "0.00", "0.50", "1.00" }) do U.truthy(tbl:find("\n| " .. p .. " | ", 1, true), tbl) end
  local csv = U.read(out .. "/results.csv")
  U.truthy(csv:find("^psi,fd,precision,recall,min_coverage,T%-shirt/top,"), csv)
  U.shape(gan.image.load(out .. "/truncation_grid.png"), U.grid_shape(1, 3, 3, 32), "3 psi by 3 z")
  U.shape(gan.image.load(out .. "/truncation.png"), { 3, 320, 3 * 420 }, "three panels")
end)

T.case("truncation.lua refuses bad options", function()
  local out = U.tmpdir("recipe_truncation_bad")
  for args, msg in pairs({ ["--psi=0.5,1.5"] = "--psi: 1.5 is not between 0 and 1", ["--samples=5"] = "--samples must be >= 10",
    ["--columns=0"] = "--columns must be >= 1", ["--model=dcgan"] = "--model must be stylegan2 or biggan" }) do
    local ok, text = run(args .. " --out=" .. out)
    U.truthy(not ok and text:find(msg, 1, true), args .. ":\n" .. text)
  end
end)

T.run()
