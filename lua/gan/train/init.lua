--- gan.train: the training loop every recipe shares.
--
--     gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real, step)
--       ...                                  -- one iteration: update D, update G
--       return { D = lossD, G = lossG }      -- scalars to log (tensors or numbers)
--     end, { noise = function(n) return gan.randn(n, opt.nz, 1, 1) end })
--
-- The loop runs steps 1..opt.iters. Before each step it takes a batch from
-- `state.data` (any object with :next(); without one the step gets nil).
-- It owns the iterations, the checkpoints and the stops:
--
-- * OUT/checkpoint.safetensors every `save_every` steps and at the end:
--   every module's parameters and buffers, optimizer moments, EMA copies,
--   schedules, the data iterator's position, plain values of `state`, the
--   random state, the step and the options (see gan.checkpoint). With
--   --resume the run continues from it exactly: 10 steps, resume, 10 more
--   steps give the same bits as 20 steps;
-- * a NaN or infinite loss stops the run with an error that names the loss
--   and the step; the checkpoint on disk is then the last good one;
-- * a checkpoint that cannot be written (a full disk) is a warning, and an
--   error at the end when the last one failed, naming the last one written;
-- * Ctrl-C: the loop stops between two steps, saves a checkpoint that
--   resumes exactly, and raises an error that says so (the program exits
--   non-zero); a second Ctrl-C stops at once, without saving.
--
-- Everything else is an **observer** the loop calls: at the start, after
-- each step, and at the end. The default ones, in order:
--
-- * gan.train.log: the options (printed, OUT/options.txt), parameter
--   counts, OUT/log.csv (a row per step), the progress line;
-- * gan.train.samples: OUT/samples/step_NNNNNN.png every `sample_every`
--   steps and at the end;
-- * gan.train.evaluation: quick evaluations every `eval_every` steps
--   (OUT/eval.csv) and the final one (OUT/metrics.json); the data set
--   chooses how its samples are measured (`data.evaluate`);
-- * gan.train.report: OUT/report.html at the end.
--
-- An observer is a table with any of `start(run)`, `step(run, step,
-- values)`, `finish(run)` (after a run that ended well) and `close(run)`
-- (always, last); `hooks.observers` adds more after the default ones. The
-- `run` they receive holds opt, state, hooks, out, iters, start (the step
-- it resumed from), step (the last step run), values (its scalars),
-- steps (run now), seconds, stopped ("interrupted" or nil), failed (in
-- `close`: the error that ended the loop or `finish`), diverged (true when
-- that error is a NaN or infinite loss), results (the
-- final evaluation) and `run:say(text)`, which prints without garbling the
-- progress line.
--
-- What to sample (grids, evaluations): `hooks.sample(n)` if given, else
-- `state.sample`, else G (or the EMA's copy, state.ema) on
-- `hooks.noise(n)`. Sampling and evaluation change nothing: batch-norm
-- running statistics and the random state are put back afterwards.
--
-- Options read (declared here): iters, seed, out, threads, resume,
-- sample_every, save_every, eval, eval_every, eval_samples, print_every.
-- Hooks (all optional): sample(n) -> images or points, noise(n) -> z,
-- sample_count (64 images, 1000 points), sample_label(step) -> a label for a
-- grid at that step, or nil (see gan.train.samples), eval(step, n) -> table of
-- scalars (every eval_every steps, logged to OUT/eval.csv, and at the end),
-- log(step, values), observers (a list), translate = {AtoB = fn, BtoA = fn,
-- channels = n}, or {targets = {{id=, name=}, ...}, to = fn(x, k), channels = n}
-- among several domains (how `ganlua translate` uses a trained run: gan.sample).
--
-- A run folder holds one run: a fresh run into a folder with a checkpoint
-- is refused (--resume continues it, --force starts over and removes its
-- checkpoint, logs and sample grids; see claim). The checkpoint records the
-- recipe and its options, so `replay` can rebuild the run from it alone
-- (`ganlua sample`, `ganlua translate`).
-- Under mpirun (gan.dist), every rank runs the loop on its shard of each
-- batch; rank 0 alone has observers, claims the folder and writes checkpoints
-- (see gan.dist for what else a world of more than one does).
-- Requires: gan.checkpoint, gan.dist, gan.options, gan.random, gan.util; the observers
-- gan.train.log, .samples, .evaluation, .report.
-- @module gan.train

local gan = require "gan"
local checkpoint = require "gan.checkpoint"
local dist = require "gan.dist"
local options = require "gan.options"
local util = require "gan.util"

local M = {}

--- The options the loop and its observers read.
M.options = options.declare("gan.train", "training loop", {
  { "iters", 5000, "training iterations" },
  { "seed", 1, "random seed (same seed and threads: same run)" },
  { "out", "", "run folder (default runs/<recipe>)" },
  { "threads", 0, "CPU threads (0: all cores)" },
  { "adapt_threads", true, "run fewer threads while other processes keep ours waiting for a CPU (a shared machine); results do not change" },
  { "resume", false, "continue from the last checkpoint in the run folder" },
  { "force", false, "start over in a run folder that holds a run (its checkpoint, logs and samples are removed)" },
  { "sample_every", 500, "write a sample grid every N iterations (0: never)" },
  { "save_every", 1000, "write a checkpoint every N iterations (0: only at the end)" },
  { "eval", true, "measure the samples at the end of the run (metrics.json, report.html)" },
  { "eval_every", 0, "quick evaluation every N iterations (0: never)" },
  { "eval_samples", 10000, "samples drawn by the final evaluation (quick ones draw a fifth)" },
  { "print_every", 0, "without a terminal, a progress line every N iterations (0: 50 lines per run)" },
})

local get = options.get
local now = gan.clock -- monotonic wall-clock seconds

local function is_module(v)
  return type(v) == "table" and rawget(v, "_children") ~= nil
end

--- Every module of a state table, EMA copies included, with their names.
-- @param state the run's state
-- @return list of modules, list of names
function M.modules_of(state)
  local out, names = {}, {}
  for k, v in pairs(state) do
    if type(k) == "string" then
      if is_module(v) then out[#out + 1], names[#names + 1] = v, k
      elseif type(v) == "table" and is_module(rawget(v, "copy")) then out[#out + 1], names[#names + 1] = v.copy, k
      end
    end
  end
  return out, names
end

--- Runs fn with no gradient recorded and puts back, afterwards, every
-- buffer of the run's modules and the random state.
-- @param state the run's state
-- @param fn function() -> result
-- @return fn's result
function M.without_side_effects(state, fn)
  local saved = {}
  for _, m in ipairs(M.modules_of(state)) do
    for _, b in ipairs(m:buffers()) do saved[#saved + 1] = { b, b:clone() } end
  end
  local rng = gan.rng_state()
  local ok, r = util.traced(gan.no_grad, fn)
  for _, s in ipairs(saved) do s[1]:copy_(s[2]) end
  gan.set_rng_state(rng)
  if not ok then error(r, 0) end
  return r
end

--- What the run samples: a function draw(n) -> samples [, asked labels]
-- drawing fresh noise from the current random state: hooks.sample,
-- state.sample, or G (or the EMA's copy) on hooks.noise(n). Or nil and why
-- not.
-- @param state the run's state
-- @param hooks the run's hooks
-- @return function, or nil and a message
function M.draw_of(state, hooks)
  if hooks.sample then return hooks.sample end
  if type(rawget(state, "sample")) == "function" then return state.sample end
  local G = (type(state.ema) == "table" and state.ema.module and state.ema:module()) or state.G
  if not is_module(G) then return nil, "no generator state.G and no hooks.sample: samples are not written" end
  local noise = hooks.noise
  if not noise then return nil, "no hooks.noise (the generator's input) and no hooks.sample: samples are not written" end
  return function(n) return G(noise(n)) end
end

-- "k v  k v" for the numbers of a table, sorted by key
--- A number as the progress line shows it: an integer as it is, else 4 significant digits.
-- @param v the number
-- @return text
local function fmt_num(v)
  if math.type(v) == "integer" then return tostring(v) end
  return ("%.4g"):format(v)
end
M.fmt_num = fmt_num

--- The numbers of a table of losses (tensors, numbers, booleans as 0/1),
-- by name; or nil, the name and the value of one that is not finite.
-- @param losses table name -> scalar
-- @return table name -> number, or nil, name, value
function M.scalars(losses)
  local values = {}
  for k, v in pairs(losses or {}) do
    local x = v
    if checkpoint.is_tensor(v) then x = v:item() end
    if type(x) == "boolean" then x = x and 1 or 0 end
    if type(x) == "number" then
      if x ~= x or x == math.huge or x == -math.huge then
        return nil, tostring(k), x
      end
      values[tostring(k)] = x
    end
  end
  return values
end

-- ----------------------------------------------------------------------------
-- The run folder

-- what a run writes in its folder (besides samples/), removed by --force
local run_files = { "checkpoint.safetensors", "log.csv", "eval.csv", "metrics.json", "report.html", "curves.png",
  "options.txt" }

--- Makes sure a fresh run loses no earlier one: when `out` holds a run's
-- checkpoint, this is an error that says how to go on (--resume, --force
-- or another --out). With `force`, or when the earlier run left no
-- checkpoint (it failed before its first save), that run's files and
-- sample grids are removed first, so its samples never mix with the new
-- ones.
-- @param out the run folder
-- @param force remove the run there
-- @return true when files of an earlier run were removed
function M.claim(out, force)
  local ckpt = out .. "/checkpoint.safetensors"
  if not (gan.io.exists(ckpt) or gan.io.exists(out .. "/log.csv")) then return false end
  if gan.io.exists(ckpt) and not force then
    local _, meta = gan.io.load_safetensors(ckpt)
    local step = type(meta) == "table" and meta["ganlua.step"]
    util.user_error("gan.train: %s holds a run already%s; --resume continues it, --force starts it over "
      .. "(removing its checkpoint, logs and samples), or give another --out", out,
      step and (" (its checkpoint is at step %s)"):format(step) or "")
  end
  for _, name in ipairs(run_files) do os.remove(out .. "/" .. name) end
  if gan.io.isdir(out .. "/samples") then
    for _, f in ipairs(gan.io.files(out .. "/samples") or {}) do
      if f:match("%.png$") then os.remove(f) end
    end
  end
  return true
end

--- Why a checkpoint does not fit this run, in the user's words: the
-- options the checkpoint was made with that differ from this run's
-- ("nf: the checkpoint has 64, this run 32"), before the loader's message;
-- or that message alone when no option differs.
-- @param path the checkpoint
-- @param opt this run's options
-- @param err the loader's message
-- @return text
function M.differences(path, opt, err)
  local _, meta = gan.io.load_safetensors(path)
  local saved = require("gan.pretrained").options(type(meta) == "table" and meta or {})
  local info = options.info(opt)
  local skip = { resume = true, force = true, iters = true, out = true, eval = true, threads = true }
  local diff = {}
  for _, k in ipairs(info and info.keys or {}) do
    local mine = options.render(rawget(opt, k))
    if saved[k] ~= nil and not skip[k] and saved[k] ~= mine then
      diff[#diff + 1] = ("the checkpoint has %s=%s, this run %s=%s"):format(k, saved[k], k, mine)
    end
  end
  if #diff == 0 then return err end
  if #err > 200 then err = err:sub(1, 200) .. " ..." end
  return ("it was made with other options (%s); run with the checkpoint's values, or start a new run "
    .. "with another --out (%s)"):format(table.concat(diff, "; "), err)
end

-- ----------------------------------------------------------------------------
-- The run

local Run = {}
Run.__index = Run

--- Prints a message on its own line (the log observer keeps the progress
-- line intact around it).
-- @param msg text
function Run:say(msg)
  if not dist.is_writer() then return end
  if self.before_say then self.before_say() end
  io.stdout:write(msg, "\n")
  io.stdout:flush()
end

local function notify(run, what, ...)
  for _, o in ipairs(run.observers) do
    if o[what] then o[what](run, ...) end
  end
end

local evaluating = false -- true while gan.train.evaluate runs a recipe
local replaying = nil -- while gan.train.replay runs a recipe: function(run) -> result, instead of training

--- Runs the training loop (see the module comment).
-- @param opt the options (gan.options table or a plain one)
-- @param state table of everything to save: modules, optimizers, EMAs,
--   schedules, the data iterator (as `data`), tensors, plain values
-- @param step_fn function(batch, step) -> table of scalars
-- @param hooks optional {sample=, noise=, sample_count=, sample_label=, eval=, log=, observers=}
-- @return summary {steps= (run now), step= (last), seconds=, losses= (last values), out=,
--   interrupted= (false: an interrupted run raises), metrics= (the final evaluation)}
function M.run(opt, state, step_fn, hooks)
  hooks = hooks or {}
  local out = get(opt, "out")
  if out == "" then out = "runs/run" end
  local threads = get(opt, "threads")
  if threads > 0 then gan.set_threads(threads) end
  if not get(opt, "adapt_threads") then gan.adapt_threads(false) end
  local cleared = dist.is_writer() and not (get(opt, "resume") or evaluating or replaying)
    and M.claim(out, get(opt, "force"))
  local ok_dir, dir_err = true, nil
  if dist.is_writer() then ok_dir, dir_err = gan.io.mkdir(out .. "/samples") end
  if not ok_dir then util.user_error("gan.train: cannot make the run folder %s: %s", out, tostring(dir_err)) end

  local run = setmetatable({
    opt = opt, state = state, hooks = hooks, out = out, iters = get(opt, "iters"),
    ckpt = out .. "/checkpoint.safetensors", start = 0, step = 0, values = {}, evaluating = evaluating,
  }, Run)
  run.observers = { require "gan.train.log", require "gan.train.samples", require "gan.train.evaluation",
    require "gan.train.report" }
  for _, o in ipairs(hooks.observers or {}) do run.observers[#run.observers + 1] = o end
  if not dist.is_writer() then run.observers = {} end

  if get(opt, "resume") or evaluating or replaying then
    if gan.io.exists(run.ckpt) then
      local extra, err = checkpoint.load(run.ckpt, state)
      if not extra then util.user_error("gan.train: cannot resume from %s: %s", run.ckpt, M.differences(run.ckpt, opt, err)) end
      local step = type(extra.step) == "string" and #extra.step <= 15 and extra.step:match("^%d+$")
      if not step then
        util.user_error("gan.train: cannot resume from %s: its step (metadata ganlua.step) is %s, not a whole number of steps",
          run.ckpt, extra.step and ("%q"):format(extra.step:sub(1, 40)) or "missing")
      end
      run.start = math.tointeger(tonumber(step))
      run.step = run.start
      run.resumed = true
    elseif evaluating or replaying then
      util.user_error("gan.train: %s not found", run.ckpt)
    end
  end
  if replaying then
    local action = replaying
    replaying = nil -- a recipe that trains a second model trains it
    return action(run)
  end
  local per_rank -- the batch of one rank, when the data has one
  if dist.size > 1 then
    per_rank = type(state.data) == "table" and math.tointeger(rawget(state.data, "batch")) or nil
    dist.setup(opt, per_rank)
    dist.broadcast_modules(M.modules_of(state))
  end
  local ok, err = util.traced(notify, run, "start")
  if not ok then
    pcall(notify, run, "close")
    error(err, 0)
  end
  local save_every = get(opt, "save_every") -- read before the note below, which lists what nothing read
  for _, k in ipairs(options.unread(opt)) do
    run:say(("note: --%s was given, but nothing in this run reads it"):format(k))
  end
  if cleared then run:say(("%s held an earlier run: its checkpoint, logs and sample grids were removed"):format(out)) end
  local stale = dist.is_writer() and checkpoint.remove_stale(run.ckpt) or 0
  if stale > 0 then run:say(("removed %d temporary file(s) a killed save of %s had left"):format(stale, run.ckpt)) end
  local info = options.info(opt)
  local recipe = info and info.script and info.script ~= "-" and gan.io.abspath(info.script) or nil
  local last_saved = run.start > 0 and run.start or nil
  local function save(step)
    if dist.size > 1 then
      dist.check_equal(M.modules_of(state))
      if not dist.is_writer() then
        last_saved = step
        return
      end
    end
    -- the log's rows up to this step reach the file first: a kill after the
    -- save must not leave a checkpoint ahead of log.csv (the rows still in
    -- the buffer would be lost for good, as the resume starts after them)
    if run.log then run.log.csv:flush() end
    local okc, errc = checkpoint.save(run.ckpt, state, { step = step, options = options.format(opt), recipe = recipe })
    if not okc then
      run:say(("warning: checkpoint not written: %s"):format(tostring(errc)))
      run.save_error = tostring(errc)
    else
      last_saved, run.save_error = step, nil
    end
  end

  local t0 = now()
  local function loop()
    for s = run.start + 1, run.iters do
      local losses = dist.sharded(per_rank, function()
        local batch
        if type(state.data) == "table" and state.data.next then batch = state.data:next() end
        return step_fn(batch, s)
      end)
      local v, bad, badv = M.scalars(losses)
      if not v then
        local where = last_saved and ("the last good checkpoint (step %d) is %s"):format(last_saved, run.ckpt)
          or "no checkpoint had been written"
        run.diverged = true
        util.user_error("gan.train: loss '%s' is %s at step %d; stopping (%s)", bad, tostring(badv), s, where)
      end
      local stop
      if dist.size > 1 then v, stop = dist.mean_values(v, gan.interrupted()) end
      run.values, run.step = v, s
      if hooks.log then hooks.log(s, v) end
      notify(run, "step", s, v)
      if save_every > 0 and s % save_every == 0 and s ~= run.iters then save(s) end
      if stop or (stop == nil and gan.interrupted()) then
        run.stopped = "interrupted"
        return
      end
    end
  end

  if not evaluating then
    gan.catch_interrupt(true)
    ok, err = util.traced(loop)
    gan.catch_interrupt(false)
    if not ok then
      run.failed = err
      pcall(notify, run, "close")
      error(err, 0)
    end
  end
  run.seconds, run.steps = now() - t0, run.step - run.start
  if dist.size > 1 and run.steps > 0 then
    local sec, calls, bytes = dist.stats()
    run:say(("gan.dist: %d ranks; rank 0's all-reduces took %.1f s of the %.1f s of training (%.1f%%): %d calls, %.1f MB")
      :format(dist.size, sec, run.seconds, 100 * sec / math.max(run.seconds, 1e-9), calls, bytes / 1e6))
  end
  if run.stopped then
    run:say(("interrupted: saving a checkpoint at step %d"):format(run.step))
    save(run.step)
  elseif run.steps > 0 or (not evaluating and not gan.io.exists(run.ckpt)) then
    save(run.step)
  end
  ok, err = util.traced(notify, run, "finish")
  if not ok then run.failed = err end
  notify(run, "close")
  if not ok then error(err, 0) end
  if run.save_error then
    -- the last save failed (a full disk, say): the run's end is not on disk
    error(("gan.train: the checkpoint of step %d was not written (%s); %s"):format(run.step, run.save_error,
      last_saved and ("the last one written, %s, holds step %d"):format(run.ckpt, last_saved)
        or "no checkpoint was written"), 0)
  end
  if run.stopped then
    dist.barrier() -- under mpirun, rank 0's checkpoint is written before any rank ends the job
    -- an interrupted run is not a finished one: the program exits non-zero
    local kept = last_saved == run.step and ("%s holds step %d; --resume continues it"):format(run.ckpt, run.step)
      or last_saved and ("the last checkpoint, %s, holds step %d"):format(run.ckpt, last_saved)
      or "no checkpoint was written"
    util.user_error("gan.train: interrupted at step %d (%s)", run.step, kept)
  end
  return { steps = run.steps, step = run.step, seconds = run.seconds, losses = run.values, out = out,
    interrupted = run.stopped ~= nil, metrics = run.results }
end

--- The recipe and options of a run: from its checkpoint's metadata
-- (ganlua.recipe, ganlua.options), or, for a checkpoint written before it
-- recorded its recipe, from RUN/options.txt.
-- @param run a run folder, or its checkpoint file
-- @return {dir=, ckpt=, recipe=, step=, options= (list of {key, text}, in order)}; raises a user's error
function M.run_info(run)
  run = run:gsub("/+$", "")
  local dir, ckpt = run, run .. "/checkpoint.safetensors"
  if run:match("%.safetensors$") then dir, ckpt = run:match("^(.*)/[^/]+$") or ".", run end
  if not gan.io.exists(ckpt) then
    util.user_error("%s not found: is %s a run folder (the --out of a run)?", ckpt, dir)
  end
  local _, meta = gan.io.load_safetensors(ckpt)
  if type(meta) ~= "table" then util.user_error("cannot read %s: %s", ckpt, tostring(meta)) end
  local info = { dir = dir, ckpt = ckpt, recipe = meta["ganlua.recipe"], options = {},
    step = math.tointeger(tonumber(meta["ganlua.step"])) }
  if not info.step then util.user_error("cannot read the step of %s", ckpt) end
  local text = meta["ganlua.options"]
  local f = io.open(dir .. "/options.txt", "r")
  if f then
    local saved = f:read("a")
    f:close()
    info.recipe = info.recipe or saved:match("^# recipe=([^\n]+)")
    text = text or saved
  end
  if not info.recipe then util.user_error("%s does not name the recipe that made it (nor does %s/options.txt)", ckpt, dir) end
  if not gan.io.exists(info.recipe) then util.user_error("the recipe of %s, %s, is gone", ckpt, info.recipe) end
  for k, v in (text or ""):gmatch("([%w_]+)=([^\n]*)") do info.options[#info.options + 1] = { k, v } end
  return info
end

--- Runs a finished run's recipe again with the options it was trained
-- with, at the step of its checkpoint: the recipe builds its networks and
-- data as it did, gan.train loads the checkpoint and, instead of training,
-- calls `action(run)` (run as the observers get it: opt, state, hooks,
-- out, ...). `ganlua sample` and `ganlua translate` work this way
-- (gan.sample).
-- @param path a run folder, or its checkpoint file
-- @param argv more options for the recipe (a list such as {"--limit=100"})
-- @param action function(run) -> result
-- @return action's result; raises an error when the recipe never called gan.train
function M.replay(path, argv, action)
  local info = M.run_info(path)
  local args, skip = {}, { out = true, resume = true, force = true, eval = true, iters = true }
  for _, kv in ipairs(info.options) do
    if not skip[kv[1]] then args[#args + 1] = ("--%s=%s"):format(kv[1], kv[2]) end
  end
  for _, a in ipairs { "--out=" .. info.dir, "--eval=false", "--iters=" .. info.step } do args[#args + 1] = a end
  for _, a in ipairs(argv or {}) do args[#args + 1] = a end
  local result, done
  local saved = replaying
  replaying = function(run)
    done = true
    result = action(run)
    return result
  end
  local ok, r = util.traced(options.with_arguments, args, info.recipe, function() return dofile(info.recipe) end)
  replaying = saved
  if not ok then error(r, 0) end
  if not done then
    util.user_error("%s did not train with gan.train: its runs cannot be replayed", info.recipe)
  end
  return result
end

--- Measures a finished run again: runs the run's recipe (named in
-- RUN_DIR/options.txt) with its options, which loads the last checkpoint
-- and, instead of training, evaluates it (metrics.json) and writes the
-- report. `ganlua eval RUN_DIR` calls this.
-- @param dir the run folder
-- @param argv more options for the recipe (a list such as {"--eval_samples=2000"})
-- @return the recipe's results
function M.evaluate(dir, argv)
  dir = dir:gsub("/+$", "")
  local f = io.open(dir .. "/options.txt", "r")
  if not f then util.user_error("gan.train.evaluate: %s/options.txt not found: is %s a run folder?", dir, dir) end
  local recipe
  local args = {}
  local skip = { out = true, resume = true, eval = true, iters = true, force = true }
  for line in f:lines() do
    local r = line:match("^# recipe=(.+)$")
    if r then recipe = r end
    local k, v = line:match("^([%w_]+)=(.*)$")
    if k and not skip[k] then args[#args + 1] = ("--%s=%s"):format(k, v) end
  end
  f:close()
  if not recipe then
    util.user_error("gan.train.evaluate: %s/options.txt does not name its recipe", dir)
  end
  if not gan.io.exists(recipe) then util.user_error("gan.train.evaluate: the run's recipe %s is gone", recipe) end
  local ckpt = dir .. "/checkpoint.safetensors"
  local _, meta = gan.io.load_safetensors(ckpt)
  local step = type(meta) == "table" and math.tointeger(tonumber(meta["ganlua.step"]))
  if not step then util.user_error("gan.train.evaluate: cannot read the step of %s: %s", ckpt, tostring(meta)) end
  -- the run as it stood at its checkpoint: iters is the step it reached
  for _, a in ipairs { "--out=" .. dir, "--eval=true", "--iters=" .. step } do args[#args + 1] = a end
  for _, a in ipairs(argv or {}) do args[#args + 1] = a end
  local saved = evaluating
  evaluating = true
  local ok, r = pcall(options.with_arguments, args, recipe, function() return dofile(recipe) end)
  evaluating = saved
  if not ok then error(r, 0) end
  return r
end

--- Evaluation results as text (see gan.train.evaluation.format).
-- @param r a table from an evaluation
-- @return text
function M.format_results(r)
  return require("gan.train.evaluation").format(r)
end

return setmetatable(M, { __call = function(_, ...) return M.run(...) end })
