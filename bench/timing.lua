--- The timing shared by the training-step benchmarks (bench/dcgan_step.lua,
-- bench/steps.lua): warm-up steps, timed steps, and the lines bench/compare.py
-- reads. Loaded with dofile from the script's own folder:
--
--     local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
--     local timing = dofile(here .. "timing.lua")
--     timing.run(opt, step, { { "G", G }, { "D", D } })
--
-- The lines printed, last ones last: `params NAME COUNT` for each network,
-- with --losses the losses of one untimed step (`loss NAME VALUE`, for a step
-- that returns them as {name = scalar tensor}), then with --profile the time per op, then `ganlua VERSION threads N isa
-- ISA`, `peak_rss_mb X` and `ms_per_step X` (the median of the timed steps).
-- @module bench.timing

local gan = require "gan"

local M = {}

--- The options both step programs take, declared as the group
-- "bench.timing": a script loads this file before its `gan.options` call
-- and names the group in `uses`. (Their `--threads` defaults to 2 in each
-- script; `--seed` is the training loop's.)
M.options = gan.options.declare("bench.timing", "timing", {
  { "steps", 10, "timed steps (0: print the parameter counts and stop)" },
  { "warmup", 3, "untimed steps first" },
  { "profile", false, "print the time per op over the timed steps" },
  { "losses", false, "print the losses of one untimed step first" },
})

--- The median of a list of numbers (sorted in place).
-- @param xs numbers
-- @return number
function M.median(xs)
  table.sort(xs)
  local n = #xs
  return n % 2 == 1 and xs[(n + 1) // 2] or (xs[n // 2] + xs[n // 2 + 1]) / 2
end

--- The process's peak resident set size so far, in MB (VmHWM).
-- @return number
function M.peak_rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
  error("bench.timing: no VmHWM in /proc/self/status", 2)
end

--- Times fn: opt.warmup calls first, then opt.steps timed calls.
-- @param opt {warmup=, steps=}
-- @param fn the function to time
-- @return the milliseconds of each timed call
function M.times(opt, fn)
  for _ = 1, opt.warmup do fn() end
  local times = {}
  for i = 1, opt.steps do
    local t0 = gan.clock()
    fn()
    times[i] = (gan.clock() - t0) * 1000
  end
  return times
end

local function print_profile(steps)
  local rows = gan.profile()
  local total = 0
  for _, r in ipairs(rows) do total = total + r.ms end
  print(("%-28s %8s %10s %7s"):format("op", "calls", "ms/step", "share"))
  for _, r in ipairs(rows) do
    print(("%-28s %8d %10.2f %6.1f%%"):format(r.name, r.calls // steps, r.ms / steps, 100 * r.ms / total))
  end
  gan.profile(false)
end

-- the losses a step returned, {name = scalar tensor or number}, sorted by name
local function print_losses(losses)
  if type(losses) ~= "table" then error("bench.timing: --losses needs a step that returns its losses", 0) end
  local names = {}
  for k in pairs(losses) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = losses[k]
    print(("loss %s %.6g"):format(k, type(v) == "number" and v or v:item()))
  end
end

--- Prints each network's parameter count, runs and times the steps (with
-- opt.profile, the time per op over the timed steps), then prints the
-- kernels in use, the peak RSS and the median step. With opt.steps = 0 it
-- prints the parameter counts only; with opt.losses it first runs one
-- untimed step and prints the losses it returns.
-- @param opt {warmup=, steps= (>= 0), profile=, losses=}
-- @param step the training step (returning {name = loss} for opt.losses)
-- @param nets a list of {name, module}, in the order printed
function M.run(opt, step, nets)
  if math.type(opt.steps) ~= "integer" or opt.steps < 0 or math.type(opt.warmup) ~= "integer" or opt.warmup < 0 then
    error(("--steps and --warmup must be integers >= 0, got %s and %s"):format(opt.steps, opt.warmup), 0)
  end
  for _, n in ipairs(nets) do print(("params %s %d"):format(n[1], n[2]:num_parameters())) end
  if opt.steps == 0 then return end
  if opt.losses then print_losses(step()) end
  for _ = 1, opt.warmup do step() end
  if opt.profile then gan.profile(true) end
  local times = M.times({ warmup = 0, steps = opt.steps }, step)
  if opt.profile then print_profile(opt.steps) end
  local info = gan.kernels.info()
  print(("ganlua %s threads %d isa %s"):format(gan.version, info.threads, info.isa))
  print(("peak_rss_mb %.1f"):format(M.peak_rss_mb()))
  print(("ms_per_step %.2f"):format(M.median(times)))
end

return M
