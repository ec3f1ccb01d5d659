-- The ganlua side of bench/compare.py's table: every case of bench/steps.lua
-- and bench/dcgan_step.lua builds its networks at full size with the
-- parameter counts its PyTorch peer has, and runs a step at a tiny size.
-- (Timings are the benchmark's business, not asserted here.)
package.path = "tests/lua/?.lua;" .. package.path
local T = require "gan.test"
local U = require "util"

local function run(script, args)
  return U.run_recipe(script, "--threads=1 " .. args)
end

-- the `params NAME COUNT` lines of a run, in order
local function params(text)
  local out = {}
  for name, n in text:gmatch("params (%S+) (%d+)") do out[#out + 1] = name .. " " .. n end
  return table.concat(out, ", ")
end

T.case("bench/steps.lua: the full-size networks of every case", function()
  -- CycleGAN's D and pix2pix's D are the reference implementation's counts (gan.nets.patch);
  -- all of them are what bench/torch_steps.py's networks count
  local want = {
    cyclegan_b1 = "G_AB 7837699, G_BA 7837699, D_A 2764737, D_B 2764737",
    cyclegan_b4 = "G_AB 7837699, G_BA 7837699, D_A 2764737, D_B 2764737",
    pix2pix_b4 = "G 29244035, D 2768705",
    wgan_gp = "G 369601, D 166625",
    sngan = "G 1066881, D 736225",
  }
  for case, counts in pairs(want) do
    local ok, text = run("bench/steps.lua", "--steps=0 --case=" .. case)
    U.truthy(ok, text)
    T.eq(params(text), counts)
    U.truthy(not text:find("ms_per_step"), "--steps=0 times nothing\n" .. text)
  end
end)

T.case("bench/steps.lua: a step of every case at a tiny size", function()
  local tiny = {
    cyclegan_b4 = "--size=32 --nf=4 --ndf=4 --batch=2",
    pix2pix_b4 = "--size=32 --nf=4 --ndf=4 --batch=2",
    wgan_gp = "--size=16 --nf=4 --batch=4",
    sngan = "--size=16 --nf=4 --ndf=4 --batch=4",
    sgemm = "--size=64",
  }
  for case, args in pairs(tiny) do
    local ok, text = run("bench/steps.lua", ("--case=%s --steps=1 --warmup=1 %s"):format(case, args))
    U.truthy(ok, text)
    local ms = tonumber(text:match("\nms_per_step (%S+)\n$"))
    U.truthy(ms and ms > 0 and text:find("\npeak_rss_mb %d"), case .. ": the last lines\n" .. text)
    if case == "sgemm" then
      U.close(tonumber(text:match("gflop_per_step (%S+)")), 2 * 64 ^ 3 / 1e9, 1e-3, "a 64^3 product's GFLOP")
    else
      U.truthy(params(text) ~= "", case .. ": parameter counts\n" .. text)
    end
  end
end)

T.case("bench/dcgan_step.lua: the step's FLOPs and a tiny step", function()
  -- README: a dcgan64 step is about 146 GFLOP and a dcgan32 one about 24
  for _, c in ipairs({ { "--size=64 --channels=3", 145.58, "G 3576704, D 2765568" },
    { "--size=32 --channels=1", 24.01, "G 1066880, D 661248" } }) do
    local ok, text = run("bench/dcgan_step.lua", c[1] .. " --batch=64 --nf=64 --steps=0")
    U.truthy(ok, text)
    U.close(tonumber(text:match("gflop_per_step (%S+)")), c[2], 1e-3, c[1])
    T.eq(params(text), c[3])
  end
  local ok, text = run("bench/dcgan_step.lua", "--size=16 --nf=4 --batch=2 --steps=1 --warmup=0")
  U.truthy(ok and text:find("\nms_per_step %d"), text)
end)

T.case("bench/steps.lua: an unknown case or a negative size is named", function()
  local ok, text = run("bench/steps.lua", "--case=stylegan9 --steps=0")
  U.truthy(not ok and text:find("--case must be one of cyclegan_b1, cyclegan_b4, pix2pix_b4, sgemm, sngan, wgan_gp, got 'stylegan9'", 1, true), text)
  ok, text = run("bench/steps.lua", "--case=sngan --nf=-1 --steps=0")
  U.truthy(not ok and text:find("--nf must be an integer >= 0", 1, true), text)
  ok, text = run("bench/steps.lua", "--case=sngan --steps=-1")
  U.truthy(not ok and text:find("--steps and --warmup must be integers >= 0", 1, true), text)
end)

T.run()
