-- Smoke runs of recipes/wgan.lua: a few iterations on a small subset, in a
-- fresh process, then its outputs are checked.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/wgan.lua", "--threads=1 " .. args) end

-- every critic tensor in the checkpoint lies within [-clip, clip]
local function clipped(out, clip)
  local t = assert(gan.io.load_safetensors(out .. "/checkpoint.safetensors"))
  local n = 0
  for name, x in pairs(t) do
    if name:match("^D%.") and x:dtype() == "float32" and not name:match("running_") then
      n = n + 1
      U.truthy(x:abs():max():item() <= clip + 1e-7, name .. " is clipped")
    end
  end
  U.truthy(n > 0, "critic tensors in the checkpoint")
end

T.case("wgan.lua on Fashion-MNIST at 16x16", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_wgan")
  local ok, text = run("--no-eval --size=16 --nf=8 --nz=16 --iters=3 --limit=256 --batch=8 --n_critic=2 --warmup=0 "
    .. "--sample_every=2 --save_every=2 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(not U.exists(out .. "/metrics.json"), "no evaluation with --no-eval")
  local log = U.read(out .. "/log.csv")
  U.truthy(log:find("^step,D,G,W\n"), log)
  for d, w in log:gmatch("\n%d+,([^,]+),[^,]+,([^,\n]+)") do
    U.close(tonumber(w), -tonumber(d), 1e-6, "W is minus the critic loss")
  end
  clipped(out, 0.01)
  U.shape(gan.image.load(out .. "/samples/step_000003.png"), U.grid_shape(1, 8, 8, 16), "an 8x8 grid of 16x16 images")
end)

T.case("wgan.lua correlates its Wasserstein estimate with FD over the evaluations", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_wgan_corr")
  local ok, text = run("--size=16 --nf=8 --nz=16 --iters=3 --limit=256 --batch=8 --n_critic=1 --warmup=0 "
    .. "--eval_every=1 --eval_samples=50 --sample_every=0 --out=" .. out)
  U.truthy(ok, text)
  local cols, rows = gan.report.read_csv(out .. "/eval.csv")
  U.truthy(cols and cols[2] == "W_mean" and cols[3] == "fd" and #rows == 3, U.read(out .. "/eval.csv"))
  local w, fd = {}, {}
  for i, row in ipairs(rows) do w[i], fd[i] = row[2], row[3] end
  U.check_printed_pearson(text, "W_mean", w, fd, out .. "/w_vs_fd.txt")
end)

T.case("wgan.lua on 8 gaussians with the warm-up and a wider clip", function()
  local out = U.tmpdir("recipe_wgan_toy")
  local ok, text = run("--eval_samples=100 --data=8gaussians --hidden=16 --nz=4 --iters=3 --limit=256 --batch=8 --warmup=1 "
    .. "--clip=0.05 --sample_every=2 --save_every=2 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(text:find("defaults for toy sets (8gaussians, 25gaussians, ring, swissroll): --lr=0.0003\n", 1, true), text)
  U.truthy(text:find("modes covered %d+ of %d+") and U.exists(out .. "/metrics.json"), text)
  clipped(out, 0.05)
end)

T.case("wgan.lua rejects bad options", function()
  local ok, text = run("--data=8gaussians --clip=0 --out=" .. U.tmpdir("recipe_wgan_bad"))
  U.truthy(not ok and text:find("--clip must be > 0", 1, true), text)
  ok, text = run("--data=8gaussians --norm=spectral --out=" .. U.tmpdir("recipe_wgan_bad"))
  U.truthy(not ok and text:find("--norm must be batch, layer or none", 1, true), text)
end)

T.run()
