-- Small things a user meets in a day: shapes that print, gan.options under
-- -e, printed module trees that close every parenthesis, what a final
-- evaluation announces, the image size gan.data.load gives, and Ctrl-C
-- ending a script or a run with a failure status.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local exe = arg[-1]
assert(exe and exe:find("ganlua"), "run this file with the ganlua program")

-- runs a shell command line; stdout, stderr, exit code
local function sh(cmd)
  local dir = U.tmpdir("everyday")
  local _, _, code = os.execute(("%s >'%s/out' 2>'%s/err'"):format(cmd, dir, dir))
  return U.read(dir .. "/out"), U.read(dir .. "/err"), code
end

T.case("x:size() prints as the shape", function()
  U.equal(tostring(gan.zeros(2, 3):size()), "{2, 3}")
  U.equal(tostring(gan.scalar(1):shape()), "{}")
  local out, err, code = sh(("'%s' -e 'print(gan.zeros(4, 1, 5):size())'"):format(exe))
  U.equal(code, 0, err)
  U.equal(out, "{4, 1, 5}\n")
  local s = gan.zeros(2):size()
  s[2] = {}
  U.truthy(tostring(s):match("^{2, table: "), "whatever is stored in it prints")
end)

T.case("gan.options {} under -e reads no arguments", function()
  local out, err, code = sh(("'%s' -e 'local o = gan.options { lr = 0.5 }; print(o.lr, #arg)'"):format(exe))
  U.equal(code, 0, err)
  U.equal(out, "0.5\t0\n")
end)

T.case("a printed ResNet generator closes every parenthesis it opens", function()
  local G = gan.nets.resnet.Generator(3, 3, { nf = 4, blocks = 2, downs = 1 })
  local text = tostring(G)
  local _, opened = text:gsub("%(", "")
  local _, closed = text:gsub("%)", "")
  U.equal(opened, closed, text)
  U.truthy(text:find("ResnetBlock(\n    8\n    (body): Sequential(", 1, true), text)
  U.truthy(text:find("^ResnetGenerator%(\n  3 %-> 3, nf=4"), text)
end)

-- a toy training run: (opt, hooks, marker) as arguments; at its first step
-- it creates the file marker, when given
local TOY_RUN = [[
local gan = require "gan"
local opt, hooks, marker = ...
local data = gan.data.load("8gaussians", opt)
local G = gan.nn.Linear(2, 2)
local optG = gan.optim.Adam(G, { lr = 1e-3 })
gan.train(opt, { G = G, optG = optG, data = data }, function(real, step)
  if step == 1 and marker then io.open(marker, "w"):close() end
  local loss = ((G(real) - real) ^ 2):mean()
  optG:step(loss)
  return { loss = loss }
end, hooks)
]]

T.case("the final evaluation announces no count; the results say how many were measured", function()
  local lines = {}
  local real_print = print
  print = function(...) lines[#lines + 1] = table.concat({ ... }, "\t") end -- luacheck: ignore
  local dir = U.tmpdir("everyday_eval")
  local ok, err = pcall(assert(load(TOY_RUN, "=toy")), { iters = 4, batch = 8, out = dir, sample_every = 0,
    save_every = 0, eval_every = 0, eval_samples = 300, limit = 64 }, { noise = function(n) return gan.randn(n, 2) end })
  print = real_print -- luacheck: ignore
  U.truthy(ok, err)
  local text = table.concat(lines, "\n")
  U.truthy(text:find("evaluating at step 4 ...", 1, true), text)
  U.truthy(not text:find("evaluating %d+ samples"), text)
  U.truthy(text:find("metrics at step 4 %(%d+ samples%)"), text)
end)

T.case("gan.data.load gives the 32 x 32 images its page promises, or the size asked", function()
  for _, opt in ipairs({ { limit = 16 }, { limit = 16, batch = 4 } }) do
    local x = gan.data.load("fashion-mnist", opt):next()
    U.equal(tostring(x:size()), ("{%d, 1, 32, 32}"):format(opt.batch or 64))
  end
  U.equal(tostring(gan.data.load("fashion-mnist", { limit = 16, size = 28, batch = 2 }):next():size()), "{2, 1, 28, 28}")
end)

-- runs script in a folder of its own, sends SIGINT once the script has
-- created the file "started"; stdout, stderr, exit code, the folder
local function interrupt(script)
  local dir = U.tmpdir("sigint")
  local f = assert(io.open(dir .. "/script.lua", "w"))
  f:write(script)
  f:close()
  local out, err, code = sh(("cd '%s' && { '%s' script.lua & pid=$!; n=0; "
    .. "while [ ! -e started ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; kill -INT $pid; wait $pid; }")
    :format(dir, exe))
  return out, err, code, dir
end

T.case("Ctrl-C ends a script with a failure status", function()
  local _, err, code = interrupt("io.open('started', 'w'):close(); while true do end")
  U.truthy(code ~= 0, "exit status " .. tostring(code))
  U.truthy(err:find("interrupted", 1, true), err)
end)

T.case("Ctrl-C stops a training run, saves it, and ends with a failure status", function()
  local out, err, code, dir = interrupt(("assert(load(%q))({ iters = 100000000, batch = 8, out = 'run', "
    .. "sample_every = 0, save_every = 0, eval = false, limit = 64 }, nil, 'started')"):format(TOY_RUN))
  U.truthy(code ~= 0, "exit status " .. tostring(code) .. "\n" .. out .. err)
  U.truthy((out .. err):find("interrupted", 1, true), out .. err)
  U.truthy(U.exists(dir .. "/run/checkpoint.safetensors"), "the checkpoint of the step reached is saved:\n" .. out .. err)
end)

T.run()
