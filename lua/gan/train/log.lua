--- gan.train.log: the run's log, an observer of gan.train.
--
-- At the start: the options, printed and written to OUT/options.txt (its
-- first line names the recipe, so `ganlua eval` can run it again), and the
-- parameter count of every module. At each step: a row of OUT/log.csv with
-- every scalar the step returned (the first row fixes the columns; a resumed
-- run keeps the rows up to its checkpoint), and the progress line: step,
-- speed, elapsed and remaining time and the latest losses. On a terminal
-- (TERM set and standard output a tty) it is redrawn in place, fitted to
-- the terminal's width (losses with fewer digits, or left out, so that a
-- redraw never wraps); otherwise whole lines every `print_every` steps.
-- At the end: the time per step.
--
-- Requires: gan.options (format, info), gan.train (modules_of, fmt_num).
-- @module gan.train.log

local gan = require "gan"
local options = require "gan.options"
local train = require "gan.train"

local M = {}

local now = gan.clock

-- Is standard output a terminal that can redraw a progress bar?
local function is_tty()
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" or os.getenv("CI") ~= nil then return false end
  return gan.isatty(1)
end

--- Seconds as m:ss, or h:mm:ss from an hour on.
-- @param s seconds
-- @return text
local function fmt_time(s)
  s = math.floor(s + 0.5)
  if s >= 3600 then return ("%d:%02d:%02d"):format(s // 3600, s // 60 % 60, s % 60) end
  return ("%d:%02d"):format(s // 60, s % 60)
end
M.fmt_time = fmt_time

-- ----------------------------------------------------------------------------
-- A CSV file of numbers, one row per step

local Csv = {}
Csv.__index = Csv

local function csv_split(line)
  local out = {}
  for f in (line .. ","):gmatch("([^,]*),") do out[#out + 1] = f end
  return out
end

--- Opens path for rows of numbers by step; when resuming from step
-- `start` > 0, the rows after it are dropped and the columns kept. The rows
-- kept are never rewritten in place: the new rows are appended, and when
-- rows after `start` must go, the shorter file replaces the old one by a
-- rename, so a kill at any moment leaves one of the two whole.
-- @param path the file
-- @param start the step resumed from (0: a new file)
-- @return the writer (:write(step, values), :flush(), :close())
function M.csv(path, start)
  local header, rows, dropped = nil, {}, 0
  if start > 0 then
    local f = io.open(path, "r")
    local text = f and f:read("a") or ""
    if f then f:close() end
    -- whole lines only: a line a kill cut short is dropped too
    for line, nl in text:gmatch("([^\n]*)(\n?)") do
      if nl == "" then
        if line ~= "" then dropped = dropped + 1 end
        break
      end
      if not header then header = line
      else
        local s = math.tointeger(tonumber(csv_split(line)[1]))
        if s and s <= start then rows[#rows + 1] = line else dropped = dropped + 1 end
      end
    end
  end
  if header and dropped > 0 then
    local tmp = path .. ".tmp"
    local t, err = io.open(tmp, "w")
    if not t then error(("gan.train: cannot write %s: %s"):format(tmp, tostring(err)), 0) end
    t:write(header, "\n")
    for _, r in ipairs(rows) do t:write(r, "\n") end
    local ok, werr = t:close()
    if ok then ok, werr = os.rename(tmp, path) end
    if not ok then error(("gan.train: cannot rewrite %s: %s"):format(path, tostring(werr)), 0) end
  end
  local f, err = io.open(path, header and "a" or "w")
  if not f then error(("gan.train: cannot write %s: %s"):format(path, tostring(err)), 0) end
  local cols = header and csv_split(header) or nil
  if cols then table.remove(cols, 1) end
  return setmetatable({ f = f, cols = cols, path = path, warned = {} }, Csv)
end

--- Appends one row; the first row fixes the columns.
-- @param step the step
-- @param values table column -> number
function Csv:write(step, values)
  if not self.cols then
    local cols = {}
    for k in pairs(values) do cols[#cols + 1] = k end
    table.sort(cols)
    self.cols = cols
    self.f:write("step,", table.concat(cols, ","), "\n")
  end
  local row, known = { tostring(step) }, {}
  for i, k in ipairs(self.cols) do
    local v = values[k]
    row[i + 1] = v == nil and "" or ("%.9g"):format(v)
    known[k] = true
  end
  for k in pairs(values) do
    if not known[k] and not self.warned[k] then
      self.warned[k] = true
      io.stderr:write(("gan.train: '%s' first appeared after step 1; it is not in %s\n"):format(k, self.path))
    end
  end
  self.f:write(table.concat(row, ","), "\n")
end

--- Flushes the file.
function Csv:flush() self.f:flush() end
--- Closes the file.
function Csv:close() self.f:close() end

-- ----------------------------------------------------------------------------
-- The progress line

local function width_of(text) return utf8.len(text) or #text end

-- "2.31 it/s" or "1.52 s/it"
local function speed_of(rate)
  if rate <= 0 then return "- it/s" end
  return rate >= 1 and ("%.2f it/s"):format(rate) or ("%.2f s/it"):format(1 / rate)
end

--- The progress line of a step: "step 120/5000  2.31 it/s  0:52 elapsed, 35:12 left  D 0.693  G 0.71"
-- fitted into `width` columns when given (a terminal's): the losses that
-- fit, with fewer digits when that makes more fit, and the timing shortened
-- before anything is cut; a bar in front when there is room for one.
-- @param p the progress state {t0=, start=, iters=, keys= (the losses' names, in order)}
-- @param step the step
-- @param values the step's scalars
-- @param width columns available (nil: the whole line, as for a log file)
-- @param elapsed seconds since the run started (default: measured)
-- @return the line
function M.progress_line(p, step, values, width, elapsed)
  elapsed = elapsed or now() - p.t0
  local done = step - p.start
  local rate = elapsed > 0 and done / elapsed or 0
  local left = rate > 0 and (p.iters - step) / rate or 0
  local head = ("step %d/%d"):format(step, p.iters)
  local timing = ("%s  %s elapsed, %s left"):format(speed_of(rate), fmt_time(elapsed), fmt_time(left))
  local function losses(fmt)
    local parts = {}
    for _, k in ipairs(p.keys or {}) do
      local v = values[k]
      if v ~= nil then parts[#parts + 1] = k .. " " .. (math.type(v) == "integer" and tostring(v) or fmt:format(v)) end
    end
    return parts
  end
  if not width then
    return table.concat({ head, timing, table.unpack(losses("%.4g")) }, "  ")
  end
  local room = width - 1 -- writing the last column makes some terminals wrap
  -- the losses in full, or with three digits when more of them fit so; "..." for those left out
  local function fit(line)
    local best, shown
    for _, fmt in ipairs { "%.4g", "%.3g" } do
      local parts, text, n = losses(fmt), line, 0
      for i, part in ipairs(parts) do
        local reserve = i < #parts and 5 or 0
        if width_of(text .. "  " .. part) + reserve > room then break end
        text, n = text .. "  " .. part, i
      end
      if n < #parts and width_of(text .. "  ...") <= room then text = text .. "  ..." end
      if not best or n > shown then best, shown = text, n end
      if n == #parts then break end
    end
    return best, shown
  end
  -- the timing in words, or short ("0:52<35:15") when that shows more losses
  local total = #losses("%.4g")
  local best, shown = fit(head .. "  " .. timing)
  if shown < total or width_of(best) > room then
    local short, n = fit(("%s  %s  %s<%s"):format(head, speed_of(rate), fmt_time(elapsed), fmt_time(left)))
    if n > shown or width_of(best) > room then best, shown = short, n end
  end
  if width_of(best) > room then
    best = ("%d/%d %s<%s"):format(step, p.iters, fmt_time(elapsed), fmt_time(left))
    if width_of(best) > room then return best:sub(1, math.max(room, 0)) end
  end
  -- a bar in front, in the room that is left
  local bar = math.min(30, room - width_of(best) - 3)
  if bar >= 10 then
    local fill = math.floor(bar * step / p.iters + 0.5)
    best = ("[%s%s] %s"):format(("#"):rep(fill), ("-"):rep(bar - fill), best)
  end
  return best
end

-- Is the progress line on a terminal, and how wide is it (nil: not a terminal)?
local function terminal_width()
  if not is_tty() then return nil end
  return gan.terminal_width(1) or math.tointeger(tonumber(os.getenv("COLUMNS") or "")) or 80
end

local function show_progress(p, step, values)
  if p.tty then
    local t = now()
    if t - p.last < 0.1 and step ~= p.iters then return end -- at most ten redraws a second
    p.last = t
    local width = terminal_width() or 80
    io.stdout:write("\r", M.progress_line(p, step, values, width), "\27[K")
    if step == p.iters then io.stdout:write("\n") end
    io.stdout:flush()
  elseif step % p.every == 0 or step == p.iters or step == p.start + 1 then
    io.stdout:write(M.progress_line(p, step, values), "\n")
    io.stdout:flush()
  end
end

-- ----------------------------------------------------------------------------
-- The observer

--- At the start: options, parameter counts, the CSV log, the progress line.
-- @param run the run (see gan.train)
function M.start(run)
  local text = options.format(run.opt)
  print(("== %s"):format(run.out))
  if text ~= "" then
    print(text)
    local info = options.info(run.opt)
    local lines = {}
    if info.script and info.script ~= "-" then lines[1] = "# recipe=" .. gan.io.abspath(info.script) end
    lines[#lines + 1] = text
    local ok, err = require("gan.util").write_file(run.out .. "/options.txt", table.concat(lines, "\n") .. "\n")
    if not ok then run:say(("warning: %s/options.txt not written: %s"):format(run.out, tostring(err))) end
  end
  local mods, names = train.modules_of(run.state)
  local counts = {}
  for i, m in ipairs(mods) do counts[i] = ("%s: %d parameters"):format(names[i], m:num_parameters()) end
  table.sort(counts)
  for _, line in ipairs(counts) do print(line) end
  if run.resumed then print(("resumed from %s at step %d"):format(run.ckpt, run.start))
  elseif options.get(run.opt, "resume") then print(("no checkpoint in %s: starting from step 0"):format(run.out)) end
  local every = options.get(run.opt, "print_every")
  if run.evaluating then return end
  if every <= 0 then every = math.max(1, run.iters // 50) end
  local p = { start = run.start, iters = run.iters, t0 = now(), last = -1, tty = is_tty(), every = every }
  run.log = { csv = M.csv(run.out .. "/log.csv", run.start), progress = p }
  run.before_say = function() if p.tty then io.stdout:write("\r\27[K") end end
end

--- After a step: a CSV row and the progress line.
-- @param run the run
-- @param step the step
-- @param values its scalars
function M.step(run, step, values)
  local log = run.log
  if not log.progress.keys then
    local keys = {}
    for k in pairs(values) do keys[#keys + 1] = k end
    table.sort(keys)
    log.progress.keys = keys
  end
  log.csv:write(step, values)
  show_progress(log.progress, step, values)
  if step % 10 == 0 then log.csv:flush() end
end

--- At the end of a run that trained: the time per step.
-- @param run the run
function M.finish(run)
  if run.evaluating then return end
  if run.log then run.log.csv:flush() end
  if run.steps > 0 then
    print(("done: %d steps in %s (%.3f s/step); samples in %s/samples, checkpoint %s"):format(run.steps,
      fmt_time(run.seconds), run.seconds / run.steps, run.out, run.ckpt))
  else
    print(("nothing to do: the checkpoint is at step %d of %d"):format(run.step, run.iters))
  end
end

--- Closes the CSV file (also after an error).
-- @param run the run
function M.close(run)
  if run.log then
    run.log.csv:close()
    run.log = nil
  end
end

return M
