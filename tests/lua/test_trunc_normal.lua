-- gan.trunc_normal: the bounds, the moments, reproducibility and the stream's
-- advance (two words per element), argument errors.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

T.case("values lie in [mean + a std, mean + b std] with the truncated normal's moments", function()
  gan.manual_seed(8)
  local z = gan.trunc_normal({ 200, 500 }, -0.5, 0.5)
  U.shape(z, { 200, 500 })
  U.equal(z:dtype(), "float32")
  U.truthy(z:min():item() >= -0.5 and z:max():item() <= 0.5, "inside [-0.5, 0.5]")
  -- N(0, 1) on [-0.5, 0.5]: mean 0, variance 1 - 2 * 0.5 * pdf(0.5) / mass = 0.0806
  local n = z:numel()
  U.close(z:mean():item(), 0, 5 * math.sqrt(0.0806 / n), "mean")
  U.close(((z * z):mean()):item(), 0.0806, 0.001, "variance")
  local y = gan.trunc_normal(1000, 1, 2, 10, 3) -- [13, 16]
  U.truthy(y:min():item() >= 13 and y:max():item() <= 16, "scaled and shifted")
  U.truthy(y:max():item() - y:min():item() > 2.5, "spread over the interval")
  -- a deep tail: N(0, 1) on [6, 7] is near 6 (mean 6.158)
  local t = gan.trunc_normal(4000, 6, 7)
  U.truthy(t:min():item() >= 6 and t:max():item() <= 7)
  U.close(t:mean():item(), 6.158, 0.01, "tail mean")
end)

T.case("the same seed gives the same draw; each element moves the stream by two words", function()
  gan.manual_seed(21)
  local a = gan.trunc_normal(7, -1, 1)
  U.equal(gan.rng_state().offset, 4, "ceil(7 * 2 / 4) counters")
  gan.manual_seed(21)
  U.equal(U.maxdiff(a, gan.trunc_normal(7, -1, 1)), 0)
  gan.manual_seed(21)
  U.truthy(U.maxdiff(a, gan.trunc_normal(7, -1, 1.5)) > 0, "other bounds, other values")
end)

T.case("errors: the bounds, std, the arguments", function()
  T.raises(function() return gan.trunc_normal(3, 1, 1) end, "needs finite bounds a < b")
  T.raises(function() return gan.trunc_normal(3, 2, -2) end, "got %[2, %-2%]")
  T.raises(function() return gan.trunc_normal(3, -1, 1, 0, -1) end, "std >= 0")
  T.raises(function() return gan.trunc_normal(3, -1, 1 / 0) end, "finite bounds")
  T.raises(function() return gan.trunc_normal(3, 40, 41) end, "too little")
  T.raises(function() return gan.trunc_normal(3, "a", 1) end, "bad argument #2")
  T.raises(function() return gan.trunc_normal("x", -1, 1) end, "bad argument #1")
end)

T.run()
