--- Heads: one trunk, several heads on its output.
--
--     local D = nn.Heads(body, nn.Sequential { nn.Conv2d(c, 1, 4), nn.Flatten() },     -- real or fake
--                              nn.Sequential { nn.Conv2d(c, 10, 4), nn.Flatten() })    -- class logits
--     local adv, cls = D(x)
--
-- The trunk runs once; each head runs on its output and the results come
-- back in order (ACGAN's class head, InfoGAN's Q head, a VAE encoder's mean
-- and log-variance). Parameter names: "trunk.*", "1.*", "2.*", ...
-- @classmod gan.nn.Heads

local Module = require "gan.nn.Module"

local Heads = Module:extend("Heads")

--- @param trunk the shared module
-- @param ... the heads (at least one)
function Heads:init(trunk, ...)
  local heads = { ... }
  if not Module.is_module(trunk) or #heads == 0 then
    error("Heads: expected a trunk module and at least one head module", 3)
  end
  self.trunk = trunk
  for i, h in ipairs(heads) do
    if not Module.is_module(h) then error(("Heads: head %d is not a module"):format(i), 3) end
    self:add_module(i, h)
  end
  self.n = #heads
end

--- x -> head1(trunk(x)), head2(trunk(x)), ...
function Heads:forward(x, ...)
  local h = self.trunk(x, ...)
  local out = {}
  for i = 1, self.n do out[i] = self[i](h) end
  return table.unpack(out, 1, self.n)
end

return Heads
