--- The all-reduce alone: the fused mean of dcgan's gradients (D's 661,248
-- floats, G's 1,066,880) across the ranks of `mpirun -np N`, after a
-- barrier so that no rank waits for another; medians over `reps` calls.
--
--     mpirun --allow-run-as-root --oversubscribe -np 2 ganlua bench/dist_allreduce.lua
local gan = require "gan"
local dist = gan.dist

local opt = gan.options {
  reps = 20, -- timed calls per size
}

local cases = { { "D (661,248 floats)", 661248 }, { "G (1,066,880 floats)", 1066880 }, { "1,000 floats", 1000 } }
for _, c in ipairs(cases) do
  local t = gan.randn(c[2])
  local times = {}
  for i = 1, opt.reps do
    dist.barrier()
    local t0 = gan.clock()
    dist.all_reduce({ t }, "mean")
    times[i] = (gan.clock() - t0) * 1000
  end
  table.sort(times)
  if dist.rank == 0 then
    print(("%-22s %d ranks  median %.3f ms  min %.3f ms  (%.1f MB/s of gradient)"):format(c[1], dist.size,
      times[(#times + 1) // 2], times[1], c[2] * 4 / 1e6 / (times[(#times + 1) // 2] / 1000)))
  end
end
