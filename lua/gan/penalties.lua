--- gan.penalties: regularisers of the discriminator built from its gradients.
--
--     local gp = gan.penalties.gradient_penalty(D, real, fake)        -- WGAN-GP, lambda 10
--     optD:step(F.wasserstein_d(D(real), D(fake)) + gp)
--
-- Each penalty differentiates D's output with respect to its input with
-- `create_graph`, so the penalty is itself differentiable with respect to
-- D's parameters (and optD:step(loss) can take it).
-- @module gan.penalties

local gan = require "gan"

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
-- @param opts {lambda=10, center=1 (0: the zero-centred variant), one_sided=false (penalise only norms above center)}
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
  local norms = M.norms((M.input_gradient(D, x)))
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

return M
