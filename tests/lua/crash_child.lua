-- A small training run for test_crash.lua, which kills it, fills its disk
-- and resumes it: ganlua tests/lua/crash_child.lua OUT ITERS [resume] [grow_at]
-- Every step is saved (save_every=1) and logged. With grow_at, the state
-- gains a 1 MB tensor from that step on, so the next checkpoint is bigger
-- than the ones before (what a full disk or a file size limit then refuses).
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local nn, F = gan.nn, gan.F

local out, iters, resume, grow_at = arg[1], tonumber(arg[2]), arg[3] == "resume", tonumber(arg[4])
local opt = { iters = iters, batch = 16, seed = 7, out = out, sample_every = 0, save_every = 1, nz = 4,
  limit = 128, print_every = 1000, threads = 1, resume = resume }
gan.manual_seed(opt.seed)
local data = gan.data.load("8gaussians", opt)
-- wide enough that a save takes a while (about 1 MB of tensors with Adam's moments)
local G = nn.Sequential { nn.Linear(4, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2) }
local D = nn.Sequential { nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1) }
local optG = gan.optim.Adam(G, { lr = 1e-3, betas = { 0.5, 0.999 } })
local optD = gan.optim.Adam(D, { lr = 1e-3, betas = { 0.5, 0.999 } })
local state = { G = G, D = D, optG = optG, optD = optD, data = data }
gan.train(opt, state, function(real, s)
  if grow_at and s >= grow_at then state.ballast = gan.zeros(256, 1024) end
  local fake = G(gan.randn(real:size(1), 4))
  local lossD = F.bce_logits(D(real), 1) + F.bce_logits(D(fake:detach()), 0)
  optD:step(lossD)
  local lossG = F.bce_logits(D(fake), 1)
  optG:step(lossG)
  return { D = lossD, G = lossG }
end)
