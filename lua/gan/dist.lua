--- gan.dist: data-parallel training over MPI (Open MPI's mpirun).
--
--     mpirun -np 2 ganlua recipes/dcgan.lua --batch=32    # = one process with --batch=64
--
-- `mpirun -np N` starts N copies of the program (ranks 0 .. N-1). Each
-- takes its shard of every global batch; the optimizers average the
-- gradients across ranks (one fused all-reduce per step) before the
-- update, so the ranks stay equal; rank 0 alone writes. Without mpirun
-- the world has one rank and none of this runs: every function below
-- returns at once.
--
-- What a world of N does, and where (each a hook a world of one skips):
--
-- * gan.train: broadcasts every module's parameters and buffers (EMA
--   copies included) from rank 0 at the start and after a resume; runs the
--   step inside `sharded`; averages the logged scalars; only rank 0 has
--   observers (log, samples, evaluation, report) and writes checkpoints,
--   each after checking that the parameters agree across ranks;
-- * gan.optim: `opt:step(loss)` averages the gradients (`all_reduce`,
--   "mean") before the update;
-- * gan.data.sampler: inside `sharded`, `take(b)` takes the global batch
--   of N b items and keeps the rank's slice, so the global batch is the
--   one process's batch of N b (`--batch` is the batch of one rank);
-- * random draws: inside `sharded`, `gan.rand`, `randn`, `uniform`,
--   `normal` and `randint` of a shape whose first size is the per-rank
--   batch draw the global (N b, ...) tensor from the same stream and keep
--   the rank's rows, so every rank's noise and augmentation are its slice
--   of what one process draws. Other draws are the same on every rank.
--   Dropout's masks and draws of another first size (the path-length
--   penalty's smaller batch) are not sliced: each rank draws them whole;
-- * gan.nn.BatchNorm: with `sync_bn`, the batch statistics of training
--   mode are those of the global batch (two all-reduces per layer, and
--   their gradients) instead of the rank's shard.
--
-- A rank that fails (an error, a NaN loss) ends the whole job: ganlua
-- prints the message with the rank and calls MPI_Abort, so no rank waits
-- for ever.
--
-- Options read (declared here): sync_bn.
-- Requires: gan.core (dist_*), gan.options.
-- @module gan.dist

local gan = require "gan"
local core = require "gan.core"
local options = require "gan.options"

local M = {}

--- The options the data-parallel hooks read.
M.options = options.declare("gan.dist", "data-parallel training (mpirun)", {
  { "sync_bn", "auto", "under mpirun, batch norm over the global batch: on, off, or auto (on when --batch <= 32)" },
})

local rank, size = core.dist_init()

--- This process's rank (0 .. size - 1); 0 without mpirun.
M.rank = rank
--- The number of processes of the job; 1 without mpirun.
M.size = size
--- Whether batch norm layers in training mode use the global batch's
-- statistics (set by `setup` from --sync_bn; false in a world of one).
M.sync_bn = false
--- True while a step runs inside `sharded` with `sync_bn` on: what batch
-- norm reads (rank 0's sampling and evaluation, which the other ranks do
-- not run, never take the collective path).
M.syncing = false

--- Whether this process writes (logs, samples, checkpoints, reports):
-- rank 0.
-- @return boolean
function M.is_writer()
  return rank == 0
end

local function tensors(list, fn)
  if type(list) ~= "table" then error(("gan.dist.%s: expected a list of tensors, got %s"):format(fn, type(list)), 3) end
  return list
end

--- Reduces a list of float tensors across ranks in place, through one
-- fused buffer (one MPI call for the whole list).
-- @param list contiguous float tensors, the same shapes on every rank
-- @param op "sum" (default), "mean", "max" or "min"
-- @return the list
function M.all_reduce(list, op)
  tensors(list, "all_reduce")
  if size > 1 then core.dist_all_reduce(list, op or "sum") end
  return list
end

--- Gives every rank rank root's values, in place, through one buffer.
-- @param list contiguous float tensors
-- @param root the rank whose values are sent (default 0)
-- @return the list
function M.broadcast(list, root)
  tensors(list, "broadcast")
  if size > 1 then core.dist_broadcast(list, root or 0) end
  return list
