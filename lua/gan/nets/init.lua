--- gan.nets: the generator and discriminator pairs that recipes share.
--
--     local G, noise = gan.nets.generator(data, opt)
--     local D = gan.nets.discriminator(data, opt, { norm = "layer" })
--     local fake = G(noise(64))
--
-- The data decides the family: points (the toy 2-D sets, data.kind ==
-- "points") get MLPs, images get DCGAN-style convnets (Radford et al. 2015)
-- from 4x4 up to the data's size, which must be a power of two from 16.
-- Options read from opt (a gan.options table or a plain one), each with a
-- default: nz (100, the noise dimension), nf (64, feature maps of G's last
-- and D's first conv layer), hidden (128, units of the MLPs' hidden layers),
-- depth (3, hidden layers of the MLPs).
--
-- `features` is a discriminator without its last layer, ending in a flat
-- feature vector (for heads of one's own: feature matching, minibatch
-- discrimination). The convolution stacks are gan.convnet's `up` and `down`.
--
-- The discriminator's normalisation, `norm`:
--
-- * "batch": batch norm after every conv but the first and the last (DCGAN);
-- * "layer": layer norm over (C, H, W) there instead (WGAN-GP's choice: it
--   does not mix the samples of a batch, which the gradient penalty needs);
-- * "spectral": every Linear and Conv2d wrapped in nn.SpectralNorm, no other
--   normalisation (SNGAN);
-- * "none".
--
-- The MLPs for points take "layer" and "spectral" and treat "batch" as
-- "none": batch statistics couple the samples of a batch, which on 2-D
-- mixtures lets D see how many modes a batch covers.
-- @module gan.nets

local gan = require "gan"
local util = require "gan.util"
local nn = require "gan.nn"
local convnet = require "gan.convnet"

local M = {}

local get = util.get

M.norms = { batch = true, layer = true, spectral = true, none = true }

local function check_norm(norm, who)
  if not M.norms[norm] then
    error(("gan.nets.%s: norm must be batch, layer, spectral or none, got '%s'"):format(who, tostring(norm)), 3)
  end
end

--- Whether the data holds points (toy 2-D sets) rather than images.
-- @param data a gan.data iterator
-- @return boolean
function M.is_points(data)
  return data.kind == "points"
end

-- the number of doublings from 4x4 to the data's size
local function doublings(data)
  local size = data.x:size(3)
  local layers = math.floor(math.log(size, 2) + 0.5) - 2
  if layers < 2 or 4 * 2 ^ layers ~= size or data.x:size(4) ~= size then
    error(("gan.nets: images must be square with a power-of-two size from 16 (--size=16, 32, 64 ...), got %dx%d")
      :format(data.x:size(3), data.x:size(4)), 3)
  end
  return layers
end

--- The noise function for a generator of this data: z ~ N(0, 1) of shape
-- (n, nz) for points, (n, nz, 1, 1) for images.
-- @param data a gan.data iterator
-- @param opt options (nz)
-- @return function(n) -> z
function M.noise(data, opt)
  local nz = get(opt, "nz", 100)
  if M.is_points(data) then return function(n) return gan.randn(n, nz) end end
  return function(n) return gan.randn(n, nz, 1, 1) end
end

--- An MLP: Linear layers of the given sizes with an activation between them
-- (none after the last).
-- @param sizes list of widths, input first and output last
-- @param opts {act=function() -> module (default nn.ReLU), norm="none"|"layer"|"spectral"|function(n) -> module
--   (a function's module follows each hidden Linear), last=module (after the last Linear)}
-- @return nn.Sequential
function M.mlp(sizes, opts)
  opts = opts or {}
  if type(sizes) ~= "table" or #sizes < 2 then
    error("gan.nets.mlp: needs at least an input and an output width", 2)
  end
  local act = opts.act or function() return nn.ReLU() end
  local norm = opts.norm or "none"
  if type(norm) ~= "function" then check_norm(norm, "mlp") end
  local net = nn.Sequential()
  for i = 1, #sizes - 1 do
    local lin = nn.Linear(sizes[i], sizes[i + 1])
    net:add(norm == "spectral" and nn.SpectralNorm(lin) or lin)
    if i < #sizes - 1 then
      if norm == "layer" then net:add(nn.LayerNorm(sizes[i + 1]))
      elseif type(norm) == "function" then net:add(norm(sizes[i + 1])) end
      net:add(act())
    end
  end
  if opts.last then net:add(opts.last) end
  return net
end

local function widths(first, last, opt)
  local h, depth = get(opt, "hidden", 128), get(opt, "depth", 3)
  local s = { first }
  for i = 1, depth do s[i + 1] = h end
  if last then s[#s + 1] = last end
  return s
end

--- The generator: an MLP nz -> hidden x depth -> 2 (ReLU) for points; for
-- images z (nz, 1, 1) -> 4x4 -> ... -> size x size by transposed
-- convolutions with batch norm and ReLU, Tanh at the end, weights from
-- N(0, 0.02) (DCGAN; gan.convnet.up).
-- @param data a gan.data iterator (its kind, channels and size)
-- @param opt options: nz, nf, hidden, depth
-- @param o {norm="batch"|"none"|function(c) -> module (images: after each hidden layer; points: only a
--   function counts), bias (images: of the hidden layers; default: unless batch norm follows),
--   last_bias=true}
-- @return G, noise (see `noise`)
function M.generator(data, opt, o)
  o = o or {}
  local nz = get(opt, "nz", 100)
  if M.is_points(data) then
    local norm = type(o.norm) == "function" and o.norm or "none"
    return M.mlp(widths(nz, data.x:size(2), opt), { norm = norm }), M.noise(data, opt)
  end
  local norm = o.norm or "batch"
  if type(norm) ~= "function" and norm ~= "batch" and norm ~= "none" then
    error(("gan.nets.generator: norm must be batch, none or a function, got '%s'"):format(tostring(norm)), 2)
  end
  doublings(data)
  local last_bias = o.last_bias
  if last_bias == nil then last_bias = true end
  local G = convnet.up(nz, data.x:size(2), data.x:size(3), get(opt, "nf", 64),
    { norm = norm, bias = o.bias, last_bias = last_bias })
  return G, M.noise(data, opt)
end

-- DCGAN's strided convolutions down to 4x4 for images, with the norm a
-- discriminator asks for (spectral: none here, the caller wraps), weights unset
local function conv_body(data, opt, norm, o)
  doublings(data)
  return convnet.down(data.x:size(2), data.x:size(3), get(opt, "nf", 64),
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
  local norm = o.norm or "batch"
  if type(norm) ~= "function" then check_norm(norm, "features") end
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
  check_norm(norm, "discriminator")
  if M.is_points(data) then
    return M.mlp(widths(data.x:size(2), out, opt), { norm = norm == "batch" and "none" or norm, act = o.act })
  end
  local D, c = conv_body(data, opt, norm, { first_bias = true })
  D:add(nn.Conv2d(c, out, 4, 1, 0)):add(nn.Flatten())
  D:apply(nn.init.dcgan)
  if norm == "spectral" then nn.SpectralNorm.wrap(D) end
  return D
end

return M
