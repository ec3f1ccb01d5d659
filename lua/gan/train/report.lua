--- gan.train.report: the run's report, an observer of gan.train.
--
-- While the run trains, writes OUT/report.html again after each step that
-- drew a sample grid or ran an evaluation, as a live page (it says which
-- step the run reached and reloads itself; see gan.report). At the end of a
-- run that trained (and in gan.train.evaluate), writes the final page with
-- gan.report.write: the options, the curves of log.csv and eval.csv, the
-- sample grids, the final metrics and the machine. A run that ends early
-- (Ctrl-C, or an error or a NaN loss: `run.failed`, set by gan.train) writes
-- the final page too, with a line saying at which step and why, so no live
-- page is left reloading. A report that cannot be written is a warning,
-- never a lost run.
--
-- Requires: gan.report.
-- @module gan.train.report

local gan = require "gan"

local M = {}

--- Starts the clock of the live page's rewrites.
-- @param run the run (see gan.train)
function M.start(run)
  run.live_clock, run.live_interval = gan.clock(), 0
end

--- Writes the live page after a step that drew a grid or ran an evaluation.
-- @param run the run (see gan.train)
-- @param step the step
function M.step(run, step)
  local evaluated = run.eval_every and run.eval_every > 0 and run.evaluate and step % run.eval_every == 0
  if run.grid_step ~= step and not evaluated then return end
  if step == run.iters then return end -- the final page follows at once
  if run.log then run.log.csv:flush() end -- the curves up to this step
  -- the longest time between two writes: how long the page may wait for the next one
  local t = gan.clock()
  run.live_interval = math.max(run.live_interval or 0, t - (run.live_clock or t))
  run.live_clock = t
  local ok, path, err = pcall(require("gan.report").write, run.out,
    { live = { step = step, iters = run.iters, interval = run.live_interval } })
  if not (ok and path) and not run.live_warned then
    run.live_warned = true -- once: the final report says it again if it still fails
    run:say(("warning: the live report was not written: %s"):format(tostring(ok and err or path)))
  end
end

local function write_final(run, stopped)
  local ok, path = pcall(require("gan.report").write, run.out, {
    results = run.results, seconds_per_step = run.steps and run.steps > 0 and run.seconds / run.steps or nil,
    stopped = stopped,
  })
  if ok and path then print(("report: %s"):format(path)) end
  if not ok then run:say(("warning: the report was not written: %s"):format(tostring(path))) end
end

--- Writes the final report (saying so when Ctrl-C stopped the run).
-- @param run the run
function M.finish(run)
  if run.steps == 0 and not run.evaluating then return end
  write_final(run, run.stopped and ("The run was interrupted (Ctrl-C) after step %d of %d; --resume continues it.")
    :format(run.step, run.iters))
end

--- After an error (run.failed): the final report, saying after which step
-- the run stopped and the error's first line.
-- @param run the run
function M.close(run)
  if not run.failed or run.evaluating then return end
  local why = tostring(run.failed):match("^[^\n]*")
  local nan = run.diverged and "a NaN or infinite loss" or "an error"
  write_final(run, ("The run stopped after step %d of %d on %s: %s"):format(run.step, run.iters, nan, why))
end

return M
