--- gan.F: losses as plain functions.
--
--     local F = gan.F
--     local lossD = F.bce_logits(D(real), 0.9) + F.bce_logits(D(fake:detach()), 0)
--     local lossG = F.bce_logits(D(fake), 1)
--
-- The target may be a tensor of the input's shape or a number (label
-- smoothing: 0.9). The last argument of every loss is an options table or
-- the reduction itself: "mean" (default), "sum" or "none" (the unreduced
-- tensor). Losses of two inputs (hinge_d, ...) reduce each term on its own
-- and add them; with "none" they return the two unreduced terms.
-- @module gan.F

local gan = require "gan"

local F = {}

local function reduction_of(opts)
  if opts == nil then return "mean" end
  if type(opts) == "string" then return opts end
  return opts.reduction or "mean"
end

--- A loss's terms x reduced as opts asks: "mean" (the default), "sum" or "none".
-- @param x the terms
-- @param opts the reduction, or {reduction=}
-- @return the reduced loss
local function reduce(x, opts)
  local r = reduction_of(opts)
  if r == "mean" then return x:mean() end
  if r == "sum" then return x:sum() end
  if r == "none" then return x end
  error(("gan.F: unknown reduction '%s' (use \"mean\", \"sum\" or \"none\")"):format(tostring(r)), 3)
end
F.reduce = reduce

local function weighted(x, opts)
  if type(opts) == "table" and opts.weight ~= nil then return x * opts.weight end
  return x
end

-- log(q) clamped at -100, whose gradient is 0 where q is exactly 0 (a saturated
-- sigmoid): log's rule would compute 0/0 there. Elsewhere the same numbers, forward
-- and backward, as q:log():clamp(-100, nil).
local function clamped_log(q)
  local positive = q:gt(0)
  return gan.where(positive, gan.where(positive, q, 1):log(), -100):clamp(-100, nil)
end

--- Binary cross-entropy of probabilities p in [0, 1]:
-- -(t log p + (1 - t) log(1 - p)), each log clamped at -100 as in PyTorch.
-- Where p is exactly 0 or 1 (a sigmoid saturated in float32) the gradient is 0,
-- not NaN.
-- @param p probabilities
-- @param t target: tensor or number
-- @param opts reduction, or {reduction=, weight=}
-- @return loss
function F.bce(p, t, opts)
  local logp = clamped_log(p)
  local log1mp = clamped_log(1 - p)
  local l = -(logp * t + log1mp * (1 - t))
  return reduce(weighted(l, opts), opts)
end

--- Binary cross-entropy of logits, computed stably:
-- max(x, 0) - x t + log(1 + exp(-|x|)).
-- Its gradient is sigmoid(x) - t everywhere, x = 0 included: there max's rule
-- gives the tie half of g and |x|'s gives 0, so 0.5 - t (relu's 0 would give -t).
-- @param x logits
-- @param t target: tensor or number
-- @param opts reduction, or {reduction=, weight=}
-- @return loss
function F.bce_logits(x, t, opts)
  local l = x:maximum(0) - x * t + (-x:abs()):exp():log1p()
  return reduce(weighted(l, opts), opts)
end

--- Mean squared error (x - t)^2.
-- @param x input
-- @param t target: tensor or number
-- @param opts reduction, or {reduction=}
-- @return loss
function F.mse(x, t, opts)
  return reduce((x - t):square(), opts)
end

--- Mean absolute error |x - t|.
-- @param x input
-- @param t target: tensor or number
-- @param opts reduction, or {reduction=}
-- @return loss
function F.l1(x, t, opts)
  return reduce((x - t):abs(), opts)
end

local function pick(logp, target, opts, name)
  if target:dtype() == "int64" then
    local l = -logp:gather(2, target:unsqueeze(2)):squeeze(2)
    local ls = type(opts) == "table" and opts.label_smoothing or 0
    if ls > 0 then l = l * (1 - ls) - logp:mean(2) * ls end
    return reduce(l, opts)
  end
  -- class probabilities of the input's shape
  if target:dim() ~= logp:dim() then
    error(("gan.F.%s: target must be int64 class ids (N) or probabilities of the input's shape (%s), got (%s)")
      :format(name, table.concat(logp:shape(), ", "), table.concat(target:shape(), ", ")), 3)
  end
  return reduce(-(logp * target):sum(2), opts)
