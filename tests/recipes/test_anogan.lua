-- Smoke runs of recipes/anogan.lua: a few iterations on one class, a short
-- search on a few test images, then the AUROC line and residual maps are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/anogan.lua", args) end

T.case("anogan.lua on Fashion-MNIST: AUROC of the search's scores, residual maps", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_anogan")
  local ok, text = run("--iters=3 --limit=128 --batch=8 --nf=8 --sample_every=2 --save_every=2 --threads=1 "
    .. "--eval_every=2 --test_n=100 --search=2 --eval=false --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(text:find("normal class: 1 %(Trouser%); 128 training images, 100 test images"), text)
  local auroc = tonumber(text:match("AUROC ([%d.]+): normal class 1 %(Trouser%)"))
  U.truthy(auroc and auroc >= 0 and auroc <= 1, text)
  -- the hook ran at step 2 (eval.csv) and at the end
  local ev = U.read(out .. "/eval.csv")
  U.truthy(ev:find("^step,auroc,score_anomaly,score_normal\n2,"), ev)
  U.truthy(not U.exists(out .. "/metrics.json") or not U.read(out .. "/metrics.json"):find('"fd"'), "no FD of one class")
  for _, s in ipairs({ 2, 3 }) do
    local g = gan.image.load(("%s/residuals_step%06d.png"):format(out, s))
    -- rows: 8 normal images, their G(z*), residuals, then the same for 8 anomalies
    U.shape(g, U.grid_shape(1, 6, 8, 32), "residual maps at step " .. s)
  end
end)

T.case("anogan.lua refuses bad options", function()
  local ok, text = run("--normal=10 --out=" .. U.tmpdir("recipe_anogan_bad"))
  U.truthy(not ok and text:find("--normal must be a class id in 0..9", 1, true), text)
  ok, text = run("--lambda=2 --out=" .. U.tmpdir("recipe_anogan_bad"))
  U.truthy(not ok and text:find("--lambda must be in [0, 1]", 1, true), text)
end)

T.run()
