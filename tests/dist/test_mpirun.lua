-- Data-parallel training under mpirun (2 ranks on this machine): a run of
-- 2 ranks x batch B ends with the parameters of one process with batch 2B
-- (float tolerance: the sums run in another order), without batch norm
-- (wgan_gp's critic), with SyncBN (dcgan), and with StyleGAN2's running
-- statistics (path length mean, w_avg); the same files are written;
-- a resume continues bit for bit; a rank that fails or is killed ends the
-- job within seconds. Runs `mpirun --oversubscribe --allow-run-as-root`.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local MPIRUN = "timeout 900 mpirun --allow-run-as-root --oversubscribe -np 2"
local TINY = "--threads=1 --no-eval --size=16 --nf=8 --nz=16 --limit=256 --sample_every=2 --save_every=2 "

local function have_mpi()
  if os.execute("command -v mpirun >/dev/null 2>&1") ~= true then return false, "mpirun is not installed" end
  local p = io.popen(("'%s' -e 'print(gan.core.dist_init and \"yes\")' 2>&1"):format(arg[-1]))
  p:read("a")
  p:close()
  return true
end

local function need(T)
  local ok, why = have_mpi()
  if not ok then T.skip(why) end
  if not U.exists(gan.data.FASHION_ROOT .. "/train-images-idx3-ubyte.gz") then T.skip("Fashion-MNIST is not installed") end
end

-- runs a command, returns whether it exited 0, its output and the seconds it took
local function sh(cmd)
  local t0 = gan.clock()
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out, gan.clock() - t0
end

local function one(recipe, args) return sh(("'%s' %s %s"):format(arg[-1], recipe, args)) end
local function two(recipe, args) return sh(("%s '%s' %s %s"):format(MPIRUN, arg[-1], recipe, args)) end

-- the float tensors of a checkpoint
local function tensors(dir)
  return assert(gan.io.load_safetensors(dir .. "/checkpoint.safetensors"))
end

-- the largest |a - b| / max(1, |b|) over the float tensors both checkpoints hold, and how many are identical
local function compare(a, b)
  local worst, where, n, same = 0, "", 0, 0
  for k, x in pairs(a) do
    local y = U.truthy(b[k], "tensor " .. k .. " is missing")
    if x:dtype() == "float32" then
      local d = gan.no_grad(function() return ((x - y):abs() / (y:abs() + 1)):max():item() end)
      n = n + 1
      if d == 0 then same = same + 1 end
      if not (d <= worst) then worst, where = d, k end
    end
  end
  for k in pairs(b) do U.truthy(a[k], "tensor " .. k .. " is extra") end
  return worst, where, n, same
end

local function files(dir)
  local p = io.popen(("cd '%s' && find . -type f | sort"):format(dir))
  local s = p:read("a")
  p:close()
  return s
end

local function log_rows(dir)
  local rows = {}
  for line in U.read(dir .. "/log.csv"):gmatch("[^\n]+") do rows[#rows + 1] = line end
  return rows
end

-- every number of the two logs within tol (relative)
local function logs_close(a, b, tol)
  local ra, rb = log_rows(a), log_rows(b)
  U.equal(#ra, #rb, "log rows")
  U.equal(ra[1], rb[1], "log columns")
  for i = 2, #ra do
    local va, vb = {}, {}
    for x in ra[i]:gmatch("[^,]+") do va[#va + 1] = tonumber(x) end
    for x in rb[i]:gmatch("[^,]+") do vb[#vb + 1] = tonumber(x) end
    for j = 1, #va do U.close(vb[j], va[j], tol, ("log row %d column %d"):format(i - 1, j)) end
  end
end

T.case("wgan_gp: 2 ranks x batch 4 = 1 process x batch 8", function()
  need(T)
  local dir = U.tmpdir("dist_wgan_gp")
  local args = TINY .. "--iters=4 --n_critic=2 "
  local ok1, out1 = one("recipes/wgan_gp.lua", args .. "--batch=8 --out=" .. dir .. "/one")
  U.truthy(ok1, out1)
  local ok2, out2 = two("recipes/wgan_gp.lua", args .. "--batch=4 --out=" .. dir .. "/two")
  U.truthy(ok2, out2)
  local worst, where, n = compare(tensors(dir .. "/one"), tensors(dir .. "/two"))
  U.truthy(n > 20 and worst < 1e-5, ("%d tensors, largest relative difference %g (%s)"):format(n, worst, where))
  logs_close(dir .. "/one", dir .. "/two", 1e-5)
  U.equal(files(dir .. "/two"), files(dir .. "/one"), "the files of the run folder")
  U.equal(select(2, out2:gsub("done: 4 steps", "")), 1, "one rank prints")
  -- the sharding matters: one process with the per-rank batch ends elsewhere
  local ok3, out3 = one("recipes/wgan_gp.lua", args .. "--batch=4 --out=" .. dir .. "/small")
  U.truthy(ok3, out3)
  U.truthy(compare(tensors(dir .. "/small"), tensors(dir .. "/two")) > 1e-3, "batch 4 alone differs")
end)

T.case("dcgan with SyncBN: 2 ranks x 4 = 1 process x 8; without it, not", function()
  need(T)
  local dir = U.tmpdir("dist_dcgan")
  local args = TINY .. "--iters=4 "
  local ok1, out1 = one("recipes/dcgan.lua", args .. "--batch=8 --out=" .. dir .. "/one")
  U.truthy(ok1, out1)
  local ok2, out2 = two("recipes/dcgan.lua", args .. "--batch=4 --out=" .. dir .. "/two") -- auto: on (batch <= 32)
  U.truthy(ok2, out2)
  local worst, where, n = compare(tensors(dir .. "/one"), tensors(dir .. "/two"))
  U.truthy(n > 20 and worst < 1e-5, ("%d tensors, largest relative difference %g (%s)"):format(n, worst, where))
  logs_close(dir .. "/one", dir .. "/two", 1e-5)
  local ok3, out3 = two("recipes/dcgan.lua", args .. "--batch=4 --sync_bn=off --out=" .. dir .. "/off")
  U.truthy(ok3, out3)
  local off = compare(tensors(dir .. "/one"), tensors(dir .. "/off"))
  U.truthy(off > 1e-4, ("without SyncBN the shards' statistics differ from the batch's (%g)"):format(off))
end)

T.case("stylegan2: path length mean, w_avg, EMA images, mixing and R1 across ranks", function()
  need(T)
  local dir = U.tmpdir("dist_stylegan2")
  -- D's minibatch standard deviation groups each rank's own samples (as NVlabs' per GPU): off here
  local args = "--threads=1 --no-eval --limit=64 --nz=16 --w_dim=16 --channel_base=64 --channel_max=16 --iters=3 "
    .. "--pl_every=2 --mbstd_group=0 --pl_batch_shrink=1 --sample_every=0 --save_every=0 "
  local ok1, out1 = one("recipes/stylegan2.lua", args .. "--batch=8 --out=" .. dir .. "/one")
  U.truthy(ok1, out1)
  local ok2, out2 = two("recipes/stylegan2.lua", args .. "--batch=4 --out=" .. dir .. "/two")
  U.truthy(ok2, out2)
  local worst, where, n = compare(tensors(dir .. "/one"), tensors(dir .. "/two"))
  U.truthy(n > 100 and worst < 1e-5, ("%d tensors, largest relative difference %g (%s)"):format(n, worst, where))
  logs_close(dir .. "/one", dir .. "/two", 1e-5)
end)

T.case("stylegan2_ada: the augmentation's draws and r_t across ranks, the same p", function()
  need(T)
  local dir = U.tmpdir("dist_stylegan2_ada")
  -- p starts at 0.5 and rises every step (target -1): every transformation is drawn and applied
  local args = "--threads=1 --no-eval --subset=64 --nz=16 --w_dim=16 --channel_base=64 --channel_max=16 --iters=3 "
    .. "--pl_every=2 --mbstd_group=0 --pl_batch_shrink=1 --sample_every=0 --save_every=0 "
    .. "--p=0.5 --ada_target=-1 --ada_interval=1 --ada_kimg=0.4 "
  local ok1, out1 = one("recipes/stylegan2_ada.lua", args .. "--batch=8 --out=" .. dir .. "/one")
  U.truthy(ok1, out1)
  local ok2, out2 = two("recipes/stylegan2_ada.lua", args .. "--batch=4 --out=" .. dir .. "/two")
  U.truthy(ok2, out2)
  local worst, where, n = compare(tensors(dir .. "/one"), tensors(dir .. "/two"))
  U.truthy(n > 100 and worst < 1e-5, ("%d tensors, largest relative difference %g (%s)"):format(n, worst, where))
  logs_close(dir .. "/one", dir .. "/two", 1e-5)
  local _, m1 = gan.io.load_safetensors(dir .. "/one/checkpoint.safetensors")
  local _, m2 = gan.io.load_safetensors(dir .. "/two/checkpoint.safetensors")
  U.equal(m2["aug.p"], m1["aug.p"], "p")
end)

T.case("resume under mpirun continues bit for bit", function()
  need(T)
  local dir = U.tmpdir("dist_resume")
  local args = TINY .. "--batch=4 "
  local ok1, out1 = two("recipes/dcgan.lua", args .. "--iters=4 --out=" .. dir .. "/straight")
  U.truthy(ok1, out1)
  local ok2, out2 = two("recipes/dcgan.lua", args .. "--iters=2 --out=" .. dir .. "/resumed")
  U.truthy(ok2, out2)
  local ok3, out3 = two("recipes/dcgan.lua", args .. "--iters=4 --resume --out=" .. dir .. "/resumed")
  U.truthy(ok3, out3)
  local worst, where, n, same = compare(tensors(dir .. "/straight"), tensors(dir .. "/resumed"))
  U.truthy(worst == 0 and same == n, ("%d of %d tensors identical; %s differs by %g"):format(same, n, where, worst))
  U.equal(U.read(dir .. "/resumed/log.csv"), U.read(dir .. "/straight/log.csv"), "the log")
end)

-- the seconds from the moment a rank wrote into file (gan.clock: the system's monotonic clock) to now
local function since(file)
  local t = tonumber(U.read(file))
  return gan.clock() - U.truthy(t, "no time in " .. file)
end

T.case("a rank that fails, or is killed, ends the job within seconds", function()
  need(T)
  local dir = U.tmpdir("dist_fail")
  -- the time a rank fails is written down, so that a crowded machine's slow start does not count
  U.write(dir .. "/fail.lua", ([[
    local gan = require "gan"
    gan.dist.barrier()
    if gan.dist.rank == 1 then
      local f = assert(io.open("%s/t_fail", "w"))
      f:write(gan.clock())
      f:close()
      error("bad input on this rank", 0)
    end
    gan.dist.barrier()  -- rank 0 would wait here for ever
  ]]):format(dir))
  local ok, out = two(dir .. "/fail.lua", "")
  U.truthy(not ok, "the job fails\n" .. out)
  U.truthy(out:find("bad input on this rank", 1, true) and out:find("rank 1 of 2", 1, true), out)
  local seconds = since(dir .. "/t_fail")
  U.truthy(seconds < 30, ("the job ended %.1f s after the failure"):format(seconds))

  U.write(dir .. "/kill.lua", ([[
    local gan = require "gan"
    gan.dist.barrier()
    if gan.dist.rank == 1 then
      local f = assert(io.open("/proc/self/stat"))
      local pid = f:read("n")
      f:close()
      f = assert(io.open("%s/t_kill", "w"))
      f:write(gan.clock())
      f:close()
      os.execute("kill -9 " .. math.tointeger(pid))
    end
    gan.dist.barrier()
  ]]):format(dir))
  ok, out = two(dir .. "/kill.lua", "")
  U.truthy(not ok, "the job fails\n" .. out)
  seconds = since(dir .. "/t_kill")
  U.truthy(seconds < 30, ("the job ended %.1f s after the kill"):format(seconds))

  -- a NaN loss on one rank: the loop stops on that rank with its message, and the job ends
  ok, out = two("recipes/dcgan.lua", TINY .. "--batch=4 --iters=3 --lr=1e30 --out=" .. dir .. "/nan")
  U.truthy(not ok, "the job fails\n" .. out)
  U.truthy(out:find("gan.train: loss '[^']+' is %-?[nai][anf][nf]? at step %d") and out:find("of 2): failed"), out)
end)

T.run()
