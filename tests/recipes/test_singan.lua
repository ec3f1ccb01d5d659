-- Smoke runs of recipes/singan.lua and recipes/lab/singan_apps.lua on a
-- tiny image (30x36: a two-scale pyramid), in fresh processes: a run
-- stopped in the middle of its second scale and resumed gives the same bits
-- as one straight through; every application runs on the tiny pyramid.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/singan.lua", "--threads=1 " .. args) end
local function apps(args) return U.run_recipe("recipes/lab/singan_apps.lua", "--threads=1 " .. args) end

-- a small smooth picture with some texture (PNG), made here
local function tiny_image(name)
  local dir = U.tmpdir(name)
  local y = gan.arange(30):float():reshape(1, 30, 1) / 30
  local x = gan.arange(36):float():reshape(1, 1, 36) / 36
  local img = gan.cat({ (y * 6):sin() * 0.4 + 0.5 + x * 0.1, (x * 9):cos() * 0.3 + 0.5 + y * 0.1,
    (x * 5 + y * 7):sin() * 0.4 + 0.5 }, 1):expand(3, 30, 36):clamp(0, 1)
  assert(gan.io.save_png(dir .. "/tiny.png", img))
  return dir .. "/tiny.png"
end

local TINY = "--max_size=36 --nfc=8 --niter=3 --samples=2 --eval_samples=3 --save_every=2 "

T.case("singan.lua: a two-scale pyramid stopped in its second scale and resumed, the same bits; samples, measures",
  function()
    local img = tiny_image("recipe_singan_image")
    local a, b = U.tmpdir("recipe_singan_straight"), U.tmpdir("recipe_singan_resumed")
    local ok, text = run(TINY .. "--image=" .. img .. " --out=" .. a)
    U.truthy(ok, text)
    U.truthy(text:find("2 scales", 1, true) and text:find("step 6/6", 1, true), text)
    for _, f in ipairs { "random_samples.png", "random_samples_72x30.png", "samples/step_000003_scale1-30x25.png",
      "samples/step_000006_scale2-36x30.png", "metrics.json" } do
      U.truthy(U.exists(a .. "/" .. f), f .. "\n" .. text)
    end
    local m = U.read(a .. "/metrics.json")
    for _, k in ipairs { "rec_rmse_scale1", "rec_rmse_scale2", "diversity_scale1", "diversity_norm_scale2",
      "l1_samples", "l1_reconstruction" } do
      U.truthy(m:find('"' .. k .. '"', 1, true), k .. " in metrics.json\n" .. m)
    end
    ok, text = run(TINY .. "--no-eval --iters=4 --image=" .. img .. " --out=" .. b)
    U.truthy(ok and text:find("step 4/4", 1, true), text)
    ok, text = run(TINY .. "--resume --image=" .. img .. " --out=" .. b)
    U.truthy(ok and text:find("step 6/6", 1, true), text)
    U.equal(U.read(b .. "/log.csv"), U.read(a .. "/log.csv"), "log.csv, bit for bit")
    local ta, tb = assert(gan.io.load_safetensors(a .. "/checkpoint.safetensors")),
      assert(gan.io.load_safetensors(b .. "/checkpoint.safetensors"))
    local n = 0
    for k, t in pairs(ta) do
      n = n + 1
      U.truthy(tb[k], k)
      if t:dtype() == "float32" then U.equal(U.maxdiff(t, tb[k]), 0, k) end
    end
    U.truthy(n > 40 and ta["G2.body.1.weight"] and ta["optD2.D2.body.1.weight.m"] == nil, "every scale's networks")
    U.equal(U.read(b .. "/random_samples.png"), U.read(a .. "/random_samples.png"), "the samples, bit for bit")
    local _, meta = gan.io.load_safetensors(a .. "/checkpoint.safetensors")
    U.equal(meta["state.trained"], "2", "both scales done")
    U.truthy(tonumber(meta["state.amp2"]) > 0, "scale 2's noise amplitude from the reconstruction's RMSE")
  end)

