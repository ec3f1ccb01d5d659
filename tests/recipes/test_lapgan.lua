-- Smoke runs of recipes/lapgan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/lapgan.lua", args) end

T.case("lapgan.lua on Fashion-MNIST: three levels trained, each level shown", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_lapgan")
  local ok, text = run("--iters=3 --limit=256 --batch=8 --nf=8 --sample_every=2 --save_every=2 --threads=1 "
    .. "--eval=false --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D0,D1,D2,G0,G1,G2\n"), log)
  U.shape(gan.image.load(out .. "/samples/step_000003.png"), U.grid_shape(1, 8, 8, 32), "32x32 samples")
  -- 8 rows: the 8x8 image, then residual and image at 16 and at 32, all shown at 32x32
  U.shape(gan.image.load(out .. "/levels_step000003.png"), U.grid_shape(1, 8, 5, 32), "levels")
end)

T.case("lapgan.lua measures each level: FD of the coarse images brought to 32x32, and of real ones", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_lapgan_levels")
  local ok, text = run("--iters=2 --limit=256 --batch=8 --nf=8 --sample_every=0 --save_every=0 --threads=1 "
    .. "--eval_samples=60 --out=" .. out)
  U.truthy(ok, text)
  local json, m = U.read(out .. "/metrics.json"), {}
  for _, key in ipairs({ "fd", "fd_floor", "fd_level0", "fd_level1", "fd_level2", "fd_real_level0", "fd_real_level1" }) do
    m[key] = tonumber(json:match('"' .. key .. '":%s*([-%d.e+]+)'))
    U.truthy(m[key] and m[key] > 0, key .. " in metrics.json\n" .. json)
  end
  -- real images lose more the coarser the level they are cut to: 8x8 < 16x16 < 32x32 (the floor)
  U.truthy(m.fd_real_level0 > m.fd_real_level1 and m.fd_real_level1 > m.fd_floor,
    ("real levels: %g, %g, floor %g"):format(m.fd_real_level0, m.fd_real_level1, m.fd_floor))
  U.truthy(text:find("fd_level0 ", 1, true) and text:find("fd_real_level1 ", 1, true), "printed with the metrics\n" .. text)
end)

T.case("lapgan.lua at 16x16 on a folder of images has one refining level; bad sizes refused", function()
  local dir = U.image_folder("recipe_lapgan_imgs", 8, 1, 20)
  local out = U.tmpdir("recipe_lapgan16")
  local ok, text = run("--data=" .. dir .. " --size=16 --iters=2 --batch=4 --nf=8 --sample_every=2 --threads=1 "
    .. "--eval=false --out=" .. out)
  U.truthy(ok, text)
  U.truthy(U.read(out .. "/log.csv"):find("^step,D0,D1,G0,G1\n"), text)
  ok, text = run("--size=24 --out=" .. out)
  U.truthy(not ok and text:find("--size must be 16, 32 or 64", 1, true), text)
end)

T.run()
