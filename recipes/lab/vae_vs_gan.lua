--- vae_vs_gan — a VAE and a DCGAN trained with the same budget, side by side.
-- @paper Kingma, Welling. Auto-Encoding Variational Bayes. 2013. arXiv:1312.6114
-- @year 2013
-- @ja 要点: VAEは尤度(ELBO)を最大化するため、画素ごとの誤差の平均に引っ張られてサンプルがぼやける。GANは識別器をだますように学習するため鮮明だが、多様性の欠落(モード崩壊)が起こりうる。
-- @ja 同じ反復数・バッチ・特徴マップ数で recipes/vae.lua と recipes/dcgan.lua を学習し、サンプルを左右に並べ、それぞれのFD(分類器の特徴空間でのFréchet距離)を比べる。
-- @en Key points: a VAE maximises a likelihood bound (the ELBO), so its samples are pulled towards per-pixel averages and look blurry; a GAN learns to fool a discriminator, so its samples are sharp but may miss modes.
-- @en recipes/vae.lua and recipes/dcgan.lua train with the same iterations, batch and feature maps; their samples go side by side and each gets its FD (Fréchet distance in the classifier's feature space).

local gan = require "gan"

local opt = gan.options {
  iters = 2000,           -- training iterations of each model (the same budget: same steps, same batch)
  nf = 64,                -- feature maps of both models (DCGAN's default)
  gap = 8,                -- pixels between the two grids in the figure
  out = "runs/vae_vs_gan", -- run folder: dcgan/ and vae/ inside, and vae_vs_gan.png
}
if opt.iters < 1 then error("--iters must be >= 1", 0) end
if opt.gap < 0 then error("--gap must be >= 0", 0) end
assert(gan.io.mkdir(opt.out))
-- the same options for both runs; each samples once, at the end, from its own fixed noise
local function train(name)
  local dir = opt.out .. "/" .. name
  local o = {
    iters = opt.iters, batch = opt.batch, nf = opt.nf, seed = opt.seed, threads = opt.threads, limit = opt.limit,
    size = opt.size, data = opt.data, sample_every = opt.iters, save_every = opt.save_every, eval = opt.eval,
    eval_samples = opt.eval_samples, resume = opt.resume, force = not opt.resume, out = dir,
  }
  print("== " .. table.concat(gan.recipes.argv(name, o), " "))
  local t0 = gan.clock()
  local ok, _, why = gan.recipes.run(name, o)
  if not ok then error(("the %s run failed: %s"):format(name, why), 0) end
  return dir, (gan.clock() - t0) / 60
end

local function fd_of(dir)
  local f = io.open(dir .. "/metrics.json", "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return tonumber(text:match('"fd"%s*:%s*([-%d.eE+]+)'))
end

local results = {}
for i, name in ipairs({ "dcgan", "vae" }) do
  local dir, minutes = train(name)
  local grid = gan.image.load(("%s/samples/step_%06d.png"):format(dir, opt.iters))
  if not grid then error(("%s wrote no sample grid at step %d"):format(name, opt.iters), 0) end
  results[i] = { name = name, dir = dir, minutes = minutes, grid = grid, fd = fd_of(dir) }
end

-- the figure: DCGAN's grid on the left, the VAE's on the right
local a, b = results[1].grid, results[2].grid
local H = math.max(a:size(2), b:size(2))
local canvas = gan.ones(a:size(1), H, a:size(3) + opt.gap + b:size(3))
canvas:narrow(2, 1, a:size(2)):narrow(3, 1, a:size(3)):copy_(a)
canvas:narrow(2, 1, b:size(2)):narrow(3, a:size(3) + opt.gap + 1, b:size(3)):copy_(b)
local path = opt.out .. "/vae_vs_gan.png"
assert(gan.image.save(path, canvas))

local lines = { ("%-6s %8s %10s"):format("model", "minutes", "FD"), }
for _, r in ipairs(results) do
  lines[#lines + 1] = ("%-6s %8.1f %10s"):format(r.name, r.minutes, r.fd and ("%.2f"):format(r.fd) or "-")
end
lines[#lines + 1] = ("(%d iterations of batch %d each; left DCGAN, right VAE: %s)"):format(opt.iters, opt.batch, path)
local f = assert(io.open(opt.out .. "/summary.txt", "w"))
for _, l in ipairs(lines) do print(l); f:write(l, "\n") end
f:close()
