--- gan.checkpoint: a run's whole state in one safetensors file.
--
-- The state is a table of named things: modules, optimizers, EMAs,
-- schedules, data iterators (anything with state_dict/load_state_dict),
-- tensors, and plain numbers, strings or booleans. Every tensor goes into
-- the file under "<key>.<name>" (a bare tensor under "<key>"); every other
-- value into the metadata under the same kind of name, as text. The random
-- state is saved too: the default stream's and every named stream's
-- position (gan.random.state). Writing is atomic (gan.io.save_safetensors), and
-- loading never runs code.
--
--     gan.checkpoint.save("run/checkpoint.safetensors", { G = G, optG = optG }, { step = 100 })
--     local meta = gan.checkpoint.load("run/checkpoint.safetensors", { G = G, optG = optG })
-- @module gan.checkpoint

local gan = require "gan"
local check = require "gan.check"

local M = {}

local is_tensor = gan.is_tensor
M.is_tensor = is_tensor

local function stateful(v)
  return type(v) == "table" and type(v.state_dict) == "function" and type(v.load_state_dict) == "function"
end

--- Text for a metadata value (floats keep every bit; integers stay integers).
-- @param v number, string or boolean
-- @return string
function M.encode(v)
  if math.type(v) == "float" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%.1f"):format(v) end
    return ("%.17g"):format(v)
  end
  return tostring(v)
end

--- A value back from metadata text, converted to the type of `like`.
-- @param s the text
-- @param like a value of the wanted type (nil: a number when it reads as one)
-- @return the value
function M.decode(s, like)
  if type(s) ~= "string" then return s end
  local t = type(like)
  if t == "boolean" then return s == "true" end
  if t == "string" then return s end
  if t == "number" or like == nil then
    local v = tonumber(s)
    if v == nil then return s end
    if math.type(like) == "float" then return v + 0.0 end
    return math.tointeger(v) or v
  end
  return s
end

--- Splits a state table into tensors and metadata text.
-- @param state table key -> object
-- @return tensors (name -> tensor), meta (name -> string)
function M.flatten(state)
  local tensors, meta = {}, {}
  for key, v in pairs(state) do
    if type(key) == "string" then
      if is_tensor(v) then
        tensors[key] = v
      elseif stateful(v) then
        for k, x in pairs(v:state_dict()) do
          local name = key .. "." .. k
          if is_tensor(x) then tensors[name] = x
          elseif type(x) == "number" or type(x) == "string" or type(x) == "boolean" then meta[name] = M.encode(x)
          end
        end
      elseif type(v) == "number" or type(v) == "string" or type(v) == "boolean" then
        meta["state." .. key] = M.encode(v)
      end
    end
  end
  return tensors, meta
end

