-- gan.optim: each optimizer against steps computed by hand; state dicts;
-- schedules; EMA.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn, optim = gan.nn, gan.optim

local function param(v) return gan.tensor(v):requires_grad(true) end

T.case("SGD: plain, momentum, dampening, Nesterov, weight decay", function()
  local p = param { 1, 2 }
  local o = optim.SGD({ p }, { lr = 0.1 })
  o:step({ gan.tensor { 0.5, -1 } })
  U.tclose(p, { 1 - 0.05, 2 + 0.1 }, 1e-6, "plain")

  -- momentum 0.9, dampening 0.1: buf = g1; then buf = 0.9 buf + 0.9 g2
  local q = param { 1, 2 }
  local g1, g2 = { 0.5, -1 }, { 1, 1 }
  local om = optim.SGD({ q }, { lr = 0.1, momentum = 0.9, dampening = 0.1 })
  om:step({ gan.tensor(g1) })
  om:step({ gan.tensor(g2) })
  local want = {}
  for i = 1, 2 do
    local buf = g1[i]
    local x = ({ 1, 2 })[i] - 0.1 * buf
    buf = 0.9 * buf + 0.9 * g2[i]
    want[i] = x - 0.1 * buf
  end
  U.tclose(q, want, 1e-6, "momentum")

  local r = param { 1, -1 }
  local on = optim.SGD({ r }, { lr = 0.1, momentum = 0.5, nesterov = true, weight_decay = 0.1 })
  on:step({ gan.tensor { 1, 1 } })
  on:step({ gan.tensor { 1, 1 } })
  local x = { 1, -1 }
  local buf = {}
  for s = 1, 2 do
    for i = 1, 2 do
      local g = 1 + 0.1 * x[i]
      buf[i] = s == 1 and g or 0.5 * buf[i] + g
      x[i] = x[i] - 0.1 * (g + 0.5 * buf[i])
    end
  end
  U.tclose(r, x, 1e-6, "nesterov with weight decay")
end)

local function adam_ref(p0, grads, lr, b1, b2, eps, wd, decoupled)
  local p, m, v = { table.unpack(p0) }, {}, {}
  for i = 1, #p do m[i], v[i] = 0, 0 end
  for t, g in ipairs(grads) do
    for i = 1, #p do
      local gi = g[i]
      if decoupled then p[i] = p[i] - lr * wd * p[i] else gi = gi + wd * p[i] end
      m[i] = b1 * m[i] + (1 - b1) * gi
      v[i] = b2 * v[i] + (1 - b2) * gi * gi
      local mh, vh = m[i] / (1 - b1 ^ t), v[i] / (1 - b2 ^ t)
      p[i] = p[i] - lr * mh / (math.sqrt(vh) + eps)
    end
  end
  return p
end

T.case("Adam: three steps by hand; beta1 = 0; weight decay; AdamW", function()
  local grads = { { 0.5, -1, 2 }, { 0.1, 0.2, -0.3 }, { -1, 0, 1 } }
  local cases = {
    { opts = { lr = 0.01, betas = { 0.9, 0.999 } }, ref = { 0.01, 0.9, 0.999, 1e-8, 0, false } },
    { opts = { lr = 0.01, betas = { 0, 0.99 } }, ref = { 0.01, 0, 0.99, 1e-8, 0, false } },
    { opts = { lr = 0.01, betas = { 0.5, 0.999 }, weight_decay = 0.1 }, ref = { 0.01, 0.5, 0.999, 1e-8, 0.1, false } },
    { opts = { lr = 0.01, weight_decay = 0.1, decoupled = true }, ref = { 0.01, 0.9, 0.999, 1e-8, 0.1, true } },
  }
  for k, c in ipairs(cases) do
    local p = param { 1, 2, -3 }
    local o = optim.Adam({ p }, c.opts)
    for _, g in ipairs(grads) do o:step({ gan.tensor(g) }) end
    U.tclose(p, adam_ref({ 1, 2, -3 }, grads, table.unpack(c.ref)), 1e-5, "case " .. k)
  end
  local q = param { 1, 2, -3 }
  local w = optim.AdamW({ q }, { lr = 0.01 })
  for _, g in ipairs(grads) do w:step({ gan.tensor(g) }) end
  U.tclose(q, adam_ref({ 1, 2, -3 }, grads, 0.01, 0.9, 0.999, 1e-8, 0.01, true), 1e-5, "AdamW")
end)

T.case("reset: the next update is a first one again, at the same rate", function()
  local grads = { { 0.5, -1, 2 }, { 0.1, 0.2, -0.3 } }
  local p = param { 1, 2, -3 }
  local o = optim.Adam({ p }, { lr = 0.01, betas = { 0.5, 0.99 } })
  o:step({ gan.tensor(grads[1]) })
  local after1 = p:totable()
  U.equal(o:reset(), o, "returns the optimizer")
  U.equal(o:state_dict()["1.step"], nil, "no moments, no step count")
  o:step({ gan.tensor(grads[2]) })
  U.tclose(p, adam_ref(after1, { grads[2] }, 0.01, 0.5, 0.99, 1e-8, 0, false), 1e-6, "one fresh Adam step from there")
  U.equal(o.lr, 0.01)
end)

