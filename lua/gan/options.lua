--- Options: one typed table that the command line overrides.
--
-- A recipe lists its options with their defaults, one per line, each with a
-- comment that says what it means:
--
--     local opt = gan.options {
--       batch = 64,        -- minibatch size
--       lr = 2e-4,         -- Adam learning rate
--       nonsat = true,     -- non-saturating generator loss
--       classes = {},      -- Fashion-MNIST classes to keep (empty: all)
--     }
--
-- and then `ganlua recipe.lua --batch=128 --no-nonsat --classes=7,9` runs it
-- with those values. Each value takes the type of its default (integer,
-- number, boolean, string or list); `--key-name` and `--key_name` are the
-- same key; `--help` prints every key with its default and its comment. An
-- unknown key, or a value of the wrong type, is an error that says what
-- would be valid. Reading a key the table does not have is an error too, so
-- a typo in a recipe fails at once.
-- @module gan.options

local M = {}

-- Options every recipe takes, added when the recipe does not set them:
-- each entry is { key, default, comment }.
M.common = {
  { "iters", 5000, "training iterations" },
  { "batch", 64, "minibatch size" },
  { "seed", 1, "random seed (same seed and threads: same run)" },
  { "out", "", "run folder (default runs/<recipe>)" },
  { "threads", 0, "CPU threads (0: all cores)" },
  { "data", "fashion-mnist", "dataset: fashion-mnist, a folder of images, or a toy set" },
  { "size", 32, "image size in pixels" },
  { "resume", false, "continue from the last checkpoint in the run folder" },
  { "sample_every", 500, "write a sample grid every N iterations (0: never)" },
  { "save_every", 1000, "write a checkpoint every N iterations (0: only at the end)" },
  { "eval", true, "measure the samples at the end of the run (metrics.json, report.html)" },
  { "eval_every", 0, "quick evaluation every N iterations (0: never)" },
  { "eval_samples", 10000, "samples drawn by the final evaluation (quick ones draw a fifth)" },
  { "limit", 0, "use only the first N training images (0: all)" },
}

local function kind(v)
  local t = type(v)
  if t == "number" then return math.type(v) == "integer" and "integer" or "number" end
  if t == "table" then return "list" end
  return t
end

