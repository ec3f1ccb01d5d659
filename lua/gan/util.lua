--- Small helpers the library modules share (options lookup, files, shell quoting).
-- @module gan.util

local M = {}

--- opt[k] without the options table's unknown-key error, or default.
-- @param opt an options table (or nil)
-- @param k the key
-- @param default the value when opt has no k
function M.get(opt, k, default)
  local v = opt and rawget(opt, k)
  if v == nil then return default end
  return v
end

--- s quoted for a POSIX shell.
-- @param s text
function M.shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Whether a file (or folder) can be opened for reading.
-- @param path the path
function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

return M
