-- Smoke runs of recipes/began.lua: a few iterations on tiny data, in fresh
-- processes, then the outputs are checked (the log holds k and M).
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/began.lua", "--threads=1 " .. args) end

-- how many batch-norm running means the checkpoint holds, by network ("G", "D")
local function bn_stats(path)
  local t = assert(gan.io.load_safetensors(path))
  local n = { G = 0, D = 0 }
  for name in pairs(t) do
    local net = name:match("^(%u)%..*running_mean$")
    if net and n[net] then n[net] = n[net] + 1 end
  end
  return n
end

-- the rows of a log.csv as tables keyed by column
local function rows(path)
  local lines = {}
  for line in U.read(path):gmatch("[^\n]+") do lines[#lines + 1] = line end
  local cols = {}
  for c in lines[1]:gmatch("[^,]+") do cols[#cols + 1] = c end
  local out = {}
  for i = 2, #lines do
    local r, k = {}, 0
    for v in lines[i]:gmatch("[^,]+") do k = k + 1; r[cols[k]] = tonumber(v) end
    out[#out + 1] = r
  end
  return out, cols
end

T.case("began.lua on Fashion-MNIST at 16x16: k follows the control law, M is logged", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_began")
  local ok, text = run("--size=16 --nf=4 --nz=8 --nh=8 --iters=3 --limit=256 --batch=8 --lambda_k=0.1 --gamma=0.7 "
    .. "--sample_every=2 --save_every=2 --eval=false --out=" .. out)
  U.truthy(ok, text)
  U.check_run(out, text, "step 3/3")
  local log, cols = rows(out .. "/log.csv")
  T.eq(cols, { "step", "D", "G", "L_real", "M", "k" })
  U.equal(#log, 3)
  -- k_t = clamp(k_{t-1} + λ_k (γ L(x) - L(G(z))), 0, 1), and M = L(x) + |γ L(x) - L(G(z))|
  local k = 0
  for _, r in ipairs(log) do
    local balance = 0.7 * r.L_real - r.G
    k = math.min(1, math.max(0, k + 0.1 * balance))
    U.close(r.k, k, 1e-5, "k at step " .. r.step)
    U.close(r.M, r.L_real + math.abs(balance), 1e-5, "M at step " .. r.step)
  end
  U.truthy(U.read(out .. "/options.txt"):find("gamma=0.7", 1, true), "gamma in options.txt")
  -- G normalises its 4 hidden convolutions at 16x16 (two at 8x8, two at 16x16); D has no batch norm
  T.eq(bn_stats(out .. "/checkpoint.safetensors"), { G = 4, D = 0 })
  local grid = gan.image.load(out .. "/samples/step_000003.png")
  U.shape(grid, U.grid_shape(1, 8, 8, 16), "an 8x8 grid of 16x16 images")
end)

T.case("began.lua correlates M, averaged between evaluations, with FD", function()
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("recipe_began_m")
  -- the paper's G, without batch norm
  local ok, text = run("--size=16 --nf=4 --nz=8 --nh=8 --no-g_bn --iters=6 --limit=256 --batch=8 --eval_every=2 --eval_samples=50 "
    .. "--sample_every=0 --save_every=0 --eval=false --out=" .. out)
  U.truthy(ok, text)
  local log = rows(out .. "/log.csv")
  local ev, cols = rows(out .. "/eval.csv")
  U.truthy(#ev == 3 and cols[2] == "M_mean" and cols[3] == "fd", U.read(out .. "/eval.csv"))
  local m, fd = {}, {}
  for i, r in ipairs(ev) do
    U.equal(r.step, 2 * i)
    U.close(r.M_mean, (log[2 * i - 1].M + log[2 * i].M) / 2, 1e-5, "M_mean at step " .. r.step)
    m[i], fd[i] = r.M_mean, r.fd
  end
  U.check_printed_pearson(text, "M_mean", m, fd, out .. "/m_vs_fd.txt")
  T.eq(bn_stats(out .. "/checkpoint.safetensors"), { G = 0, D = 0 })
end)

T.case("began.lua on 8 and 25 Gaussians; errors for bad options", function()
  for _, d in ipairs({ "8gaussians", "25gaussians" }) do
    local out = U.tmpdir("recipe_began_" .. d)
    local ok, text = run("--data=" .. d .. " --hidden=16 --nz=4 --nh=4 --iters=2 --limit=256 --batch=8 --lr_halve=1 "
      .. "--sample_every=2 --save_every=2 --eval=false --out=" .. out)
    U.truthy(ok, text)
    U.check_run(out, text, "step 2/2")
    U.truthy(text:find("defaults for toy sets (8gaussians, 25gaussians, ring, swissroll): --gamma=0.5 --lambda_k=0.01 --lr=0.001\n",
      1, true), "the toy defaults the command line did not give\n" .. text)
  end
  local ok, text = run("--gamma=0 --out=" .. U.tmpdir("recipe_began_bad"))
  U.truthy(not ok and text:find("--gamma must be in (0, 1]", 1, true), text)
  ok, text = run("--size=24 --out=" .. U.tmpdir("recipe_began_bad"))
  U.truthy(not ok and text:find("--size must be 16, 32, 64", 1, true), text)
end)

T.run()
