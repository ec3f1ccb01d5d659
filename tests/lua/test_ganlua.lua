-- The ganlua program: -e, scripts and their arguments, recipes by name,
-- --list and explain, --version, exit status, the REPL through a pipe, and
-- gan.core from a stock lua5.4.
local T = require "gan.test"

local exe = arg[-1]
assert(exe and exe:find("ganlua"), "run this file with the ganlua program")
if exe:sub(1, 1) ~= "/" and exe:find("/", 1, true) then
  local pwd = io.popen("pwd"):read("l")
  exe = pwd .. "/" .. exe
end

local tmp = (os.getenv("GANLUA_TEST_TMP") or "/tmp") .. "/ganlua-program-" .. os.time() .. "-" .. math.random(1e6)
assert(os.execute("mkdir -p '" .. tmp .. "'"))

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function read(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Runs ganlua with args (a list); opts: input (stdin text), env (table), cwd.
-- Returns stdout, stderr, exit code.
local function run(args, opts)
  opts = opts or {}
  local parts = {}
  if opts.cwd then parts[#parts + 1] = "cd " .. q(opts.cwd) .. " &&" end
  parts[#parts + 1] = "env"
  for k, v in pairs(opts.env or {}) do parts[#parts + 1] = k .. "=" .. q(v) end
  parts[#parts + 1] = q(opts.exe or exe)
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  write(tmp .. "/stdin", opts.input or "")
  parts[#parts + 1] = "<" .. q(tmp .. "/stdin") .. " >" .. q(tmp .. "/stdout") .. " 2>" .. q(tmp .. "/stderr")
  local ok, how, code = os.execute(table.concat(parts, " "))
  return read(tmp .. "/stdout"), read(tmp .. "/stderr"), ok and 0 or code
end

local function has(s, text, msg)
  T.eq(s:find(text, 1, true) ~= nil, true, (msg or "") .. " missing " .. ("%q"):format(text) .. " in:\n" .. s)
end

-- two tiny recipes (and one in lab/) in a recipes folder of their own
local recipes = tmp .. "/recipes"
os.execute("mkdir -p " .. q(recipes .. "/lab"))
write(recipes .. "/alpha.lua", [[
--- Alpha — a first placeholder recipe.
-- @paper Nobody. A Paper. 2014. arXiv:0000.00000
-- @year 2014
-- @ja 要点: 何もしない
-- @en Key points: does nothing.
local gan = require "gan"
print("alpha ran", select("#", ...), ...)
print("arg0", arg[0])
]])
write(recipes .. "/beta.lua", [[
--- Beta — a second placeholder.
-- @year 2019
-- @en Key points: fails on purpose.
error("beta fails")
]])
write(recipes .. "/lab/gamma.lua", [[
--- Gamma — an experiment.
-- @year 2021
return 1
]])

T.case("-e runs code, several in order, with gan on package.path", function()
  local out, err, code = run { "-e", "print(1 + 1)" }
  T.eq(code, 0, err)
  T.eq(out, "2\n")
  out, err, code = run { "-e", "x = 20", "-e", "print(x + 1)" }
  T.eq(out, "21\n", err)
  out, err, code = run { "-e", "local gan = require 'gan'; print(gan.zeros(2, 3):numel(), gan.version)" }
  T.eq(code, 0, err)
  has(out, "6\t0.1.0")
  out, err, code = run { "-e", "print(gan.zeros(2):numel())" }
  T.eq(out, "2\n", "-e code has gan loaded, like the REPL: " .. err)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local f = assert(io.open(dir .. "/noglobal.lua", "w"))
  f:write("print(type(rawget(_G, 'gan')))\n")
  f:close()
  out, err, code = run { dir .. "/noglobal.lua" }
  T.eq(out, "nil\n", "a script gets no global gan: it requires it")
  os.execute("rm -rf " .. dir)
end)

T.case("- reads the script from stdin; threads from the environment", function()
  local out, err, code = run({ "-", "a", "b" }, { input = "print(arg[0], ...)\n" })
  T.eq(code, 0, err)
  T.eq(out, "-\ta\tb\n")
  out = run({ "-e", "print(require('gan').get_threads())" }, { env = { GANLUA_THREADS = "1" } })
  T.eq(out, "1\n")
  out = run({ "-e", "print(require('gan').get_threads())" }, { env = { OMP_NUM_THREADS = "3" } })
  T.eq(out, "3\n")
  -- the governor: on by default, off with GANLUA_ADAPT_THREADS=0 (then the
  -- running count is the count asked for whatever the load)
  local probe = "local gan = require('gan'); gan.set_threads(3); local k = gan.kernels.info(); "
    .. "print(k.threads, k.running_threads >= 1 and k.running_threads <= 3)"
  T.eq(run({ "-e", probe }), "3\ttrue\n")
  T.eq(run({ "-e", (probe:gsub("print%(k.threads, .*%)$", "print(k.running_threads)")) },
    { env = { GANLUA_ADAPT_THREADS = "0" } }), "3\n")
end)

T.case("--version and --help", function()
  local out, err, code = run { "--version" }
  T.eq(code, 0)
  has(out, "ganlua 0.1.0 (Lua 5.4")
  out, err, code = run { "--help" }
  T.eq(code, 0)
  has(out, "usage: ganlua")
  has(out, "explain NAME")
  out, err, code = run { "--bogus" }
  T.eq(code ~= 0, true)
  has(err, "unrecognized option '--bogus'")
end)

T.case("a script gets arg and ... like lua", function()
  local script = tmp .. "/args.lua"
  write(script, [[
print(arg[0], arg[1], arg[2], #arg, select("#", ...), ...)
print(arg[-1] ~= nil)
]])
  local out, err, code = run { script, "one", "--two=2" }
  T.eq(code, 0, err)
  T.eq(out, script .. "\tone\t--two=2\t2\t2\tone\t--two=2\ntrue\n")
end)

T.case("errors exit non-zero with the message and a traceback", function()
  local script = tmp .. "/fails.lua"
  write(script, "local function f() error('boom') end\nf()\n")
  local out, err, code = run { script }
  T.eq(code ~= 0, true, "exit status")
  has(err, "ganlua: ")
  has(err, "fails.lua:1: boom")
  has(err, "stack traceback:")
  out, err, code = run { "-e", "local gan = require 'gan'; return gan.zeros(2) + gan.zeros(3)" }
  T.eq(code ~= 0, true)
  has(err, "(command line):1: gan.add: shapes [2] and [3] do not broadcast")
  out, err, code = run { "-e", "error('first')", "-e", "print('never')" }
  T.eq(code ~= 0, true)
  T.eq(out, "")
  out, err, code = run { tmp .. "/no-such-file.lua" }
  T.eq(code ~= 0, true)
  has(err, "no such file")
  out, err, code = run { "-e", "os.exit(3)" }
  T.eq(code, 3)
  out, err, code = run { "-e", "syntax error here" }
  T.eq(code ~= 0, true)
  has(err, "ganlua: ")
  -- control characters in a message (a file's name or contents) are escaped, newlines kept
  out, err, code = run { "-e", "error('name\\27[2J\\27[31mred\\rline\\nnext', 0)" }
  T.eq(code ~= 0, true)
  has(err, "name\\027[2J\\027[31mred\\013line\nnext")
  T.eq(err:find("\27", 1, true), nil, "a raw ESC in " .. err)
end)

T.case("a recipe runs by name, from $GANLUA_RECIPES or ./recipes", function()
  local out, err, code = run({ "alpha", "--iters=3" }, { env = { GANLUA_RECIPES = recipes } })
  T.eq(code, 0, err)
  has(out, "alpha ran\t1\t--iters=3")
  has(out, "arg0\t" .. recipes .. "/alpha.lua")
  out, err, code = run({ "lab/gamma" }, { cwd = tmp })
  T.eq(code, 0, err)
  out, err, code = run({ "beta" }, { cwd = tmp })
  T.eq(code ~= 0, true)
  has(err, "beta fails")
  out, err, code = run({ "nonesuch" }, { cwd = tmp })
  T.eq(code ~= 0, true)
  has(err, "no recipe of that name")
end)

T.case("--list shows name, year and summary", function()
  -- other recipe folders (./recipes, the source tree's) may add lines of their own
  local function check(out)
    local lines, col = {}, nil
    for l in out:gmatch("[^\n]+") do
      lines[#lines + 1] = l
      local c = l:find("  %d%d%d%d  ") or l:find("  %-     ")
      col = col or c
      T.eq(c, col, "aligned columns:\n" .. out)
    end
    local want = {
      "^alpha +2014  Alpha — a first placeholder recipe%.$",
      "^beta +2019  Beta — a second placeholder%.$",
      "^lab/gamma +2021  Gamma — an experiment%.$",
    }
    for _, pat in ipairs(want) do
      local found = false
      for _, l in ipairs(lines) do found = found or l:find(pat) ~= nil end
      T.eq(found, true, pat .. " in:\n" .. out)
    end
  end
  local out, err, code = run({ "--list" }, { env = { GANLUA_RECIPES = recipes } })
  T.eq(code, 0, err)
  check(out)
  out, err, code = run({ "--list" }, { cwd = tmp })
  T.eq(code, 0, err)
  check(out)
end)

T.case("explain prints the header block, the key points in one language", function()
  local env = { GANLUA_RECIPES = recipes, LC_ALL = "", LC_MESSAGES = "", LANG = "C.UTF-8" }
  local out, err, code = run({ "explain", "alpha" }, { env = env })
  T.eq(code, 0, err)
  local head = { "Alpha — a first placeholder recipe.", "Paper: Nobody. A Paper. 2014. arXiv:0000.00000", "Year:  2014" }
  T.eq(out, table.concat(head, "\n") .. "\nKey points: does nothing.\n")
  env.LANG = "ja_JP.UTF-8"
  out = run({ "explain", "alpha" }, { env = env })
  T.eq(out, table.concat(head, "\n") .. "\n要点: 何もしない\n", "Japanese from $LANG")
  out = run({ "explain", "alpha", "--lang=en" }, { env = env })
  T.eq(out, table.concat(head, "\n") .. "\nKey points: does nothing.\n", "--lang=en over $LANG")
  out = run({ "explain", "--lang=all", "alpha" }, { env = env })
  T.eq(out, table.concat(head, "\n") .. "\n要点: 何もしない\nKey points: does nothing.\n", "--lang=all")
  out = run({ "explain", "beta", "--lang=ja" }, { env = env })
  has(out, "Key points: fails on purpose.", "a header with English only")
  out, err, code = run({ "explain", "alpha", "--lang=fr" }, { env = env })
  T.eq(code ~= 0, true)
  has(err, "--lang must be en, ja or all, not 'fr'")
  out, err, code = run({ "explain", "nonesuch" }, { env = { GANLUA_RECIPES = recipes } })
  T.eq(code ~= 0, true)
  has(err, "no recipe named 'nonesuch'")
end)

T.case("the REPL through a pipe", function()
  local input = table.concat({
    "1 + 1",
    "function twice(a)",
    "  return a * 2",
    "end",
    "twice(21)",
    "error('oops')",
    "print('still here')",
    "local t = {1, 2}",
    "{1, 2, a = 'x'}",
    "gan.tensor{1, 2} * 2",
    "gan.zeros(2) + gan.zeros(3)",
    "'a', nil, 3",
    "x = 5",
    "x",
  }, "\n") .. "\n"
  local out, err, code = run({}, { input = input })
  T.eq(code, 0, err)
  T.eq(out, table.concat({
    "2",
    "42",
    "still here",
    '{1, 2, a = "x"}',
    "tensor([2., 4.], shape=(2,))",
    "a\tnil\t3",
    "5",
  }, "\n") .. "\n")
  has(err, "stdin:1: oops")
  has(err, "stack traceback:")
  has(err, "stdin:1: gan.add: shapes [2] and [3] do not broadcast")
end)

T.case("-i runs the code, then the REPL", function()
  local out, err, code = run({ "-e", "y = 7", "-i" }, { input = "y * 6\n" })
  T.eq(code, 0, err)
  T.eq(out, "42\n")
end)

T.case("a stock lua5.4 loads gan.core from the build tree", function()
  local build = exe:match("^(.*)/[^/]+$")
  local src = os.getenv("GANLUA_PATH")
  if not build or not src or not os.execute("command -v lua5.4 >/dev/null 2>&1") then
    T.skip("needs lua5.4 and the build tree")
  end
  local env = { LUA_CPATH = build .. "/lua/?.so;;", LUA_PATH = src .. "/?.lua;" .. src .. "/?/init.lua;;" }
  -- a sanitizer build's module needs the sanitizer runtime loaded first
  local maps = io.open("/proc/self/maps")
  local asan = maps and maps:read("a"):match("%s(/%S+/libasan%.so[%.%d]*)\n")
  if maps then maps:close() end
  if asan then env.LD_PRELOAD, env.ASAN_OPTIONS = asan, "detect_leaks=0" end
  local out, err, code = run({ "-e", "local gan = require 'gan'; print((gan.ones(2) * 3):sum():item())" },
    { exe = "lua5.4", env = env })
  T.eq(code, 0, err)
  T.eq(out, "6.0\n")
end)

T.case("T.skip skips, or fails under GANLUA_TEST_NO_SKIP (what ./setup.sh test sets)", function()
  local script = tmp .. "/skipping.lua"
  write(script, [[
local T = require "gan.test"
T.case("needs something", function() T.skip("a package is missing") end)
T.run()
]])
  local out, _, code = run({ script }, { env = { GANLUA_TEST_NO_SKIP = "0" } })
  T.eq(code, 0, out)
  has(out, "SKIP needs something: a package is missing")
  has(out, "0 passed, 0 failed")
  out, _, code = run({ script }, { env = { GANLUA_TEST_NO_SKIP = "1" } })
  T.eq(code, 1, out)
  has(out, "FAIL needs something")
  has(out, "skipped where GANLUA_TEST_NO_SKIP allows no skip: a package is missing")
end)

T.case("(removes its temporary folder)", function()
  T.eq(os.execute("rm -rf " .. q(tmp)), true)
end)

T.run()
