--- Lab: D/G balance — a discriminator trained much faster than its generator wins, and G's gradient dies.
-- @paper Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville, Bengio. Generative Adversarial Nets. 2014. arXiv:1406.2661
-- @year 2014
-- @ja 要点: Dを速く学習させすぎる(GのステップごとにDをkステップ、Dの学習率をGの数倍)と、Dは本物と偽物を完全に見分け、Dの損失は0に近づく。
-- @ja このとき D(G(z))→0 となり、飽和型のG損失 log(1-D(G(z))) の勾配ノルムが崩壊してGは学習できなくなる。同じ条件でDとGの釣り合いがとれた設定と並べて比べる。
-- @en Key points: train D much faster than G (k D steps per G step, a larger learning rate for D) and D separates real from fake perfectly: its loss goes to 0.
-- @en Then D(G(z)) -> 0, the gradient norm of the saturating G loss log(1 - D(G(z))) collapses and G stops learning; a balanced setting with the same budget and seed is shown beside it.

local gan = require "gan"
local F = gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a toy set: 8gaussians, 25gaussians
  size = 28,              -- image size in pixels (images only)
  k = 5,                  -- D steps per G step in the fast-D setting
  lr_ratio = 10.0,        -- D's learning rate over G's in the fast-D setting
  nonsat = false,         -- train G with the non-saturating -log D(G(z)) instead of log(1 - D(G(z)))
  nz = 64,                -- dimension of the noise z
  hidden = 256,           -- units of the hidden layers
  lr = 2e-4,              -- Adam learning rate of G (and of D in the balanced setting)
  beta1 = 0.5,            -- Adam beta1
  iters = 1500,           -- G steps per setting
  smooth = 25,            -- the plots show moving averages over this many G steps
  out = "runs/dg_balance", -- folder for the plots, tables and sample grids
}
if opt.k < 1 then error("--k must be >= 1", 0) end
if opt.lr_ratio <= 0 then error("--lr_ratio must be > 0", 0) end
if opt.smooth < 1 then error("--smooth must be >= 1", 0) end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))

local settings = {
  { name = "balanced", label = "balanced: k = 1, same lr", k = 1, ratio = 1 },
  { name = "fast_d", label = ("fast D: k = %d, D lr x%g"):format(opt.k, opt.lr_ratio), k = opt.k, ratio = opt.lr_ratio },
}

local data = gan.data.load(opt.data, opt)

-- One run: returns per-G-step series {d_loss, g_grad, d_real, d_fake}.
local function run(s)
  gan.manual_seed(opt.seed)
  data:load_state_dict({ seed = opt.seed })      -- the same batches in the same order for every setting
  local points = data.kind == "points"
  local dim = data.x[1]:numel()
  local mlp = gan.nets.mlp
  local G = mlp({ opt.nz, opt.hidden, opt.hidden, dim })
  if not points then G:add(gan.nn.Tanh()):add(gan.nn.Reshape(data.x[1]:shape())) end
  local D = gan.nn.Sequential { gan.nn.Flatten(), mlp({ dim, opt.hidden, opt.hidden, 1 }, { act = function() return gan.nn.LeakyReLU(0.2) end }) }
  local optG = gan.optim.Adam(G, { lr = opt.lr, betas = { opt.beta1, 0.999 } })
  local optD = gan.optim.Adam(D, { lr = opt.lr * s.ratio, betas = { opt.beta1, 0.999 } })
  local params = G:parameters()
  local out = { d_loss = {}, g_grad = {}, d_real = {}, d_fake = {} }
  local t0 = gan.clock()
  for step = 1, opt.iters do
    local lossD, d_real, d_fake
    for _ = 1, s.k do
      local real = data:next()
      local fake = G(gan.randn(real:size(1), opt.nz)):detach()
      d_real, d_fake = D(real), D(fake)
      lossD = F.logistic_d(d_real, d_fake)
      optD:step(lossD)
    end
    local logits = D(G(gan.randn(opt.batch, opt.nz)))
    local lossG = opt.nonsat and F.logistic_g(logits) or F.logistic_g_minimax(logits)
    local grads = gan.grad(lossG, params)
    local sq = 0
    for _, g in ipairs(grads) do sq = sq + g:square():sum():item() end
    optG:step(grads)
    out.d_loss[step], out.g_grad[step] = lossD:item(), math.sqrt(sq)
    out.d_real[step], out.d_fake[step] = d_real:sigmoid():mean():item(), d_fake:sigmoid():mean():item()
  end
  out.seconds = gan.clock() - t0
  -- what G makes at the end
  gan.manual_seed(opt.seed + 1)
  local x = gan.no_grad(function() return G(gan.randn(points and 1000 or 64, opt.nz)) end)
  local path = ("%s/samples_%s.png"):format(opt.out, s.name)
  if points then
    gan.image.scatter(path, x, { reference = data.x:narrow(1, 1, math.min(2000, data:size())), size = 320 })
  else
    gan.image.save_grid(path, x, { nrow = 8 })
  end
  return out
