--- gan.nets.stylegan: StyleGAN's style-based generator (Karras, Laine and
-- Aila 2019, arXiv:1812.04948; as NVlabs' G_style, G_mapping and
-- G_synthesis in training/networks_stylegan.py, at a fixed resolution), and
-- its discriminator (PGGAN's with a blur before each downsampling:
-- gan.nets.pggan's, fixed).
--
--     local sg = gan.nets.stylegan
--     local G = sg.Generator(128, 128, 32, 1, { mapping_layers = 8, channel_base = 1024, channel_max = 128 })
--     local img = G(z)                                    -- (N, 1, 32, 32)
--     local ws = G.mapping(z)                             -- (N, 8, 128): one w per layer
--     img = G.synthesis(G.mapping:mix(ws, z))             -- training: style mixing regularisation
--     img = G(z, { psi = 0.7, cutoff = 4 })               -- truncation in W, coarse layers only
--     local first, last = G:layers(4, 8)                  -- the coarse ws: 1, 4
--     local D = sg.Discriminator(1, 32, { channel_base = 1024, channel_max = 128 })
--
-- The synthesis network starts from a learned constant (C, 4, 4) (ones,
-- as NVlabs'). Each resolution has two layers; a layer is a 3x3 equalized
-- convolution (gain sqrt(2), no bias of its own), then its epilogue: noise
-- (a per-pixel map scaled by a learned per-channel strength from 0), a
-- bias, LeakyReLU(0.2), and AdaIN with that layer's w (instance norm, then
-- each channel scaled by 1 + y_s and shifted by y_b, (y_s, y_b) an affine
-- map of w). At 4x4 the first layer is the constant's epilogue alone; from
-- 8x8 on the first convolution upsamples (nearest 2x and the conv, fused
-- as PGGAN's) and is followed by the blur {1, 2, 1}. A 1x1 ToRGB (gain 1,
-- with a bias) at the last resolution makes the image; unlike StyleGAN2's,
-- it takes no style. So num_ws = 2 log2(resolution) - 2 (8 at 32x32), and
-- resolution r's two ws are 2 log2(r) - 3 and 2 log2(r) - 2.
--
-- Channels at resolution r: min(channel_base / r, channel_max) (NVlabs:
-- fmap_base 8192 at stage log2(r) - 1, i.e. channel_base 16384, and 512).
-- The mapping network, the truncation and the mixing are gan.nn's
-- MappingNetwork. The parameters are named b4.const, b4.epi0, b4.conv,
-- b4.epi1, b8.conv0, b8.epi0, b8.conv1, b8.epi1, ..., torgb.
--
-- Requires: gan.nn (equalized layers, NoiseInjection, AdaIN, Blur,
-- MappingNetwork), gan.nets.style (channels, resolutions), gan.nets.pggan
-- (the fused upsampling conv, the discriminator). Reads no options.
-- @module gan.nets.stylegan

local gan = require "gan"
local nn = require "gan.nn"
local style = require "gan.nets.style"
local pggan = require "gan.nets.pggan"

local M = {}

local SQRT2 = math.sqrt(2)

--- The channels at a resolution: min(channel_base / res, channel_max), PGGAN's
-- rule (gan.nets.pggan.channels).
-- @function channels
-- @param res the resolution (4, 8, ...)
-- @param opts {channel_base=16384, channel_max=512}
-- @return integer
M.channels = pggan.channels

--- The ws of a resolution's two layers: the first and the last index (1-based).
-- @param res a resolution (4, 8, ...)
-- @return first, last
function M.layers_of(res)
  local l = math.floor(math.log(res, 2) + 0.5)
  return 2 * l - 3, 2 * l - 2
end

local Epilogue = nn.Module:extend("StyleLayerEpilogue")
M.LayerEpilogue = Epilogue

--- What follows each of the synthesis network's convolutions (NVlabs'
-- layer_epilogue): noise, bias, LeakyReLU(0.2), AdaIN.
-- @param channels C
-- @param w_dim the size of w
-- @param res the maps' size (the noise_const buffer's)
-- @param opts {activation="lrelu" (a smooth one such as "tanh" suits finite differences)}
function Epilogue:init(channels, w_dim, res, opts)
  opts = opts or {}
  self.activation = opts.activation or "lrelu"
  self.noise = nn.NoiseInjection({ channels = channels, resolution = res })
  self:param("bias", gan.zeros(channels))
  self.adain = nn.AdaIN(channels, w_dim)
