-- The pieces of Improved GAN: gan.nn.MinibatchDiscrimination,
-- gan.nn.VirtualBatchNorm, gan.nn.ReferenceBatch and gan.historical: shapes,
-- the values the paper defines, independence of samples, gradients against
-- finite differences, state in checkpoints.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn

gan.manual_seed(11)

T.case("MinibatchDiscrimination: shape, values from the definition", function()
  local m = nn.MinibatchDiscrimination(6, 4, 3)
  U.shape(m.weight, { 6, 12 })
  local x = gan.randn(5, 6)
  local y = m(x)
  U.shape(y, { 5, 10 })
  U.truthy(U.maxdiff(y:narrow(2, 1, 6), x) == 0, "the features pass through")
  -- o[i][b] = sum_{j ~= i} exp(-||M_i,b - M_j,b||_1), computed by hand
  local M = x:matmul(m.weight):reshape(5, 4, 3):totable()
  local o = y:narrow(2, 7, 4):totable()
  for i = 1, 5 do
    for b = 1, 4 do
      local s = 0
      for j = 1, 5 do
        if j ~= i then
          local l1 = 0
          for c = 1, 3 do l1 = l1 + math.abs(M[i][b][c] - M[j][b][c]) end
          s = s + math.exp(-l1)
        end
      end
      U.close(o[i][b], s, 1e-4, ("o[%d][%d]"):format(i, b))
    end
  end
end)

T.case("MinibatchDiscrimination sees a collapsed batch", function()
  local m = nn.MinibatchDiscrimination(4, 3, 2)
  local same = gan.randn(1, 4):expand(6, 4):contiguous()
  local o = m(same):narrow(2, 5, 3)
  U.truthy(U.maxdiff(o, gan.full({ 6, 3 }, 5)) < 1e-5, "identical samples: o = N - 1")
  U.truthy(U.maxdiff(m(gan.randn(1, 4)):narrow(2, 5, 3), gan.zeros(1, 3)) == 0, "one sample: o = 0")
  local spread = m(gan.randn(6, 4) * 100):narrow(2, 5, 3)
  U.truthy(spread:max():item() < 1, "far apart samples: o near 0")
  -- the order of the batch does not matter
  local x = gan.randn(4, 4)
  local perm = gan.tensor({ 2, 0, 3, 1 }, "int64")
  U.truthy(U.maxdiff(m(x):index_select(1, perm), m(x:index_select(1, perm))) < 1e-5, "permutation equivariant")
end)

T.case("MinibatchDiscrimination: gradients, errors, printing", function()
  U.gradcheck_module(nn.MinibatchDiscrimination(3, 2, 2, { std = 0.5 }), gan.randn(4, 3) * 0.5, { eps = 1e-3 })
  T.raises(function() nn.MinibatchDiscrimination(4, 0) end, "out_features must be a positive integer")
  T.raises(function() nn.MinibatchDiscrimination(4, 2)(gan.randn(3, 5)) end, "expected input (N, 4), got (3, 5)")
  T.eq(tostring(nn.MinibatchDiscrimination(4, 2, 3)), "MinibatchDiscrimination(in_features=4, out_features=2, kernel_dims=3)")
end)

T.case("VirtualBatchNorm: the reference rows are normalised by their own statistics", function()
  local m = nn.VirtualBatchNorm(3, { ref_size = 8 })
  local x = gan.randn(11, 3, 4, 4) * 3 + 2
  local y = m(x)
  U.shape(y, { 11, 3, 4, 4 })
  local ref = y:narrow(1, 1, 8)
  U.truthy(ref:mean({ 1, 3, 4 }):abs():max():item() < 1e-4, "mean 0 per channel")
  U.truthy((ref:var({ 1, 3, 4 }, 0) - 1):abs():max():item() < 1e-3, "variance 1 per channel")
  local flat = nn.VirtualBatchNorm(5, { ref_size = 4 })
  U.shape(flat(gan.randn(7, 5)), { 7, 5 })
end)

T.case("VirtualBatchNorm: a sample is normalised with the reference and itself only", function()
  local r = 6
  local m = nn.VirtualBatchNorm(2, { ref_size = r })
  local ref = gan.randn(r, 2, 3, 3) + 1
  local a, b = gan.randn(1, 2, 3, 3), gan.randn(1, 2, 3, 3) * 4
  local ya = m(gan.cat({ ref, a, b }, 1)):narrow(1, r + 1, 1)
  local ya2 = m(gan.cat({ ref, a, b * -3 + 1 }, 1)):narrow(1, r + 1, 1)
  local ya3 = m(gan.cat({ ref, a }, 1)):narrow(1, r + 1, 1)
  U.truthy(U.maxdiff(ya, ya2) < 1e-6 and U.maxdiff(ya, ya3) < 1e-6, "the other samples change nothing")
  -- by hand: per channel, mean and mean square over the reference and the sample, weighed 1/(R+1)
  local w = 1 / (r + 1)
  local mean = a:mean({ 3, 4 }, true) * w + ref:mean({ 1, 3, 4 }, true) * (1 - w)
  local sq = a:square():mean({ 3, 4 }, true) * w + ref:square():mean({ 1, 3, 4 }, true) * (1 - w)
  local want = (a - mean) / (sq - mean:square() + 1e-5):sqrt()
  U.truthy(U.maxdiff(ya, want) < 1e-4, "the paper's statistics")
  -- batch norm, by contrast, mixes the samples
  local bn = nn.BatchNorm2d(2)
  U.truthy(U.maxdiff(bn(gan.cat({ a, b }, 1))[1], bn(gan.cat({ a, b * -3 + 1 }, 1))[1]) > 1e-3, "BatchNorm depends on b")
end)

