-- Smoke run of recipes/lab/divergences.lua: a few θ values and a few
-- discriminator steps, then its tables and plots are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function csv(path)
  local rows = {}
  for line in U.read(path):gmatch("[^\n]+") do
    local r = {}
    for v in line:gmatch("[^,]+") do r[#r + 1] = tonumber(v) or v end
    rows[#rows + 1] = r
  end
  return rows
end

T.case("lab/divergences.lua: JSD saturates at log 2, W1 = |theta|, the saturating gradient shrinks", function()
  local out = U.tmpdir("lab_divergences")
  local ok, text = U.run_recipe("recipes/lab/divergences.lua", "--threads=1 --points=5 --theta_max=1 --d_steps=5 "
    .. "--samples=64 --hidden=8 --train_steps=40 --measure_every=10 --lr=0.01 --out=" .. out)
  U.truthy(ok, text)
  U.truthy(text:find("dW1/dtheta = 1.0000", 1, true), text)
  local d = csv(out .. "/distances.csv")
  T.eq(d[1], { "theta", "jsd", "jsd_by_d", "w1", "w1_by_samples" })
  U.equal(#d, 6, "five values of theta")
  for i = 2, 6 do
    local theta, jsd, w1 = d[i][1], d[i][2], d[i][4]
    U.close(w1, math.abs(theta), 1e-3, "W1 = |theta|")
    if math.abs(theta) >= 0.5 then U.close(jsd, math.log(2), 1e-5, "JSD = log 2 when far apart") end
    U.truthy(d[i][3] <= math.log(2) + 0.01, "the discriminator's estimate stays under log 2")
  end
  U.close(d[4][2], 0, 1e-9, "JSD = 0 at theta = 0")
  local g = csv(out .. "/gradients.csv")
  T.eq(g[1], { "d_step", "d_loss", "grad_saturating", "grad_nonsaturating" })
  U.equal(#g, 6, "measured at steps 0, 10, 20, 30, 40")
  U.truthy(g[6][2] < g[2][2], "D's loss falls")
  U.truthy(g[6][3] < g[6][4], "the saturating gradient is the smaller once D has learned")
  local img = gan.image.load(out .. "/distances.png")
  U.shape(img, { 3, 400, 640 })
  U.truthy(gan.image.load(out .. "/gradients.png"):size(3) > 640, "two panels side by side")
  ok, text = U.run_recipe("recipes/lab/divergences.lua", "--sigma=0 --out=" .. out)
  U.truthy(not ok and text:find("--sigma must be > 0", 1, true), text)
end)

T.run()
