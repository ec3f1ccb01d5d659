--- gan.nets.patch: the PatchGAN discriminator of pix2pix and CycleGAN:
-- one logit per patch of the input, not one per image.
--
--     local D = gan.nets.patch.Discriminator(6, { nf = 64, n_layers = 3 })   -- 70x70 patches
--     gan.nets.receptive_field(D)                                            -- 70
--
-- Norms: "instance" (the default), "batch" or "none" (gan.nn's
-- vocabulary); a convolution followed by batch norm has no bias. With
-- nf = 64 and 3 layers: 2,764,737 parameters (instance norm, 3 channels
-- in) and 2,768,705 (batch norm, 6 in), the reference PyTorch
-- implementation's counts.
-- Requires: gan.nn.
-- @module gan.nets.patch

local nn = require "gan.nn"
local check = require "gan.check"

local M = {}

local NORMS = { "instance", "batch", "none" }

local Discriminator = nn.Sequential:extend("PatchDiscriminator")
M.Discriminator = Discriminator

--- The PatchGAN discriminator: `n_layers` stride-2 4x4 convolutions
-- (channels doubling from nf up to 8 nf), one stride-1 4x4 convolution,
-- and a 4x4 convolution to one logit per patch. With n_layers = 3 each
-- logit sees a 70x70 patch and a 256x256 input gives a 30x30 map; 2 gives
-- 34x34 patches, 1 gives 16x16 (`gan.nets.receptive_field`).
-- @param in_channels channels of the input (pix2pix: input and output stacked)
-- @param opts {nf=64, n_layers=3, norm="instance"}
function Discriminator:init(in_channels, opts)
  local who = "gan.nets.patch.Discriminator"
  in_channels = check.integer(who, "in_channels", in_channels, 1)
  opts = check.options(who, opts)
  local nf = check.integer(who, "nf", opts.nf or 64, 1)
  local n_layers = check.integer(who, "n_layers", opts.n_layers or 3, 0)
  local norm = nn.check_norm(who, opts.norm or "instance", NORMS)
  local bias = nn.bias_before(norm)
  self:add(nn.Conv2d(in_channels, nf, 4, 2, 1)):add(nn.LeakyReLU(0.2))
  local ch = nf
  for n = 1, n_layers do
    local out = nf * math.min(1 << n, 8)
    local stride = n < n_layers and 2 or 1
    self:add_all({ nn.Conv2d(ch, out, 4, stride, 1, { bias = bias }), nn.norm_layer(norm, out) or false,
      nn.LeakyReLU(0.2) })
    ch = out
  end
  self:add(nn.Conv2d(ch, 1, 4, 1, 1))
  self.config = ("%d, nf=%d, n_layers=%d, norm=%s"):format(in_channels, nf, n_layers, norm)
end

--- Settings shown when printed.
function Discriminator:extra_repr() return self.config end

return M
