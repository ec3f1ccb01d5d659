-- gan.translate: the test split, translations, triplet grids and the
-- evaluation shared by the unpaired image-to-image recipes, with simple
-- functions standing in for trained translators.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function folder(name, with_test)
  local dir = U.tmpdir(name)
  local subs = with_test and { "trainA", "trainB", "testA", "testB" } or { "trainA", "trainB" }
  for _, sub in ipairs(subs) do
    os.execute(("mkdir -p '%s/%s'"):format(dir, sub))
    for i = 1, (sub:sub(-1) == "A" and 3 or 2) do
      assert(gan.io.save_png(("%s/%s/%s%d.png"):format(dir, sub, sub, i), gan.rand(1, 8, 8)))
    end
  end
  return dir
end
local opt = { size = 8, channels = 1, batch = 2, flip = false, eval_samples = 0, seed = 1 }
local function with(t)
  local o = {}
  for k, v in pairs(opt) do o[k] = v end
  for k, v in pairs(t) do o[k] = v end
  return o
end

T.case("test_split: the test folders in order, or the training data when there are none", function()
  local o = with({ data = folder("translate_split", true) })
  local train = gan.data.unpaired(o.data, o)
  local test, have = gan.translate.test_split(o, train)
  T.eq(have, true)
  T.eq(test.A.n, 3)
  T.eq(test.B.n, 2)
  T.eq(test.A:item_name(1), "testA1")
  o = with({ data = folder("translate_nosplit", false) })
  train = gan.data.unpaired(o.data, o)
  local same, have2, why = gan.translate.test_split(o, train)
  T.eq(have2, false)
  T.eq(same, train)
  U.truthy(tostring(why):find("no testA folder"), tostring(why))
end)

T.case("translate, triplets and evaluate with stand-in translators", function()
  local o = with({ data = folder("translate_eval", true) })
  local test = gan.translate.test_split(o, gan.data.unpaired(o.data, o))
  local function neg(x) return -x end
  local function id(x) return x end
  -- negating twice comes back: no cycle error; a constant loses everything
  local fake, rec = gan.translate.translate(test.A, neg, neg, 3)
  U.shape(fake, { 3, 1, 8, 8 }, "translations")
  T.close(U.maxdiff(fake, -test.A:items(1, 3)), 0, 1e-6)
  T.close(U.maxdiff(rec, test.A:items(1, 3)), 0, 1e-6)
  local r = gan.translate.evaluate(test, neg, neg, 0, o)
  T.close(r.cycle_l1, 0, 1e-6)
  T.eq(r.A_to_B, nil, "no classifier measure outside Fashion-MNIST")
  local zero = function(x) return x * 0 end
  r = gan.translate.evaluate(test, zero, id, 0, o)
  local a, b = test.A:items(1, 3), test.B:items(1, 2)
  T.close(r.cycle_l1_A, a:abs():mean():item(), 1e-5)
  T.close(r.cycle_l1_B, b:abs():mean():item(), 1e-5)
  T.close(r.cycle_l1, (3 * r.cycle_l1_A + 2 * r.cycle_l1_B) / 5, 1e-6)
  -- rows of (a, G_AB(a), back, b, G_BA(b), back); domains repeat when short of rows
  local g = gan.translate.triplets(test, neg, id, 18)
  U.shape(g, { 18, 1, 8, 8 }, "three rows of six")
  T.close(U.maxdiff(g[2], -a[1]), 0, 1e-6)
  T.close(U.maxdiff(g[3], -a[1]), 0, 1e-6)
  T.close(U.maxdiff(g[5], b[1]), 0, 1e-6)
  T.close(U.maxdiff(g[16], b[1]), 0, 1e-6)
  local hooks = gan.translate.new(test, neg, neg, o)
  U.shape(hooks.sample(7), { 7, 1, 8, 8 }, "hooks.sample")
  T.close(hooks.eval(1, 2).cycle_l1, 0, 1e-6)
end)

T.run()
