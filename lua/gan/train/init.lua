--- gan.train: the training loop every recipe shares.
--
--     gan.train(opt, { G = G, D = D, optG = optG, optD = optD, data = data }, function(real, step)
--       ...                                  -- one iteration: update D, update G
--       return { D = lossD, G = lossG }      -- scalars to log (tensors or numbers)
--     end, { noise = function(n) return gan.randn(n, opt.nz, 1, 1) end })
--
-- The loop runs steps 1..opt.iters. Before each step it takes a batch from
-- `state.data` (any object with :next(); without one the step gets nil).
-- It owns everything around the step:
--
-- * the options, printed at the start and written to OUT/options.txt;
-- * a progress line (step, it/s, ETA, latest losses): redrawn in place on a
--   terminal (TERM set and standard output a tty), plain lines every
--   `print_every` steps otherwise;
-- * OUT/log.csv: one row per step with every scalar the step returned;
-- * OUT/samples/step_NNNNNN.png every `sample_every` steps and at the end:
--   `hooks.sample(n)` if given, else G (or the EMA's copy, state.ema) on a
--   fixed noise batch made by `hooks.noise(n)`, or of shape (n, nz) when G
--   starts with a Linear and (n, nz, 1, 1) otherwise. Images (N, C, H, W)
--   become a grid; points (N, 2) a scatter plot over the data's points.
--   Sampling changes nothing: batch-norm running statistics and the RNG
--   are put back afterwards;
-- * OUT/checkpoint.safetensors every `save_every` steps and at the end: every
--   module's parameters and buffers, optimizer moments, EMA copies,
--   schedules, the data iterator's position, plain values of `state`, the
--   RNG state, the step and the options (see gan.checkpoint). With
--   --resume the run continues from it exactly: 10 steps, resume, 10 more
--   steps give the same bits as 20 steps;
-- * a NaN or infinite loss stops the run with an error that names the loss
--   and the step; the checkpoint on disk is then the last good one;
-- * Ctrl-C: the loop stops between two steps and saves a checkpoint that
--   resumes exactly; a second Ctrl-C stops at once, without saving.
--
-- Options read from opt: iters, out, resume, sample_every, save_every,
-- eval_every, threads, seed, and print_every (default: 50 lines per run).
-- Hooks (all optional): sample(n) -> images or points, noise(n) -> z,
-- sample_count (64 images, 1000 points), eval(step, n) -> table of scalars
-- (every eval_every steps, logged to OUT/eval.csv, and at the end; it runs
-- without gradients on a fixed random stream, and the run's RNG state and
-- buffers are put back after it), log(step, values).
-- @module gan.train

local gan = require "gan"
local util = require "gan.util"
local checkpoint = require "gan.checkpoint"
local options = require "gan.options"

local M = {}

local is_tensor = checkpoint.is_tensor

local get = util.get

local shell_quote = util.shell_quote

local function mkdir(path)
  os.execute("mkdir -p " .. shell_quote(path))
end

local exists = util.exists

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local cwd = os.getenv("PWD")
  if not cwd or cwd == "" then
    local p = io.popen("pwd")
    cwd = p and p:read("l") or "."
    if p then p:close() end
  end
  return cwd .. "/" .. path:gsub("^%./", "")
end

local now = gan.clock -- monotonic wall-clock seconds

local function is_module(v)
  return type(v) == "table" and rawget(v, "_children") ~= nil
end

-- Is standard output a terminal that can redraw a progress bar?
local function is_tty()
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" or os.getenv("CI") ~= nil then return false end
  return gan.isatty(1)
end

local function fmt_time(s)
  s = math.floor(s + 0.5)
  if s >= 3600 then return ("%d:%02d:%02d"):format(s // 3600, s // 60 % 60, s % 60) end
  return ("%d:%02d"):format(s // 60, s % 60)
end

local function fmt_num(v)
  if math.type(v) == "integer" then return tostring(v) end
  return ("%.4g"):format(v)
end

-- every module of the state, EMA copies included (for sampling and printing)
local function modules_of(state)
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

-- ----------------------------------------------------------------------------
-- The CSV log

local Log = {}
Log.__index = Log

local function csv_split(line)
  local out = {}
  for f in (line .. ","):gmatch("([^,]*),") do out[#out + 1] = f end
  return out
end

-- Opens path for appending rows; when resuming, rows after `start` are dropped.
local function open_log(path, start)
  local header, rows = nil, {}
  if start > 0 then
    local f = io.open(path, "r")
    if f then
      header = f:read("l")
      for line in f:lines() do
        local s = math.tointeger(tonumber(csv_split(line)[1]))
        if s and s <= start then rows[#rows + 1] = line end
      end
      f:close()
    end
  end
  local f = assert(io.open(path, "w"))
  if header then
    f:write(header, "\n")
    for _, r in ipairs(rows) do f:write(r, "\n") end
  end
  local cols = header and csv_split(header) or nil
  if cols then table.remove(cols, 1) end
  return setmetatable({ f = f, cols = cols, path = path, warned = {} }, Log)
end

--- Appends one row; the first row fixes the columns.
-- @local
function Log:write(step, values)
  if not self.cols then
    local cols = {}
    for k in pairs(values) do cols[#cols + 1] = k end
    table.sort(cols)
    self.cols = cols
    self.f:write("step,", table.concat(cols, ","), "\n")
  end
  local row = { tostring(step) }
  for i, k in ipairs(self.cols) do
    local v = values[k]
    row[i + 1] = v == nil and "" or ("%.9g"):format(v)
  end
  for k in pairs(values) do
    local known = false
    for _, c in ipairs(self.cols) do if c == k then known = true end end
    if not known and not self.warned[k] then
      self.warned[k] = true
      io.stderr:write(("gan.train: '%s' first appeared after step 1; it is not in %s\n"):format(k, self.path))
    end
  end
  self.f:write(table.concat(row, ","), "\n")
end

--- Flushes the file.
-- @local
function Log:flush() self.f:flush() end
--- Closes the file.
-- @local
function Log:close() self.f:close() end

-- ----------------------------------------------------------------------------
-- Progress

local Progress = {}
Progress.__index = Progress

local function new_progress(start, iters, every)
  local t = now()
  return setmetatable({ start = start, iters = iters, t0 = t, last = -1, tty = is_tty(), every = every }, Progress)
end

--- The progress line for a step, and the steps done.
-- @local
function Progress:line(step, values, keys)
  local dt = now() - self.t0
  local done = step - self.start
  local rate = dt > 0 and done / dt or 0
  local eta = rate > 0 and (self.iters - step) / rate or 0
  local parts = {}
  for _, k in ipairs(keys) do
    if values[k] ~= nil then parts[#parts + 1] = k .. " " .. fmt_num(values[k]) end
  end
  local speed = rate > 0 and (rate >= 1 and ("%.2f it/s"):format(rate) or ("%.2f s/it"):format(1 / rate)) or "- it/s"
  return ("step %d/%d  %s  ETA %s  %s"):format(step, self.iters, speed, fmt_time(eta), table.concat(parts, "  ")), done
end

--- Shows the progress line (rewritten in place on a terminal).
-- @local
function Progress:update(step, values, keys)
  if self.tty then
    local t = now()
    if t == self.last and step ~= self.iters then return end
    self.last = t
    local text = self:line(step, values, keys)
    local width = 30
    local fill = math.floor(width * step / self.iters + 0.5)
    io.stdout:write("\r[", ("#"):rep(fill), ("-"):rep(width - fill), "] ", text, "\27[K")
    if step == self.iters then io.stdout:write("\n") end
    io.stdout:flush()
  elseif step % self.every == 0 or step == self.iters or step == self.start + 1 then
    io.stdout:write(self:line(step, values, keys), "\n")
    io.stdout:flush()
  end
end

-- a message that does not garble the bar
--- Prints a message on its own line.
-- @local
function Progress:say(msg)
  if self.tty then io.stdout:write("\r\27[K") end
  io.stdout:write(msg, "\n")
  io.stdout:flush()
end

-- ----------------------------------------------------------------------------
-- Samples

local function first_layer(m)
  while is_module(m) do
    local kids = m:children()
    if #kids == 0 then return m end
    m = kids[1]
  end
  return m
end

--- Draws `z` from a fixed generator stream, leaving the run's RNG as it was.
-- @param seed the run's seed
-- @param fn function() -> tensor, called with the stream set
-- @return the tensor
function M.fixed(seed, fn)
  local saved = gan.rng_state()
  gan.manual_seed(seed + 7919)
  local ok, z = pcall(fn)
  gan.set_rng_state(saved)
  if not ok then error(z, 0) end
  return z
end

-- Runs fn with every buffer of the state's modules and the RNG put back after.
local function without_side_effects(state, fn)
  local saved = {}
  for _, m in ipairs(modules_of(state)) do
    for _, b in ipairs(m:buffers()) do saved[#saved + 1] = { b, b:clone() } end
  end
  local rng = gan.rng_state()
  local ok, r = pcall(gan.no_grad, fn)
  for _, s in ipairs(saved) do s[1]:copy_(s[2]) end
  gan.set_rng_state(rng)
  if not ok then error(r, 0) end
  return r
end

-- A function draw(n) -> samples [, asked labels] with fresh noise from the
-- current RNG: hooks.sample, state.sample, or G (or the EMA's copy) on
-- hooks.noise(n). Or nil and why not.
local function make_draw(opt, state, hooks)
  local G = (type(state.ema) == "table" and state.ema.module and state.ema:module()) or state.G
  if hooks.sample then return hooks.sample end
  if type(rawget(state, "sample")) == "function" then return state.sample end
  if not is_module(G) then return nil, "no generator state.G and no hooks.sample: samples are not written" end
  local noise = hooks.noise
  if not noise then
    local nz = get(opt, "nz", nil)
    if not nz then return nil, "no hooks.noise and no opt.nz: samples are not written" end
    local first = first_layer(G)
    local flat = first and first.__name == "Linear"
    noise = function(k) if flat then return gan.randn(k, nz) end return gan.randn(k, nz, 1, 1) end
  end
  return function(n) return G(noise(n)) end
end

-- Writes a grid (images) or a scatter plot (points) of samples from the same
-- fixed stream every time.
local function make_sampler(opt, state, hooks)
  local data = state.data
  local points = type(data) == "table" and data.kind == "points"
  local n = hooks.sample_count or (points and 1000 or 64)
  local draw, why = make_draw(opt, state, hooks)
  if not draw then return nil, why end
  local seed = get(opt, "seed", 1)
  local ref
  return function(path)
    local x = without_side_effects(state, function() return M.fixed(seed, function() return draw(n) end) end)
    if x:dim() == 2 and x:size(2) == 2 then
      if ref == nil and points then ref = data.x:narrow(1, 1, math.min(data.x:size(1), 2000)) end
      return gan.image.scatter(path, x, { reference = ref, range = get(opt, "plot_range", nil) })
    end
    local nrow = math.max(1, math.floor(math.sqrt(x:size(1)) + 0.5))
    return gan.image.save_grid(path, x, { nrow = nrow })
  end
end

-- A function evaluate(step, n) -> table of results: gan.metrics on n samples
-- (images of Fashion-MNIST's kind, or points of a Gaussian mixture) merged
-- with hooks.eval(step, n). Both draw from their own fixed streams; the
-- run's RNG and buffers are put back. Nil when there is nothing to measure.
local function make_evaluator(opt, state, hooks)
  local data = state.data
  local draw = make_draw(opt, state, hooks)
  local auto
  if draw and type(data) == "table" then
    if data.kind == "points" and data.centres then
      auto = function(n) return gan.metrics.points(draw(n), data) end
    elseif data.kind == "images" and data.classes == gan.data.fashion_classes then
      auto = function(n) return gan.metrics.images(draw, { n = n }) end
    end
  end
  if not auto and not hooks.eval then return nil end
  local seed = get(opt, "seed", 1) + 104729
  return function(step, n)
    local r = {}
    if auto then
      local a = without_side_effects(state, function()
        gan.manual_seed(seed)
        return auto(n)
      end)
      for k, v in pairs(a) do r[k] = v end
    end
    if hooks.eval then
      -- the recipe's own measures, on their own stream too: an evaluation that draws noise or
      -- runs a batch-norm network in training mode leaves the run exactly as it was
      local e = without_side_effects(state, function()
        gan.manual_seed(seed + 1)
        return hooks.eval(step, n)
      end)
      for k, v in pairs(e or {}) do r[k] = v end
    end
    return r
  end
end

-- ----------------------------------------------------------------------------

local interrupted = gan.interrupted

-- "k v  k v" for the numbers of a table, sorted by key
local function summary_line(values)
  local parts = {}
  for k, x in pairs(values) do parts[#parts + 1] = k .. " " .. fmt_num(x) end
  table.sort(parts)
  return table.concat(parts, "  ")
end

local function scalar_values(losses, step)
  local values = {}
  for k, v in pairs(losses or {}) do
    local x = v
    if is_tensor(v) then x = v:item() end
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

--- Runs the training loop (see the module comment).
-- @param opt the options (gan.options table)
-- @param state table of everything to save: modules, optimizers, EMAs,
--   schedules, the data iterator (as `data`), tensors, plain values
-- @param step_fn function(batch, step) -> table of scalars
-- @param hooks optional {sample=, noise=, sample_count=, eval=, log=}
-- @return summary {steps= (run now), step= (last), seconds=, losses= (last values), out=}
function M.run(opt, state, step_fn, hooks)
  hooks = hooks or {}
  local out = get(opt, "out", "")
  if out == "" then out = "runs/run" end
  local iters = get(opt, "iters", 1000)
  local sample_every = get(opt, "sample_every", 0)
  local save_every = get(opt, "save_every", 0)
  local eval_every = get(opt, "eval_every", 0)
  local threads = get(opt, "threads", 0)
  if threads > 0 then gan.set_threads(threads) end
  mkdir(out .. "/samples")

  local text = rawget(opt, "_keys") and options.format(opt) or ""
  print(("== %s"):format(out))
  if text ~= "" then
    print(text)
    local f = io.open(out .. "/options.txt", "w")
    if f then
      local script = rawget(opt, "_script")
      if script and script ~= "-" then f:write("# recipe=", absolute(script), "\n") end
      f:write(text, "\n")
      f:close()
    end
  end
  local mods, names = modules_of(state)
  local counts = {}
  for i, m in ipairs(mods) do counts[i] = ("%s: %d parameters"):format(names[i], m:num_parameters()) end
  table.sort(counts)
  for _, line in ipairs(counts) do print(line) end

  local ckpt = out .. "/checkpoint.safetensors"
  local start = 0
  if get(opt, "resume", false) then
    if exists(ckpt) then
      local extra, err = checkpoint.load(ckpt, state)
      if not extra then error(("gan.train: cannot resume from %s: %s"):format(ckpt, err), 0) end
      start = math.tointeger(tonumber(extra.step)) or 0
      print(("resumed from %s at step %d"):format(ckpt, start))
    else
      print(("no checkpoint in %s: starting from step 0"):format(out))
    end
  end

  local log = open_log(out .. "/log.csv", start)
  local eval_log
  local every = get(opt, "print_every", 0)
  if every <= 0 then every = math.max(1, iters // 50) end
  local progress = new_progress(start, iters, every)
  local sampler, why = make_sampler(opt, state, hooks)
  local evaluate = make_evaluator(opt, state, hooks)
  local eval_samples = get(opt, "eval_samples", 10000)
  local quick_n = math.max(100, eval_samples // 5)
  if not sampler and sample_every > 0 then progress:say("note: " .. why) end
  local last_saved = start > 0 and start or nil
  local meta_opts = text

  local function save(step)
    log:flush()
    local ok, err = checkpoint.save(ckpt, state, { step = step, options = meta_opts })
    if not ok then
      progress:say(("warning: checkpoint not written: %s"):format(tostring(err)))
    else
      last_saved = step
    end
  end

  local function sample(step)
    if not sampler then return end
    local path = ("%s/samples/step_%06d.png"):format(out, step)
    local ok, err = sampler(path)
    if not ok then progress:say(("warning: %s not written: %s"):format(path, tostring(err))) end
  end

  local keys, values = nil, {}
  local t0 = now()
  local step = start
  local stopped
  local function loop()
    for s = start + 1, iters do
      local batch
      if type(state.data) == "table" and state.data.next then batch = state.data:next() end
      local losses = step_fn(batch, s)
      local v, bad, badv = scalar_values(losses, s)
      if not v then
        log:flush()
        local where = last_saved and ("the last good checkpoint (step %d) is %s"):format(last_saved, ckpt)
          or "no checkpoint had been written"
        error(("gan.train: loss '%s' is %s at step %d; stopping (%s)"):format(bad, tostring(badv), s, where), 0)
      end
      values = v
      step = s
      if not keys then
        keys = {}
        for k in pairs(values) do keys[#keys + 1] = k end
        table.sort(keys)
      end
      log:write(s, values)
      if hooks.log then hooks.log(s, values) end
      progress:update(s, values, keys)
      if sample_every > 0 and s % sample_every == 0 then sample(s) end
      if eval_every > 0 and evaluate and s % eval_every == 0 then
        local ev_values = scalar_values(evaluate(s, quick_n)) or {}
        eval_log = eval_log or open_log(out .. "/eval.csv", start)
        eval_log:write(s, ev_values)
        eval_log:flush()
        progress:say(("eval at step %d: %s"):format(s, summary_line(ev_values)))
      end
      if save_every > 0 and s % save_every == 0 and s ~= iters then save(s) end
      if s % 10 == 0 then log:flush() end
      if interrupted() then
        stopped = "interrupted"
        return
      end
    end
  end

  gan.catch_interrupt(true)
  local ok, err = pcall(loop)
  gan.catch_interrupt(false)
  if not ok then
    log:close()
    error(err, 0)
  end
  if stopped then
    progress:say(("interrupted: saving a checkpoint at step %d"):format(step))
    save(step)
  elseif step > start or not exists(ckpt) then
    if sample_every > 0 and step % sample_every ~= 0 then sample(step) end
    save(step)
  end
  log:close()
  if eval_log then eval_log:close() end
  local seconds = now() - t0
  local done = step - start
  if done > 0 then
    print(("done: %d steps in %s (%.3f s/step); samples in %s/samples, checkpoint %s"):format(done,
      fmt_time(seconds), seconds / done, out, ckpt))
  elseif not M.eval_only then
    print(("nothing to do: the checkpoint is at step %d of %d"):format(step, iters))
  end
  local results
  if get(opt, "eval", true) and evaluate and (done > 0 or M.eval_only) and not stopped then
    local t = now()
    print(("evaluating %d samples at step %d ..."):format(eval_samples, step))
    results = evaluate(step, eval_samples)
    results.step, results.eval_seconds = step, now() - t
    if done > 0 then results.seconds_per_step = seconds / done end
    print(M.format_results(results))
    local ok, err = util.write_file(out .. "/metrics.json", util.json(results) .. "\n")
    if not ok then print(("warning: %s/metrics.json not written: %s"):format(out, tostring(err))) end
  end
  if done > 0 or M.eval_only then
    local ok, err = pcall(gan.report.write, out, { results = results, seconds_per_step = done > 0 and seconds / done or nil })
    if ok and err then print(("report: %s"):format(err)) end
    if not ok then print(("warning: the report was not written: %s"):format(tostring(err))) end
  end
  return { steps = done, step = step, seconds = seconds, losses = values, out = out, interrupted = stopped ~= nil,
    metrics = results }
end

local function pct(x) return ("%.1f%%"):format(100 * x) end

--- Evaluation results as text: FD with its floor and ceiling, KID,
-- precision, recall, class coverage; then any other value.
-- @param r a table from an evaluation (gan.metrics.images, points, hooks.eval)
-- @return text (several lines)
function M.format_results(r)
  local lines, shown = {}, { step = true, eval_seconds = true, seconds_per_step = true, n = true, coverage = true }
  local head = ("metrics at step %s"):format(tostring(r.step or "?"))
  if r.n then head = head .. (" (%d samples)"):format(r.n) end
  lines[1] = head .. ":"
  if r.fd then
    local b = r.fd_floor and ("  (floor %.2f: test vs train; ceiling %.1f: uniform noise)"):format(r.fd_floor, r.fd_ceiling) or ""
    lines[#lines + 1] = ("  FD %.2f%s"):format(r.fd, b)
    shown.fd, shown.fd_floor, shown.fd_ceiling = true, true, true
  end
  if r.kid then
    lines[#lines + 1] = ("  KID %.4f ± %.4f"):format(r.kid, r.kid_std or 0)
    shown.kid, shown.kid_std = true, true
  end
  if r.precision then
    lines[#lines + 1] = ("  precision %.3f  recall %.3f  (k = 3)"):format(r.precision, r.recall)
    shown.precision, shown.recall = true, true
  end
  if type(r.coverage) == "table" then
    local parts = {}
    for i, v in ipairs(r.coverage) do parts[i] = ("%s %s"):format(gan.data.fashion_classes[i] or i, pct(v)) end
    lines[#lines + 1] = ("  class coverage (smallest %s): %s"):format(pct(r.min_coverage), table.concat(parts, ", "))
    shown.min_coverage = true
  end
  if r.modes then
    lines[#lines + 1] = ("  modes covered %d of %d, high-quality samples %s"):format(r.modes, r.modes_total, pct(r.hq))
    shown.modes, shown.modes_total, shown.hq = true, true, true
  end
  local rest = {}
  for k, v in pairs(r) do
    if not shown[k] and type(v) == "number" then rest[#rest + 1] = ("%s %s"):format(k, fmt_num(v)) end
  end
  table.sort(rest)
  if #rest > 0 then lines[#lines + 1] = "  " .. table.concat(rest, "  ") end
  return table.concat(lines, "\n")
end

return setmetatable(M, { __call = function(_, ...) return M.run(...) end })
