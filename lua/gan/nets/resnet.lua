--- Image-to-image networks: the ResNet and U-Net generators and the
-- PatchGAN discriminator of CycleGAN and pix2pix, and their parts.
--
--     local G = nn.ResnetGenerator(3, 3, { nf = 64, blocks = 9 })         -- CycleGAN, 256 px
--     local U = nn.UnetGenerator(3, 3, 8, { nf = 64, norm = "batch" })    -- pix2pix, 256 px
--     local D = nn.PatchDiscriminator(6, { nf = 64, n_layers = 3 })       -- 70x70 patches
--     nn.receptive_field(D)                                               -- 70
--
-- Every network takes a `norm` option: "instance" (InstanceNorm2d without
-- affine parameters, CycleGAN's choice), "batch" (BatchNorm2d, pix2pix's)
-- or "none". As in the papers' code, a convolution followed by batch norm
-- has no bias (the norm's own bias does its work); with the other norms it
-- has one. So with nf = 64 the parameter counts are those of the reference
-- PyTorch implementation: 11,378,179 for the 9-block ResNet generator
-- (3 -> 3 channels), 54,413,955 for the 8-level U-Net (batch norm),
-- 2,764,737 (instance norm, 3 channels in) and 2,768,705 (batch norm, 6 in)
-- for the 3-layer PatchGAN. Weights start as PyTorch's defaults; the papers
-- draw them from N(0, 0.02): `net:apply(nn.init.dcgan)`.
-- @module gan.nn.blocks

local gan = require "gan"
local Module = require "gan.nn.Module"
local Sequential = require "gan.nn.Sequential"
local conv = require "gan.nn.Conv2d"
local norms = require "gan.nn.norm"
local act = require "gan.nn.activations"
local layers = require "gan.nn.layers"

local Conv2d, ConvTranspose2d = conv.Conv2d, conv.ConvTranspose2d

local M = {}

local norm_kinds = { instance = true, batch = true, none = true }

local function check_norm(who, norm)
  norm = norm or "instance"
  if not norm_kinds[norm] then
    error(("%s: norm must be \"instance\", \"batch\" or \"none\", got %s"):format(who, tostring(norm)), 4)
  end
  return norm
end

-- the norm layer for c channels, or nil for "none"
local function norm_layer(norm, c)
  if norm == "batch" then return norms.BatchNorm2d(c) end
  if norm == "instance" then return norms.InstanceNorm2d(c) end
end

local function add_all(seq, list)
  for _, m in ipairs(list) do
    if m then seq:add(m) end
  end
  return seq
end

-- ----------------------------------------------------------------------------

local Pad2d = Module:extend("Pad2d")
M.Pad2d = Pad2d

--- Pads the last two dims: Pad2d(3, "reflect") is PyTorch's ReflectionPad2d(3).
-- @param padding a number (all four sides) or {left, right, top, bottom}
-- @param mode "reflect" (default), "replicate" or "zeros"
function Pad2d:init(padding, mode)
  if type(padding) == "number" then padding = { padding, padding, padding, padding } end
  self.padding, self.mode = padding, mode or "reflect"
end

--- x (N, C, H, W) -> (N, C, H + top + bottom, W + left + right).
function Pad2d:forward(x)
  return x:pad(self.padding, self.mode)
end

--- Settings shown when printed.
function Pad2d:extra_repr()
  return ("(%s), mode=%s"):format(table.concat(self.padding, ", "), self.mode)
end

-- ----------------------------------------------------------------------------

local ResnetBlock = Module:extend("ResnetBlock")
M.ResnetBlock = ResnetBlock

--- A residual block of two 3x3 convolutions at constant size:
-- x + conv(relu(norm(conv(pad(x))))) with norm after each convolution.
-- @param c channels in and out
-- @param opts {norm="instance", padding="reflect" (or "replicate", "zeros"), dropout=0 (a rate between the convolutions)}
function ResnetBlock:init(c, opts)
  opts = opts or {}
  local norm = check_norm("ResnetBlock", opts.norm)
  local pad = opts.padding or "reflect"
  local bias = norm ~= "batch"
  local function conv3()
    if pad == "zeros" then return false, Conv2d(c, c, 3, 1, 1, { bias = bias }) end
    return Pad2d(1, pad), Conv2d(c, c, 3, 1, 0, { bias = bias })
  end
  local p1, c1 = conv3()
  local p2, c2 = conv3()
  local dropout = opts.dropout or 0
  self.body = add_all(Sequential(), {
    p1, c1, norm_layer(norm, c) or false, act.ReLU(),
    dropout > 0 and layers.Dropout(dropout) or false,
    p2, c2, norm_layer(norm, c) or false,
  })
  self.channels = c
end

--- x (N, c, H, W) -> x + body(x).
function ResnetBlock:forward(x)
  return x + self.body(x)
end

--- Settings shown when printed.
function ResnetBlock:extra_repr() return tostring(self.channels) end

local ResnetGenerator = Sequential:extend("ResnetGenerator")
M.ResnetGenerator = ResnetGenerator

--- The CycleGAN generator (Johnson et al.'s network): a 7x7 convolution,
-- `downs` stride-2 convolutions doubling the channels, `blocks` residual
-- blocks, `downs` transposed convolutions back to the input's size, a 7x7
-- convolution and Tanh. Reflection padding keeps borders free of artefacts.
-- H and W must be divisible by 2^downs.
-- @param in_channels channels of the input images
-- @param out_channels channels of the output images
-- @param opts {nf=64 (channels after the first layer), blocks=9, downs=2, norm="instance",
--   padding="reflect", dropout=0 (inside each block)}
function ResnetGenerator:init(in_channels, out_channels, opts)
  opts = opts or {}
  local nf, blocks, downs = opts.nf or 64, opts.blocks or 9, opts.downs or 2
  local norm = check_norm("ResnetGenerator", opts.norm)
  if blocks < 0 or downs < 0 or nf < 1 then
    error(("ResnetGenerator: nf (%d) must be >= 1, blocks (%d) and downs (%d) >= 0"):format(nf, blocks, downs), 3)
  end
  local bias = norm ~= "batch"
  local pad = opts.padding or "reflect"
  local function stem(cin, cout)
    if pad == "zeros" then return false, Conv2d(cin, cout, 7, 1, 3, { bias = bias }) end
    return Pad2d(3, pad), Conv2d(cin, cout, 7, 1, 0, { bias = bias })
  end
  local p, c = stem(in_channels, nf)
  add_all(self, { p, c, norm_layer(norm, nf) or false, act.ReLU() })
  local ch = nf
  for _ = 1, downs do
    add_all(self, { Conv2d(ch, ch * 2, 3, 2, 1, { bias = bias }), norm_layer(norm, ch * 2) or false, act.ReLU() })
    ch = ch * 2
  end
  for _ = 1, blocks do self:add(ResnetBlock(ch, { norm = norm, padding = pad, dropout = opts.dropout })) end
  for _ = 1, downs do
    add_all(self, { ConvTranspose2d(ch, ch // 2, 3, 2, 1, { output_padding = 1, bias = bias }),
      norm_layer(norm, ch // 2) or false, act.ReLU() })
    ch = ch // 2
  end
  if pad == "zeros" then
    self:add(Conv2d(ch, out_channels, 7, 1, 3))
  else
    self:add(Pad2d(3, pad)):add(Conv2d(ch, out_channels, 7, 1, 0))
  end
  self:add(act.Tanh())
  self.config = ("%d -> %d, nf=%d, blocks=%d, downs=%d, norm=%s"):format(in_channels, out_channels, nf, blocks,
    downs, norm)
end

--- Settings shown when printed.
function ResnetGenerator:extra_repr() return self.config end

-- ----------------------------------------------------------------------------

local UnetBlock = Module:extend("UnetBlock")
M.UnetBlock = UnetBlock

--- One level of a U-Net: down (stride-2 4x4 convolution), the inner levels,
-- up (stride-2 4x4 transposed convolution), and the input concatenated to
-- the output on the channel dim (the skip connection), except at the
-- outermost level, which ends with Tanh instead.
-- @param outer_nc channels this level returns (before the concatenation)
-- @param inner_nc channels of the inner level's input
-- @param opts {input_nc=outer_nc, inner=nil (the inner level; nil: innermost),
--   outermost=false, norm="batch", dropout=0 (a rate after the up-convolution)}
function UnetBlock:init(outer_nc, inner_nc, opts)
  opts = opts or {}
  local norm = check_norm("UnetBlock", opts.norm or "batch")
  local bias = norm ~= "batch"
  local input_nc = opts.input_nc or outer_nc
  local down = Conv2d(input_nc, inner_nc, 4, 2, 1, { bias = bias })
  local body = Sequential()
  self.outermost, self.innermost = opts.outermost == true, opts.inner == nil
  if self.outermost then
    add_all(body, { down, opts.inner or false, act.ReLU(), ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), act.Tanh() })
  elseif self.innermost then
    add_all(body, { act.LeakyReLU(0.2), down, act.ReLU(),
      ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, { bias = bias }), norm_layer(norm, outer_nc) or false })
  else
    local dropout = opts.dropout or 0
    add_all(body, { act.LeakyReLU(0.2), down, norm_layer(norm, inner_nc) or false, opts.inner or false, act.ReLU(),
      ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, { bias = bias }), norm_layer(norm, outer_nc) or false,
      dropout > 0 and layers.Dropout(dropout) or false })
  end
  self.body = body
  self.sizes = ("%d, %d"):format(outer_nc, inner_nc)
end

--- x (N, input_nc, H, W) -> (N, input_nc + outer_nc, H, W) (outermost: (N, outer_nc, H, W)).
function UnetBlock:forward(x)
  if self.outermost then return self.body(x) end
  return gan.cat({ x, self.body(x) }, 2)
end

--- Settings shown when printed.
function UnetBlock:extra_repr()
  return self.sizes .. (self.outermost and ", outermost" or self.innermost and ", innermost" or "")
end

local UnetGenerator = Module:extend("UnetGenerator")
M.UnetGenerator = UnetGenerator

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
function UnetGenerator:init(in_channels, out_channels, downs, opts)
  opts = opts or {}
  local nf = opts.nf or 64
  local norm = check_norm("UnetGenerator", opts.norm or "batch")
  if type(downs) ~= "number" or downs < 5 then
    error(("UnetGenerator: downs must be a number >= 5, got %s"):format(tostring(downs)), 3)
  end
  local n_drop = opts.dropout or (downs - 5)
  if n_drop < 0 or n_drop > downs - 2 then
    error(("UnetGenerator: dropout (levels) must be in [0, %d], got %d"):format(downs - 2, n_drop), 3)
  end
  -- level t counts from the outermost (0); the innermost is t = downs - 1
  local function outer(t) return nf * math.min(8, 1 << (t - 1)) end
  local function inner(t) return nf * math.min(8, 1 << t) end
  local block = UnetBlock(outer(downs - 1), inner(downs - 1), { norm = norm })
  for t = downs - 2, 1, -1 do
    block = UnetBlock(outer(t), inner(t), {
      norm = norm, inner = block, dropout = (t >= downs - 1 - n_drop) and 0.5 or 0,
    })
  end
  self.model = UnetBlock(out_channels, nf, { input_nc = in_channels, inner = block, outermost = true, norm = norm })
  self.config = ("%d -> %d, downs=%d, nf=%d, norm=%s, dropout levels=%d"):format(in_channels, out_channels, downs,
    nf, norm, n_drop)
  self.downs = downs
end

--- x (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1].
function UnetGenerator:forward(x)
  local f = 2 ^ self.downs
  if x:size(3) % f ~= 0 or x:size(4) % f ~= 0 then
    error(("UnetGenerator: H and W must be divisible by 2^downs = %d, got (%s)"):format(f,
      table.concat(x:shape(), ", ")), 2)
  end
  return self.model(x)
end

--- Settings shown when printed.
function UnetGenerator:extra_repr() return self.config end

-- ----------------------------------------------------------------------------

local PatchDiscriminator = Sequential:extend("PatchDiscriminator")
M.PatchDiscriminator = PatchDiscriminator

--- The PatchGAN discriminator: `n_layers` stride-2 4x4 convolutions
-- (channels doubling from nf up to 8 nf), one stride-1 4x4 convolution,
-- and a 4x4 convolution to one logit per patch. With n_layers = 3 each
-- logit sees a 70x70 patch and a 256x256 input gives a 30x30 map; 2 gives
-- 34x34 patches, 1 gives 16x16 (`nn.receptive_field`).
-- @param in_channels channels of the input (pix2pix: input and output stacked)
-- @param opts {nf=64, n_layers=3, norm="instance"}
function PatchDiscriminator:init(in_channels, opts)
  opts = opts or {}
  local nf, n_layers = opts.nf or 64, opts.n_layers or 3
  local norm = check_norm("PatchDiscriminator", opts.norm)
  if n_layers < 0 then error(("PatchDiscriminator: n_layers must be >= 0, got %d"):format(n_layers), 3) end
  local bias = norm ~= "batch"
  self:add(Conv2d(in_channels, nf, 4, 2, 1)):add(act.LeakyReLU(0.2))
  local ch = nf
  for n = 1, n_layers do
    local out = nf * math.min(1 << n, 8)
    local stride = n < n_layers and 2 or 1
    add_all(self, { Conv2d(ch, out, 4, stride, 1, { bias = bias }), norm_layer(norm, out) or false,
      act.LeakyReLU(0.2) })
    ch = out
  end
  self:add(Conv2d(ch, 1, 4, 1, 1))
  self.config = ("%d, nf=%d, n_layers=%d, norm=%s"):format(in_channels, nf, n_layers, norm)
end

--- Settings shown when printed.
function PatchDiscriminator:extra_repr() return self.config end

-- ----------------------------------------------------------------------------

--- The receptive field of a chain of convolutions and pools: the side, in
-- input pixels, of the square one output value depends on. Walks the
-- network's modules in order (Conv2d, Pad2d and anything with
-- `kernel_size`); a network that is not a chain (skip connections) gives
-- the receptive field of its main path.
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

return M
