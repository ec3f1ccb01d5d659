-- Smoke run of recipes/lab/style_mixing.lua: without a checkpoint it trains
-- a tiny StyleGAN for a few steps, then draws the three mixing grids and
-- counts the labels of a few mixed pairs.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/lab/style_mixing.lua", args) end

T.case("style_mixing.lua: a tiny StyleGAN, the grids, the table", function()
  U.skip_without_style(T)
  local out = U.tmpdir("recipe_style_mixing")
  local ok, text = run("--checkpoint=" .. out .. "/none.safetensors --train_iters=2 --limit=64 --threads=1 "
    .. "--train_extra='--batch=8 --nz=16 --w_dim=16 --mapping=2 --channel_base=64 --channel_max=16 --eval=false' "
    .. "--pairs=40 --rows=2 --columns=3 --out=" .. out)
  U.truthy(ok, text)
  U.truthy(text:find("none.safetensors not found: running stylegan into", 1, true), text)
  local o = "\n" .. U.read(out .. "/stylegan/options.txt")
  U.truthy(o:find("\nchannel_max=16\n", 1, true) and o:find("\niters=2\n", 1, true), o)
  local tbl = U.read(out .. "/table.md")
  for _, row in ipairs({ "| coarse (4x4-8x8) | 1-4 | ", "| middle (16x16) | 5-6 | ", "| fine (32x32) | 7-8 | " }) do
    U.truthy(tbl:find(row, 1, true), tbl)
  end
  local csv = {}
  for l in io.lines(out .. "/results.csv") do csv[#csv + 1] = l end
  U.equal(#csv, 4, "a header and three groups")
  local g, first, last, pairs, src, dst, diff, sd, dd = csv[2]:match(
    "^(%a+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+)$")
  U.equal(g, "coarse")
  U.equal(tonumber(pairs), 40)
  U.truthy(tonumber(src) <= 40 and tonumber(dst) <= 40 and tonumber(sd) <= tonumber(diff) and tonumber(dd) <= tonumber(diff),
    csv[2])
  U.truthy(tonumber(sd) + tonumber(dd) <= tonumber(diff), "a mixed image cannot take both of two different labels")
  -- each grid: 3 + 1 columns and 2 + 1 rows of 32x32 cells with 2-pixel gaps, under a 12-pixel title
  local panel = gan.image.load(out .. "/style_mixing_coarse.png", 3)
  U.shape(panel, { 3, 12 + 3 * 32 + 4 * 2, 4 * 32 + 5 * 2 }, "the coarse grid")
  local fig = gan.image.load(out .. "/style_mixing.png", 3)
  U.shape(fig, { 3, 12 + 3 * 32 + 4 * 2, 3 * (4 * 32 + 5 * 2) + 2 * 10 }, "three grids side by side")
end)

T.case("style_mixing.lua refuses bad options", function()
  local out = U.tmpdir("recipe_style_mixing_bad")
  for args, msg in pairs({ ["--pairs=5"] = "--pairs must be >= 10", ["--rows=0"] = "--rows and --columns must be >= 1",
    ["--psi=2"] = "--psi must be between 0 and 1", ["--noise=fixed"] = "--noise must be const, random or none" }) do
    local ok, text = run(args .. " --out=" .. out)
    U.truthy(not ok and text:find(msg, 1, true), args .. ":\n" .. text)
  end
end)

T.run()