end

local function moving_average(v, w)
  local out, sum = {}, 0
  for i = 1, #v do
    sum = sum + v[i]
    if i > w then sum = sum - v[i - w] end
    out[i] = sum / math.min(i, w)
  end
  return out
end

local function mean_of_last(v, frac)
  local n = math.max(1, math.floor(#v * frac))
  local s = 0
  for i = #v - n + 1, #v do s = s + v[i] end
  return s / n
end

print(("== %s: %s, G loss %s, %d G steps per setting"):format(opt.out, opt.data,
  opt.nonsat and "-log D(G(z))" or "log(1 - D(G(z)))", opt.iters))
local results = {}
for i, s in ipairs(settings) do
  results[i] = run(s)
  print(("%-30s %6.1f s"):format(s.label, results[i].seconds))
end

-- the table: both settings side by side
local f = assert(io.open(opt.out .. "/balance.csv", "w"))
f:write("g_step")
for _, s in ipairs(settings) do
  for _, c in ipairs({ "d_loss", "g_grad", "d_real", "d_fake" }) do f:write((",%s_%s"):format(s.name, c)) end
end
f:write("\n")
for step = 1, opt.iters do
  f:write(step)
  for i = 1, #settings do
    local r = results[i]
    f:write((",%.6g,%.6g,%.6g,%.6g"):format(r.d_loss[step], r.g_grad[step], r.d_real[step], r.d_fake[step]))
  end
  f:write("\n")
end
f:close()

print(("%8s | %10s %12s %8s | %10s %12s %8s"):format("G step", "D loss", "|grad G|", "D(G(z))", "D loss", "|grad G|",
  "D(G(z))"))
print(("%8s | %-32s | %-32s"):format("", settings[1].name, settings[2].name))
local every = math.max(1, opt.iters // 10)
for step = every, opt.iters, every do
  local a, b = results[1], results[2]
  print(("%8d | %10.4g %12.4g %8.3g | %10.4g %12.4g %8.3g"):format(step, a.d_loss[step], a.g_grad[step], a.d_fake[step],
    b.d_loss[step], b.g_grad[step], b.d_fake[step]))
end
for i, s in ipairs(settings) do
  local r = results[i]
  print(("%s, last 10%% of steps: D loss %.4g, |grad G| %.4g, D(x) %.3f, D(G(z)) %.3g"):format(s.name,
    mean_of_last(r.d_loss, 0.1), mean_of_last(r.g_grad, 0.1), mean_of_last(r.d_real, 0.1), mean_of_last(r.d_fake, 0.1)))
end

-- the plots: D's loss and G's gradient norm over G steps, moving averages
local steps = {}
for i = 1, opt.iters do steps[i] = i end
local loss_series, grad_series = {}, {}
for i, s in ipairs(settings) do
  loss_series[i] = { x = steps, y = moving_average(results[i].d_loss, opt.smooth), label = s.label }
  grad_series[i] = { x = steps, y = moving_average(results[i].g_grad, opt.smooth), label = s.label }
end
-- room under the lowest line for the legend
local function floor_of(series)
  local m = math.huge
  for _, s in ipairs(series) do for _, v in ipairs(s.y) do if v > 0 then m = math.min(m, v) end end end
  return 10 ^ (math.floor(math.log(m, 10)) - 2)
end
local a = gan.plot.lines_image(loss_series, { title = "D's loss", xlabel = "G steps", ylabel = "log loss", logy = true,
  width = 480, legend = "bottom_left", ymin = floor_of(loss_series) })
local b = gan.plot.lines_image(grad_series, { title = "norm of G's gradient", xlabel = "G steps", ylabel = "|grad|",
  logy = true, width = 480, legend = "bottom_left", ymin = floor_of(grad_series) })
assert(gan.plot.save_row(opt.out .. "/balance.png", { a, b }))
print(("plot: %s/balance.png; table: balance.csv; samples: samples_balanced.png, samples_fast_d.png"):format(opt.out))
