-- A smoke run of recipes/lab/mode_collapse.lua: two recipes, a few steps,
-- one set; then its table, figures and per-run measurements are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

T.case("mode_collapse.lua compares recipes on 8 gaussians", function()
  local out = U.tmpdir("lab_mode_collapse")
  local ok, text = U.run_recipe("recipes/lab/mode_collapse.lua", "--recipes='gan,unrolled_gan --unroll=1' "
    .. "--sets=8gaussians --iters=4 --batch=8 --snapshots=2 --samples=100 --extra='--hidden=16 --limit=256' "
    .. "--out=" .. out)
  U.truthy(ok, text)
  local tab = U.read(out .. "/table.md")
  U.truthy(tab:find("| gan | 8gaussians | %d / 8 | [%d.]+%% | %d → %d |"), tab)
  U.truthy(tab:find("| unrolled_gan --unroll=1 | 8gaussians | ", 1, true), tab)
  U.truthy(U.read(out .. "/results.csv"):find("^recipe,data,modes,of,hq,seconds\ngan,8gaussians,%d,8,"), "csv")
  local fig = gan.image.load(out .. "/gan.png")
  U.shape(fig, { 3, 206, 412 }, "one row, two snapshots of 200 px (+ borders)")
  local all = gan.image.load(out .. "/8gaussians.png")
  U.shape(all, { 3, 412, 412 }, "a row per recipe")
  local ev = U.read(out .. "/8gaussians/unrolled_gan_unroll_1/eval.csv")
  U.truthy(ev:find("modes") and ev:find("\n2,") and ev:find("\n4,"), "measured at steps 2 and 4\n" .. ev)
  U.truthy(U.exists(out .. "/8gaussians/gan/samples/step_000002.png"), "drawn at step 2")
  -- a bad set is refused before anything runs
  ok, text = U.run_recipe("recipes/lab/mode_collapse.lua", "--sets=ring --out=" .. out)
  U.truthy(not ok and text:find("not a mixture with countable modes", 1, true), text)
end)

T.run()
