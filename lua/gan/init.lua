--- gan: the ganlua library.
--
-- Everything of the C module gan.core (tensors, ops, autograd, random state,
-- threads, kernels, fused optimizer updates, files) is a field of this
-- table; the Lua submodules load on first use: `gan.nn` requires "gan.nn",
-- `gan.optim` requires "gan.optim", and so on for each gan/<name>.lua.
-- The functions of gan.core are listed on the pages gan.tensors (making
-- and reading tensors), gan.Tensor (the ops), gan.autograd (gradients,
-- random state, threads, kernels), gan.io and gan.stats; `help(gan.cat)`
-- in the REPL prints one entry.
--
--     local gan = require "gan"
--     local x = gan.randn(2, 3):requires_grad(true)
--     local g = gan.grad((x * x):sum(), x)     -- 2x
--
-- @module gan

local core = require "gan.core"

local gan = {}
for k, v in pairs(core) do
  if k ~= "_docs" then gan[k] = v end -- the binding's reference, read by gan.help
end

--- Seeds the random generator: the default stream and every named one
-- start again from their beginning (see gan.random).
-- @param seed integer
function gan.manual_seed(seed)
  return require("gan.random").seed(seed)
end


local function lazy(t, name)
  if type(name) ~= "string" then return nil end
  local modname = "gan." .. name
  -- a file that is missing is a typo; a file that fails to load is a bug: report each
  if not package.searchpath(modname, package.path) and not package.preload[modname] then
    error(("gan.%s: no such function or module (no gan/%s.lua on package.path)"):format(name, name), 2)
  end
  local mod = require(modname)
  rawset(t, name, mod)
  return mod
end

return setmetatable(gan, { __index = lazy })
