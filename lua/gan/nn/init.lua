--- gan.nn: layers.
--
-- Every layer is a class derived from `gan.nn.Module`; calling a class makes
-- a layer, calling a layer runs it:
--
--     local nn = gan.nn
--     local D = nn.Sequential {
--       nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
--       nn.Flatten(), nn.Linear(64 * 16 * 16, 1),
--     }
--     local logits = D(x)
--
-- Layers: Module, Sequential, Linear, Conv2d, ConvTranspose2d, BatchNorm1d,
-- BatchNorm2d, InstanceNorm2d, LayerNorm, GroupNorm, Embedding, Dropout,
-- Upsample, Pad2d, MaxPool2d, AvgPool2d, Flatten, Reshape, Lambda, ReLU, LeakyReLU, ELU, Tanh,
-- Sigmoid, Softplus, Identity, SpectralNorm, MinibatchDiscrimination, VirtualBatchNorm, Heads.
-- The progressive and style-based GANs' layers: EqualizedLinear, EqualizedConv2d and bias_act
-- (gan.nn.equalized), PixelNorm, MinibatchStdDev, Blur, NoiseInjection, AdaIN,
-- ModulatedConv2d, StyledConv2d, ToRGB, modulated_conv2d, set_noise_mode (gan.nn.style),
-- MappingNetwork. SAGAN's and BigGAN's: SelfAttention (gan.nn.attention), ConditionalBatchNorm2d
-- (gan.nn.conditional). FIR resampling (upsample2d, downsample2d, conv2d_resample): `gan.nn.resample`.
-- Initialisers: `gan.nn.init`. The norm vocabulary of every network builder:
-- `norm_kinds`, `norm_layer`, `norm_layer1d`, `check_norm`, `bias_before`
-- (gan.nn.norm). Whole networks live in gan.nets.
-- @module gan.nn

local M = {}

M.Module = require "gan.nn.Module"
M.Sequential = require "gan.nn.Sequential"
M.Linear = require "gan.nn.Linear"
M.SpectralNorm = require "gan.nn.SpectralNorm"
M.init = require "gan.nn.initializers"

local function merge(t)
  for k, v in pairs(t) do M[k] = v end
end
merge(require "gan.nn.Conv2d")
merge(require "gan.nn.norm")
merge(require "gan.nn.layers")
merge(require "gan.nn.activations")
M.MinibatchDiscrimination = require "gan.nn.MinibatchDiscrimination"
M.MinibatchStdDev = require "gan.nn.MinibatchStdDev"
merge(require "gan.nn.VirtualBatchNorm")
M.Heads = require "gan.nn.Heads"
M.resample = require "gan.nn.resample"
merge(require "gan.nn.equalized")
merge(require "gan.nn.style")
M.MappingNetwork = require "gan.nn.mapping"
merge(require "gan.nn.attention")
merge(require "gan.nn.conditional")
M.Blur = M.resample.Blur

--- True when v is a module.
-- @param v any value
-- @return boolean
M.is_module = M.Module.is_module

return M
