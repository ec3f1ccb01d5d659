--- The convolutions of CycleGAN's networks one by one, timed: the peer of
-- bench/torch_conv_layers.py. For each layer of the ResNet generator and of
-- the PatchGAN discriminator at 64x64 RGB (recipes/cyclegan.lua's, nf and
-- ndf 64), on random inputs: the forward alone, then the gradient in the
-- input and the gradient in the weights, each measured as one more backward
-- pass (the forward time subtracted). Prints
-- `layer NAME FWD_MS DX_MS DW_MS GFLOP`, each the fastest of --reps
-- repetitions (a kernel's own speed, with the least noise from a shared
-- machine), GFLOP the forward's (each gradient has as many).
--
--     ganlua bench/conv_layers.lua --batch=1 --threads=2 --reps=21
local gan = require "gan"

local opt = gan.options({
  batch = 1,       -- minibatch size
  reps = 21,       -- repetitions of each pass (the fastest is printed)
  threads = 2,     -- CPU threads
  layer = "all",   -- one layer by name, or all
}, { uses = {} })
gan.set_threads(opt.threads)
if opt.batch < 1 or opt.reps < 1 then error("--batch and --reps must be >= 1", 0) end

-- name, channels in and out, input size (after reflection padding where the
-- network pads), kernel, stride, padding; `t`: a transposed convolution
-- (output padding 1)
local LAYERS = {
  { "g_stem", 3, 64, 70, 7, 1, 0 }, { "g_down1", 64, 128, 64, 3, 2, 1 },
  { "g_down2", 128, 256, 32, 3, 2, 1 }, { "g_res", 256, 256, 18, 3, 1, 0 },
  { "g_up1", 256, 128, 16, 3, 2, 1, t = true }, { "g_up2", 128, 64, 32, 3, 2, 1, t = true },
  { "g_out", 64, 3, 70, 7, 1, 0 }, { "d_1", 3, 64, 64, 4, 2, 1 }, { "d_2", 64, 128, 32, 4, 2, 1 },
  { "d_3", 128, 256, 16, 4, 2, 1 }, { "d_4", 256, 512, 8, 4, 1, 1 }, { "d_5", 512, 1, 7, 4, 1, 1 },
}

local function fastest(f)
  f()
  local best = math.huge
  for _ = 1, opt.reps do
    local t0 = gan.clock()
    f()
    best = math.min(best, (gan.clock() - t0) * 1000)
  end
  return best
end

local found = false
for _, c in ipairs(LAYERS) do
  if opt.layer == "all" or opt.layer == c[1] then
    found = true
    local cin, cout, s, k, stride, pad = c[2], c[3], c[4], c[5], c[6], c[7]
    local x = gan.randn(opt.batch, cin, s, s):requires_grad(true)
    local w = (gan.randn(table.unpack(c.t and { cin, cout, k, k } or { cout, cin, k, k })) * 0.05):requires_grad(true)
    local o = { stride = stride, padding = pad, output_padding = c.t and 1 or nil }
    local function op() return c.t and x:conv_transpose2d(w, nil, o) or x:conv2d(w, nil, o) end
    local r = gan.no_grad(function() return gan.randn(table.unpack(op():size())) end)
    local fwd = fastest(function() gan.no_grad(op) end)
    local dx = fastest(function() gan.grad((op() * r):sum(), { x }) end)
    local dw = fastest(function() gan.grad((op() * r):sum(), { w }) end)
    -- multiply-adds: every output of the convolution (the image side of a transposed one) sums cin*k*k/stride^2 products
    local out = r:size()
    local macs = c.t and (opt.batch * cin * s * s * cout * k * k) or (opt.batch * out[2] * out[3] * out[4] * cin * k * k)
    print(("layer %s %.3f %.3f %.3f %.4f"):format(c[1], fwd, dx - fwd, dw - fwd, 2 * macs / 1e9))
  end
end
if not found then error("--layer: no layer named " .. opt.layer, 0) end
