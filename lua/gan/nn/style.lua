--- Style layers: NoiseInjection and AdaIN (StyleGAN, Karras et al. 2019,
-- arXiv:1812.04948); modulated_conv2d, ModulatedConv2d, StyledConv2d and
-- ToRGB (StyleGAN2, Karras et al. 2020, arXiv:1912.04958).
--
--     local conv = nn.StyledConv2d(512, 256, 3, 512, { up = 2, resolution = 16 })
--     local rgb = nn.ToRGB(256, 3, 512)
--     x = conv(x, w)                           -- (N, 256, 16, 16): modulated, demodulated, noise, lrelu
--     img = rgb(x, w, { skip = img })          -- the skip generator: upsampled img + this level's RGB
--     nn.set_noise_mode(G, "const")            -- the fixed noise buffers, for reproducible samples
--
-- A style w (N, w_dim) reaches a layer through a learned affine map (an
-- EqualizedLinear whose bias starts at 1, so a style starts as the
-- identity). StyleGAN's AdaIN normalises each feature map and then scales
-- and shifts it by the style. StyleGAN2 instead scales the convolution's
-- weights by the style (modulation) and divides each output channel by the
-- norm of its scaled weights (demodulation), which does what instance norm
-- did without the droplet artefacts.
--
-- Noise: a NoiseInjection adds per-pixel Gaussian noise scaled by a learned
-- strength that starts at 0. Its mode is "random" (fresh noise from the
-- default random stream, like dropout), "const" (its `noise_const` buffer,
-- drawn once and saved in checkpoints) or "none".
--
-- Requires: gan.nn.Module, gan.nn.equalized, gan.nn.resample (up > 1 and
-- ToRGB's skip need the upfirdn2d op). Reads no options.
-- @module gan.nn.style

local gan = require "gan"
local Module = require "gan.nn.Module"
local eq = require "gan.nn.equalized"
local resample = require "gan.nn.resample"

local M = {}

local function shape_str(t)
  return "(" .. table.concat(t:shape(), ", ") .. ")"
end

-- ----------------------------------------------------------------------------
-- Noise

local NoiseInjection = Module:extend("NoiseInjection")
M.NoiseInjection = NoiseInjection

local MODES = { random = true, const = true, none = true }

--- Per-pixel noise with a learned strength, initialised to 0.
-- @param opts {channels (nil: one strength for all channels, StyleGAN2's; C: one per channel,
--   StyleGAN's), resolution (the size of the `noise_const` buffer, (1, 1, r, r); nil: none),
--   mode="random" (or "const", "none")}
function NoiseInjection:init(opts)
  opts = opts or {}
  self.channels = opts.channels
  self.noise_mode = opts.mode or "random"
  if not MODES[self.noise_mode] then
    error(("NoiseInjection: mode must be \"random\", \"const\" or \"none\", got %s"):format(
      tostring(self.noise_mode)), 3)
  end
  self:param("strength", self.channels and gan.zeros(self.channels) or gan.zeros({}))
  if opts.resolution then
    self.resolution = opts.resolution
    self:buffer("noise_const", gan.randn(1, 1, opts.resolution, opts.resolution))
  end
end

--- x + strength * noise, the noise (N or 1, 1, H, W) shared by the channels.
-- @param x (N, C, H, W)
-- @param noise a noise tensor to add (broadcast to x), a mode ("random", "const", "none"),
--   or nil (the layer's mode)
-- @return x's shape
function NoiseInjection:forward(x, noise)
  if not gan.is_tensor(noise) then
    local mode = noise or self.noise_mode
    if mode == "none" then return x end
    if mode == "const" then
      noise = self.noise_const
      if noise == nil then error("NoiseInjection: mode \"const\" needs a resolution (a noise_const buffer)", 2) end
      if noise:size(3) ~= x:size(3) or noise:size(4) ~= x:size(4) then
        error(("NoiseInjection: noise_const is %s, x is %s"):format(shape_str(noise), shape_str(x)), 2)
      end
    elseif mode == "random" then
      noise = gan.randn(x:size(1), 1, x:size(3), x:size(4))
    else
      error(("NoiseInjection: unknown noise mode %s"):format(tostring(mode)), 2)
    end
  end
  local s = self.strength
  if self.channels then s = s:reshape(1, self.channels, 1, 1) end
  return x + noise * s
end

--- Settings shown when printed.
function NoiseInjection:extra_repr()
  local s = self.channels and ("channels=%d, "):format(self.channels) or ""
  if self.resolution then s = s .. ("resolution=%d, "):format(self.resolution) end
  return s .. "mode=" .. self.noise_mode
end

--- Sets the noise mode of every NoiseInjection of a network.
-- @param net a module
-- @param mode "random", "const" or "none"
-- @return net
function M.set_noise_mode(net, mode)
  if not MODES[mode] then
    error(("nn.set_noise_mode: mode must be \"random\", \"const\" or \"none\", got %s"):format(tostring(mode)), 2)
  end
  for _, m in ipairs(net:modules()) do
    if m.__name == "NoiseInjection" then m.noise_mode = mode end
  end
  return net
end

-- ----------------------------------------------------------------------------
-- AdaIN

local AdaIN = Module:extend("AdaIN")
M.AdaIN = AdaIN

--- Adaptive instance normalisation (StyleGAN): each map normalised to mean
-- 0 and variance 1, then scaled by 1 + y_s and shifted by y_b, where
-- (y_s, y_b) = A(w) is a learned EqualizedLinear(w_dim, 2C) (StyleGAN's style_mod).
-- @param channels C
-- @param w_dim the size of w
-- @param opts {eps=1e-8 (StyleGAN's instance norm)}
function AdaIN:init(channels, w_dim, opts)
  opts = opts or {}
  self.channels, self.w_dim = channels, w_dim
  self.eps = opts.eps or 1e-8
  self.style = eq.EqualizedLinear(w_dim, 2 * channels)
end

--- The style a w gives: the scale 1 + y_s and the shift y_b of each channel.
-- @param w (N, w_dim)
-- @return scale (N, C), shift (N, C)
function AdaIN:styles(w)
  local c = self.channels
  local s = self.style(w)
  return s:narrow(2, 1, c) + 1, s:narrow(2, c + 1, c)
end

--- x (N, C, H, W) and w (N, w_dim) -> (N, C, H, W).
-- @param x the features
-- @param w the style vectors
-- @param trace a table to fill with the tensors of this call (optional): normalized (the instance
--   norm's output), scale and shift (N, C), out
function AdaIN:forward(x, w, trace)
  local n, c = x:size(1), self.channels
  local y = x:instance_norm(nil, nil, self.eps)
  local scale, shift = self:styles(w)
  local out = y * scale:reshape(n, c, 1, 1) + shift:reshape(n, c, 1, 1)
  if trace then trace.normalized, trace.scale, trace.shift, trace.out = y, scale, shift, out end
  return out
end

--- Settings shown when printed.
function AdaIN:extra_repr()
  return ("%d, w_dim=%d"):format(self.channels, self.w_dim)
end

-- ----------------------------------------------------------------------------
-- Modulated convolution

--- StyleGAN2's modulated convolution, as NVlabs' modulated_conv2d. The
-- weights are scaled per sample by the styles (over the input channels)
-- and, with demodulation, each output channel is divided by the norm of
-- its scaled weights: d = 1 / sqrt(sum (w s)^2 + 1e-8).
--
-- Two ways to the same numbers: the training path scales the input by s,
-- convolves with the shared weight, and scales the output by d (N, C_out);
-- the fused path builds each sample's weights and runs one grouped
-- convolution with groups = N (NVlabs' choice for sampling). Since
-- sum_(i,k) (w_oik s_i)^2 = sum_i s_i^2 sum_k w_oik^2, d is one matrix product,
-- s^2 (N, C_in) times the kernels' squared norms (C_in, C_out): the training
-- path never builds the per-sample kernels (N, C_out, C_in, kh, kw).
-- @param x (N, C_in, H, W)
-- @param weight (C_out, C_in, kh, kw)
-- @param styles (N, C_in)
-- @param opts {demodulate=true, fused=true, up=1, down=1, padding=0, f (the resampling filter),
--   flip_weight=true}
-- @return (N, C_out, H', W')
function M.modulated_conv2d(x, weight, styles, opts)
  opts = opts or {}
  local n, cin = x:size(1), x:size(2)
  local cout, kh, kw = weight:size(1), weight:size(3), weight:size(4)
  if weight:size(2) ~= cin or styles:dim() ~= 2 or styles:size(1) ~= n or styles:size(2) ~= cin then
    error(("nn.modulated_conv2d: x %s, weight %s and styles %s do not agree (styles must be (N, C_in))")
      :format(shape_str(x), shape_str(weight), shape_str(styles)), 2)
  end
  local demodulate, fused = opts.demodulate ~= false, opts.fused ~= false
  local conv_opts = { f = opts.f, up = opts.up, down = opts.down, padding = opts.padding,
    flip_weight = opts.flip_weight }
  local d
  if demodulate then
    d = (styles:square():matmul(weight:square():sum({ 3, 4 }):t()) + 1e-8):rsqrt()   -- (N, C_out)
  end
  if not fused then
    x = resample.conv2d_resample(x * styles:reshape(n, cin, 1, 1), weight, conv_opts)
    if demodulate then x = x * d:reshape(n, cout, 1, 1) end
    return x
  end
  -- each sample's kernels, scaled by its styles (and demodulated): (N, C_out, C_in, kh, kw)
  local scale = styles:reshape(n, 1, cin)
  if demodulate then scale = scale * d:reshape(n, cout, 1) end
  local w = weight:unsqueeze(1) * scale:reshape(n, scale:size(2), cin, 1, 1)
  -- the batch as channels: sample i's C_in maps meet only sample i's C_out kernels
  conv_opts.groups = n
  local y = resample.conv2d_resample(x:reshape(1, n * cin, x:size(3), x:size(4)),
    w:reshape(n * cout, cin, kh, kw), conv_opts)
  return y:reshape(n, cout, y:size(3), y:size(4))
end

local ModulatedConv2d = Module:extend("ModulatedConv2d")
M.ModulatedConv2d = ModulatedConv2d

--- A modulated convolution with its affine map from w (StyleGAN2): weight
-- (C_out, C_in, k, k) from N(0, 1), styles = A(w) with A an
-- EqualizedLinear(w_dim, C_in) whose bias starts at 1. Without
-- demodulation (ToRGB) the styles are also multiplied by 1 / sqrt(C_in k k),
-- the equalized learning rate's gain, which demodulation makes needless.
-- @param in_channels C_in
-- @param out_channels C_out
-- @param kernel_size k
-- @param w_dim the size of w
-- @param opts {demodulate=true, up=1, filter={1, 3, 3, 1} (taps, when up > 1), padding=k // 2}
function ModulatedConv2d:init(in_channels, out_channels, kernel_size, w_dim, opts)
  opts = opts or {}
  self.in_channels, self.out_channels, self.kernel_size, self.w_dim = in_channels, out_channels, kernel_size, w_dim
  self.demodulate = opts.demodulate ~= false
  self.up = opts.up or 1
  self.padding = opts.padding or kernel_size // 2
  if self.up > 1 then
    self.taps = opts.filter or { 1, 3, 3, 1 }
    self.filter = resample.setup_filter(self.taps)
  end
  self.weight_gain = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
  self.affine = eq.EqualizedLinear(w_dim, in_channels, { bias_init = 1 })
  self:param("weight", gan.randn(out_channels, in_channels, kernel_size, kernel_size))
end

--- The styles A(w) that scale the input channels, (N, C_in).
-- @param w (N, w_dim)
-- @return (N, C_in)
function ModulatedConv2d:styles(w)
  local s = self.affine(w)
  if not self.demodulate then s = s * self.weight_gain end
  return s
end

--- x (N, C_in, H, W) modulated by w (N, w_dim) -> (N, C_out, H * up, W * up).
-- @param x the input
-- @param w the style vectors
-- @param opts {fused (default: in evaluation mode; the training path in training mode)}
function ModulatedConv2d:forward(x, w, opts)
  local fused = opts and opts.fused
  if fused == nil then fused = not self.training end
  return M.modulated_conv2d(x, self.weight, self:styles(w), {
    demodulate = self.demodulate, fused = fused, up = self.up, padding = self.padding, f = self.filter,
    -- NVlabs correlates only without upsampling (the kernels are random, so either is the layer)
    flip_weight = self.up == 1,
  })
end

--- Settings shown when printed.
function ModulatedConv2d:extra_repr()
  local s = ("%d, %d, kernel_size=%d, w_dim=%d"):format(self.in_channels, self.out_channels, self.kernel_size,
    self.w_dim)
  if self.up > 1 then s = s .. (", up=%d"):format(self.up) end
  if not self.demodulate then s = s .. ", demodulate=false" end
  return s
end

local StyledConv2d = Module:extend("StyledConv2d")
M.StyledConv2d = StyledConv2d

--- StyleGAN2's synthesis layer: a modulated, demodulated convolution, noise,
-- a bias (from 0) and lrelu 0.2 with gain sqrt(2).
-- @param in_channels C_in
-- @param out_channels C_out
-- @param kernel_size k (3 in StyleGAN2)
-- @param w_dim the size of w
-- @param opts {up=1, filter={1, 3, 3, 1}, noise=true, resolution (the output size: the noise_const
--   buffer's), activation="lrelu", clamp}
function StyledConv2d:init(in_channels, out_channels, kernel_size, w_dim, opts)
  opts = opts or {}
  self.conv = M.ModulatedConv2d(in_channels, out_channels, kernel_size, w_dim,
    { up = opts.up, filter = opts.filter })
  if opts.noise ~= false then self.noise = NoiseInjection({ resolution = opts.resolution }) end
  self.activation, self.clamp = opts.activation or "lrelu", opts.clamp
  self:param("bias", gan.zeros(out_channels))
end

--- x (N, C_in, H, W) and w (N, w_dim) -> (N, C_out, H * up, W * up).
-- @param x the input
-- @param w the style vectors
-- @param opts {fused (see ModulatedConv2d), noise (a tensor or a mode for this call), gain=1 (on the
--   output and the clamp)}
function StyledConv2d:forward(x, w, opts)
  opts = opts or {}
  local y = self.conv(x, w, opts)
  if self.noise then y = self.noise(y, opts.noise) end
  local gain = opts.gain or 1
  return eq.bias_act(y, self.bias, { act = self.activation, gain = eq.bias_acts[self.activation].gain * gain,
    clamp = self.clamp and self.clamp * gain })
end

local ToRGB = Module:extend("ToRGB")
M.ToRGB = ToRGB

--- StyleGAN2's ToRGB: a modulated 1x1 convolution without demodulation,
-- and a bias (from 0). Given the previous level's image, it is upsampled
-- with the FIR filter and added (the skip generator).
-- @param in_channels C_in
-- @param out_channels image channels
-- @param w_dim the size of w
-- @param opts {kernel_size=1, filter={1, 3, 3, 1} (taps for the skip's upsampling), clamp}
function ToRGB:init(in_channels, out_channels, w_dim, opts)
  opts = opts or {}
  self.conv = M.ModulatedConv2d(in_channels, out_channels, opts.kernel_size or 1, w_dim, { demodulate = false })
  self.clamp = opts.clamp
  self.taps = opts.filter or { 1, 3, 3, 1 }
  self.filter = resample.setup_filter(self.taps)
  self:param("bias", gan.zeros(out_channels))
end

--- x (N, C_in, H, W) and w (N, w_dim) -> an image (N, out_channels, H, W).
-- @param x the features
-- @param w the style vectors
-- @param opts {fused (see ModulatedConv2d), skip (the previous level's image (N, out_channels, H/2, W/2):
--   upsample2d(skip) + this level's image)}
function ToRGB:forward(x, w, opts)
  opts = opts or {}
  local y = eq.bias_act(self.conv(x, w, opts), self.bias, { clamp = self.clamp })
  if opts.skip then y = resample.upsample2d(opts.skip, self.filter) + y end
  return y
end

return M
