-- gan.F: every loss against values computed by hand in double precision.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local F = gan.F

local function mean(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s / #t
end

local function softplus(x) return math.log(1 + math.exp(x)) end

T.case("bce: probabilities, clamped log, number target, reductions", function()
  local p, t = gan.tensor { 0.2, 0.9, 0.5 }, gan.tensor { 0, 1, 0.3 }
  local per = { -math.log(0.8), -math.log(0.9), -(0.3 * math.log(0.5) + 0.7 * math.log(0.5)) }
  U.close(F.bce(p, t):item(), mean(per), 1e-6)
  U.close(F.bce(p, t, "sum"):item(), per[1] + per[2] + per[3], 1e-6)
  U.tclose(F.bce(p, t, { reduction = "none" }), per, 1e-6)
  U.close(F.bce(gan.tensor { 0, 1 }, gan.tensor { 1, 0 }):item(), 100, 1e-6, "log clamped at -100")
  U.close(F.bce(p, 1):item(), mean { -math.log(0.2), -math.log(0.9), -math.log(0.5) }, 1e-6)
end)

T.case("bce: a saturated sigmoid gives a zero gradient, not NaN (as PyTorch's BCELoss)", function()
  -- sigmoid(-120) is exactly 0 and sigmoid(20) exactly 1 in float32
  local z = gan.tensor({ -120, -3, 0, 2, 20 }):requires_grad(true)
  for _, t in ipairs { 0, 1, 0.3 } do
    local g = gan.grad(F.bce(z:sigmoid(), t, "sum"), z):totable()
    U.equal(g[1], 0, "gradient at z = -120, t = " .. t)
    U.equal(g[5], 0, "gradient at z = 20, t = " .. t)
    -- elsewhere sigmoid(z) - t, the gradient of the composed loss
    for i, zi in ipairs { -120, -3, 0, 2, 20 } do
      if i > 1 and i < 5 then U.close(g[i], 1 / (1 + math.exp(-zi)) - t, 1e-6, "z = " .. zi) end
    end
  end
  -- the loss itself is still clamped at 100 per element
  U.close(F.bce(z:sigmoid(), 1, { reduction = "none" }):totable()[1], 100, 1e-4)
end)

T.case("bce_logits: stable formula, label smoothing, weight", function()
  local xs, ts = { -2, 0, 3, 50, -60 }, { 1, 0.5, 0, 1, 0 }
  local per = {}
  for i, x in ipairs(xs) do
    per[i] = math.max(x, 0) - x * ts[i] + math.log(1 + math.exp(-math.abs(x)))
  end
  local x = gan.tensor(xs)
  U.close(F.bce_logits(x, gan.tensor(ts)):item(), mean(per), 1e-6)
  U.tclose(F.bce_logits(x, gan.tensor(ts), "none"), per, 1e-6)
  local smooth = {}
  for i, v in ipairs(xs) do smooth[i] = math.max(v, 0) - v * 0.9 + math.log(1 + math.exp(-math.abs(v))) end
  U.close(F.bce_logits(x, 0.9):item(), mean(smooth), 1e-6, "number target")
  local w = gan.tensor { 1, 0, 0, 0, 2 }
  U.close(F.bce_logits(x, gan.tensor(ts), { weight = w, reduction = "sum" }):item(), per[1] + 2 * per[5], 1e-6)
  -- the gradient is sigmoid(x) - t
  local xv = gan.tensor({ 0.5, -1 }):requires_grad(true)
  local g = gan.grad(F.bce_logits(xv, gan.tensor { 1, 0 }, "sum"), xv)
  U.tclose(g, { 1 / (1 + math.exp(-0.5)) - 1, 1 / (1 + math.exp(1)) }, 1e-6)
end)

T.case("losses at their kinks: the gradients PyTorch gives", function()
  -- bce_logits at a logit of exactly 0 (and -0): sigmoid(0) - t = 0.5 - t, not -t
  local x = gan.tensor({ -1, 0, 1, -0.0 }):requires_grad(true)
  local s = 1 / (1 + math.exp(1))
  U.tclose(gan.grad(F.bce_logits(x, 0.3, "sum"), x), { s - 0.3, 0.2, 1 - s - 0.3, 0.2 }, 1e-6)
  U.tclose(gan.grad(F.bce_logits(x, gan.tensor { 1, 1, 0, 0 }, "sum"), x), { s - 1, -0.5, 1 - s, 0.5 }, 1e-6)
  -- logistic losses (softplus): 0.5 at 0
  U.tclose(gan.grad(F.logistic_d(x, x, "sum"), x), { 2 * s - 1, 0, 1 - 2 * s, 0 }, 1e-6)
  U.tclose(gan.grad(F.logistic_g(x, "sum"), x), { -1 + s, -0.5, -s, -0.5 }, 1e-6)
  -- hinge at its kink (relu(1 - x) at x = 1) and l1 at 0 take the subgradient 0, as PyTorch's relu and abs
  local h = gan.tensor({ 1, -1, 0.5 }):requires_grad(true)
  U.tclose(gan.grad(F.hinge_d(h, -h, "sum"), h), { 0, -2, -2 }, 0)
  U.tclose(gan.grad(F.hinge_g(h, "sum"), h), { -1, -1, -1 }, 0)
  U.tclose(gan.grad(F.l1(h, gan.tensor { 1, 0, 0 }, "sum"), h), { 0, -1, 1 }, 0)
end)

T.case("mse and l1", function()
  local x, t = gan.tensor { { 1, 2 }, { 3, 4 } }, gan.tensor { { 0, 2 }, { 5, 1 } }
  U.close(F.mse(x, t):item(), (1 + 0 + 4 + 9) / 4, 1e-6)
  U.close(F.mse(x, t, "sum"):item(), 14, 1e-6)
  U.close(F.l1(x, t):item(), (1 + 0 + 2 + 3) / 4, 1e-6)
  U.tclose(F.l1(x, 1, "none"), { { 0, 1 }, { 2, 3 } }, 1e-6)
end)

T.case("cross_entropy and nll with 0-based int64 ids; soft targets; label smoothing", function()
  local logits = gan.tensor { { 1, 2, 3 }, { 1, 1, 1 } }
  local target = gan.tensor({ 2, 0 }, "int64")
  local lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
  local per = { lse - 3, math.log(3) }
  U.close(F.cross_entropy(logits, target):item(), mean(per), 1e-6)
  U.tclose(F.cross_entropy(logits, target, "none"), per, 1e-6)
  U.close(F.nll(logits:log_softmax(2), target, "sum"):item(), per[1] + per[2], 1e-6)
  local soft = gan.tensor { { 0, 0, 1 }, { 1, 0, 0 } }
  U.close(F.cross_entropy(logits, soft):item(), mean(per), 1e-6, "one-hot probabilities")
  local ls = 0.1
  local smooth1 = (1 - ls) * per[1] + ls * mean { lse - 1, lse - 2, lse - 3 }
  local smooth2 = math.log(3)
  U.close(F.cross_entropy(logits, target, { label_smoothing = ls }):item(), (smooth1 + smooth2) / 2, 1e-6)
  U.raises(function() F.cross_entropy(logits, gan.tensor { 1, 0 }) end, "int64")
end)

T.case("kl_normal: summed over latent dims, mean over the batch", function()
  local mu = gan.tensor { { 1, 0 }, { 0, 0 } }
  local logvar = gan.tensor { { 0, math.log(2) }, { 0, 0 } }
  local kl1 = -0.5 * ((1 + 0 - 1 - 1) + (1 + math.log(2) - 0 - 2))
  U.close(kl1, 1 - math.log(2) / 2, 1e-12)
  U.tclose(F.kl_normal(mu, logvar, "none"), { kl1, 0 }, 1e-6)
  U.close(F.kl_normal(mu, logvar):item(), kl1 / 2, 1e-6)
  U.close(F.kl_normal(mu, logvar, "sum"):item(), kl1, 1e-6)
end)

T.case("hinge, wasserstein and logistic GAN losses", function()
  local r, f = { 0.5, 2, -1 }, { -2, 0.3, 1.5 }
  local real, fake = gan.tensor(r), gan.tensor(f)
  local hd = mean { 0.5, 0, 2 } + mean { 0, 1.3, 2.5 }
  U.close(F.hinge_d(real, fake):item(), hd, 1e-6)
  U.close(F.hinge_g(fake):item(), -mean(f), 1e-6)
  U.close(F.wasserstein_d(real, fake):item(), mean(f) - mean(r), 1e-6)
  U.close(F.wasserstein_g(fake):item(), -mean(f), 1e-6)
  local ld = mean { softplus(-0.5), softplus(-2), softplus(1) } + mean { softplus(-2), softplus(0.3), softplus(1.5) }
  U.close(F.logistic_d(real, fake):item(), ld, 1e-6)
  U.close(F.logistic_d(real, fake):item(), (F.bce_logits(real, 1) + F.bce_logits(fake, 0)):item(), 1e-6)
  U.close(F.logistic_g(fake):item(), mean { softplus(2), softplus(-0.3), softplus(-1.5) }, 1e-6)
  U.close(F.logistic_g_minimax(fake):item(), -mean { softplus(-2), softplus(0.3), softplus(1.5) }, 1e-6)
  local a, b = F.hinge_d(real, fake, "none")
  U.tclose(a, { 0.5, 0, 2 }, 1e-6)
  U.tclose(b, { 0, 1.3, 2.5 }, 1e-6)
  U.close(F.hinge_d(real, fake, "sum"):item(), 2.5 + 3.8, 1e-6)
end)

T.case("an unknown reduction is an error", function()
  U.raises(function() F.mse(gan.ones(2), 0, "average") end, "unknown reduction 'average'")
end)

T.run()
