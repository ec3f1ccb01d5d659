-- gan.dist in a world of one (no mpirun): every call returns at once and
-- changes nothing; bad arguments are errors that name them; SyncBN's
-- composite batch norm (what N ranks run) equals the fused one when the
-- all-reduce is the identity. The runs under mpirun are tests/dist/.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local dist = gan.dist
local nn = gan.nn

T.case("a world of one", function()
  U.equal(dist.rank, 0, "rank")
  U.equal(dist.size, 1, "size")
  U.truthy(dist.is_writer(), "rank 0 writes")
  local a, b = gan.tensor { 1, 2, 3 }, gan.tensor { { 4 } }
  dist.all_reduce({ a, b }, "mean")
  dist.broadcast({ a, b })
  dist.barrier()
  U.tclose(a, { 1, 2, 3 }, 0, "all_reduce changes nothing")
  U.tclose(b, { { 4 } }, 0, "broadcast changes nothing")
  U.tclose(gan.tensor({ 1.5, -2 }):all_reduce(), { 1.5, -2 }, 0, "gan.all_reduce is a copy")
  local v = { D = 1.25, G = -3 }
  U.truthy(dist.mean_values(v) == v, "the logged values as they are")
  U.equal(dist.shards(), 1, "no shards outside a step")
  U.equal(dist.sharded(8, function(x) return dist.shards() + x end, 1), 2, "sharded calls fn directly")
  local r = gan.rand
  dist.sharded(8, function() U.truthy(gan.rand == r, "draws are not wrapped") end)
end)

T.case("bad arguments name themselves", function()
  U.raises(function() gan.core.dist_all_reduce({ gan.tensor { 1 }, "x" }, "sum") end, "entry 2 of the list is a string")
  U.raises(function() gan.core.dist_all_reduce({ gan.tensor({ { 1, 2 }, { 3, 4 } }):t() }, "sum") end, "contiguous float")
  U.raises(function() gan.core.dist_all_reduce({ gan.tensor { 1 } }, "median") end, "invalid option 'median'")
  U.raises(function() gan.core.dist_broadcast({ gan.tensor { 1 } }, 3) end, "root 3 is not a rank of a world of 1")
  U.raises(function() dist.all_reduce(3) end, "expected a list of tensors")
  U.raises(function() dist.setup({ sync_bn = "yes" }) end, "--sync_bn must be on, off or auto, got 'yes'")
  dist.setup({ sync_bn = "on" }, 4)
  U.equal(dist.sync_bn, false, "never SyncBN in a world of one")
end)

T.case("slices and ordered modules", function()
  U.equal(table.concat(dist.slice({ 5, 6, 7 }), ","), "5,6,7", "a world of one's slice is the whole list")
  local A, B = nn.Linear(2, 2), nn.Linear(2, 3)
  dist.check_equal({ A, B }, { "b", "a" })
  dist.broadcast_modules({ A, B }, { "b", "a" })
end)

-- the path N ranks take, with the all-reduce an identity: the same as the fused kernel
T.case("SyncBN's composite batch norm equals the fused one", function()
  for _, shape in ipairs { { 6, 3, 4, 5 }, { 7, 4 } } do
    local bn1 = shape[3] and nn.BatchNorm2d(shape[2]) or nn.BatchNorm1d(shape[2])
    local bn2 = bn1:clone()
    gan.no_grad(function()
      bn1.weight:copy_(gan.rand(shape[2]) + 0.5)
      bn1.bias:copy_(gan.randn(shape[2]))
      bn2.weight:copy_(bn1.weight)
      bn2.bias:copy_(bn1.bias)
    end)
    local x = (gan.randn(shape) * 2 + 1):requires_grad(true)
    local r = gan.randn(shape)
    local y1 = bn1(x)
    local g1 = gan.grad((y1 * r):sum(), { x, bn1.weight, bn1.bias })
    dist.syncing = true
    local ok, y2 = pcall(bn2, x)
    local g2 = ok and gan.grad((y2 * r):sum(), { x, bn2.weight, bn2.bias })
    dist.syncing = false
    U.truthy(ok, tostring(y2))
    U.truthy(U.maxdiff(y1, y2) < 1e-5, "output")
    for i = 1, 3 do U.truthy(U.maxdiff(g1[i], g2[i]) < 1e-4, "gradient " .. i) end
    U.truthy(U.maxdiff(bn1.running_mean, bn2.running_mean) < 1e-6, "running mean")
    U.truthy(U.maxdiff(bn1.running_var, bn2.running_var) < 1e-5, "running variance")
    U.truthy(U.maxdiff(bn1.running_var, gan.ones(shape[2])) > 1e-3, "the running variance moved")
  end
end)

T.run()