T.case("lab/singan_apps.lua: super-resolution, paint, edit and harmonize on a tiny pyramid", function()
  local img = tiny_image("apps_singan_image")
  local run_dir, out = U.tmpdir("apps_singan_run"), U.tmpdir("apps_singan")
  local ok, text = run(TINY .. "--no-eval --image=" .. img .. " --out=" .. run_dir)
  U.truthy(ok, text)
  local ckpt = " --checkpoint=" .. run_dir .. "/checkpoint.safetensors --out=" .. out
  for _, mode in ipairs { "paint", "edit", "harmonize" } do
    ok, text = apps("--mode=" .. mode .. ckpt)
    U.truthy(ok and U.exists(out .. "/" .. mode .. ".png"), mode .. ": " .. text)
  end
  ok, text = apps("--mode=edit --input=" .. img .. " --inject_scale=3" .. ckpt)
  U.truthy(not ok and text:find("--inject_scale must be from 1 to 2", 1, true), text)
  ok, text = apps("--mode=sr --image=" .. img .. " --sr_size=60 --sr_niter=2 --sr_min_size=12 --sr_steps=2" .. ckpt)
  U.truthy(ok and U.exists(out .. "/sr.png") and text:find("PSNR SinGAN [%d.]+ dB, bicubic [%d.]+ dB"), text)
  U.truthy(U.read(out .. "/sr.json"):find('"sr_psnr_bicubic"', 1, true), "sr.json")
end)

T.case("singan.lua stopped after its first scale measures and samples that scale", function()
  local img = tiny_image("recipe_singan_first_image")
  local out = U.tmpdir("recipe_singan_first")
  local ok, text = run(TINY .. "--iters=3 --image=" .. img .. " --out=" .. out)
  U.truthy(ok and text:find("step 3/3", 1, true), text)
  local m = U.read(out .. "/metrics.json")
  U.truthy(m:find('"rec_rmse_scale1"', 1, true) and m:find('"l1_samples"', 1, true)
    and not m:find('"rec_rmse_scale2"', 1, true), m)
  -- the image at scale 1 (25 x 30) and two samples, in a row of 4
  U.shape(gan.image.load(out .. "/random_samples.png"), U.grid_shape(3, 1, 3, 25, 30))
end)

T.case("singan.lua and lab/singan_apps.lua refuse bad options with clear errors", function()
  local img = tiny_image("recipe_singan_bad_image")
  local out = U.tmpdir("recipe_singan_bad")
  local cases = {
    { "--image=" .. out .. "/none.png", "--image: cannot read " .. out .. "/none.png" },
    { "--image=" .. img .. " --min_size=40 --max_size=100", "smaller than min_size 40" },
    { "--image=" .. img .. " --min_size=5", "need 11 <= min_size <= max_size" },
    { "--image=" .. img .. " --min_size=40", "need 11 <= min_size <= max_size" },
    { "--image=" .. img .. " --sample_size=10", "--sample_size must be WxH" },
    { "--image=" .. img .. " --gen_start_scale=3", "--gen_start_scale must be from 1 to 2" },
    { "--image=" .. img .. " --iters=1000 --niter=3", "--iters must be from 0 to 6" },
    { "--image=" .. img .. " --niter=0", "--niter must be >= 1" },
    { "--image=" .. img .. " --nf=32", "--nf: singan.lua does not use the options of gan.nets (networks)" },
  }
  for _, c in ipairs(cases) do
    local ok, text = run(c[1] .. (c[1]:find("max_size", 1, true) and "" or " --max_size=36") .. " --out=" .. out)
    U.truthy(not ok and text:find(c[2], 1, true), c[1] .. ": " .. text)
  end
  local ok, text = apps("--mode=draw --out=" .. out)
  U.truthy(not ok and text:find("--mode must be sr, paint, edit, harmonize or all", 1, true), text)
  ok, text = apps("--mode=paint --checkpoint=" .. out .. "/none.safetensors --out=" .. out)
  U.truthy(not ok and text:find("none.safetensors not found: train a SinGAN first", 1, true), text)
end)

T.run()
