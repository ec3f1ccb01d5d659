--- gan.nets.unet: the U-Net generator of pix2pix, and its levels.
--
--     local G = gan.nets.unet.Generator(3, 3, 8, { nf = 64 })     -- pix2pix, 256 px
--
-- Norms: "batch" (pix2pix's, the default), "instance" or "none" (gan.nn's
-- vocabulary); a convolution followed by batch norm has no bias. With
-- nf = 64 the 8-level generator has 54,413,955 parameters, the reference
-- PyTorch implementation's count. Weights start as PyTorch's defaults; the
-- paper draws them from N(0, 0.02): `net:apply(nn.init.dcgan)`.
-- Requires: gan.nn.
-- @module gan.nets.unet

local gan = require "gan"
local nn = require "gan.nn"
local check = require "gan.check"

local M = {}

local NORMS = { "batch", "instance", "none" }

local Block = nn.Module:extend("UnetBlock")
M.Block = Block

--- One level of a U-Net: down (stride-2 4x4 convolution), the inner levels,
-- up (stride-2 4x4 transposed convolution), and the input concatenated to
-- the output on the channel dim (the skip connection), except at the
-- outermost level, which ends with Tanh instead.
-- @param outer_nc channels this level returns (before the concatenation)
-- @param inner_nc channels of the inner level's input
-- @param opts {input_nc=outer_nc, inner=nil (the inner level; nil: innermost),
--   outermost=false, norm="batch", dropout=0 (a rate after the up-convolution)}
function Block:init(outer_nc, inner_nc, opts)
  opts = opts or {}
  local norm = nn.check_norm("gan.nets.unet.Block", opts.norm or "batch", NORMS)
  local bias = nn.bias_before(norm)
  local input_nc = opts.input_nc or outer_nc
  local down = nn.Conv2d(input_nc, inner_nc, 4, 2, 1, { bias = bias })
  local body = nn.Sequential()
  self.outermost, self.innermost = opts.outermost == true, opts.inner == nil
  if self.outermost then
    body:add_all({ down, opts.inner or false, nn.ReLU(), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), nn.Tanh() })
  elseif self.innermost then
    body:add_all({ nn.LeakyReLU(0.2), down, nn.ReLU(),
      nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, { bias = bias }), nn.norm_layer(norm, outer_nc) or false })
  else
    local dropout = opts.dropout or 0
    body:add_all({ nn.LeakyReLU(0.2), down, nn.norm_layer(norm, inner_nc) or false, opts.inner or false, nn.ReLU(),
      nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, { bias = bias }), nn.norm_layer(norm, outer_nc) or false,
      dropout > 0 and nn.Dropout(dropout) or false })
  end
  self.body = body
  self.sizes = ("%d, %d"):format(outer_nc, inner_nc)
end

--- x (N, input_nc, H, W) -> (N, input_nc + outer_nc, H, W) (outermost: (N, outer_nc, H, W)).
function Block:forward(x)
  if self.outermost then return self.body(x) end
  return gan.cat({ x, self.body(x) }, 2)
end

--- Settings shown when printed.
function Block:extra_repr()
  return self.sizes .. (self.outermost and ", outermost" or self.innermost and ", innermost" or "")
end

local Generator = nn.Module:extend("UnetGenerator")
M.Generator = Generator

--- The pix2pix generator: an encoder-decoder of `downs` levels with skip
-- connections between mirrored layers. Channels double from nf up to 8 nf
-- and stay there; 256x256 images need downs = 8 (down to 1x1), 32x32
-- images downs = 5. Dropout (rate 0.5, kept on at test time in the paper)
-- is the generator's only noise: it sits after the up-convolution of the
-- `dropout` levels next to the innermost one (default downs - 5, the
-- reference's choice: 3 at 256 px).
-- @param in_channels channels of the input images
-- @param out_channels channels of the output images
-- @param downs number of levels (>= 5); H and W must be divisible by 2^downs
-- @param opts {nf=64, norm="batch", dropout=downs-5 (levels with dropout)}
function Generator:init(in_channels, out_channels, downs, opts)
  local who = "gan.nets.unet.Generator"
  in_channels = check.integer(who, "in_channels", in_channels, 1)
  out_channels = check.integer(who, "out_channels", out_channels, 1)
  downs = check.integer(who, "downs", downs, 5)
  opts = check.options(who, opts)
  local nf = check.integer(who, "nf", opts.nf or 64, 1)
  local norm = nn.check_norm(who, opts.norm or "batch", NORMS)
  local n_drop = check.integer(who, "dropout (levels)", opts.dropout or (downs - 5), 0, downs - 2)
  if n_drop < 0 or n_drop > downs - 2 then
    error(("gan.nets.unet.Generator: dropout (levels) must be in [0, %d], got %d"):format(downs - 2, n_drop), 3)
  end
  -- level t counts from the outermost (0); the innermost is t = downs - 1
  local function outer(t) return nf * math.min(8, 1 << (t - 1)) end
  local function inner(t) return nf * math.min(8, 1 << t) end
  local block = Block(outer(downs - 1), inner(downs - 1), { norm = norm })
  for t = downs - 2, 1, -1 do
    block = Block(outer(t), inner(t), {
      norm = norm, inner = block, dropout = (t >= downs - 1 - n_drop) and 0.5 or 0,
    })
  end
  self.model = Block(out_channels, nf, { input_nc = in_channels, inner = block, outermost = true, norm = norm })
  self.config = ("%d -> %d, downs=%d, nf=%d, norm=%s, dropout levels=%d"):format(in_channels, out_channels, downs,
    nf, norm, n_drop)
  self.downs = downs
end

--- x (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1].
function Generator:forward(x)
  local f = 2 ^ self.downs
  if x:size(3) % f ~= 0 or x:size(4) % f ~= 0 then
    error(("gan.nets.unet.Generator: H and W must be divisible by 2^downs = %d, got (%s)"):format(f,
      table.concat(x:shape(), ", ")), 2)
  end
  return self.model(x)
end

--- Settings shown when printed.
function Generator:extra_repr() return self.config end

return M
