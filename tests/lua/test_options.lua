-- gan.options: command-line parsing into a typed table, and its errors.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local options = gan.options

local defaults = { batch = 64, lr = 2e-4, nonsat = true, name = "x", classes = {}, betas = { 0.5, 0.999 } }

local function parse(argv)
  return options.parse(defaults, argv, "recipes/none.lua")
end

T.case("defaults, common keys, and the run folder", function()
  local o = parse {}
  U.equal(o.batch, 64); U.equal(o.lr, 2e-4); U.equal(o.nonsat, true)
  U.equal(o.iters, 5000, "common key added")
  U.equal(o.out, "runs/none", "out from the script name")
end)

T.case("values take the type of their default", function()
  local o = parse { "--batch=128", "--lr=1e-3", "--name=abc", "--classes=7,9", "--betas=0,0.9", "--seed", "5" }
  U.equal(math.type(o.batch), "integer"); U.equal(o.batch, 128)
  U.equal(o.lr, 1e-3); U.equal(o.name, "abc")
  U.equal(#o.classes, 2); U.equal(o.classes[2], 9)
  U.equal(o.betas[1], 0); U.equal(o.betas[2], 0.9)
  U.equal(o.seed, 5, "--key value form")
end)

T.case("booleans: --flag, --no-flag, --flag=false; dashes and underscores", function()
  U.equal(parse({ "--no-nonsat" }).nonsat, false)
  U.equal(parse({ "--nonsat=false" }).nonsat, false)
  U.equal(parse({ "--no-nonsat", "--nonsat" }).nonsat, true)
  U.equal(parse({ "--sample-every=7" }).sample_every, 7)
  U.raises(function() parse { "--nonsat=maybe" } end, "expected true or false")
end)

T.case("bad input is an error that says what is valid", function()
  U.raises(function() parse { "--btach=3" } end, "did you mean --batch?")
  U.raises(function() parse { "--batch=3.5" } end, "--batch=3.5: expected an integer")
  U.raises(function() parse { "--lr=fast" } end, "expected a number")
  U.raises(function() parse { "--classes=a,b" } end, "expected numbers")
  U.raises(function() parse { "batch=3" } end, "unexpected argument")
  U.raises(function() parse { "--batch" } end, "needs a value")
  local o = parse {}
  U.raises(function() return o.bacth end, "unknown option bacth")
end)

T.case("format lists every key as key=value", function()
  local text = options.format(parse { "--batch=8" })
  U.truthy(text:find("batch=8", 1, true), text)
  U.truthy(text:find("betas=0.5,0.999", 1, true), text)
end)

T.case("the library's options: declared by their modules, in every table, read with get", function()
  local o = parse { "--limit=7", "--load_size=40" }
  U.equal(o.limit, 7, "gan.data's limit")
  U.equal(o.load_size, 40, "gan.augment's load_size")
  U.equal(o.nz, 100, "gan.nets' nz")
  U.equal(options.get(o, "limit"), 7)
  U.equal(options.get({}, "eval_every"), 0, "a plain table gets the declared default")
  U.equal(options.get({ eval_every = 3 }, "eval_every"), 3)
  U.raises(function() options.get({}, "no_such_option") end, "no module declares it")
  U.raises(function() parse { "--nz_typo=3" } end, "did you mean --nz?")
  U.raises(function() parse { "--lod_size=3" } end, "did you mean --load_size?")
  local groups = {}
  for _, g in ipairs(options.groups) do groups[g.module] = g end
  for _, m in ipairs(options.library) do U.truthy(groups[m], m .. " declares its options") end
  U.raises(function() options.declare("gan.other", "other", { { "limit", 1, "again" } }) end,
    "which gan.data declares already")
end)

T.case("parsing seeds the generator with the seed; unread options are known", function()
  local o = parse { "--seed=9", "--direction=BtoA" }
  local a = gan.randn(5)
  gan.manual_seed(9)
  U.equal(U.maxdiff(a, gan.randn(5)), 0, "the same draws as manual_seed(9)")
  U.equal(table.concat(options.unread(o), ","), "direction", "nothing read --direction yet")
  options.get(o, "direction")
  U.equal(#options.unread(o), 0)
  local w = options.with(o, { limit = 3 })
  U.equal(w.limit, 3); U.equal(w.seed, 9); U.equal(getmetatable(w), nil, "a plain copy")
end)

-- writes a script of these lines as DIR/NAME and returns fn(args) -> ok, output
-- of ganlua running it (the case is skipped when the program is not known)
local function script_runner(dir, name, lines)
  local exe = arg and arg[-1]
  if not exe or not U.exists(exe) then T.skip("the ganlua program is not known") end
  local script = U.tmpdir(dir) .. "/" .. name
  U.write(script, table.concat(lines, "\n"))
  return function(args)
    local p = io.popen(("'%s' '%s' %s 2>&1"):format(exe, script, args))
    local out = p:read("a")
    return p:close(), out
  end
end

T.case("--help prints keys, defaults and comments (subprocess)", function()
  local ganlua = script_runner("options", "r.lua", {
    "local gan = require 'gan'",
    "local opt = gan.options {",
    "  width = 3,   -- how wide",
    "  fast = true, -- go fast",
    "}",
    "print('SCRIPT-BODY-RAN')",
  })
  local _, out = ganlua("--help")
  U.truthy(out:find("--width=3", 1, true) and out:find("how wide", 1, true), out)
  U.truthy(out:find("--fast=true", 1, true) and out:find("go fast", 1, true), out)
  U.truthy(out:find("options of r.lua:", 1, true) and out:find("data (gan.data):", 1, true)
    and out:find("--limit=0", 1, true), "the library's options by module\n" .. out)
  U.truthy(not out:find("SCRIPT-BODY-RAN", 1, true), "exits after the help")
end)

T.case("uses: --help lists only the groups a recipe takes; another group's option is refused, its default accepted",
  function()
    local ganlua = script_runner("options_uses", "own.lua", {
      "local gan = require 'gan'",
      "local opt = gan.options({",
      "  width = 3,   -- how wide",
      "}, { uses = { 'gan.augment' } })",
      "print('WIDTH=' .. opt.width .. ' NF=' .. opt.nf)",
      "print(gan.options.format(opt))",
    })
    local ok, out = ganlua("--help")
    U.truthy(ok and out:find("--width=3", 1, true) and out:find("training loop (gan.train):", 1, true)
      and out:find("augmentation (gan.augment):", 1, true), out)
    U.truthy(not out:find("(gan.nets)", 1, true) and not out:find("(gan.data)", 1, true) and not out:find("--nf=", 1, true),
      "the groups it does not use are not listed\n" .. out)
    ok, out = ganlua("--nf=32")
    U.truthy(not ok and out:find("--nf: own.lua does not use the options of gan.nets (networks)", 1, true), out)
    U.truthy(not out:find("stack traceback", 1, true), out)
    ok, out = ganlua("--nf=64 --flip --width=5")
    U.truthy(ok and out:find("WIDTH=5 NF=64", 1, true), "the default of a group it does not use is accepted\n" .. out)
    U.truthy(out:find("flip=true", 1, true) and out:find("seed=1", 1, true) and not out:find("nf=", 1, true)
      and not out:find("batch=", 1, true), "options.txt holds the groups it uses\n" .. out)
    U.raises(function() gan.options({ a = 1 }, {}, "r.lua", { uses = { "gan.nothing" } }) end,
      "no group of options is declared by 'gan.nothing'")
  end)

T.run()