--- The names of the float tensors that hold a NaN or an infinity, sorted.
-- @param tensors table name -> tensor
-- @return a list of names, empty when every value is finite
function M.nonfinite(tensors)
  local bad = {}
  gan.no_grad(function()
    for name, t in pairs(tensors) do
      -- t * 0 sums to 0 unless some value is NaN or infinite (0 * inf is NaN)
      if t:dtype() == "float32" and t:numel() > 0 and (t * 0):sum():item() ~= 0 then bad[#bad + 1] = name end
    end
  end)
  table.sort(bad)
  return bad
end

-- "a, b, c, d and 4 more", escaped: names come from files
local some = check.some

--- Removes the temporary files that writers of path left when they were
-- killed in the middle of a save (path.tmp.PID.N, written before the rename
-- that makes a save atomic), when their process PID is gone. The
-- temporaries of a live process are left alone, and so is everything when
-- /proc cannot tell.
-- @param path the checkpoint file
-- @return the number of files removed
function M.remove_stale(path)
  local dir, base = path:match("^(.*)/([^/]+)$")
  if not dir then dir, base = ".", path end
  if not gan.io.isdir("/proc/self") or not gan.io.isdir(dir) then return 0 end
  local prefix, removed = base .. ".tmp.", 0
  for _, f in ipairs(gan.io.files(dir) or {}) do
    local name = f:match("([^/]+)$")
    local pid = name:sub(1, #prefix) == prefix and name:sub(#prefix + 1):match("^(%d+)%.%d+$")
    if pid and not gan.io.isdir("/proc/" .. pid) and os.remove(f) then removed = removed + 1 end
  end
  return removed
end

--- Writes the state, the RNG state and extra metadata to a safetensors file.
-- A state holding NaN or infinite values is not written (the file keeps its
-- last finite content), so the last checkpoint of a run that diverged is
-- one it can resume from.
-- @param path the file (written through a temporary file and renamed)
-- @param state table key -> module, optimizer, EMA, schedule, data, tensor or value
-- @param extra table of metadata key -> value (step, options, ...)
-- @return true, or nil and a message
function M.save(path, state, extra)
  local tensors, meta = M.flatten(state)
  local bad = M.nonfinite(tensors)
  if #bad > 0 then
    return nil, ("%s: not written, %d tensor(s) hold NaN or infinite values: %s"):format(path, #bad, some(bad))
  end
  local rng = gan.random.state()
  meta["ganlua.rng.seed"] = M.encode(rng.seed)
  meta["ganlua.rng.offset"] = M.encode(rng.offset)
  meta["ganlua.rng.stream"] = M.encode(rng.stream)
  for name, offset in pairs(rng.streams) do meta["ganlua.rng.streams." .. name] = M.encode(offset) end
  meta["ganlua.version"] = tostring(rawget(gan, "version") or "")
  for k, v in pairs(extra or {}) do meta["ganlua." .. k] = M.encode(v) end
  return gan.io.save_safetensors(path, tensors, meta)
end

--- Reads a checkpoint into a state table: each object gets its own entries,
-- values are restored, and the RNG state is set.
--
-- Strict by default: an entry the state has no place for, or an object
-- with no entries, is refused. With `strict = false` only what the state
-- names is read, and the rest left (the generator of a CycleGAN run:
-- `load(path, { G_AB = G }, { strict = false, rng = false })`). `from`
-- reads an object from entries saved under another key (the EMA copy of
-- a generator: `{ from = { G = "ema" } }`). Entries that are there but do
-- not fit (other shapes) are always refused.
--
--     local meta, what = gan.checkpoint.load(path, { G = G }, { from = { G = "G_AB" }, strict = false })
--     print(#what.loaded, #what.ignored)
-- @param path the file
-- @param state the same kind of table given to save
-- @param opts {rng=true (restore the RNG state), strict=true, from= (state key -> the key its entries
--   were saved under)}
-- A checkpoint holding NaN or infinite values is refused (nil and a message).
-- @return the extra metadata (key -> text, without the "ganlua." prefix) and {loaded= (state keys
--   read), ignored= (entries left, with strict = false), missing= (state keys with no entries)};
--   or nil and a message that names what does not fit
function M.load(path, state, opts)
  opts = opts or {}
  local strict = opts.strict ~= false
  local tensors, meta = gan.io.load_safetensors(path)
  if not tensors then return nil, check.escape(meta) end
  if opts.from then
    -- the entries of each renamed key under its state name; nothing else of the file's
    local renamed, renamed_meta = {}, {}
    local function rename(tbl, out)
      for name, v in pairs(tbl) do
        local key, rest = name:match("^([^.]+)%.(.+)$")
        local kept = true
        for to, from in pairs(opts.from) do
          if key == from then out[to .. "." .. rest], kept = v, false
          elseif name == from then out[to], kept = v, false
          elseif key == to or name == to then kept = false
          end
        end
        if kept then out[name] = v end
      end
    end
    rename(tensors, renamed)
    rename(meta or {}, renamed_meta)
    tensors, meta = renamed, renamed_meta
  end
  local bad = M.nonfinite(tensors)
  if #bad > 0 then
    return nil, ("%s holds NaN or infinite values in %d tensor(s) (%s): a run cannot continue from it"):format(
      path, #bad, some(bad))
  end
  -- a tensor of another dtype than the run's is not converted silently
  local mine, wrong = M.flatten(state), {}
  for name, t in pairs(tensors) do
    local m = mine[name]
    if m and m:dtype() ~= t:dtype() then wrong[#wrong + 1] = ("%s (%s, this run: %s)"):format(name, t:dtype(), m:dtype()) end
  end
  if #wrong > 0 then
    table.sort(wrong)
    return nil, ("%s holds tensors of another type than this run's: %s"):format(path, some(wrong))
  end
  meta = meta or {}
  local parts = {}
  local function part(key)
    parts[key] = parts[key] or {}
    return parts[key]
  end
  local stray = {}
  local function route(name, v)
    local key, rest = name:match("^([^.]+)%.(.+)$")
    if state[name] ~= nil and is_tensor(state[name]) then
      part(name)[""] = v
    elseif key and stateful(state[key]) then
      part(key)[rest] = v
    else
      stray[#stray + 1] = name
    end
  end
  for name, t in pairs(tensors) do route(name, t) end
  local extra = {}
  for name, s in pairs(meta) do
    local g = name:match("^ganlua%.(.+)$")
    local sk = name:match("^state%.(.+)$")
    if g then
      extra[g] = s
    elseif sk then
      if state[sk] ~= nil and type(state[sk]) ~= "table" and not is_tensor(state[sk]) then
        local v = M.decode(s, state[sk])
        if type(v) ~= type(state[sk]) or (math.type(state[sk]) == "integer" and math.type(v) ~= "integer") then
          check.fail("gan.checkpoint.load: " .. path, "state." .. check.escape(sk),
            math.type(state[sk]) == "integer" and "a whole number" or "a " .. type(state[sk]), s, 2)
        end
        state[sk] = v
      end
    else
      route(name, s)
    end
  end
  table.sort(stray)
  if #stray > 0 and strict then
    return nil, ("gan.checkpoint.load: %s holds %d entries this run has no place for: %s (strict = false "
      .. "reads only what the state names)"):format(path, #stray, some(stray))
  end
  local what = { loaded = {}, ignored = stray, missing = {} }
  for key, v in pairs(state) do
    if type(key) == "string" and (is_tensor(v) or stateful(v)) then
      local p = parts[key]
      if p == nil and not strict then
        what.missing[#what.missing + 1] = key
      elseif is_tensor(v) then
        if p == nil then return nil, ("gan.checkpoint.load: %s has no tensor '%s'"):format(path, check.escape(key)) end
        local ok, err = pcall(v.copy_, v, p[""])
        if not ok then return nil, ("gan.checkpoint.load: %s, tensor '%s': %s"):format(path, check.escape(key),
          check.escape(tostring(err))) end
        what.loaded[#what.loaded + 1] = key
      else
        local ok, err = pcall(v.load_state_dict, v, p or {})
        if not ok then return nil, ("gan.checkpoint.load: %s, entry '%s': %s"):format(path, check.escape(key),
          check.escape(tostring(err))) end
        what.loaded[#what.loaded + 1] = key
      end
    end
  end
  table.sort(what.loaded)
  table.sort(what.missing)
  if opts.rng ~= false then
    if extra["rng.seed"] then
      -- the generator's words are 64-bit integers, written as such
      local who = "gan.checkpoint.load: " .. path
      local function whole(k, v)
        return check.integer_or_text(who, "ganlua." .. check.escape(k), v, math.mininteger, math.maxinteger, 2)
      end
      local streams = {}
      for k, v in pairs(extra) do
        local name = k:match("^rng%.streams%.(.+)$")
        if name then streams[name] = whole(k, v) end
      end
      gan.random.set_state { seed = whole("rng.seed", extra["rng.seed"]), offset = whole("rng.offset", extra["rng.offset"]),
        stream = whole("rng.stream", extra["rng.stream"] or "0"), streams = streams }
    end
  end
  return extra, what
end

return M
