--- gan.convnet: the DCGAN convolution stacks that many recipes build on.
--
-- `up` is DCGAN's generator body: a (N, nin, 1, 1) input becomes 4x4 maps,
-- then each transposed convolution doubles the size and halves the maps up
-- to (N, C, size, size). `down` is the discriminator's body: strided
-- convolutions from (N, C, size, size) down to 4x4 maps. A recipe adds its
-- own inputs and heads around them (a label, a class head, a Q head, an
-- encoder's mean and variance):
--
--     local G = gan.convnet.up(opt.nz + 10, 1, opt.size, opt.nf)     -- ends in Tanh
--     local body, c = gan.convnet.down(1 + 10, opt.size, opt.nf)     -- (N, c, 4, 4)
--     local D = nn.Sequential { body, nn.Conv2d(c, 1, 4), nn.Flatten() }
--
-- Sizes are powers of two from 16; weights start from DCGAN's N(0, 0.02).
-- @module gan.convnet

local nn = require "gan.nn"

local M = {}

--- The number of doublings from 4x4 to `size`; raises "--size must be ..."
-- when size is not a power of two >= 16.
-- @param size image size
-- @return integer (2 for 16, 3 for 32, 4 for 64, ...)
function M.levels(size)
  local n = math.floor(math.log(size, 2) + 0.5) - 2
  if type(size) ~= "number" or n < 2 or 4 * 2 ^ n ~= size then
    error(("--size must be a power of two >= 16, got %s"):format(tostring(size)), 0)
  end
  return n
end

--- DCGAN's generator: (N, nin, 1, 1) -> (N, C, size, size) in [-1, 1].
-- Transposed convolutions with batch norm and ReLU; nf maps before the
-- last layer, twice as many at each smaller size.
-- @param nin input channels (noise plus any codes)
-- @param C output channels
-- @param size output size (power of two >= 16)
-- @param nf feature maps of the last hidden layer
-- @param opts {out="tanh" (or "none": the raw maps, e.g. a decoder's logits), bn=true}
-- @return nn.Sequential
function M.up(nin, C, size, nf, opts)
  opts = opts or {}
  local layers = M.levels(size)
  local bn = opts.bn ~= false
  local c = nf * 2 ^ (layers - 1)
  local G = nn.Sequential {}
  local function block(cin, cout, k, s, p)
    G:add(nn.ConvTranspose2d(cin, cout, k, s, p, { bias = not bn }))
    if bn then G:add(nn.BatchNorm2d(cout)) end
    G:add(nn.ReLU())
  end
  block(nin, c, 4, 1, 0)
  for _ = 1, layers - 1 do
    block(c, c // 2, 4, 2, 1)
    c = c // 2
  end
  G:add(nn.ConvTranspose2d(c, C, 4, 2, 1, { bias = not bn }))
  if (opts.out or "tanh") == "tanh" then G:add(nn.Tanh()) end
  G:apply(nn.init.dcgan)
  return G
end

--- DCGAN's discriminator body: (N, C, size, size) -> (N, c, 4, 4).
-- Strided 4x4 convolutions with LeakyReLU(0.2), batch norm after every
-- layer but the first.
-- @param C input channels (image channels plus any label maps)
-- @param size input size (power of two >= 16)
-- @param nf feature maps of the first layer (doubled at each halving)
-- @param opts {bn=true, slope=0.2}
-- @return nn.Sequential, and c (the channels of its output)
function M.down(C, size, nf, opts)
  opts = opts or {}
  local layers = M.levels(size)
  local bn = opts.bn ~= false
  local slope = opts.slope or 0.2
  local D = nn.Sequential { nn.Conv2d(C, nf, 4, 2, 1, { bias = not bn }), nn.LeakyReLU(slope) }
  local c = nf
  for _ = 1, layers - 1 do
    D:add(nn.Conv2d(c, c * 2, 4, 2, 1, { bias = not bn }))
    if bn then D:add(nn.BatchNorm2d(c * 2)) end
    D:add(nn.LeakyReLU(slope))
    c = c * 2
  end
  D:apply(nn.init.dcgan)
  return D, c
end

return M
