--- gan.check: checks of arguments and of values read back from files, with
-- messages that name the function, the argument and what was given.
--
--     local check = require "gan.check"
--     check.integer("gan.nn.Linear", "in_features", n, 1)        -- a whole number >= 1
--     check.tensor("gan.nn.Linear:forward", "x", x)
--     local pos = check.integer_or_text("Sampler:load_state_dict", "pos", sd.pos, 0, n)  -- "12" too
--
-- Each check returns the value (a number read from text converted) or
-- raises "<who>: <what> must be <rule>, got <value>". A value shown in a
-- message is escaped (control characters and ANSI escapes from a file never
-- reach the terminal raw) and cut to a few dozen characters.
-- Requires gan (is_tensor); reads no options.
-- @module gan.check

local M = {}

-- the caller of the function that called a check
local LEVEL = 3

-- the library's folder (lua/gan), to find the first caller outside it
local LIB = debug.getinfo(1, "S").source:match("^@(.*/)check%.lua$")

-- The error level of the first Lua function outside the library on the
-- stack (the user's script, where the bad argument came from), seen from
-- M.fail; `fallback` when there is none.
local function user_level(fallback)
  if not LIB then return fallback end
  for l = 3, 60 do
    local info = debug.getinfo(l, "S")
    if not info then break end
    if info.what ~= "C" and info.source:sub(2, #LIB + 1) ~= LIB then return l - 1 end
  end
  return fallback
end

local function is_tensor(v)
  local gan = package.loaded.gan
  return gan ~= nil and gan.is_tensor(v)
end

--- Text that is safe to print: control characters and DEL as \ddd, long
-- text cut with "...", strings quoted, tables and tensors by their kind.
-- @param v any value
-- @param max the longest text kept (default 60 characters)
-- @return string
function M.shown(v, max)
  max = max or 60
  if type(v) == "string" then
    local s = v
    if #s > max then s = s:sub(1, max) .. "..." end
    return '"' .. M.escape(s) .. '"'
  end
  if is_tensor(v) then return ("a tensor of shape (%s)"):format(table.concat(v:shape(), ", ")) end
  if type(v) == "table" then
    local name = getmetatable(v) and rawget(getmetatable(v), "__name")
    return type(name) == "string" and ("a %s"):format(M.escape(name)) or "a table"
  end
  if v == nil then return "nil" end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return "a " .. type(v)
end

--- s with every control character (ESC included) and DEL written as \ddd.
-- @param s string
-- @return string
function M.escape(s)
  return (tostring(s):gsub("[%c\127]", function(c) return ("\\%03d"):format(c:byte()) end))
end

--- "a, b, c, d and 6 more": the first names (escaped) and a count of the rest.
-- @param names list of strings
-- @param shown how many to show (default 4)
-- @return string
function M.some(names, shown)
  shown = shown or 4
  local first = {}
  for i = 1, math.min(#names, shown) do first[i] = M.escape(names[i]) end
  local text = table.concat(first, ", ")
  if #names > #first then text = ("%s and %d more"):format(text, #names - #first) end
  return text
end

--- Raises "<who>: <what> must be <rule>, got <value>", at the first caller
-- outside the library (where the value came from).
-- @param who the function
-- @param what the argument
-- @param rule what it must be
-- @param v what was given
-- @param level error level when no caller outside the library is found
--   (default: the caller of the checking function)
function M.fail(who, what, rule, v, level)
  error(("%s: %s must be %s, got %s"):format(who, what, rule, M.shown(v)), user_level(level or LEVEL))
end

local function range_text(lo, hi)
  if lo and hi then return (" in [%s, %s]"):format(lo, hi) end
  if lo then return lo == 1 and " >= 1" or (" >= %s"):format(lo) end
  if hi then return (" <= %s"):format(hi) end
  return ""
end

--- Raises msg at the first caller outside the library.
-- @param msg the message
function M.error(msg)
  error(msg, user_level(2))
end

-- the number v is, or its text reads as (text only when `text`)
local function as_number(v, text)
  if text and type(v) == "string" then return tonumber(v) end
  return type(v) == "number" and v or nil
end

local function integer(who, what, v, lo, hi, level, text)
  local n = as_number(v, text)
  n = n and math.tointeger(n)
  if n == nil or n < (lo or -2 ^ 53) or n > (hi or 2 ^ 53) then
    M.fail(who, what, "a whole number" .. range_text(lo, hi), v, level)
  end
  return n
end

local function number(who, what, v, lo, hi, level, text)
  local n = as_number(v, text)
  if n == nil or n ~= n or n == math.huge or n == -math.huge or (lo and n < lo) or (hi and n > hi) then
    M.fail(who, what, "a finite number" .. range_text(lo, hi), v, level)
  end
  return n
end

--- A whole number in [lo, hi] (either bound may be nil); 2.5, "3", NaN and
-- infinities are refused.
-- @param who the function
-- @param what the argument
-- @param v the value
-- @param lo the least allowed (nil: -2^53)
-- @param hi the greatest allowed (nil: 2^53; beyond, floats skip integers)
-- @param level error level
-- @return the integer
function M.integer(who, what, v, lo, hi, level)
  return integer(who, what, v, lo, hi, level, false)
end

--- As integer, but text that reads as a whole number ("12", as metadata
-- comes back from a file) is converted; "abc", "2.5", "1e300" are refused.
-- @param who the function
-- @param what the argument
-- @param v the value
-- @param lo the least allowed (nil: -2^53)
-- @param hi the greatest allowed (nil: 2^53)
-- @param level error level
-- @return the integer
function M.integer_or_text(who, what, v, lo, hi, level)
  return integer(who, what, v, lo, hi, level, true)
end

--- A finite number in [lo, hi] (either bound may be nil).
-- @param who the function
-- @param what the argument
-- @param v the value
-- @param lo the least allowed (nil: none)
-- @param hi the greatest allowed (nil: none)
-- @param level error level
-- @return the number
function M.number(who, what, v, lo, hi, level)
  return number(who, what, v, lo, hi, level, false)
end

--- As number, but text that reads as a finite number is converted.
-- @param who the function
-- @param what the argument
-- @param v the value
-- @param lo the least allowed (nil: none)
-- @param hi the greatest allowed (nil: none)
-- @param level error level
-- @return the number
function M.number_or_text(who, what, v, lo, hi, level)
  return number(who, what, v, lo, hi, level, true)
end

--- A tensor.
-- @param who the function
-- @param what the argument
-- @param v the value
-- @param level error level
-- @return v
function M.tensor(who, what, v, level)
  if not is_tensor(v) then M.fail(who, what, "a tensor", v, (level or LEVEL) + 1) end
  return v
end

--- A table (options, a state dict, a list).
-- @param who the function
-- @param what the argument
-- @param v the value
-- @param level error level
-- @return v
function M.table(who, what, v, level)
  if type(v) ~= "table" or is_tensor(v) then M.fail(who, what, "a table", v, (level or LEVEL) + 1) end
  return v
end

--- A module, or anything with parameters() (what optimizers take).
-- @param who the function
-- @param what the argument
-- @param v the value
-- @param level error level
-- @return v
function M.module(who, what, v, level)
  if type(v) ~= "table" or is_tensor(v) or type(v.parameters) ~= "function" then
    M.fail(who, what, "a module (with parameters())", v, (level or LEVEL) + 1)
  end
  return v
end

--- A whole number or a {h, w} pair of them, each >= lo.
-- @param who the function
-- @param what the argument
-- @param v the value (nil: default)
-- @param lo the least allowed
-- @param default used when v is nil
-- @param level error level
-- @return {h, w}
function M.pair(who, what, v, lo, default, level)
  if v == nil then v = default end
  local lv = (level or LEVEL) + 1
  local rule = ("a whole number >= %d or a pair {h, w} of them"):format(lo)
  if type(v) == "table" and not is_tensor(v) then
    local h, w = math.tointeger(v[1]), math.tointeger(v[2] == nil and v[1] or v[2])
    if h and w and h >= lo and w >= lo and #v <= 2 then return { h, w } end
    M.fail(who, what, rule, v, lv)
  end
  local n = type(v) == "number" and math.tointeger(v)
  if not n or n < lo then M.fail(who, what, rule, v, lv) end
  return { n, n }
end

--- An options table, or nil (then {}).
-- @param who the function
-- @param v the value
-- @param what the argument (default "opts")
-- @param level error level
-- @return the table
function M.options(who, v, what, level)
  if v == nil then return {} end
  if type(v) ~= "table" or is_tensor(v) then M.fail(who, what or "opts", "a table of options", v, (level or LEVEL) + 1) end
  return v
end

--- One of a list of strings.
-- @param who the function
-- @param what the argument
-- @param v the value
-- @param choices list of allowed strings
-- @param level error level
-- @return v
function M.oneof(who, what, v, choices, level)
  for _, c in ipairs(choices) do
    if v == c then return v end
  end
  local quoted = {}
  for i, c in ipairs(choices) do quoted[i] = '"' .. c .. '"' end
  M.fail(who, what, "one of " .. table.concat(quoted, ", "), v, (level or LEVEL) + 1)
end

return M
