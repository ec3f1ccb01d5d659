--- StackGAN — text to image in two stages, with conditioning augmentation.
-- @paper Zhang, Xu, Li, Zhang, Wang, Huang, Metaxas. StackGAN: Text to Photo-realistic Image Synthesis with Stacked Generative Adversarial Networks. 2016. arXiv:1612.03242
-- @year 2016
-- @ja 要点: 文の埋め込みφ_tから2段階で画像を生成する。Stage-Iは文とノイズから粗い低解像度画像(形と色)を、Stage-IIはStage-Iの画像と文から高解像度画像(細部)を生成する。
-- @ja 条件付け拡張(Conditioning Augmentation): φ_tから平均μと分散σ²を出し c = μ + σ⊙ε をサンプルして条件にし、KL(N(μ, σ²) || N(0, I)) を損失に加える。少ない文でも条件空間がなめらかになる。Dは画像と文の組が合っているかも判定する(不一致の組は偽物)。
-- @en Key points: images come from a sentence embedding φ_t in two stages: Stage-I draws a coarse low-resolution image (shape, colour) from the text and noise, Stage-II a high-resolution one (details) from Stage-I's image and the text.
-- @en Conditioning augmentation: φ_t gives a mean μ and variance σ², the condition is c = μ + σ⊙ε, and KL(N(μ, σ²) || N(0, I)) joins the loss, which smooths the conditioning space. D also judges whether image and text match (mismatched pairs count as fake).

local gan = require "gan"
local nn, F = gan.nn, gan.F

