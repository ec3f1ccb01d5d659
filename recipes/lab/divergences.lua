--- Lab: divergences — JSD saturates where the Wasserstein distance does not, and the saturating G loss loses its gradient.
-- @paper Arjovsky, Chintala, Bottou. Wasserstein GAN. 2017. arXiv:1701.07875
-- @year 2017
-- @ja 要点: 二つの分布 P=N(0,σ²) と Q=N(θ,σ²) を離していくと、JSダイバージェンスは log 2 で飽和し θ についての勾配が消えるが、Wasserstein距離 W1=|θ| は線形に増え続け勾配を保つ。
-- @ja また識別器Dを最適に近づけると、飽和型のG損失 log(1-D(G(z))) の勾配は指数的に0へ消え、非飽和型 -log D(G(z)) の勾配は残る(Arjovsky & Bottou 2017)。
-- @en Key points: as P = N(0, σ²) and Q = N(θ, σ²) move apart, the Jensen-Shannon divergence saturates at log 2 and its gradient in θ vanishes, while the Wasserstein distance W1 = |θ| keeps growing linearly and keeps its gradient.
-- @en And as the discriminator D nears optimality, the gradient of the saturating G loss log(1 - D(G(z))) vanishes exponentially while the non-saturating -log D(G(z)) keeps one (Arjovsky & Bottou 2017).

local gan = require "gan"
local nn, F = gan.nn, gan.F
local div = gan.divergences

local opt = gan.options {
  sigma = 0.05,           -- standard deviation σ of both Gaussians
  theta_max = 2.0,        -- θ runs over [-theta_max, theta_max]
  points = 41,            -- number of θ values
  d_steps = 300,          -- steps of the discriminator trained at each θ to estimate the JSD (0: none)
  samples = 512,          -- samples from each distribution per step
  hidden = 64,            -- units of the discriminators' hidden layers
  lr = 1e-3,              -- Adam learning rate of the discriminators
  theta_far = 1.0,        -- part 2: where Q sits while D is trained
  train_steps = 3000,     -- part 2: discriminator steps
  measure_every = 20,     -- part 2: measure G's gradients every N steps
  out = "runs/divergences", -- folder for the plots and tables
}
if opt.sigma <= 0 then error("--sigma must be > 0", 0) end
if opt.points < 2 then error("--points must be >= 2", 0) end
if opt.theta_max <= 0 then error("--theta_max must be > 0", 0) end
if opt.measure_every < 1 then error("--measure_every must be >= 1", 0) end
if opt.threads > 0 then gan.set_threads(opt.threads) end
assert(gan.io.mkdir(opt.out))
local sigma, LOG2 = opt.sigma, math.log(2)

local function csv(path, header, rows)
  local f = assert(io.open(path, "w"))
  f:write(table.concat(header, ","), "\n")
  for _, r in ipairs(rows) do
    local cells = {}
    for i, v in ipairs(r) do cells[i] = ("%.6g"):format(v) end
    f:write(table.concat(cells, ","), "\n")
  end
  f:close()
end

local function discriminator()
  return gan.nets.mlp({ 1, opt.hidden, opt.hidden, 1 }, { act = function() return gan.nn.LeakyReLU(0.2) end })
end

-------------------------------------------------------------------------------
-- Part 1: JSD and W1 between N(0, σ²) and N(θ, σ²), computed and estimated

