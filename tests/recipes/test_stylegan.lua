-- Smoke runs of recipes/stylegan.lua on a small subset with tiny networks;
-- a resumed run that continues bit for bit (R1 in the D loss, style mixing,
-- random noise, the EMA); lazy R1; bad options.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/stylegan.lua", args) end

-- tiny networks: 4x4 ... 32x32 with 16 feature maps at most, z and w of 16, 2 mapping layers
local TINY = "--limit=64 --batch=8 --nz=16 --w_dim=16 --mapping=2 --channel_base=64 --channel_max=16 --threads=1 "

T.case("stylegan.lua on Fashion-MNIST at 32x32: losses, R1, samples, metrics", function()
  U.skip_without_style(T)
  local out = U.tmpdir("recipe_stylegan")
  local ok, text = run(TINY .. "--iters=3 --sample_every=2 --save_every=2 --eval_samples=100 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(not text:find("nothing in this run reads", 1, true), text)
  U.truthy(text:find("precision %d") and U.exists(out .. "/metrics.json"), text)
  local log = {}
  for l in io.lines(out .. "/log.csv") do log[#log + 1] = l end
  U.equal(log[1], "step,D,D(G(z)),D(x),G,R1")
  for i = 2, 4 do U.truthy(log[i]:match("^%d,[^,]+,[^,]+,[^,]+,[^,]+,[^,]+$"), "R1 every step: " .. log[i]) end
  local tensors = assert(gan.io.load_safetensors(out .. "/checkpoint.safetensors"))
  for _, k in ipairs({ "G.mapping.w_avg", "G.synthesis.b8.epi0.noise.noise_const", "G.synthesis.b4.const",
    "ema.synthesis.torgb.weight", "optG.synthesis.b32.epi1.adain.style.weight.m", "optD.fromrgb32.weight.v",
    "D.b16.conv1.weight" }) do
    U.truthy(tensors[k], "the checkpoint holds " .. k)
  end
  U.truthy(not tensors["D.fromrgb16.weight"], "D at a fixed resolution: one fromRGB")
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 8, 8, 32), "an 8x8 grid of 32x32 images")
  local G, info = gan.pretrained.stylegan(out .. "/checkpoint.safetensors")
  U.equal(info.step, 3)
  U.equal(info.mapping, 2)
  U.shape(G(gan.randn(2, 16)), { 2, 1, 32, 32 }, "the EMA's G loads back")
end)

T.case("stylegan.lua: 4 steps = 2 steps + --resume + 2 steps, bit for bit", function()
  U.skip_without_style(T)
  local args = TINY .. "--gamma=1 --ema_kimg=0.01 --sample_every=0 --eval=false "
  local a, b = U.tmpdir("recipe_stylegan_straight"), U.tmpdir("recipe_stylegan_resumed")
  local ok, text = run(args .. "--iters=4 --out=" .. a)
  U.truthy(ok, text)
  ok, text = run(args .. "--iters=2 --out=" .. b)
  U.truthy(ok, text)
  ok, text = run(args .. "--iters=4 --resume --out=" .. b)
  U.truthy(ok and text:find("resumed from .* at step 2"), text)
  U.equal(U.read(b .. "/log.csv"), U.read(a .. "/log.csv"), "log.csv")
  local ta, meta_a = gan.io.load_safetensors(a .. "/checkpoint.safetensors")
  local tb, meta_b = gan.io.load_safetensors(b .. "/checkpoint.safetensors")
  local n = 0
  for k, t in pairs(ta) do
    U.truthy(tb[k], "the resumed checkpoint holds " .. k)
    U.equal(U.maxdiff(tb[k], t), 0, k)
    n = n + 1
  end
  U.truthy(n > 100, ("%d tensors compared"):format(n))
  for _, k in ipairs({ "ema.nimg", "data.pos", "ganlua.rng.offset", "ganlua.rng.streams.style.mixing" }) do
    U.truthy(meta_a[k], "metadata " .. k)
    U.equal(meta_b[k], meta_a[k], k)
  end
end)

T.case("stylegan.lua: lazy R1 every 2 steps", function()
  U.skip_without_style(T)
  local out = U.tmpdir("recipe_stylegan_lazy")
  local ok, text = run(TINY .. "--r1_every=2 --iters=3 --sample_every=0 --eval=false --out=" .. out)
  U.truthy(ok, text)
  local log = {}
  for l in io.lines(out .. "/log.csv") do log[#log + 1] = l end
  U.truthy(log[2]:match("^1,.*,[^,]+$") and log[3]:match("^2,.*,$") and log[4]:match("^3,.*,[^,]+$"),
    "R1 at steps 1 and 3:\n" .. table.concat(log, "\n"))
end)

T.case("stylegan.lua refuses bad options with a clear message", function()
  local out = U.tmpdir("recipe_stylegan_bad")
  for args, msg in pairs({
    ["--size=24"] = "--size must be a power of two >= 8, got 24",
    ["--mixing=1.5"] = "--mixing must be between 0 and 1",
    ["--r1_every=0"] = "--r1_every must be >= 1",
    ["--gamma=-1"] = "--gamma must be >= 0",
    ["--batch=6"] = "--batch (6) must be a multiple of --mbstd_group (4)",
    ["--mapping=0"] = "--mapping must be >= 1",
    ["--mappnig=2"] = "mappnig",
  }) do
    local ok, text = run(args .. " --out=" .. out)
    U.truthy(not ok and text:find(msg, 1, true), args .. ":\n" .. text)
  end
end)

T.run()
