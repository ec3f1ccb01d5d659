-- gan.data: Fashion-MNIST, image folders, toy sets; the iterator's order,
-- determinism and saved position.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local data = gan.data

local have_fashion = U.exists(data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz")

T.case("Fashion-MNIST: shapes, range, the padded background", function()
  if not have_fashion then T.skip("Fashion-MNIST is not installed") end
  local d = data.load("fashion-mnist", { limit = 256, size = 32, batch = 16 })
  U.equal(d:size(), 256)
  U.equal(#d.classes, 10)
  U.equal(d.classes[1], "T-shirt/top")
  U.shape(d.x, { 256, 1, 32, 32 })
  U.truthy(d.x:min():item() >= -1 and d.x:max():item() <= 1, "in [-1, 1]")
  U.equal(d.x:narrow(3, 1, 2):max():item(), -1, "padding is the background")
  local x, y = d:next()
  U.shape(x, { 16, 1, 32, 32 }); U.shape(y, { 16 })
  U.equal(y:dtype(), "int64")
  local d28 = data.load("fashion-mnist", { limit = 8, size = 28, batch = 4 })
  U.shape(d28.x, { 8, 1, 28, 28 })
  U.equal(U.maxdiff(d28.x, d.x:narrow(1, 1, 8):narrow(3, 3, 28):narrow(4, 3, 28)), 0, "32 = 28 padded by 2")
  local d16 = data.load("fashion-mnist", { limit = 8, size = 16, batch = 4 })
  U.shape(d16.x, { 8, 1, 16, 16 })
  local test = data.load("fashion-mnist", { split = "test", limit = 5 })
  U.equal(test:size(), 5)
end)

T.case("Fashion-MNIST: classes filter by id or name, limit, labelled batches", function()
  if not have_fashion then T.skip("Fashion-MNIST is not installed") end
  local d = data.load("fashion-mnist", { classes = { 7, "Ankle boot" }, limit = 300, batch = 50 }, { labels = true })
  U.equal(d:size(), 300)
  local b = d:next()
  U.shape(b[1], { 50, 1, 32, 32 }, "the declared size (32) when no size is given")
  for _, c in ipairs(b.labels:totable()) do U.truthy(c == 7 or c == 9, "only classes 7 and 9: " .. c) end
  U.raises(function() data.load("fashion-mnist", { classes = { "Hat" } }) end, "unknown class 'Hat'")
end)

T.case("a missing dataset says how to install it", function()
  U.raises(function() data.load("fashion-mnist", { root = "/nonexistent/fmnist" }) end,
    "sudo apt-get install dataset-fashion-mnist")
  U.raises(function() data.load("no-such-thing", {}) end, "neither a dataset name")
end)

local function batches(d, n)
  local out = {}
  for i = 1, n do out[i] = d:next() end
  return out
end

T.case("the order: every item once per epoch, reshuffled, the same for a seed", function()
  local x = gan.arange(10):reshape(10, 1)
  local a = data.from_tensors(x, nil, { batch = 5, seed = 3 })
  local seen = {}
  for _, b in ipairs(batches(a, 2)) do
    for _, v in ipairs(U.flat(b:totable())) do seen[v] = (seen[v] or 0) + 1 end
  end
  for i = 0, 9 do U.equal(seen[i], 1, "item " .. i .. " once in the first epoch") end
  local e1 = U.flat(gan.cat(batches(a, 2), 1):totable())
  local b = data.from_tensors(x, nil, { batch = 5, seed = 3 })
  local again = U.flat(gan.cat(batches(b, 4), 1):totable())
  for i = 1, 10 do U.equal(again[10 + i], e1[i], "same seed, same order") end
  local c = data.from_tensors(x, nil, { batch = 5, seed = 4 })
  local other = U.flat(gan.cat(batches(c, 2), 1):totable())
  local same = 0
  for i = 1, 10 do if other[i] == again[i] then same = same + 1 end end
  U.truthy(same < 10, "another seed, another order")
  local odd = data.from_tensors(x, nil, { batch = 4, seed = 1 })
  U.shape(odd:next(3), { 3, 1 })
  for _ = 1, 7 do U.shape(odd:next(), { 4, 1 }) end
end)

T.case("the position is state: a restored iterator gives the same batches", function()
  local x = gan.arange(50):reshape(50, 1)
  local a = data.from_tensors(x, nil, { batch = 8, seed = 9 })
  batches(a, 9)    -- into the second epoch
  local sd = a:state_dict()
  local want = U.flat(gan.cat(batches(a, 5), 1):totable())
  local b = data.from_tensors(x, nil, { batch = 8, seed = 9 })
  local text = {}
  for k, v in pairs(sd) do text[k] = tostring(v) end
  b:load_state_dict(text)
  local got = U.flat(gan.cat(batches(b, 5), 1):totable())
  for i = 1, #want do U.equal(got[i], want[i]) end
end)

T.case("an image folder: resized, cropped, a corrupt file skipped and named", function()
  local dir = U.tmpdir("data_folder")
  os.execute(("mkdir -p '%s/sub'"):format(dir))
  assert(gan.io.save_png(dir .. "/a.png", gan.rand(3, 20, 30)))
  assert(gan.io.save_png(dir .. "/sub/b.png", gan.rand(1, 16, 16)))
  assert(gan.io.save_png(dir .. "/c.PNG", gan.rand(3, 40, 40)))
  U.write(dir .. "/broken.png", "\137PNG\r\n\26\nthis is not a png")
  U.write(dir .. "/notes.txt", "not an image")
  local d = data.load(dir, { size = 8, channels = 3, batch = 2 })
  U.equal(d:size(), 3)
  U.shape(d.x, { 3, 3, 8, 8 })
  U.equal(#d.skipped, 1)
  U.truthy(d.skipped[1][1]:find("broken.png", 1, true), "the bad file is named")
  U.truthy(d.x:min():item() >= -1 and d.x:max():item() <= 1)
  local g = data.load(dir, { size = 8, channels = 1, batch = 2, load_size = 9, flip = true })
  U.shape(g:next(), { 2, 1, 8, 8 })
  U.shape(g.x, { 3, 1, 9, 9 }, "stored at load_size, cropped at random")
  U.raises(function() data.load(dir, { size = 8, load_size = 7 }) end, "--load_size (7) must be at least --size (8)")
  local bad = U.tmpdir("data_bad")
  U.write(bad .. "/x.jpg", "garbage")
  U.raises(function() data.load(bad, { size = 8 }) end, "no usable images")
end)

T.case("an image folder: a strip of extreme aspect ratio is named and skipped, the run goes on", function()
  -- a 262144 x 1 PNG (a few hundred bytes) asked the resize for 64 x 16777216
  -- and ended the run with an out-of-memory error that named no file
  local dir = U.tmpdir("data_strip")
  assert(gan.io.save_png(dir .. "/strip.png", gan.zeros(1, 1, 262144)))
  assert(gan.io.save_png(dir .. "/fine.png", gan.rand(1, 20, 30)))
  assert(gan.io.save_png(dir .. "/wide.png", gan.rand(1, 10, 160))) -- 16:1, the limit, is taken
  local d = data.load(dir, { size = 64, channels = 1, batch = 1 })
  U.equal(d:size(), 2)
  U.equal(#d.skipped, 1)
  U.truthy(d.skipped[1][1]:find("strip.png", 1, true), "the strip is named")
  U.truthy(tostring(d.skipped[1][2]):find("262144 x 1: an aspect ratio beyond 16:1", 1, true), tostring(d.skipped[1][2]))
end)

T.case("toy sets: shapes, centres, spread", function()
  local d = data.load("8gaussians", { batch = 100, limit = 1000 })
  U.equal(d.kind, "points")
  U.shape(d.x, { 1000, 2 })
  U.shape(d.centres, { 8, 2 })
  -- every point lies near one of the centres
  local c = d.centres:totable()
  for _, p in ipairs(d.x:narrow(1, 1, 100):totable()) do
    local best = math.huge
    for _, q in ipairs(c) do best = math.min(best, math.sqrt((p[1] - q[1]) ^ 2 + (p[2] - q[2]) ^ 2)) end
    U.truthy(best < 10 * d.std, "near a centre")
  end
  U.shape(data.load("25gaussians", { limit = 500 }).centres, { 25, 2 })
  local ring = data.load("ring", { limit = 500 })
  local r = ring.x:square():sum(2):sqrt()
  U.truthy(r:min():item() > 1.7 and r:max():item() < 2.3, "on the ring")
  U.shape(data.load("swissroll", { limit = 500, batch = 7 }):next(), { 7, 2 })
  local again = data.load("8gaussians", { batch = 100, limit = 1000 })
  U.equal(U.maxdiff(again.x, d.x), 0, "the same points for the same seed")
end)

T.run()
