--- gan.test: a small runner for Lua tests.
--
--     local T = require "gan.test"
--     T.case("adds", function() T.eq(1 + 1, 2) end)
--     T.run()
--
-- Cases run in the order given; a failure prints the case's name, the
-- message and where it happened, and the others still run; T.skip ends a
-- case that cannot run here. T.run prints
-- "N passed, N failed" and exits non-zero when anything failed. Arguments
-- to the test file (arg[1..]) select the cases whose names contain them.
-- @module gan.test

local T = {}
local cases = {}

--- Adds a case.
function T.case(name, fn)
  assert(type(name) == "string" and type(fn) == "function", "T.case(name, fn)")
  cases[#cases + 1] = { name = name, fn = fn }
end

local function is_tensor(v)
  return type(v) == "userdata" and type(v.totable) == "function"
end

-- tensors compare by shape and values
local function plain(v)
  if is_tensor(v) then
    return v:dim() == 0 and v:item() or v:totable()
  end
  return v
end

local function show(v, depth)
  depth = depth or 0
  if is_tensor(v) then return tostring(v) end
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  if depth > 2 then return "{...}" end
  local parts, n = {}, #v
  for i = 1, n do parts[#parts + 1] = show(v[i], depth + 1) end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. " = " .. show(v[k], depth + 1) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function deep_eq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not deep_eq(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function fail(msg, level)
  error(msg, level + 1)
end

--- a equals b (tables deeply, tensors by shape and values).
function T.eq(a, b, msg)
  local pa, pb = plain(a), plain(b)
  if not deep_eq(pa, pb) then
    fail(("%sexpected %s, got %s"):format(msg and msg .. ": " or "", show(b), show(a)), 2)
  end
end

local function close(a, b, tol)
  if type(a) == "number" and type(b) == "number" then
    if a ~= a and b ~= b then return true end -- nan, nan
    if a == b then return true end -- inf, inf
    return math.abs(a - b) <= tol * (1 + math.abs(b))
  end
  if type(a) ~= "table" or type(b) ~= "table" or #a ~= #b then return false end
  for i = 1, #a do
    if not close(a[i], b[i], tol) then return false end
  end
  return true
end

--- a is within tol of b (default 1e-5, relative beyond 1): numbers, nested lists or tensors.
function T.close(a, b, tol, msg)
  tol = tol or 1e-5
  if not close(plain(a), plain(b), tol) then
    fail(("%sexpected %s within %g, got %s"):format(msg and msg .. ": " or "", show(plain(b)), tol,
      show(plain(a))), 2)
  end
end

--- fn() raises an error whose message contains pattern (a Lua pattern, or
-- plain text); returns the message.
function T.raises(fn, pattern)
  local ok, err = pcall(fn)
  if ok then fail("expected an error" .. (pattern and (" matching '" .. pattern .. "'") or ""), 2) end
  local msg = tostring(err)
  if pattern and not (msg:find(pattern, 1, true) or msg:find(pattern)) then
    fail(("expected an error matching '%s', got: %s"):format(pattern, msg), 2)
  end
  return msg
end

local Skip = {}

--- Ends the running case as skipped (printed, counted as neither passed
-- nor failed): for a case that needs something this build lacks. With
-- GANLUA_TEST_NO_SKIP set (as `./setup.sh test`, and so CI, sets it, having
-- installed everything the tests need) a skip is a failure instead.
function T.skip(reason)
  local strict = os.getenv("GANLUA_TEST_NO_SKIP")
  if strict and strict ~= "" and strict ~= "0" then
    error(("skipped where GANLUA_TEST_NO_SKIP allows no skip: %s"):format(tostring(reason)), 2)
  end
  error(setmetatable({ reason = tostring(reason) }, Skip), 2)
end

--- Runs the cases; prints failures and "N passed, N failed"; exits non-zero on failure.
function T.run()
  local filters = {}
  for i = 1, #(arg or {}) do filters[#filters + 1] = arg[i] end
  local passed, failed, skipped = 0, 0, 0
  for _, c in ipairs(cases) do
    local selected = #filters == 0
    for _, f in ipairs(filters) do
      if c.name:find(f, 1, true) then selected = true end
    end
    if selected then
      local ok, err = xpcall(c.fn, debug.traceback)
      if ok then
        passed = passed + 1
      elseif getmetatable(err) == Skip then
        skipped = skipped + 1
        print(("SKIP %s: %s"):format(c.name, err.reason))
      else
        failed = failed + 1
        print(("FAIL %s: %s"):format(c.name, tostring(err)))
      end
    end
  end
  if skipped > 0 then print(("%d skipped"):format(skipped)) end
  print(("%d passed, %d failed"):format(passed, failed))
  io.stdout:flush()
  os.exit(failed == 0 and 0 or 1)
end

return T
