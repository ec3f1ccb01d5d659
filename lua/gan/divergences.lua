--- gan.divergences: the f-divergences of f-GAN and their variational bounds.
--
-- An f-divergence is D_f(P || Q) = ∫ q(x) f(p(x) / q(x)) dx for a convex
-- generator f with f(1) = 0. With f's convex conjugate
-- f*(t) = sup_u (u t - f(u)), every function T gives the lower bound
--
--     D_f(P || Q) >= E_P[T(x)] - E_Q[f*(T(x))]
--
-- and f-GAN (Nowozin, Cseke, Tomioka 2016) lets the discriminator be T: its
-- raw output v goes through an output activation g_f that maps the reals
-- into the domain of f*, T = g_f(v). D raises the bound, G lowers it.
--
--     local div = gan.divergences
--     local lossD = div.d_loss("js", D(real), D(fake:detach()))
--     local lossG = div.g_loss("js", D(fake))
--     local bound = div.bound("js", D(real), D(fake))   -- the divergence estimate
--
-- The divergences (f, g_f and f* as in the paper's Tables 1 and 2):
--
--   name        f(u)                              g_f(v)              f*(t)                dom f*
--   kl          u log u                           v                   exp(t - 1)           R
--   reverse_kl  -log u                            -exp(-v)            -1 - log(-t)         t < 0
--   pearson     (u - 1)^2                         v                   t^2/4 + t            R
--   hellinger   (sqrt(u) - 1)^2                   1 - exp(-v)         t / (1 - t)          t < 1
--   js          -(u+1) log((1+u)/2) + u log u     log 2 - log(1+e^-v) -log(2 - exp(t))     t < log 2
--   gan         u log u - (u+1) log(u+1)          -log(1 + e^-v)      -log(1 - exp(t))     t < 0
--
-- With these f, D_js is twice the Jensen-Shannon divergence (at most
-- 2 log 2) and D_gan = 2 JSD - log 4, the value of the original GAN's game.
-- Each entry's `conj_act(v)` is f*(g_f(v)) written so that it is stable for
-- large |v| (for gan it is softplus(v), for js softplus(v) - log 2).
--
-- The functions take numbers or tensors alike.
-- @module gan.divergences

local gan = require "gan"

local M = {}

local is_tensor = gan.is_tensor
local LOG2 = math.log(2)

-- elementary functions of a number or a tensor
local function exp(x) if is_tensor(x) then return x:exp() end return math.exp(x) end
local function log(x) if is_tensor(x) then return x:log() end return math.log(x) end
local function sqrt(x) if is_tensor(x) then return x:sqrt() end return math.sqrt(x) end
local function softplus(x)
  if is_tensor(x) then return x:softplus() end
  if x > 20 then return x end
  return math.log(1 + math.exp(x))
end
-- u log u, with 0 log 0 = 0 (numbers only: the generators f are not used on tensors in training)
local function xlogx(u)
  if is_tensor(u) then return u * u:log() end
  if u == 0 then return 0 end
  return u * math.log(u)
end

--- The divergences by name. Each entry has:
-- `title`, `f(u)` (the generator), `fprime(u)` (its derivative), `act(v)`
-- (the output activation g_f), `conj(t)` (f*), `conj_act(v)` (f*(g_f(v)),
-- computed stably), `domain` ({lo, hi}: f* is finite for lo < t < hi),
-- `fprime1` (f'(1), the value T takes when P = Q) and `fprime_inf` (the
-- limit of f'(u) as u grows).
-- @table list
M.list = {
  kl = {
    fprime_inf = math.huge,
    title = "Kullback-Leibler",
    f = function(u) return xlogx(u) end,
    fprime = function(u) return log(u) + 1 end,
    act = function(v) return v end,
    conj = function(t) return exp(t - 1) end,
    conj_act = function(v) return exp(v - 1) end,
    domain = { -math.huge, math.huge },
  },
  reverse_kl = {
    fprime_inf = 0,
    title = "reverse Kullback-Leibler",
    f = function(u) return -log(u) end,
    fprime = function(u) return -1 / u end,
    act = function(v) return -exp(-v) end,
    conj = function(t) return -1 - log(-t) end,
    conj_act = function(v) return v - 1 end,
    domain = { -math.huge, 0 },
  },
  pearson = {
    fprime_inf = math.huge,
    title = "Pearson chi-squared",
    f = function(u) return (u - 1) * (u - 1) end,
    fprime = function(u) return (u - 1) * 2 end,
    act = function(v) return v end,
    conj = function(t) return t * t / 4 + t end,
    conj_act = function(v) return v * v / 4 + v end,
    domain = { -math.huge, math.huge },
  },
  hellinger = {
    fprime_inf = 1,
    title = "squared Hellinger",
    f = function(u) local s = sqrt(u) - 1; return s * s end,
    fprime = function(u) return 1 - 1 / sqrt(u) end,
    act = function(v) return 1 - exp(-v) end,
    conj = function(t) return t / (1 - t) end,
    conj_act = function(v) return exp(v) - 1 end,
    domain = { -math.huge, 1 },
  },
  js = {
    fprime_inf = LOG2,
    title = "Jensen-Shannon",
    f = function(u) return xlogx(u) - (u + 1) * log((u + 1) / 2) end,
    fprime = function(u) return log(u * 2 / (u + 1)) end,
    act = function(v) return LOG2 - softplus(-v) end,
    conj = function(t) return -log(2 - exp(t)) end,
    conj_act = function(v) return softplus(v) - LOG2 end,
    domain = { -math.huge, LOG2 },
  },
  gan = {
    fprime_inf = 0,
    title = "GAN (2 JSD - log 4)",
    f = function(u) return xlogx(u) - xlogx(u + 1) end,
    fprime = function(u) return log(u / (u + 1)) end,
    act = function(v) return -softplus(-v) end,
    conj = function(t) return -log(1 - exp(t)) end,
    conj_act = function(v) return softplus(v) end,
    domain = { -math.huge, 0 },
  },
}

--- The names of the divergences, in the paper's order.
M.names = { "kl", "reverse_kl", "pearson", "hellinger", "js", "gan" }

for _, name in ipairs(M.names) do
  local d = M.list[name]
  d.name = name
  d.fprime1 = d.fprime(1)
end

--- One divergence's entry (see `list`), or an error that names the valid ones.
-- @param name "kl", "reverse_kl", "pearson", "hellinger", "js" or "gan"
-- @return the entry
function M.get(name)
  local d = type(name) == "table" and name or M.list[name]
  if not d then
    error(("gan.divergences: unknown divergence '%s' (use %s)"):format(tostring(name), table.concat(M.names, ", ")), 3)
  end
  return d
end

--- The variational bound E_P[g_f(v_real)] - E_Q[f*(g_f(v_fake))]: the
-- discriminator's estimate of D_f(P || Q).
-- @param name the divergence
-- @param v_real D's raw outputs on data
-- @param v_fake D's raw outputs on generated samples
-- @return scalar tensor
function M.bound(name, v_real, v_fake)
  local d = M.get(name)
  return d.act(v_real):mean() - d.conj_act(v_fake):mean()
end

--- The discriminator's loss: minus the bound (D maximises the bound).
-- @param name the divergence
-- @param v_real D's raw outputs on data
-- @param v_fake D's raw outputs on generated samples (detached)
-- @return scalar tensor
function M.d_loss(name, v_real, v_fake)
  local d = M.get(name)
  return d.conj_act(v_fake):mean() - d.act(v_real):mean()
end

--- The generator's loss. "saddle" is the bound itself, -E_Q[f*(g_f(v))]
-- (G minimises what D maximises); "alt" (default) is the paper's
-- alternative -E_Q[g_f(v)], which, like the non-saturating GAN loss, keeps
-- strong gradients while D wins.
-- @param name the divergence
-- @param v_fake D's raw outputs on generated samples
-- @param how "alt" (default) or "saddle"
-- @return scalar tensor
function M.g_loss(name, v_fake, how)
  local d = M.get(name)
  how = how or "alt"
  if how == "alt" then return -d.act(v_fake):mean() end
  if how == "saddle" then return -d.conj_act(v_fake):mean() end
  error(("gan.divergences.g_loss: unknown kind '%s' (use \"alt\" or \"saddle\")"):format(tostring(how)), 2)
end

--- D_f(P || Q) = ∫ q f(p / q) dx of two densities sampled on the same
-- evenly spaced grid (lists of numbers), by the rectangle rule. Where q is
-- 0 (or p/q above 1e12) and p is not, the term is p f'(∞) (the limit of
-- q f(p/q)), which is infinite for kl and pearson; where both are 0 it is 0.
-- @param name the divergence
-- @param p list of density values of P
-- @param q list of density values of Q
-- @param dx the grid step
-- @return number
function M.f_divergence(name, p, q, dx)
  local d = M.get(name)
  local slope = d.fprime_inf     -- f'(∞): the limit of q f(p/q) / p as q -> 0
  local sum = 0
  for i = 1, #p do
    local pi, qi = p[i], q[i]
    -- where p/q overflows, q f(p/q) is p f'(∞) to within the precision of the sum
    if qi > 0 and (pi / qi < 1e12 or slope == math.huge) then
      sum = sum + qi * d.f(pi / qi)
    elseif pi > 0 then
      sum = sum + pi * slope
    end
  end
  return sum * dx
end

return M
