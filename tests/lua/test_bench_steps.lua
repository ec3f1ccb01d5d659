-- The ganlua side of bench/compare.py's table: every case of bench/steps.lua
-- and bench/dcgan_step.lua builds its networks at full size with the
-- parameter counts its PyTorch peer has, and runs a step at a tiny size.
-- (Timings are the benchmark's business, not asserted here.)
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
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
    sagan = "G 143738, D 17042",
    stylegan2 = "G 748715, D 871521",
    stylegan2_r1 = "D 871521",
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
    sagan = "--size=16 --nf=4 --ndf=8 --batch=4 --losses",
    stylegan2 = "--size=8 --nf=8 --batch=4 --losses",
    stylegan2_r1 = "--size=8 --nf=8 --batch=4 --losses",
    sgemm = "--size=64",
  }
  -- the losses --losses prints for one step
  local losses = { sagan = { "D", "G" }, stylegan2 = { "D", "G" }, stylegan2_r1 = { "R1" } }
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
    for _, name in ipairs(losses[case] or {}) do
      local v = tonumber(text:match("\nloss " .. name .. " (%S+)\n"))
      U.truthy(v and v == v and math.abs(v) < math.huge, ("%s: a finite loss %s\n%s"):format(case, name, text))
    end
  end
end)

-- the `--key=value` defaults a recipe's --help lists
local function recipe_defaults(recipe)
  local ok, text = run(recipe, "--help")
  U.truthy(ok, text)
  local out = {}
  for k, v in text:gmatch("\n  %-%-([%w_]+)=(%S+)") do out[k] = v end
  return out
end

T.case("bench/steps.lua: the sagan and stylegan2 cases are their recipes at their defaults", function()
  -- the bench's name of a setting -> the recipe's (stylegan2's nf is the cap of its maps)
  local names = {
    sagan = { "batch", "size", "nf", "ndf", "nz", "lr_d", "lr_g", "beta1", "beta2" },
    stylegan2 = { "batch", "size", "channels", "nz", "w_dim", "mapping", "channel_base", nf = "channel_max", "lr",
      "gamma", "r1_every", "pl_every", "mixing", "ema_kimg", "ema_rampup", "mbstd_group" },
  }
  for _, case in ipairs({ "sagan", "stylegan2", "stylegan2_r1" }) do
    local family = case:match("^(%a+%d?)")
    local want = recipe_defaults("recipes/" .. family .. ".lua")
    local ok, text = run("bench/steps.lua", "--steps=0 --case=" .. case)
    U.truthy(ok, text)
    local have = {}
    for k, v in ("\n" .. text):match("\ncase %S+ ([^\n]*)"):gmatch("([%w_]+)=(%S+)") do have[k] = v end
    local checked = 0
    for ours, theirs in pairs(names[family]) do
      if math.type(ours) == "integer" then ours = theirs end
      -- the R1 case has no G, so no mixing nor EMA
      if have[ours] ~= nil or case ~= "stylegan2_r1" then
        U.truthy(want[theirs] and tonumber(have[ours]) == tonumber(want[theirs]),
          ("%s: %s is %s, recipes/%s.lua's --%s=%s"):format(case, ours, tostring(have[ours]), family, theirs,
            tostring(want[theirs])))
        checked = checked + 1
      end
    end
    U.truthy(checked >= (case == "stylegan2_r1" and 12 or #names[family]), case .. ": settings checked")
    -- Fashion-MNIST is gray
    T.eq(have.channels, "1")
  end
end)

T.case("bench/steps.lua: --dump writes the networks and their outputs for torch_steps.py --check", function()
  local path = U.tmpdir("bench_steps_dump") .. "/stylegan2.safetensors"
  local ok, text = run("bench/steps.lua", "--case=stylegan2 --size=8 --nf=8 --batch=4 --dump=" .. path)
  U.truthy(ok and text:find("wrote " .. path, 1, true), text)
  local tensors, meta = gan.io.load_safetensors(path)
  T.eq(meta.case, "stylegan2")
  for _, k in ipairs({ "real", "z", "D_real", "G_z", "R1", "G.synthesis.b4.const", "G.mapping.fc1.weight",
    "D.b8.conv1.weight", "D.b4.out.bias" }) do
    U.truthy(tensors[k], "dumped " .. k)
  end
  U.shape(tensors.G_z, { 4, 1, 8, 8 }, "G_z")
  U.shape(tensors.D_real, { 4, 1 }, "D_real")
  -- the parameters that start at 0 are drawn, so the comparison reaches what they would switch off
  U.truthy(tensors["G.synthesis.b8.conv1.noise.strength"]:abs():item() > 0, "a noise strength drawn")
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
  U.truthy(not ok and text:find("--case must be one of cyclegan_b1, cyclegan_b4, pix2pix_b4, sagan, sgemm, sngan, "
    .. "stylegan2, stylegan2_r1, wgan_gp, got 'stylegan9'", 1, true), text)
  ok, text = run("bench/steps.lua", "--case=sngan --nf=-1 --steps=0")
  U.truthy(not ok and text:find("--nf must be an integer >= 0", 1, true), text)
  ok, text = run("bench/steps.lua", "--case=sngan --steps=-1")
  U.truthy(not ok and text:find("--steps and --warmup must be integers >= 0", 1, true), text)
  for _, c in ipairs({
    { "--case=sagan --size=24", "--size must be 16, 32 or 64 for sagan" },
    { "--case=sagan --ndf=12", "--ndf must be a positive multiple of 8 for sagan" },
    { "--case=stylegan2 --size=12", "--size must be a power of two >= 8, got 12" },
    { "--case=stylegan2_r1 --batch=6", "--batch (6) must be a multiple of --mbstd_group (4)" },
    { "--case=stylegan2 --ndf=8", "--ndf: stylegan2's networks share one cap of feature maps, --nf" },
    { "--case=sngan --dump=/tmp/x.safetensors", "--dump: only the sagan and stylegan2 cases, not sngan" },
  }) do
    ok, text = run("bench/steps.lua", c[1] .. " --steps=0")
    U.truthy(not ok and text:find(c[2], 1, true), c[1] .. "\n" .. text)
  end
  ok, text = run("bench/steps.lua", "--case=sngan --size=16 --nf=4 --ndf=4 --batch=4 --steps=1 --losses")
  U.truthy(not ok and text:find("--losses needs a step that returns its losses", 1, true), text)
end)

T.run()
