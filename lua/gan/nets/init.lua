--- gan.nets: the networks recipes share, one home per architecture family.
--
-- The families, each a module of its own:
--
-- * `gan.nets.dcgan`: DCGAN's convolution stacks (generator, body) and
--   SNGAN's standard CNN discriminator;
-- * `gan.nets.mlp`: multilayer perceptrons (the 2014 GAN, toy 2-D sets);
-- * `gan.nets.resnet`: the ResNet generator of CycleGAN, StarGAN, UNIT;
-- * `gan.nets.unet`: the U-Net generator of pix2pix;
-- * `gan.nets.patch`: the PatchGAN discriminator of pix2pix and CycleGAN;
-- * `gan.nets.style`: StyleGAN2's skip generator and residual
--   discriminator (StyleGAN2, StyleGAN2-ADA), and the minibatch-stddev
--   epilogue of the PGGAN lineage's discriminators;
-- * `gan.nets.pggan`: the progressive GAN's growing generator and
--   discriminator, its growing schedule and fading real images;
-- * `gan.nets.stylegan`: StyleGAN's style-based generator (AdaIN, noise
--   inputs, a learned constant) and its fixed-resolution discriminator;
-- * `gan.nets.biggan`: SAGAN's and BigGAN's residual generator (self-attention,
--   conditional BN, hierarchical z) and projection discriminator.
-- * `gan.nets.singan`: SinGAN's pyramid of patch GANs of one image.
--
-- Every family with a `norm` option takes it in one vocabulary (gan.nn's
-- norm_layer: "batch", "instance", "layer", "pixel", "spectral", "none" or
-- a function; the style family has none: modulation takes its place). This module also gives the generator and discriminator pair
-- many recipes start from, chosen by the data:
--
--     local G, noise = gan.nets.generator(data, opt)
--     local D = gan.nets.discriminator(data, opt, { norm = "layer" })
--     local fake = G(noise(64))
--
-- Points (the toy 2-D sets, data.kind == "points") get MLPs; images get
-- DCGAN's convnets from 4x4 up to the data's size, a power of two from 16.
-- `features` is a discriminator without its last layer, ending in a flat
-- feature vector (for heads of one's own: feature matching, minibatch
-- discrimination).
--
-- The discriminator's norm: "batch" after every conv but the first and the
-- last (DCGAN); "layer" there instead (WGAN-GP's choice: it does not mix
-- the samples of a batch, which the gradient penalty needs); "spectral":
-- every Linear and Conv2d wrapped in nn.SpectralNorm, no other
-- normalisation (SNGAN); "none". The MLPs for points take "layer" and
-- "spectral" and treat "batch" as "none": batch statistics couple the
-- samples of a batch, which on 2-D mixtures lets D see how many modes a
-- batch covers.
--
-- Options read (declared here): nz, nf, hidden, depth.
-- Requires: gan.nn, gan.options; its families on first use.
-- @module gan.nets

local gan = require "gan"
local nn = require "gan.nn"
local options = require "gan.options"

local M = {}

--- The options the shared networks read.
M.options = options.declare("gan.nets", "networks", {
  { "nz", 100, "dimension of the noise z" },
  { "nf", 64, "feature maps of G's last and D's first layer" },
  { "hidden", 128, "units of the MLPs' hidden layers (toy 2-D sets)" },
  { "depth", 3, "hidden layers of the MLPs (toy 2-D sets)" },
})

local get = options.get

local families = { dcgan = true, mlp = true, resnet = true, unet = true, patch = true, style = true, pggan = true,
  stylegan = true, biggan = true, singan = true }

--- Whether the data holds points (toy 2-D sets) rather than images.
-- @param data a gan.data iterator
-- @return boolean
function M.is_points(data)
  return data.kind == "points"
end

-- the image size of the data: square, a power of two from 16
local function image_size(data)
  local h, w = data.x:size(3), data.x:size(4)
  if h ~= w or not pcall(M.dcgan.levels, h) then
    error(("gan.nets: images must be square with a power-of-two size from 16 (--size=16, 32, 64 ...), got %dx%d")
      :format(h, w), 3)
  end
  return h
end

--- The noise function for a generator of this data: z ~ N(0, 1) of shape
-- (n, nz) for points, (n, nz, 1, 1) for images.
-- @param data a gan.data iterator
-- @param opt options (nz)
-- @return function(n) -> z
function M.noise(data, opt)
  local nz = get(opt, "nz")
  if M.is_points(data) then return function(n) return gan.randn(n, nz) end end
  return function(n) return gan.randn(n, nz, 1, 1) end
end

