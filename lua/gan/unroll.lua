--- gan.unroll: a module run with other values of its parameters, and
-- optimizer steps written as differentiable functions (Unrolled GAN).
--
--     -- D after K imagined Adam steps, as a function of G's parameters too:
--     local params = gan.unroll.steps(D, optD, 5, function()
--       return F.logistic_d(D(real), D(fake))          -- fake = G(z), not detached
--     end)
--     local lossG = gan.unroll.with_params(D, params, function() return F.logistic_g(D(fake)) end)
--     optG:step(lossG)                                  -- differentiates through the 5 steps
--
-- Metz et al. 2016 (arXiv:1611.02163). With create_graph (the default) each
-- step's gradient is itself differentiable, so G's gradient sees how D
-- would answer its move (second order). With create_graph = false the
-- steps are taken on detached values: G then only sees the unrolled D's
-- answer at its samples (first order, cheaper).
-- @module gan.unroll

local gan = require "gan"

local M = {}

--- Runs fn with the module's parameters replaced by the tensors of `params`
-- (in the order of module:parameters()), then puts the originals back, even
-- when fn raises.
-- @param module the module
-- @param params list of tensors, one per parameter, of the same shapes
-- @param fn function(...) called with the replaced parameters
-- @return what fn returns
function M.with_params(module, params, fn, ...)
  local entries = module:named_parameters()
  if #params ~= #entries then
    error(("gan.unroll.with_params: %s has %d parameters, got %d tensors"):format(module.__name, #entries,
      #params), 2)
  end
  for i, e in ipairs(entries) do rawset(e.module, e.key, params[i]) end
  local r = table.pack(pcall(fn, ...))
  for _, e in ipairs(entries) do rawset(e.module, e.key, e.tensor) end
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

local function zeros_like(p) return gan.zeros(p:shape()) end

-- one step of the optimizer's rule on (p, g) as recorded ops; st holds the
-- moments as they were before the step; returns p', st'
local rules = {}

--- SGD's step as recorded ops.
-- @local
function rules.SGD(o, p, g, lr, st)
  if o.weight_decay ~= 0 then g = g + p * o.weight_decay end
  if o.momentum == 0 then return p - g * lr, st end
  local buf = st.buf and (st.step > 0) and (st.buf * o.momentum + g * (1 - o.dampening)) or g
  local d = o.nesterov and (g + buf * o.momentum) or buf
  return p - d * lr, { buf = buf, step = st.step + 1 }
end

--- Adam's step as recorded ops.
-- @local
function rules.Adam(o, p, g, lr, st)
  if o.weight_decay ~= 0 and not o.decoupled then g = g + p * o.weight_decay end
  local b1, b2 = o.betas[1], o.betas[2]
  local t = st.step + 1
  local m = st.m * b1 + g * (1 - b1)
  local v = st.v * b2 + g:square() * (1 - b2)
  local mhat, vhat = m / (1 - b1 ^ t), v / (1 - b2 ^ t)
  -- the tiny constant keeps sqrt's gradient finite where v is 0
  local q = p - mhat / ((vhat + 1e-20):sqrt() + o.eps) * lr
  if o.weight_decay ~= 0 and o.decoupled then q = q - p * (lr * o.weight_decay) end
  return q, { m = m, v = v, step = t }
end
rules.AdamW = rules.Adam

--- RMSprop's step as recorded ops.
-- @local
function rules.RMSprop(o, p, g, lr, st)
  if o.weight_decay ~= 0 then g = g + p * o.weight_decay end
  local sq = st.sq * o.alpha + g:square() * (1 - o.alpha)
  return p - g / ((sq + 1e-20):sqrt() + o.eps) * lr, { sq = sq, step = st.step + 1 }
end

-- the optimizer's moments for parameter i as constants (zeros before its first step)
local function start_state(opt, i, p)
  local st = opt.state[i]
  local kind = opt.kind.__name
  local function c(name) return st and st[name] and st[name]:detach() or zeros_like(p) end
  if kind == "SGD" then return { buf = c("buf"), step = st and st.step or 0 } end
  if kind == "RMSprop" then return { sq = c("sq"), step = st and st.step or 0 } end
  return { m = c("m"), v = c("v"), step = st and st.step or 0 }
end

--- One step of an optimizer's update rule as a function: new parameter
-- values computed with recorded ops from the given values and gradients
-- (SGD, Adam, AdamW, RMSprop), without touching the module or the optimizer.
-- @param opt the optimizer (its rate, options and learning-rate multipliers)
-- @param params list of current values (in the order of opt.params)
-- @param grads list of gradients (nil entries: the parameter stays)
-- @param states list of moment tables from the previous call (nil: the optimizer's own state)
-- @return new values, new states
function M.step(opt, params, grads, states)
  local kind = opt.kind.__name
  local rule = rules[kind]
  if not rule then
    error(("gan.unroll.step: no differentiable rule for %s (SGD, Adam, AdamW, RMSprop)"):format(kind), 2)
  end
  local out, out_states = {}, {}
  for i, p in ipairs(params) do
    local st = states and states[i] or start_state(opt, i, p)
    local lr = opt.lr * opt:lr_mult(i)
    if grads[i] and lr ~= 0 then
      out[i], out_states[i] = rule(opt, p, grads[i], lr, st)
    else
      out[i], out_states[i] = p, st
    end
  end
  return out, out_states
end

--- Takes k steps of `opt`'s rule on the module's parameters, on the loss
-- that loss_fn computes (each call runs with the current unrolled values),
-- and returns the values after the k steps; the module, its buffers and the
-- optimizer are left as they were.
-- @param module the module (D)
-- @param opt its optimizer (rate and moments are the starting point)
-- @param k number of steps (0 returns the current parameters)
-- @param loss_fn function(i) -> scalar loss, for step i = 1..k
-- @param opts {create_graph=true (differentiable steps; false: first order, on detached values)}
-- @return list of parameter values (in the order of module:parameters())
function M.steps(module, opt, k, loss_fn, opts)
  local create_graph = not (opts and opts.create_graph == false)
  local params = module:parameters()
  if #params ~= #opt.params then
    error(("gan.unroll.steps: the optimizer has %d parameters and %s %d"):format(#opt.params, module.__name,
      #params), 2)
  end
  local saved = {}
  for _, b in ipairs(module:buffers()) do saved[#saved + 1] = { b, b:clone() } end
  local ok, err = pcall(function()
    local states
    for i = 1, k do
      local loss = M.with_params(module, params, loss_fn, i)
      if create_graph then
        local grads = gan.grad(loss, params, { create_graph = true, allow_unused = true })
        params, states = M.step(opt, params, grads, states)
      else
        local grads = gan.grad(loss, params, { allow_unused = true })
        params, states = gan.no_grad(function()
          local ps = {}
          for j, p in ipairs(params) do ps[j] = p:detach() end
          return M.step(opt, ps, grads, states)
        end)
        -- fresh leaves: the next step differentiates with respect to them only
        for _, p in ipairs(params) do p:requires_grad(true) end
      end
    end
  end)
  for _, s in ipairs(saved) do s[1]:copy_(s[2]) end
  if not ok then error(err, 0) end
  return params
end

return M
