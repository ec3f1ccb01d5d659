--- gan.optim: optimizers, learning-rate schedules, and weight averaging.
--
--     local optG = gan.optim.Adam(G, { lr = 2e-4, betas = { 0.5, 0.999 } })
--     optG:step(lossG)        -- gradient of lossG for G's parameters only, then the update
--
-- An optimizer is built from a module (its parameters, with the module's
-- learning-rate multipliers, see `Module:lr_mult`) or from a list of
-- tensors. `step(loss)` differentiates the loss with respect to its own
-- parameters and updates them in place with a fused kernel; `step(grads)`
-- takes a list of gradients (in the order of `opt.params`) instead.
-- Parameters whose multiplier is 0 are frozen: no gradient is computed for them.
-- Under mpirun (gan.dist) the gradients are averaged across the ranks, in
-- one fused all-reduce, before the update.
--
-- Requires: gan.core (gan.grad and the fused updates), gan.dist. Reads no options.
-- @module gan.optim

local gan = require "gan"
local check = require "gan.check"
local dist = require "gan.dist"

local M = {}

local is_tensor = gan.is_tensor

local function num(v)
  if type(v) == "string" then return math.tointeger(tonumber(v)) or tonumber(v) end
  return v
end

-- Entries {name=, tensor=, module=, key=}: the multiplier is read at each
-- step, so lr_mult may change during training.
local function collect(params)
  local entries = {}
  if type(params) == "table" and rawget(params, "_children") ~= nil then
    for _, e in ipairs(params:named_parameters()) do
      entries[#entries + 1] = { name = e.name, tensor = e.tensor, module = e.module, key = e.key }
    end
    return entries
  end
  if is_tensor(params) then params = { params } end
  if type(params) ~= "table" then check.fail("gan.optim", "params", "a module or a list of tensors", params, 4) end
  for i, p in ipairs(params) do
    if is_tensor(p) then
      entries[#entries + 1] = { name = tostring(i), tensor = p }
    elseif type(p) == "table" and rawget(p, "_children") ~= nil then
      for _, e in ipairs(p:named_parameters()) do
        entries[#entries + 1] = { name = i .. "." .. e.name, tensor = e.tensor, module = e.module, key = e.key }
      end
    elseif type(p) == "table" and is_tensor(p.tensor or p.param) then
      entries[#entries + 1] = { name = p.name or tostring(i), tensor = p.tensor or p.param, mult = p.lr_mult }
    else
      error(("gan.optim: parameter %d is not a tensor"):format(i), 3)
    end
  end
  return entries
end

local function lr_mult(e)
  if e.module then return e.module._lr_mult[e.key] or 1 end
  return e.mult or 1
end

local Optimizer = {}
Optimizer.__index = Optimizer

-- An option's value, checked against the kind of its default: numbers are
-- finite and >= 0, booleans booleans, betas two numbers in [0, 1).
local function option_value(who, k, v, default)
  if type(default) == "number" then return check.number(who, k, v, 0, nil, 4) end
  if type(default) == "boolean" then
    if type(v) ~= "boolean" then check.fail(who, k, "true or false", v, 4) end
    return v
  end
  if type(default) == "table" then
    if type(v) ~= "table" or #v ~= #default then check.fail(who, k, ("a list of %d numbers"):format(#default), v, 4) end
    for i = 1, #v do
      local x = v[i]
      if type(x) ~= "number" or not (x >= 0 and x < 1) then check.fail(who, ("%s[%d]"):format(k, i), "a number in [0, 1)", x, 4) end
    end
  end
  return v
end

local function new_optimizer(kind, params, opts, defaults)
  local who = "gan.optim." .. kind.__name
  opts = check.options(who, opts, "opts (a table such as {lr = 1e-3})", 3)
  local self = setmetatable({ kind = kind, entries = collect(params), state = {} }, kind)
  for k, v in pairs(defaults) do
    if opts[k] == nil then self[k] = v else self[k] = option_value(who, k, opts[k], v) end
  end
  for k in pairs(opts) do
    if defaults[k] == nil then
      local keys = {}
      for d in pairs(defaults) do keys[#keys + 1] = d end
      table.sort(keys)
      error(("gan.optim.%s: unknown option '%s' (options: %s)"):format(kind.__name, k, table.concat(keys, ", ")), 3)
    end
  end
  self.params = {}
  for i, e in ipairs(self.entries) do self.params[i] = e.tensor end
  return self
end

--- Computes gradients (from a loss) or takes them (a list), then updates
-- every parameter whose learning-rate multiplier is not 0.
-- @param loss_or_grads a scalar loss tensor, or a list of gradients in the
--   order of opt.params (nil or false entries are skipped)
-- @param gopts options for gan.grad when given a loss: {retain_graph=, create_graph=}
-- @return self
function Optimizer:step(loss_or_grads, gopts)
  local active, inputs = {}, {}
  for i, e in ipairs(self.entries) do
    if lr_mult(e) ~= 0 then
      active[#active + 1] = i
      inputs[#inputs + 1] = e.tensor
    end
  end
  if #active == 0 then return self end
  local grads = {}
  if is_tensor(loss_or_grads) then
    if loss_or_grads:numel() ~= 1 then
      error(("%s:step: the loss has shape [%s], not a scalar: reduce it first (:mean() or :sum())"):format(
        self.kind.__name, table.concat(loss_or_grads:shape(), ", ")), 2)
    end
    local gr = gan.grad(loss_or_grads, inputs, {
      allow_unused = true,
      retain_graph = gopts and gopts.retain_graph or false,
      create_graph = gopts and gopts.create_graph or false,
    })
    for j, i in ipairs(active) do grads[i] = gr[j] end
  elseif type(loss_or_grads) == "table" then
    for _, i in ipairs(active) do
      local g = loss_or_grads[i]
      if g then grads[i] = g end
    end
  else
    error(("%s:step: expected a loss tensor or a list of gradients, got %s"):format(self.kind.__name,
      type(loss_or_grads)), 2)
  end
  if dist.size > 1 then
    -- under mpirun: every rank updates with the mean of the ranks' gradients
    for _, i in ipairs(active) do
      if grads[i] then grads[i] = grads[i]:detach():clone() end
    end
    dist.average_gradients(grads, #self.entries)
  end
  for _, i in ipairs(active) do
    local g = grads[i]
    if g then
      local e = self.entries[i]
      self:update(i, e.tensor, g:detach():contiguous(), self.lr * lr_mult(self.entries[i]))
    end
  end
  return self
end

--- The learning-rate multiplier of parameter i.
-- @param i index in opt.params
-- @return number
function Optimizer:lr_mult(i)
  return lr_mult(self.entries[i])
end

--- Forgets every parameter's moments and step count: the next update is a
-- first one again (PGGAN resets Adam whenever a resolution starts fading
-- in and when it has faded in). The learning rate stays.
-- @return self
function Optimizer:reset()
  self.state = {}
  return self
end

local function zeros_like(p)
  return gan.zeros(p:shape())
end

--- The optimizer's state: its learning rate and, per parameter, the
-- moment tensors and step count.
-- @return table name -> tensor or number
function Optimizer:state_dict()
  local sd = { lr = self.lr }
  for i, e in ipairs(self.entries) do
    local st = self.state[i]
    if st then
      for k, v in pairs(st) do sd[e.name .. "." .. k] = v end
    end
  end
  return sd
end

--- Restores a state from state_dict() (numbers may come back as strings,
-- as from a checkpoint's metadata). Tensors are copied.
-- @param sd table
function Optimizer:load_state_dict(sd)
  check.table(self.kind.__name .. ":load_state_dict", "the state", sd)
  local by_name = {}
  for i, e in ipairs(self.entries) do by_name[e.name] = i end
  local state, unexpected = {}, {}
  for k, v in pairs(sd) do
    if k == "lr" then
      -- read below
    else
      local name, field = k:match("^(.*)%.([^.]+)$")
      local i = name and by_name[name]
      if not i then
        unexpected[#unexpected + 1] = k
      else
        state[i] = state[i] or {}
        if is_tensor(v) then
          local p = self.entries[i].tensor
          if v:numel() ~= p:numel() then
            error(("%s:load_state_dict: %s has %d values, parameter %s has %d"):format(self.kind.__name, k,
              v:numel(), name, p:numel()), 2)
          end
          state[i][field] = v:detach():clone():contiguous():reshape(p:shape())
        else
          state[i][field] = check.number_or_text(self.kind.__name .. ":load_state_dict", k, v, 0)
        end
      end
    end
  end
  if #unexpected > 0 then
    table.sort(unexpected)
    error(("%s:load_state_dict: %d unexpected keys: %s"):format(self.kind.__name, #unexpected, check.some(unexpected)), 2)
  end
  if sd.lr ~= nil then self.lr = check.number_or_text(self.kind.__name .. ":load_state_dict", "lr", sd.lr, 0) end
  self.state = state
end

local function class(name, defaults, update, setup)
  local C = setmetatable({ __name = name }, { __index = Optimizer })
  C.__index = C
  C.defaults = defaults
  C.update = update
  C.__tostring = function(self)
    local keys = {}
    for k in pairs(defaults) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
      local v = self[k]
      if type(v) == "table" then v = "{" .. table.concat(v, ", ") .. "}" end
      parts[#parts + 1] = k .. "=" .. tostring(v)
    end
    return ("%s(%d params; %s)"):format(name, #self.params, table.concat(parts, ", "))
  end
  return setmetatable(C, {
    __index = Optimizer,
    __call = function(c, params, opts)
      local o = new_optimizer(c, params, opts, defaults)
      if setup then setup(o) end
      return o
    end,
  })
end

--- SGD with momentum, dampening, Nesterov momentum and weight decay
-- (the update of PyTorch's torch.optim.SGD).
-- @function SGD
-- @param params a module or a list of tensors
-- @param opts {lr=0.01, momentum=0, dampening=0, nesterov=false, weight_decay=0}
-- @return the optimizer
M.SGD = class("SGD", { lr = 0.01, momentum = 0, dampening = 0, nesterov = false, weight_decay = 0 },
  function(self, i, p, g, lr)
    local st = self.state[i]
    local first = false
    if not st then
      st = { buf = zeros_like(p), step = 0 }
      self.state[i] = st
    end
    if st.step == 0 then first = true end
    st.step = st.step + 1
    gan.fused.sgd(p, g, st.buf, lr, self.momentum, self.dampening, self.weight_decay, self.nesterov, first)
  end)

local adam_defaults = { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, decoupled = false,
  reg_interval = 0 }

--- The rate and betas of an optimizer that also takes a lazy regulariser's
-- step every `interval` steps (StyleGAN2; NVlabs' training loop): with
-- c = interval / (interval + 1), the rate becomes lr c and each beta
-- beta^c, so that interval + 1 updates move the weights and the moments as
-- interval updates would.
-- @param lr the rate
-- @param betas {beta1, beta2}
-- @param interval the regulariser's interval (0 or nil: none)
-- @return the rate, the betas (a new table)
function M.lazy_rates(lr, betas, interval)
  if not interval or interval == 0 then return lr, { betas[1], betas[2] } end
  if type(interval) ~= "number" or interval < 1 then
    error(("gan.optim: reg_interval must be 0 or a number >= 1, got %s"):format(tostring(interval)), 2)
  end
  local c = interval / (interval + 1)
  return lr * c, { betas[1] ^ c, betas[2] ^ c }
end

local function adam_setup(self)
  self.lr, self.betas = M.lazy_rates(self.lr, self.betas, self.reg_interval)
end

local function adam_update(self, i, p, g, lr)
  local st = self.state[i]
  if not st then
    st = { m = zeros_like(p), v = zeros_like(p), step = 0 }
    self.state[i] = st
  end
  st.step = st.step + 1
  local b = self.betas
  gan.fused.adam(p, g, st.m, st.v, lr, b[1], b[2], self.eps, self.weight_decay, st.step, self.decoupled)
end

--- Adam (Kingma & Ba) with bias correction; beta1 may be 0. With
-- decoupled=true, the weight decay is AdamW's (p -= lr wd p). With
-- reg_interval = k, the optimizer also takes a lazy regulariser's step
-- every k steps (gan.penalties.lazy) and its rate and betas are scaled as
-- `lazy_rates` says (StyleGAN2: k = 4 for G, 16 for D); opt.lr and
-- opt.betas hold the scaled values.
-- @function Adam
-- @param params a module or a list of tensors
-- @param opts {lr=1e-3, betas={0.9, 0.999}, eps=1e-8, weight_decay=0, decoupled=false, reg_interval=0}
-- @return the optimizer
M.Adam = class("Adam", adam_defaults, adam_update, adam_setup)

--- AdamW: Adam with decoupled weight decay (default 0.01).
-- @function AdamW
-- @param params a module or a list of tensors
-- @param opts {lr=1e-3, betas={0.9, 0.999}, eps=1e-8, weight_decay=0.01, reg_interval=0}
-- @return the optimizer
M.AdamW = class("AdamW", { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0.01, decoupled = true,
  reg_interval = 0 }, adam_update, adam_setup)

--- RMSprop: sq = alpha sq + (1 - alpha) g^2; p -= lr g / (sqrt(sq) + eps).
-- @function RMSprop
-- @param params a module or a list of tensors
-- @param opts {lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0}
-- @return the optimizer
M.RMSprop = class("RMSprop", { lr = 0.01, alpha = 0.99, eps = 1e-8, weight_decay = 0 },
  function(self, i, p, g, lr)
    local st = self.state[i]
    if not st then
      st = { sq = zeros_like(p), step = 0 }
      self.state[i] = st
    end
    st.step = st.step + 1
    gan.fused.rmsprop(p, g, st.sq, lr, self.alpha, self.eps, self.weight_decay)
  end)

M.Optimizer = Optimizer

--- Schedules
-- @section schedule

-- Learning-rate schedules. Each one sets `opt.lr` from the rate the
-- optimizer had when the schedule was made; `:step()` advances it by one
-- (call it once per iteration, or per epoch: the unit is yours).
--
--     local sched = gan.optim.schedule.constant_then_linear(optG, { hold = 100, decay = 100 })
--     sched:step()

--- The schedules: constant, constant_then_linear, step, cosine.
-- @table schedule
M.schedule = {}

local Schedule = {}
Schedule.__index = Schedule

--- Advances the schedule by one and sets the optimizer's learning rate.
-- @return the new learning rate
function Schedule:step()
  self.t = self.t + 1
  self.opt.lr = self.base_lr * self.factor(self.t)
  return self.opt.lr
end

--- The current learning rate.
-- @return number
function Schedule:lr()
  return self.base_lr * self.factor(self.t)
end

--- The schedule's state: {t=, base_lr=}.
-- @return table
function Schedule:state_dict()
  return { t = self.t, base_lr = self.base_lr }
end

--- Restores a state from state_dict() and sets the optimizer's rate.
-- @param sd table
function Schedule:load_state_dict(sd)
  local who = "gan.optim.schedule:load_state_dict"
  check.table(who, "the state", sd)
  self.t = sd.t == nil and 0 or check.integer_or_text(who, "t", sd.t, 0)
  self.base_lr = sd.base_lr == nil and self.base_lr or check.number_or_text(who, "base_lr", sd.base_lr, 0)
  self.opt.lr = self.base_lr * self.factor(self.t)
end

local function schedule(opt, factor, name)
  if type(opt) ~= "table" or opt.lr == nil then
    error(("gan.optim.schedule.%s: expected an optimizer"):format(name), 3)
  end
  return setmetatable({ opt = opt, base_lr = opt.lr, t = 0, factor = factor, name = name }, Schedule)
end

--- The rate held for `hold` steps, then decayed linearly to 0 over `decay`
-- steps (CycleGAN, pix2pix).
-- @param opt the optimizer
-- @param o {hold=, decay=}
-- @return the schedule
function M.schedule.constant_then_linear(opt, o)
  local hold, decay = assert(o.hold, "hold"), assert(o.decay, "decay")
  return schedule(opt, function(t)
    return 1 - math.min(1, math.max(0, t - hold) / math.max(1, decay))
  end, "constant_then_linear")
end

--- The rate multiplied by gamma every `every` steps.
-- @param opt the optimizer
-- @param o {every=, gamma=0.1}
-- @return the schedule
function M.schedule.step(opt, o)
  local every, gamma = assert(o.every, "every"), o.gamma or 0.1
  return schedule(opt, function(t) return gamma ^ (t // every) end, "step")
end

--- Cosine annealing from the rate to `min` (default 0) over `total` steps.
-- @param opt the optimizer
-- @param o {total=, min=0}
-- @return the schedule
function M.schedule.cosine(opt, o)
  local total, minlr = assert(o.total, "total"), o.min or 0
  local base = opt.lr
  return schedule(opt, function(t)
    local c = 0.5 * (1 + math.cos(math.pi * math.min(t, total) / total))
    return (minlr + (base - minlr) * c) / base
  end, "cosine")
end

--- A constant rate (for symmetry; `step` changes nothing).
-- @param opt the optimizer
-- @return the schedule
function M.schedule.constant(opt)
  return schedule(opt, function() return 1 end, "constant")
end

-- ----------------------------------------------------------------------------
-- EMA

local EMA = {}
EMA.__index = EMA

--- An exponential moving average of a module's weights (G_ema):
-- a copy updated with ema = decay ema + (1 - decay) w; buffers copied.
--
--     local ema = gan.optim.EMA(G, 0.999)
--     ema:update()            -- after each optG:step
--     local samples = ema:module()(z)
--
-- With `kimg`, the decay follows NVlabs' StyleGAN2 rule instead: the
-- average's half-life is kimg thousand images, so after a batch of
-- `batch` images decay = 0.5^(batch / (1000 kimg)); with `rampup`, the
-- half-life is at most rampup times the images seen so far (the first
-- update copies the weights). Under mpirun, `batch` is one rank's and the
-- images of every rank count. The count of images seen is state
-- (state_dict's `nimg`), saved in checkpoints with the copy's tensors.
--
--     local ema = gan.optim.EMA(G, { kimg = 10, rampup = 0.05, batch = opt.batch })
-- @function EMA
-- @param module the module to follow
-- @param decay the decay (default 0.999), or {decay=} or {kimg=, rampup= (nil: none), batch=}
-- @return the EMA object
function M.EMA(module, decay)
  local o = type(decay) == "table" and decay or { decay = decay }
  local copy = module:clone()
  for _, p in ipairs(copy:parameters()) do p:requires_grad(false) end
  local self = setmetatable({ source = module, copy = copy, decay = o.decay or 0.999 }, EMA)
  if o.kimg then
    if type(o.batch) ~= "number" or o.batch < 1 then
      error("gan.optim.EMA: kimg needs the batch size (batch=)", 2)
    end
    self.kimg, self.rampup, self.batch, self.nimg = o.kimg, o.rampup, o.batch, 0
  end
  return self
end

--- The decay the next update uses: `decay`, or with kimg
-- 0.5^(batch / max(h, 1e-8)), h = 1000 kimg, at most rampup nimg.
-- @return number
function EMA:beta()
  if not self.kimg then return self.decay end
  local h = self.kimg * 1000
  if self.rampup then h = math.min(h, self.nimg * self.rampup) end
  return 0.5 ^ (self.batch * dist.size / math.max(h, 1e-8))
end

--- Moves the average towards the module's current weights (and, with
-- kimg, counts a batch of images seen).
-- @param decay overrides the decay for this update (e.g. 0 to copy)
-- @return self
function EMA:update(decay)
  decay = decay or self:beta()
  local src, dst = self.source:parameters(), self.copy:parameters()
  for i, p in ipairs(dst) do p:lerp_(src[i]:detach(), decay) end
  local sb, db = self.source:buffers(), self.copy:buffers()
  for i, b in ipairs(db) do b:copy_(sb[i]) end
  if self.kimg then self.nimg = self.nimg + self.batch * dist.size end
  return self
end

--- The averaged module.
-- @return module
function EMA:module()
  return self.copy
end

--- The averaged module's tensors (saved in checkpoints), and with kimg the
-- images seen (`nimg`).
-- @return table name -> tensor or number
function EMA:state_dict()
  local sd = self.copy:state_dict()
  if self.kimg then sd.nimg = self.nimg end
  return sd
end

--- Restores the averaged module's tensors (and nimg; a number or its text).
-- @param sd table name -> tensor
function EMA:load_state_dict(sd)
  local tensors = {}
  for k, v in pairs(sd) do
    if k == "nimg" then
      if self.kimg then self.nimg = check.number_or_text("gan.optim.EMA:load_state_dict", "nimg", v, 0) end
    else
      tensors[k] = v
    end
  end
  return self.copy:load_state_dict(tensors)
end

return M
