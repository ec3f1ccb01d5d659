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
-- @param opts {act=function() -> module (default nn.ReLU), norm="none"|"layer"|"spectral"}
-- @return nn.Sequential
function M.mlp(sizes, opts)
  opts = opts or {}
  local act = opts.act or function() return nn.ReLU() end
  local norm = opts.norm or "none"
  check_norm(norm, "mlp")
  local net = nn.Sequential()
  for i = 1, #sizes - 1 do
    local lin = nn.Linear(sizes[i], sizes[i + 1])
    net:add(norm == "spectral" and nn.SpectralNorm(lin) or lin)
    if i < #sizes - 1 then
      if norm == "layer" then net:add(nn.LayerNorm(sizes[i + 1])) end
      net:add(act())
    end
  end
  return net
end

local function widths(first, last, opt)
  local h, depth = get(opt, "hidden", 128), get(opt, "depth", 3)
  local s = { first }
  for i = 1, depth do s[i + 1] = h end
  s[#s + 1] = last
  return s
end

--- The generator: an MLP nz -> hidden x depth -> 2 (ReLU) for points; for
-- images z (nz, 1, 1) -> 4x4 -> ... -> size x size by transposed
-- convolutions with batch norm and ReLU, Tanh at the end, weights from
-- N(0, 0.02) (DCGAN).
-- @param data a gan.data iterator (its kind, channels and size)
-- @param opt options: nz, nf, hidden, depth
-- @param o {norm="batch"|"none" (images: batch norm in G)}
-- @return G, noise (see `noise`)
function M.generator(data, opt, o)
  o = o or {}
  local nz = get(opt, "nz", 100)
  if M.is_points(data) then
    return M.mlp(widths(nz, data.x:size(2), opt)), M.noise(data, opt)
  end
  local norm = o.norm or "batch"
  local bn = norm == "batch"
  local layers = doublings(data)
  local C, nf = data.x:size(2), get(opt, "nf", 64)
  local c = nf * 2 ^ (layers - 1)
  local G = nn.Sequential { nn.ConvTranspose2d(nz, c, 4, 1, 0, { bias = not bn }) }
  if bn then G:add(nn.BatchNorm2d(c)) end
  G:add(nn.ReLU())
  for _ = 1, layers - 1 do
    G:add(nn.ConvTranspose2d(c, c // 2, 4, 2, 1, { bias = not bn }))
    if bn then G:add(nn.BatchNorm2d(c // 2)) end
    G:add(nn.ReLU())
    c = c // 2
  end
  G:add(nn.ConvTranspose2d(c, C, 4, 2, 1)):add(nn.Tanh())
  G:apply(nn.init.dcgan)
  return G, M.noise(data, opt)
end

--- The discriminator (or critic): one unbounded score per sample, (N, 1).
-- An MLP 2 -> hidden x depth -> 1 (ReLU) for points; for images strided
-- 4x4 convolutions with LeakyReLU(0.2) halving the size down to 4x4, then a
-- 4x4 convolution to one value; weights from N(0, 0.02).
-- @param data a gan.data iterator
-- @param opt options: nf, hidden, depth
-- @param o {norm="batch"|"layer"|"spectral"|"none" (see the module comment), out=1 (outputs per sample)}
-- @return D
function M.discriminator(data, opt, o)
  o = o or {}
  local norm, out = o.norm or "batch", o.out or 1
  check_norm(norm, "discriminator")
  if M.is_points(data) then
    return M.mlp(widths(data.x:size(2), out, opt), { norm = norm == "batch" and "none" or norm })
  end
  local layers = doublings(data)
  local C, nf = data.x:size(2), get(opt, "nf", 64)
  local size = data.x:size(3)
  local D = nn.Sequential { nn.Conv2d(C, nf, 4, 2, 1), nn.LeakyReLU(0.2) }
  local c = nf
  size = size // 2
  for _ = 1, layers - 1 do
    size = size // 2
    D:add(nn.Conv2d(c, c * 2, 4, 2, 1, { bias = norm ~= "batch" }))
    if norm == "batch" then D:add(nn.BatchNorm2d(c * 2))
    elseif norm == "layer" then D:add(nn.LayerNorm({ c * 2, size, size }))
    end
    D:add(nn.LeakyReLU(0.2))
    c = c * 2
  end
  D:add(nn.Conv2d(c, out, 4, 1, 0)):add(nn.Flatten())
  D:apply(nn.init.dcgan)
  if norm == "spectral" then nn.SpectralNorm.wrap(D) end
  return D
end

return M
