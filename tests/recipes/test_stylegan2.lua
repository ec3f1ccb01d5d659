-- Smoke runs of recipes/stylegan2.lua on a small subset with tiny networks;
-- a resumed run that continues bit for bit across a step where R1 and the
-- path length penalty both run; bad options.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/stylegan2.lua", args) end

-- tiny networks: 4x4 ... 32x32 with 16 feature maps at most, z and w of 16
local TINY = "--limit=64 --batch=8 --nz=16 --w_dim=16 --channel_base=64 --channel_max=16 --threads=1 "

T.case("stylegan2.lua on Fashion-MNIST at 32x32: losses, regularizers, samples, metrics", function()
  U.skip_without_style(T)
  local out = U.tmpdir("recipe_stylegan2")
  local ok, text = run(TINY .. "--iters=3 --pl_every=2 --sample_every=2 --save_every=2 --eval_samples=100 --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  U.truthy(not text:find("nothing in this run reads", 1, true), text)
  U.truthy(text:find("precision %d") and U.exists(out .. "/metrics.json"), text)
  local log = {}
  for l in io.lines(out .. "/log.csv") do log[#log + 1] = l end
  U.equal(log[1], "step,D,D(G(z)),D(x),G,PL,R1,pl_length,pl_mean")
  -- R1 at step 1 only (every 16), the path length at steps 1 and 3 (every 2): empty cells elsewhere
  U.truthy(log[2]:match("^1,[^,]+,[^,]+,[^,]+,[^,]+,[^,]+,[^,]+,[^,]+,[^,]+$"), log[2])
  U.truthy(log[3]:match("^2,[^,]+,[^,]+,[^,]+,[^,]+,,,,[^,]+$"), log[3])
  U.truthy(log[4]:match("^3,[^,]+,[^,]+,[^,]+,[^,]+,[^,]+,,[^,]+,[^,]+$"), log[4])
  local tensors = assert(gan.io.load_safetensors(out .. "/checkpoint.safetensors"))
  for _, k in ipairs({ "G.mapping.w_avg", "G.synthesis.b8.conv1.noise.noise_const", "ema.mapping.w_avg",
    "pl.pl_mean", "optG.synthesis.b4.const.m", "optD.b4.out.weight.v" }) do
    U.truthy(tensors[k], "the checkpoint holds " .. k)
  end
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 8, 8, 32), "an 8x8 grid of 32x32 images")
end)

T.case("stylegan2.lua: 4 steps = 2 steps + --resume + 2 steps, bit for bit, across R1 and path length", function()
  U.skip_without_style(T)
  -- R1 and the path length penalty at steps 1 and 3: the resumed part starts with both
  local args = TINY .. "--r1_every=2 --pl_every=2 --gamma=1 --ema_kimg=0.01 --sample_every=0 --eval=false "
  local a, b = U.tmpdir("recipe_stylegan2_straight"), U.tmpdir("recipe_stylegan2_resumed")
  local ok, text = run(args .. "--iters=4 --out=" .. a)
  U.truthy(ok, text)
  ok, text = run(args .. "--iters=2 --out=" .. b)
  U.truthy(ok, text)
  ok, text = run(args .. "--iters=4 --resume --out=" .. b)
  U.truthy(ok and text:find("resumed from .* at step 2"), text)
  local la, lb = U.read(a .. "/log.csv"), U.read(b .. "/log.csv")
  U.equal(lb, la, "log.csv")
  U.truthy(la:find("\n3,[^\n]*,[^,\n]+,[^,\n]+,[^,\n]+,[^,\n]+\n"), "step 3 logs R1 and the path length:\n" .. la)
  local ta = assert(gan.io.load_safetensors(a .. "/checkpoint.safetensors"))
  local tb, meta_b = gan.io.load_safetensors(b .. "/checkpoint.safetensors")
  local _, meta_a = gan.io.load_safetensors(a .. "/checkpoint.safetensors")
  local n = 0
  for k, t in pairs(ta) do
    U.truthy(tb[k], "the resumed checkpoint holds " .. k)
    U.equal(U.maxdiff(tb[k], t), 0, k)
    n = n + 1
  end
  U.truthy(n > 100, ("%d tensors compared"):format(n))
  for _, k in ipairs({ "ema.nimg", "data.pos", "ganlua.rng.offset", "ganlua.rng.streams.style.mixing",
    "ganlua.rng.streams.penalties.path_length" }) do
    U.truthy(meta_a[k], "metadata " .. k)
    U.equal(meta_b[k], meta_a[k], k)
  end
end)

T.case("stylegan2.lua refuses bad options with a clear message", function()
  local out = U.tmpdir("recipe_stylegan2_bad")
  for args, msg in pairs({
    ["--size=24"] = "--size must be a power of two >= 8, got 24",
    ["--mixing=1.5"] = "--mixing must be between 0 and 1",
    ["--r1_every=0"] = "--r1_every must be >= 1",
    ["--gamma=-1"] = "--gamma must be >= 0",
    ["--batch=6"] = "--batch (6) must be a multiple of --mbstd_group (4)",
    ["--mapping=0"] = "--mapping must be >= 1",
  }) do
    local ok, text = run(args .. " --out=" .. out)
    U.truthy(not ok and text:find(msg, 1, true), args .. ":\n" .. text)
  end
end)

T.run()
