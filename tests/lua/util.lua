-- Checks shared by the Lua tests of the library: numbers and tensors close
-- to expected values, gradients against central finite differences, and a
-- scratch folder.
local gan = require "gan"

local U = {}

function U.fail(msg, level)
  error(msg, (level or 1) + 1)
end

function U.close(a, b, tol, what)
  tol = tol or 1e-5
  if type(a) ~= "number" or type(b) ~= "number" or math.abs(a - b) > tol * math.max(1, math.abs(b)) then
    error(("%s: got %s, expected %s (tol %g)"):format(what or "close", tostring(a), tostring(b), tol), 2)
  end
end

local function flat(v, out)
  out = out or {}
  if type(v) == "table" then
    for _, x in ipairs(v) do flat(x, out) end
  else
    out[#out + 1] = v
  end
  return out
end
U.flat = flat

-- tensor t against a (nested) table of expected numbers
function U.tclose(t, expected, tol, what)
  tol = tol or 1e-5
  local got = flat(t:totable())
  local want = flat(expected)
  if #got ~= #want then
    error(("%s: %d values, expected %d"):format(what or "tclose", #got, #want), 2)
  end
  for i = 1, #got do
    if math.abs(got[i] - want[i]) > tol * math.max(1, math.abs(want[i])) then
      error(("%s: value %d is %.8g, expected %.8g (tol %g)"):format(what or "tclose", i, got[i], want[i], tol), 2)
    end
  end
end

function U.shape(t, expected, what)
  local s = table.concat(t:shape(), ",")
  local e = table.concat(expected, ",")
  if s ~= e then error(("%s: shape (%s), expected (%s)"):format(what or "shape", s, e), 2) end
end

-- the largest |a - b| over two tensors of the same shape
function U.maxdiff(a, b)
  return gan.no_grad(function() return (a - b):abs():max():item() end)
end

-- deterministic inputs that a PyTorch script can make too: sin(a i + b)
-- (or cos with fn = "cos") over the flat index i = 0, 1, ..., reshaped;
-- computed in double precision (a float32 a i loses digits for large i)
function U.det(shape, a, b, fn)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local f, v = fn == "cos" and math.cos or math.sin, {}
  for i = 0, n - 1 do v[i + 1] = f(a * i + b) end
  return gan.tensor(v):reshape(shape)
end

-- the shape {C, H, W} of a grid gan.image.save_grid writes by default:
-- rows x cols tiles of h x w pixels (w defaults to h), `pad` (2) pixels
-- between and around them, all enlarged by gan.image.default_scale(h, w)
function U.grid_shape(c, rows, cols, h, w, pad)
  w, pad = w or h, pad or 2
  local k = gan.image.default_scale(h, w)
  return { c, k * (rows * h + (rows + 1) * pad), k * (cols * w + (cols + 1) * pad) }
end

function U.equal(a, b, what)
  if a ~= b then error(("%s: got %s, expected %s"):format(what or "equal", tostring(a), tostring(b)), 2) end
end

function U.truthy(v, what)
  if not v then error(what or "expected a true value", 2) end
  return v
end

-- the error message of fn(...), or a failure when fn does not raise
function U.raises(fn, pattern, what)
  local ok, err = pcall(fn)
  if ok then error((what or "raises") .. ": no error raised", 2) end
  err = tostring(err)
  if pattern and not err:find(pattern, 1, true) then
    error(("%s: error '%s' does not mention '%s'"):format(what or "raises", err, pattern), 2)
  end
  return err
end

local function get(t, k)
  return gan.no_grad(function() return t:reshape(-1):narrow(1, k, 1):item() end)
end

local function set(t, k, v)
  gan.no_grad(function() t:reshape(-1):narrow(1, k, 1):fill_(v) end)
end

-- Compares gan.grad of f() with respect to each tensor of `inputs` with
-- central differences on up to `opts.points` entries of each tensor.
function U.gradcheck(f, inputs, opts)
  opts = opts or {}
  local eps, atol, rtol = opts.eps or 1e-2, opts.atol or 1e-2, opts.rtol or 2e-2
  local grads = gan.grad(f(), inputs, {})
  for i, t in ipairs(inputs) do
    local n = t:numel()
    local picks = {}
    local m = math.min(n, opts.points or 6)
    for j = 1, m do picks[j] = math.floor((j - 1) * n / m) + 1 end
    local g = grads[i]
    for _, k in ipairs(picks) do
      local x0 = get(t, k)
      set(t, k, x0 + eps)
      local lp = f():item()
      set(t, k, x0 - eps)
      local lm = f():item()
      set(t, k, x0)
      local num = (lp - lm) / (2 * eps)
      local ana = get(g, k)
      if math.abs(num - ana) > atol + rtol * math.abs(num) then
        error(("%s: input %d entry %d: analytic %.6g, numeric %.6g"):format(opts.name or "gradcheck", i, k, ana,
          num), 2)
      end
    end
  end
  return true
end

-- gradient check of every parameter of a module (and of the input, unless
-- opts.input == false) for the loss sum(m(x) * r) with a fixed random r
function U.gradcheck_module(m, x, opts)
  opts = opts or {}
  local y = m(x)
  local r = gan.randn(y:shape())
  local inputs = m:parameters()
  if opts.input ~= false and x:dtype() == "float32" then
    x:requires_grad(true)
    inputs[#inputs + 1] = x
  end
  return U.gradcheck(function() return (m(x) * r):sum() end, inputs, opts)
end

-- a fresh scratch folder for this test file
function U.tmpdir(name)
  local base = os.getenv("GANLUA_TEST_TMP") or "/tmp/ganlua-test"
  local dir = base .. "/" .. name
  os.execute(("rm -rf '%s' && mkdir -p '%s'"):format(dir, dir))
  return dir
end

function U.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

function U.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function U.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

--- Skips the case (gan.test's T.skip) unless Fashion-MNIST is installed:
-- what StyleGAN2's recipes need.
function U.skip_without_style(T)
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
end

--- Runs a recipe in a fresh ganlua process (the one running the tests):
-- returns whether it exited 0, and everything it printed.
function U.run_recipe(recipe, args)
  local p = io.popen(("'%s' %s %s 2>&1"):format(arg[-1], recipe, args))
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

--- Checks the files a run of a few steps writes into out (with
-- --sample_every=2), and that its output matches pattern.
function U.check_run(out, text, pattern)
  U.truthy(U.exists(out .. "/checkpoint.safetensors"), "checkpoint\n" .. text)
  U.truthy(U.exists(out .. "/log.csv") and U.exists(out .. "/options.txt"), "log and options\n" .. text)
  U.truthy(U.exists(out .. "/samples/step_000002.png"), "samples\n" .. text)
  U.truthy(text:find(pattern), text)
end

--- Checks the line gan.metrics.track_fd printed into text, "COLUMN vs FD
-- over N evaluations: Pearson r = R", against Pearson's r of xs and fd
-- (the eval.csv columns, N of each), and that file holds it too.
function U.check_printed_pearson(text, column, xs, fd, file)
  local r = gan.metrics.pearson(xs, fd)
  local pattern = column .. " vs FD over " .. #xs .. " evaluations: Pearson r = (%-?[%d.]+)"
  local printed = tonumber(text:match(pattern))
  U.truthy(printed, text)
  U.close(printed, r, 1e-3)
  U.truthy(U.read(file):find("Pearson r = ", 1, true), file)
end

--- A folder of n random PNG images (C, h, w) for recipe runs that should
-- not spend their time loading Fashion-MNIST; returns its path.
function U.image_folder(name, n, c, h, w)
  local dir = U.tmpdir(name)
  for i = 1, n do assert(gan.io.save_png(("%s/%03d.png"):format(dir, i), gan.rand(c, h, w or h))) end
  return dir
end

--- A tiny CycleGAN-layout folder: trainA and trainB with three random RGB
-- PNGs each (20x20 and 18x18), testA with one flat PNG, testB with one gray
-- JPEG (square.jpg); returns its path.
function U.unpaired_folder(name)
  local dir = U.tmpdir(name)
  for _, sub in ipairs({ "trainA", "trainB", "testA", "testB" }) do os.execute(("mkdir -p '%s/%s'"):format(dir, sub)) end
  for i = 1, 3 do
    assert(gan.io.save_png(("%s/trainA/a%d.png"):format(dir, i), gan.rand(3, 20, 20)))
    assert(gan.io.save_png(("%s/trainB/b%d.png"):format(dir, i), gan.rand(3, 18, 18)))
  end
  assert(gan.io.save_png(dir .. "/testA/flat.png", gan.full({ 3, 16, 16 }, 0.5)))
  os.execute(("cp tests/data/gray_24x24.jpg '%s/testB/square.jpg'"):format(dir))
  return dir
end

--- Checks that OUT/metrics.json of an unpaired translation run holds the
-- translation shares and cycle L1s (gan.translate's evaluation), each in [0, 2].
function U.check_translation_metrics(out)
  local m = U.read(out .. "/metrics.json")
  for _, k in ipairs({ "A_to_B", "B_to_A", "cycle_l1", "cycle_l1_A", "cycle_l1_B" }) do
    local v = tonumber(m:match('"' .. k .. '":%s*([-%d.e]+)'))
    U.truthy(v and v >= 0 and v <= 2, k .. " in metrics.json\n" .. m)
  end
end

--- The two smoke cases every unpaired translation recipe shares, as gan.test
-- cases: a few steps on Fashion-MNIST (sneakers <-> ankle boots) with the
-- final evaluation, then a few on U.unpaired_folder followed by --test.
-- @param spec {name = "unit" (recipes/NAME.lua), tiny = its smallest-network
-- options, ending in a space and holding `nf`, log = the log.csv header as a
-- pattern, folder = options of the folder run and what they mean, e.g.
-- {"--fm=0 ", "plain GAN loss"}}
function U.translation_smoke_cases(T, spec)
  local function run(args) return U.run_recipe("recipes/" .. spec.name .. ".lua", args) end
  local nf = assert(spec.tiny:match("%-%-nf=%d+ "), "spec.tiny sets --nf")

  T.case(spec.name .. ".lua on Fashion-MNIST sneakers and ankle boots", function()
    if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then
      T.skip("Fashion-MNIST is not installed")
    end
    local out = U.tmpdir("recipe_" .. spec.name)
    local ok, text = run("--iters=3 --limit=32 " .. spec.tiny .. "--eval=true --eval_every=0 --eval_samples=16 --out="
      .. out)
    U.truthy(ok, text)
    U.check_run(out, text, "step 3/3")
    local log = U.read(out .. "/log.csv")
    U.truthy(log:find(spec.log), log)
    -- six columns: real A, translated, reconstructed, real B, translated, reconstructed
    local grid = gan.image.load(out .. "/samples/step_000003.png")
    U.shape(grid, U.grid_shape(1, 6, 6, 32), "a 6x6 grid of 32x32 gray images")
    U.check_translation_metrics(out)
  end)

  T.case(spec.name .. ".lua trains on a folder, " .. spec.folder[2] .. ", and --test translates it", function()
    local dir = U.unpaired_folder("recipe_" .. spec.name .. "_folder")
    local out = dir .. "/run"
    local opts = ("--data=%s --size=16 --channels=3 %s--out=%s "):format(dir, spec.folder[1], out) .. spec.tiny
    local ok, text = run("--iters=2 " .. opts)
    U.truthy(ok, text)
    U.check_run(out, text, "step 2/2")
    local log = U.read(out .. "/log.csv")
    U.truthy(log:find(spec.log), log)
    U.shape(gan.image.load(out .. "/samples/step_000002.png"), U.grid_shape(3, 6, 6, 16), "RGB grid")
    ok, text = run("--test " .. opts)
    U.truthy(ok, text)
    U.truthy(text:find("AtoB: 1 images translated"), text)
    U.shape(gan.image.load(out .. "/results/BtoA/square.png"), { 3, 16, 16 }, "a translation")
    -- a checkpoint of other shapes is a clear error
    ok, text = run("--test --nf=8 " .. opts:gsub((nf:gsub("%p", "%%%0")), ""))
    U.truthy(not ok and text:find("%-%-test: cannot load"), text)
  end)
end

return U
