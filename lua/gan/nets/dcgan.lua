--- gan.nets.dcgan: DCGAN's convolution stacks (Radford et al. 2015), the
-- networks much of the lineage builds on.
--
-- `generator` is DCGAN's generator: a (N, nin, 1, 1) input becomes 4x4 maps,
-- then each transposed convolution doubles the size and halves the maps up
-- to (N, C, size, size). `body` is the discriminator's body: strided
-- convolutions from (N, C, size, size) down to 4x4 maps. A recipe adds its
-- own inputs and heads around them (a label, a class head, a Q head, an
-- encoder's mean and variance):
--
--     local dcgan = gan.nets.dcgan
--     local G = dcgan.generator(opt.nz + 10, 1, opt.size, opt.nf)      -- ends in Tanh
--     local body, c = dcgan.body(1 + 10, opt.size, opt.nf)             -- (N, c, 4, 4)
--     local D = nn.Sequential { body, nn.Conv2d(c, 1, 4), nn.Flatten() }
--
-- Sizes are powers of two from 16; weights start from DCGAN's N(0, 0.02).
-- The norm option speaks gan.nn's vocabulary (nn.norm_layer).
-- `standard_cnn` is the deeper DCGAN-like discriminator SNGAN measured
-- spectral norm on (3x3 and 4x4 convolutions in turn, sizes multiples of 8).
-- Requires: gan.nn.
-- @module gan.nets.dcgan

local nn = require "gan.nn"
local check = require "gan.check"

local M = {}

--- The number of doublings from 4x4 to `size`; raises "--size must be ..."
-- when size is not a power of two >= 16.
-- @param size image size
-- @return integer (2 for 16, 3 for 32, 4 for 64, ...)
function M.levels(size)
  local n = type(size) == "number" and math.floor(math.log(size, 2) + 0.5) - 2
  if not n or n < 2 or 4 * 2 ^ n ~= size then
    error(("--size must be a power of two >= 16, got %s"):format(tostring(size)), 0)
  end
  return n
end

local G_NORMS = { "batch", "layer", "instance", "none", "function" }

--- DCGAN's generator: (N, nin, 1, 1) -> (N, C, size, size) in [-1, 1].
-- Transposed convolutions, each followed by the norm and ReLU; nf maps
-- before the last layer, twice as many at each smaller size.
-- @param nin input channels (noise plus any codes)
-- @param C output channels
-- @param size output size (power of two >= 16)
-- @param nf feature maps of the last hidden layer
-- @param opts {out="tanh" (or "none": the raw maps, e.g. a decoder's logits),
--   norm="batch" (or "layer", "instance", "none", function(c, size) -> module),
--   bias (of the hidden layers; default: unless batch norm follows), last_bias (default: bias),
--   init=true (DCGAN's N(0, 0.02) weights; false leaves them for the caller to set)}
-- @return nn.Sequential
function M.generator(nin, C, size, nf, opts)
  local who = "gan.nets.dcgan.generator"
  nin, C, nf = check.integer(who, "nin", nin, 1), check.integer(who, "C", C, 1), check.integer(who, "nf", nf, 1)
  opts = check.options(who, opts)
  local layers = M.levels(size)
  local norm = nn.check_norm("gan.nets.dcgan.generator", opts.norm or "batch", G_NORMS)
  local bias = opts.bias
  if bias == nil then bias = nn.bias_before(norm) end
  local last_bias = opts.last_bias
  if last_bias == nil then last_bias = bias end
  local c = nf * 2 ^ (layers - 1)
  local G = nn.Sequential {}
  local function block(cin, cout, k, s, p, at)
    G:add(nn.ConvTranspose2d(cin, cout, k, s, p, { bias = bias }))
    local n = nn.norm_layer(norm, cout, at)
    if n then G:add(n) end
    G:add(nn.ReLU())
  end
  block(nin, c, 4, 1, 0, 4)
  local at = 4
  for _ = 1, layers - 1 do
    at = at * 2
    block(c, c // 2, 4, 2, 1, at)
    c = c // 2
  end
  G:add(nn.ConvTranspose2d(c, C, 4, 2, 1, { bias = last_bias }))
  if (opts.out or "tanh") == "tanh" then G:add(nn.Tanh()) end
  if opts.init ~= false then G:apply(nn.init.dcgan) end
  return G
end

--- DCGAN's discriminator body: (N, C, size, size) -> (N, c, 4, 4).
-- Strided 4x4 convolutions with LeakyReLU, the norm after every layer but
-- the first. A caller adding its head to the returned Sequential (and
-- passing init = false, then applying nn.init.dcgan to the whole) gets one
-- flat network. With norm "spectral" every convolution is wrapped in
-- nn.SpectralNorm after the weights are set.
-- @param C input channels (image channels plus any label maps)
-- @param size input size (power of two >= 16)
-- @param nf feature maps of the first layer (doubled at each halving)
-- @param opts {norm="batch" (or "layer", "instance", "spectral", "none", function(c, size) -> module),
--   bias (of the normed layers; default: unless batch norm follows),
--   first_bias (default: bias), slope=0.2 (of the LeakyReLU), init=true}
-- @return nn.Sequential, and c (the channels of its output)
function M.body(C, size, nf, opts)
  C, nf = check.integer("gan.nets.dcgan.body", "C", C, 1), check.integer("gan.nets.dcgan.body", "nf", nf, 1)
  opts = opts or {}
  local layers = M.levels(size)
  local norm = nn.check_norm("gan.nets.dcgan.body", opts.norm or "batch")
  local bias = opts.bias
  if bias == nil then bias = nn.bias_before(norm) end
  local first_bias = opts.first_bias
  if first_bias == nil then first_bias = bias end
  local slope = opts.slope or 0.2
  local D = nn.Sequential { nn.Conv2d(C, nf, 4, 2, 1, { bias = first_bias }), nn.LeakyReLU(slope) }
  local c, at = nf, size // 2
  for _ = 1, layers - 1 do
    at = at // 2
    D:add(nn.Conv2d(c, c * 2, 4, 2, 1, { bias = bias }))
    local n = nn.norm_layer(norm, c * 2, at)
    if n then D:add(n) end
    D:add(nn.LeakyReLU(slope))
    c = c * 2
  end
  if opts.init ~= false then
    D:apply(nn.init.dcgan)
    if norm == "spectral" then nn.SpectralNorm.wrap(D) end
  end
  return D, c
end

--- SNGAN's "standard CNN" discriminator (Miyato et al. 2018, arXiv:1802.05957,
-- Table 3): per level a 3x3 stride-1 and a 4x4 stride-2 convolution, with
-- nf, 2 nf and 4 nf maps, then a 3x3 convolution to 8 nf maps, each followed
-- by LeakyReLU(0.1), and a linear layer to one value. Weights start as
-- PyTorch's defaults; SNGAN wraps every layer (nn.SpectralNorm.wrap).
-- @param C input channels
-- @param size input size (a multiple of 8)
-- @param nf feature maps of the first level
-- @return nn.Sequential, (N, C, size, size) -> (N, 1)
function M.standard_cnn(C, size, nf)
  local who = "gan.nets.dcgan.standard_cnn"
  C, nf = check.integer(who, "C", C, 1), check.integer(who, "nf", nf, 1)
  size = check.integer(who, "size", size, 8)
  if size % 8 ~= 0 then error(("%s: size must be a multiple of 8, got %d"):format(who, size), 2) end
  local D, c, s = nn.Sequential {}, C, size
  for _, w in ipairs({ nf, nf * 2, nf * 4 }) do
    D:add(nn.Conv2d(c, w, 3, 1, 1)):add(nn.LeakyReLU(0.1))
    D:add(nn.Conv2d(w, w, 4, 2, 1)):add(nn.LeakyReLU(0.1))
    c, s = w, s // 2
  end
  D:add(nn.Conv2d(c, nf * 8, 3, 1, 1)):add(nn.LeakyReLU(0.1))
  D:add(nn.Flatten()):add(nn.Linear(nf * 8 * s * s, 1))
  return D
end

return M
