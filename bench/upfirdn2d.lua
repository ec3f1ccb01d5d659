--- upfirdn2d timed on StyleGAN2's three uses: the peer of bench/torch_upfirdn2d.py.
-- Each case is op/batch/channels/size; op is blur (4 taps, pad {2, 1, 2, 1}),
-- up (up 2, pad {2, 1, 2, 1}, gain 4) or down (down 2, pad 1), the taps
-- [1, 3, 3, 1] / 8 as NVlabs' setup_filter makes them, given 1-d (separable;
-- `--taps=2d`: their 4x4 outer product, as setup_filter gives 4 taps). Prints,
-- per case and pass (fwd: the op; fwdbwd: the op and the gradient in x for a
-- given gradient of y), `ms <case> <pass> <median ms per call>`.
--
--     ganlua bench/upfirdn2d.lua --cases=up/32/256/8,down/32/128/32 --threads=2
--     ganlua bench/upfirdn2d.lua --dump=/tmp/upfirdn2d.safetensors   -- for torch_upfirdn2d.py --check
local gan = require "gan"

local opt = gan.options {
  cases = "blur/32/256/8,up/32/256/8,down/32/256/16", -- op/batch/channels/size, comma-separated
  taps = "1d",      -- 1d: [1,3,3,1]/8 separable; 2d: its 4x4 outer product
  samples = 7,      -- timed samples per case and pass (the median is printed)
  min_ms = 20,      -- each sample repeats the call until it lasts at least this long
  threads = 2,      -- CPU threads
  seed = 1,         -- random seed
  dump = "",        -- write inputs and outputs of the check's configurations to this safetensors file, then stop
}
gan.set_threads(opt.threads)
gan.manual_seed(opt.seed)

local taps = gan.tensor { 1, 3, 3, 1 } / 8
local outer = taps:reshape(4, 1) * taps:reshape(1, 4)
assert(opt.taps == "1d" or opt.taps == "2d", "--taps must be 1d or 2d")
local filter = opt.taps == "2d" and outer or taps

local OPS = {
  blur = { pad = { 2, 1, 2, 1 } },
  up = { up = 2, pad = { 2, 1, 2, 1 }, gain = 4 },
  down = { down = 2, pad = 1 },
}

-- The check: the three uses, then other configurations (factors, crops,
-- flip, gain, a 2-d filter of odd size), inputs and outputs saved with each
-- one's options in the metadata.
if opt.dump ~= "" then
  local configs = {
    { "blur", OPS.blur, taps }, { "up", OPS.up, taps }, { "down", OPS.down, taps },
    { "up2d", OPS.up, outer },
    { "mixed", { up = { 3, 1 }, down = { 1, 2 }, pad = { 1, -2, 3, 0 }, gain = 1.5 }, taps },
    { "flip", { up = { 1, 2 }, down = { 3, 1 }, pad = { -1, 2, 0, 1 }, flip = true }, gan.randn(3, 2) },
  }
  local tensors, meta = {}, {}
  for i, c in ipairs(configs) do
    local o = c[2]
    local x = gan.randn(2, 3, 9, 7):requires_grad(true)
    local y = x:upfirdn2d(c[3], o)
    local r = gan.randn(y:shape())
    local dx = gan.grad(y, x, { grad_outputs = r })
    local key = ("%02d_%s"):format(i, c[1])
    tensors[key .. "_x"], tensors[key .. "_f"], tensors[key .. "_y"] = x:detach(), c[3], y:detach()
    tensors[key .. "_r"], tensors[key .. "_dx"] = r, dx
    local function pair(v) return type(v) == "table" and v or { v or 1, v or 1 } end
    local up, down = pair(o.up), pair(o.down)
    local p = type(o.pad) == "table" and o.pad or { o.pad, o.pad, o.pad, o.pad }
    meta[key] = ("%d,%d,%d,%d,%d,%d,%d,%d,%s,%g"):format(up[1], up[2], down[1], down[2], p[1], p[2], p[3], p[4],
      tostring(o.flip or false), o.gain or 1)
  end
  assert(gan.io.save_safetensors(opt.dump, tensors, meta))
  print(("wrote %d configurations to %s"):format(#configs, opt.dump))
  return
end

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

-- the median ms per call of fn over opt.samples samples of reps calls each
local function time(fn)
  fn()
  local t0 = gan.clock()
  fn()
  local once = (gan.clock() - t0) * 1000
  local reps = math.max(1, math.ceil(opt.min_ms / math.max(once, 1e-3)))
  local samples = {}
  for s = 1, opt.samples do
    t0 = gan.clock()
    for _ = 1, reps do fn() end
    samples[s] = (gan.clock() - t0) * 1000 / reps
  end
  return median(samples)
end

local info = gan.kernels.info()
print(("ganlua %s threads %d isa %s taps %s"):format(gan.version, info.threads, info.isa, opt.taps))
for spec in opt.cases:gmatch("[^,]+") do
  local op, n, c, s = spec:match("^(%a+)/(%d+)/(%d+)/(%d+)$")
  assert(op and OPS[op], "a case is op/batch/channels/size with op blur, up or down: " .. spec)
  local o = OPS[op]
  local x = gan.randn(tonumber(n), tonumber(c), tonumber(s), tonumber(s))
  local r = gan.randn(x:upfirdn2d(filter, o):shape())
  local fwd = time(function() return gan.no_grad(function() return x:upfirdn2d(filter, o) end) end)
  x:requires_grad(true)
  local both = time(function() return gan.grad(x:upfirdn2d(filter, o), x, { grad_outputs = r }) end)
  x:requires_grad(false)
  print(("ms %s fwd %.4f"):format(spec, fwd))
  print(("ms %s fwdbwd %.4f"):format(spec, both))
end
