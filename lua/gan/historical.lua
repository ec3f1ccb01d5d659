--- gan.historical: historical averaging of a player's parameters.
--
-- Salimans et al. 2016 (Improved Techniques for Training GANs) add to each
-- player's cost the distance of its parameters θ from their average over
-- the past steps, ||θ - (1/t) Σ_i θ[i]||². The term pulls a player back
-- towards where it has been, damping the orbits that gradient descent on a
-- game can fall into.
--
--     local hD = gan.historical(D)
--     optD:step(lossD + hD:penalty() * opt.hist_weight)
--     hD:update()                       -- after each step: fold θ into the average
--
-- The average and the count are state (`state_dict`), so a checkpoint keeps them.
-- @module gan.historical

local gan = require "gan"

local M = {}

local History = {}
History.__index = History

--- An average of a module's parameters, starting empty.
-- @param module the module whose parameters to follow
-- @return the object
function M.new(module)
  if type(module) ~= "table" or type(module.named_parameters) ~= "function" then
    error("gan.historical: expected a module", 2)
  end
  local self = setmetatable({ entries = {}, count = 0 }, History)
  for _, e in ipairs(module:named_parameters()) do
    self.entries[#self.entries + 1] = { name = e.name, param = e.tensor, avg = gan.zeros(e.tensor:shape()) }
  end
  return self
end

--- Σ over parameters of ||θ - average||² as a differentiable scalar (0
-- before the first update).
-- @return scalar tensor
function History:penalty()
  local total = gan.scalar(0)
  if self.count == 0 then return total end
  for _, e in ipairs(self.entries) do total = total + (e.param - e.avg):square():sum() end
  return total
end

--- Folds the current parameters into the average (a running mean).
-- @return self
function History:update()
  self.count = self.count + 1
  local keep = (self.count - 1) / self.count
  for _, e in ipairs(self.entries) do e.avg:lerp_(e.param:detach(), keep) end
  return self
end

--- The averages (by parameter name) and the count.
-- @return table
function History:state_dict()
  local sd = { count = self.count }
  for _, e in ipairs(self.entries) do sd["avg." .. e.name] = e.avg end
  return sd
end

--- Restores a state_dict (the count may come back as text).
-- @param sd table
function History:load_state_dict(sd)
  local known = { count = true }
  for _, e in ipairs(self.entries) do
    local t = sd["avg." .. e.name]
    if t == nil then error(("gan.historical: the state has no average of %s"):format(e.name), 2) end
    known["avg." .. e.name] = true
    e.avg:copy_(t)
  end
  for k in pairs(sd) do
    if not known[k] then error(("gan.historical: unexpected entry %s in the state"):format(k), 2) end
  end
  self.count = math.tointeger(tonumber(sd.count)) or 0
end

return setmetatable(M, { __call = function(_, module) return M.new(module) end })
