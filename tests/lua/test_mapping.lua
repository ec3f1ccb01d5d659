-- nn.MappingNetwork: the layers against their formulas, w_avg's moving
-- average, truncation, style mixing from its named stream, and first and
-- second derivatives.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn

T.case("z -> PixelNorm -> EqualizedLinear layers (lr multiplier 0.01, lrelu * sqrt(2))", function()
  gan.manual_seed(1)
  local m = nn.MappingNetwork(6, 5, { layers = 2, hidden = 7 })
  U.equal(m.num_layers, 2)
  U.shape(m.fc1.weight, { 7, 6 }); U.shape(m.fc2.weight, { 5, 7 })
  U.close(m.fc1.lr_multiplier, 0.01, 0); U.equal(m.fc2.activation, "lrelu")
  local z = gan.randn(4, 6) * 3
  local x = z / (z:square():mean(2, true) + 1e-8):sqrt()
  for _, fc in ipairs({ m.fc1, m.fc2 }) do
    local w = fc.weight * (0.01 / math.sqrt(fc.in_features))
    x = (x:matmul(w:t()) + fc.bias * 0.01):leaky_relu(0.2) * math.sqrt(2)
  end
  U.truthy(U.maxdiff(m(z, { update_w_avg = false }), x) < 1e-5, "the chain")
  U.equal(#nn.MappingNetwork(4, 4):children(), 9, "StyleGAN's 8 layers and the PixelNorm")
  U.shape(nn.MappingNetwork(6, 5, { layers = 2, num_ws = 3 })(z), { 4, 3, 5 }, "num_ws copies")
  U.raises(function() m(gan.randn(4, 5)) end, "expected z of shape (N, 6)")
end)

T.case("w_avg: beta 0.995 moving average of the batch mean, in training mode only", function()
  gan.manual_seed(2)
  local m = nn.MappingNetwork(4, 3, { layers = 2 })
  U.tclose(m.w_avg, { 0, 0, 0 }, 0, "starts at 0")
  local z = gan.randn(5, 4)
  local w = m(z)
  local want = (w:mean(1) * 0.005):totable()
  U.tclose(m.w_avg, want, 1e-6, "0.995 * 0 + 0.005 mean(w)")
  local w2 = m(z)
  U.tclose(m.w_avg, (gan.tensor(want) * 0.995 + w2:mean(1) * 0.005):totable(), 1e-6, "second step")
  local before = m.w_avg:clone()
  m(z, { update_w_avg = false })
  m:eval(); m(z)
  U.equal(U.maxdiff(m.w_avg, before), 0, "not updated in evaluation mode or when asked")
  U.equal(nn.MappingNetwork(4, 3, { w_avg_beta = false }).w_avg, nil, "no buffer without tracking")
  U.truthy(m:state_dict().w_avg, "w_avg is a buffer (saved with the module)")
end)

T.case("truncation: w_avg + psi (w - w_avg) on the first cutoff ws", function()
  gan.manual_seed(3)
  local m = nn.MappingNetwork(4, 3, { layers = 2, num_ws = 5 })
  m.w_avg:copy_(gan.tensor({ 1, -2, 0.5 }))
  m:eval()
  local z = gan.randn(2, 4)
  local ws = m(z)
  local t = m(z, { psi = 0.7, cutoff = 2 })
  local avg = m.w_avg:reshape(1, 1, 3)
  U.truthy(U.maxdiff(t:narrow(2, 1, 2), avg + (ws:narrow(2, 1, 2) - avg) * 0.7) < 1e-6, "first two truncated")
  U.truthy(U.maxdiff(t:narrow(2, 3, 3), ws:narrow(2, 3, 3)) < 1e-6, "the rest untouched")
  U.truthy(U.maxdiff(m(z, { psi = 0 }), avg:expand(2, 5, 3)) < 1e-6, "psi 0: every w is w_avg")
  local flat = nn.MappingNetwork(4, 3, { layers = 2 }):eval()
  flat.w_avg:fill_(1)
  U.truthy(U.maxdiff(flat(z, { psi = 0.5 }), (flat(z) + 1) * 0.5) < 1e-6, "(N, w_dim)")
end)

T.case("style mixing: probability 0.9, cutoff uniform in [1, num_ws - 1], from the stream style.mixing", function()
  gan.manual_seed(4)
  local m = nn.MappingNetwork(4, 3, { layers = 2, num_ws = 4 })
  local z = gan.randn(3, 4)
  local ws = m(z, { update_w_avg = false })
  -- the mixed part is the mapping of the stream's second z
  gan.manual_seed(4)
  local mixed, cutoff
  repeat mixed, cutoff = m:mix(ws, z) until cutoff < 4
  U.equal(U.maxdiff(mixed:narrow(2, 1, cutoff), ws:narrow(2, 1, cutoff)), 0, "before the cutoff: ws")
  U.truthy(U.maxdiff(mixed:narrow(2, cutoff + 1, 4 - cutoff), ws:narrow(2, cutoff + 1, 4 - cutoff)) > 1e-3,
    "after it: another z's")
  -- every cutoff occurs; no mixing about one time in ten
  local counts, n = { 0, 0, 0, 0 }, 600
  local avg = m.w_avg:clone()
  for _ = 1, n do
    local _, c = m:mix(ws, z)
    counts[c] = counts[c] + 1
  end
  U.equal(U.maxdiff(m.w_avg, avg), 0, "the second mapping leaves w_avg alone")
  U.close(counts[4] / n, 0.1, 0.04, "no mixing one time in ten")
  for c = 1, 3 do U.close(counts[c] / n, 0.3, 0.06, "cutoff " .. c) end
  U.equal(select(2, m:mix(ws, z, { prob = 0 })), 4, "prob 0: never")
  -- the draws are the stream's: the default stream does not move
  gan.manual_seed(5)
  local a = gan.randn(3)
  gan.manual_seed(5)
  m:mix(ws, z)
  U.equal(U.maxdiff(gan.randn(3), a), 0, "the recipe's draws are unchanged")
  U.truthy(gan.random.stream("style.mixing"):offset() > 0, "style.mixing advanced")
end)

T.case("first and second derivatives through the mapping and the truncation", function()
  gan.manual_seed(6)
  -- lr multiplier 1: with 0.01 the stored weights' gradients fall below the checks' tolerance
  local m = nn.MappingNetwork(3, 2, { layers = 2, num_ws = 2, activation = "tanh", lr_multiplier = 1 })
  m:eval()
  m.w_avg:fill_(0.3)
  local z = gan.randn(2, 3):requires_grad(true)
  local r = gan.randn(2, 2, 2)
  local f = function() return m(z, { psi = 0.6, cutoff = 1 }) end
  U.gradcheck(function() return (f() * r):sum() end, { z, m.fc1.weight, m.fc2.bias }, { points = 4 })
  U.gradcheck(function()
    local g = gan.grad((f() * r):sum(), z, { create_graph = true })
    return g:square():sum()
  end, { m.fc1.weight, m.fc2.weight, z }, { points = 4, name = "second order" })
end)

T.run()