end

--- Cross-entropy of logits (N, C[, ...]) with int64 class ids (N[, ...])
-- counting from 0, or with class probabilities of the logits' shape.
-- @param logits unnormalised scores, classes on dim 2
-- @param target int64 ids or float probabilities
-- @param opts reduction, or {reduction=, label_smoothing=0}
-- @return loss
function F.cross_entropy(logits, target, opts)
  return pick(logits:log_softmax(2), target, opts, "cross_entropy")
end

--- Negative log-likelihood of log-probabilities (N, C[, ...]) with int64
-- class ids counting from 0.
-- @param logp log-probabilities, classes on dim 2
-- @param target int64 ids (N[, ...])
-- @param opts reduction, or {reduction=}
-- @return loss
function F.nll(logp, target, opts)
  return pick(logp, target, opts, "nll")
end

--- KL divergence of N(mu, exp(logvar)) from N(0, 1):
-- -1/2 sum(1 + logvar - mu^2 - exp(logvar)), summed over every dim but the
-- first; the reduction then applies over the batch ("none": one value per sample).
-- @param mu means (N, ...)
-- @param logvar log-variances (N, ...)
-- @param opts reduction, or {reduction=}
-- @return loss
function F.kl_normal(mu, logvar, opts)
  local terms = (1 + logvar - mu:square() - logvar:exp()) * -0.5
  if terms:dim() > 1 then terms = terms:flatten(2):sum(2) end
  return reduce(terms, opts)
end

local function two(a, b, opts)
  if reduction_of(opts) == "none" then return a, b end
  return reduce(a, opts) + reduce(b, opts)
end

--- Hinge loss of the discriminator: mean(relu(1 - real)) + mean(relu(1 + fake)).
-- @param real D's outputs on real data
-- @param fake D's outputs on generated data
-- @param opts reduction, or {reduction=}
-- @return loss
function F.hinge_d(real, fake, opts)
  return two((1 - real):relu(), (1 + fake):relu(), opts)
end

--- Hinge loss of the generator: -mean(fake).
-- @param fake D's outputs on generated data
-- @param opts reduction, or {reduction=}
-- @return loss
function F.hinge_g(fake, opts)
  return -reduce(fake, opts)
end

--- Wasserstein critic loss: mean(fake) - mean(real).
-- @param real critic outputs on real data
-- @param fake critic outputs on generated data
-- @param opts reduction, or {reduction=}
-- @return loss
function F.wasserstein_d(real, fake, opts)
  if reduction_of(opts) == "none" then return -real, fake end
  return reduce(fake, opts) - reduce(real, opts)
end

--- Wasserstein generator loss: -mean(fake).
-- @param fake critic outputs on generated data
-- @param opts reduction, or {reduction=}
-- @return loss
function F.wasserstein_g(fake, opts)
  return -reduce(fake, opts)
end

--- Logistic (original GAN) discriminator loss on logits:
-- mean(softplus(-real)) + mean(softplus(fake)), the same as
-- bce_logits(real, 1) + bce_logits(fake, 0).
-- @param real D's logits on real data
-- @param fake D's logits on generated data
-- @param opts reduction, or {reduction=}
-- @return loss
function F.logistic_d(real, fake, opts)
  return two((-real):softplus(), fake:softplus(), opts)
end

--- Non-saturating generator loss on logits: mean(softplus(-fake)) = -mean(log D(G(z))).
-- @param fake D's logits on generated data
-- @param opts reduction, or {reduction=}
-- @return loss
function F.logistic_g(fake, opts)
  return reduce((-fake):softplus(), opts)
end

--- The minimax (saturating) generator loss of Goodfellow et al. on logits:
-- mean(log(1 - D(G(z)))) = -mean(softplus(fake)).
-- @param fake D's logits on generated data
-- @param opts reduction, or {reduction=}
-- @return loss
function F.logistic_g_minimax(fake, opts)
  return -reduce(fake:softplus(), opts)
end

return F
