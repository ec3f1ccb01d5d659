--- Module: the base of every layer and network.
--
-- A module holds parameters (tensors that learn), buffers (tensors that do
-- not, such as batch-norm running statistics) and child modules, in the
-- order they were added. Calling a module runs its `forward`:
--
--     local Block = nn.Module:extend("Block")
--     function Block:init(c)
--       self.conv = nn.Conv2d(c, c, 3, 1, 1)   -- a child: registered by assignment
--       self.scale = self:param("scale", gan.ones(1))
--     end
--     function Block:forward(x) return x + self.conv(x) * self.scale end
--     local b = Block(16)
--     local y = b(x)
--
-- Children are registered when a module is assigned to a new field;
-- parameters and buffers with `self:param(name, t)` and `self:buffer(name, t)`.
-- @classmod gan.nn.Module

local gan = require "gan"
local check = require "gan.check"

local Module = {}

local is_tensor = gan.is_tensor

--- Whether v is a module (a table that holds children).
-- @param v any value
-- @return boolean
local function is_module(v)
  return type(v) == "table" and rawget(v, "_children") ~= nil
end

local function shape_str(t)
  return "(" .. table.concat(t:shape(), ", ") .. ")"
end

-- Metamethods are looked up without __index, so every class carries its own copy.
local metamethods = { "__call", "__tostring", "__newindex" }

local class_mt = {}

--- Makes a new module class that inherits from this one.
-- Define `init(self, ...)` (the constructor) and `forward(self, ...)` on it;
-- optionally `extra_repr(self)` for printing.
-- @param name the class name, shown when the module is printed
-- @return the class; calling it makes an instance
function Module:extend(name)
  local cls = { __name = name, super = self }
  cls.__index = cls
  for _, m in ipairs(metamethods) do cls[m] = self[m] end
  return setmetatable(cls, {
    __index = self,
    __call = function(c, ...) return c:new(...) end,
    __tostring = function() return "class " .. name end,
  })
end

--- Makes an instance of a class: sets up the tables then calls `init`.
-- (`Cls(...)` is the same as `Cls:new(...)`.)
-- @return the new module
function Module:new(...)
  local o = { _children = {}, _params = {}, _buffers = {}, _lr_mult = {}, training = true }
  setmetatable(o, self)
  o:init(...)
  return o
end

--- The constructor; each class overrides it.
function Module:init() end

--- The forward pass; each class overrides it.
function Module:forward()
  error(("%s: forward is not defined"):format(self.__name), 2)
end

--- Calling a module runs forward. A class that sets `tensor_input = true`
-- (the layers of gan.nn) has its first argument checked to be a tensor, so
-- `nn.Linear(3, 2)(nil)` names the module instead of failing inside it.
function Module:__call(...)
  if self.tensor_input then
    local x = ...
    if not is_tensor(x) then check.fail(self.__name .. ":forward", "the input", "a tensor", x, 2) end
  end
  return self:forward(...)
end

