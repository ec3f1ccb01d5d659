--- gan.nets.resnet: the ResNet generator of CycleGAN (Johnson et al.'s
-- network), StarGAN and UNIT, and its residual block.
--
--     local G = gan.nets.resnet.Generator(3, 3, { nf = 64, blocks = 9 })    -- CycleGAN, 256 px
--     local block = gan.nets.resnet.Block(256)                             -- x + body(x)
--
-- Norms: "instance" (InstanceNorm2d without affine parameters, CycleGAN's
-- choice, the default), "batch" or "none" (gan.nn's vocabulary). As in the
-- papers' code, a convolution followed by batch norm has no bias; with the
-- other norms it has one. So with nf = 64 the parameter count is the
-- reference PyTorch implementation's: 11,378,179 for the 9-block generator
-- (3 -> 3 channels). Weights start as PyTorch's defaults; the papers draw
-- them from N(0, 0.02): `net:apply(nn.init.dcgan)`.
-- Requires: gan.nn.
-- @module gan.nets.resnet

local nn = require "gan.nn"
local check = require "gan.check"

local M = {}

local NORMS = { "instance", "batch", "none" }

local Block = nn.Module:extend("ResnetBlock")
M.Block = Block

--- A residual block of two 3x3 convolutions at constant size:
-- x + conv(relu(norm(conv(pad(x))))) with norm after each convolution.
-- @param c channels in and out
-- @param opts {norm="instance", padding="reflect" (or "replicate", "zeros"), dropout=0 (a rate between the convolutions)}
function Block:init(c, opts)
  opts = opts or {}
  local norm = nn.check_norm("gan.nets.resnet.Block", opts.norm or "instance", NORMS)
  local pad = opts.padding or "reflect"
  local bias = nn.bias_before(norm)
  local function conv3()
    if pad == "zeros" then return false, nn.Conv2d(c, c, 3, 1, 1, { bias = bias }) end
    return nn.Pad2d(1, pad), nn.Conv2d(c, c, 3, 1, 0, { bias = bias })
  end
  local p1, c1 = conv3()
  local p2, c2 = conv3()
  local dropout = opts.dropout or 0
  self.body = nn.Sequential():add_all({
    p1, c1, nn.norm_layer(norm, c) or false, nn.ReLU(),
    dropout > 0 and nn.Dropout(dropout) or false,
    p2, c2, nn.norm_layer(norm, c) or false,
  })
  self.channels = c
end

--- x (N, c, H, W) -> x + body(x).
function Block:forward(x)
  return x + self.body(x)
end

--- Settings shown when printed.
function Block:extra_repr() return tostring(self.channels) end

local Generator = nn.Sequential:extend("ResnetGenerator")
M.Generator = Generator

--- The CycleGAN generator (Johnson et al.'s network): a 7x7 convolution,
-- `downs` stride-2 convolutions doubling the channels, `blocks` residual
-- blocks, `downs` transposed convolutions back to the input's size, a 7x7
-- convolution and Tanh. Reflection padding keeps borders free of artefacts.
-- H and W must be divisible by 2^downs.
-- @param in_channels channels of the input images
-- @param out_channels channels of the output images
-- @param opts {nf=64 (channels after the first layer), blocks=9, downs=2, norm="instance",
--   padding="reflect", dropout=0 (inside each block)}
function Generator:init(in_channels, out_channels, opts)
  local who = "gan.nets.resnet.Generator"
  in_channels = check.integer(who, "in_channels", in_channels, 1)
  out_channels = check.integer(who, "out_channels", out_channels, 1)
  opts = check.options(who, opts)
  local nf = check.integer(who, "nf", opts.nf or 64, 1)
  local blocks = check.integer(who, "blocks", opts.blocks or 9, 0)
  local downs = check.integer(who, "downs", opts.downs or 2, 0)
  local norm = nn.check_norm(who, opts.norm or "instance", NORMS)
  local bias = nn.bias_before(norm)
  local pad = opts.padding or "reflect"
  local function stem(cin, cout)
    if pad == "zeros" then return false, nn.Conv2d(cin, cout, 7, 1, 3, { bias = bias }) end
    return nn.Pad2d(3, pad), nn.Conv2d(cin, cout, 7, 1, 0, { bias = bias })
  end
  local p, c = stem(in_channels, nf)
  self:add_all({ p, c, nn.norm_layer(norm, nf) or false, nn.ReLU() })
  local ch = nf
  for _ = 1, downs do
    self:add_all({ nn.Conv2d(ch, ch * 2, 3, 2, 1, { bias = bias }), nn.norm_layer(norm, ch * 2) or false, nn.ReLU() })
    ch = ch * 2
  end
  for _ = 1, blocks do self:add(Block(ch, { norm = norm, padding = pad, dropout = opts.dropout })) end
  for _ = 1, downs do
    self:add_all({ nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, { output_padding = 1, bias = bias }),
      nn.norm_layer(norm, ch // 2) or false, nn.ReLU() })
    ch = ch // 2
  end
  if pad == "zeros" then
    self:add(nn.Conv2d(ch, out_channels, 7, 1, 3))
  else
    self:add(nn.Pad2d(3, pad)):add(nn.Conv2d(ch, out_channels, 7, 1, 0))
  end
  self:add(nn.Tanh())
  self.config = ("%d -> %d, nf=%d, blocks=%d, downs=%d, norm=%s"):format(in_channels, out_channels, nf, blocks,
    downs, norm)
end

--- Settings shown when printed.
function Generator:extra_repr() return self.config end

return M
