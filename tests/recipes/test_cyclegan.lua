-- Smoke runs of recipes/cyclegan.lua: a few iterations on Fashion-MNIST and
-- on a tiny CycleGAN-layout folder of JPEG and PNG files, then --test.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/cyclegan.lua", args) end
local tiny = "--threads=1 --nf=4 --ndf=4 --blocks=1 --batch=2 --sample_every=2 --save_every=2 --eval=false "

T.case("cyclegan.lua on Fashion-MNIST sneakers and ankle boots", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_cyclegan")
  local ok, text = run("--iters=4 --limit=32 " .. tiny .. "--eval=true --eval_every=0 --eval_samples=16 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 4/4")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D_A,D_B,G,cycle,idt,lr\n"), log)
  -- the learning rate: constant for the first half, then falling linearly
  local lr = {}
  for v in log:gmatch("\n%d+,[^\n]*,([^,\n]+)") do lr[#lr + 1] = tonumber(v) end
  T.close(lr, { 2e-4, 2e-4, 2e-4, 1e-4 }, 1e-6, "lr by step")
  -- six columns: real A, translated, reconstructed, real B, translated, reconstructed
  local grid = gan.image.load(out .. "/samples/step_000004.png")
  U.shape(grid, U.grid_shape(1, 6, 6, 32), "a 6x6 grid of 32x32 gray images")
  -- the evaluation at the end: translations classified, cycle L1, on 16 test images per domain
  U.check_translation_metrics(out)
  U.truthy(text:find("A_to_B %d"), text)
end)

T.case("cyclegan.lua trains on a folder of JPEG and PNG files, and --test translates it", function()
  local dir = U.tmpdir("recipe_cyclegan_folder")
  for _, sub in ipairs({ "trainA", "trainB", "testA", "testB" }) do os.execute(("mkdir -p '%s/%s'"):format(dir, sub)) end
  for i = 1, 3 do
    assert(gan.io.save_png(("%s/trainA/a%d.png"):format(dir, i), gan.rand(3, 24, 20)))
    assert(gan.io.save_png(("%s/trainB/b%d.png"):format(dir, i), gan.rand(1, 18, 18)))
  end
  os.execute(("cp tests/data/rgb_40x30.jpg '%s/trainA/photo.jpg'"):format(dir))
  os.execute(("cp tests/data/gray_24x24.jpg '%s/trainB/square.jpg'"):format(dir))
  os.execute(("cp tests/data/rgb_40x30.jpg '%s/testA/photo.jpg'"):format(dir))
  assert(gan.io.save_png(dir .. "/testA/flat.png", gan.full({ 3, 16, 16 }, 0.5)))
  os.execute(("cp tests/data/gray_24x24.jpg '%s/testB/square.jpg'"):format(dir))
  local out = dir .. "/run"
  local opts = ("--data=%s --size=16 --load_size=20 --channels=3 --out=%s "):format(dir, out) .. tiny
  local ok, text = run("--iters=2 " .. opts)
  U.truthy(ok, text)
  U.check_run(out, text, "step 2/2")
  local grid = gan.image.load(out .. "/samples/step_000002.png")
  U.shape(grid, U.grid_shape(3, 6, 6, 16), "a 6x6 grid of 16x16 RGB images")
  ok, text = run("--test " .. opts)
  U.truthy(ok, text)
  U.truthy(text:find("AtoB: 2 images translated"), text)
  U.truthy(text:find("BtoA: 1 images translated"), text)
  for _, f in ipairs({ "AtoB/photo.png", "AtoB/flat.png", "BtoA/square.png" }) do
    local img = gan.image.load(out .. "/results/" .. f)
    U.truthy(img, "results/" .. f .. "\n" .. text)
    U.shape(img, { 3, 16, 16 }, f)
  end
  U.truthy(gan.image.load(out .. "/results/AtoB.png"), "the triplet grid")
  ok, text = run("--test --nf=8 " .. opts:gsub("%-%-nf=4 ", ""))
  U.truthy(not ok and text:find("%-%-test: cannot load"), text)
end)

T.case("cyclegan.lua: bad options are clear errors", function()
  local ok, text = run("--size=30 --iters=1")
  U.truthy(not ok and text:find("--size must be a multiple of 4", 1, true), text)
  ok, text = run("--decay=2 --iters=1")
  U.truthy(not ok and text:find("--decay must be in [0, 1]", 1, true), text)
  ok, text = run("--test --data=" .. U.tmpdir("recipe_cyclegan_none") .. " --out=" .. U.tmpdir("recipe_cyclegan_none2"))
  U.truthy(not ok and text:find("has no trainA folder", 1, true), text)
end)

T.run()
