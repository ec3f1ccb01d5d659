-- gan.plot: tick values, the frame's mapping, where lines and text land,
-- log axes, gaps, errors, and the PNG round trip.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local plot = gan.plot

-- the (r, g, b) of pixel (column x, row y), 0-based; images are read once into tables
local cache = setmetatable({}, { __mode = "k" })
local function rgb(img, x, y)
  local t = cache[img]
  if not t then
    t = img:totable()
    cache[img] = t
  end
  return { t[1][y + 1][x + 1], t[2][y + 1][x + 1], t[3][y + 1][x + 1] }
end

local function same(a, b) return math.abs(a[1] - b[1]) + math.abs(a[2] - b[2]) + math.abs(a[3] - b[3]) < 1e-3 end

-- pixels of one colour in column x, as a list of rows
local function rows_of(img, x, colour)
  local out = {}
  for y = 0, img:size(2) - 1 do
    if same(rgb(img, x, y), colour) then out[#out + 1] = y end
  end
  return out
end

T.case("ticks are nice numbers inside the range", function()
  T.close(plot.ticks(0, 1), { 0, 0.2, 0.4, 0.6, 0.8, 1 })
  T.close(plot.ticks(0, 10, 5), { 0, 2, 4, 6, 8, 10 })
  T.close(plot.ticks(-0.13, 0.31, 4), { -0.1, 0, 0.1, 0.2, 0.3 })
  T.close(plot.ticks(0, 5000, 4), { 0, 1000, 2000, 3000, 4000, 5000 })
  T.eq(plot.ticks(3, 3), { 3 })
  for _, v in ipairs(plot.ticks(0.37, 41.2, 7)) do U.truthy(v >= 0.37 and v <= 41.2, "inside") end
  T.eq(plot.format_tick(0), "0")
  T.eq(plot.format_tick(0.25), "0.25")
  T.eq(plot.format_tick(1500), "1500")
  T.eq(plot.format_tick(-2), "-2")
  T.eq(plot.format_tick(1e-5), "1e-05")
  T.eq(plot.format_tick(2.5e6), "2.5e+06")
end)

T.case("text is drawn from the font, and measured", function()
  U.equal(plot.text_width("ab", 1), 11)
  U.equal(plot.text_width("ab", 2), 22)
  U.equal(plot.text_width("", 2), 0)
  local cv = plot.canvas(20, 9)
  cv:text(1, 1, "I", { 0, 0, 0 }, 1)
  local img = cv:image()
  U.shape(img, { 3, 9, 20 })
  -- "I": a bar of three on the top and bottom rows, one pixel in the middle
  U.truthy(same(rgb(img, 2, 1), { 0, 0, 0 }) and same(rgb(img, 4, 1), { 0, 0, 0 }), "top bar")
  U.truthy(same(rgb(img, 1, 1), { 1, 1, 1 }), "nothing left of it")
  U.truthy(same(rgb(img, 3, 4), { 0, 0, 0 }) and same(rgb(img, 2, 4), { 1, 1, 1 }), "the stem")
  local blank = plot.canvas(8, 8)
  blank:text(0, 0, " ", { 0, 0, 0 })
  U.equal(blank:image():min():item(), 1, "a space draws nothing")
end)

T.case("a line plot: white background, lines where the frame puts them", function()
  local red = { 1, 0, 0 }
  local img, fr = plot.lines_image({
    { x = { 0, 10 }, y = { 5, 5 }, color = red, width = 1 },
    { x = { 0, 10 }, y = { 0, 10 }, label = "rising" },
  }, { width = 320, height = 200, title = "t", xlabel = "x", ylabel = "y", ymin = 0, ymax = 10 })
  U.shape(img, { 3, 200, 320 })
  U.truthy(img:min():item() >= 0 and img:max():item() <= 1, "in [0, 1]")
  U.truthy(same(rgb(img, 319, 199), { 1, 1, 1 }), "white corner")
  U.truthy(fr.left < fr.right and fr.top < fr.bottom, "a frame")
  U.close(fr.toy(0), fr.bottom, 1e-9)
  U.close(fr.toy(10), fr.top, 1e-9)
  U.close(fr.tox(5), (fr.left + fr.right) / 2, 1e-9)
  -- the red line at y = 5: in a column a third of the way across, red exactly on the middle row
  local col = math.floor(fr.tox(3) + 0.5)
  local rows = rows_of(img, col, red)
  U.equal(#rows, 1, "one red pixel in the column")
  U.truthy(math.abs(rows[1] - fr.toy(5)) <= 1, "on y = 5")
  -- the rising line is the first palette colour, and is in the column near y = 3
  local blue = rows_of(img, col, plot.palette[2])
  U.truthy(#blue >= 1 and math.abs((blue[1] + blue[#blue]) / 2 - fr.toy(3)) <= 1, "the second series, near y = 3")
end)

T.case("a curve that is never negative gets an axis from 0, not below", function()
  local _, frame = plot.lines_image({ { y = { 0, 5, 10 } } }, { width = 200, height = 120 })
  T.eq(frame.toy(0), frame.bottom, "0 sits on the bottom of the frame")
  local _, neg = plot.lines_image({ { y = { -1, 5, 10 } } }, { width = 200, height = 120 })
  U.truthy(neg.toy(-1) < neg.bottom, "a negative curve keeps its margin below")
end)

T.case("log axis: values <= 0 and NaN leave gaps; the axis spans whole decades", function()
  local img, fr = plot.lines_image({ { y = { 1e-3, 0, 1e-1, 0 / 0, 10 } } }, { logy = true, width = 300, height = 200 })
  U.shape(img, { 3, 200, 300 })
  U.close(fr.toy(1e-3), fr.bottom, 1e-9, "10^-3 at the bottom")
  U.close(fr.toy(10), fr.top, 1e-9, "10^1 at the top")
  U.close(fr.toy(0.1), (fr.top + fr.bottom) / 2, 1e-9, "10^-1 half way")
  -- nothing drawn between x = 1 and x = 3 (the 0 breaks the line)
  local c = plot.palette[1]
  U.equal(#rows_of(img, math.floor(fr.tox(1.5) + 0.5), c), 0, "a gap after 1e-3")
  U.truthy(#rows_of(img, math.floor(fr.tox(4.5) + 0.5), c) == 0, "a gap around the NaN")
end)

T.case("dashed lines leave pixels out", function()
  local c = { 0, 0.5, 0 }
  local solid = plot.lines_image({ { y = { 1, 1 }, color = c, width = 1 } }, { width = 300, height = 160, legend = false })
  local dashed = plot.lines_image({ { y = { 1, 1 }, color = c, width = 1, dash = 6 } },
    { width = 300, height = 160, legend = false })
  local function count(img)
    local n = 0
    for x = 0, 299 do n = n + #rows_of(img, x, c) end
    return n
  end
  local a, b = count(solid), count(dashed)
  U.truthy(b > 0.3 * a and b < 0.7 * a, ("about half the pixels: %d of %d"):format(b, a))
end)

T.case("points: a dot at each value, none between them", function()
  local c = { 0, 0.5, 0 }
  local img, frame = plot.lines_image({ { x = { 0, 1 }, y = { 1, 1 }, color = c, width = 3, points = true } },
    { width = 300, height = 160, legend = false, xmin = -0.5, xmax = 1.5 })
  local y = math.floor(frame.toy(1) + 0.5)
  U.truthy(same(rgb(img, math.floor(frame.tox(0) + 0.5), y), c), "a dot at x = 0")
  U.truthy(same(rgb(img, math.floor(frame.tox(1) + 0.5), y), c), "a dot at x = 1")
  U.truthy(not same(rgb(img, math.floor(frame.tox(0.5) + 0.5), y), c), "nothing between them")
end)

T.case("tensors as series, errors for bad input", function()
  local img = plot.lines_image({ { x = gan.linspace(0, 1, 5), y = gan.linspace(0, 1, 5):square() } }, { width = 200, height = 150 })
  U.shape(img, { 3, 150, 200 })
  T.raises(function() plot.lines_image({}) end, "non-empty list")
  T.raises(function() plot.lines_image({ { x = { 1, 2 }, y = { 1 } } }) end, "2 x values and 1 y values")
  T.raises(function() plot.lines_image({ { label = "a" } }) end, "series 1 has no y")
  T.raises(function() plot.lines_image({ { y = "abc" } }) end, "list of numbers or a tensor")
  T.raises(function() plot.lines_image({ { y = { 1 } } }, { width = 20, height = 20 }) end, "no room")
end)

T.case("lines and save_row write PNGs that load back", function()
  local dir = U.tmpdir("plot")
  local ok, err = plot.lines(dir .. "/a.png", { { y = { 3, 1, 2 }, label = "a" } }, { width = 240, height = 160 })
  U.truthy(ok, err)
  local a = gan.image.load(dir .. "/a.png")
  U.shape(a, { 3, 160, 240 })
  local b = plot.lines_image({ { y = { 1, 2 } } }, { width = 100, height = 120 })
  U.truthy(plot.save_row(dir .. "/row.png", { (plot.lines_image({ { y = { 1, 2 } } }, { width = 240, height = 160 })), b }))
  local row = gan.image.load(dir .. "/row.png")
  U.shape(row, { 3, 160, 340 })
  local bad, msg = plot.lines("/nonexistent/dir/a.png", { { y = { 1, 2 } } })
  U.equal(bad, nil)
  U.truthy(type(msg) == "string", "a message")
end)

T.run()
