-- gan.penalties: the WGAN-GP gradient penalty and R1, checked on critics
-- whose input gradient is known, and differentiated once more; lazy
-- regularisation; StyleGAN2's path length regularisation against a loop.
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

T.case("lazy: nothing between the intervals, the regulariser times the interval on them (R1 every 16)", function()
  gan.manual_seed(4)
  local D = linear_critic({ 3, 4 })
  local real = gan.randn(5, 2)
  for step = 1, 15 do T.eq(P.lazy(step, 16, P.r1, D, real), nil, "step " .. step) end
  U.close(P.lazy(16, 16, P.r1, D, real):item(), 16 * 125, 1e-5, "16 x gamma / 2 |w|^2")
  U.close(P.lazy(32, 16, P.r1, D, real, { gamma = 1 }):item(), 16 * 12.5, 1e-5, "arguments pass through")
  U.close(P.lazy(3, 1, P.r1, D, real):item(), 125, 1e-5, "interval 1: every step, unscaled")
  local a, b = P.lazy(4, 2, function() return gan.scalar(1), "extra" end)
  U.close(a:item(), 2, 0); U.equal(b, "extra", "other results pass through")
  U.raises(function() P.lazy(1, 0, P.r1, D, real) end, "interval must be")
end)

-- a tiny StyleGAN2 synthesis: ws (N, 2, 3) -> a 4x4 image, through a styled conv and a ToRGB
local function tiny_synthesis()
  local const = gan.randn(1, 2, 4, 4)
  local conv = nn.StyledConv2d(2, 3, 3, 3, { noise = false, activation = "tanh" })
  local rgb = nn.ToRGB(3, 1, 3)
  local mods = nn.Sequential { conv, rgb }
  local function synth(ws)
    local x = conv(const:expand(ws:size(1), 2, 4, 4), ws:select(2, 1))
    return rgb(x, ws:select(2, 2))
  end
  return synth, mods
end

T.case("path length: |J^T y| for a linear G against a loop; pl_mean's decay; the penalty", function()
  -- G(ws)[n, 1, i, j] = sum_k,d ws[n, k, d] A[k, d, i, j]: J^T y = sum_ij y_ij A[., ., i, j]
  gan.manual_seed(5)
  local A = gan.randn(2, 3, 4, 4)
  local G = function(ws) return ws:reshape(-1, 6):matmul(A:reshape(6, 16)):reshape(-1, 1, 4, 4) end
  local ws = gan.randn(3, 2, 3):requires_grad(true)
  gan.manual_seed(9)
  local y = gan.random.stream("penalties.path_length"):randn(3, 1, 4, 4) / 4
  local av, yv = A:totable(), y:totable()
  local lengths, mean_len = {}, 0
  for n = 1, 3 do
    local sq = 0
    for k = 1, 2 do
      for d = 1, 3 do
        local g = 0
        for i = 1, 4 do for j = 1, 4 do g = g + yv[n][1][i][j] * av[k][d][i][j] end end
        sq = sq + g * g
      end
    end
    lengths[n] = math.sqrt(sq / 2)                  -- summed over w_dim, averaged over the 2 ws
    mean_len = mean_len + lengths[n] / 3
  end
  gan.manual_seed(9)
  local pl = P.PathLength()
  U.equal(pl:batch(8), 4, "batch shrink 2")
  local pen, got_len = pl:penalty(G(ws), ws)
  U.close(got_len, mean_len, 1e-5, "mean path length")
  local pm = 0.01 * mean_len
  U.close(pl.pl_mean:item(), pm, 1e-5, "pl_mean = 0 + 0.01 (mean - 0)")
  local want = 0
  for n = 1, 3 do want = want + (lengths[n] - pm) ^ 2 / 3 end
  U.close(pen:item(), 2 * want, 1e-4, "weight 2 * mean (length - pl_mean)^2")
  local _ = pl:penalty(G(ws), ws)
  U.truthy(math.abs(pl.pl_mean:item() - pm) > 0, "pl_mean moves again")
  local sd = pl:state_dict()
  local other = P.PathLength()
  other:load_state_dict(sd)
  U.close(other.pl_mean:item(), pl.pl_mean:item(), 0, "state")
end)

T.case("path length through a StyleGAN2 synthesis: its gradient for G's weights (double backward)", function()
  gan.manual_seed(6)
  local synth, mods = tiny_synthesis()
  local ws = gan.randn(2, 2, 3):requires_grad(true)
  local pl = P.PathLength()
  local function f()
    gan.manual_seed(11)                          -- the same y at every call
    pl.pl_mean:fill_(0.2)
    return (pl:penalty(synth(ws), ws))
  end
  local params = mods:parameters()
  -- the styled conv's affine and kernel, the ToRGB's affine, and ws itself
  U.gradcheck(f, { params[1], params[3], params[5], ws }, { points = 4, eps = 1e-2 })
end)

T.case("R1 through an equalized StyleGAN2-style discriminator (down 2, minibatch stddev)", function()
  gan.manual_seed(7)
  local D = nn.Sequential {
    nn.EqualizedConv2d(1, 2, 3, { activation = "tanh", down = 2 }), nn.MinibatchStdDev(2),
    nn.Flatten(), nn.EqualizedLinear(3 * 2 * 2, 1),
  }
  local real = gan.randn(4, 1, 4, 4)
  U.gradcheck(function() return P.r1(D, real) end, D:parameters(), { points = 4 })
end)

T.run()
