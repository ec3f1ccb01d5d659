-- gan.data's image-to-image layouts (gan/data/domains.lua): the CycleGAN folders,
-- the two pix2pix layouts, the Fashion-MNIST defaults, augmentation, state,
-- corrupt files.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local data = gan.data

local have_fashion = U.exists(data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz")

local function mkdir(path) os.execute(("mkdir -p '%s'"):format(path)) end
local function copy(src, dst) os.execute(("cp '%s' '%s'"):format(src, dst)) end

-- a CycleGAN folder: PNGs written here, JPEG fixtures copied, one corrupt file
local function cyclegan_folder(name)
  local dir = U.tmpdir(name)
  for _, sub in ipairs({ "trainA", "trainB", "testA", "testB" }) do mkdir(dir .. "/" .. sub) end
  for i = 1, 3 do
    assert(gan.io.save_png(("%s/trainA/a%d.png"):format(dir, i), gan.full({ 3, 20, 24 }, 0.1 * i)))
    assert(gan.io.save_png(("%s/trainB/b%d.png"):format(dir, i), gan.rand(1, 30, 30)))
  end
  copy("tests/data/rgb_40x30.jpg", dir .. "/trainA/photo.jpg")
  copy("tests/data/gray_24x24.jpg", dir .. "/trainB/square.JPG")
  U.write(dir .. "/trainB/broken.jpg", "\255\216\255 not really a JPEG")
  U.write(dir .. "/trainB/notes.txt", "not an image")
  copy("tests/data/rgb_40x30.jpg", dir .. "/testA/t1.jpeg")
  assert(gan.io.save_png(dir .. "/testA/t2.png", gan.rand(3, 16, 16)))
  assert(gan.io.save_png(dir .. "/testB/t1.png", gan.rand(3, 16, 16)))
  return dir
end

T.case("image_files: PNG and JPEG files, recursively, sorted", function()
  local dir = cyclegan_folder("domains_files")
  local files = data.image_files(dir .. "/trainB")
  U.equal(#files, 5, "3 PNGs, 1 JPEG, 1 broken .jpg; no .txt")
  U.truthy(files[1]:find("b1%.png$") and files[5]:find("square%.JPG$"), table.concat(files, " "))
end)

T.case("CycleGAN layout: two domains, resized and cropped, a corrupt file named and skipped", function()
  local dir = cyclegan_folder("domains_cyclegan")
  local log = dir .. "/stderr.txt"
  -- the skip message goes to standard error: run in a child process to read it
  local script = dir .. "/load.lua"
  U.write(script, ([[
    local gan = require "gan"
    local d = gan.data.unpaired(%q, { size = 16, load_size = 20, batch = 4, channels = 3 })
    print(d.A:size(), d.B:size(), #d.B.skipped, d.B.skipped[1][1])
  ]]):format(dir))
  local p = io.popen(("'%s' '%s' 2>'%s'"):format(arg[-1], script, log))
  local out = p:read("a")
  p:close()
  U.truthy(out:find("^4\t4\t1\t.*broken%.jpg"), out)
  U.truthy(U.read(log):find("skipping .*broken%.jpg"), U.read(log))

  local d = data.unpaired(dir, { size = 16, load_size = 20, batch = 4, channels = 3, seed = 5 })
  U.truthy(tostring(d):find("A: 4 images, B: 4 images"), tostring(d))
  local b = d:next()
  U.shape(b.A, { 4, 3, 16, 16 }); U.shape(b.B, { 4, 3, 16, 16 })
  U.truthy(b[1] == b.A and b[2] == b.B, "both as fields and positions")
  U.truthy(b.A:min():item() >= -1 and b.A:max():item() <= 1, "in [-1, 1]")
  U.shape(d.A.x, { 4, 3, 20, 20 }, "kept at load_size")
  -- the test split, in order and at size
  local t = data.unpaired(dir, { split = "test", size = 16, channels = 1 })
  U.equal(t.A:size(), 2); U.equal(t.B:size(), 1)
  U.shape(t.A:items(1, 5), { 2, 1, 16, 16 }, "items clipped at the end")
  U.equal(t.A:item_name(1), "t1"); U.equal(t.A:item_name(2), "t2")
  -- BtoA swaps the domains
  local s = data.unpaired(dir, { split = "test", size = 16, direction = "BtoA" })
  U.equal(s.A:size(), 1)
  T.raises(function() data.unpaired(dir .. "/trainA", {}) end, "has no trainA folder (the CycleGAN layout")
  T.raises(function() data.unpaired("/nonexistent/xyz", {}) end, "neither fashion-mnist nor a folder")
  T.raises(function() data.unpaired(dir, { size = 16, load_size = 8 }) end, "--load_size (8) must be at least --size (16)")
end)

T.case("augmentation: random crops and flips, the same for a seed, resumed from a saved position", function()
  local x = gan.arange(2 * 6 * 6):reshape(2, 1, 6, 6):float()
  -- a data set over tensors stored at 6x6, cropped to 4x4: image i is x[i]
  local function domain(seed)
    return data.dataset({ x = x }, { size = 4, flip = true, seed = seed, batch = 3 })
  end
  local d = domain(1)
  local crops, flips = {}, 0
  for _ = 1, 20 do
    local b = d:next()
    U.shape(b, { 3, 1, 4, 4 })
    for i = 1, 3 do
      local img = b[i]:reshape(4, 4):totable()
      local a, z = img[1][1], img[1][4]
      if a > z then flips = flips + 1 end
      crops[math.min(a, z) % 36] = true
      -- a crop of the source: consecutive rows differ by the source's width
      U.equal(img[2][1] - img[1][1], 6, "rows of the source")
    end
  end
  U.truthy(flips > 10 and flips < 50, "about half mirrored: " .. flips)
  local n = 0
  for _ in pairs(crops) do n = n + 1 end
  U.equal(n, 9, "all 3x3 crop positions appear")
  -- same seed, same batches; a restored position continues the same way
  local a, b = domain(7), domain(7)
  U.equal(U.maxdiff(a:next(), b:next()), 0)
  a:next()
  local sd = a:state_dict()
  local want = a:next()
  local c = domain(7)
  c:load_state_dict(sd)
  U.equal(U.maxdiff(c:next(), want), 0)
end)

T.case("unpaired state goes through a checkpoint", function()
  local dir = cyclegan_folder("domains_state")
  local opt = { size = 16, batch = 2, channels = 3, seed = 3 }
  local d = data.unpaired(dir, opt)
  d:next(); d:next()
  local path = dir .. "/ckpt.safetensors"
  assert(gan.checkpoint.save(path, { data = d }))
  local want = d:next()
  local e = data.unpaired(dir, opt)
  assert(gan.checkpoint.load(path, { data = e }))
  local got = e:next()
  U.equal(U.maxdiff(got.A, want.A), 0); U.equal(U.maxdiff(got.B, want.B), 0)
end)

T.case("pix2pix side by side: A left, B right, cropped and flipped together", function()
  local dir = U.tmpdir("domains_side")
  mkdir(dir .. "/train")
  copy("tests/data/pair_64x32.jpg", dir .. "/train/1.jpg")
  -- a PNG pair: left half 0.2, right half 0.8
  local img = gan.cat({ gan.full({ 3, 16, 16 }, 0.2), gan.full({ 3, 16, 16 }, 0.8) }, 3)
  assert(gan.io.save_png(dir .. "/train/2.png", img))
  local d = data.paired(dir, { size = 32, load_size = 36, batch = 4, seed = 2 })
  U.equal(d:size(), 2)
  local b = d:next()
  U.shape(b.A, { 4, 3, 32, 32 }); U.shape(b.B, { 4, 3, 32, 32 })
  local t = d:items(1, 2)
  -- the outline is on A's side, the red filled square on B's
  U.truthy(t.A[1]:mean():item() < t.B[1]:mean():item(), "the thin outline (A) is darker than the filled square (B)")
  U.close(t.A[2]:mean():item(), 0.2 * 2 - 1, 0.02, "A is the left half")
  U.close(t.B[2]:mean():item(), 0.8 * 2 - 1, 0.02, "B is the right half")
  -- the same augmentation on both sides: B's red channel lines up with A's outline
  for i = 1, 4 do
    local a = b.A[i]:mean(1):gt(0):float()         -- the outline's pixels (and nothing else)
    local r = b.B[i][1]:gt(0):float()              -- the red square
    if a:sum():item() > 10 then
      local inside = (a * r):sum():item() / a:sum():item()
      U.truthy(inside > 0.6, ("the outline lies on the square (%.2f)"):format(inside))
    end
  end
  local rev = data.paired(dir, { size = 32, direction = "BtoA" }):items(2, 1)
  U.close(rev.A:mean():item(), 0.6, 0.02, "BtoA: A is the right half")
end)

T.case("pix2pix two folders: files matched by name, the rest reported", function()
  local dir = U.tmpdir("domains_ab")
  mkdir(dir .. "/A/train"); mkdir(dir .. "/B/train")
  for i = 1, 3 do
    assert(gan.io.save_png(("%s/A/train/%d.png"):format(dir, i), gan.full({ 1, 8, 8 }, 0.1 * i)))
    assert(gan.io.save_png(("%s/B/train/%d.png"):format(dir, i), gan.full({ 1, 8, 8 }, 0.1 * i + 0.5)))
  end
  assert(gan.io.save_png(dir .. "/A/train/lonely.png", gan.rand(1, 8, 8)))
  local d = data.paired(dir, { size = 8, channels = 1, batch = 2 })
  U.equal(d:size(), 3)
  local t = d:items(1, 3)
  for i = 1, 3 do
    U.close(t.B[i]:mean():item() - t.A[i]:mean():item(), 1.0, 0.02, "pair " .. i .. " matched")
  end
  U.equal(d:item_name(2), "2")
  local b = d:next()
  U.close((b.B - b.A):mean():item(), 1.0, 0.02, "augmented batches stay paired")
  T.raises(function() data.paired(dir .. "/nothing", {}) end, "neither fashion-mnist nor a folder")
end)

T.case("a set larger than cache_mb is read at each batch; a bad file then raises naming it", function()
  local dir = cyclegan_folder("domains_lazy")
  local d = data.unpaired(dir, { size = 16, batch = 8, cache_mb = 0 })
  U.truthy(d.A.x == nil, "not kept in memory")
  U.shape(d.A:next(), { 8, 3, 16, 16 })
  U.shape(d.A:items(1, 2), { 2, 3, 16, 16 })
  T.raises(function() for _ = 1, 3 do d.B:next() end end, "broken.jpg")
end)

T.case("Fashion-MNIST: sneakers and ankle boots, unpaired; edges and garments, paired", function()
  if not have_fashion then T.skip("Fashion-MNIST is not installed") end
  local d = data.unpaired("fashion-mnist", { split = "test", size = 32, batch = 4 })
  U.equal(d.A:size(), 1000); U.equal(d.B:size(), 1000)
  local b = d:next()
  U.shape(b.A, { 4, 1, 32, 32 })
  local classes = data.load("fashion-mnist", { split = "test", classes = { 7 }, size = 32, limit = 3 })
  U.equal(U.maxdiff(d.A:items(1, 3), classes.x), 0, "A is class 7 in order")
  local p = data.paired("fashion-mnist", { split = "test", size = 32, batch = 4, limit = 50, classes = { 0, 9 } })
  U.equal(p:size(), 50)
  local q = p:items(1, 50)
  U.shape(q.A, { 50, 1, 32, 32 }); U.shape(q.B, { 50, 1, 32, 32 })
  -- edges are black and white, sit where the garment is, and trace its outline
  local vals = q.A:eq(1):float() + q.A:eq(-1):float()
  U.equal(vals:min():item(), 1, "edges are -1 or 1")
  local on = q.A:eq(1):float()
  U.truthy(on:mean():item() > 0.03 and on:mean():item() < 0.4, "some edges: " .. on:mean():item())
  local near = q.B:gt(-0.95):float():max_pool2d(3, 1, 1)
  U.equal((on * (1 - near)):sum():item(), 0, "no edge far from the garment")
end)

T.case("sobel_edges: a square's outline", function()
  local x = gan.full({ 1, 1, 12, 12 }, -1)
  x:narrow(3, 4, 5):narrow(4, 4, 5):fill_(1)
  local e = data.sobel_edges(x)
  U.shape(e, { 1, 1, 12, 12 })
  U.equal(e[1][1][6][6]:item(), -1, "the flat inside has no edge")
  U.equal(e[1][1][6][4]:item(), 1, "the left side is an edge")
  U.equal(e[1][1][1][1]:item(), -1, "the flat outside has no edge")
end)

T.run()
