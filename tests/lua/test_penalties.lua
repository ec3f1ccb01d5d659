-- gan.penalties: the WGAN-GP gradient penalty and R1, checked on critics
-- whose input gradient is known, and differentiated once more.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn, P = gan.nn, gan.penalties

-- a linear critic D(x) = w . x + b: its input gradient is w for every sample
local function linear_critic(w)
  local D = nn.Linear(#w, 1)
  D.weight:copy_(gan.tensor({ w }))
  return D
end

T.case("gradient penalty of a linear critic is lambda (|w| - 1)^2", function()
  gan.manual_seed(1)
  local D = linear_critic({ 3, 4 })             -- |w| = 5
  local real, fake = gan.randn(16, 2), gan.randn(16, 2)
  local gp, norm = P.gradient_penalty(D, real, fake)
  U.close(gp:item(), 10 * 16, 1e-5, "lambda 10, (5 - 1)^2")
  U.close(norm, 5, 1e-5, "mean gradient norm")
  gp = P.gradient_penalty(D, real, fake, { lambda = 2, center = 0 })
  U.close(gp:item(), 2 * 25, 1e-5, "zero-centred")
  local small = linear_critic({ 0.3, 0.4 })
  U.close(P.gradient_penalty(small, real, fake, { one_sided = true }):item(), 0, 1e-7, "one-sided: norm < 1 is free")
end)

T.case("the penalty's gradient for the critic's weights", function()
  local D = linear_critic({ 3, 4 })
  local gp = P.gradient_penalty(D, gan.randn(8, 2), gan.randn(8, 2))
  local g = gan.grad(gp, D.weight)
  -- d/dw lambda (|w| - 1)^2 = 2 lambda (|w| - 1) w / |w| = 80 * (0.6, 0.8)
  U.tclose(g, { { 48, 64 } }, 1e-4, "analytic gradient")
end)

T.case("a conv critic: the penalty against finite differences (double backward)", function()
  gan.manual_seed(2)
  -- Tanh, not LeakyReLU: with a kink the penalty jumps where a unit changes
  -- side, and finite differences across a jump mean nothing
  local D = nn.Sequential {
    nn.Conv2d(1, 3, 4, 2, 1), nn.LayerNorm({ 3, 4, 4 }), nn.Tanh(), nn.Flatten(), nn.Linear(48, 1),
  }
  local real, fake = gan.randn(3, 1, 8, 8), gan.randn(3, 1, 8, 8)
  local function f()
    gan.manual_seed(7)                         -- the same interpolates at every call
    return (P.gradient_penalty(D, real, fake))
  end
  U.gradcheck(f, D:parameters(), { eps = 1e-2, atol = 5e-3, rtol = 5e-2, points = 4 })
  -- inputs are detached: the penalty does not reach a generator through fake
  local g = gan.randn(3, 1, 8, 8):requires_grad(true)
  local gp = P.gradient_penalty(D, real, g * 1)
  T.eq(gan.grad(gp, g, { allow_unused = true }), nil, "no gradient for the samples")
end)

T.case("interpolates lie between real and fake, one mixing weight per sample", function()
  gan.manual_seed(3)
  local seen
  local D = function(x) seen = x; return x:flatten(2):sum(2) end
  local real, fake = gan.zeros(4, 1, 2, 2), gan.ones(4, 1, 2, 2)
  P.gradient_penalty(D, real, fake)
  local v = seen:detach():totable()
  for i = 1, 4 do
    local a = v[i][1][1][1]
    U.truthy(a >= 0 and a <= 1, "in [0, 1]")
    for _, row in ipairs(v[i][1]) do for _, x in ipairs(row) do U.close(x, a, 1e-7, "one weight per sample") end end
  end
end)

T.case("R1 of a linear discriminator is gamma / 2 |w|^2", function()
  local D = linear_critic({ 3, 4 })
  U.close(P.r1(D, gan.randn(5, 2)):item(), 5 * 25, 1e-5, "gamma 10")
  U.close(P.r1(D, gan.randn(5, 2), { gamma = 1 }):item(), 12.5, 1e-5, "gamma 1")
end)

T.case("errors", function()
  local D = linear_critic({ 1, 1 })
  T.raises(function() P.gradient_penalty(D, gan.randn(4, 2), gan.randn(3, 2)) end, "must have the same shape")
end)

T.run()
