-- gan.divergences: each f, its conjugate and output activation against the
-- definitions (Fenchel equality at u = 1, the conjugate as a supremum, the
-- activation's range inside the conjugate's domain), the stable
-- compositions, the losses, and numeric divergences of known value.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local div = gan.divergences

local LOG2 = math.log(2)

T.case("every divergence is listed with its pieces", function()
  U.equal(#div.names, 6)
  for _, name in ipairs(div.names) do
    local d = div.get(name)
    for _, k in ipairs({ "f", "fprime", "act", "conj", "conj_act" }) do
      U.truthy(type(d[k]) == "function", name .. "." .. k)
    end
    U.equal(d.name, name)
  end
  T.raises(function() div.get("wasserstein") end, "unknown divergence 'wasserstein'")
  T.raises(function() div.d_loss("chi", gan.zeros(2), gan.zeros(2)) end, "kl, reverse_kl")
  T.raises(function() div.g_loss("js", gan.zeros(2), "minimax") end, "alt")
end)

T.case("f(1) = 0 (gan: -log 4) and f'(1) as in the paper", function()
  local want = { kl = 1, reverse_kl = -1, pearson = 0, hellinger = 0, js = 0, gan = -LOG2 }
  for _, name in ipairs(div.names) do
    local d = div.get(name)
    U.close(d.f(1), name == "gan" and -2 * LOG2 or 0, 1e-12, name .. ": f(1)")
    U.close(d.fprime1, want[name], 1e-12, name .. ": f'(1)")
  end
end)

T.case("Fenchel equality at u = 1: f*(f'(1)) = f'(1) - f(1)", function()
  for _, name in ipairs(div.names) do
    local d = div.get(name)
    U.close(d.conj(d.fprime1), d.fprime1 - d.f(1), 1e-12, name)
  end
  -- the values themselves: 1, -1, 0, 0, 0, log 2
  U.close(div.list.kl.conj(1), 1, 1e-12)
  U.close(div.list.gan.conj(-LOG2), LOG2, 1e-12)
end)

T.case("the conjugate is sup_u (u t - f(u)), found on a grid of u", function()
  local ts = {
    kl = { -1, 0, 1, 2 }, reverse_kl = { -3, -1, -0.3 }, pearson = { -1, 0, 1, 2 },
    hellinger = { -1, 0, 0.5 }, js = { -1, 0, 0.5 }, gan = { -2, -LOG2, -0.3 },
  }
  for _, name in ipairs(div.names) do
    local d = div.get(name)
    for _, t in ipairs(ts[name]) do
      local best = -math.huge
      for i = 1, 40000 do
        local u = i * 5e-4
        best = math.max(best, u * t - d.f(u))
      end
      U.close(best, d.conj(t), 1e-5, ("%s: f*(%g)"):format(name, t))
    end
  end
end)

T.case("f' is the derivative of f", function()
  for _, name in ipairs(div.names) do
    local d = div.get(name)
    for _, u in ipairs({ 0.3, 1, 2.5 }) do
      local h = 1e-6
      U.close(d.fprime(u), (d.f(u + h) - d.f(u - h)) / (2 * h), 1e-6, ("%s: f'(%g)"):format(name, u))
    end
  end
end)

T.case("the output activation maps every v into the domain of f*", function()
  local v = gan.linspace(-12, 12, 97)
  for _, name in ipairs(div.names) do
    local d = div.get(name)
    local lo, hi = d.domain[1], d.domain[2]
    local t = d.act(v)
    U.truthy(t:max():item() < hi, ("%s: g_f(v) < %g"):format(name, hi))
    U.truthy(t:min():item() > lo, ("%s: g_f(v) > %g"):format(name, lo))
    -- and f* is finite there
    local c = d.conj(t)
    U.truthy(c:abs():max():item() < math.huge, name .. ": f*(g_f(v)) finite")
    -- numbers too
    U.truthy(d.act(40) <= hi and d.act(-40) > lo, name .. ": numbers")
  end
  -- the domains themselves
  U.equal(div.list.js.domain[2], LOG2)
  U.equal(div.list.hellinger.domain[2], 1)
  U.equal(div.list.reverse_kl.domain[2], 0)
end)

T.case("conj_act(v) = f*(g_f(v)), and stays finite where the composition overflows", function()
  local v = gan.linspace(-3, 3, 25)
  for _, name in ipairs(div.names) do
    local d = div.get(name)
    U.truthy(U.maxdiff(d.conj_act(v), d.conj(d.act(v))) < 1e-4, name)
    for _, x in ipairs({ -2.5, 0, 1.7 }) do U.close(d.conj_act(x), d.conj(d.act(x)), 1e-9, name .. " (numbers)") end
  end
  -- for js and gan, f*(g_f(40)) is -log(0) in floats; conj_act is 40 - log 2 and 40
  U.close(div.list.js.conj_act(gan.scalar(40)):item(), 40 - LOG2, 1e-6)
  U.close(div.list.gan.conj_act(gan.scalar(40)):item(), 40, 1e-6)
end)

T.case("bound, d_loss and g_loss; the gan divergence gives the logistic GAN losses", function()
  gan.manual_seed(3)
  local r, f = gan.randn(16, 1), gan.randn(16, 1)
  for _, name in ipairs(div.names) do
    local b = div.bound(name, r, f):item()
    U.close(div.d_loss(name, r, f):item(), -b, 1e-6, name .. ": d_loss = -bound")
  end
  U.close(div.d_loss("gan", r, f):item(), gan.F.logistic_d(r, f):item(), 1e-5)
  U.close(div.g_loss("gan", f):item(), gan.F.logistic_g(f):item(), 1e-5)
  U.close(div.g_loss("gan", f, "saddle"):item(), gan.F.logistic_g_minimax(f):item(), 1e-5)
  -- when P = Q the best T is f'(1) everywhere, and the bound is f(1)
  for _, name in ipairs(div.names) do
    local d = div.get(name)
    -- the v with g_f(v) = f'(1), by bisection on the increasing activation
    local a, b = -30, 30
    for _ = 1, 200 do
      local m = (a + b) / 2
      if d.act(m) < d.fprime1 then a = m else b = m end
    end
    local v = gan.full({ 4, 1 }, a)
    U.close(div.bound(name, v, v):item(), d.f(1), 1e-4, name .. ": bound at P = Q")
  end
end)

T.case("gradients of the losses against finite differences", function()
  gan.manual_seed(5)
  for _, name in ipairs(div.names) do
    local r = (gan.randn(6, 1) * 0.5):requires_grad(true)
    local f = (gan.randn(6, 1) * 0.5):requires_grad(true)
    U.gradcheck(function() return div.d_loss(name, r, f) end, { r, f }, { name = name, eps = 1e-3 })
    U.gradcheck(function() return div.g_loss(name, f) end, { f }, { name = name, eps = 1e-3 })
  end
end)

-- densities of N(mu, 1) on a grid
local function gauss(mu, xs)
  local out = {}
  for i, x in ipairs(xs) do out[i] = math.exp(-0.5 * (x - mu) ^ 2) / math.sqrt(2 * math.pi) end
  return out
end

T.case("numeric divergences of two unit Gaussians match their closed forms", function()
  local xs, dx = {}, 0.001
  for i = 1, 24001 do xs[i] = -12 + (i - 1) * dx end
  local p, q = gauss(0, xs), gauss(1, xs)
  U.close(div.f_divergence("kl", p, q, dx), 0.5, 1e-4, "KL = mu^2 / 2")
  U.close(div.f_divergence("reverse_kl", p, q, dx), 0.5, 1e-4, "reverse KL")
  U.close(div.f_divergence("pearson", p, q, dx), math.exp(1) - 1, 1e-3, "chi^2 = exp(mu^2) - 1")
  U.close(div.f_divergence("hellinger", p, q, dx), 2 * (1 - math.exp(-1 / 8)), 1e-4, "squared Hellinger")
  local js = div.f_divergence("js", p, q, dx)
  U.close(div.f_divergence("gan", p, q, dx), js - 2 * LOG2, 1e-6, "D_gan = D_js - log 4")
  U.close(div.f_divergence("js", p, p, dx), 0, 1e-9, "D(P || P) = 0")
  -- disjoint supports: D_js = 2 log 2, KL infinite
  local a, b = { 1, 1, 0, 0 }, { 0, 0, 1, 1 }
  U.close(div.f_divergence("js", a, b, 0.5), 2 * LOG2, 1e-12)
  U.equal(div.f_divergence("kl", a, b, 0.5), math.huge)
  U.close(div.f_divergence("hellinger", a, b, 0.5), 2, 1e-12)
  -- densities far apart: p/q overflows, yet the sum stays finite (2 log 2 for js)
  local xs, dx = {}, 0.001
  for i = 1, 6001 do xs[i] = -2 + (i - 1) * dx end
  local narrow = function(mu)
    local out = {}
    for i, x in ipairs(xs) do out[i] = math.exp(-0.5 * ((x - mu) / 0.05) ^ 2) / (0.05 * math.sqrt(2 * math.pi)) end
    return out
  end
  local far = div.f_divergence("js", narrow(-1.5), narrow(1.5), dx)
  U.close(far, 2 * LOG2, 1e-6, "far apart: D_js = 2 log 2")
end)

T.run()
