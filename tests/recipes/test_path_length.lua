-- Smoke run of recipes/lab/path_length.lua: a tiny StyleGAN2 with path
-- length regularization, its twin without, their path lengths in W and FD.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/lab/path_length.lua", args) end

T.case("path_length.lua: two tiny runs with the same budget, PPL and FD, the figures", function()
  U.skip_without_style(T)
  local out = U.tmpdir("recipe_path_length")
  local args = "--checkpoint=" .. out .. "/none.safetensors --train_iters=2 --limit=64 --threads=1 "
    .. "--train_extra='--batch=8 --nz=16 --w_dim=16 --channel_base=64 --channel_max=16' "
    .. "--pairs=30 --fd_samples=30 --rows=2 --steps=4 --out=" .. out
  local ok, text = run(args)
  U.truthy(ok, text)
  U.truthy(text:find("training the twin without path length regularization: 2 steps", 1, true), text)
  local o = "\n" .. U.read(out .. "/without_pl/options.txt")
  for _, kv in ipairs({ "pl_weight=0", "iters=2", "channel_max=16", "batch=8", "seed=1" }) do
    U.truthy(o:find("\n" .. kv .. "\n", 1, true), "the twin runs with " .. kv .. ":\n" .. o)
  end
  local tbl = U.read(out .. "/table.md")
  U.truthy(tbl:find("| with path length regularization | %d") and tbl:find("| without %(%-%-pl_weight=0%) | %d"), tbl)
  U.shape(gan.image.load(out .. "/path_length.png"), { 3, 420, 720 }, "the path lengths")
  U.shape(gan.image.load(out .. "/walks.png"), U.grid_shape(1, 4, 4, 32), "2 + 2 walks of 4")
  -- again: both runs are there, nothing is trained, the same numbers
  local ok2, text2 = run(args)
  U.truthy(ok2 and not text2:find("training the twin", 1, true) and not text2:find("running stylegan2", 1, true), text2)
  U.equal(U.read(out .. "/table.md"), tbl, "the same table")
  -- the twin is not a run with the regularizer
  local ok3, text3 = run("--checkpoint=" .. out .. "/without_pl/checkpoint.safetensors --out=" .. out)
  U.truthy(not ok3 and text3:find("was trained without path length regularization (pl_weight=0)", 1, true), text3)
end)

T.case("path_length.lua refuses bad options", function()
  local out = U.tmpdir("recipe_path_length_bad")
  for args, msg in pairs({ ["--sampling=mid"] = "--sampling must be end or full, got 'mid'",
    ["--pairs=2"] = "--pairs must be >= 10", ["--epsilon=0"] = "--epsilon must be > 0" }) do
    local ok, text = run(args .. " --out=" .. out)
    U.truthy(not ok and text:find(msg, 1, true), args .. ":\n" .. text)
  end
end)

T.run()
