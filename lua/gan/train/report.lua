--- gan.train.report: the run's report, an observer of gan.train.
--
-- While the run trains, writes OUT/report.html again after each step that
-- drew a sample grid or ran an evaluation, as a live page (it says which
-- step the run reached and reloads itself; see gan.report). At the end of a
-- run that trained (and in gan.train.evaluate), writes the final page with
-- gan.report.write: the options, the curves of log.csv and eval.csv, the
-- sample grids, the final metrics and the machine. A report that cannot be
-- written is a warning, never a lost run.
--
-- Requires: gan.report.
-- @module gan.train.report

local M = {}

--- Writes the live page after a step that drew a grid or ran an evaluation.
-- @param run the run (see gan.train)
-- @param step the step
function M.step(run, step)
  local evaluated = run.eval_every and run.eval_every > 0 and run.evaluate and step % run.eval_every == 0
  if run.grid_step ~= step and not evaluated then return end
  if step == run.iters then return end -- the final page follows at once
  if run.log then run.log.csv:flush() end -- the curves up to this step
  local ok, path, err = pcall(require("gan.report").write, run.out, { live = { step = step, iters = run.iters } })
  if not (ok and path) and not run.live_warned then
    run.live_warned = true -- once: the final report says it again if it still fails
    run:say(("warning: the live report was not written: %s"):format(tostring(ok and err or path)))
  end
end

--- Writes the final report.
-- @param run the run
function M.finish(run)
  if run.steps == 0 and not run.evaluating then return end
  local ok, path = pcall(require("gan.report").write, run.out, {
    results = run.results, seconds_per_step = run.steps > 0 and run.seconds / run.steps or nil,
  })
  if ok and path then print(("report: %s"):format(path)) end
  if not ok then run:say(("warning: the report was not written: %s"):format(tostring(path))) end
end

return M