T.case("RMSprop by hand", function()
  local p = param { 1, -2 }
  local o = optim.RMSprop({ p }, { lr = 0.01, alpha = 0.9 })
  local grads = { { 0.5, 1 }, { -0.5, 2 } }
  for _, g in ipairs(grads) do o:step({ gan.tensor(g) }) end
  local x, sq = { 1, -2 }, { 0, 0 }
  for _, g in ipairs(grads) do
    for i = 1, 2 do
      sq[i] = 0.9 * sq[i] + 0.1 * g[i] * g[i]
      x[i] = x[i] - 0.01 * g[i] / (math.sqrt(sq[i]) + 1e-8)
    end
  end
  U.tclose(p, x, 1e-5)
end)

T.case("step(loss) differentiates for its own parameters only", function()
  local a, b = param { 1, 2 }, param { 3 }
  local o = optim.SGD({ a }, { lr = 0.5 })
  local loss = (a * a):sum() + (b * a):sum()
  o:step(loss)
  -- d/da = 2a + b
  U.tclose(a, { 1 - 0.5 * (2 + 3), 2 - 0.5 * (4 + 3) }, 1e-6)
  U.tclose(b, { 3 }, 0, "b untouched")
  local c = param { 1 }
  local unused = optim.SGD({ a, c }, { lr = 1 })
  unused:step((a * 2):sum())   -- c takes no part: skipped, no error
  U.tclose(c, { 1 }, 0)
end)

T.case("unknown options and bad arguments are errors", function()
  U.raises(function() optim.Adam({ param { 1 } }, { momentum = 0.9 }) end, "unknown option 'momentum'")
  U.raises(function() optim.SGD({ param { 1 } }):step(3) end, "expected a loss tensor")
end)

T.case("state_dict round trip: the same next steps", function()
  gan.manual_seed(3)
  local net = nn.Linear(3, 2)
  local twin = net:clone()
  local oa = optim.Adam(net, { lr = 0.1 })
  local x = gan.randn(4, 3)
  for _ = 1, 2 do oa:step(net(x):square():sum()) end
  twin:load_state_dict(net:state_dict())
  local ob = optim.Adam(twin, { lr = 0.3 })
  local sd = oa:state_dict()
  U.truthy(sd["weight.m"] and sd["weight.v"], "moments by parameter name")
  U.equal(sd["weight.step"], 2)
  -- through text, as from a checkpoint
  local text = {}
  for k, v in pairs(sd) do text[k] = type(v) == "number" and tostring(v) or v end
  ob:load_state_dict(text)
  U.equal(ob.lr, 0.1, "lr restored")
  oa:step(net(x):square():sum())
  ob:step(twin(x):square():sum())
  U.equal(U.maxdiff(net.weight, twin.weight), 0, "bit-identical after a further step")
  U.raises(function() ob:load_state_dict({ ["nope.m"] = gan.zeros(1) }) end, "unexpected keys: nope.m")
end)

T.case("schedules: constant_then_linear, step, cosine; state", function()
  local o = optim.SGD({ param { 1 } }, { lr = 1 })
  local s = optim.schedule.constant_then_linear(o, { hold = 2, decay = 4 })
  local seen = {}
  for i = 1, 7 do seen[i] = s:step() end
  U.tclose(gan.tensor(seen), { 1, 1, 0.75, 0.5, 0.25, 0, 0 }, 1e-12)
  U.equal(o.lr, 0)
  local o2 = optim.SGD({ param { 1 } }, { lr = 0.1 })
  local st = optim.schedule.step(o2, { every = 3, gamma = 0.5 })
  for _ = 1, 6 do st:step() end
  U.close(o2.lr, 0.025, 1e-12)
  local o3 = optim.Adam({ param { 1 } }, { lr = 2 })
  local c = optim.schedule.cosine(o3, { total = 4 })
  c:step(); c:step()
  U.close(o3.lr, 1, 1e-12, "half way")
  local sd = c:state_dict()
  c:step(); c:step()
  U.close(o3.lr, 0, 1e-12)
  c:load_state_dict({ t = "2", base_lr = "2" })
  U.close(o3.lr, 1, 1e-12, "restored")
end)