local opt = gan.options {
  caption = "",           -- a caption to draw after training, e.g. "a dark wide pullover" (written to caption.png)
  nz = 64,                -- dimension of the noise z
  cdim = 128,             -- dimension of the augmented condition c (the paper's Ng)
  emb = 64,               -- dimension of the text embedding φ_t
  nf = 32,                -- feature maps of the networks
  kl = 2.0,               -- weight of the conditioning augmentation's KL term, averaged over c's dimensions (the paper's code: 2)
  lr = 2e-4,              -- Adam learning rate of both stages
  beta1 = 0.5,            -- Adam beta1
  text_iters = 300,       -- iterations that train the text encoder before the GANs
  iters = 3000,           -- training iterations (each updates both stages)
  out = "runs/stackgan",  -- run folder
}
if opt.kl < 0 then error("--kl must be >= 0", 0) end
for _, k in ipairs({ "nz", "cdim", "emb", "nf" }) do
  if opt[k] < 1 then error(("--%s must be >= 1"):format(k), 0) end
end
if opt.size ~= 32 then error("--size must be 32 (Stage-I draws 16x16, Stage-II 32x32)", 0) end
if opt.text_iters < 0 then error("--text_iters must be >= 0", 0) end

-------------------------------------------------------------------------------
-- Captions: the class and two attributes measured on each image (brightness, width),
-- each split at its class's median so both words occur in every class

local class_words = { "t-shirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
  "ankle-boot" }
local attr_words = { { "dark", "light" }, { "narrow", "wide" } }
local vocab, words = { "<pad>", "a", "and" }, {}
for _, w in ipairs(class_words) do vocab[#vocab + 1] = w end
for _, pair in ipairs(attr_words) do for _, w in ipairs(pair) do vocab[#vocab + 1] = w end end
for i, w in ipairs(vocab) do words[w] = i - 1 end
local L = 5   -- tokens per caption, padded

-- caption words for a class and attributes; `form` picks one of three word orders
local function caption_words(class, a, form)
  local c, b, w = class_words[class + 1], attr_words[1][a[1]], attr_words[2][a[2]]
  if form == 1 then return { "a", b, w, c } end
  if form == 2 then return { "a", w, b, c } end
  return { c, b, "and", w }
end

-- token ids (N, L) and a mask of real tokens (N, L, 1)
local function encode(list)
  local ids, mask = {}, {}
  for i, ws in ipairs(list) do
    ids[i], mask[i] = {}, {}
    for j = 1, L do
      ids[i][j] = ws[j] and words[ws[j]] or 0
      mask[i][j] = { ws[j] and 1 or 0 }
    end
  end
  return gan.tensor(ids, "int64"), gan.tensor(mask)
end

local function parse(text)
  local ws = {}
  text = text:lower():gsub("ankle boots?", "ankle-boot"):gsub("[,.]", " ")
  for w in text:gmatch("%S+") do
    w = ({ trouser = "trousers", pants = "trousers", ["t-shirts"] = "t-shirt", tshirt = "t-shirt", an = "a",
      sneakers = "sneaker", sandals = "sandal", bags = "bag", dresses = "dress", coats = "coat", shirts = "shirt",
      pullovers = "pullover", ["ankle-boots"] = "ankle-boot" })[w] or w
    if not words[w] or w == "<pad>" then
      error(("--caption: unknown word '%s' (words: %s)"):format(w, table.concat(vocab, " ", 2)), 0)
    end
    ws[#ws + 1] = w
  end
  if #ws == 0 or #ws > L then error(("--caption must have 1 to %d words"):format(L), 0) end
  return ws
end

local asked = opt.caption ~= "" and parse(opt.caption) or nil   -- a bad caption fails before training

-- the images and, for each, its class and measured attributes
local data = gan.data.load("fashion-mnist", gan.options.with(opt, { size = 32 }), { labels = true })
local C = 1

local function measure(x)
  local mask = x:gt(-0.8):float()
  local bright = (((x + 1) * 0.5) * mask):sum({ 2, 3, 4 }) / mask:sum({ 2, 3, 4 }):clamp(1, nil)
  local width = mask:max(3):sum({ 2, 3 })     -- columns holding part of the item
  return bright:totable(), width:totable()
end
local labels = data.labels:totable()
local bright, width = measure(data.x)
-- per image: class * 4 + (light and 2 or 0) + (wide and 1 or 0); the iterator hands these codes out as labels
local codes = {}
do
  local function median_split(values)
    local by = {}
    for i, c in ipairs(labels) do by[c] = by[c] or {}; table.insert(by[c], values[i]) end
    local med = {}
    for c, v in pairs(by) do table.sort(v); med[c] = v[(#v + 1) // 2] end
    local out = {}
    for i, c in ipairs(labels) do out[i] = values[i] > med[c] and 1 or 0 end
    return out
  end
  local b, w = median_split(bright), median_split(width)
  for i, c in ipairs(labels) do codes[i] = c * 4 + b[i] * 2 + w[i] end
end
local fashion = data
data = gan.data.from_tensors(data.x, gan.tensor(codes, "int64"), opt, { labels = true })
data.evaluate = fashion.evaluate   -- Fashion-MNIST's images: gan.train measures them as such
local function decode(code) return code // 4, { code // 2 % 2 + 1, code % 2 + 1 } end

-------------------------------------------------------------------------------
-- The text encoder: mean of word vectors, then a layer; trained first to tell
-- class and attributes from the caption, then fixed (as StackGAN's pretrained one)

local Text = nn.Module:extend("TextEncoder")
function Text:init(V, d, out)
  self.embed = nn.Embedding(V, d)
  self.proj = nn.Sequential { nn.Linear(d, out), nn.LeakyReLU(0.2) }
end
function Text:forward(ids, mask)
  local v = (self.embed(ids) * mask):sum(2) / mask:sum(2)
  return self.proj(v)
end
local T = Text(#vocab, 32, opt.emb)
local probe = nn.Linear(opt.emb, 10 + 2 + 2)

-- captions of the codes, each in one of the three word orders (0-based ids)
local function captions(code_list, orders)
  local list = {}
  for i, code in ipairs(code_list) do
    local class, a = decode(code)
    list[i] = caption_words(class, a, orders[i] + 1)
  end
  return list
end
-- n word orders, drawn from the keyed stream (name, key)
local function word_orders(name, key, n)
  return gan.random.keyed(name, key, function() return gan.randint(0, 3, { n }) end):totable()
end

do
  local optT = gan.optim.Adam({ T, probe }, { lr = 1e-3 })
  local loss
  for it = 1, opt.text_iters do
    -- every class and attribute pair, in every word order
    local c = gan.random.keyed("stackgan.text", it, function() return gan.randint(0, 40, { 64 }) end):totable()
    local out = probe(T(encode(captions(c, word_orders("stackgan.text.orders", it, 64)))))
    local y, b, w = {}, {}, {}
    for i, code in ipairs(c) do y[i], b[i], w[i] = code // 4, code // 2 % 2, code % 2 end
    loss = F.cross_entropy(out:narrow(2, 1, 10), gan.tensor(y, "int64"))
      + F.cross_entropy(out:narrow(2, 11, 2), gan.tensor(b, "int64"))
      + F.cross_entropy(out:narrow(2, 13, 2), gan.tensor(w, "int64"))
    optT:step(loss)
  end
  print(("text encoder: %d iterations, last loss %.4f"):format(opt.text_iters, loss and loss:item() or 0))
end
T:lr_mult(0)   -- fixed from now on

-------------------------------------------------------------------------------
-- Conditioning augmentation, the two generators and the matching-aware discriminators

local CA = nn.Module:extend("CondAug")
function CA:init(emb, cdim) self.fc = nn.Linear(emb, 2 * cdim); self.cdim = cdim end
function CA:forward(phi)
  local h = self.fc(phi)
  local mu, logvar = h:narrow(2, 1, self.cdim), h:narrow(2, self.cdim + 1, self.cdim)
  return mu + (logvar * 0.5):exp() * gan.randn(mu:shape()), mu, logvar
end

-- D(x, φ): image features (N, c, 4, 4) joined with a compressed φ replicated over the 4x4 map.
-- The joint layer has no batch norm: matched, fake and mismatched pairs come in batches of their
-- own, and normalising each batch would subtract what a whole batch shares, such as "this text
-- does not match" (with it the classifier agreed with the caption on 41.6% of samples, without 50.6%)
local TextD = nn.Module:extend("TextD")
function TextD:init(size, nf, emb)
  local body, c = gan.nets.dcgan.body(C, size, nf)
  self.body = body
  self.text = nn.Sequential { nn.Linear(emb, 16), nn.LeakyReLU(0.2) }
  self.joint = nn.Sequential { nn.Conv2d(c + 16, c, 1), nn.LeakyReLU(0.2),
    nn.Conv2d(c, 1, 4, 1, 0), nn.Flatten() }
end
function TextD:forward(x, phi)
  local h = self.body(x)
  local t = self.text(phi)
  t = t:reshape(t:size(1), 16, 1, 1):expand(t:size(1), 16, h:size(3), h:size(4))
  return self.joint(gan.cat({ h, t }, 2))
end

local nf, cd = opt.nf, opt.cdim
local CA1, CA2 = CA(opt.emb, cd), CA(opt.emb, cd)
local G1 = gan.nets.dcgan.generator(opt.nz + cd, C, 16, nf * 2)                    -- Stage-I: z, c -> 16x16
local G2 = nn.Sequential {                                              -- Stage-II: 16x16 image, c -> 32x32
  nn.Conv2d(C + cd, nf, 3, 1, 1), nn.BatchNorm2d(nf), nn.ReLU(),
  nn.Conv2d(nf, nf * 2, 4, 2, 1), nn.BatchNorm2d(nf * 2), nn.ReLU(),    -- 16x16
  nn.Conv2d(nf * 2, nf * 2, 3, 1, 1), nn.BatchNorm2d(nf * 2), nn.ReLU(),
  nn.ConvTranspose2d(nf * 2, nf, 4, 2, 1), nn.BatchNorm2d(nf), nn.ReLU(), -- 32x32
  nn.Conv2d(nf, C, 3, 1, 1), nn.Tanh(),
}
G2:apply(nn.init.dcgan)
local D1, D2 = TextD(16, nf, opt.emb), TextD(32, nf, opt.emb)
local adam = { lr = opt.lr, betas = { opt.beta1, 0.999 } }
local optG1, optD1 = gan.optim.Adam({ G1, CA1 }, adam), gan.optim.Adam(D1, adam)
local optG2, optD2 = gan.optim.Adam({ G2, CA2 }, adam), gan.optim.Adam(D2, adam)

local function stage1(z, phi)
  local c, mu, logvar = CA1(phi)
  return G1(gan.cat({ z, c:reshape(c:size(1), cd, 1, 1) }, 2)), mu, logvar
end
local function stage2(x16, phi)
  local c, mu, logvar = CA2(phi)
  local up = x16:upsample({ scale = 2 }, "nearest")
  local planes = c:reshape(c:size(1), cd, 1, 1):expand(c:size(1), cd, 32, 32)
  return G2(gan.cat({ up, planes }, 2)), mu, logvar
end
local function noise(n) return gan.randn(n, opt.nz, 1, 1) end

-- one stage's update, matching-aware: real with its text 1; fake with its text, real with another's text 0
local function update(D, optD, optG, real, fake, phi, mu, logvar)
  local wrong = gan.cat({ phi:narrow(1, 2, phi:size(1) - 1), phi:narrow(1, 1, 1) }, 1)   -- texts shifted by one
  local lossD = F.bce_logits(D(real, phi), 1) + (F.bce_logits(D(fake:detach(), phi), 0)
    + F.bce_logits(D(real, wrong), 0)) * 0.5
  optD:step(lossD)
  local kl = F.kl_normal(mu, logvar)   -- nats, summed over c's dimensions
  local lossG = F.bce_logits(D(fake, phi), 1) + opt.kl / cd * kl
  optG:step(lossG)
  return lossD, lossG, kl
end

-- samples for captions of asked classes, attributes alternating along each row
local function draw(z, y)
  local list = {}
  for i, c in ipairs(y:totable()) do
    list[i] = caption_words(c, { (i - 1) % 2 + 1, (i - 1) // 2 % 2 + 1 }, 1)
  end
  local phi = T(encode(list))
  local x16 = stage1(z, phi)
  return (stage2(x16, phi)), x16
end
local sample = gan.labels.sampler(function(z, y) return (draw(z, y)) end, 10, noise)

local summary = gan.train(opt, { T = T, CA1 = CA1, CA2 = CA2, G1 = G1, G2 = G2, D1 = D1, D2 = D2, optG1 = optG1,
  optD1 = optD1, optG2 = optG2, optD2 = optD2, data = data }, function(batch, step)
  local x32 = batch[1]
  local n = x32:size(1)
  -- the batch's captions from its codes (class and attributes); word orders from a stream of this step
  local list = captions(batch[2]:totable(), word_orders("stackgan.captions", step, n))
  local phi = gan.no_grad(function() return T(encode(list)) end)
  local x16 = x32:avg_pool2d(2)
  local fake16, mu1, lv1 = stage1(noise(n), phi)
  local d1, g1, kl1 = update(D1, optD1, optG1, x16, fake16, phi, mu1, lv1)
  local fake32, mu2, lv2 = stage2(fake16:detach(), phi)
  local d2, g2, kl2 = update(D2, optD2, optG2, x32, fake32, phi, mu2, lv2)
  return { D1 = d1, G1 = g1, D2 = d2, G2 = g2, KL = (kl1 + kl2) * 0.5 }
end, { sample = sample, sample_count = 100 })

-- Stage-I and Stage-II side by side for 10 captions, and the asked caption
gan.no_grad(function()
  local y = gan.labels.rows(10, 10)
  local z = gan.random.keyed("stackgan.stages", 0, function() return noise(10) end)
  local x32, x16 = draw(z, y)
  local cells = {}
  for i = 1, 10 do
    cells[#cells + 1] = x16:narrow(1, i, 1):upsample({ scale = 2 }, "nearest")
    cells[#cells + 1] = x32:narrow(1, i, 1)
  end
  gan.image.save_grid(("%s/stages_step%06d.png"):format(opt.out, summary.step), gan.cat(cells, 1), { nrow = 4 })
  if asked then
    local list = {}
    for i = 1, 64 do list[i] = asked end
    local phi = T(encode(list))
    local x = stage2(stage1(noise(64), phi), phi)
    gan.image.save_grid(opt.out .. "/caption.png", x, { nrow = 8 })
    print(("\"%s\": 64 samples in %s/caption.png"):format(opt.caption, opt.out))
  end
end)
