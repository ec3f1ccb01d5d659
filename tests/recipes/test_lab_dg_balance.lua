-- Smoke runs of recipes/lab/dg_balance.lua: both settings for a few G
-- steps on tiny data, then its table, plot and sample grids are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/lab/dg_balance.lua", "--threads=1 " .. args) end

T.case("lab/dg_balance.lua on Fashion-MNIST: a table of both settings, a plot, two sample grids", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("lab_dg_balance")
  local ok, text = run("--iters=4 --k=2 --limit=256 --batch=8 --hidden=16 --nz=8 --smooth=2 --out=" .. out)
  U.truthy(ok, text)
  U.truthy(text:find("fast D: k = 2, D lr x10", 1, true), text)
  local lines = {}
  for line in U.read(out .. "/balance.csv"):gmatch("[^\n]+") do lines[#lines + 1] = line end
  U.equal(#lines, 5, "a header and four G steps")
  U.truthy(lines[1]:find("^g_step,balanced_d_loss,balanced_g_grad,balanced_d_real,balanced_d_fake,fast_d_d_loss"), lines[1])
  local cells = {}
  for v in lines[5]:gmatch("[^,]+") do cells[#cells + 1] = tonumber(v) end
  U.equal(#cells, 9)
  for i = 2, 9 do U.truthy(cells[i] == cells[i] and cells[i] >= 0, "finite, non-negative values") end
  U.shape(gan.image.load(out .. "/balance.png"), { 3, 400, 960 })
  U.shape(gan.image.load(out .. "/samples_fast_d.png"), U.grid_shape(1, 8, 8, 28), "an 8x8 grid of 28x28 images")
  U.truthy(U.exists(out .. "/samples_balanced.png"), "the balanced setting's samples")
end)

T.case("lab/dg_balance.lua on 8 Gaussians with the non-saturating loss; errors", function()
  local out = U.tmpdir("lab_dg_balance_toy")
  local ok, text = run("--data=8gaussians --nonsat --iters=3 --limit=256 --batch=8 --hidden=16 --nz=4 --out=" .. out)
  U.truthy(ok and text:find("-log D(G(z))", 1, true), text)
  U.truthy(U.exists(out .. "/samples_balanced.png") and U.exists(out .. "/balance.png"), text)
  ok, text = run("--k=0 --out=" .. out)
  U.truthy(not ok and text:find("--k must be >= 1", 1, true), text)
end)

T.run()
