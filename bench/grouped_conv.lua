--- Grouped and depthwise convolutions, timed: the peer of bench/torch_grouped_conv.py.
-- Each case is one convolution on fixed random inputs: `fwd` times the op
-- alone, `fwdbwd` the op and the gradients of sum(y * r) in its input and
-- its weights. Prints one line per case and pass,
-- `case <name> <pass> <median wall ms> <median process CPU ms>`.
--
--     ganlua bench/grouped_conv.lua --threads=2 --reps=5 [--case=NAME] [--dense=true]
--
-- --dense=true runs the depthwise cases only, each as the dense convolution of
-- the same size (C in, C out, groups 1): the yardstick depthwise filtering
-- must beat.
local gan = require "gan"

local opt = gan.options {
  case = "all",   -- one case by name, or all
  reps = 5,       -- timed repetitions of each pass (the median is printed)
  warmup = 1,     -- untimed repetitions first
  threads = 2,    -- CPU threads
  dense = false,  -- depthwise cases as dense convolutions of the same size
  seed = 1,       -- random seed
}
gan.set_threads(opt.threads)

-- The cases: batch, channels in and out, size, kernel, stride, padding,
-- groups; `t` marks conv_transpose2d (channels are its input and output).
-- The fused modulated convolution of StyleGAN2 (sampling) runs a batch of
-- N as one sample of N groups; its up blocks use the transposed 3x3,
-- stride 2. Depthwise: one channel per group, FIR-like 4x4 and 3x3 kernels.
local CASES = {
  { "modconv_g32_c256_8", n = 1, cin = 32 * 256, cout = 32 * 256, size = 8, k = 3, s = 1, p = 1, g = 32 },
  { "modconv_g32_c256_16", n = 1, cin = 32 * 256, cout = 32 * 256, size = 16, k = 3, s = 1, p = 1, g = 32 },
  { "modconv_up_g32_c256_8", n = 1, cin = 32 * 256, cout = 32 * 256, size = 8, k = 3, s = 2, p = 0, g = 32, t = true },
  { "grouped_g4_c256_16", n = 32, cin = 256, cout = 256, size = 16, k = 3, s = 1, p = 1, g = 4 },
  { "dw_c512_8_k4", n = 32, cin = 512, cout = 512, size = 8, k = 4, s = 1, p = 2, g = 512 },
  { "dw_c256_16_k3", n = 32, cin = 256, cout = 256, size = 16, k = 3, s = 1, p = 1, g = 256 },
  { "dw_c128_32_k4", n = 32, cin = 128, cout = 128, size = 32, k = 4, s = 1, p = 1, g = 128 },
  { "dw_c64_64_k4_s2", n = 32, cin = 64, cout = 64, size = 64, k = 4, s = 2, p = 1, g = 64 },
  { "dw_c3_64_k4", n = 32, cin = 3, cout = 3, size = 64, k = 4, s = 1, p = 2, g = 3 },
  { "dwt_c256_16_k4_s2", n = 32, cin = 256, cout = 256, size = 16, k = 4, s = 2, p = 1, g = 256, t = true },
}

local function median(xs)
  table.sort(xs)
  local n = #xs
  return n % 2 == 1 and xs[(n + 1) // 2] or (xs[n // 2] + xs[n // 2 + 1]) / 2
end

local function run(c)
  local g = c.g
  if opt.dense and c.cin == g and c.cout == g then g = 1 end
  local x = gan.randn(c.n, c.cin, c.size, c.size):requires_grad(true)
  local wshape = c.t and { c.cin, c.cout // g, c.k, c.k } or { c.cout, c.cin // g, c.k, c.k }
  local w = (gan.randn(table.unpack(wshape)) * 0.1):requires_grad(true)
  local conv_opts = { stride = c.s, padding = c.p, groups = g }
  local function op() return c.t and x:conv_transpose2d(w, nil, conv_opts) or x:conv2d(w, nil, conv_opts) end
  local r = gan.no_grad(function() return gan.randn(table.unpack(op():size())) end)
  local passes = {
    fwd = function() gan.no_grad(op) end,
    fwdbwd = function()
      local y = op()
      gan.grad((y * r):sum(), { x, w })
    end,
  }
  for _, pass in ipairs { "fwd", "fwdbwd" } do
    local f, times, cpu = passes[pass], {}, {}
    for _ = 1, opt.warmup do f() end
    for i = 1, opt.reps do
      local t0, c0 = gan.clock(), os.clock()
      f()
      times[i], cpu[i] = (gan.clock() - t0) * 1000, (os.clock() - c0) * 1000
    end
    print(("case %s %s %.3f %.3f"):format(c[1], pass, median(times), median(cpu)))
    io.stdout:flush()
  end
end

for _, c in ipairs(CASES) do
  local depthwise = c.cin == c.g and c.cout == c.g
  if (opt.case == "all" or opt.case == c[1]) and (depthwise or not opt.dense) then run(c) end
end
local info = gan.kernels.info()
print(("ganlua %s threads %d isa %s"):format(gan.version, info.threads, info.isa))
