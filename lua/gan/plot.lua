--- gan.plot: line plots drawn into an image tensor and saved as PNG.
--
--     gan.plot.lines("loss.png", {
--       { y = lossD, label = "D loss" },                    -- x defaults to 1, 2, ...
--       { x = steps, y = lossG, label = "G loss", dash = true },
--     }, { title = "losses", xlabel = "step", logy = true })
--
-- Everything is drawn in Lua into an RGB image (3, H, W) in [0, 1]: axes
-- with "nice" tick values, a light grid, the lines (solid or dashed) in a
-- ten-colour palette (`gan.plot.palette`, a list of {r, g, b} in [0, 1]),
-- a legend, and text in a built-in 5x7 pixel font (printable ASCII). `lines_image` returns the image and the frame that maps
-- data to pixels, for drawing more or for side-by-side figures
-- (gan.cat({a, b}, 3)). Values that are not finite (and, on a log axis,
-- values <= 0) leave a gap in their line.
-- @module gan.plot

local gan = require "gan"

local M = {}

-- The font: 7 rows of 5 pixels per character, each row a two-digit hex
-- number whose bit 4 is the leftmost pixel.
local FONT = {
  ["!"] = "04040404040004", ["\""] = "0a0a0000000000", ["#"] = "0a0a1f0a1f0a0a", ["$"] = "040f140e051e04",
  ["%"] = "18190204081303", ["&"] = "0c12140815120d", ["'"] = "04040800000000", ["("] = "02040808080402",
  [")"] = "08040202020408", ["*"] = "0004150e150400", ["+"] = "0004041f040400", [","] = "000000000c0408",
  ["-"] = "0000001f000000", ["."] = "00000000000c0c", ["/"] = "00010204081000", ["0"] = "0e11131519110e",
  ["1"] = "040c040404040e", ["2"] = "0e11010204081f", ["3"] = "1f02040201110e", ["4"] = "02060a121f0202",
  ["5"] = "1f101e0101110e", ["6"] = "0608101e11110e", ["7"] = "1f010204080808", ["8"] = "0e11110e11110e",
  ["9"] = "0e11110f01020c", [":"] = "000c0c000c0c00", [";"] = "000c0c000c0408", ["<"] = "02040810080402",
  ["="] = "00001f001f0000", [">"] = "08040201020408", ["?"] = "0e110102040004", ["@"] = "0e11171517100e",
  ["A"] = "0e11111f111111", ["B"] = "1e11111e11111e", ["C"] = "0e11101010110e", ["D"] = "1c12111111121c",
  ["E"] = "1f10101e10101f", ["F"] = "1f10101e101010", ["G"] = "0e11101711110f", ["H"] = "1111111f111111",
  ["I"] = "0e04040404040e", ["J"] = "0702020202120c", ["K"] = "11121418141211", ["L"] = "1010101010101f",
  ["M"] = "111b1515111111", ["N"] = "11111915131111", ["O"] = "0e11111111110e", ["P"] = "1e11111e101010",
  ["Q"] = "0e11111115120d", ["R"] = "1e11111e141211", ["S"] = "0f10100e01011e", ["T"] = "1f040404040404",
  ["U"] = "1111111111110e", ["V"] = "11111111110a04", ["W"] = "1111111515150a", ["X"] = "11110a040a1111",
  ["Y"] = "11110a04040404", ["Z"] = "1f01020408101f", ["["] = "0e08080808080e", ["\\"] = "00100804020100",
  ["]"] = "0e02020202020e", ["^"] = "040a1100000000", ["_"] = "0000000000001f", ["`"] = "08040200000000",
  ["a"] = "00000e010f110f", ["b"] = "1010161911111e", ["c"] = "00000e1010110e", ["d"] = "01010d1311110f",
  ["e"] = "00000e111f100e", ["f"] = "0609081c080808", ["g"] = "00000f110f010e", ["h"] = "10101619111111",
  ["i"] = "04000c0404040e", ["j"] = "0200060202120c", ["k"] = "10101214181412", ["l"] = "0c04040404040e",
  ["m"] = "00001a15151111", ["n"] = "00001619111111", ["o"] = "00000e1111110e", ["p"] = "00001e111e1010",
  ["q"] = "00000d130f0101", ["r"] = "00001619101010", ["s"] = "00000e100e011e", ["t"] = "08081c08080906",
  ["u"] = "0000111111130d", ["v"] = "00001111110a04", ["w"] = "0000111115150a", ["x"] = "0000110a040a11",
  ["y"] = "000011110f010e", ["z"] = "00001f0204081f", ["{"] = "03040408040403", ["|"] = "04040404040404",
  ["}"] = "18040402040418", ["~"] = "00000815020000",
}