end

--- Waits until every rank reaches it.
function M.barrier()
  if size > 1 then core.dist_barrier() end
end

--- What the all-reduces (gradients, SyncBN, logged values) have cost
-- this process so far: wall seconds, waiting for the slowest rank
-- included; calls; bytes.
-- @return seconds, calls, bytes
function M.stats()
  return core.dist_stats()
end

--- Prints the message with this rank and ends every process of the job.
-- @param msg text
function M.abort(msg)
  core.dist_abort(tostring(msg))
end

--- The mean across ranks of a table name -> number (the logged scalars:
-- each rank's loss is the mean over its shard, so their mean is the global
-- batch's), and whether any rank raised a flag (Ctrl-C: every rank stops
-- after the same step). Every rank must log the same names.
-- @param values table name -> number
-- @param flag boolean (optional)
-- @return a new table name -> number, and whether any rank's flag was true
function M.mean_values(values, flag)
  if size == 1 then return values, flag == true end
  local keys = {}
  for k in pairs(values) do keys[#keys + 1] = k end
  table.sort(keys)
  local nums = {}
  for i, k in ipairs(keys) do nums[i] = values[k] end
  nums[#nums + 1] = flag and 1 or 0
  local t = gan.tensor(nums)
  core.dist_all_reduce({ t }, "mean")
  local out, r = {}, t:totable()
  for i, k in ipairs(keys) do out[k] = r[i] end
  return out, r[#r] > 0
end

--- Averages gradients across ranks in place (one fused all-reduce). Each
-- gradient must be a contiguous float tensor; nil entries are skipped (the
-- same on every rank, as every rank runs the same graph).
-- @param grads table i -> tensor or nil
-- @param n the highest index
function M.average_gradients(grads, n)
  if size == 1 then return end
  local list = {}
  for i = 1, n do
    if grads[i] then list[#list + 1] = grads[i] end
  end
  core.dist_all_reduce(list, "mean")
end

-- the modules in the order of their names: a table's pairs order differs
-- from one process to another, and every rank must list the same tensors
local function by_name(modules, names)
  if not names then return modules, {} end
  local order = {}
  for i = 1, #modules do order[i] = i end
  table.sort(order, function(a, b) return names[a] < names[b] end)
  local m, n = {}, {}
  for k, i in ipairs(order) do m[k], n[k] = modules[i], names[i] end
  return m, n
end

-- every parameter and buffer of a list of modules, contiguous
local function module_tensors(modules)
  local list = {}
  for _, m in ipairs(modules) do
    for _, p in ipairs(m:parameters()) do list[#list + 1] = p end
    for _, b in ipairs(m:buffers()) do list[#list + 1] = b end
  end
  for _, t in ipairs(list) do
    if not t:is_contiguous() then
      error("gan.dist: a parameter or buffer is not contiguous and cannot be broadcast", 3)
    end
  end
  return list
end

--- Gives every rank rank 0's parameters and buffers of the modules (at the
-- start: each rank initialised its own; after a resume: a guard).
-- @param modules a list of modules
-- @param names their names, by which they are ordered (every rank must
--   give the same list; nil: the list's order)
function M.broadcast_modules(modules, names)
  if size == 1 then return end
  local list = module_tensors((by_name(modules, names)))
  gan.no_grad(function() core.dist_broadcast(list, 0) end)
end

--- Checks that the modules' parameters are the same on every rank (the
-- NVlabs training loop checks before each snapshot): a per-tensor sum,
-- its maximum and minimum over ranks compared. Raises naming the first
-- tensor that differs.
-- @param modules a list of modules
-- @param names their names (the order, and the message; nil: the list's order)
function M.check_equal(modules, names)
  if size == 1 then return end
  modules, names = by_name(modules, names)
  local sums, which = {}, {}
  for j, m in ipairs(modules) do
    for i, p in ipairs(m:parameters()) do
      sums[#sums + 1] = p:detach():sum():item()
      which[#sums] = ("%s parameter %d"):format(names and names[j] or ("module " .. j), i)
    end
  end
  if #sums == 0 then return end
  local hi, lo = gan.tensor(sums), gan.tensor(sums)
  core.dist_all_reduce({ hi }, "max")
  core.dist_all_reduce({ lo }, "min")
  local h, l = hi:totable(), lo:totable()
  for i = 1, #sums do
    -- NaN compares unequal to itself: a NaN on one rank is a difference too
    if not (h[i] == l[i]) then
      error(("gan.dist: the ranks' parameters differ (%s: sums from %.9g to %.9g across ranks)"):format(which[i],
        l[i], h[i]), 0)
    end
  end
end

-- ----------------------------------------------------------------------------
-- Sharded draws

local per_rank -- the per-rank batch while `sharded` runs, else nil
local also = {} -- more first sizes whose draws are per sample (per_sample), while `sharded` runs

--- The number of ranks a sampler's batch is spread over: size while
-- `sharded` runs, else 1 (evaluation, sampling).
-- @return integer
function M.shards()
  return per_rank and size or 1
end

--- The rank's slice of a global list (its consecutive n / size entries).
-- @param list a list whose length is a multiple of size
-- @return a new list
function M.slice(list)
  local b = #list // size
  local out = {}
  for k = 1, b do out[k] = list[rank * b + k] end
  return out
end

-- the global batch's draw and the rank's rows of it
local function widen(draw, lead_arg)
  return function(...)
    local args = table.pack(...)
    local a = args[lead_arg]
    local lead = type(a) == "table" and a[1] or a
    if per_rank == nil or (lead ~= per_rank and not also[lead]) then return draw(...) end
    if type(a) == "table" then
      local s = {}
      for i, v in ipairs(a) do s[i] = v end
      s[1] = lead * size
      args[lead_arg] = s
    else
      args[lead_arg] = lead * size
    end
    return draw(table.unpack(args, 1, args.n)):narrow(1, rank * lead + 1, lead):contiguous()
  end
end

local drawn = { rand = 1, randn = 1, uniform = 1, normal = 1, randint = 3 }

--- Runs fn(...) with the data and the random draws sharded (see the
-- module comment): gan.train runs each step inside it. A world of one
-- calls fn directly.
-- @param batch the per-rank batch (nil: the data is sharded, draws are not)
-- @param fn function(...) -> results
-- @return fn's results
function M.sharded(batch, fn, ...)
  if size == 1 then return fn(...) end
  local saved = {}
  for name, arg in pairs(drawn) do
    saved[name] = gan[name]
    if batch then rawset(gan, name, widen(saved[name], arg)) end
  end
  per_rank = batch or 0
  M.syncing = M.sync_bn
  local r = table.pack(pcall(fn, ...))
  per_rank, M.syncing, also = nil, false, {}
  for name, f in pairs(saved) do rawset(gan, name, f) end
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

--- Declares n a per-sample size for the rest of the step: draws whose
-- first size is n are sliced like the batch's (a regulariser's smaller
-- batch: the path length penalty's N / 2). Outside a step, or in a world
-- of one, only returns n.
-- @param n the per-rank size
-- @return n
function M.per_sample(n)
  if per_rank ~= nil then also[n] = true end
  return n
end

--- The mean over every rank's samples of x, a rank's mean over its own
-- (the ranks' shards are the same size): inside a step of a world of N,
-- gan.all_reduce(x) / N, differentiable; else x itself. For running
-- statistics that one process computes over the whole batch (the path
-- length's mean).
-- @param x a tensor
-- @return a tensor
function M.global_mean(x)
  if per_rank == nil then return x end
  return x:all_reduce() / size
end

--- Reads --sync_bn and sets `sync_bn` (gan.train calls it): on, off, or
-- auto, on when the per-rank batch is at most 32 (a batch norm over fewer
-- samples is noisy). Always off in a world of one.
-- @param opt the options
-- @param batch the per-rank batch (nil: unknown)
function M.setup(opt, batch)
  local v = options.get(opt, "sync_bn")
  if v ~= "on" and v ~= "off" and v ~= "auto" then
    error(("gan.dist: --sync_bn must be on, off or auto, got '%s'"):format(tostring(v)), 0)
  end
  if size == 1 then
    M.sync_bn = false
  elseif v == "auto" then
    M.sync_bn = batch ~= nil and batch <= 32
  else
    M.sync_bn = v == "on"
  end
end

return M
