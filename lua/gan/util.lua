--- Small helpers the library modules share: JSON text and atomic writes of text files.
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

return M
