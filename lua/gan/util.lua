--- Small helpers the library modules share: JSON text, atomic writes of
-- text files, and the two kinds of errors.
--
-- A **user's error** (an option, a file, a data set, a run folder) is a
-- message meant to be read alone: `user_error` raises it without a position,
-- and the ganlua program prints it without a stack trace and exits non-zero;
-- so does a message that starts with an option's name ("--size must be a
-- power of two", as recipes check their options).
-- Any other error is the program's (a recipe's or the library's): it keeps
-- its full traceback, down to the recipe's line (`traced` keeps it through
-- a pcall that passes the error on).
-- @module gan.util

local M = {}

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r" }
    return named[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function json(v, indent, pad, seen)
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if math.type(v) == "integer" then return tostring(v) end
    return ("%.9g"):format(v)
  elseif t == "string" then return json_string(v)
  elseif t == "boolean" then return tostring(v)
  elseif t ~= "table" then return "null"
  end
  if seen[v] then error("gan.util.json: the value holds a cycle (a table that contains itself)", 0) end
  seen[v] = true
  local inner = pad .. indent
  if #v > 0 or next(v) == nil then
    local parts = {}
    for i = 1, #v do parts[i] = json(v[i], indent, inner, seen) end
    seen[v] = nil
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local x = v[k]
    if x == nil then x = v[tonumber(k)] end
    parts[i] = inner .. json_string(k) .. ": " .. json(x, indent, inner, seen)
  end
  seen[v] = nil
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. pad .. "}"
end

--- A Lua value as JSON text: tables with a sequence become arrays, other
-- tables objects with sorted keys; NaN and infinities become null. A table
-- that contains itself is an error (the same table twice, side by side, is not).
-- @param v the value
-- @return text
function M.json(v)
  local ok, text = pcall(json, v, "  ", "", {})
  if not ok then require("gan.check").error(text) end
  return text
end

--- Writes text to a file atomically (a temporary file, then a rename).
-- @param path the file
-- @param text the content
-- @return true, or nil and a message
function M.write_file(path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  f:close()
  if not ok then os.remove(tmp) return nil, werr end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp) return nil, rerr end
  return true
end

--- The last user's error raised (read by the ganlua program, lua/ganlua.c), or nil.
M.last_user_error = nil

--- Raises a user's error: a message about what was given (an option, a
-- file, data, a run folder), printed alone by the ganlua program. A caller
-- that wraps the message ("cannot resume from X: " .. msg) keeps it one.
-- @param msg the message
-- @param ... values for msg:format(...), when given
function M.user_error(msg, ...)
  if select("#", ...) > 0 then msg = msg:format(...) end
  M.last_user_error = msg
  error(msg, 0)
end

--- Is an error value a user's error (or a message that wraps one)?
-- @param e the error value
-- @return boolean
function M.is_user_error(e)
  if type(e) ~= "string" then return false end
  if e:sub(1, 2) == "--" then return true end -- a recipe's check of an option: "--size must be ..."
  local last = M.last_user_error
  return last ~= nil and e:find(last, 1, true) ~= nil
end

-- the error with the traceback of where it was raised (a user's error, or
-- one that has its traceback already, as it is)
local function with_traceback(e)
  if type(e) ~= "string" or M.is_user_error(e) or e:find("\nstack traceback:", 1, true) then return e end
  return debug.traceback(e, 2)
end

--- Calls fn(...) in protected mode, keeping the traceback of a program's
-- error in its message, so that passing it on (`error(err, 0)`) still
-- shows the line that failed (a recipe's step function, say).
-- @param fn the function
-- @param ... its arguments
-- @return true and fn's results, or false and the error (with its traceback)
function M.traced(fn, ...)
  return xpcall(fn, with_traceback, ...)
end

return M