end

--- x (N, C, H, W) and w (N, w_dim) -> (N, C, H, W).
-- @param x the convolution's output
-- @param w this layer's w
-- @param noise a mode ("random", "const", "none") or a tensor for this call (nil: the layer's mode)
-- @param trace a table to fill (optional): conv (x), features (after noise, bias and activation:
--   AdaIN's input), normalized, scale, shift (N, C), out
function Epilogue:forward(x, w, noise, trace)
  local h = nn.bias_act(self.noise(x, noise), self.bias, { act = self.activation, gain = 1 })
  if trace then trace.conv, trace.features = x, h end
  return self.adain(h, w, trace)
end

local Block = nn.Module:extend("StyleSynthesisBlock")
M.SynthesisBlock = Block

--- One resolution of the synthesis network: two layers.
-- @param in_channels the previous block's channels (0: the 4x4 block, from the constant)
-- @param out_channels this block's channels
-- @param w_dim the size of w
-- @param res this block's resolution
-- @param opts {activation="lrelu", blur={1, 2, 1} (false: none)}
function Block:init(in_channels, out_channels, w_dim, res, opts)
  opts = opts or {}
  self.resolution, self.out_channels = res, out_channels
  local conv = { gain = SQRT2, bias = false }
  if in_channels == 0 then
    self:param("const", gan.ones(1, out_channels, res, res))
    self.conv = nn.EqualizedConv2d(out_channels, out_channels, 3, conv)
  else
    self.conv0 = pggan.FusedScaleConv2d(in_channels, out_channels, "up", "linear", { bias = false })
    if opts.blur ~= false then self.blur = nn.Blur(opts.blur or { 1, 2, 1 }) end
    self.conv1 = nn.EqualizedConv2d(out_channels, out_channels, 3, conv)
  end
  self.epi0 = Epilogue(out_channels, w_dim, res, opts)
  self.epi1 = Epilogue(out_channels, w_dim, res, opts)
end

--- The block's features.
-- @param x the previous block's (N, in_channels, res / 2, res / 2), or nil for the 4x4 block
-- @param ws (N, 2, w_dim), the block's two ws
-- @param opts {noise (a mode for every layer), trace (a list to append each layer's table to)}
-- @return (N, out_channels, res, res)
function Block:forward(x, ws, opts)
  opts = opts or {}
  local t0, t1
  if opts.trace then
    t0, t1 = { resolution = self.resolution }, { resolution = self.resolution }
    table.insert(opts.trace, t0)
    table.insert(opts.trace, t1)
  end
  if self.const then
    local n = ws:size(1)
    x = self.epi0(self.const:expand(n, self.out_channels, self.resolution, self.resolution), ws:select(2, 1),
      opts.noise, t0)
    return self.epi1(self.conv(x), ws:select(2, 2), opts.noise, t1)
  end
  x = self.conv0(x)
  if self.blur then x = self.blur(x) end
  x = self.epi0(x, ws:select(2, 1), opts.noise, t0)
  return self.epi1(self.conv1(x), ws:select(2, 2), opts.noise, t1)
end

local Synthesis = nn.Module:extend("StyleSynthesisNetwork")
M.Synthesis = Synthesis

--- StyleGAN's synthesis network at a fixed resolution: ws (N, num_ws, w_dim) -> images.
-- @param w_dim the size of w
-- @param resolution the image's size (a power of two >= 4)
-- @param img_channels the image's channels
-- @param opts {channel_base=16384, channel_max=512, activation="lrelu", blur={1, 2, 1} (false: none)}
function Synthesis:init(w_dim, resolution, img_channels, opts)
  opts = opts or {}
  self.w_dim, self.resolution, self.img_channels = w_dim, resolution, img_channels
  self.blocks = {}
  for _, res in ipairs(style.resolutions(resolution, "gan.nets.stylegan.Synthesis")) do
    local cin = res > 4 and M.channels(res // 2, opts) or 0
    local block = Block(cin, M.channels(res, opts), w_dim, res, opts)
    self:add_module("b" .. res, block)
    self.blocks[#self.blocks + 1] = block
  end
  self.num_ws = 2 * #self.blocks
  self.torgb = nn.EqualizedConv2d(M.channels(resolution, opts), img_channels, 1)
end

--- ws (N, num_ws, w_dim) -> images (N, img_channels, resolution, resolution).
-- @param ws one w per layer
-- @param opts {noise (a mode for every layer: "random", "const", "none"), trace (a list: each layer
--   appends a table {resolution, conv, features, normalized, scale, shift, out}, see LayerEpilogue)}
function Synthesis:forward(ws, opts)
  if ws:dim() ~= 3 or ws:size(2) ~= self.num_ws or ws:size(3) ~= self.w_dim then
    error(("StyleSynthesisNetwork: expected ws of shape (N, %d, %d), got (%s)"):format(self.num_ws, self.w_dim,
      table.concat(ws:shape(), ", ")), 2)
  end
  local x
  for i, block in ipairs(self.blocks) do x = block(x, ws:narrow(2, 2 * i - 1, 2), opts) end
  return self.torgb(x)
end

--- Settings shown when printed.
function Synthesis:extra_repr()
  return ("w_dim=%d, resolution=%d, img_channels=%d, num_ws=%d"):format(self.w_dim, self.resolution,
    self.img_channels, self.num_ws)
end

local Generator = nn.Module:extend("StyleGANGenerator")
M.Generator = Generator

--- StyleGAN's generator: the mapping network, then the synthesis network.
-- @param z_dim the size of z
-- @param w_dim the size of w
-- @param resolution the image's size
-- @param img_channels the image's channels
-- @param opts {mapping_layers=8, lr_multiplier=0.01 (the mapping's), w_avg_beta=0.995, and the
--   synthesis's channel_base, channel_max, activation, blur}
function Generator:init(z_dim, w_dim, resolution, img_channels, opts)
  opts = opts or {}
  self.z_dim, self.w_dim, self.resolution = z_dim, w_dim, resolution
  self.synthesis = Synthesis(w_dim, resolution, img_channels, opts)
  self.num_ws = self.synthesis.num_ws
  self.mapping = nn.MappingNetwork(z_dim, w_dim, { layers = opts.mapping_layers, num_ws = self.num_ws,
    lr_multiplier = opts.lr_multiplier, w_avg_beta = opts.w_avg_beta, activation = opts.mapping_activation })
end

--- z (N, z_dim) -> images.
-- @param z the latents
-- @param opts {psi=1, cutoff (truncation in W: see nn.MappingNetwork), noise, trace (see Synthesis)}
function Generator:forward(z, opts)
  opts = opts or {}
  return self.synthesis(self.mapping(z, { psi = opts.psi, cutoff = opts.cutoff }), opts)
end

--- The ws of the layers from resolution lo to resolution hi: the first and the last index.
-- @param lo the lowest resolution (4, 8, ...)
-- @param hi the highest (default lo)
-- @return first, last
function Generator:layers(lo, hi)
  hi = hi or lo
  if lo > hi or hi > self.resolution or lo < 4 then
    error(("StyleGANGenerator:layers: %s..%s is not a range of resolutions from 4 to %d"):format(tostring(lo),
      tostring(hi), self.resolution), 2)
  end
  local first = M.layers_of(lo)
  local _, last = M.layers_of(hi)
  return first, last
end

--- StyleGAN's discriminator at a fixed resolution: PGGAN's (gan.nets.pggan)
-- with only the last fromRGB and the blur {1, 2, 1} before each
-- downsampling conv (NVlabs' D_basic), ending in the minibatch-stddev epilogue.
-- @param img_channels the image's channels
-- @param resolution the image's size
-- @param opts {channel_base=16384, channel_max=512, mbstd_group=4 (0: none), activation="lrelu",
--   blur={1, 2, 1} (false: none)}
-- @return the discriminator: images (N, C, resolution, resolution) -> scores (N, 1)
function M.Discriminator(img_channels, resolution, opts)
  opts = opts or {}
  local o = { fixed = true, blur = opts.blur == nil and { 1, 2, 1 } or opts.blur or nil }
  for k, v in pairs(opts) do if k ~= "blur" then o[k] = v end end
  return pggan.Discriminator(img_channels, resolution, o)
end

return M
