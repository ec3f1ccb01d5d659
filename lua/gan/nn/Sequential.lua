--- Sequential: modules applied one after another.
--
--     local net = nn.Sequential { nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1) }
--     net:add(nn.Sigmoid())       -- returns net
--     net[1], #net                -- the first layer, the number of layers
--
-- Children are named 1, 2, ... (parameter names "1.weight", "3.bias", ...).
-- @classmod gan.nn.Sequential

local Module = require "gan.nn.Module"

local Sequential = Module:extend("Sequential")

--- Makes a Sequential from a list of modules (optional).
-- @param list list of modules
function Sequential:init(list)
  for _, m in ipairs(list or {}) do self:add(m) end
end

--- Appends a module.
-- @param m module
-- @return self
function Sequential:add(m)
  if not Module.is_module(m) then
    error(("Sequential:add: expected a module, got %s"):format(type(m)), 2)
  end
  self:add_module(#self + 1, m)
  return self
end

--- Appends the modules of a list in order, skipping `false` entries, so
-- optional layers read inline: `seq:add_all { conv, norm or false, nn.ReLU() }`.
-- @param list list of modules and false
-- @return self
function Sequential:add_all(list)
  for i = 1, #list do
    if list[i] then self:add(list[i]) end
  end
  return self
end

--- Number of modules (also #seq).
-- @return integer
function Sequential:size()
  return #self
end

--- The module at position i (also seq[i]).
-- @param i position, 1-based
-- @return module
function Sequential:get(i)
  return self[i]
end

--- Runs each module on the output of the previous one.
-- @param x input
-- @return output of the last module
function Sequential:forward(x, ...)
  local n = #self
  if n == 0 then return x end
  x = self[1](x, ...)
  for i = 2, n do x = self[i](x) end
  return x
end

return Sequential
