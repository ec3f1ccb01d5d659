-- Smoke runs of recipes/infogan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/infogan.lua", args) end

T.case("infogan.lua on Fashion-MNIST: information terms logged, traversal grids written", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_infogan")
  local ok, text = run("--iters=3 --limit=256 --batch=8 --nf=8 --sample_every=2 --save_every=2 --threads=1 "
    .. "--eval=false --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,G,I_cat,I_cont\n"), log)
  -- -log Q(c|x) of a 10-way code starts near ln 10
  local icat = tonumber(log:match("\n1,[^,]+,[^,]+,([^,]+),"))
  U.truthy(icat and icat > 1.5 and icat < 3.5, "I_cat at step 1: " .. tostring(icat))
  for _, name in ipairs({ "traversal_cat", "traversal_c1", "traversal_c2" }) do
    local g = gan.image.load(out .. "/" .. name .. ".png")
    U.truthy(g, name)
    U.shape(g, U.grid_shape(1, 10, 10, 32), name .. ": 10 rows of 10")
  end
end)

T.case("infogan.lua on a folder of RGB images, 4 categories and no continuous code; bad codes refused", function()
  local dir = U.image_folder("recipe_infogan_imgs", 8, 3, 20)
  local out = U.tmpdir("recipe_infogan_small")
  local ok, text = run("--data=" .. dir .. " --iters=2 --batch=4 --nf=8 --ncat=4 --ncont=0 --size=16 --sample_every=2 "
    .. "--threads=1 --eval=false --eval_every=2 --eval_samples=50 --out=" .. out)
  U.truthy(ok, text)
  -- the quick evaluation at step 2: purity and NMI of the categorical code against the classifier's labels
  local ev = U.read(out .. "/eval.csv")
  local header, row = ev:match("^([^\n]+)\n(2,[^\n]+)")
  U.truthy(header and header:find(",nmi,") and header:find(",purity"), ev)
  local values, names = {}, {}
  for k in header:gmatch("[^,]+") do names[#names + 1] = k end
  local i = 0
  for v in (row .. ","):gmatch("([^,]*),") do i = i + 1; values[names[i]] = tonumber(v) end
  U.truthy(values.purity >= 0.1 and values.purity <= 1, "purity " .. tostring(values.purity))
  U.truthy(values.nmi >= 0 and values.nmi <= 1, "nmi " .. tostring(values.nmi))
  local g = gan.image.load(out .. "/traversal_cat.png")
  U.shape(g, U.grid_shape(3, 4, 4, 16), "4 rows of 4, RGB")
  U.truthy(not U.exists(out .. "/traversal_c1.png"), "no continuous traversal")
  ok, text = run("--ncat=1 --iters=1 --out=" .. U.tmpdir("recipe_infogan_bad"))
  U.truthy(not ok and text:find("--ncat must be >= 2", 1, true), text)
end)

T.run()
