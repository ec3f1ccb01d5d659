--- gan.nn.resample: FIR filtering and resampling of images, after
-- StyleGAN2's upfirdn2d family (Karras et al. 2020, arXiv:1912.04958).
--
--     local R = gan.nn.resample
--     local f = R.setup_filter({ 1, 3, 3, 1 })          -- 4x4, sums to 1
--     local up = R.upsample2d(img, f)                   -- (N, C, 2H, 2W)
--     local down = R.downsample2d(x, f)                 -- (N, C, H/2, W/2)
--     local y = R.conv2d_resample(x, w, { f = f, up = 2, padding = 1 })
--     local blur = nn.Blur({ 1, 2, 1 })                 -- StyleGAN's blur, same size
--
-- Everything here is built on one op, `gan.upfirdn2d(x, f, {up=, down=,
-- pad=, flip=, gain=})`: upsample by inserting zeros, pad (a negative pad
-- crops), convolve with the FIR filter f (a 1-d f is separable: f on the
-- rows, then f on the columns), keep every down-th pixel. Pads are
-- {x0, x1, y0, y1} (left, right, top, bottom) or one number for all four;
-- up and down are a number or {ux, uy}. The filter's gain multiplies the
-- signal (a 1-d filter takes its square root on each pass).
--
-- Requires: gan.core's upfirdn2d op, gan.nn.Module.
-- Reads no options.
-- @module gan.nn.resample

local gan = require "gan"
local core = require "gan.core"
local Module = require "gan.nn.Module"

local M = {}

local function pair(v, default, name)
  if v == nil then v = default end
  if type(v) == "number" then return v, v end
  if type(v) == "table" and #v == 2 then return v[1], v[2] end
  error(("gan.nn.resample: %s must be a number or {x, y}, got %s"):format(name, tostring(v)), 3)
end

--- Paddings {x0, x1, y0, y1} from a number, {x, y} or {x0, x1, y0, y1}.
-- @param p the padding (default 0)
-- @return x0, x1, y0, y1
function M.padding(p)
  if p == nil then return 0, 0, 0, 0 end
  if type(p) == "number" then return p, p, p, p end
  if type(p) == "table" and #p == 2 then return p[1], p[1], p[2], p[2] end
  if type(p) == "table" and #p == 4 then return p[1], p[2], p[3], p[4] end
  error(("gan.nn.resample: a padding is a number, {x, y} or {x0, x1, y0, y1}, got %s"):format(tostring(p)), 2)
end

--- The width and height of a filter (1, 1 for nil, the identity).
-- @param f a 1-d or 2-d filter, or nil
-- @return fw, fh
function M.filter_size(f)
  if f == nil then return 1, 1 end
  if f:dim() == 1 then return f:size(1), f:size(1) end
  return f:size(2), f:size(1)
end

