-- gan.train: the log, samples and checkpoints it writes; an exact resume;
-- a NaN loss stopping the run.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn, F = gan.nn, gan.F

-- a tiny GAN on a toy set, built from the seed as a fresh process would
local function setup(out, extra)
  local opt = { iters = 20, batch = 32, seed = 5, out = out, sample_every = 5, save_every = 5, nz = 4,
    limit = 256, print_every = 10 }
  for k, v in pairs(extra or {}) do opt[k] = v end
  gan.manual_seed(opt.seed)
  local data = gan.data.load("8gaussians", opt)
  local G = nn.Sequential { nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2) }
  local D = nn.Sequential { nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(16, 1) }
  local optG = gan.optim.Adam(G, { lr = 1e-3, betas = { 0.5, 0.999 } })
  local optD = gan.optim.SGD(D, { lr = 1e-2, momentum = 0.9 })
  local sched = gan.optim.schedule.step(optD, { every = 7, gamma = 0.5 })
  local ema = gan.optim.EMA(G, 0.9)
  local state = { G = G, D = D, optG = optG, optD = optD, sched = sched, ema = ema, data = data, count = 0,
    sample = function(n) return ema:module()(gan.randn(n, 4)) end }
  local step = function(real)
    local fake = G(gan.randn(real:size(1), 4))
    local lossD = F.bce_logits(D(real), 0.9) + F.bce_logits(D(fake:detach()), 0)
    optD:step(lossD)
    local lossG = F.bce_logits(D(fake), 1)
    optG:step(lossG)
    ema:update()
    sched:step()
    state.count = state.count + 1
    return { D = lossD, G = lossG, lr = optD.lr }
  end
  return opt, state, step
end

