--- gan.nets.style: StyleGAN2's networks (Karras et al. 2020,
-- arXiv:1912.04958; config F: a skip generator and a residual
-- discriminator, as NVlabs' StyleGAN2-ADA code builds them), shared by the
-- StyleGAN2 and StyleGAN2-ADA recipes; and the discriminator's last block
-- (minibatch standard deviation, a 3x3 conv, two dense layers), which
-- PGGAN and StyleGAN end with too.
--
--     local style = gan.nets.style
--     local G = style.Generator(64, 64, 32, 1, { mapping_layers = 2, channel_base = 2048, channel_max = 128 })
--     local img = G(z)                                   -- (N, 1, 32, 32)
--     local ws = G.mapping:mix(G.mapping(z), z)          -- training: style mixing, then
--     img = G.synthesis(ws)
--     local D = style.Discriminator(32, 1, { channel_base = 2048, channel_max = 128 })
--     local logits = D(img)                              -- (N, 1)
--
-- Channels at resolution r: min(channel_base / r, channel_max) (NVlabs:
-- 32768 and 512). The synthesis network starts from a learned 4x4
-- constant; each block up to the image's resolution doubles the size with
-- a StyledConv2d (up 2), adds another, and its ToRGB adds this level's
-- image to the previous level's, upsampled (the skip architecture). The
-- ws: one per convolution, and the last block's ToRGB's; a block's ToRGB
-- shares its w with the next block's first convolution (num_ws = 2 log2(r) - 2).
-- The discriminator: a 1x1 conv from the image, then residual blocks
-- halving the size (two 3x3 convs, the second with down 2, and a 1x1 down-2
-- skip, summed with gains sqrt(1/2)), down to 4x4 and the epilogue. Every
-- layer has an equalized learning rate; activations are lrelu 0.2 with
-- gain sqrt(2) unless `activation` says otherwise. The parameters are named
-- as in NVlabs' code (b4.const, b8.conv0, b8.torgb, b16.fromrgb, b4.fc, ...).
--
-- Requires: gan.nn (its style, equalized and resample layers; the FIR
-- resampling needs the upfirdn2d op). Reads no options.
-- @module gan.nets.style

local gan = require "gan"
local nn = require "gan.nn"

local M = {}

