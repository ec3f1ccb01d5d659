--- freeze — G and D as one network with shared parameters, one side frozen by a learning-rate multiplier of 0.
-- @paper Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville, Bengio. Generative Adversarial Nets. 2014. arXiv:1406.2661
-- @year 2014
-- @ja 要点: Neural Network ConsoleのGANサンプルの構成。GとDをつないだ1つのネットワークD(G(z))を作り、Dの更新ではG側の学習率倍率を0、Gの更新ではD側を0にして片方を凍結する(パラメータは名前で共有)。
-- @ja 2つのオプティマイザでGとDを別々に更新する通常の形と同じ学習になることを、各ステップの損失の一致で確かめる。凍結しないとDの更新でGまで「見破られやすく」動いてしまう。
-- @en Key points: the Neural Network Console GAN sample's construction: one network D(G(z)) with G and D chained; D's update freezes G with a learning-rate multiplier of 0, G's update freezes D (parameters shared by name).
-- @en It trains exactly like the usual form with two optimizers, which this lab checks loss by loss; without the freeze, D's update would also move G towards fakes that are easier to spot.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, a folder of images, or a toy set: 8gaussians, 25gaussians, ring, swissroll
  size = 28,              -- image size in pixels (images only)
  nz = 64,                -- dimension of the noise z
  hidden = 256,           -- units of the hidden layers
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 200,            -- training steps compared
  rows = 10,              -- rows of the printed table
  tol = 1e-4,             -- largest difference of a loss allowed for "the same training"
  out = "runs/freeze",    -- folder of freeze.csv
}
if opt.iters < 1 then error("--iters must be >= 1", 0) end
if opt.rows < 1 then error("--rows must be >= 1", 0) end

local function loader() return gan.data.load(opt.data, opt) end
local data = loader()
local shape = data.x[1]:shape()
local dim = data.x[1]:numel()
local h = opt.hidden

local G0 = nn.Sequential { nn.Linear(opt.nz, h), nn.LeakyReLU(0.2), nn.Linear(h, h), nn.LeakyReLU(0.2),
  nn.Linear(h, dim) }
if data.kind ~= "points" then G0:add(nn.Tanh()):add(nn.Reshape(shape)) end
local D0 = nn.Sequential { nn.Flatten(), nn.Linear(dim, h), nn.LeakyReLU(0.2), nn.Linear(h, h // 2),
  nn.LeakyReLU(0.2), nn.Linear(h // 2, 1) }
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }

-- every parameter of `net`, those of `frozen` with a learning-rate multiplier of 0
local function freezing(net, frozen)
  local is_frozen = {}
  for _, p in ipairs(frozen:parameters()) do is_frozen[p] = true end
  local list = {}
  for _, e in ipairs(net:named_parameters()) do
    list[#list + 1] = { name = e.name, tensor = e.tensor, lr_mult = is_frozen[e.tensor] and 0 or 1 }
  end
  return list
end

-- A: the usual form, two networks and two optimizers
local A = { G = G0:clone(), D = D0:clone(), data = loader() }
A.optG, A.optD = gan.optim.Adam(A.G, adam), gan.optim.Adam(A.D, adam)
function A.step(z)
  local real = A.data:next()
  local fake = A.G(z)
  local lossD = F.bce_logits(A.D(real), 1) + F.bce_logits(A.D(fake:detach()), 0)
  A.optD:step(lossD)
  local lossG = F.bce_logits(A.D(fake), 1)
  A.optG:step(lossG)
  return lossD:item(), lossG:item()
end

-- B: one network D(G(z)) sharing D with the real branch; two optimizers over all of
-- its parameters, each with the other side's learning-rate multiplier at 0.
-- C: the same without the freeze (every multiplier 1), to show why it is needed.
local function one_network(freeze)
  local G, D = G0:clone(), D0:clone()
  local S = { G = G, D = D, GD = nn.Sequential { G, D }, data = loader() }
  S.optD = gan.optim.Adam(freeze and freezing(S.GD, G) or S.GD, adam)
  S.optG = gan.optim.Adam(freeze and freezing(S.GD, D) or S.GD, adam)
  function S.step(z)
    local real = S.data:next()
    local lossD = F.bce_logits(S.D(real), 1) + F.bce_logits(S.GD(z), 0)
    S.optD:step(lossD)
    local lossG = F.bce_logits(S.GD(z), 1)
    S.optG:step(lossG)
    return lossD:item(), lossG:item()
  end
  return S
end
local B, Cn = one_network(true), one_network(false)

assert(gan.io.mkdir(opt.out))
local csv = assert(io.open(opt.out .. "/freeze.csv", "w"))
csv:write("step,D_two_optimizers,D_one_network,G_two_optimizers,G_one_network,D_unfrozen,G_unfrozen\n")
print(("%6s | %12s %12s %9s | %12s %12s %9s | %9s %9s"):format("step", "D: two opt", "D: one net", "|diff|",
  "G: two opt", "G: one net", "|diff|", "unfrozen", "|diff|"))
local every = math.max(1, opt.iters // opt.rows)
local worst, worst_c = 0, 0
for s = 1, opt.iters do
  local z = gan.randn(opt.batch, opt.nz)
  local dA, gA = A.step(z)
  local dB, gB = B.step(z)
  local dC, gC = Cn.step(z)
  local diff = math.max(math.abs(dA - dB), math.abs(gA - gB))
  worst = math.max(worst, diff)
  worst_c = math.max(worst_c, math.abs(dA - dC), math.abs(gA - gC))
  csv:write(("%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n"):format(s, dA, dB, gA, gB, dC, gC))
  if s % every == 0 or s == 1 then
    print(("%6d | %12.6f %12.6f %9.2g | %12.6f %12.6f %9.2g | %9.4f %9.2g"):format(s, dA, dB, math.abs(dA - dB),
      gA, gB, math.abs(gA - gB), dC, math.abs(dA - dC)))
  end
end
csv:close()

-- the weights too: every parameter of B against A's
local wdiff = 0
for i, p in ipairs(B.GD:parameters()) do
  local q = i <= #A.G:parameters() and A.G:parameters()[i] or A.D:parameters()[i - #A.G:parameters()]
  wdiff = math.max(wdiff, (p - q):abs():max():item())
end
print(("largest loss difference, one network (frozen) vs two optimizers: %.3g over %d steps"):format(worst, opt.iters))
print(("largest weight difference at the end: %.3g"):format(wdiff))
print(("without the freeze the losses drift apart: largest difference %.3g"):format(worst_c))
if worst > opt.tol then
  error(("the one-network form did not train like the two-optimizer form: difference %.3g > --tol=%g"):format(worst,
    opt.tol), 0)
end
print(("same training: yes (within --tol=%g); table in %s/freeze.csv"):format(opt.tol, opt.out))
