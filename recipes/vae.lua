--- VAE — variational autoencoder: a likelihood model to set beside the GANs.
-- @paper Kingma, Welling. Auto-Encoding Variational Bayes. 2013. arXiv:1312.6114
-- @year 2013
-- @ja 要点: エンコーダq(z|x)が平均μと分散σ²を出力し、再パラメータ化トリック z = μ + σ⊙ε (ε ~ N(0, I)) で勾配を通す。
-- @ja 損失は負のELBO = 再構成誤差 - E[log p(x|z)] + KL(q(z|x) || N(0, I))。生成はN(0, I)からzを引いてデコーダに通す。画素ごとの尤度で学習するため、GANに比べてサンプルがぼやける。
-- @en Key points: an encoder q(z|x) outputs a mean μ and variance σ²; the reparameterization trick z = μ + σ⊙ε (ε ~ N(0, I)) lets gradients through the sampling.
-- @en The loss is the negative ELBO: reconstruction -E[log p(x|z)] plus KL(q(z|x) || N(0, I)); samples decode z ~ N(0, I). Trained on a per-pixel likelihood, its samples are blurrier than a GAN's.

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  data = "fashion-mnist", -- fashion-mnist, or a folder of images
  size = 32,              -- image size: a power of two from 16
  channels = 1,           -- channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)
  nz = 32,                -- dimension of the latent z
  nf = 32,                -- feature maps of the decoder's last and the encoder's first layer
  beta = 1.0,             -- weight of the KL term (1: the ELBO)
  lr = 1e-3,              -- Adam learning rate
  iters = 3000,           -- training iterations
  out = "runs/vae",       -- run folder
}
if opt.beta < 0 then error("--beta must be >= 0", 0) end

local data = gan.data.load(opt.data, opt)
if data.kind == "points" then error("--data must be images (fashion-mnist or a folder)", 0) end
local C = data.x:size(2)

-- encoder: DCGAN's discriminator body, then two heads: μ and log σ² of q(z|x)
local body, c = gan.nets.dcgan.body(C, opt.size, opt.nf)
local E = nn.Heads(body, nn.Sequential { nn.Conv2d(c, opt.nz, 4, 1, 0) },
                         nn.Sequential { nn.Conv2d(c, opt.nz, 4, 1, 0) })
-- decoder: DCGAN's generator body giving per-pixel Bernoulli logits; G shows them as images in [-1, 1]
local dec = gan.nets.dcgan.generator(opt.nz, C, opt.size, opt.nf, { out = "none" })
local G = nn.Sequential { dec, nn.Lambda(function(l) return (l * 0.5):tanh() end, "2 sigmoid(l) - 1") }

local optim = gan.optim.Adam({ E, dec }, { lr = opt.lr })
local function noise(n) return gan.randn(n, opt.nz, 1, 1) end

gan.train(opt, { G = G, E = E, optim = optim, data = data }, function(x)
  local n = x:size(1)
  local mu, logvar = E(x)
  local z = mu + (logvar * 0.5):exp() * gan.randn(mu:shape())     -- reparameterization
  -- -log p(x|z): intensities in [0, 1] as Bernoulli means, summed over pixels
  local rec = F.bce_logits(dec(z), (x + 1) * 0.5, "sum") / n
  local kl = F.kl_normal(mu, logvar)
  local loss = rec + opt.beta * kl
  optim:step(loss)
  return { loss = loss, rec = rec, KL = kl }
end, { noise = noise })

-- reconstructions of test images (of training images when there is no test split): each real row, then its reconstruction
gan.no_grad(function()
  local ok, test = pcall(gan.data.load, opt.data, gan.options.with(opt, { limit = 32 }), { split = "test" })
  if not ok then test = data end
  local x = test.x:narrow(1, 1, math.min(32, test.x:size(1)))
  local mu = E(x)
  local rows = {}
  for i = 1, x:size(1), 8 do
    local m = math.min(8, x:size(1) - i + 1)
    rows[#rows + 1] = x:narrow(1, i, m)
    rows[#rows + 1] = G(mu:narrow(1, i, m))
  end
  gan.image.save_grid(opt.out .. "/reconstructions.png", gan.cat(rows, 1), { nrow = 8 })
end)