local function lines(path)
  local out = {}
  for l in io.lines(path) do out[#out + 1] = l end
  return out
end

T.case("a run writes options, the CSV log, samples and a checkpoint", function()
  local out = U.tmpdir("train_basic")
  local opt, state, step = setup(out, { iters = 6 })
  local summary = gan.train(opt, state, step)
  U.equal(summary.steps, 6)
  U.truthy(summary.losses.D and summary.losses.G, "last losses")
  local log = lines(out .. "/log.csv")
  U.equal(log[1], "step,D,G,lr")
  U.equal(#log, 7, "a header and one row per step")
  U.truthy(log[7]:match("^6,"), log[7])
  U.truthy(U.exists(out .. "/samples/step_000005.png"), "a sample every 5 steps")
  U.truthy(U.exists(out .. "/samples/step_000006.png"), "and at the end")
  local ckpt = out .. "/checkpoint.safetensors"
  local tensors, meta = gan.io.load_safetensors(ckpt)
  U.truthy(tensors, meta)
  U.equal(meta["ganlua.step"], "6")
  for _, k in ipairs { "G.1.weight", "G.2.running_mean", "D.4.bias", "optG.1.weight.m", "optD.1.weight.buf",
    "ema.1.weight" } do
    U.truthy(tensors[k], "checkpoint holds " .. k)
  end
  U.truthy(meta["data.pos"] and meta["sched.t"] and meta["state.count"] and meta["ganlua.rng.offset"], "metadata")
  U.equal(state.count, 6)
end)

T.case("hooks.sample_label: a labelled grid at the steps it names, one grid per step", function()
  local out = U.tmpdir("train_labels")
  local opt, state, step = setup(out, { iters = 7 })
  local labels = { [3] = "early", [5] = "4x4", [7] = "last" }
  gan.train(opt, state, step, { sample_label = function(s) return labels[s] end })
  local names = {}
  for _, path in ipairs(gan.io.files(out .. "/samples", { recursive = false, ext = { "png" } })) do
    names[#names + 1] = path:match("([^/]+)$")
  end
  table.sort(names)
  U.equal(table.concat(names, " "), "step_000003_early.png step_000005_4x4.png step_000007_last.png",
    "labelled grids replace the plain ones at their steps; none again at the end")
  local o2, s2, step2 = setup(U.tmpdir("train_bad_label"), { iters = 2 })
  U.raises(function() gan.train(o2, s2, step2, { sample_label = function() return "a b" end }) end,
    "letters, digits and dashes")
end)

T.case("20 steps = 10 steps + resume + 10 steps, bit for bit", function()
  local a_out, b_out = U.tmpdir("train_straight"), U.tmpdir("train_resumed")
  local opt, sa, step = setup(a_out)
  gan.train(opt, sa, step)
  local opt1, sb1, step1 = setup(b_out, { iters = 10 })
  gan.train(opt1, sb1, step1)
  local opt2, sb, step2 = setup(b_out, { iters = 20, resume = true })
  local summary = gan.train(opt2, sb, step2)
  U.equal(summary.steps, 10, "ten more steps")
  U.equal(sb.count, 20, "plain values restored")
  local function same(ma, mb, what)
    local x, y = ma:state_dict(), mb:state_dict()
    for k, t in pairs(x) do U.equal(U.maxdiff(t, y[k]), 0, what .. " " .. k) end
  end
  same(sa.G, sb.G, "G"); same(sa.D, sb.D, "D"); same(sa.ema:module(), sb.ema:module(), "EMA")
  local ma, mb = sa.optG:state_dict(), sb.optG:state_dict()
  for k, v in pairs(ma) do
    if type(v) ~= "number" then U.equal(U.maxdiff(v, mb[k]), 0, "optG " .. k) else U.equal(v, mb[k]) end
  end
  U.equal(sa.optD.lr, sb.optD.lr, "schedule")
  U.equal(gan.rng_state().offset ~= nil, true)
  local la, lb = lines(a_out .. "/log.csv"), lines(b_out .. "/log.csv")
  U.equal(#lb, 21, "the log continues")
  for i = 1, #la do U.equal(lb[i], la[i], "log line " .. i) end
end)

T.case("an eval hook that draws noise and runs G in training mode leaves the run unchanged", function()
  local a_out, b_out = U.tmpdir("train_no_eval"), U.tmpdir("train_eval_hook")
  local opt, sa, step = setup(a_out, { iters = 8, eval = false })
  gan.train(opt, sa, step)
  local calls = 0
  local optb, sb, stepb = setup(b_out, { iters = 8, eval_every = 3 })
  gan.train(optb, sb, stepb, { eval = function()
    calls = calls + 1
    sb.G:train()
    local y = sb.G(gan.randn(64, 4) * 5 + 3)         -- moves the batch-norm running statistics
    return { spread = y:abs():mean():item(), draw = gan.rand(1):item() }
  end })
  U.truthy(calls >= 2, "the hook ran during the run")
  local la, lb = lines(a_out .. "/log.csv"), lines(b_out .. "/log.csv")
  for i = 1, #la do U.equal(lb[i], la[i], "log line " .. i) end
  local ev = lines(b_out .. "/eval.csv")
  U.truthy(ev[1]:find("draw") and #ev >= 3, "the hook's values are logged")
  -- its own fixed stream: the same draw at every evaluation
  U.truthy(ev[1]:match("^step,draw,"), ev[1])
  U.equal(ev[2]:match("^%d+,([^,]+)"), ev[3]:match("^%d+,([^,]+)"), "the same draw each time")
  local x, y = sa.G:state_dict(), sb.G:state_dict()
  for k, t in pairs(x) do U.equal(U.maxdiff(t, y[k]), 0, "G " .. k) end
end)

T.case("a NaN loss stops the run, names it, and keeps the last good checkpoint", function()
  local out = U.tmpdir("train_nan")
  local opt, state, step = setup(out, { iters = 20 })
  local err = U.raises(function()
    gan.train(opt, state, function(real, s)
      local r = step(real)
      if s == 7 then r.G = gan.scalar(0 / 0) end
      return r
    end)
  end, "loss 'G' is")
  U.truthy(err:find("step 7", 1, true), err)
  U.truthy(err:find("step 5", 1, true), "names the last good checkpoint: " .. err)
  local _, meta = gan.io.load_safetensors(out .. "/checkpoint.safetensors")
  U.equal(meta["ganlua.step"], "5")
end)

T.case("weights that turned NaN are never saved: the last checkpoint stays finite", function()
  -- the loss of step 10 is finite, but its update left NaN weights (as a
  -- diverging run does): the save at step 10 is refused, step 11's loss is
  -- NaN, and the checkpoint on disk is step 5's
  local out = U.tmpdir("train_nan_weights")
  local opt, state, step = setup(out, { iters = 20 })
  local err = U.raises(function()
    gan.train(opt, state, function(real, s)
      local r = step(real)
      if s == 10 then
        local ps = state.G:parameters()
        gan.no_grad(function() ps[#ps]:fill_(0 / 0) end) -- G's output bias
      end
      return r
    end)
  end, "loss '")
  U.truthy(err:find("at step 11", 1, true), err)
  U.truthy(err:find("(step 5)", 1, true), "names the last good checkpoint: " .. err)
  local tensors, meta = gan.io.load_safetensors(out .. "/checkpoint.safetensors")
  U.equal(meta["ganlua.step"], "5")
  U.equal(#gan.checkpoint.nonfinite(tensors), 0)
end)

T.case("a checkpoint holding NaN or infinite values is refused, with the tensors named", function()
  local out = U.tmpdir("train_nan_resume")
  local opt, state, step = setup(out, { iters = 2 })
  gan.train(opt, state, step)
  local path = out .. "/checkpoint.safetensors"
  local tensors, meta = gan.io.load_safetensors(path)
  local names = {}
  for k in pairs(tensors) do names[#names + 1] = k end
  table.sort(names)
  tensors[names[1]]:fill_(0 / 0)
  tensors[names[2]]:fill_(math.huge)
  U.truthy(gan.io.save_safetensors(path, tensors, meta))
  local ok, msg = gan.checkpoint.load(path, state)
  U.equal(ok, nil)
  U.truthy(msg:find("NaN or infinite values in 2 tensor(s) (" .. names[1] .. ", " .. names[2] .. ")", 1, true), msg)
  -- and gan.train says so instead of resuming
  local opt2, state2, step2 = setup(out, { iters = 4, resume = true })
  U.raises(function() gan.train(opt2, state2, step2) end, "cannot resume from")
  -- a state that holds them is not written: the file keeps what it had
  local before = U.read(path)
  local ok2, msg2 = gan.checkpoint.save(path, { t = gan.tensor({ 1, 0 / 0 }) })
  U.equal(ok2, nil)
  U.truthy(msg2:find("not written, 1 tensor(s) hold NaN or infinite values: t", 1, true), msg2)
  U.equal(U.read(path), before)
end)

T.case("a run removes the temporaries of a killed save, not those of a live writer", function()
  local out = U.tmpdir("train_stale")
  gan.io.mkdir(out)
  local ckpt = out .. "/checkpoint.safetensors"
  local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
  -- pid_max is at most 4194304, so process 999999999 is gone
  local dead, live, other = ckpt .. ".tmp.999999999.3", ckpt .. ".tmp." .. pid .. ".7", out .. "/notes.tmp.999999999.1"
  for _, p in ipairs { dead, live, other } do assert(io.open(p, "w")):close() end
  local opt, state, step = setup(out, { iters = 2 })
  gan.train(opt, state, step)
  U.equal(gan.io.exists(dead), false, "the dead writer's temporary is removed")
  U.truthy(gan.io.exists(live), "a live writer's temporary is kept")
  U.truthy(gan.io.exists(other), "another file's is not touched")
  U.equal(gan.checkpoint.remove_stale(ckpt), 0)
end)

T.case("resuming keeps log.csv's rows on disk at every moment (a kill then loses none)", function()
  local csv = require "gan.train.log".csv
  local dir = U.tmpdir("train_log_resume")
  gan.io.mkdir(dir)
  local path = dir .. "/log.csv"
  local function put(text) local f = assert(io.open(path, "w")); f:write(text); f:close() end
  local rows = { "step,a,b" }
  for s = 1, 1000 do rows[#rows + 1] = ("%d,%d,0.5"):format(s, s) end
  local kept = table.concat(rows, "\n") .. "\n"
  -- resumed from the last step written: nothing is rewritten, the rows are
  -- on disk before the writer writes or flushes anything (they were only in
  -- its buffer when the file was truncated and written again)
  put(kept)
  local w = csv(path, 1000)
  U.equal(U.read(path), kept)
  w:write(1001, { a = 1001, b = 0.5 })
  w:close()
  U.equal(U.read(path), kept .. "1001,1001,0.5\n")
  -- rows after the checkpoint's step, and a line a kill cut short, go; the
  -- shorter file replaces the old one whole
  put(kept .. "1001,1001,0.5\n1002,10")
  w = csv(path, 1000)
  U.equal(U.read(path), kept)
  U.equal(gan.io.exists(path .. ".tmp"), false)
  w:close()
end)

T.case("a run whose last checkpoint cannot be written ends with an error naming the last one written", function()
  local out = U.tmpdir("train_save_fails")
  local opt, state, step = setup(out, { iters = 8, save_every = 5 })
  local err = U.raises(function()
    gan.train(opt, state, function(real, s)
      -- after the save at step 5, the checkpoint's name is taken by a folder,
      -- so every later save fails as on a full disk
      if s == 6 then
        os.remove(out .. "/checkpoint.safetensors")
        gan.io.mkdir(out .. "/checkpoint.safetensors/x")
      end
      return step(real)
    end)
  end, "gan.train: the checkpoint of step 8 was not written")
  U.truthy(err:find("no checkpoint was written", 1, true) or err:find("holds step 5", 1, true), err)
end)

T.case("a checkpoint whose step is not a whole number of steps is refused on resume", function()
  local out = U.tmpdir("train_bad_step")
  local opt, state, step = setup(out, { iters = 2 })
  gan.train(opt, state, step)
  local path = out .. "/checkpoint.safetensors"
  local tensors, meta = gan.io.load_safetensors(path)
  for _, bad in ipairs { "abc", "1e300", "2.5", "-5", "", "99999999999999999999" } do
    meta["ganlua.step"] = bad
    U.truthy(gan.io.save_safetensors(path, tensors, meta))
    local opt2, state2, step2 = setup(out, { iters = 4, resume = true })
    U.raises(function() gan.train(opt2, state2, step2) end, "not a whole number of steps")
  end
  meta["ganlua.step"] = nil
  U.truthy(gan.io.save_safetensors(path, tensors, meta))
  local opt3, state3, step3 = setup(out, { iters = 4, resume = true })
  U.raises(function() gan.train(opt3, state3, step3) end, "is missing, not a whole number")
end)

T.case("a checkpoint tensor of another dtype than the run's is refused, not converted", function()
  local out = U.tmpdir("train_bad_dtype")
  local opt, state, step = setup(out, { iters = 2 })
  gan.train(opt, state, step)
  local path = out .. "/checkpoint.safetensors"
  local tensors, meta = gan.io.load_safetensors(path)
  local name = "G.1.weight"
  U.truthy(tensors[name], "the checkpoint has " .. name)
  tensors[name] = tensors[name]:long()
  U.truthy(gan.io.save_safetensors(path, tensors, meta))
  local ok, msg = gan.checkpoint.load(path, state)
  U.equal(ok, nil)
  U.truthy(msg:find("another type than this run's: G.1.weight (int64, this run: float32)", 1, true), msg)
end)

T.case("a checkpoint from another run shape is refused with the names", function()
  local out = U.tmpdir("train_mismatch")
  local opt, state, step = setup(out, { iters = 2 })
  gan.train(opt, state, step)
  local other = { G = nn.Linear(4, 2) }
  U.raises(function() assert(gan.checkpoint.load(out .. "/checkpoint.safetensors", other)) end, "no place for")
end)

T.case("Ctrl-C stops between two steps and saves a checkpoint that resumes", function()
  local out = U.tmpdir("train_sigint")
  local opt, state, step = setup(out, { iters = 20, save_every = 0 })
  local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
  local inner = step
  step = function(real)
    local r = inner(real)
    if state.count == 3 then
      -- system() ignores SIGINT while its child runs: send it from the background,
      -- then wait inside this step until it has arrived
      os.execute("(sleep 0.1; kill -INT " .. pid .. ") &")
      local t0 = gan.clock()
      while not gan.interrupted() and gan.clock() - t0 < 10 do end
    end
    return r
  end
  -- the run is not a finished one: it raises (ganlua exits non-zero) after saving
  local err = U.raises(function() gan.train(opt, state, step) end, "gan.train: interrupted at step 3")
  U.truthy(err:find("holds step 3; --resume continues it", 1, true), err)
  local _, meta = gan.io.load_safetensors(out .. "/checkpoint.safetensors")
  U.equal(meta["ganlua.step"], "3")
  U.equal(gan.interrupted(), false, "the flag is cleared for the next run")
  local html = U.read(out .. "/report.html")
  U.truthy(not html:find('id="live"', 1, true), "the final report is not live")
  U.truthy(html:find('<p id="stopped">The run was interrupted (Ctrl-C) after step 3 of 20; --resume continues it.</p>',
    1, true), "the report says the run was interrupted")
end)

T.case("options the loop reads are not noted as unread (--save_every)", function()
  local out = U.tmpdir("train_unread")
  local opt = gan.options({ iters = 2, seed = 5 }, { "--save_every=1", "--out=" .. out }, "test_train.lua")
  local _, state, step = setup(out, { iters = 2 })
  local said, stdout = {}, io.stdout
  io.stdout = { write = function(_, ...) for _, s in ipairs({ ... }) do said[#said + 1] = s end end, flush = function() end }
  local ok, err = pcall(gan.train, opt, state, step)
  io.stdout = stdout
  U.truthy(ok, err)
  local text = table.concat(said)
  U.truthy(not text:find("--save_every was given", 1, true), text)
  U.truthy(U.exists(out .. "/checkpoint.safetensors"), "saved")
end)

T.case("gan.clock is a monotonic wall clock; gan.isatty answers for a descriptor", function()
  local t0 = gan.clock()
  os.execute("sleep 0.05")
  local dt = gan.clock() - t0
  U.truthy(dt >= 0.04 and dt < 5, "elapsed " .. dt)
  U.equal(type(gan.isatty(1)), "boolean")
end)

T.run()