T.case("EMA: lerp of parameters, copied buffers, state", function()
  local net = nn.Sequential { nn.Linear(2, 2), nn.BatchNorm1d(2) }
  local ema = optim.EMA(net, 0.9)
  local before = ema:module()[1].weight:clone()
  gan.no_grad(function() net[1].weight:copy_(net[1].weight + 1) end)
  net(gan.randn(4, 2))
  ema:update()
  local want = before * 0.9 + net[1].weight * 0.1
  U.truthy(U.maxdiff(ema:module()[1].weight, want) < 1e-6, "lerp")
  U.equal(U.maxdiff(ema:module()[2].running_mean, net[2].running_mean), 0, "buffers copied")
  U.equal(ema:module()[1].weight:requires_grad(), false)
  local sd = ema:state_dict()
  U.truthy(sd["1.weight"], "state of the copy")
end)

T.case("lazy regularisation: lr c and betas^c, c = k / (k + 1), as NVlabs' training loop", function()
  local lr, betas = optim.lazy_rates(0.0025, { 0, 0.99 }, 4)
  U.close(lr, 0.002, 1e-12, "lr 4/5")
  U.close(betas[1], 0, 0); U.close(betas[2], 0.99 ^ 0.8, 1e-12, "beta2^(4/5)")
  local same = optim.lazy_rates(0.1, { 0.5, 0.9 }, 0)
  U.close(same, 0.1, 0, "interval 0: unchanged")
  local given = { 0.5, 0.9 }
  local p = param { 1, -2 }
  local o = optim.Adam({ p }, { lr = 0.17, betas = given, reg_interval = 16 })
  U.close(o.lr, 0.16, 1e-12, "0.17 * 16 / 17")
  U.close(o.betas[1], 0.5 ^ (16 / 17), 1e-12); U.close(o.betas[2], 0.9 ^ (16 / 17), 1e-12)
  U.equal(given[1], 0.5, "the caller's betas are left alone")
  U.equal(optim.Adam({ param { 1 } }).betas[1], 0.9, "the defaults too")
  -- two steps with the scaled rate and betas, by hand
  local g = { { 0.5, -1 }, { 0.2, 0.3 } }
  o:step({ gan.tensor(g[1]) })
  o:step({ gan.tensor(g[2]) })
  local b1, b2 = 0.5 ^ (16 / 17), 0.9 ^ (16 / 17)
  local want = {}
  for i = 1, 2 do
    local x, m, v = ({ 1, -2 })[i], 0, 0
    for t = 1, 2 do
      m = b1 * m + (1 - b1) * g[t][i]
      v = b2 * v + (1 - b2) * g[t][i] ^ 2
      x = x - 0.16 * (m / (1 - b1 ^ t)) / (math.sqrt(v / (1 - b2 ^ t)) + 1e-8)
    end
    want[i] = x
  end
  U.tclose(p, want, 1e-6, "Adam with the scaled rates")
  U.raises(function() optim.Adam({ param { 1 } }, { reg_interval = -1 }) end, "reg_interval must be")
end)

T.case("EMA with NVlabs' ramp-up: half-life kimg thousand images, at most rampup times those seen", function()
  local net = nn.Linear(2, 2)
  local ema = optim.EMA(net, { kimg = 10, rampup = 0.05, batch = 32 })
  U.close(ema:beta(), 0, 0, "no image seen: the first update copies")
  gan.no_grad(function() net.weight:copy_(net.weight + 1) end)
  ema:update()
  U.equal(U.maxdiff(ema:module().weight, net.weight), 0, "copied")
  U.equal(ema.nimg, 32)
  U.close(ema:beta(), 0.5 ^ (32 / (32 * 0.05)), 1e-15, "half-life 0.05 * 32 images")
  for _ = 1, 9 do ema:update() end
  U.close(ema:beta(), 0.5 ^ (32 / (320 * 0.05)), 1e-15, "after 320 images")
  ema.nimg = 10 ^ 6
  U.close(ema:beta(), 0.5 ^ (32 / 10000), 1e-15, "capped at kimg: 10,000 images")
  local before = ema:module().weight:clone()
  gan.no_grad(function() net.weight:copy_(net.weight + 1) end)
  local b = ema:beta()
  ema:update()
  U.truthy(U.maxdiff(ema:module().weight, before * b + net.weight * (1 - b)) < 1e-6, "the lerp with that decay")
  local plain = optim.EMA(nn.Linear(2, 2), { kimg = 10, batch = 64 })
  U.close(plain:beta(), 0.5 ^ (64 / 10000), 1e-15, "no ramp-up")
  U.close(optim.EMA(nn.Linear(2, 2)):beta(), 0.999, 0, "a fixed decay by default")
  local sd = ema:state_dict()
  U.equal(sd.nimg, 10 ^ 6 + 32, "nimg is state")
  local other = optim.EMA(net, { kimg = 10, rampup = 0.05, batch = 32 })
  other:load_state_dict({ nimg = "1000064", weight = sd.weight, bias = sd.bias })
  U.equal(other.nimg, 1000064, "restored from a checkpoint's text")
  U.raises(function() optim.EMA(net, { kimg = 10 }) end, "needs the batch size")
end)

T.run()
