-- Smoke runs of recipes/discogan.lua: a few iterations on Fashion-MNIST and
-- on a tiny CycleGAN-layout folder, then --test.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/discogan.lua", args) end
local tiny = "--threads=1 --nf=4 --ndf=4 --batch=2 --sample_every=2 --save_every=2 --eval=false "

T.case("discogan.lua on Fashion-MNIST sneakers and ankle boots", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_discogan")
  local ok, text = run("--iters=3 --limit=32 " .. tiny .. "--eval=true --eval_every=0 --eval_samples=16 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D%(x%),D_A,D_B,G,fm,rec\n"), log)
  -- six columns: real A, translated, reconstructed, real B, translated, reconstructed
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, { 1, 6 * 32 + 7 * 2, 6 * 32 + 7 * 2 }, "a 6x6 grid of 32x32 gray images")
  U.check_translation_metrics(out)
end)

T.case("discogan.lua trains on a folder, plain GAN loss and L1, and --test translates it", function()
  local dir = U.unpaired_folder("recipe_discogan_folder")
  local out = dir .. "/run"
  local opts = ("--data=%s --size=16 --channels=3 --fm=0 --recon=l1 --out=%s "):format(dir, out) .. tiny
  local ok, text = run("--iters=2 " .. opts)
  U.truthy(ok, text)
  U.check_run(out, text, "step 2/2")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D%(x%),D_A,D_B,G,fm,rec\n"), log)
  U.shape(gan.image.load(out .. "/samples/step_000002.png"), { 3, 6 * 16 + 7 * 2, 6 * 16 + 7 * 2 }, "RGB grid")
  ok, text = run("--test " .. opts)
  U.truthy(ok, text)
  U.truthy(text:find("AtoB: 1 images translated"), text)
  U.shape(gan.image.load(out .. "/results/BtoA/square.png"), { 3, 16, 16 }, "a translation")
  ok, text = run("--test --nf=8 " .. opts:gsub("%-%-nf=4 ", ""))
  U.truthy(not ok and text:find("%-%-test: cannot load"), text)
end)

T.case("discogan.lua: bad options are clear errors", function()
  local ok, text = run("--size=24 --iters=1")
  U.truthy(not ok and text:find("--size must be a power of two >= 16", 1, true), text)
  ok, text = run("--recon=huber --iters=1")
  U.truthy(not ok and text:find("--recon must be mse or l1", 1, true), text)
  ok, text = run("--fm=2 --iters=1")
  U.truthy(not ok and text:find("--fm must be in [0, 1]", 1, true), text)
end)

T.run()