--- The channels at a resolution: min(channel_base / res, channel_max).
-- @param res the resolution (4, 8, ...)
-- @param opts {channel_base=32768, channel_max=512}
-- @return integer
function M.channels(res, opts)
  opts = opts or {}
  return math.min((opts.channel_base or 32768) // res, opts.channel_max or 512)
end

--- Checks the options the style-based recipes (pggan, stylegan, stylegan2)
-- share: --size a power of two >= 8, and --batch a multiple of
-- --mbstd_group (D's minibatch standard deviation groups) when that is on.
-- Raises a message that names the option.
-- @param opt the options (size, batch, mbstd_group)
function M.check_options(opt)
  if opt.size < 8 or opt.size & (opt.size - 1) ~= 0 then
    error(("--size must be a power of two >= 8, got %d"):format(opt.size), 0)
  end
  if opt.mbstd_group > 0 and opt.batch % math.min(opt.mbstd_group, opt.batch) ~= 0 then
    error(("--batch (%d) must be a multiple of --mbstd_group (%d)"):format(opt.batch, opt.mbstd_group), 0)
  end
end

--- The resolutions 4, 8, ..., resolution; raises, naming `who`, unless
-- resolution is a power of two >= 4.
-- @param resolution the final resolution
-- @param who the caller's name, for the message
-- @return list of integers
function M.resolutions(resolution, who)
  local list, r = {}, 4
  while r <= resolution do
    list[#list + 1] = r
    r = r * 2
  end
  if math.type(resolution) ~= "integer" or list[#list] ~= resolution then
    error(("%s: the resolution must be a power of two >= 4, got %s"):format(who, tostring(resolution)), 3)
  end
  return list
end

local SynthesisBlock = nn.Module:extend("SynthesisBlock")
M.SynthesisBlock = SynthesisBlock

--- One resolution of the skip generator.
-- @param in_channels the previous block's channels (0: the first block, from the constant)
-- @param out_channels this block's channels
-- @param w_dim the size of w
-- @param res this block's resolution
-- @param img_channels the image's channels
-- @param opts {activation="lrelu", filter={1, 3, 3, 1}}
function SynthesisBlock:init(in_channels, out_channels, w_dim, res, img_channels, opts)
  opts = opts or {}
  self.in_channels, self.out_channels, self.resolution = in_channels, out_channels, res
  local layer = { resolution = res, activation = opts.activation, filter = opts.filter }
  if in_channels == 0 then
    self:param("const", gan.randn(out_channels, res, res))
    self.num_conv = 1
  else
    self.conv0 = nn.StyledConv2d(in_channels, out_channels, 3, w_dim, setmetatable({ up = 2 }, { __index = layer }))
    self.num_conv = 2
  end
  self.conv1 = nn.StyledConv2d(out_channels, out_channels, 3, w_dim, layer)
  self.torgb = nn.ToRGB(out_channels, img_channels, w_dim, { filter = opts.filter })
end

--- The block's features and image from the previous block's.
-- @param x the previous features (N, in_channels, res / 2, res / 2), or nil for the first block
-- @param img the previous image, or nil
-- @param ws (N, num_conv + 1, w_dim)
-- @param opts {fused, noise} (see nn.StyledConv2d)
-- @return x (N, out_channels, res, res), img (N, img_channels, res, res)
function SynthesisBlock:forward(x, img, ws, opts)
  opts = opts or {}
  local i = 1
  if self.const then
    x = self.const:unsqueeze(1):expand(ws:size(1), self.out_channels, self.resolution, self.resolution)
  else
    x = self.conv0(x, ws:select(2, i), opts)
    i = i + 1
  end
  x = self.conv1(x, ws:select(2, i), opts)
  img = self.torgb(x, ws:select(2, i + 1), { fused = opts.fused, skip = img })
  return x, img
end

local Synthesis = nn.Module:extend("SynthesisNetwork")
M.Synthesis = Synthesis

--- The skip generator: ws (N, num_ws, w_dim) -> images.
-- @param w_dim the size of w
-- @param resolution the image's size (a power of two >= 4)
-- @param img_channels the image's channels
-- @param opts {channel_base=32768, channel_max=512, activation="lrelu", filter={1, 3, 3, 1}}
function Synthesis:init(w_dim, resolution, img_channels, opts)
  opts = opts or {}
  self.w_dim, self.resolution, self.img_channels = w_dim, resolution, img_channels
  self.blocks = {}
  self.num_ws = 0
  for _, res in ipairs(M.resolutions(resolution, "gan.nets.style.Synthesis")) do
    local cin = res > 4 and M.channels(res // 2, opts) or 0
    local block = SynthesisBlock(cin, M.channels(res, opts), w_dim, res, img_channels, opts)
    self:add_module("b" .. res, block)
    self.blocks[#self.blocks + 1] = block
    self.num_ws = self.num_ws + block.num_conv
  end
  self.num_ws = self.num_ws + 1
end

--- ws (N, num_ws, w_dim) -> images (N, img_channels, resolution, resolution).
-- @param ws one w per layer
-- @param opts {fused (default: in evaluation mode), noise (a mode for every layer: "random", "const", "none")}
function Synthesis:forward(ws, opts)
  if ws:dim() ~= 3 or ws:size(2) ~= self.num_ws or ws:size(3) ~= self.w_dim then
    error(("SynthesisNetwork: expected ws of shape (N, %d, %d), got (%s)"):format(self.num_ws, self.w_dim,
      table.concat(ws:shape(), ", ")), 2)
  end
  local x, img
  local first = 1
  for _, block in ipairs(self.blocks) do
    x, img = block(x, img, ws:narrow(2, first, block.num_conv + 1), opts)
    first = first + block.num_conv
  end
  return img
end

--- Settings shown when printed.
function Synthesis:extra_repr()
  return ("w_dim=%d, resolution=%d, img_channels=%d, num_ws=%d"):format(self.w_dim, self.resolution,
    self.img_channels, self.num_ws)
end

local Generator = nn.Module:extend("StyleGenerator")
M.Generator = Generator

--- StyleGAN2's generator: the mapping network, then the synthesis network.
-- @param z_dim the size of z
-- @param w_dim the size of w
-- @param resolution the image's size
-- @param img_channels the image's channels
-- @param opts {mapping_layers=8, lr_multiplier=0.01 (the mapping's), w_avg_beta=0.995, and the
--   synthesis's channel_base, channel_max, activation, filter}
function Generator:init(z_dim, w_dim, resolution, img_channels, opts)
  opts = opts or {}
  self.z_dim, self.w_dim = z_dim, w_dim
  self.synthesis = Synthesis(w_dim, resolution, img_channels, opts)
  self.num_ws = self.synthesis.num_ws
  self.mapping = nn.MappingNetwork(z_dim, w_dim, { layers = opts.mapping_layers, num_ws = self.num_ws,
    lr_multiplier = opts.lr_multiplier, w_avg_beta = opts.w_avg_beta })
end

--- z (N, z_dim) -> images.
-- @param z the latents
-- @param opts {psi=1, cutoff (truncation, see nn.MappingNetwork), fused, noise (see Synthesis)}
function Generator:forward(z, opts)
  opts = opts or {}
  return self.synthesis(self.mapping(z, { psi = opts.psi, cutoff = opts.cutoff }), opts)
end

local DiscriminatorBlock = nn.Module:extend("DiscriminatorBlock")
M.DiscriminatorBlock = DiscriminatorBlock

--- One resolution of the residual discriminator (halves the size).
-- @param in_channels the previous block's channels (0: the first block, from the image)
-- @param tmp_channels this block's channels
-- @param out_channels the next block's channels
-- @param img_channels the image's channels
-- @param opts {activation="lrelu", filter={1, 3, 3, 1}}
function DiscriminatorBlock:init(in_channels, tmp_channels, out_channels, img_channels, opts)
  opts = opts or {}
  local act = opts.activation or "lrelu"
  if in_channels == 0 then self.fromrgb = nn.EqualizedConv2d(img_channels, tmp_channels, 1, { activation = act }) end
  self.conv0 = nn.EqualizedConv2d(tmp_channels, tmp_channels, 3, { activation = act })
  self.conv1 = nn.EqualizedConv2d(tmp_channels, out_channels, 3, { activation = act, down = 2, filter = opts.filter })
  self.skip = nn.EqualizedConv2d(tmp_channels, out_channels, 1, { bias = false, down = 2, filter = opts.filter })
end

--- (x or the image) -> features at half the size.
-- @param x the previous block's features, or nil for the first block
-- @param img the image (read by the first block)
-- @return (N, out_channels, H / 2, W / 2)
function DiscriminatorBlock:forward(x, img)
  if self.fromrgb then x = self.fromrgb(img) end
  local h = math.sqrt(0.5)
  return self.skip(x, h) + self.conv1(self.conv0(x), h)
end

local Epilogue = nn.Module:extend("DiscriminatorEpilogue")
M.Epilogue = Epilogue

--- The discriminator's last block, at 4x4: minibatch standard deviation,
-- a 3x3 conv, a dense layer, and the score. With `gain`, the He gain goes
-- into the hidden layers' weights and the activation has none (PGGAN:
-- sqrt(2)); without it, into the activation (StyleGAN2).
-- @param in_channels the features' channels
-- @param res their size (4)
-- @param opts {mbstd_group=4 (0: no minibatch standard deviation), mbstd_channels=1, activation="lrelu",
--   gain (none), fc_channels=in_channels (the dense layer's outputs)}
function Epilogue:init(in_channels, res, opts)
  opts = opts or {}
  local layer = { activation = opts.activation or "lrelu" }
  if opts.gain then layer.gain, layer.act_gain = opts.gain, 1 end
  local group, extra = opts.mbstd_group or 4, opts.mbstd_channels or 1
  local fc = opts.fc_channels or in_channels
  if group == 0 then extra = 0 else self.mbstd = nn.MinibatchStdDev(group, extra) end
  self.conv = nn.EqualizedConv2d(in_channels + extra, in_channels, 3, layer)
  self.fc = nn.EqualizedLinear(in_channels * res * res, fc, layer)
  self.out = nn.EqualizedLinear(fc, 1)
end

--- x (N, C, res, res) -> scores (N, 1).
function Epilogue:forward(x)
  if self.mbstd then x = self.mbstd(x) end
  return self.out(self.fc(self.conv(x):flatten(2)))
end

local Discriminator = nn.Module:extend("StyleDiscriminator")
M.Discriminator = Discriminator

--- StyleGAN2's residual discriminator: images -> scores (N, 1).
-- @param resolution the image's size (a power of two >= 8)
-- @param img_channels the image's channels
-- @param opts {channel_base=32768, channel_max=512, mbstd_group=4, mbstd_channels=1, activation="lrelu",
--   filter={1, 3, 3, 1}}
function Discriminator:init(resolution, img_channels, opts)
  opts = opts or {}
  self.resolution = resolution
  local list = M.resolutions(resolution, "gan.nets.style.Discriminator")
  if resolution < 8 then error("gan.nets.style.Discriminator: the resolution must be 8 or more", 2) end
  self.blocks = {}
  for i = #list, 2, -1 do
    local res = list[i]
    local cin = res < resolution and M.channels(res, opts) or 0
    local block = DiscriminatorBlock(cin, M.channels(res, opts), M.channels(res // 2, opts), img_channels, opts)
    self:add_module("b" .. res, block)
    self.blocks[#self.blocks + 1] = block
  end
  self.b4 = Epilogue(M.channels(4, opts), 4, opts)
end

--- img (N, img_channels, resolution, resolution) -> (N, 1).
function Discriminator:forward(img)
  local x
  for _, block in ipairs(self.blocks) do x = block(x, img) end
  return self.b4(x)
end

return M
