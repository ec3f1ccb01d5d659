-- gan.unroll: parameters swapped in and out, optimizer rules as recorded
-- functions equal to the fused updates, and gradients through K steps.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn, unroll = gan.nn, gan.unroll

T.case("with_params runs a module with other values and puts its own back", function()
  local lin = nn.Linear(2, 1)
  local w, b = lin.weight, lin.bias
  local x = gan.tensor({ { 1, 2 } })
  local y = unroll.with_params(lin, { gan.tensor({ { 3, 4 } }), gan.tensor({ 0.5 }) }, function() return lin(x) end)
  U.close(y:item(), 11.5, 1e-6, "3 + 8 + 0.5")
  T.eq(rawequal(lin.weight, w) and rawequal(lin.bias, b), true, "restored")
  T.raises(function() unroll.with_params(lin, { w, b }, function() error("boom") end) end, "boom")
  T.eq(rawequal(lin.weight, w), true, "restored after an error")
  T.raises(function() unroll.with_params(lin, { w }, function() end) end, "has 2 parameters, got 1")
end)

-- the recorded rule equals the optimizer's fused update, from its current state
local function same_as_fused(make, steps)
  gan.manual_seed(1)
  local lin = nn.Linear(3, 2)
  local opt = make(lin)
  local x = gan.randn(4, 3)
  local function loss() return (lin(x) - 1):square():mean() end
  for _ = 1, steps do opt:step(loss()) end
  local grads = gan.grad(loss(), lin:parameters())
  local new = unroll.step(opt, lin:parameters(), grads)
  opt:step(grads)
  for i, p in ipairs(lin:parameters()) do
    U.truthy(U.maxdiff(new[i], p) < 2e-6, ("%s: parameter %d"):format(opt.kind.__name, i))
  end
end

T.case("step equals the fused SGD, Adam, AdamW and RMSprop updates", function()
  same_as_fused(function(m) return gan.optim.SGD(m, { lr = 0.1 }) end, 0)
  same_as_fused(function(m) return gan.optim.SGD(m, { lr = 0.1, momentum = 0.9 }) end, 3)
  same_as_fused(function(m) return gan.optim.Adam(m, { lr = 0.01, betas = { 0.5, 0.999 } }) end, 0)
  same_as_fused(function(m) return gan.optim.Adam(m, { lr = 0.01, betas = { 0.5, 0.999 } }) end, 4)
  same_as_fused(function(m) return gan.optim.AdamW(m, { lr = 0.01 }) end, 2)
  same_as_fused(function(m) return gan.optim.RMSprop(m, { lr = 0.01 }) end, 2)
end)

-- one parameter w pulled towards theta by SGD on (w - theta)^2 / 2:
-- w_K = theta + (1 - lr)^K (w_0 - theta), so dw_K/dtheta = 1 - (1 - lr)^K
T.case("second order: the gradient through K SGD steps is exact", function()
  local m = nn.Linear(1, 1, false)
  m.weight:fill_(2)
  local opt = gan.optim.SGD(m, { lr = 0.25 })
  local theta = gan.tensor({ 0.5 }):requires_grad(true)
  local ps = unroll.steps(m, opt, 3, function() return (m.weight:reshape(1) - theta):square():sum() * 0.5 end)
  U.close(ps[1]:item(), 0.5 + 0.75 ^ 3 * 1.5, 1e-6, "w after 3 steps")
  U.close(gan.grad(ps[1]:sum(), theta):item(), 1 - 0.75 ^ 3, 1e-6, "dw/dtheta")
  U.close(m.weight:item(), 2, 0, "the module is unchanged")
  T.eq(next(opt.state), nil, "the optimizer is unchanged")
  -- first order: the steps are taken on detached values
  local fo = unroll.steps(m, opt, 3, function() return (m.weight:reshape(1) - theta):square():sum() * 0.5 end,
    { create_graph = false })
  U.close(fo[1]:item(), ps[1]:item(), 1e-6, "same values")
  T.eq(gan.grad(fo[1]:sum(), theta, { allow_unused = true }), nil, "no gradient to theta")
end)

T.case("second order through Adam steps against finite differences", function()
  gan.manual_seed(3)
  local D = nn.Sequential { nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1) }
  local opt = gan.optim.Adam(D, { lr = 0.05, betas = { 0.5, 0.999 } })
  local real = gan.randn(6, 2)
  opt:step(D(real):mean())                      -- a state to start from
  local g = gan.randn(6, 2) * 0.5               -- "G's" samples
  g:requires_grad(true)
  local function f()
    local ps = unroll.steps(D, opt, 3, function()
      return gan.F.logistic_d(D(real), D(g))
    end)
    return unroll.with_params(D, ps, function() return gan.F.logistic_g(D(g)) end)
  end
  U.gradcheck(f, { g }, { eps = 1e-2, atol = 2e-3, rtol = 5e-2, points = 6 })
end)

T.case("buffers come back after unrolling", function()
  local D = nn.Sequential { nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1) }
  local opt = gan.optim.SGD(D, { lr = 0.1 })
  local before = D[2].running_mean:clone()
  unroll.steps(D, opt, 2, function() return D(gan.randn(8, 2) + 3):mean() end)
  T.eq(U.maxdiff(D[2].running_mean, before), 0, "running mean restored")
end)

T.run()
