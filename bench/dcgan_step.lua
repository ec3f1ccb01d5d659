--- The reference DCGAN training step, timed: the peer of bench/torch_dcgan_step.py.
-- Same network, initialisation, loss and optimizer; prints the step's convolution
-- FLOPs (`gflop_per_step`), each network's parameter count, and `ms_per_step <median>`
-- as its last line (and peak RSS before it): bench/timing.lua.
--
--     ganlua bench/dcgan_step.lua --size=32 --channels=1 --batch=64 --nf=64 --steps=10 --threads=2
local gan = require "gan"
local nn, F = gan.nn, gan.F

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local timing = dofile(here .. "timing.lua") -- declares the timing options (steps, warmup, profile, losses)
local opt = gan.options({
  size = 32,     -- image size, a power of two >= 16
  channels = 1,  -- image channels
  batch = 64,    -- minibatch size
  nf = 64,       -- feature maps of D's first layer
  nz = 100,      -- noise dimension
  threads = 2,   -- CPU threads
}, { uses = { "bench.timing" } })
gan.set_threads(opt.threads)

-- G: z (nz,1,1) -> 4x4 with nf*size/8 channels, then halve channels while doubling size
local ch = opt.nf * opt.size // 8
local G = nn.Sequential {
  nn.ConvTranspose2d(opt.nz, ch, 4, 1, 0, { bias = false }), nn.BatchNorm2d(ch), nn.ReLU(),
}
local res = 4
while res < opt.size // 2 do
  G:add(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, { bias = false })):add(nn.BatchNorm2d(ch // 2)):add(nn.ReLU())
  ch, res = ch // 2, res * 2
end
G:add(nn.ConvTranspose2d(ch, opt.channels, 4, 2, 1, { bias = false })):add(nn.Tanh())

-- D mirrors it
local D = nn.Sequential { nn.Conv2d(opt.channels, opt.nf, 4, 2, 1, { bias = false }), nn.LeakyReLU(0.2) }
ch, res = opt.nf, opt.size // 2
while res > 4 do
  D:add(nn.Conv2d(ch, ch * 2, 4, 2, 1, { bias = false })):add(nn.BatchNorm2d(ch * 2)):add(nn.LeakyReLU(0.2))
  ch, res = ch * 2, res // 2
end
D:add(nn.Conv2d(ch, 1, 4, 1, 0, { bias = false })):add(nn.Flatten())

G:apply(nn.init.dcgan)
D:apply(nn.init.dcgan)
local adam = { lr = 2e-4, betas = { 0.5, 0.999 } }
local optG, optD = gan.optim.Adam(G, adam), gan.optim.Adam(D, adam)
local real = gan.rand(opt.batch, opt.channels, opt.size, opt.size) * 2 - 1

local function step()
  local fake = G(gan.randn(opt.batch, opt.nz, 1, 1))
  local lossD = F.bce_logits(D(real), 1) + F.bce_logits(D(fake:detach()), 0)
  optD:step(lossD)
  local lossG = F.bce_logits(D(fake), 1)
  optG:step(lossG)
  return { D = lossD:item(), G = lossG:item() }
end

-- multiply-adds of one sample through a chain of convolutions from res x res, per layer
local function layer_macs(net, res)
  local out = {}
  for _, m in ipairs(net:modules()) do
    local k, a = m.kernel_size, m.args
    if m.__name == "Conv2d" then
      res = (res + 2 * a.padding[1] - k[1]) // a.stride[1] + 1
      out[#out + 1] = m.in_channels * m.out_channels * k[1] * k[2] * res * res
    elseif m.__name == "ConvTranspose2d" then
      out[#out + 1] = m.in_channels * m.out_channels * k[1] * k[2] * res * res
      res = (res - 1) * a.stride[1] - 2 * a.padding[1] + k[1]
    end
  end
  return out
end

-- the step's convolution FLOPs (2 per multiply-add; every pass of a layer costs its forward's):
-- G forward once; D forward on real, on fake for D and on fake for G; D's weight gradients on
-- two batches; input gradients through D on those two batches but for its first layer (nothing
-- upstream asks for them) and through all of D on G's batch; G's weight gradients, and its input
-- gradients but for its first layer
local function step_gflop()
  local g, d = layer_macs(G, 1), layer_macs(D, opt.size)
  local sum_g, sum_d = 0, 0
  for _, v in ipairs(g) do sum_g = sum_g + v end
  for _, v in ipairs(d) do sum_d = sum_d + v end
  local macs = 3 * sum_g - g[1] + 3 * sum_d + 2 * sum_d + 2 * (sum_d - d[1]) + sum_d
  return 2 * macs * opt.batch / 1e9
end
print(("gflop_per_step %.2f"):format(step_gflop()))

timing.run(opt, step, { { "G", G }, { "D", D } })
