-- Smoke run of recipes/lab/adain.lua: without a checkpoint it trains a tiny
-- StyleGAN for a few steps, then measures the channel statistics around
-- AdaIN and the noise inputs' per-pixel spread.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/lab/adain.lua", args) end

T.case("adain.lua: a tiny StyleGAN, the statistics, the noise maps, the table", function()
  U.skip_without_style(T)
  local out = U.tmpdir("recipe_adain")
  local ok, text = run("--checkpoint=" .. out .. "/none.safetensors --train_iters=2 --limit=64 --threads=1 "
    .. "--train_extra='--batch=8 --nz=16 --w_dim=16 --mapping=2 --channel_base=64 --channel_max=16 --eval=false' "
    .. "--samples=8 --examples=2 --draws=4 --out=" .. out)
  U.truthy(ok, text)
  U.truthy(text:find("none.safetensors not found: running stylegan into", 1, true), text)
  local tbl = U.read(out .. "/table.md")
  for layer = 1, 8 do U.truthy(tbl:find("\n| " .. layer .. " | ", 1, true), "layer " .. layer .. "\n" .. tbl) end
  for _, row in ipairs({ "| all layers | ", "| coarse (4x4-8x8) | ", "| middle | ", "| fine (32x32) | " }) do
    U.truthy(tbl:find(row, 1, true), tbl)
  end
  -- after AdaIN the means are the style's biases (layers 2.. have maps that are not flat)
  local n = 0
  for l in io.lines(out .. "/results.csv") do
    local layer, mean_err = l:match("^(%d+),%d+,%d+,[^,]+,[^,]+,[^,]+,[^,]+,([^,]+),")
    if layer and tonumber(layer) > 1 then
      n = n + 1
      U.truthy(tonumber(mean_err) < 1e-3, "layer " .. layer .. ": after AdaIN mean = y_b: " .. l)
    end
  end
  U.equal(n, 7)
  U.shape(gan.image.load(out .. "/adain_stats.png", 3), { 3, 400, 2 * 480 + 10 }, "two panels")
  -- 2 rows of 8 cells, 96 pixels each (32x32 zoomed 3 times), 4-pixel gaps, under a 14-pixel band
  U.shape(gan.image.load(out .. "/adain_noise.png", 3), { 3, 14 + 2 * 96 + 3 * 4, 8 * 96 + 9 * 4 }, "the noise grid")
end)

T.case("adain.lua refuses bad options", function()
  local out = U.tmpdir("recipe_adain_bad")
  for args, msg in pairs({ ["--samples=1"] = "--samples must be >= 2", ["--draws=1"] = "--draws must be >= 2",
    ["--examples=0"] = "--examples must be >= 1" }) do
    local ok, text = run(args .. " --out=" .. out)
    U.truthy(not ok and text:find(msg, 1, true), args .. ":\n" .. text)
  end
end)

T.run()
