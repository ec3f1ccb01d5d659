-- A user's day: a second run into a folder loses nothing (refused, or
-- --force starts over and clears the old samples); a user's error (an
-- option, a file, data, a run folder) prints its message alone and exits
-- non-zero; a program's error inside a step function shows the recipe's
-- line; a resume with a changed option names it; "did you mean" for a
-- mistyped recipe name.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local tmp = U.tmpdir("run_errors")

-- a recipe of a few toy steps: a step function that fails at --fail_at with
-- a program's error on a line of its own
U.write(tmp .. "/tiny.lua", [[
local gan = require "gan"
local opt = gan.options { nf = 8, fail_at = 0, iters = 3, data = "8gaussians", eval = false, sample_every = 1 }
local data = gan.data.load(opt.data, opt)
local G = gan.nn.Linear(opt.nf, 2)
local optG = gan.optim.SGD(G, { lr = 0.01 })
gan.train(opt, { G = G, optG = optG, data = data }, function(real, step)
  local loss = (G(gan.randn(real:size(1), opt.nf)) - real):pow(2):mean()
  if step == opt.fail_at then
    local missing = nil
    return missing.field -- line 10: the failing line
  end
  optG:step(loss)
  return { loss = loss }
end, { noise = function(n) return gan.randn(n, opt.nf) end })
]])