-- Colours given to series without one, in order (RGB in [0, 1]); see the module comment.
M.palette = {
  { 0.12, 0.47, 0.71 }, { 1.00, 0.50, 0.05 }, { 0.17, 0.63, 0.17 }, { 0.84, 0.15, 0.16 }, { 0.58, 0.40, 0.74 },
  { 0.55, 0.34, 0.29 }, { 0.89, 0.47, 0.76 }, { 0.50, 0.50, 0.50 }, { 0.74, 0.74, 0.13 }, { 0.09, 0.75, 0.81 },
}

-- ----------------------------------------------------------------------------
-- Canvas: a flat table of pixels, channel by channel

local Canvas = {}
Canvas.__index = Canvas

--- A white canvas of w x h pixels.
-- @param w width
-- @param h height
-- @return canvas with :pixel, :line, :rect, :text, :image
function M.canvas(w, h)
  local px = {}
  for i = 1, 3 * w * h do px[i] = 1 end
  return setmetatable({ w = w, h = h, n = w * h, px = px }, Canvas)
end

--- Sets the pixel at column x, row y (0-based, from the top left); outside: nothing.
function Canvas:pixel(x, y, rgb)
  x, y = math.floor(x + 0.5), math.floor(y + 0.5)
  if x < 0 or y < 0 or x >= self.w or y >= self.h then return end
  local o = y * self.w + x + 1
  self.px[o], self.px[self.n + o], self.px[2 * self.n + o] = rgb[1], rgb[2], rgb[3]
end

--- Fills the rectangle of columns x0..x1 and rows y0..y1 (inclusive).
function Canvas:rect(x0, y0, x1, y1, rgb)
  for y = math.floor(y0), math.floor(y1) do
    for x = math.floor(x0), math.floor(x1) do self:pixel(x, y, rgb) end
  end
end

