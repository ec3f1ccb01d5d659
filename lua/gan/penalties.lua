--- gan.penalties: regularisers built from gradients: of the discriminator
-- (WGAN-GP's gradient penalty, R1) and of the generator (StyleGAN2's path
-- length regularisation).
--
--     local gp = gan.penalties.gradient_penalty(D, real, fake)        -- WGAN-GP, lambda 10
--     optD:step(F.wasserstein_d(D(real), D(fake)) + gp)
--     local r1 = gan.penalties.lazy(step, 16, gan.penalties.r1, D, real)   -- every 16 steps, times 16
--     if r1 then optD:step(r1) end
--
-- Each penalty differentiates a network's output with respect to its
-- input with `create_graph`, so the penalty is itself differentiable with
-- respect to the network's parameters (and opt:step(loss) can take it).
--
-- Under mpirun the path length's running mean follows the lengths of
-- every rank's samples, and its smaller batch's draws are sliced like the
-- batch's (gan.dist.per_sample, global_mean).
--
-- Requires: gan.random (the path length's noise: the stream
-- "penalties.path_length"), gan.dist. Reads no options.
-- @module gan.penalties

local gan = require "gan"
local dist = require "gan.dist"

local M = {}

--- The gradient of sum(D(x)) with respect to x, as a differentiable tensor.
-- @param D a module (or any function of x)
-- @param x the input (detached here: the gradient is with respect to x alone)
-- @return gradient (x's shape), and D(x)
function M.input_gradient(D, x)
  x = x:detach():requires_grad(true)
  local out = D(x)
  return gan.grad(out:sum(), x, { create_graph = true }), out
end

--- The L2 norm of each sample's gradient, (N).
-- @param g a gradient (N, ...)
-- @return norms (N)
function M.norms(g)
  -- the small constant keeps the gradient of sqrt finite at 0
  return (g:flatten(2):square():sum(2) + 1e-12):sqrt()
end

--- The WGAN-GP penalty of Gulrajani et al. 2017 (arXiv:1704.00028):
-- lambda E[(||grad_x D(x)|| - center)^2] on random interpolates
-- x = a real + (1 - a) fake, a ~ U(0, 1) one per sample.
-- @param D the critic
-- @param real real samples (N, ...)
-- @param fake generated samples (N, ...) (detached here)
-- With per_pixel, images (N, C, H, W) are penalised at every pixel: the
-- norm is taken over the channels alone and the mean over the pixels too
-- (SinGAN's critic, whose one image is a batch of patches).
-- @param opts {lambda=10, center=1 (0: the zero-centred variant), one_sided=false (penalise only norms above center),
--   per_pixel=false}
-- @return the penalty (a scalar tensor), and the mean gradient norm (a number)
function M.gradient_penalty(D, real, fake, opts)
  opts = opts or {}
  local lambda, center = opts.lambda or 10, opts.center or 1
  if real:dim() ~= fake:dim() or real:size(1) ~= fake:size(1) then
    error(("gan.penalties.gradient_penalty: real (%s) and fake (%s) must have the same shape"):format(
      table.concat(real:shape(), ", "), table.concat(fake:shape(), ", ")), 2)
  end
  local shape = { real:size(1) }
  for d = 2, real:dim() do shape[d] = 1 end
  local a = gan.rand(shape)
  local x = real:detach() * a + fake:detach() * (1 - a)
  local g = M.input_gradient(D, x)
  local norms
  if opts.per_pixel then
    if g:dim() ~= 4 then
      error(("gan.penalties.gradient_penalty: per_pixel needs images (N, C, H, W), got (%s)"):format(
        table.concat(g:shape(), ", ")), 2)
    end
    norms = (g:square():sum(2) + 1e-12):sqrt()
  else
    norms = M.norms(g)
  end
  local dev = norms - center
  if opts.one_sided then dev = dev:relu() end
  return dev:square():mean() * lambda, gan.no_grad(function() return norms:mean():item() end)
end

--- The R1 penalty of Mescheder et al. 2018 (arXiv:1801.04406) on real data:
-- gamma / 2 E[||grad_x D(x)||^2].
-- @param D the discriminator
-- @param real real samples (N, ...)
-- @param opts {gamma=10}
-- @return the penalty (a scalar tensor)
function M.r1(D, real, opts)
  local gamma = (opts and opts.gamma) or 10
  local g = M.input_gradient(D, real)
  return g:flatten(2):square():sum(2):mean() * (gamma / 2)
end

--- Lazy regularisation (Karras et al. 2020, StyleGAN2): a regulariser
-- computed only on the steps that are multiples of `interval`, and then
-- multiplied by interval, so that on average it weighs as much as when
-- computed every step. Pair it with an optimizer built with
-- `reg_interval = interval` (gan.optim.Adam), which scales its rate and
-- betas for the extra steps, as NVlabs' training loop does.
-- @param step the training step (1, 2, ...)
-- @param interval regularise every interval steps (1: every step, unscaled)
-- @param fn the regulariser (gan.penalties.r1, a PathLength's penalty, ...)
-- @param ... fn's arguments
-- @return nil on the other steps; else fn's first result times interval, then its other results
function M.lazy(step, interval, fn, ...)
  if math.type(interval) ~= "integer" or interval < 1 then
    error(("gan.penalties.lazy: interval must be an integer >= 1, got %s"):format(tostring(interval)), 2)
  end
  if step % interval ~= 0 then return nil end
  local r = table.pack(fn(...))
  if interval > 1 then r[1] = r[1] * interval end
  return table.unpack(r, 1, r.n)
end

local PathLength = {}
PathLength.__index = PathLength

--- Path length regularisation (Karras et al. 2020, StyleGAN2, as NVlabs'
-- StyleGAN2Loss): for random images y ~ N(0, 1) / sqrt(H W), the length
-- |J_w^T y| of the gradient of sum(G(w) y) with respect to the ws (summed
-- over w_dim, averaged over the ws, square-rooted) should be the same for
-- every w. A running mean `pl_mean` (decay 0.01) is the target; the
-- penalty is weight * mean((length - pl_mean)^2), with the updated pl_mean
-- (through which a small part of the gradient flows, as NVlabs'). It is
-- computed on a smaller batch (`batch`: N / batch_shrink) and, lazily,
-- every 4 steps (`gan.penalties.lazy`). pl_mean is state: the object has
-- state_dict/load_state_dict, so a checkpoint holds it.
--
--     local pl = gan.penalties.PathLength()                  -- decay 0.01, weight 2, batch_shrink 2
--     local z = gan.randn(pl:batch(opt.batch), opt.nz)
--     local ws = mapping(z)
--     local loss = gan.penalties.lazy(step, 4, pl.penalty, pl, synthesis(ws), ws)
--     if loss then optG:step(loss) end
-- @function PathLength
-- @param opts {decay=0.01, weight=2, batch_shrink=2, stream="penalties.path_length" (the noise y's)}
-- @return the regulariser
function M.PathLength(opts)
  opts = opts or {}
  return setmetatable({
    decay = opts.decay or 0.01, weight = opts.weight or 2, batch_shrink = opts.batch_shrink or 2,
    stream = opts.stream or "penalties.path_length", pl_mean = gan.zeros({}),
  }, PathLength)
end

--- The batch the penalty runs on: n / batch_shrink (at least 1).
-- @param n the training batch
-- @return integer
function PathLength:batch(n)
  return dist.per_sample(math.max(1, n // self.batch_shrink))
end

--- The penalty for generated images and the ws that made them; moves pl_mean.
-- @param img G's images (N, C, H, W), computed from ws
-- @param ws the latents (N, num_ws, w_dim) or (N, w_dim) that img depends on
-- @return the penalty (a scalar tensor, weight included), and the mean path length (a number)
function PathLength:penalty(img, ws)
  if img:dim() ~= 4 then
    error(("PathLength:penalty: expected images (N, C, H, W), got (%s)"):format(table.concat(img:shape(), ", ")), 2)
  end
  local y = gan.random.stream(self.stream):randn(img:shape()) / math.sqrt(img:size(3) * img:size(4))
  local g = gan.grad((img * y):sum(), ws, { create_graph = true })
  local sq = g:square():sum(g:dim())
  if sq:dim() == 2 then sq = sq:mean(2) end
  local lengths = sq:sqrt()                                             -- (N)
  local old = self.pl_mean:clone()                                      -- the graph keeps it; the buffer moves
  local mean = old + (dist.global_mean(lengths:mean()) - old) * self.decay -- under mpirun, all ranks' lengths
  self.pl_mean:copy_(mean:detach())
  local penalty = (lengths - mean):square():mean() * self.weight
  return penalty, gan.no_grad(function() return lengths:mean():item() end)
end

--- The state: {pl_mean = the running mean (a 0-d tensor)}.
-- @return table
function PathLength:state_dict()
  return { pl_mean = self.pl_mean }
end

--- Restores pl_mean from state_dict().
-- @param sd table
function PathLength:load_state_dict(sd)
  if not gan.is_tensor(sd.pl_mean) then error("PathLength:load_state_dict: no pl_mean tensor", 2) end
  self.pl_mean:copy_(sd.pl_mean)
end

return M
