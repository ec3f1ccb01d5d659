--- The loss curves of two runs side by side (a 2-rank run and a 1-process
-- run with the doubled batch), each a moving average over `window` steps.
--
--     ganlua bench/dist_curves.lua --a=runs/dcgan_2x32 --b=runs/dcgan_1x64 --out=docs/images/dist_dcgan_curves.png
local gan = require "gan"

local opt = gan.options {
  a = "",           -- first run folder (its log.csv)
  b = "",           -- second run folder
  a_label = "2 ranks x 32",
  b_label = "1 process x 64",
  window = 25,      -- moving average over this many steps
  out = "dist_curves.png", -- the PNG to write
}

local function read_log(dir)
  local f = io.open(dir .. "/log.csv")
  if not f then error(("bench/dist_curves: %s/log.csv not found"):format(dir), 0) end
  local header = f:read("l")
  local names = {}
  for k in header:gmatch("[^,]+") do names[#names + 1] = k end
  local cols = {}
  for _, k in ipairs(names) do cols[k] = {} end
  for line in f:lines() do
    local i = 0
    for v in (line .. ","):gmatch("([^,]*),") do
      i = i + 1
      cols[names[i]][#cols[names[i]] + 1] = tonumber(v) or (0 / 0)
    end
  end
  f:close()
  return cols
end

local function smooth(y, w)
  local out, sum = {}, 0
  for i = 1, #y do
    sum = sum + y[i] - (i > w and y[i - w] or 0)
    out[i] = sum / math.min(i, w)
  end
  return out
end

local A, B = read_log(opt.a), read_log(opt.b)
local series = {}
for _, k in ipairs { "D", "G" } do
  series[#series + 1] = { x = A.step, y = smooth(A[k], opt.window), label = ("%s %s"):format(k, opt.a_label) }
  series[#series + 1] = { x = B.step, y = smooth(B[k], opt.window), label = ("%s %s"):format(k, opt.b_label), dash = true }
end
gan.plot.lines(opt.out, series, { title = ("dcgan losses (moving average of %d steps)"):format(opt.window),
  xlabel = "step" })
print("wrote " .. opt.out)