--- Assigning a module to a new field registers it as a child, in order.
function Module:__newindex(k, v)
  if is_module(v) then
    local ch = rawget(self, "_children")
    ch[#ch + 1] = k
  end
  rawset(self, k, v)
end

--- Registers a parameter: a tensor that requires a gradient and that the
-- optimizers update.
-- @param name field name (the tensor is stored as self[name])
-- @param t the tensor (set to require grad)
-- @return t
function Module:param(name, t)
  assert(is_tensor(t), "param: expected a tensor")
  t:requires_grad(true)
  local list = rawget(self, "_params")
  if not self:_has(list, name) then list[#list + 1] = name end
  rawset(self, name, t)
  return t
end

--- Registers a buffer: a tensor saved with the module but not learned
-- (running statistics). `nil` removes nothing and registers nothing.
-- @param name field name
-- @param t the tensor or nil
-- @return t
function Module:buffer(name, t)
  if t == nil then return nil end
  local list = rawget(self, "_buffers")
  if not self:_has(list, name) then list[#list + 1] = name end
  rawset(self, name, t)
  return t
end

--- Whether list holds name.
-- @local
function Module:_has(list, name)
  for _, n in ipairs(list) do if n == name then return true end end
  return false
end

--- Registers a child module under a name (assignment does this too).
-- @param name field name (a string or an integer)
-- @param m the module
-- @return m
function Module:add_module(name, m)
  assert(is_module(m), "add_module: expected a module")
  if rawget(self, name) == nil then
    local ch = rawget(self, "_children")
    ch[#ch + 1] = name
  end
  rawset(self, name, m)
  return m
end

--- The direct children, in order.
-- @return list of modules
function Module:children()
  local out = {}
  for _, k in ipairs(self._children) do
    local m = rawget(self, k)
    if m ~= nil then out[#out + 1] = m end
  end
  return out
end

--- The direct children with their names.
-- @return list of {name, module}
function Module:named_children()
  local out = {}
  for _, k in ipairs(self._children) do
    local m = rawget(self, k)
    if m ~= nil then out[#out + 1] = { tostring(k), m } end
  end
  return out
end

--- Every module of the tree, this one first, depth first.
-- @return list of modules
function Module:modules()
  local out = {}
  local function walk(m)
    out[#out + 1] = m
    for _, c in ipairs(m:children()) do walk(c) end
  end
  walk(self)
  return out
end

local function walk_named(self, kind, prefix, out, seen)
  for _, name in ipairs(self[kind]) do
    local t = rawget(self, name)
    if t ~= nil and not seen[t] then
      seen[t] = true
      out[#out + 1] = { name = prefix .. name, tensor = t, module = self, key = name }
    end
  end
  for _, c in ipairs(self:named_children()) do
    walk_named(c[2], kind, prefix .. c[1] .. ".", out, seen)
  end
  return out
end

--- Parameters with their dotted names, in order (a tensor shared by two
-- modules appears once).
-- @return list of entries {name=, tensor=, lr_mult=, module=, key=}
function Module:named_parameters()
  local out = walk_named(self, "_params", "", {}, {})
  for _, e in ipairs(out) do e.lr_mult = e.module._lr_mult[e.key] or 1 end
  return out
end

--- Every parameter tensor, in order.
-- @return list of tensors
function Module:parameters()
  local out = {}
  for i, e in ipairs(walk_named(self, "_params", "", {}, {})) do out[i] = e.tensor end
  return out
end

--- Buffers with their dotted names, in order.
-- @return list of entries {name=, tensor=}
function Module:named_buffers()
  return walk_named(self, "_buffers", "", {}, {})
end

--- Every buffer tensor, in order.
-- @return list of tensors
function Module:buffers()
  local out = {}
  for i, e in ipairs(self:named_buffers()) do out[i] = e.tensor end
  return out
end

--- Number of learnable values.
-- @return integer
function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

--- Sets a learning-rate multiplier on every parameter of this module and
-- its children (the optimizers multiply their rate by it; 0 freezes).
-- @param m the multiplier
-- @return self
function Module:lr_mult(m)
  assert(type(m) == "number", "lr_mult: expected a number")
  for _, mod in ipairs(self:modules()) do
    for _, name in ipairs(mod._params) do mod._lr_mult[name] = m end
  end
  return self
end

--- Sets training mode (true by default) on the whole tree: batch norm uses
-- batch statistics and dropout drops.
-- @param mode boolean (default true)
-- @return self
function Module:train(mode)
  if mode == nil then mode = true end
  for _, m in ipairs(self:modules()) do rawset(m, "training", mode) end
  return self
end

--- Sets evaluation mode on the whole tree (same as train(false)).
-- @return self
function Module:eval()
  return self:train(false)
end

--- Calls fn(module) on every child, depth first, then on this module.
-- @param fn function(module)
-- @return self
function Module:apply(fn)
  for _, c in ipairs(self:children()) do c:apply(fn) end
  fn(self)
  return self
end

--- Parameters and buffers by dotted name (the tensors themselves, not copies).
-- @return table name -> tensor
function Module:state_dict()
  local sd = {}
  for _, e in ipairs(walk_named(self, "_params", "", {}, {})) do sd[e.name] = e.tensor end
  for _, e in ipairs(self:named_buffers()) do sd[e.name] = e.tensor end
  return sd
end

--- Copies tensors into the parameters and buffers of the same names.
-- Every check is made before anything is copied.
-- @param sd table name -> tensor
-- @param strict (default true) raise an error on missing or unexpected keys
-- @return list of missing keys, list of unexpected keys
function Module:load_state_dict(sd, strict)
  check.table(self.__name .. ":load_state_dict", "the state", sd)
  if strict == nil then strict = true end
  local own = self:state_dict()
  local missing, unexpected, bad = {}, {}, {}
  for k, t in pairs(own) do
    local src = sd[k]
    if src == nil then
      missing[#missing + 1] = k
    elseif not is_tensor(src) then
      bad[#bad + 1] = ("%s: expected a tensor, got %s"):format(k, type(src))
    elseif src:dim() ~= t:dim() or shape_str(src) ~= shape_str(t) then
      bad[#bad + 1] = ("%s: shape %s in the state, %s in the module"):format(k, shape_str(src), shape_str(t))
    end
  end
  for k in pairs(sd) do
    if own[k] == nil then unexpected[#unexpected + 1] = k end
  end
  table.sort(missing); table.sort(unexpected); table.sort(bad)
  local errs = {}
  if #bad > 0 then errs[#errs + 1] = "size mismatch: " .. table.concat(bad, "; ") end
  if strict and #missing > 0 then errs[#errs + 1] = "missing keys: " .. table.concat(missing, ", ") end
  if strict and #unexpected > 0 then errs[#errs + 1] = "unexpected keys: " .. table.concat(unexpected, ", ") end
  if #errs > 0 then
    error(("load_state_dict (%s): %s"):format(self.__name, table.concat(errs, "\n  ")), 2)
  end
  for k, t in pairs(own) do
    local src = sd[k]
    if src ~= nil then t:copy_(src) end
  end
  return missing, unexpected
end

local function copy_value(v, memo)
  if is_tensor(v) then
    if memo[v] then return memo[v] end
    local c = v:detach():clone()
    if v:requires_grad() then c:requires_grad(true) end
    memo[v] = c
    return c
  elseif type(v) == "table" then
    if memo[v] then return memo[v] end
    local c = {}
    memo[v] = c
    for k, x in pairs(v) do rawset(c, copy_value(k, memo), copy_value(x, memo)) end
    return setmetatable(c, getmetatable(v))
  end
  return v
end

--- A deep copy: same structure, copies of every tensor (parameters stay
-- parameters; shared tensors stay shared).
-- @return the new module
function Module:clone()
  return copy_value(self, {})
end

--- One line that describes this module's settings (classes override it).
-- @return string
--- Settings shown when printed.
function Module:extra_repr()
  return ""
end

--- The module tree, as PyTorch prints it: a module with children opens
-- with its name and "(", its settings (if any) on a line of their own, a
-- line per child, and ")" alone.
function Module:__tostring()
  local extra = self:extra_repr()
  local kids = self:named_children()
  if #kids == 0 then return self.__name .. "(" .. extra .. ")" end
  local lines = { self.__name .. "(" }
  if extra ~= "" then lines[2] = "  " .. extra end
  for _, c in ipairs(kids) do
    local s = tostring(c[2]):gsub("\n", "\n  ")
    lines[#lines + 1] = ("  (%s): %s"):format(c[1], s)
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

Module.__index = Module
Module.__name = "Module"
Module.is_tensor = is_tensor
Module.is_module = is_module
setmetatable(Module, { __call = function(c, ...) return c:new(...) end })

return Module