local function levenshtein(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function closest(name, keys)
  local best, bestd
  for _, k in ipairs(keys) do
    local d = levenshtein(name, k)
    if not bestd or d < bestd then best, bestd = k, d end
  end
  if bestd and bestd <= math.max(2, #name // 3) then return best end
end

--- Converts the text `s` to the type of `default`.
-- @param key option name (for messages)
-- @param s text from the command line
-- @param default the default value, which gives the type
-- @return the value, or nil and a message
function M.convert(key, s, default)
  local k = kind(default)
  if k == "integer" then
    local v = math.tointeger(tonumber(s))
    if v == nil then return nil, ("--%s=%s: expected an integer"):format(key, s) end
    return v
  elseif k == "number" then
    local v = tonumber(s)
    if v == nil then return nil, ("--%s=%s: expected a number"):format(key, s) end
    return v
  elseif k == "boolean" then
    local l = s:lower()
    if l == "true" or l == "1" or l == "yes" or l == "on" then return true end
    if l == "false" or l == "0" or l == "no" or l == "off" then return false end
    return nil, ("--%s=%s: expected true or false"):format(key, s)
  elseif k == "list" then
    local out, numeric = {}, default[1] == nil or type(default[1]) == "number"
    for item in s:gmatch("[^,]+") do
      item = item:match("^%s*(.-)%s*$")
      if numeric then
        local v = tonumber(item)
        if v == nil then return nil, ("--%s=%s: expected numbers separated by commas"):format(key, s) end
        out[#out + 1] = math.tointeger(v) or v
      else
        out[#out + 1] = item
      end
    end
    return out
  end
  return s
end

--- Reads the `key = value, -- comment` lines of a recipe's source, so that
-- --help can show each key's comment and keys come in the recipe's order.
-- @param path the recipe file
-- @return list of keys in source order, map key -> comment
function M.read_comments(path)
  local order, comments = {}, {}
  local f = path and io.open(path, "r")
  if not f then return order, comments end
  local inside = false
  for line in f:lines() do
    if not inside and line:find("gan%.options%s*%(?%s*{") then inside = true
    elseif inside then
      if line:match("^%s*}") then break end
      local key, rest = line:match("^%s*([%a_][%w_]*)%s*=%s*(.*)$")
      if key then
        order[#order + 1] = key
        comments[key] = rest:match("%-%-%s*(.-)%s*$")
      end
    end
  end
  f:close()
  return order, comments
end

local function render(v)
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = tostring(x) end
    return table.concat(parts, ",")
  end
  return tostring(v)
end
M.render = render

local function usage(script, keys, defaults, comments)
  local lines = { ("usage: ganlua %s [--key=value ...]"):format(script or "recipe.lua"), "", "options:" }
  local width = 0
  for _, k in ipairs(keys) do width = math.max(width, #k + #render(defaults[k]) + 3) end
  for _, k in ipairs(keys) do
    local left = ("--%s=%s"):format(k, render(defaults[k]))
    lines[#lines + 1] = ("  %-" .. (width + 2) .. "s %s"):format(left, comments[k] or "")
  end
  return table.concat(lines, "\n")
end

--- Builds the options table from the defaults and the command line.
-- @param defaults table of key = default value
-- @param argv list of arguments (default: the script's `arg`)
-- @param script the recipe's path for --help and comments (default: arg[0])
-- @return the options table (reading an unknown key raises an error);
--   with --help, prints the usage and exits
function M.parse(defaults, argv, script)
  local global_arg = rawget(_G, "arg")
  argv = argv or global_arg or {}
  script = script or (global_arg and global_arg[0])
  local values, order_src, comments = {}, M.read_comments(script)
  for k, v in pairs(defaults) do values[k] = v end
  for _, c in ipairs(M.common) do
    if values[c[1]] == nil then values[c[1]] = c[2] end
    if comments[c[1]] == nil then comments[c[1]] = c[3] end
  end
  -- keys in the recipe's order, then the common ones, then any others sorted
  local keys, seen = {}, {}
  local function add(k) if values[k] ~= nil and not seen[k] then seen[k] = true; keys[#keys + 1] = k end end
  for _, k in ipairs(order_src) do add(k) end
  for _, c in ipairs(M.common) do add(c[1]) end
  local rest = {}
  for k in pairs(values) do if not seen[k] then rest[#rest + 1] = k end end
  table.sort(rest)
  for _, k in ipairs(rest) do add(k) end
  local defaults_all = {}
  for k, v in pairs(values) do defaults_all[k] = v end

  local function unknown(name)
    local msg = ("unknown option --%s"):format(name)
    local near = closest(name, keys)
    if near then msg = msg .. (" (did you mean --%s?)"):format(near) end
    return msg .. "\nvalid options: " .. table.concat(keys, ", ")
  end

  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      print(usage(script, keys, defaults_all, comments))
      os.exit(0)
    end
    local body = a:match("^%-%-(.+)$")
    if not body then error(("unexpected argument '%s' (options look like --key=value)"):format(a), 0) end
    local name, value = body:match("^([^=]+)=(.*)$")
    name = (name or body):gsub("%-", "_")
    if value == nil then
      local negated = name:match("^no_(.+)$")
      if values[name] ~= nil and kind(values[name]) == "boolean" then
        value = "true"
      elseif negated and values[negated] ~= nil and kind(values[negated]) == "boolean" then
        name, value = negated, "false"
      elseif values[name] ~= nil and argv[i + 1] ~= nil and not argv[i + 1]:match("^%-%-") then
        i = i + 1
        value = argv[i]
      elseif values[name] ~= nil then
        error(("--%s needs a value (--%s=VALUE)"):format(name, name), 0)
      end
    end
    if values[name] == nil then error(unknown(name), 0) end
    local v, err = M.convert(name, value, values[name])
    if v == nil then error(err, 0) end
    values[name] = v
    i = i + 1
  end
  if values.out == "" and script then
    values.out = "runs/" .. (script:match("([^/]+)%.lua$") or "run")
  end

  local meta = {
    __index = function(_, k) error(unknown(tostring(k)):gsub("^unknown option %-%-", "unknown option "), 2) end,
    __name = "gan.options",
  }
  local opt = setmetatable({}, meta)
  for k, v in pairs(values) do rawset(opt, k, v) end
  rawset(opt, "_keys", keys)
  rawset(opt, "_comments", comments)
  rawset(opt, "_script", script)
  return opt
end

--- The options as `key=value` lines, in order (printed at start, saved with the run).
-- @param opt an options table
-- @return text
function M.format(opt)
  local lines = {}
  for _, k in ipairs(rawget(opt, "_keys") or {}) do
    lines[#lines + 1] = ("%s=%s"):format(k, render(rawget(opt, k)))
  end
  return table.concat(lines, "\n")
end

return setmetatable(M, { __call = function(_, defaults, argv, script) return M.parse(defaults, argv, script) end })