--- Draws a line from (x0, y0) to (x1, y1), `width` pixels thick; with
-- `dash` (a length in pixels) every other stretch of that length is left out.
-- `phase` carries the dash pattern over joined segments; the new phase is returned.
function Canvas:line(x0, y0, x1, y1, rgb, width, dash, phase)
  width = width or 1
  local dx, dy = x1 - x0, y1 - y0
  local len = math.sqrt(dx * dx + dy * dy)
  local steps = math.max(1, math.ceil(len * 2))
  local lo, hi = -(width - 1) // 2, width // 2
  phase = phase or 0
  for s = 0, steps do
    local t = s / steps
    local on = true
    if dash then on = ((phase + t * len) // dash) % 2 == 0 end
    if on then
      local x, y = math.floor(x0 + t * dx + 0.5), math.floor(y0 + t * dy + 0.5)
      for oy = lo, hi do
        for ox = lo, hi do self:pixel(x + ox, y + oy, rgb) end
      end
    end
  end
  return phase + len
end

--- The width in pixels of text s at a scale.
-- @param s the text
-- @param scale pixels per font pixel (default 1)
-- @return width
function M.text_width(s, scale)
  scale = scale or 1
  if #s == 0 then return 0 end
  return (#s * 6 - 1) * scale
end

--- Writes text with its top left corner at (x, y); characters outside
-- printable ASCII are drawn as '?'.
function Canvas:text(x, y, s, rgb, scale)
  scale = scale or 1
  rgb = rgb or { 0, 0, 0 }
  for i = 1, #s do
    local ch = s:sub(i, i)
    local g = FONT[ch]
    if ch ~= " " and not g then g = FONT["?"] end
    if g then
      local cx = x + (i - 1) * 6 * scale
      for r = 0, 6 do
        local bits = tonumber(g:sub(2 * r + 1, 2 * r + 2), 16)
        for c = 0, 4 do
          if bits & (1 << (4 - c)) ~= 0 then
            self:rect(cx + c * scale, y + r * scale, cx + c * scale + scale - 1, y + r * scale + scale - 1, rgb)
          end
        end
      end
    end
  end
end

--- The canvas as an image tensor (3, h, w) in [0, 1].
function Canvas:image()
  return gan.tensor(self.px):reshape(3, self.h, self.w)
end

-- ----------------------------------------------------------------------------
-- Ticks

-- the step of 1, 2, 2.5 or 5 times a power of ten that gives closest to n intervals
local function nice_step(span, n)
  n = math.max(1, n)
  local mag = 10 ^ math.floor(math.log(span / n, 10))
  local best, bestd
  for _, m in ipairs({ 1, 2, 2.5, 5, 10 }) do
    local d = math.abs(span / (m * mag) - n)
    if not bestd or d < bestd - 1e-9 then best, bestd = m * mag, d end
  end
  return best
end

--- "Nice" tick values covering [lo, hi]: multiples of 1, 2, 2.5 or 5 times
-- a power of ten, about n of them.
-- @param lo low end
-- @param hi high end
-- @param n about how many (default 5)
-- @return list of numbers, ascending, all within [lo, hi]
function M.ticks(lo, hi, n)
  if hi < lo then lo, hi = hi, lo end
  if hi == lo then return { lo } end
  local step = nice_step(hi - lo, n or 5)
  local out = {}
  local k = math.ceil(lo / step - 1e-9)
  while k * step <= hi + step * 1e-9 do
    local v = k * step
    if math.abs(v) < step * 1e-9 then v = 0 end
    out[#out + 1] = v
    k = k + 1
  end
  return out
end

--- A short label for a tick value: "0", "0.25", "1500", "1e-05", "2.5e+06".
-- @param v number
-- @return text
function M.format_tick(v)
  if v == 0 then return "0" end
  local a = math.abs(v)
  if a >= 1e-3 and a < 1e5 then
    local s = ("%.4f"):format(v):gsub("0+$", ""):gsub("%.$", "")
    return s
  end
  local s = ("%.1e"):format(v):gsub("%.0e", "e")
  return s
end

-- ----------------------------------------------------------------------------
-- Line plots

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

local function as_list(v, what)
  if gan.is_tensor(v) then return v:detach():float():reshape(-1):totable() end
  if type(v) ~= "table" then error(("gan.plot: %s must be a list of numbers or a tensor, got %s"):format(what, type(v)), 4) end
  return v
end

-- the data's bounds over every series, with the options' overrides
local function bounds(list, opts)
  local x0, x1, y0, y1 = math.huge, -math.huge, math.huge, -math.huge
  for _, s in ipairs(list) do
    for i = 1, #s.y do
      local x, y = s.x[i], s.y[i]
      if finite(x) and finite(y) and (not opts.logy or y > 0) then
        x0, x1 = math.min(x0, x), math.max(x1, x)
        y0, y1 = math.min(y0, y), math.max(y1, y)
      end
    end
  end
  if x0 > x1 then x0, x1 = 0, 1 end
  if y0 > y1 then y0, y1 = opts.logy and 0.1 or 0, 1 end
  x0, x1 = opts.xmin or x0, opts.xmax or x1
  y0, y1 = opts.ymin or y0, opts.ymax or y1
  if opts.logy then
    y0, y1 = math.log(y0, 10), math.log(y1, 10)
    if opts.ymin == nil then y0 = math.floor(y0 + 1e-9) end
    if opts.ymax == nil then y1 = math.ceil(y1 - 1e-9) end
    if y1 - y0 < 1 then y1 = y0 + 1 end
  else
    local nonneg = y0 >= 0 -- a curve that is never negative gets no negative axis
    if y1 == y0 then y0, y1 = y0 - 1, y1 + 1 end
    local pad = (y1 - y0) * 0.05
    if opts.ymin == nil then y0 = y0 - pad end
    if opts.ymax == nil then y1 = y1 + pad end
    if nonneg and opts.ymin == nil then y0 = math.max(y0, 0) end
  end
  if x1 == x0 then x0, x1 = x0 - 1, x1 + 1 end
  return x0, x1, y0, y1
end

--- Draws line plots into an image.
-- @param series list of {y=, x= (default 1..#y), label=, color={r, g, b},
--   width= (pixels, default 2), dash= (true or a length in pixels), points=
--   (true: a dot of `width` pixels at each (x, y), not joined: a scatter plot)};
--   y and x are lists of numbers or tensors
-- @param opts {width=640, height=400, title=, xlabel=, ylabel=, logy=false,
--   xmin=, xmax=, ymin=, ymax=, legend= (false for none, or where: "top_right"
--   (default), "top", "top_left", "bottom_right", "bottom", "bottom_left"),
--   font= (pixels per font pixel, default 2 from 480 pixels wide, else 1)}
-- @return image (3, H, W) in [0, 1], and the frame {left=, top=, right=,
--   bottom=, tox=function(x), toy=function(y)} (pixel columns and rows)
function M.lines_image(series, opts)
  opts = opts or {}
  if type(series) ~= "table" or #series == 0 then error("gan.plot.lines: expected a non-empty list of series", 3) end
  local list = {}
  for i, s in ipairs(series) do
    if type(s) ~= "table" or s.y == nil then error(("gan.plot.lines: series %d has no y"):format(i), 3) end
    local y = as_list(s.y, ("series %d's y"):format(i))
    local x = s.x and as_list(s.x, ("series %d's x"):format(i))
    if not x then
      x = {}
      for k = 1, #y do x[k] = k end
    end
    if #x ~= #y then
      error(("gan.plot.lines: series %d has %d x values and %d y values"):format(i, #x, #y), 3)
    end
    local dash = s.dash
    if dash == true then dash = 8 end
    list[i] = { x = x, y = y, label = s.label, color = s.color or M.palette[(i - 1) % #M.palette + 1],
      width = s.width or 2, dash = dash, points = s.points == true }
  end
  local W, H = opts.width or 640, opts.height or 400
  local sc = opts.font or (W >= 480 and 2 or 1)
  local ch = 7 * sc                                  -- text height
  local logy = opts.logy == true
  local x0, x1, y0, y1 = bounds(list, opts)

  -- tick labels decide the left margin
  local yt = {}
  if logy then
    local stepd = math.max(1, math.ceil((y1 - y0) / 8))
    for e = math.ceil(y0 - 1e-9), math.floor(y1 + 1e-9), stepd do yt[#yt + 1] = { e, M.format_tick(10 ^ e) } end
  else
    for _, v in ipairs(M.ticks(y0, y1, 6)) do yt[#yt + 1] = { v, M.format_tick(v) } end
  end
  local lw = 0
  for _, t in ipairs(yt) do lw = math.max(lw, M.text_width(t[2], sc)) end
  local top = (opts.title and ch * 2 or ch) + (opts.ylabel and ch + 2 * sc or 0)
  local left = lw + 8 * sc
  -- room on the right for half of the last x tick label
  local right = W - math.max(5 * sc, M.text_width(M.format_tick(x1), sc) // 2 + 3 * sc)
  local bottom = H - ch - 6 * sc - (opts.xlabel and ch + 4 * sc or 0)
  if right - left < 20 or bottom - top < 20 then
    error(("gan.plot.lines: %dx%d pixels leave no room for the plot"):format(W, H), 3)
  end
  local frame = { left = left, top = top, right = right, bottom = bottom }
  function frame.tox(x) return left + (x - x0) / (x1 - x0) * (right - left) end
  function frame.toy(y)
    if logy then y = math.log(y, 10) end
    return bottom - (y - y0) / (y1 - y0) * (bottom - top)
  end

  local cv = M.canvas(W, H)
  local black, grid, gray = { 0, 0, 0 }, { 0.9, 0.9, 0.9 }, { 0.35, 0.35, 0.35 }
  -- grid lines and tick labels
  for _, t in ipairs(yt) do
    local py = bottom - (t[1] - y0) / (y1 - y0) * (bottom - top)
    cv:line(left, py, right, py, grid, 1)
    cv:text(left - 3 * sc - M.text_width(t[2], sc), py - ch / 2, t[2], gray, sc)
  end
  local xt = M.ticks(x0, x1, math.max(2, math.floor((right - left) / (40 * sc))))
  for _, v in ipairs(xt) do
    local px = frame.tox(v)
    cv:line(px, top, px, bottom, grid, 1)
    local s = M.format_tick(v)
    cv:text(px - M.text_width(s, sc) / 2, bottom + 3 * sc, s, gray, sc)
  end
  -- the lines, clipped to the frame
  for _, s in ipairs(list) do
    local prev, phase
    for i = 1, #s.y do
      local x, y = s.x[i], s.y[i]
      local ok = finite(x) and finite(y) and (not logy or y > 0)
      if ok then
        local px, py = frame.tox(x), frame.toy(y)
        py = math.max(top, math.min(bottom, py))
        px = math.max(left, math.min(right, px))
        if s.points then
          cv:line(px, py, px, py, s.color, s.width)
        elseif prev then
          phase = cv:line(prev[1], prev[2], px, py, s.color, s.width, s.dash, phase)
        else
          cv:line(px, py, px, py, s.color, s.width)
        end
        if not s.points then prev = { px, py } end
      else
        prev, phase = nil, nil
      end
    end
  end
  -- axes
  cv:line(left, bottom, right, bottom, black, 1)
  cv:line(left, top, left, bottom, black, 1)
  -- labels
  if opts.title then cv:text((W - M.text_width(opts.title, sc)) / 2, ch / 2, opts.title, black, sc) end
  if opts.ylabel then cv:text(2 * sc, top - ch - 2 * sc, opts.ylabel, black, sc) end
  if opts.xlabel then
    cv:text((left + right - M.text_width(opts.xlabel, sc)) / 2, H - ch - 2 * sc, opts.xlabel, black, sc)
  end
  -- legend, top right inside the frame
  if opts.legend ~= false then
    local entries = {}
    for _, s in ipairs(list) do if s.label then entries[#entries + 1] = s end end
    if #entries > 0 then
      local tw = 0
      for _, s in ipairs(entries) do tw = math.max(tw, M.text_width(s.label, sc)) end
      local sw = 14 * sc
      local bw, bh = tw + sw + 9 * sc, #entries * (ch + 3 * sc) + 3 * sc
      local where = type(opts.legend) == "string" and opts.legend or "top_right"
      local bx, by = right - bw - 3 * sc, top + 3 * sc
      if where:match("^bottom") then by = bottom - bh - 3 * sc end
      if where:match("left$") then bx = left + 3 * sc end
      if where == "top" or where == "bottom" then bx = (left + right - bw) / 2 end
      cv:rect(bx, by, bx + bw, by + bh, { 1, 1, 1 })
      cv:line(bx, by, bx + bw, by, gray, 1); cv:line(bx, by + bh, bx + bw, by + bh, gray, 1)
      cv:line(bx, by, bx, by + bh, gray, 1); cv:line(bx + bw, by, bx + bw, by + bh, gray, 1)
      for k, s in ipairs(entries) do
        local ty = by + 3 * sc + (k - 1) * (ch + 3 * sc)
        cv:line(bx + 3 * sc, ty + ch / 2, bx + 3 * sc + sw, ty + ch / 2, s.color, s.width, s.dash and 4 * sc or nil)
        cv:text(bx + 6 * sc + sw, ty, s.label, black, sc)
      end
    end
  end
  return cv:image(), frame
end

--- Draws line plots and writes them as a PNG (see `lines_image`).
-- @param path the file to write
-- @param series list of series
-- @param opts options of lines_image
-- @return true, or nil and a message
function M.lines(path, series, opts)
  return gan.io.save_png(path, (M.lines_image(series, opts)))
end

--- Images (3, H, W) side by side in one PNG (heights padded with white to the tallest).
-- @param path the file to write
-- @param images list of (3, H, W) tensors in [0, 1]
-- @return true, or nil and a message
function M.save_row(path, images)
  local h = 0
  for _, im in ipairs(images) do h = math.max(h, im:size(2)) end
  local padded = {}
  for i, im in ipairs(images) do
    if im:size(2) < h then im = gan.cat({ im, gan.ones(3, h - im:size(2), im:size(3)) }, 2) end
    padded[i] = im
  end
  return gan.io.save_png(path, gan.cat(padded, 3))
end

return M
