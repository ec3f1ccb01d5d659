--- The ADA augmentation of a batch (gan.augment.pipeline, bgc at p = 1: every
-- transformation drawn for every image), timed: the peer of
-- bench/torch_augment.py. Each case is batch/channels/size. Passes: fwd (the
-- augmentation) and fwdbwd (the augmentation and the gradient in the images
-- for a given gradient of the result, as D's loss takes it). Prints, per case
-- and pass, `ms <case> <pass> <median ms per call>`.
--
--     ganlua bench/augment.lua --cases=32/1/32,32/3/64 --threads=1
--     ganlua bench/augment.lua --dump=/tmp/augment.safetensors   -- for torch_augment.py --check
local gan = require "gan"
local random = require "gan.random"

local opt = gan.options {
  cases = "32/1/32,32/3/64", -- batch/channels/size, comma-separated
  p = 1.0,          -- augmentation probability
  samples = 7,      -- timed samples per case and pass (the median is printed)
  min_ms = 20,      -- each sample repeats the call until it lasts at least this long
  threads = 1,      -- CPU threads
  seed = 1,         -- random seed
  dump = "",        -- write the inputs, draws and outputs of each case to this safetensors file, then stop
}
gan.set_threads(opt.threads)

local cases = {}
for c in opt.cases:gmatch("[^,]+") do
  local B, C, S = c:match("^(%d+)/(%d+)/(%d+)$")
  if not B then error(("--cases: '%s' is not batch/channels/size"):format(c), 0) end
  cases[#cases + 1] = { name = c, B = tonumber(B), C = tonumber(C), S = tonumber(S) }
end

if opt.dump ~= "" then
  local tensors = {}
  for i, c in ipairs(cases) do
    local aug = gan.augment.pipeline({ groups = "bgc", p = opt.p, seed = opt.seed })
    local x = gan.randn(c.B, c.C, c.S, c.S)
    local y = aug(x)
    local u, n = random.keyed(aug.stream, 1, function() return gan.rand(c.B, 29), gan.randn(c.B, 12) end, aug.seed)
    tensors["x" .. i], tensors["y" .. i], tensors["u" .. i], tensors["n" .. i] = x, y, u, n
  end
  assert(gan.io.save_safetensors(opt.dump, tensors, { p = tostring(opt.p), cases = opt.cases }))
  return
end

local function median(list)
  table.sort(list)
  return list[(#list + 1) // 2]
end

-- ms per call of fn: the median of `samples` samples, each repeating fn for min_ms at least
local function time(fn)
  fn()
  local out = {}
  for s = 1, opt.samples do
    local n, t0 = 0, gan.clock()
    repeat
      fn()
      n = n + 1
    until (gan.clock() - t0) * 1000 >= opt.min_ms
    out[s] = (gan.clock() - t0) * 1000 / n
  end
  return median(out)
end

print(("ganlua: threads %d, p %g"):format(gan.get_threads(), opt.p))
for _, c in ipairs(cases) do
  local aug = gan.augment.pipeline({ groups = "bgc", p = opt.p, seed = opt.seed })
  local x = gan.randn(c.B, c.C, c.S, c.S)
  local xg = x:detach():requires_grad(true)
  local gy = gan.randn(c.B, c.C, c.S, c.S)
  print(("ms %s fwd %.4f"):format(c.name, time(function() gan.no_grad(function() return aug(x) end) end)))
  print(("ms %s fwdbwd %.4f"):format(c.name, time(function() return gan.grad((aug(xg) * gy):sum(), xg) end)))
end