local function widths(first, last, opt)
  local h, depth = get(opt, "hidden"), get(opt, "depth")
  local s = { first }
  for i = 1, depth do s[i + 1] = h end
  if last then s[#s + 1] = last end
  return s
end

--- The generator: an MLP nz -> hidden x depth -> 2 (ReLU) for points; for
-- images z (nz, 1, 1) -> 4x4 -> ... -> size x size by transposed
-- convolutions with batch norm and ReLU, Tanh at the end, weights from
-- N(0, 0.02) (gan.nets.dcgan.generator).
-- @param data a gan.data iterator (its kind, channels and size)
-- @param opt options: nz, nf, hidden, depth
-- @param o {norm="batch"|"none"|function(c, size) -> module (images: after each hidden layer; points:
--   only a function counts), bias (images: of the hidden layers; default: unless batch norm follows),
--   last_bias=true}
-- @return G, noise (see `noise`)
function M.generator(data, opt, o)
  o = o or {}
  local nz = get(opt, "nz")
  if M.is_points(data) then
    local norm = type(o.norm) == "function" and o.norm or "none"
    return M.mlp(widths(nz, data.x:size(2), opt), { norm = norm }), M.noise(data, opt)
  end
  local norm = nn.check_norm("gan.nets.generator", o.norm or "batch", { "batch", "none", "function" })
  local size = image_size(data)
  local last_bias = o.last_bias
  if last_bias == nil then last_bias = true end
  local G = M.dcgan.generator(nz, data.x:size(2), size, get(opt, "nf"),
    { norm = norm, bias = o.bias, last_bias = last_bias })
  return G, M.noise(data, opt)
end

local D_NORMS = { "batch", "layer", "spectral", "none" }

-- DCGAN's strided convolutions down to 4x4 for images, with the norm a
-- discriminator asks for (spectral: none here, the caller wraps), weights unset
local function conv_body(data, opt, norm, o)
  local size = image_size(data)
  return M.dcgan.body(data.x:size(2), size, get(opt, "nf"),
    { norm = norm == "spectral" and "none" or norm, bias = o.bias, first_bias = o.first_bias, init = false })
end

--- A discriminator without its last layer: (N, ...) -> (N, F) features.
-- For points an MLP 2 -> hidden x depth with an activation after every
-- layer; for images DCGAN's strided convolutions down to 4x4 (without
-- biases under batch norm), flattened; weights from N(0, 0.02).
-- @param data a gan.data iterator
-- @param opt options: nf, hidden, depth
-- @param o {norm="batch"|"layer"|"spectral"|"none"|function(c, size) -> module (images),
--   act=function() -> module (points; default LeakyReLU(0.2)), bias, first_bias (images;
--   default: unless batch norm follows)}
-- @return the module, and F
function M.features(data, opt, o)
  o = o or {}
  local norm = nn.check_norm("gan.nets.features", o.norm or "batch", { "batch", "layer", "spectral", "none", "function" })
  if M.is_points(data) then
    local act = o.act or function() return nn.LeakyReLU(0.2) end
    local sizes = widths(data.x:size(2), nil, opt)
    local mlp_norm = (norm == "batch" or type(norm) == "function") and "none" or norm
    return M.mlp(sizes, { act = act, norm = mlp_norm, last = act() }), sizes[#sizes]
  end
  local D, c = conv_body(data, opt, norm, o)
  D:add(nn.Flatten())
  D:apply(nn.init.dcgan)
  if norm == "spectral" then nn.SpectralNorm.wrap(D) end
  return D, c * 16
end

--- The discriminator (or critic): one unbounded score per sample, (N, 1).
-- An MLP 2 -> hidden x depth -> 1 (ReLU) for points; for images strided
-- 4x4 convolutions with LeakyReLU(0.2) halving the size down to 4x4, then a
-- 4x4 convolution to one value; weights from N(0, 0.02).
-- @param data a gan.data iterator
-- @param opt options: nf, hidden, depth
-- @param o {norm="batch"|"layer"|"spectral"|"none" (see the module comment), out=1 (outputs per sample),
--   act=function() -> module (points; default ReLU)}
-- @return D
function M.discriminator(data, opt, o)
  o = o or {}
  local norm, out = o.norm or "batch", o.out or 1
  nn.check_norm("gan.nets.discriminator", norm, D_NORMS)
  if M.is_points(data) then
    return M.mlp(widths(data.x:size(2), out, opt), { norm = norm == "batch" and "none" or norm, act = o.act })
  end
  local D, c = conv_body(data, opt, norm, { first_bias = true })
  D:add(nn.Conv2d(c, out, 4, 1, 0)):add(nn.Flatten())
  D:apply(nn.init.dcgan)
  if norm == "spectral" then nn.SpectralNorm.wrap(D) end
  return D
end

--- The receptive field of a chain of convolutions: the side, in input
-- pixels, of the square one output value depends on. Walks the network's
-- Conv2d and ConvTranspose2d in order; a network that is not a chain
-- (skip connections) gives the receptive field of its main path.
-- @param net a module
-- @return integer
function M.receptive_field(net)
  local convs = {}
  for _, m in ipairs(net:modules()) do
    if m.__name == "Conv2d" or m.__name == "ConvTranspose2d" then
      local a = m.args
      local k, s, d = m.kernel_size[1], a.stride[1], a.dilation[1]
      if m.__name == "ConvTranspose2d" then s = 1 / s end
      convs[#convs + 1] = { k = k, s = s, d = d }
    end
  end
  local r = 1
  for i = #convs, 1, -1 do
    local c = convs[i]
    r = (r - 1) * c.s + c.d * (c.k - 1) + 1
  end
  return math.floor(r + 0.5)
end

-- the families load on first use: gan.nets.resnet requires "gan.nets.resnet"
return setmetatable(M, {
  __index = function(t, name)
    if not families[name] then return nil end
    local mod = require("gan.nets." .. name)
    rawset(t, name, mod)
    return mod
  end,
})
