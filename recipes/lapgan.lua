--- LAPGAN — a Laplacian pyramid of GANs: a coarse image, then conditional GANs adding the detail of each finer level.
-- @paper Denton, Chintala, Szlam, Fergus. Deep Generative Image Models using a Laplacian Pyramid of Adversarial Networks. 2015. arXiv:1506.05751
-- @year 2015
-- @ja 要点: 画像をラプラシアンピラミッド(縮小画像と各解像度の差分=高周波成分)に分解し、解像度ごとに別のGANを学習する。最も粗い8x8は通常のGAN。
-- @ja それより細かい各レベルは、1つ粗い画像を拡大したもの l を条件とする条件付きGANで、差分(残差)h を生成し l + h を次の画像とする。生成は粗→細の順に連鎖させる(8 → 16 → 32)。各GANは小さく、独立に学習できる。
-- @en Key points: an image is split into a Laplacian pyramid (a small image and, at each resolution, the difference to the upsampled coarser one: the high frequencies); each level has its own GAN, the coarsest (8x8) an ordinary one.
-- @en Each finer level is a conditional GAN: given l, the coarser image upsampled, it generates the residual h, and l + h is the next image; sampling chains the levels coarse to fine (8 -> 16 -> 32). Each GAN is small and trains on its own.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of images
  size = 32,              -- final image size: 16, 32 or 64 (the pyramid starts at 8x8)
  channels = 1,           -- channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)
  nz = 100,               -- dimension of the noise z of the 8x8 level
  nf = 64,                -- feature maps of every level's networks
  lr = 2e-4,              -- Adam learning rate
  beta1 = 0.5,            -- Adam beta1
  iters = 3000,           -- training iterations (each updates every level)
  out = "runs/lapgan",    -- run folder
}
local L = ({ [16] = 1, [32] = 2, [64] = 3 })[opt.size]
if not L then error("--size must be 16, 32 or 64", 0) end

local data = gan.data.load(opt.data, opt)
if data.kind == "points" then error("--data must be images (fashion-mnist or a folder)", 0) end
local C = data.x:size(2)
local nf = opt.nf

local function down(x) return x:avg_pool2d(2) end
local function up(x) return x:upsample({ scale = 2 }, "bilinear") end

-- level 0: an ordinary DCGAN-like pair at 8x8
local G, D = {}, {}
G[0] = nn.Sequential { nn.ConvTranspose2d(opt.nz, nf * 2, 4, 1, 0), nn.BatchNorm2d(nf * 2), nn.ReLU(),   -- 4x4
                       nn.ConvTranspose2d(nf * 2, C, 4, 2, 1), nn.Tanh() }                              -- 8x8