-- densities on a grid wide enough for every θ, and the exact distances from them
local lo, hi = -opt.theta_max - 8 * sigma, opt.theta_max + 8 * sigma
local dx = sigma / 40
local xs = {}
for x = lo, hi + dx / 2, dx do xs[#xs + 1] = x end
local function density(mu)
  local out, c = {}, 1 / (sigma * math.sqrt(2 * math.pi))
  for i, x in ipairs(xs) do out[i] = c * math.exp(-0.5 * ((x - mu) / sigma) ^ 2) end
  return out
end
local function w1(p, q)     -- ∫ |F_P - F_Q| dx
  local fp, fq, sum = 0, 0, 0
  for i = 1, #p do
    fp, fq = fp + p[i] * dx, fq + q[i] * dx
    sum = sum + math.abs(fp - fq) * dx
  end
  return sum
end

-- the JSD a discriminator finds: half the f-GAN bound of the js divergence, trained to its maximum
local function jsd_by_discriminator(theta)
  local D = discriminator()
  local optD = gan.optim.Adam(D, { lr = opt.lr, betas = { 0.5, 0.999 } })
  local function batch(n) return gan.randn(n, 1) * sigma, gan.randn(n, 1) * sigma + theta end
  for _ = 1, opt.d_steps do
    local xp, xq = batch(opt.samples)
    optD:step(div.d_loss("js", D(xp), D(xq)))
  end
  local xp, xq = batch(4 * opt.samples)
  return gan.no_grad(function() return div.bound("js", D(xp), D(xq)):item() / 2 end)
end

-- W1 from samples: in one dimension, the mean distance between sorted samples
local function w1_by_samples(theta)
  local a = (gan.randn(opt.samples) * sigma):totable()
  local b = (gan.randn(opt.samples) * sigma + theta):totable()
  table.sort(a); table.sort(b)
  local s = 0
  for i = 1, #a do s = s + math.abs(a[i] - b[i]) end
  return s / #a
end

print(("== %s\npart 1: P = N(0, %g^2), Q = N(theta, %g^2)"):format(opt.out, sigma, sigma))
print(("%8s %10s %10s %10s %10s"):format("theta", "JSD", "JSD by D", "W1", "W1 by x"))
local p = density(0)
local rows1, thetas, jsd, jsd_d, wd, wd_s = {}, {}, {}, {}, {}, {}
for i = 1, opt.points do
  local theta = -opt.theta_max + 2 * opt.theta_max * (i - 1) / (opt.points - 1)
  local q = density(theta)
  thetas[i] = theta
  jsd[i] = div.f_divergence("js", p, q, dx) / 2     -- D_js is twice the JSD
  wd[i] = w1(p, q)
  jsd_d[i] = opt.d_steps > 0 and jsd_by_discriminator(theta) or 0 / 0
  wd_s[i] = w1_by_samples(theta)
  rows1[i] = { theta, jsd[i], jsd_d[i], wd[i], wd_s[i] }
  local by_d = jsd_d[i] == jsd_d[i] and ("%10.4f"):format(jsd_d[i]) or ("%10s"):format("-")
  print(("%8.3f %10.4f %s %10.4f %10.4f"):format(theta, jsd[i], by_d, wd[i], wd_s[i]))
end
csv(opt.out .. "/distances.csv", { "theta", "jsd", "jsd_by_d", "w1", "w1_by_samples" }, rows1)

-- the slopes in θ away from 0: JSD's vanishes, W1's stays 1
local k = opt.points - 1
local slope_j = (jsd[k + 1] - jsd[k]) / (thetas[k + 1] - thetas[k])
local slope_w = (wd[k + 1] - wd[k]) / (thetas[k + 1] - thetas[k])
print(("at theta = %g: JSD = %.4f (log 2 = %.4f), dJSD/dtheta = %.2e; W1 = %.4f, dW1/dtheta = %.4f"):format(
  thetas[k + 1], jsd[k + 1], LOG2, slope_j, wd[k + 1], slope_w))

local grey = { 0.5, 0.5, 0.5 }
local img1 = gan.plot.lines_image({
  { x = thetas, y = wd, label = "Wasserstein-1" },
  { x = thetas, y = jsd, label = "Jensen-Shannon" },
  { x = thetas, y = wd_s, label = "W1 from samples", dash = 4, width = 1, color = { 0.05, 0.25, 0.45 } },
  { x = thetas, y = jsd_d, label = "JSD found by D", dash = 4, width = 1, color = { 0.6, 0.3, 0.0 } },
  { x = { thetas[1], thetas[#thetas] }, y = { LOG2, LOG2 }, label = "log 2", dash = true, width = 1, color = grey },
}, { title = ("P = N(0, %g^2), Q = N(theta, %g^2)"):format(sigma, sigma), xlabel = "theta", ylabel = "distance",
  legend = "top" })

-------------------------------------------------------------------------------
-- Part 2: G's gradient under both losses while D is trained towards optimality

local theta = gan.tensor({ opt.theta_far }):requires_grad(true)     -- G(z) = θ + σ z
local D = discriminator()
local optD = gan.optim.Adam(D, { lr = opt.lr, betas = { 0.5, 0.999 } })
local steps, lossD, g_sat, g_ns, rows2 = {}, {}, {}, {}, {}
print(("part 2: Q = N(%g, %g^2) held still, D trained %d steps"):format(opt.theta_far, sigma, opt.train_steps))
print(("%8s %10s %14s %14s"):format("D step", "D loss", "|grad| sat.", "|grad| non-sat."))
for s = 0, opt.train_steps do
  if s > 0 then
    local real, fake = gan.randn(opt.samples, 1) * sigma, gan.randn(opt.samples, 1) * sigma + theta:detach()
    optD:step(F.logistic_d(D(real), D(fake)))
  end
  if s % opt.measure_every == 0 then
    local real = gan.randn(4 * opt.samples, 1) * sigma
    local fake = gan.randn(4 * opt.samples, 1) * sigma + theta
    local l = gan.no_grad(function() return F.logistic_d(D(real), D(fake:detach())):item() end)
    -- d/dθ of E log(1 - D(G(z))) (saturating) and of -E log D(G(z)) (non-saturating)
    local gs = math.abs(gan.grad(F.logistic_g_minimax(D(fake)), theta, { retain_graph = true }):item())
    local gn = math.abs(gan.grad(F.logistic_g(D(fake)), theta):item())
    local i = #steps + 1
    steps[i], lossD[i], g_sat[i], g_ns[i] = s, l, gs, gn
    rows2[i] = { s, l, gs, gn }
    if s % (opt.measure_every * 10) == 0 or s == opt.train_steps then
      print(("%8d %10.4g %14.4g %14.4g"):format(s, l, gs, gn))
    end
  end
end
csv(opt.out .. "/gradients.csv", { "d_step", "d_loss", "grad_saturating", "grad_nonsaturating" }, rows2)
print(("after %d D steps: D loss %.3g; |grad| saturating %.3g (%.3g at the start), non-saturating %.3g"):format(
  steps[#steps], lossD[#lossD], g_sat[#g_sat], g_sat[1], g_ns[#g_ns]))

local img2 = gan.plot.lines_image({
  { x = steps, y = g_ns, label = "-log D(G(z))  non-saturating" },
  { x = steps, y = g_sat, label = "log(1 - D(G(z)))  saturating" },
}, { title = "G's gradient as D nears optimality", xlabel = "discriminator steps", ylabel = "|dL_G/dtheta|",
  logy = true, legend = "bottom_left", width = 560, ymin = math.min(1e-6, g_sat[#g_sat] / 100) })
local img3 = gan.plot.lines_image({ { x = steps, y = lossD, color = grey } },
  { title = "D's loss", xlabel = "discriminator steps", logy = true, width = 420, font = 2 })

assert(gan.io.save_png(opt.out .. "/distances.png", img1))
assert(gan.plot.save_row(opt.out .. "/gradients.png", { img2, img3 }))
print(("plots: %s/distances.png, %s/gradients.png; tables: distances.csv, gradients.csv"):format(opt.out, opt.out))
