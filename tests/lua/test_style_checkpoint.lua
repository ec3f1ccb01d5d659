-- The state of a StyleGAN2-style run survives a checkpoint: the mapping's
-- w_avg, the noise buffers, the path length's pl_mean, the EMA's copy and
-- its image count, the lazily regularised Adam's moments and scaled rates,
-- and the positions of the named streams the layers draw from.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn, P = gan.nn, gan.penalties


-- a tiny generator: mapping (2 layers, 3 ws), a 4x4 styled conv, an up-2 styled conv, ToRGBs with the skip
local G = nn.Module:extend("TinyG")
function G:init()
  self.mapping = nn.MappingNetwork(4, 4, { layers = 2, num_ws = 3 })
  self:param("const", gan.randn(1, 2, 4, 4))
  self.conv4 = nn.StyledConv2d(2, 2, 3, 4, { resolution = 4 })
  self.rgb4 = nn.ToRGB(2, 1, 4)
  self.conv8 = nn.StyledConv2d(2, 2, 3, 4, { up = 2, resolution = 8 })
  self.rgb8 = nn.ToRGB(2, 1, 4)
end
function G:synthesis(ws)
  local x = self.conv4(self.const:expand(ws:size(1), 2, 4, 4), ws:select(2, 1))
  local img = self.rgb4(x, ws:select(2, 1))
  x = self.conv8(x, ws:select(2, 2))
  return self.rgb8(x, ws:select(2, 3), { skip = img })
end
function G:forward(z) return self:synthesis(self.mapping(z)) end

local function run(seed)
  gan.manual_seed(seed)
  local g = G()
  local optG = gan.optim.Adam(g, { lr = 0.01, betas = { 0, 0.99 }, reg_interval = 4 })
  local ema = gan.optim.EMA(g, { kimg = 0.01, rampup = 0.05, batch = 4 })
  local pl = P.PathLength()
  return { G = g, optG = optG, ema = ema, pl = pl }
end

local function train(s, steps)
  for step = 1, steps do
    local z = gan.randn(4, 4)
    local ws = s.G.mapping(z)
    ws = s.G.mapping:mix(ws, z)
    s.optG:step((s.G:synthesis(ws) ^ 2):mean())
    local zr = gan.randn(s.pl:batch(4), 4)
    local wr = s.G.mapping(zr)
    local reg = P.lazy(step, 2, s.pl.penalty, s.pl, s.G:synthesis(wr), wr)
    if reg then s.optG:step(reg) end
    s.ema:update()
  end
end

T.case("save, load into fresh objects, and every buffer and state comes back", function()
  local dir = U.tmpdir("style_checkpoint")
  local a = run(1)
  train(a, 3)
  U.truthy(U.maxdiff(a.G.mapping.w_avg, gan.zeros(4)) > 0, "w_avg moved")
  U.truthy(a.pl.pl_mean:item() > 0, "pl_mean moved")
  assert(gan.checkpoint.save(dir .. "/ck.safetensors", a, { step = 3 }))
  -- what the run draws next, before anything else moves the streams
  local ref = run(1)
  train(ref, 3)
  local after = gan.random.state()

  local b = run(2)                                   -- other weights, other buffers
  U.truthy(U.maxdiff(b.G.conv4.noise.noise_const, a.G.conv4.noise.noise_const) > 0, "different noise buffers")
  local meta = assert(gan.checkpoint.load(dir .. "/ck.safetensors", b))
  U.equal(meta.step, "3")
  for name, t in pairs(a.G:state_dict()) do
    U.equal(U.maxdiff(b.G:state_dict()[name], t), 0, "G." .. name)
  end
  U.equal(U.maxdiff(b.G.mapping.w_avg, a.G.mapping.w_avg), 0, "w_avg")
  U.equal(U.maxdiff(b.G.conv8.noise.noise_const, a.G.conv8.noise.noise_const), 0, "noise_const")
  U.equal(b.pl.pl_mean:item(), a.pl.pl_mean:item(), "pl_mean")
  for name, t in pairs(a.ema:module():state_dict()) do
    U.equal(U.maxdiff(b.ema:module():state_dict()[name], t), 0, "ema." .. name)
  end
  U.equal(b.ema.nimg, a.ema.nimg, "the EMA's image count")
  U.close(b.optG.lr, a.optG.lr, 0, "the scaled rate")
  for k, v in pairs(a.optG:state_dict()) do
    if gan.is_tensor(v) then U.equal(U.maxdiff(b.optG:state_dict()[k], v), 0, "optG." .. k) end
  end
  -- the next steps are the same as the uninterrupted run's
  local rs = gan.random.state()
  U.equal(rs.streams["style.mixing"], after.streams["style.mixing"], "style.mixing's position")
  U.equal(rs.streams["penalties.path_length"], after.streams["penalties.path_length"], "path length's")
  gan.random.set_state(after)
  train(ref, 2)
  gan.random.set_state(rs)
  train(b, 2)
  for name, t in pairs(ref.G:state_dict()) do
    U.truthy(U.maxdiff(b.G:state_dict()[name], t) < 1e-6, "two more steps: G." .. name)
  end
  U.equal(b.pl.pl_mean:item(), ref.pl.pl_mean:item(), "two more steps: pl_mean")
end)

T.run()