D[0] = nn.Sequential { nn.Conv2d(C, nf, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(nf, 1, 4, 1, 0), nn.Flatten() }
-- levels 1..L: G_k(l, noise plane) -> residual h at the level's size; D_k(h, l) -> logit
for k = 1, L do
  local s = 8 * 2 ^ k
  G[k] = nn.Sequential {
    nn.Conv2d(C + 1, nf, 3, 1, 1), nn.BatchNorm2d(nf), nn.ReLU(),
    nn.Conv2d(nf, nf, 3, 1, 1), nn.BatchNorm2d(nf), nn.ReLU(),
    nn.Conv2d(nf, C, 3, 1, 1),                      -- a residual: no squashing
  }
  D[k] = nn.Sequential {
    nn.Conv2d(2 * C, nf, 4, 2, 1), nn.LeakyReLU(0.2),
    nn.Conv2d(nf, nf * 2, 4, 2, 1), nn.BatchNorm2d(nf * 2), nn.LeakyReLU(0.2),
    nn.Flatten(), nn.Linear(nf * 2 * (s // 4) ^ 2, 1),
  }
end

local state = { data = data }
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG, optD = {}, {}
for k = 0, L do
  G[k]:apply(nn.init.dcgan)
  D[k]:apply(nn.init.dcgan)
  optG[k], optD[k] = gan.optim.Adam(G[k], adam), gan.optim.Adam(D[k], adam)
  state["G" .. k], state["D" .. k], state["optG" .. k], state["optD" .. k] = G[k], D[k], optG[k], optD[k]
end

-- G_k's input: the coarse image l and one plane of noise
local function refine(k, l)
  return G[k](gan.cat({ l, gan.randn(l:size(1), 1, l:size(3), l:size(4)) }, 2))
end

-- coarse to fine: every level's image, and the residuals added
local function chain(n)
  local imgs, res = { [0] = G[0](gan.randn(n, opt.nz, 1, 1)) }, {}
  for k = 1, L do
    local l = up(imgs[k - 1])
    res[k] = refine(k, l)
    imgs[k] = (l + res[k]):clamp(-1, 1)
  end
  return imgs, res
end
-- n final images, in chunks
local function sample(n)
  local out = {}
  for i = 1, n, 500 do out[#out + 1] = chain(math.min(500, n - i + 1))[L] end
  return #out == 1 and out[1] or gan.cat(out, 1)
end

-- one GAN update of level k on real images x (level 0) or residuals h given l
local function update(k, real, l)
  local n = real:size(1)
  local fake = k == 0 and G[0](gan.randn(n, opt.nz, 1, 1)) or refine(k, l)
  local function Dk(x) return k == 0 and D[0](x) or D[k](gan.cat({ x, l }, 2)) end
  local lossD = F.bce_logits(Dk(real), 1) + F.bce_logits(Dk(fake:detach()), 0)
  optD[k]:step(lossD)
  local lossG = F.bce_logits(Dk(fake), 1)
  optG[k]:step(lossG)
  return lossD, lossG
end

-- The quality after each level, on Fashion-MNIST: n chains; the image after level k (k = 0 the 8x8 one,
-- k = L the final) taken to the final size by the pyramid's own upsampling, bilinear x2 L - k times (the
-- image the chain would end with if every finer residual were 0), and its FD against the reference
-- (gan.metrics.fd): fd_level<k>. fd_real_level<k>: the same for n test images reduced to level k by the
-- pyramid's halvings and brought back: what a level that drew real images would score.
local real_fd = {}
local function to_final(x, k)
  for _ = k + 1, L do x = up(x) end
  return x
end
local function eval(_, n)
  if opt.data ~= "fashion-mnist" or not n or n < 10 then return {} end
  local r, levels = {}, {}
  for k = 0, L do levels[k] = {} end
  for i = 1, n, 500 do
    local imgs = chain(math.min(500, n - i + 1))
    for k = 0, L do levels[k][#levels[k] + 1] = to_final(imgs[k], k) end
  end
  for k = 0, L do r["fd_level" .. k] = gan.metrics.fd(#levels[k] == 1 and levels[k][1] or gan.cat(levels[k], 1)) end
  local m = math.min(n, 10000)   -- the test split's size
  if not real_fd[m] then
    local x = gan.data.load("fashion-mnist", { limit = m, size = opt.size }, { split = "test" }).x
    real_fd[m] = {}
    for k = L - 1, 0, -1 do   -- level L would be the floor, which every evaluation prints
      x = down(x)
      real_fd[m][k] = gan.metrics.fd(to_final(x, k))
    end
  end
  for k = 0, L - 1 do r["fd_real_level" .. k] = real_fd[m][k] end
  return r
end

local summary = gan.train(opt, state, function(x)
  -- the real pyramid: I[L] = x, I[k-1] = I[k] halved; level k learns h = I[k] - up(I[k-1])
  local I = { [L] = x }
  for k = L, 1, -1 do I[k - 1] = down(I[k]) end
  local logs = {}
  for k = 0, L do
    local l = k > 0 and up(I[k - 1]) or nil
    local lossD, lossG = update(k, k == 0 and I[0] or I[k] - l, l)
    logs["D" .. k], logs["G" .. k] = lossD, lossG
  end
  return logs
end, { sample = sample, eval = eval })

-- the pyramid of 8 samples: each row shows level 0, then for each finer level its residual (x2, gray = 0) and image
gan.no_grad(function()
  local imgs, res = table.unpack(gan.random.keyed("lapgan.chain", 0, function() return { chain(8) } end))
  local function show(x) return x:upsample({ size = { opt.size, opt.size } }, "nearest") end
  local cols = { show(imgs[0]) }
  for k = 1, L do
    cols[#cols + 1] = show((res[k] * 2):clamp(-1, 1))
    cols[#cols + 1] = show(imgs[k])
  end
  local cells = {}
  for i = 1, 8 do
    for _, c in ipairs(cols) do cells[#cells + 1] = c:narrow(1, i, 1) end
  end
  local path = ("%s/levels_step%06d.png"):format(opt.out, summary.step)
  gan.image.save_grid(path, gan.cat(cells, 1), { nrow = #cols })
  print("levels: " .. path)
end)
