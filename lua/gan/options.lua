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
-- same key. An unknown key, or a value of the wrong type, is an error that
-- says what would be valid; reading a key the table does not have is an
-- error too, so a typo in a recipe fails at once.
--
-- **The library's options.** A library module that reads options declares
-- them, each with its default and a comment (`declare`): gan.train (iters,
-- seed, out, ...), gan.data (data, batch, size, limit, ...), gan.augment
-- (load_size, flip), gan.data.domains (classes_a, direction, ...),
-- gan.nets (nz, nf, ...). Every run's table holds them
-- all, so `--help` lists everything a run can read (the recipe's own keys
-- first, then each module's) and `--limit=100` works for every recipe. A
-- recipe that sets a library key (`size = 64`) changes its default for that
-- recipe. A module reads a key with `gan.options.get(opt, key)`, which
-- works on a plain table too (the declared default fills what it lacks) and
-- raises on a key no module declares.
--
-- **Defaults by kind of data.** A recipe that takes both images and toy
-- sets (8gaussians, ...) can say which defaults change on each kind:
--
--     local opt = gan.options({
--       lr = 1e-4,         -- Adam learning rate
--       beta1 = 0.0,       -- Adam beta1
--     }, { toy = { lr = 1e-3, beta1 = 0.5 } })   -- what works on toy sets
--
-- The table's defaults are the images' ones; on a toy set the `toy` ones
-- replace those the command line does not give. The run prints which set
-- it used, and --help shows both.
--
-- **The library groups a recipe uses.** Every run's table holds every
-- group's options, but a recipe that reads no data set or builds no
-- network of gan.nets can say which groups it takes:
--
--     local opt = gan.options({ ... }, { uses = { "gan.dist" } })  -- gan.train always
--
-- --help then lists only those groups (and gan.train's), and setting an
-- option of another group on the command line is an error naming the
-- group (its default value is accepted, as older runs' options.txt hold
-- every key); options.txt leaves the other groups out.
--
-- Parsing also seeds the random generator with `opt.seed`, so a recipe
-- never calls `gan.manual_seed` itself.
--
-- Requires: gan.core (the generator); the declaring modules (loaded when a
-- table is first built). Reads: the script's `arg`, unless a run of
-- gan.train.evaluate gives the arguments.
-- @module gan.options

local user_error = require("gan.util").user_error

local M = {}

-- ----------------------------------------------------------------------------
-- Declarations

--- The modules that declare options every run can set, loaded when a table
-- is first built (each calls `declare` when it loads).
M.library = { "gan.train", "gan.data", "gan.augment", "gan.data.domains", "gan.nets" }

--- The declared groups, in the order they were declared: each
-- {module=, title=, keys={ {key, default, comment}, ... }}.
M.groups = {}

local declared = {} -- key -> { default = , comment = , group = }

--- Declares the options a module reads.
-- @param module the module's name ("gan.data")
-- @param title what the options are about, for --help ("data")
-- @param list { { key, default, comment }, ... }; a default is never nil
-- @return the group {module=, title=, keys=, defaults= (key -> default)}
function M.declare(module, title, list)
  local group = { module = module, title = title, keys = list, defaults = {} }
  for _, e in ipairs(list) do
    local key, default = e[1], e[2]
    assert(type(key) == "string" and default ~= nil, "gan.options.declare: { key, default, comment } expected")
    local prev = declared[key]
    if prev and prev.group.module ~= module then
      error(("gan.options.declare: %s declares '%s', which %s declares already"):format(module, key,
        prev.group.module), 2)
    end
    declared[key] = { default = default, comment = e[3], group = group }
    group.defaults[key] = default
  end
  for i, g in ipairs(M.groups) do
    if g.module == module then
      M.groups[i] = group
      return group
    end
  end
  M.groups[#M.groups + 1] = group
  return group
end

local loaded = false
local function load_library()
  if loaded then return end
  loaded = true
  for _, name in ipairs(M.library) do require(name) end
end

--- A declared option's value in opt: opt[key] when opt has it, else its
-- declared default. Works on options tables and on plain tables alike.
-- @param opt an options table, a plain table, or nil
-- @param key the option
-- @return the value
function M.get(opt, key)
  local info = opt and M.info(opt)
  if info then info.read[key] = true end
  local v = opt and rawget(opt, key)
  if v ~= nil then return v end
  local d = declared[key]
  if d == nil then
    load_library()
    d = declared[key]
  end
  if d == nil then
    error(("gan.options: '%s' is read but no module declares it (gan.options.declare)"):format(tostring(key)), 2)
  end
  return d.default
end

-- ----------------------------------------------------------------------------
-- Values

local function kind(v)
  local t = type(v)
  if t == "number" then return math.type(v) == "integer" and "integer" or "number" end
  if t == "table" then return "list" end
  return t
end

-- a value's type for per-data defaults: numbers of either kind are one
local function kind_of(v)
  local k = kind(v)
  return (k == "integer" or k == "number") and "number" or k
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

-- The key a mistyped name most likely meant: the nearest by edit distance
-- when it is near enough, else the longest key that the name starts or
-- ends with as a word (--nz_typo: nz; --g_lr: lr), or begins (--sample: sample_every).
local function closest(name, keys)
  local best, bestd
  for _, k in ipairs(keys) do
    local d = levenshtein(name, k)
    if not bestd or d < bestd then best, bestd = k, d end
  end
  if bestd and bestd <= math.max(2, #name // 3) then return best end
  local part
  for _, k in ipairs(keys) do
    local word = name:sub(1, #k + 1) == k .. "_" or name:sub(-#k - 1) == "_" .. k
        or (#name >= 3 and k:sub(1, #name) == name)
    if word and (not part or #k > #part) then part = k end
  end
  return part
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

--- A value as the command line writes it: a list joined by commas, else tostring.
-- @param v the value
-- @return text
local function render(v)
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = tostring(x) end
    return table.concat(parts, ",")
  end
  return tostring(v)
end
M.render = render

-- "--lr=0.001 --beta1=0.5" for a set of defaults, sorted by key
local function flags(set)
  local keys, parts = {}, {}
  for k in pairs(set) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do parts[i] = ("--%s=%s"):format(k, render(set[k])) end
  return table.concat(parts, " ")
end

--- The kinds of data a recipe can give defaults for, and how to tell them apart.
M.data_kinds = {
  toy = "toy sets (8gaussians, 25gaussians, ring, swissroll)",
  images = "images (fashion-mnist, a folder)",
}

--- The kind of data a --data value names: "toy" for a toy set, else "images".
-- @param data the value of --data
-- @return "toy" or "images"
function M.data_kind(data)
  return require("gan.data").toy.sets[data] and "toy" or "images"
end

-- The --help text: the recipe's keys, then each library group's keys that
-- the recipe does not set itself.
local function usage(script, info, defaults)
  local name = script and script:match("([^/]+)$") or "the recipe"
  local sections = { { title = "options of " .. name, keys = {} } }
  for _, k in ipairs(info.keys) do
    if info.own[k] then table.insert(sections[1].keys, k) end
  end
  for _, g in ipairs(M.groups) do
    local s = { title = ("%s (%s)"):format(g.title, g.module), keys = {} }
    for _, e in ipairs(g.keys) do
      if not info.own[e[1]] and not info.hidden[e[1]] then s.keys[#s.keys + 1] = e[1] end
    end
    sections[#sections + 1] = s
  end
  local width = 0
  for _, k in ipairs(info.keys) do width = math.max(width, #k + #render(defaults[k]) + 3) end
  local lines = { ("usage: ganlua %s [--key=value ...]"):format(script or "recipe.lua") }
  for _, kind in ipairs { "images", "toy" } do
    local set = info.per_data and info.per_data[kind]
    if set then
      lines[#lines + 1] = ("on %s the defaults below change to: %s"):format(M.data_kinds[kind], flags(set))
    end
  end
  for _, s in ipairs(sections) do
    if #s.keys > 0 then
      lines[#lines + 1] = ""
      lines[#lines + 1] = s.title .. ":"
      for _, k in ipairs(s.keys) do
        local left = ("--%s=%s"):format(k, render(defaults[k]))
        lines[#lines + 1] = ("  %-" .. (width + 2) .. "s %s"):format(left, info.comments[k] or "")
      end
    end
  end
  return table.concat(lines, "\n")
end

-- ----------------------------------------------------------------------------
-- Parsing

-- what the next parse takes from the caller that runs a recipe: session = {argv=, script=} while
-- gan.train.evaluate runs one; variant = {base=, defaults=} while a variant runs its base
local pending = {}

-- runs fn with pending[key] set to value, then puts the earlier value back
local function with_pending(key, value, fn)
  local saved = pending[key]
  pending[key] = value
  local ok, r = pcall(fn)
  pending[key] = saved
  if not ok then error(r, 0) end
  return r
end

--- Runs fn with the next gan.options call taking `defaults` over the
-- recipe's own and the options' comments from `base` (gan.recipes.variant).
-- @param base the base recipe's path
-- @param defaults table key -> value: keys the base must declare
-- @param fn function() -> results
-- @return fn's results
function M.with_variant(base, defaults, fn)
  return with_pending("variant", { base = base, defaults = defaults }, fn)
end

--- Runs fn with the arguments a recipe's `gan.options` reads set to
-- argv and script (gan.train.evaluate runs a recipe this way).
-- @param argv list of arguments
-- @param script the recipe's path
-- @param fn function() -> results
-- @return fn's results
function M.with_arguments(argv, script, fn)
  return with_pending("session", { argv = argv, script = script }, fn)
end

--- Builds the options table from the defaults and the command line, and
-- seeds the random generator with its seed.
-- @param defaults table of key = default value (the recipe's options)
-- @param argv list of arguments (default: the script's `arg`)
-- @param script the recipe's path for --help and comments (default: arg[0])
-- @param per_data optional: defaults by kind of data, {toy = {key = value}, images = {...}},
--   and `uses`, the list of library groups (modules) the recipe takes besides gan.train (see
--   the module comment)
-- @return the options table (reading an unknown key raises an error);
--   with --help, prints the usage and exits
function M.parse(defaults, argv, script, per_data)
  load_library()
  local uses
  if per_data and per_data.uses then
    uses = { ["gan.train"] = true }
    local known = {}
    for _, g in ipairs(M.groups) do known[g.module] = true end
    for _, m in ipairs(per_data.uses) do
      if not known[m] then error(("gan.options: uses: no group of options is declared by '%s'"):format(tostring(m)), 3) end
      uses[m] = true
    end
    local rest = {}
    for k, v in pairs(per_data) do if k ~= "uses" then rest[k] = v end end
    per_data = next(rest) and rest or nil
  end
  local global_arg = rawget(_G, "arg")
  local session, variant = pending.session, pending.variant
  if session then
    argv, script = argv or session.argv, script or session.script
  end
  argv = argv or global_arg or {}
  script = script or (global_arg and global_arg[0])
  local values, own = {}, {}
  local order_src, comments = M.read_comments(variant and variant.base or script)
  for k, v in pairs(defaults) do values[k], own[k] = v, true end
  if variant then
    local changed = variant.defaults
    pending.variant = nil -- for this call only: a recipe the base runs has its own defaults
    for k, v in pairs(changed) do
      if values[k] == nil then error(("gan.recipes.variant: the base recipe has no option %s"):format(k), 0) end
      if kind(v) ~= kind(values[k]) then
        error(("gan.recipes.variant: %s must be a %s like the base recipe's"):format(k, kind(values[k])), 0)
      end
      values[k] = v
    end
  end
  for _, g in ipairs(M.groups) do
    for _, e in ipairs(g.keys) do
      if values[e[1]] == nil then values[e[1]] = e[2] end
      if comments[e[1]] == nil then comments[e[1]] = e[3] end
    end
  end
  -- keys in the recipe's order, then the library's, then any others sorted
  local keys, seen = {}, {}
  local function add(k) if values[k] ~= nil and not seen[k] then seen[k] = true; keys[#keys + 1] = k end end
  for _, k in ipairs(order_src) do add(k) end
  local rest = {}
  for k in pairs(defaults) do if not seen[k] then rest[#rest + 1] = k end end
  table.sort(rest)
  for _, k in ipairs(rest) do add(k) end
  for _, g in ipairs(M.groups) do
    for _, e in ipairs(g.keys) do add(e[1]) end
  end
  local defaults_all = {}
  for k, v in pairs(values) do defaults_all[k] = v end
  -- the keys of library groups the recipe does not use (`uses`), key -> group
  local hidden = {}
  for _, g in ipairs(M.groups) do
    if uses and not uses[g.module] then
      for _, e in ipairs(g.keys) do if not own[e[1]] then hidden[e[1]] = g end end
    end
  end
  local info = { keys = keys, comments = comments, script = script, own = own, given = {}, read = {},
    per_data = per_data, hidden = hidden }
  for kind, set in pairs(per_data or {}) do
    if not M.data_kinds[kind] then
      error(("gan.options: defaults for '%s' data: the kinds are toy and images"):format(tostring(kind)), 3)
    end
    for k, v in pairs(set) do
      if values[k] == nil or kind_of(v) ~= kind_of(values[k]) then
        error(("gan.options: the %s default of '%s' is not of an option's type"):format(kind, tostring(k)), 3)
      end
    end
  end

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
      print(usage(script, info, defaults_all))
      os.exit(0)
    end
    local body = a:match("^%-%-(.+)$")
    if not body then user_error("unexpected argument '%s' (options look like --key=value)", a) end
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
        user_error("--%s needs a value (--%s=VALUE)", name, name)
      end
    end
    if values[name] == nil then user_error(unknown(name)) end
    local v, err = M.convert(name, value, values[name])
    if v == nil then user_error(err) end
    local g = hidden[name]
    if g and v ~= values[name] then
      user_error("--%s: %s does not use the options of %s (%s); --help lists those it takes", name,
        script and script:match("([^/]+)$") or "this recipe", g.module, g.title)
    end
    values[name] = v
    info.given[name] = true
    i = i + 1
  end
  local set = per_data and values.data ~= nil and per_data[M.data_kind(values.data)]
  if per_data and not set and values.data ~= nil then
    local others = {}
    for kind, s in pairs(per_data) do others[#others + 1] = ("%s: %s"):format(kind, flags(s)) end
    table.sort(others)
    print(("defaults for %s: the recipe's (other data: %s)"):format(M.data_kinds[M.data_kind(values.data)],
      table.concat(others, "; ")))
  end
  if set then
    local used = {}
    for k, v in pairs(set) do
      if not info.given[k] then
        if kind(values[k]) == "number" then v = v + 0.0 elseif kind(values[k]) == "integer" then v = math.tointeger(v) or v end
        used[k], values[k] = v, v
      end
    end
    info.data_defaults = M.data_kind(values.data)
    print(("defaults for %s: %s"):format(M.data_kinds[info.data_defaults],
      next(used) and flags(used) or "(all given on the command line)"))
  end
  if values.out == "" and script then
    values.out = "runs/" .. (script:match("([^/]+)%.lua$") or "run")
  end

  local meta = {
    __index = function(_, k) error(unknown(tostring(k)):gsub("^unknown option %-%-", "unknown option "), 2) end,
    __name = "gan.options",
    info = info,
  }
  local opt = setmetatable({}, meta)
  for k, v in pairs(values) do rawset(opt, k, v) end
  require("gan.random").seed(values.seed)
  info.read.seed = true
  return opt
end

--- What parsing knew of a table: {keys= (in order), comments=, script=,
-- own= (the recipe's keys), given= (keys set on the command line), read=
-- (keys read with `get`)}, or nil for a plain table.
-- @param opt a table
-- @return the information, or nil
function M.info(opt)
  local mt = getmetatable(opt)
  return type(mt) == "table" and mt.__name == "gan.options" and mt.info or nil
end

--- A plain copy of an options table with some values changed (for a
-- second data set of the same run: the test split, a subset).
-- @param opt an options table (or a plain one)
-- @param changes table key -> value
-- @return a plain table
function M.with(opt, changes)
  local t = {}
  for k, v in pairs(opt) do t[k] = v end
  for k, v in pairs(changes) do t[k] = v end
  return t
end

--- The library's options given on the command line that nothing has read
-- (with gan.options.get) so far: a recipe that uses no two-domain data
-- never reads --direction, for instance. gan.train notes them when a run
-- starts.
-- @param opt an options table
-- @return sorted list of keys
function M.unread(opt)
  local info, out = M.info(opt), {}
  if not info then return out end
  for k in pairs(info.given) do
    if not info.own[k] and not info.read[k] then out[#out + 1] = k end
  end
  table.sort(out)
  return out
end

--- The options as `key=value` lines, in order (printed at start, saved with the run), without
-- those of library groups the recipe does not use.
-- @param opt an options table
-- @return text ("" for a plain table)
function M.format(opt)
  local info = M.info(opt)
  if not info then return "" end
  local lines = {}
  for _, k in ipairs(info.keys) do
    if not info.hidden[k] then lines[#lines + 1] = ("%s=%s"):format(k, render(rawget(opt, k))) end
  end
  return table.concat(lines, "\n")
end

-- gan.options(defaults [, per_data]) in a recipe; gan.options(defaults, argv, script) too
return setmetatable(M, { __call = function(_, defaults, argv, script, per_data)
  if type(argv) == "table" and argv[1] == nil and next(argv) ~= nil then argv, per_data = nil, argv end
  return M.parse(defaults, argv, script, per_data)
end })
