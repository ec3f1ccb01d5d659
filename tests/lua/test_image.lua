-- gan.image: grids, PNG round trips, scatter plots.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local image = gan.image

T.case("grid layout and padding", function()
  local x = gan.full({ 5, 1, 4, 6 }, 1)          -- white images
  local g = image.grid(x, { nrow = 3, pad = 2 })
  U.shape(g, { 1, 2 * 4 + 3 * 2, 3 * 6 + 4 * 2 })
  U.equal(g:sum():item(), 5 * 4 * 6, "images white, padding black")
  U.equal(g[1][1][1]:item(), 0)
  U.equal(g[1][3][3]:item(), 1, "first image starts after the padding")
  U.shape(image.grid(gan.zeros(3, 4, 4), {}), { 3, 8, 8 }, "one (C, H, W) image")
end)

T.case("save_grid then load: the same pixels", function()
  local dir = U.tmpdir("image")
  local x = gan.rand(4, 3, 5, 5) * 2 - 1
  local ok, err = image.save_grid(dir .. "/grid.png", x, { nrow = 2, pad = 0, scale = 1 })
  U.truthy(ok, err)
  local back = image.load(dir .. "/grid.png")
  U.shape(back, { 3, 10, 10 })
  local first = back:narrow(2, 1, 5):narrow(3, 1, 5)
  U.truthy(U.maxdiff(first, x[1]) <= 1 / 255 + 1e-6, "8-bit round trip")
  local gray = image.load(dir .. "/grid.png", 1)
  U.shape(gray, { 1, 10, 10 })
  assert(image.save(dir .. "/one.png", x[2]))
  U.truthy(U.maxdiff(image.load(dir .. "/one.png", 3), x[2]) <= 1 / 255 + 1e-6)
end)

T.case("save_grid enlarges a grid by the scale asked, by whole pixels", function()
  local dir = U.tmpdir("image_scale")
  local x = gan.rand(64, 1, 32, 32) * 2 - 1
  assert(image.save_grid(dir .. "/one.png", x, { scale = 1 }))
  U.shape(image.load(dir .. "/one.png"), { 1, 274, 274 }, "scale = 1: pixel for pixel")
  assert(image.save_grid(dir .. "/two.png", x, { scale = 2 }))
  local two = image.load(dir .. "/two.png")
  U.shape(two, { 1, 2 * 274, 2 * 274 }, "scale = 2")
  local small = image.grid(x)
  -- the first image's first pixel (3, 3 of the grid, in [0, 1]) as a 2 x 2 block (loaded in [-1, 1])
  local block = two:narrow(2, 2 * 2 + 1, 2):narrow(3, 2 * 2 + 1, 2)
  U.truthy(U.maxdiff(block, gan.full({ 1, 2, 2 }, small[1][3][3]:item() * 2 - 1)) <= 2 / 255 + 1e-6, "nearest neighbour")
  assert(image.save_grid(dir .. "/three.png", x:narrow(1, 1, 4), { nrow = 2, scale = 3 }))
  U.shape(image.load(dir .. "/three.png"), { 1, 3 * 70, 3 * 70 }, "scale = 3")
  for _, bad in ipairs({ 0, 1.5, -2, "2", 100 }) do
    local ok, err = pcall(image.save_grid, dir .. "/bad.png", x, { scale = bad })
    U.truthy(not ok and tostring(err):find("scale must be a whole number from 1 to 64", 1, true), tostring(err))
  end
end)

T.case("by default save_grid shows every tile at least 64 pixels on its shorter side", function()
  local dir = U.tmpdir("image_default_scale")
  for _, c in ipairs({ { 32, 32, 2 }, { 28, 28, 3 }, { 16, 16, 4 }, { 64, 64, 1 }, { 100, 100, 1 }, { 20, 40, 4 },
    { 1, 1, 64 } }) do
    U.equal(image.default_scale(c[1], c[2]), c[3], ("tiles of %d x %d"):format(c[1], c[2]))
  end
  assert(image.save_grid(dir .. "/default.png", gan.rand(64, 1, 32, 32) * 2 - 1))
  U.shape(image.load(dir .. "/default.png"), { 1, 548, 548 }, "8 x 8 tiles of 32 pixels, doubled")
  assert(image.save_grid(dir .. "/wide.png", gan.rand(2, 3, 20, 40) * 2 - 1, { nrow = 2 }))
  U.shape(image.load(dir .. "/wide.png"), { 3, 4 * 24, 4 * 86 }, "20 x 40 tiles, times 4")
end)

T.case("load of a missing or broken file returns nil and a message", function()
  local v, msg = image.load("/nonexistent/x.png")
  U.equal(v, nil)
  U.truthy(type(msg) == "string" and #msg > 0, "a message")
  local dir = U.tmpdir("image_bad")
  U.write(dir .. "/bad.png", "nope")
  local w, m2 = image.load(dir .. "/bad.png")
  U.equal(w, nil)
  U.truthy(m2, "a message")
end)

T.case("scatter: a PNG of the right size, points drawn where they belong", function()
  local dir = U.tmpdir("scatter")
  local pts = gan.tensor { { 0, 0 }, { 1, 1 }, { -1, 0.5 } }
  local img = image.scatter_image(pts, { size = 64, range = 2, reference = gan.tensor { { -1.5, -1.5 } } })
  U.shape(img, { 3, 64, 64 })
  -- (1, 1) maps to column 47, row 16 of [-2, 2]^2 on 64 pixels: orange (r high, b low)
  local px = img:select(2, 17):select(2, 48)
  U.truthy(px[1]:item() > 0.9 and px[3]:item() < 0.1, "an orange dot at (1, 1)")
  local ref = img:select(2, 64 - 8):select(2, 9)
  U.close(ref[1]:item(), 0.6, 1e-6, "a gray reference dot")
  U.truthy(image.scatter(dir .. "/s.png", pts, { size = 100 }))
  U.shape(image.load(dir .. "/s.png"), { 3, 100, 100 })
end)

T.run()
