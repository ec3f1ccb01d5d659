--- gan.train.report: the run's report, an observer of gan.train.
--
-- At the end of a run that trained (and in gan.train.evaluate), writes
-- OUT/report.html with gan.report.write: the options, the curves of log.csv
-- and eval.csv, the sample grids, the final metrics and the machine. A
-- report that cannot be written is a warning, never a lost run.
--
-- Requires: gan.report.
-- @module gan.train.report

local M = {}

--- Writes the report.
-- @param run the run (see gan.train)
function M.finish(run)
  if run.steps == 0 and not run.evaluating then return end
  local ok, path = pcall(require("gan.report").write, run.out, {
    results = run.results, seconds_per_step = run.steps > 0 and run.seconds / run.steps or nil,
  })
  if ok and path then print(("report: %s"):format(path)) end
  if not ok then run:say(("warning: the report was not written: %s"):format(tostring(path))) end
end

return M