--- A FIR filter ready for the functions here.
-- A 1-d list of taps becomes the 2-d outer product f f^T unless it is
-- separable (by default when it has 8 taps or more), as NVlabs' setup_filter.
-- @param f a list of taps ({1, 3, 3, 1}), a list of rows, a tensor, or a number (an impulse)
-- @param opts {normalize=true (sum to 1), flip=false, gain=1 (the signal's), separable (default: 1-d with 8 taps or more)}
-- @return a float tensor (taps) or (fh, fw)
function M.setup_filter(f, opts)
  opts = opts or {}
  if f == nil then f = 1 end
  if type(f) == "number" then f = { f } end
  local t = gan.is_tensor(f) and f:detach():float() or gan.tensor(f)
  if t:dim() < 1 or t:dim() > 2 or t:numel() == 0 then
    error("gan.nn.resample.setup_filter: a filter is a non-empty list of taps or of rows", 2)
  end
  local separable = opts.separable
  if separable == nil then separable = t:dim() == 1 and t:numel() >= 8 end
  if t:dim() == 1 and not separable then
    t = t:reshape(-1, 1) * t:reshape(1, -1)
  elseif t:dim() == 2 and separable then
    error("gan.nn.resample.setup_filter: a 2-d filter cannot be separable", 2)
  end
  if opts.normalize ~= false then t = t / t:sum() end
  if opts.flip then t = t:flip(t:dim() == 1 and { 1 } or { 1, 2 }) end
  local gain = opts.gain or 1
  if gain ~= 1 then t = t * gain ^ (t:dim() / 2) end
  return t:contiguous()
end

--- Upsample, pad, filter, downsample: the op itself (gan.upfirdn2d), with nil
-- as the identity filter.
-- @param x (N, C, H, W)
-- @param f a filter from setup_filter, or nil
-- @param opts {up=1, down=1, pad=0, flip=false, gain=1}
-- @return (N, C, H', W')
function M.upfirdn2d(x, f, opts)
  return core.upfirdn2d(x, f or gan.ones(1, 1), opts or {})
end

-- The pads before and after, along an axis of a filter of n taps, that
-- centre the filter when nothing, upsampling by s or downsampling by s
-- happens along it: each keeps the output's size a multiple of the input's.
local centre = {
  none = function(n) return n // 2, (n - 1) // 2 end,
  up = function(n, s) return (n + s - 1) // 2, (n - s) // 2 end,
  down = function(n, s) return (n - s + 1) // 2, (n - s) // 2 end,
}

-- upfirdn2d with the filter centred for `kind` ("none", "up", "down") by the factor opts[kind]
local function centred(kind, x, f, opts)
  opts = opts or {}
  local sx, sy = 1, 1
  if kind ~= "none" then sx, sy = pair(opts[kind], 2, kind) end
  local x0, x1, y0, y1 = M.padding(opts.pad)
  local fw, fh = M.filter_size(f)
  local ax, bx = centre[kind](fw, sx)
  local ay, by = centre[kind](fh, sy)
  local gain = opts.gain or 1
  if kind == "up" then gain = gain * sx * sy end
  return M.upfirdn2d(x, f, {
    up = kind == "up" and { sx, sy } or nil, down = kind == "down" and { sx, sy } or nil,
    pad = { x0 + ax, x1 + bx, y0 + ay, y1 + by }, flip = opts.flip, gain = gain,
  })
end

--- Filters images with f, keeping their size (StyleGAN's blur): the pad
-- centres the filter; opts.pad adds to it (negative: crops).
-- @param x (N, C, H, W)
-- @param f a filter from setup_filter
-- @param opts {pad=0, flip=false, gain=1}
-- @return (N, C, H, W) (with opts.pad, larger or smaller)
function M.filter2d(x, f, opts)
  return centred("none", x, f, opts)
end

--- Upsamples images by zero insertion then the filter, with gain up^2 so a
-- constant stays constant: (N, C, H, W) -> (N, C, up H, up W).
-- @param x (N, C, H, W)
-- @param f a filter from setup_filter
-- @param opts {up=2 (or {ux, uy}), pad=0, flip=false, gain=1}
-- @return (N, C, up H, up W)
function M.upsample2d(x, f, opts)
  return centred("up", x, f, opts)
end

--- Downsamples images: the filter, then every down-th pixel:
-- (N, C, H, W) -> (N, C, H / down, W / down).
-- @param x (N, C, H, W)
-- @param f a filter from setup_filter
-- @param opts {down=2 (or {dx, dy}), pad=0, flip=false, gain=1}
-- @return (N, C, H / down, W / down)
function M.downsample2d(x, f, opts)
  return centred("down", x, f, opts)
end

-- conv2d or conv_transpose2d; flip_weight false turns the correlation into a
-- convolution (the kernel flipped)
local function conv(x, w, o, transpose, flip_weight)
  if not flip_weight and (w:size(3) > 1 or w:size(4) > 1) then w = w:flip({ 3, 4 }) end
  local args = { stride = o.stride or 1, padding = o.padding or 0, groups = o.groups or 1 }
  if transpose then return x:conv_transpose2d(w, nil, args) end
  return x:conv2d(w, nil, args)
end

--- A 2-d convolution with up- or downsampling by a FIR filter, as NVlabs'
-- conv2d_resample: upsampling is a transposed convolution of stride up,
-- then the filter; downsampling is the filter, then a convolution of
-- stride down; 1x1 kernels resample on the cheaper side. The padding is
-- applied once, with respect to the upsampled image.
-- @param x (N, C_in, H, W)
-- @param w (C_out, C_in / groups, kh, kw)
-- @param opts {f= (a filter from setup_filter; nil: none), up=1, down=1, padding=0 (a number,
--   {x, y} or {x0, x1, y0, y1}), groups=1, flip_weight=true (false: convolution, not correlation),
--   flip_filter=false}
-- @return (N, C_out, H', W')
function M.conv2d_resample(x, w, opts)
  opts = opts or {}
  local f, up, down, groups = opts.f, opts.up or 1, opts.down or 1, opts.groups or 1
  local flip_weight, flip_filter = opts.flip_weight ~= false, opts.flip_filter
  if x:dim() ~= 4 or w:dim() ~= 4 then
    error(("gan.nn.resample.conv2d_resample: x (%s) and w (%s) must have 4 dims"):format(
      table.concat(x:shape(), ", "), table.concat(w:shape(), ", ")), 2)
  end
  if math.type(up) ~= "integer" or up < 1 or math.type(down) ~= "integer" or down < 1 then
    error("gan.nn.resample.conv2d_resample: up and down must be integers >= 1", 2)
  end
  local cout, cin_g, kh, kw = w:size(1), w:size(2), w:size(3), w:size(4)
  local fw, fh = M.filter_size(f)
  local px0, px1, py0, py1 = M.padding(opts.padding)
  for kind, s in pairs({ up = up, down = down }) do
    if s > 1 then
      local ax, bx = centre[kind](fw, s)
      local ay, by = centre[kind](fh, s)
      px0, px1, py0, py1 = px0 + ax, px1 + bx, py0 + ay, py1 + by
    end
  end
  local pads = { px0, px1, py0, py1 }

  -- 1x1 kernels: the convolution runs on the smaller image (after the
  -- downsampling, before the upsampling)
  if kw == 1 and kh == 1 and down > 1 and up == 1 then
    x = M.upfirdn2d(x, f, { down = down, pad = pads, flip = flip_filter })
    return conv(x, w, { groups = groups }, false, flip_weight)
  end
  if kw == 1 and kh == 1 and up > 1 and down == 1 then
    x = conv(x, w, { groups = groups }, false, flip_weight)
    return M.upfirdn2d(x, f, { up = up, pad = pads, gain = up * up, flip = flip_filter })
  end

  -- downsampling: filter, then a strided convolution
  if down > 1 and up == 1 then
    x = M.upfirdn2d(x, f, { pad = pads, flip = flip_filter })
    return conv(x, w, { stride = down, groups = groups }, false, flip_weight)
  end

  -- upsampling: a transposed convolution of stride up (weight (C_in, C_out / groups, kh, kw)),
  -- then the filter; what the transposed convolution's own padding cannot do, the filter's does
  if up > 1 then
    if groups == 1 then
      w = w:transpose(1, 2)
    else
      w = w:reshape(groups, cout // groups, cin_g, kh, kw):transpose(2, 3)
          :reshape(groups * cin_g, cout // groups, kh, kw)
    end
    px0, px1 = px0 - (kw - 1), px1 - (kw - up)
    py0, py1 = py0 - (kh - 1), py1 - (kh - up)
    local pxt = math.max(math.min(-px0, -px1), 0)
    local pyt = math.max(math.min(-py0, -py1), 0)
    x = conv(x, w, { stride = up, padding = { pyt, pxt }, groups = groups }, true, not flip_weight)
    x = M.upfirdn2d(x, f, { pad = { px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt }, gain = up * up,
      flip = flip_filter })
    if down > 1 then x = M.upfirdn2d(x, f, { down = down, flip = flip_filter }) end
    return x
  end

  -- no resampling: a plain convolution when its symmetric padding will do
  if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0 then
    return conv(x, w, { padding = { py0, px0 }, groups = groups }, false, flip_weight)
  end
  x = M.upfirdn2d(x, nil, { pad = pads })
  return conv(x, w, { groups = groups }, false, flip_weight)
end

local Blur = Module:extend("Blur")
M.Blur = Blur

--- StyleGAN's blur: a FIR filter over each channel that keeps the size
-- (filter2d with a normalised filter).
-- @param taps the filter's taps (default {1, 2, 1}, StyleGAN's; {1, 3, 3, 1} is StyleGAN2's)
-- @param opts {pad=0 (added to the centring pad), gain=1, normalize=true}
function Blur:init(taps, opts)
  opts = opts or {}
  self.taps = taps or { 1, 2, 1 }
  self.pad, self.gain = opts.pad, opts.gain
  self.filter = M.setup_filter(self.taps, { normalize = opts.normalize })
end

--- x (N, C, H, W) -> blurred x, same size (with pad: larger).
function Blur:forward(x)
  return M.filter2d(x, self.filter, { pad = self.pad, gain = self.gain })
end

--- Settings shown when printed.
function Blur:extra_repr()
  return "{" .. table.concat(self.taps, ", ") .. "}"
end

return M
