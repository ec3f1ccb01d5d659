-- The progress line: fitted to the terminal's width (a run in a
-- pseudo-terminal of 50 and 72 columns never draws a longer line), with the
-- elapsed and remaining time; whole lines when standard output is a file.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local log = require "gan.train.log"

local tmp = U.tmpdir("progress")

-- a run whose step returns many long-named losses, as CycleGAN's does
U.write(tmp .. "/many.lua", [[
local gan = require "gan"
local opt = gan.options { iters = 40, eval = false, sample_every = 0, data = "8gaussians" }
local data = gan.data.load(opt.data, opt)
local names = { "D_A", "D_B", "G_AB", "G_BA", "cycle_A", "cycle_B", "identity_A", "identity_B", "D(x)", "D(G(z))" }
gan.train(opt, { data = data }, function(real, step)
  local v = {}
  for i, k in ipairs(names) do v[k] = math.sin(step * i) * 10 ^ (i % 4) end
  return v
end)
]])

local P = { t0 = 0, start = 0, iters = 5000,
  keys = { "D_A", "D_B", "G_AB", "G_BA", "cycle_A", "cycle_B", "identity_A", "identity_B" } }
local V = { D_A = 0.25123, D_B = 0.2498, G_AB = 0.71234, G_BA = 0.69, cycle_A = 1.23456, cycle_B = 2.345678,
  identity_A = 0.0123, identity_B = 0.03456 }

T.case("progress_line fits any width, keeps step and time, and says when losses are left out", function()
  for w = 12, 160 do
    local line = log.progress_line(P, 120, V, w, 52)
    U.truthy(utf8.len(line) <= w - 1, ("width %d: %d columns: %s"):format(w, utf8.len(line), line))
    if w >= 30 then U.truthy(line:find("120/5000", 1, true) and line:find("0:52", 1, true), line) end
  end
  local wide = log.progress_line(P, 120, V, 200, 52)
  U.truthy(wide:find("0:52 elapsed, 35:15 left", 1, true), wide)
  U.truthy(wide:find("identity_B 0.03456", 1, true) and not wide:find("...", 1, true), wide)
  local narrow = log.progress_line(P, 120, V, 80, 52)
  U.truthy(narrow:find("D_A 0.25", 1, true) and narrow:find("  ...", 1, true), narrow)
  -- without a width (a log file), the whole line
  U.equal(log.progress_line(P, 120, V, nil, 52), "step 120/5000  2.31 it/s  0:52 elapsed, 35:15 left  D_A 0.2512  "
    .. "D_B 0.2498  G_AB 0.7123  G_BA 0.69  cycle_A 1.235  cycle_B 2.346  identity_A 0.0123  identity_B 0.03456")
end)

-- runs the recipe in a pseudo-terminal of `cols` columns (script(1)); returns what it drew
local function in_terminal(cols, out)
  local cmd = ("stty cols %d rows 24; exec env -u CI TERM=xterm %s %s --out=%s --threads=1"):format(cols,
    gan.io.executable(), tmp .. "/many.lua", out)
  local ok, _, text = gan.io.run({ "script", "-qec", cmd, "/dev/null" }, { capture = true })
  return ok, text
end

T.case("in a terminal of 50 or 72 columns no redraw is longer than the terminal", function()
  if not gan.io.run({ "sh", "-c", "command -v script >/dev/null" }, { capture = true }) then
    T.skip("script(1) is not installed")
  end
  for _, cols in ipairs { 50, 72 } do
    local ok, text = in_terminal(cols, tmp .. "/run" .. cols)
    U.truthy(ok, text)
    local draws = 0
    for piece in text:gmatch("\r([^\r\n]*)") do
      piece = piece:gsub("\27%[K", "")
      if piece:find("/40", 1, true) then
        draws = draws + 1
        U.truthy(utf8.len(piece) < cols, ("%d columns: a redraw of %d: %s"):format(cols, utf8.len(piece), piece))
      end
    end
    U.truthy(draws >= 1, "the progress line was drawn in place:\n" .. text)
    U.truthy(text:find("step 40/40", 1, true), "the last step is drawn")
  end
end)

T.case("without a terminal: whole lines with the elapsed and remaining time", function()
  local ok, _, text = gan.io.run({ gan.io.executable(), tmp .. "/many.lua", "--out=" .. tmp .. "/plain",
    "--threads=1", "--print_every=20" }, { capture = true })
  U.truthy(ok, text)
  U.truthy(not text:find("\r", 1, true), "no redraws in a file")
  local line = text:match("\n(step 20/40[^\n]*)")
  U.truthy(line and line:find("elapsed, ", 1, true) and line:find("identity_B", 1, true), text)
end)

T.run()
