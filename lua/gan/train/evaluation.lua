--- gan.train.evaluation: measuring a run, an observer of gan.train.
--
-- Every `eval_every` steps, a quick evaluation on a fifth of
-- `eval_samples` samples (a row of OUT/eval.csv and a line on the
-- console); at the end of a run that trained (and in gan.train.evaluate),
-- the final one on `eval_samples` samples: printed, and written to
-- OUT/metrics.json with the step, the time it took and the time per step.
--
-- What is measured: the data set says how its samples are measured, by a
-- method `data:evaluate(draw, n)` -> table of results (Fashion-MNIST's
-- images: gan.metrics.images; Gaussian mixtures: gan.metrics.points; other
-- data: nothing), merged with the recipe's own measures, hooks.eval(step,
-- n). Each draws from a keyed stream of its own (gan.random: "train.eval",
-- "train.eval.recipe"), the same at every evaluation, without gradients;
-- the run's random state and buffers are put back afterwards.
--
-- Reads: eval, eval_every, eval_samples, seed.
-- Requires: gan.train (draw_of, scalars, without_side_effects), gan.metrics
-- (class names, for the text), gan.util (json, write_file).
-- @module gan.train.evaluation

local gan = require "gan"
local options = require "gan.options"
local train = require "gan.train"
local random = require "gan.random"
local util = require "gan.util"

local M = {}

-- A function evaluate(step, n) -> table of results, or nil and why there is
-- nothing to measure.
local function make_evaluator(run)
  local data, hooks, state = run.state.data, run.hooks, run.state
  local draw, why = train.draw_of(state, hooks)
  local auto
  if draw and type(data) == "table" and type(data.evaluate) == "function" then
    auto = function(n) return data:evaluate(draw, n) end
  end
  if not auto and not hooks.eval then
    if draw then
      why = ("--data=%s has no measure of its own (FD, KID, precision and recall use the features of a "
        .. "Fashion-MNIST classifier, so they are measured on Fashion-MNIST only; toy sets count modes), and the "
        .. "recipe measures nothing of its own"):format(tostring(options.get(run.opt, "data")))
    end
    return nil, why
  end
  local seed = options.get(run.opt, "seed")
  return function(step, n)
    local r = {}
    if auto then
      local a = train.without_side_effects(state, function()
        return random.keyed("train.eval", 0, function() return auto(n) end, seed)
      end)
      for k, v in pairs(a) do r[k] = v end
    end
    if hooks.eval then
      -- the recipe's own measures, on their own stream too: an evaluation that draws noise or
      -- runs a batch-norm network in training mode leaves the run exactly as it was
      local e = train.without_side_effects(state, function()
        return random.keyed("train.eval.recipe", 0, function() return hooks.eval(step, n) end, seed)
      end)
      for k, v in pairs(e or {}) do r[k] = v end
    end
    return r
  end
end

--- Prepares the evaluator.
-- @param run the run (see gan.train)
function M.start(run)
  run.evaluate, run.no_evaluation = make_evaluator(run)
  run.eval_every = options.get(run.opt, "eval_every")
  run.eval_samples = options.get(run.opt, "eval_samples")
  run.eval_final = options.get(run.opt, "eval")
end

local function summary_line(values)
  local parts = {}
  for k, x in pairs(values) do parts[#parts + 1] = k .. " " .. train.fmt_num(x) end
  table.sort(parts)
  return table.concat(parts, "  ")
end

--- A quick evaluation every eval_every steps.
-- @param run the run
-- @param step the step
function M.step(run, step)
  if run.eval_every <= 0 or not run.evaluate or step % run.eval_every ~= 0 then return end
  local values = train.scalars(run.evaluate(step, math.max(100, run.eval_samples // 5))) or {}
  run.eval_log = run.eval_log or require("gan.train.log").csv(run.out .. "/eval.csv", run.start)
  run.eval_log:write(step, values)
  run.eval_log:flush()
  run:say(("eval at step %d: %s"):format(step, summary_line(values)))
end

--- The final evaluation, into metrics.json.
-- @param run the run
function M.finish(run)
  if not run.eval_final or run.stopped then return end
  if run.steps == 0 and not run.evaluating then return end
  if not run.evaluate then
    run:say("note: no final evaluation: " .. tostring(run.no_evaluation))
    return
  end
  local t = gan.clock()
  -- the count is the data's to say (a translation run measures its test set,
  -- not eval_samples): M.format prints it with the results
  print(("evaluating at step %d ..."):format(run.step))
  local r = run.evaluate(run.step, run.eval_samples)
  r.step, r.eval_seconds = run.step, gan.clock() - t
  if run.steps > 0 then r.seconds_per_step = run.seconds / run.steps end
  print(M.format(r))
  local ok, err = util.write_file(run.out .. "/metrics.json", util.json(r) .. "\n")
  if not ok then run:say(("warning: %s/metrics.json not written: %s"):format(run.out, tostring(err))) end
  run.results = r
end

--- Closes eval.csv (also after an error).
-- @param run the run
function M.close(run)
  if run.eval_log then
    run.eval_log:close()
    run.eval_log = nil
  end
end

local function pct(x) return ("%.1f%%"):format(100 * x) end

--- Evaluation results as text: FD with its floor and ceiling, KID,
-- precision, recall, class coverage; then any other value.
-- @param r a table from an evaluation (gan.metrics.images, points, hooks.eval)
-- @return text (several lines)
function M.format(r)
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
    local names = gan.metrics.CLASSES
    local parts = {}
    for i, v in ipairs(r.coverage) do parts[i] = ("%s %s"):format(names[i] or i, pct(v)) end
    lines[#lines + 1] = ("  class coverage (smallest %s): %s"):format(pct(r.min_coverage), table.concat(parts, ", "))
    shown.min_coverage = true
  end
  if r.modes then
    lines[#lines + 1] = ("  modes covered %d of %d, high-quality samples %s"):format(r.modes, r.modes_total, pct(r.hq))
    shown.modes, shown.modes_total, shown.hq = true, true, true
  end
  local rest = {}
  for k, v in pairs(r) do
    if not shown[k] and type(v) == "number" then rest[#rest + 1] = ("%s %s"):format(k, train.fmt_num(v)) end
  end
  table.sort(rest)
  if #rest > 0 then lines[#lines + 1] = "  " .. table.concat(rest, "  ") end
  return table.concat(lines, "\n")
end

return M
