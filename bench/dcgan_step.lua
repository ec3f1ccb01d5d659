--- The reference DCGAN training step, timed: the peer of bench/torch_dcgan_step.py.
-- Same network, initialisation, loss and optimizer; prints `ms_per_step <median>`
-- as its last line (and peak RSS before it).
--
--     ganlua bench/dcgan_step.lua --size=32 --channels=1 --batch=64 --nf=64 --steps=10 --threads=2
local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  size = 32,     -- image size, a power of two >= 16
  channels = 1,  -- image channels
  batch = 64,    -- minibatch size
  nf = 64,       -- feature maps of D's first layer
  nz = 100,      -- noise dimension
  steps = 10,    -- timed steps
  warmup = 3,    -- untimed steps first
  threads = 2,   -- CPU threads
  seed = 1,      -- random seed
  profile = false, -- print the time per op over the timed steps
}
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
  return lossD:item(), lossG:item()
end

for _ = 1, opt.warmup do step() end
if opt.profile then gan.profile(true) end
local times = {}
for i = 1, opt.steps do
  local t0 = gan.clock()
  step()
  times[i] = (gan.clock() - t0) * 1000
end
table.sort(times)
local n = #times
local median = n % 2 == 1 and times[(n + 1) // 2] or (times[n // 2] + times[n // 2 + 1]) / 2

local function peak_rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
end
if opt.profile then
  local total = 0
  for _, r in ipairs(gan.profile()) do total = total + r.ms end
  print(("%-28s %8s %10s %7s"):format("op", "calls", "ms/step", "share"))
  for _, r in ipairs(gan.profile()) do
    print(("%-28s %8d %10.2f %6.1f%%"):format(r.name, r.calls // opt.steps, r.ms / opt.steps, 100 * r.ms / total))
  end
  gan.profile(false)
end
local info = gan.kernels.info()
print(("ganlua %s threads %d isa %s"):format(gan.version, info.threads, info.isa))
print(("peak_rss_mb %.1f"):format(peak_rss_mb()))
print(("ms_per_step %.2f"):format(median))