T.case("VirtualBatchNorm: gradients (affine and input), errors", function()
  local m = nn.VirtualBatchNorm(2, { ref_size = 3 })
  m.weight:copy_(gan.tensor({ 1.5, 0.5 }))
  m.bias:copy_(gan.tensor({ 0.1, -0.2 }))
  U.gradcheck_module(m, gan.randn(5, 2, 2, 2), { eps = 1e-3 })
  U.gradcheck_module(nn.VirtualBatchNorm(3, { ref_size = 4 }), gan.randn(6, 3), { eps = 1e-3 })
  T.raises(function() nn.VirtualBatchNorm(2)(gan.randn(4, 2)) end, "wrap the network in nn.ReferenceBatch")
  T.raises(function() nn.VirtualBatchNorm(2, { ref_size = 2 })(gan.randn(4, 3)) end, "expected 2 channels")
  T.raises(function() nn.VirtualBatchNorm(2, { ref_size = 2 })(gan.randn(4, 2, 3)) end, "expected input (N, C)")
  U.equal(#nn.VirtualBatchNorm(2, { affine = false }):parameters(), 0)
end)

T.case("ReferenceBatch: runs the network on [reference; x], keeps the reference as a buffer", function()
  local body = nn.Sequential { nn.Linear(3, 4), nn.VirtualBatchNorm(4), nn.ReLU(), nn.Linear(4, 2) }
  local ref = gan.randn(8, 3)
  local G = nn.ReferenceBatch(body, ref)
  ref:fill_(0)
  U.truthy(G.reference:abs():sum():item() > 0, "a copy of the reference")
  local z = gan.randn(5, 3)
  local y = G(z)
  U.shape(y, { 5, 2 })
  U.equal(body[2].ref_size, 8, "the VirtualBatchNorm knows the reference's size")
  -- one sample alone gives the same output as inside a batch
  U.truthy(U.maxdiff(G(z:narrow(1, 2, 1)), y:narrow(1, 2, 1)) < 1e-5, "samples independent")
  local sd = G:state_dict()
  U.truthy(sd.reference ~= nil and sd["net.1.weight"] ~= nil, "reference and weights in the state")
  -- through a checkpoint: another network with another reference becomes this one
  local dir = U.tmpdir("improved_layers")
  assert(gan.checkpoint.save(dir .. "/c.safetensors", { G = G }))
  local G2 = nn.ReferenceBatch(nn.Sequential { nn.Linear(3, 4), nn.VirtualBatchNorm(4), nn.ReLU(), nn.Linear(4, 2) },
    gan.randn(8, 3))
  U.truthy(U.maxdiff(G2(z), y) > 1e-3, "different before loading")
  assert(gan.checkpoint.load(dir .. "/c.safetensors", { G = G2 }))
  U.truthy(U.maxdiff(G2(z), y) < 1e-6, "the same after loading")
  -- gradients reach the weights through the reference's statistics too
  local gs = gan.grad(G(z):sum(), G:parameters())
  U.equal(#gs, 6)
  T.raises(function() nn.ReferenceBatch(body) end, "expected a reference batch")
end)

T.case("historical: the penalty is the distance from the running mean of past parameters", function()
  local m = nn.Linear(2, 1)
  local h = gan.historical(m)
  U.equal(h:penalty():item(), 0, "nothing to average yet")
  local w0, b0 = m.weight:clone(), m.bias:clone()
  h:update()
  U.equal(h:penalty():item(), 0, "at the average")
  m.weight:copy_(w0 + 1)
  m.bias:copy_(b0 + 1)
  U.close(h:penalty():item(), 3, 1e-5, "three values moved by 1")
  h:update()
  -- the average is now half way: each value 0.5 away
  U.close(h:penalty():item(), 3 * 0.25, 1e-5, "running mean of two steps")
  local g = gan.grad(h:penalty(), m.weight)
  U.truthy(U.maxdiff(g, gan.full({ 1, 2 }, 1)) < 1e-5, "gradient 2 (θ - avg)")
  -- state: a copy follows the same average
  local h2 = gan.historical(m)
  h2:load_state_dict(h:state_dict())
  U.equal(h2.count, 2)
  U.close(h2:penalty():item(), h:penalty():item(), 1e-6)
  local dir = U.tmpdir("historical")
  assert(gan.checkpoint.save(dir .. "/c.safetensors", { hist = h }))
  local h3 = gan.historical(m)
  assert(gan.checkpoint.load(dir .. "/c.safetensors", { hist = h3 }))
  U.equal(h3.count, 2, "count from the metadata")
  U.close(h3:penalty():item(), h:penalty():item(), 1e-6)
  T.raises(function() h3:load_state_dict({ count = 1 }) end, "no average of weight")
  T.raises(function() gan.historical(42) end, "expected a module")
end)

T.run()
