--- gan.backbones: the generator and discriminator bodies recipes share.
--
-- A recipe about a loss or a training trick wants ordinary networks for
-- its data: MLPs for 2-D points, DCGAN convnets for images. Each function
-- takes the data iterator (its `kind` and item shape decide) and a table
-- of sizes:
--
--     local G = gan.backbones.generator(data, { nz = 100, nf = 64, hidden = 256 })
--     local feats, nfeat = gan.backbones.features(data, { nf = 64, hidden = 256 })
--     local D = nn.Sequential { feats, nn.Linear(nfeat, 1) }
--     local noise = gan.backbones.noise(data, 100)      -- n -> z of the shape G takes
--
-- Images: G maps z (N, nz, 1, 1) through transposed convolutions (4x4, then
-- doubling) to (N, C, size, size) in [-1, 1] (Tanh); the features are the
-- mirror image, strided convolutions down to 4x4, flattened. Batch norm
-- follows every hidden layer of G and every layer of D but the first, as in
-- DCGAN; `norm` changes it. Weights start from N(0, 0.02).
-- Points: G is Linear(nz, h), ReLU, Linear(h, h), ReLU, Linear(h, h), ReLU,
-- Linear(h, 2) (with `norm` a function, its layer follows each hidden
-- Linear); the features are Linear(2, h), LeakyReLU(0.2), Linear(h, h),
-- LeakyReLU(0.2), Linear(h, h), LeakyReLU(0.2) (`layers` sets how many).
-- @module gan.backbones

local gan = require "gan"
local nn = gan.nn

local M = {}

local function is_points(data)
  return type(data) == "table" and data.kind == "points"
end

-- the number of doublings from 4x4 to size, or an error
local function doublings(size)
  local layers = math.floor(math.log(size, 2) + 0.5) - 2
  if layers < 2 or 4 * 2 ^ layers ~= size then
    error(("gan.backbones: --size must be a power of two >= 16, got %s"):format(tostring(size)), 4)
  end
  return layers
end

-- opts.norm: nil or "batch" (BatchNorm2d), "none", or a function(c) -> module
local function norm_layer(norm, c)
  if norm == nil or norm == "batch" then return nn.BatchNorm2d(c) end
  if norm == "none" or norm == false then return nil end
  if type(norm) == "function" then return norm(c) end
  error(("gan.backbones: unknown norm '%s' (use \"batch\", \"none\" or a function)"):format(tostring(norm)), 4)
end

--- A multilayer perceptron: Linear layers with an activation between them.
-- @param sizes list of widths, input first: {2, 128, 128, 1}
-- @param opts {act=function() -> module (default LeakyReLU(0.2)), norm=function(n) -> module
--   (after each hidden Linear, default none), last=module (after the last Linear)}
-- @return Sequential
function M.mlp(sizes, opts)
  opts = opts or {}
  if #sizes < 2 then error("gan.backbones.mlp: needs at least an input and an output width", 2) end
  local act = opts.act or function() return nn.LeakyReLU(0.2) end
  local net = nn.Sequential()
  for i = 1, #sizes - 1 do
    net:add(nn.Linear(sizes[i], sizes[i + 1]))
    if i < #sizes - 1 then
      if opts.norm then net:add(opts.norm(sizes[i + 1])) end
      net:add(act())
    end
  end
  if opts.last then net:add(opts.last) end
  return net
end

--- The noise a generator of `generator(data, ...)` takes.
-- @param data the data iterator
-- @param nz the noise dimension
-- @param kind "normal" (default) or "uniform" (U(-1, 1))
-- @return function(n) -> z: (n, nz) for points, (n, nz, 1, 1) for images
function M.noise(data, nz, kind)
  local shape = is_points(data) and function(n) return { n, nz } end or function(n) return { n, nz, 1, 1 } end
  if kind == "uniform" then return function(n) return gan.uniform(shape(n), -1, 1) end end
  return function(n) return gan.randn(shape(n)) end
end

--- A generator for the data: an MLP for points, a DCGAN generator for images.
-- @param data the data iterator (points (N, 2), or images (N, C, size, size))
-- @param o {nz=100, nf=64 (G's last feature maps), hidden=256, layers=3
--   (hidden layers of the MLP), norm="batch"|"none"|function(c) (images; for
--   points only a function counts, the default being none)}
-- @return the module
function M.generator(data, o)
  o = o or {}
  local nz = o.nz or 100
  if is_points(data) then
    local h, sizes = o.hidden or 256, { nz }
    for _ = 1, o.layers or 3 do sizes[#sizes + 1] = h end
    sizes[#sizes + 1] = data.x:size(2)
    local norm = type(o.norm) == "function" and o.norm or nil
    return M.mlp(sizes, { act = function() return nn.ReLU() end, norm = norm })
  end
  local C, size = data.x:size(2), data.x:size(3)
  local layers = doublings(size)
  local c = (o.nf or 64) * 2 ^ (layers - 1)
  local G = nn.Sequential { nn.ConvTranspose2d(nz, c, 4, 1, 0, { bias = false }) }
  local function add_norm(k) local n = norm_layer(o.norm, k); if n then G:add(n) end end
  add_norm(c)
  G:add(nn.ReLU())
  for _ = 1, layers - 1 do
    G:add(nn.ConvTranspose2d(c, c // 2, 4, 2, 1, { bias = false }))
    add_norm(c // 2)
    G:add(nn.ReLU())
    c = c // 2
  end
  G:add(nn.ConvTranspose2d(c, C, 4, 2, 1, { bias = false })):add(nn.Tanh())
  G:apply(nn.init.dcgan)
  return G
end

--- A discriminator body that ends in a flat feature vector.
-- @param data the data iterator
-- @param o {nf=64 (D's first feature maps), hidden=256, layers=3, norm="batch"|"none"|function(c)
--   (images; the first layer never has one)}
-- @return the module (N, ...) -> (N, F), and F
function M.features(data, o)
  o = o or {}
  if is_points(data) then
    local h, sizes = o.hidden or 256, { data.x:size(2) }
    for _ = 1, o.layers or 3 do sizes[#sizes + 1] = h end
    local net = M.mlp(sizes)
    net:add(nn.LeakyReLU(0.2))
    return net, h
  end
  local C, size = data.x:size(2), data.x:size(3)
  local layers = doublings(size)
  local c = o.nf or 64
  local D = nn.Sequential { nn.Conv2d(C, c, 4, 2, 1, { bias = false }), nn.LeakyReLU(0.2) }
  for _ = 1, layers - 1 do
    D:add(nn.Conv2d(c, c * 2, 4, 2, 1, { bias = false }))
    local n = norm_layer(o.norm, c * 2)
    if n then D:add(n) end
    D:add(nn.LeakyReLU(0.2))
    c = c * 2
  end
  D:add(nn.Flatten())
  D:apply(nn.init.dcgan)
  return D, c * 16
end

--- A discriminator: `features` followed by a Linear layer to `out` values
-- (for images the same as DCGAN's last 4x4 convolution).
-- @param data the data iterator
-- @param o options of `features`, and out=1
-- @return the module (N, ...) -> (N, out)
function M.discriminator(data, o)
  o = o or {}
  local f, n = M.features(data, o)
  local head = nn.Linear(n, o.out or 1)
  if not is_points(data) then nn.init.dcgan(head) end
  return nn.Sequential { f, head }
end

return M
