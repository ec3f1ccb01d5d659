--- gan.train.samples: sample grids, an observer of gan.train.
--
-- Every `sample_every` steps and at the end of a run, OUT/samples/
-- step_NNNNNN.png: what the run samples (see gan.train: hooks.sample, or G
-- on hooks.noise) drawn from the same fixed noise every time, so the grids
-- of a run show one set of samples changing (the keyed draw
-- ("train.samples", 0) of gan.random). Images (N, C, H, W) become a
-- square grid; points (N, 2) a scatter plot over the data's points. Drawing
-- changes nothing: the random state and every buffer are put back.
--
-- A run can ask for grids at steps of its own choosing: `hooks.sample_label(step)`
-- returning a short label (such as "8x8") writes OUT/samples/step_NNNNNN_LABEL.png
-- at that step, whatever sample_every says; the report always shows
-- labelled grids (PGGAN labels the last step of each resolution).
--
-- Reads: sample_every, seed.
-- Requires: gan.train (draw_of, without_side_effects), gan.random, gan.image.
-- @module gan.train.samples

local gan = require "gan"
local options = require "gan.options"
local train = require "gan.train"
local random = require "gan.random"

local M = {}

-- A function write(path) that draws the run's samples on the fixed stream
-- and saves them, or nil and why not.
local function make_writer(run)
  local data, hooks = run.state.data, run.hooks
  local points = type(data) == "table" and data.kind == "points"
  local n = hooks.sample_count or (points and 1000 or 64)
  local draw, why = train.draw_of(run.state, hooks)
  if not draw then return nil, why end
  local seed = options.get(run.opt, "seed")
  local ref
  return function(path)
    local x = train.without_side_effects(run.state, function()
      return random.keyed("train.samples", 0, function() return draw(n) end, seed)
    end)
    if x:dim() == 2 and x:size(2) == 2 then
      if ref == nil and points then ref = data.x:narrow(1, 1, math.min(data.x:size(1), 2000)) end
      return gan.image.scatter(path, x, { reference = ref })
    end
    local nrow = math.max(1, math.floor(math.sqrt(x:size(1)) + 0.5))
    return gan.image.save_grid(path, x, { nrow = nrow })
  end
end

local function write(run, step, label)
  if not run.samples then return end
  local path = ("%s/samples/step_%06d.png"):format(run.out, step)
  if label then
    if not tostring(label):match("^[%w%-]+$") then
      error(("gan.train.samples: sample_label must be letters, digits and dashes, got '%s'"):format(tostring(label)), 0)
    end
    path = ("%s/samples/step_%06d_%s.png"):format(run.out, step, label)
  end
  run.grid_step = step
  local ok, err = run.samples(path)
  if not ok then run:say(("warning: %s not written: %s"):format(path, tostring(err))) end
end

--- Prepares the writer (or says why there will be no samples).
-- @param run the run (see gan.train)
function M.start(run)
  run.sample_every = options.get(run.opt, "sample_every")
  local why
  run.samples, why = make_writer(run)
  if not run.samples and run.sample_every > 0 and not run.evaluating then run:say("note: " .. why) end
end

--- A grid every sample_every steps, and at the steps hooks.sample_label names.
-- @param run the run
-- @param step the step
function M.step(run, step)
  local label = run.hooks.sample_label and run.hooks.sample_label(step) or nil
  if label or (run.sample_every > 0 and step % run.sample_every == 0) then write(run, step, label) end
end

--- A grid at the last step, unless one was drawn there already.
-- @param run the run
function M.finish(run)
  if run.stopped or run.steps == 0 then return end
  if run.sample_every > 0 and run.grid_step ~= run.step then write(run, run.step) end
end

return M