local function run(args)
  local argv = { gan.io.executable(), tmp .. "/tiny.lua", "--threads=1" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local ok, code, text = gan.io.run(argv, { capture = true })
  return ok, text, code
end

local function has(text, s, what) U.truthy(text:find(s, 1, true), (what or "") .. ": no '" .. s .. "' in:\n" .. text) end
local function hasnt(text, s, what) U.truthy(not text:find(s, 1, true), (what or "") .. ": '" .. s .. "' in:\n" .. text) end

local function samples(out)
  local names = {}
  for _, f in ipairs(gan.io.files(out .. "/samples") or {}) do names[#names + 1] = f:match("([^/]+)$") end
  return table.concat(names, " ")
end

T.case("a second run into a folder that holds a run is refused, and loses nothing", function()
  local out = tmp .. "/x"
  local ok, text = run { "--out=" .. out, "--iters=3" }
  U.truthy(ok, text)
  local ckpt = U.read(out .. "/checkpoint.safetensors")
  U.equal(samples(out), "step_000001.png step_000002.png step_000003.png", "three grids")
  ok, text = run { "--out=" .. out, "--iters=1" }
  U.equal(ok, false, "refused")
  has(text, out .. " holds a run already (its checkpoint is at step 3)")
  has(text, "--resume continues it, --force starts it over")
  hasnt(text, "stack traceback", "a user's error, without a traceback")
  U.equal(U.read(out .. "/checkpoint.safetensors"), ckpt, "the first checkpoint is kept")
  U.equal(samples(out), "step_000001.png step_000002.png step_000003.png", "and its samples")
  -- --force starts over: the old grids go, the new run's report sees only its own
  ok, text = run { "--out=" .. out, "--iters=1", "--force" }
  U.truthy(ok, text)
  U.equal(samples(out), "step_000001.png", "only the new run's grid")
  U.equal(#U.read(out .. "/log.csv"):gsub("[^\n]", ""), 2, "log.csv: a header and one row")
  -- --resume continues the run there
  ok, text = run { "--out=" .. out, "--iters=2", "--resume" }
  U.truthy(ok, text)
  has(text, "resumed from " .. out .. "/checkpoint.safetensors at step 1")
end)

T.case("a run that failed before its first checkpoint leaves nothing to lose: the next one starts clean", function()
  local out = tmp .. "/failed"
  local ok, text = run { "--out=" .. out, "--fail_at=3", "--save_every=0" }
  U.equal(ok, false, text)
  U.equal(samples(out), "step_000001.png step_000002.png", "two grids before the failure")
  ok, text = run { "--out=" .. out, "--iters=1" }
  U.truthy(ok, text)
  has(text, "held an earlier run")
  U.equal(samples(out), "step_000001.png", "the failed run's grids are gone")
end)

T.case("an error in a step function shows the recipe's line in its traceback", function()
  local ok, text = run { "--out=" .. tmp .. "/fails", "--fail_at=2" }
  U.equal(ok, false)
  has(text, "tiny.lua:10: attempt to index a nil value (local 'missing')")
  has(text, "stack traceback:")
  has(text, "tiny.lua:10: in ")
  -- one traceback, not a second one from where gan.train passed the error on
  local _, n = text:gsub("stack traceback:", "")
  U.equal(n, 1, "tracebacks")
end)

T.case("a user's error prints its message alone and exits non-zero", function()
  for _, case in ipairs {
    { { "--iter=10" }, "unknown option --iter (did you mean --iters?)" },
    { { "--nf=abc" }, "--nf=abc: expected an integer" },
    { { "--data=" .. tmp .. "/no-such-folder" }, "gan.data: '" .. tmp .. "/no-such-folder' is neither a dataset name" },
    { { "stray" }, "unexpected argument 'stray'" },
  } do
    local ok, text, code = run(case[1])
    U.equal(ok, false, case[2])
    U.truthy(code ~= 0, "exit status")
    has(text, "ganlua: " .. case[2])
    hasnt(text, "stack traceback", case[2])
  end
end)

T.case("resuming with a changed option names it", function()
  local out = tmp .. "/shape"
  local ok, text = run { "--out=" .. out, "--iters=1" }
  U.truthy(ok, text)
  ok, text = run { "--out=" .. out, "--iters=2", "--resume", "--nf=4" }
  U.equal(ok, false)
  has(text, "the checkpoint has nf=8, this run nf=4")
  hasnt(text, "stack traceback")
  U.truthy(#text < 1500, "a short message:\n" .. text)
end)

T.case("a mistyped recipe name gets a suggestion", function()
  local ok, _, text = gan.io.run({ gan.io.executable(), "dcgn" }, { capture = true })
  U.equal(ok, false)
  has(text, "no recipe of that name")
  has(text, "did you mean dcgan?")
  ok, _, text = gan.io.run({ gan.io.executable(), "wgan-gp" }, { capture = true })
  has(text, "did you mean wgan_gp?")
end)

T.case("recipes/NAME.lua works outside the source tree; an installed ganlua reads the installed library", function()
  local exe = gan.io.executable()
  local ok, _, text = gan.io.run({ "sh", "-c", "cd / && exec \"$0\" recipes/dcgan.lua --help", exe }, { capture = true })
  U.truthy(ok, text)
  has(text, "usage: ganlua")
  -- an installed copy (cmake --install into a scratch prefix) reads its own library, as lua5.4 does
  local build = exe:match("^(.*)/[^/]+$")
  local prefix = tmp .. "/prefix"
  ok = gan.io.run({ "cmake", "--install", build, "--prefix", prefix }, { capture = true })
  U.truthy(ok, "cmake --install")
  ok, _, text = gan.io.run({ "env", "-u", "GANLUA_PATH", prefix .. "/bin/ganlua", "-e", "print(package.searchpath('gan.train', package.path))" },
    { capture = true })
  U.truthy(ok, text)
  U.equal(text, prefix .. "/share/lua/5.4/gan/train/init.lua\n", "the library an installed ganlua loads")
end)

T.case("on a folder of the user's images the final evaluation says why it measures nothing", function()
  local images = U.image_folder("run_errors_images", 4, 1, 16)
  local ok, _, text = gan.io.run({ gan.io.executable(), "dcgan", "--data=" .. images, "--size=16", "--channels=1",
    "--nf=4", "--nz=8", "--batch=4", "--iters=1", "--eval=true", "--eval_every=0", "--threads=1",
    "--out=" .. tmp .. "/folder" }, { capture = true })
  U.truthy(ok, text)
  has(text, "note: no final evaluation: --data=" .. images .. " has no measure of its own")
end)

T.run()
