-- gan.help: the reference entries that help() prints, in the REPL and under -e.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local help = require "gan.help"

local exe = arg[-1]
assert(exe and exe:find("ganlua"), "run this file with the ganlua program")

-- runs the ganlua program with args, input on stdin; stdout, stderr, success
local function ganlua(args, input)
  local dir = U.tmpdir("help")
  local f = assert(io.open(dir .. "/in", "w"))
  f:write(input or "")
  f:close()
  local ok = os.execute(("'%s' %s <'%s/in' >'%s/out' 2>'%s/err'"):format(exe, args, dir, dir, dir))
  return U.read(dir .. "/out"), U.read(dir .. "/err"), ok
end

local function has(text, want)
  U.truthy(text:find(want, 1, true), ("%q missing in:\n%s"):format(want, text))
end

T.case("help(gan.cat) in the REPL prints its entry", function()
  local out, err, ok = ganlua("", "help(gan.cat)\n")
  U.truthy(ok, err)
  has(out, "gan.cat(xs, [dim])")
  has(out, "the tensors joined along dim")
  has(out, "dim  (int, optional, default 1)")
  has(out, "local both = gan.cat({real, fake})")
  U.truthy(not out:find("nil"), "help prints the entry and returns nothing:\n" .. out)
end)

T.case("help under -e, by value and by name", function()
  local out, err, ok = ganlua("-e 'help(gan.grad)' -e 'help \"Tensor:narrow\"'")
  U.truthy(ok, err)
  has(out, "gan.grad(outputs, inputs, [opts])")
  has(out, "create_graph")
  has(out, "gan.narrow(x, dim, start, length)  or  x:narrow(dim, start, length)")
end)

T.case("entries of methods, tables of the binding, Lua functions, classes and modules", function()
  has(help.entry(gan.sum), "x:sum([dims], [keepdim])")
  has(help.entry("size"), "x:size([dim])")
  U.truthy(not help.entry("size"):find("gan.size", 1, true), "size is a method only")
  has(help.entry(gan.io.save_png), "gan.io.save_png(path, x)")
  has(help.entry(gan.kernels.use), "gan.kernels.use(isa)")
  has(help.entry(gan.stats.kid), "the kernel inception distance")
  has(help.entry(gan.F.bce_logits), "gan.F.bce_logits(x, t, opts)")
  has(help.entry(gan.F.bce_logits), "Binary cross-entropy of logits")
  has(help.entry(gan.nn.Linear), "gan.nn.Linear(in_features, out_features, opts)")
  has(help.entry(gan.nn.Linear(2, 3)), "in_features")
  has(help.entry(gan.io), "holds: abspath")
  has(help.entry("autograd"), "no_grad")
  has(help.entry(gan.zeros(2, 3)), "a tensor of shape {2, 3}, float32")
  has(help.entry(), "help(gan.cat)")
end)

T.case("every module of the library and every function in it has an entry that renders", function()
  local p = assert(io.popen("find lua/gan -name '*.lua' | sort"))
  local modules, functions, bare = 0, 0, {}
  for path in p:lines() do
    local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
    local ok, mod = pcall(require, name)
    if ok and type(mod) == "table" and name ~= "gan.test" then
      modules = modules + 1
      U.truthy(help.entry(mod), name)
      for k, v in pairs(mod) do
        if type(v) == "function" then
          functions = functions + 1
          local text, err = help.entry(v)
          U.truthy(text, ("%s.%s: %s"):format(name, k, tostring(err)))
          if text:find("(no reference entry)", 1, true) then bare[#bare + 1] = name .. "." .. k end
        end
      end
    end
  end
  p:close()
  U.truthy(modules >= 50 and functions >= 300, ("%d modules, %d functions"):format(modules, functions))
  table.sort(bare)
  U.truthy(#bare == 0, "functions whose entry has no text: " .. table.concat(bare, ", "))
end)

T.case("what has no entry is said so", function()
  local text, err = help.entry("no_such_function")
  U.equal(text, nil)
  has(err, "no entry for 'no_such_function'")
  text, err = help.entry(42)
  U.equal(text, nil)
  has(err, "no entry for a number value")
end)

T.run()
