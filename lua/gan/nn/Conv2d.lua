--- Conv2d and ConvTranspose2d: 2-d convolutions on (N, C, H, W).
--
--     nn.Conv2d(3, 64, 4, 2, 1)                         -- in, out, kernel, stride, padding
--     nn.Conv2d(3, 64, 4, { stride = 2, padding = 1, bias = false })
--     nn.ConvTranspose2d(100, 512, 4, 1, 0, { bias = false })
--
-- Sizes are numbers or {h, w} pairs. Options: stride, padding, dilation,
-- groups, bias (default true), and output_padding for the transposed one.
-- Weights and biases start as in PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
-- @classmod gan.nn.Conv2d

local gan = require "gan"
local Module = require "gan.nn.Module"
local check = require "gan.check"

-- the arguments after the kernel size, checked in the name of the class `who`
local function parse(who, stride, padding, opts)
  if type(stride) == "table" and stride[1] == nil then
    opts, stride, padding = stride, nil, nil
  end
  opts = check.options(who, opts)
  return {
    stride = check.pair(who, "stride", stride or opts.stride, 1, 1),
    padding = check.pair(who, "padding", padding or opts.padding, 0, 0),
    dilation = check.pair(who, "dilation", opts.dilation, 1, 1),
    output_padding = check.pair(who, "output_padding", opts.output_padding, 0, 0),
    groups = check.integer(who, "groups", opts.groups or 1, 1),
    bias = opts.bias ~= false,
  }
end

-- channels and kernel size, checked
local function sizes(who, cin, cout, kernel_size)
  return check.integer(who, "in_channels", cin, 1), check.integer(who, "out_channels", cout, 1),
    check.pair(who, "kernel_size", kernel_size, 1)
end

local function repr(self, transposed)
  local a = self.args
  local s = ("%d, %d, kernel_size=(%d, %d), stride=(%d, %d)"):format(self.in_channels, self.out_channels,
    self.kernel_size[1], self.kernel_size[2], a.stride[1], a.stride[2])
  if a.padding[1] ~= 0 or a.padding[2] ~= 0 then s = s .. (", padding=(%d, %d)"):format(a.padding[1], a.padding[2]) end
  if a.dilation[1] ~= 1 or a.dilation[2] ~= 1 then s = s .. (", dilation=(%d, %d)"):format(a.dilation[1], a.dilation[2]) end
  if transposed and (a.output_padding[1] ~= 0 or a.output_padding[2] ~= 0) then
    s = s .. (", output_padding=(%d, %d)"):format(a.output_padding[1], a.output_padding[2])
  end
  if a.groups ~= 1 then s = s .. (", groups=%d"):format(a.groups) end
  if self.bias == nil then s = s .. ", bias=false" end
  return s
end

local function check_groups(name, cin, cout, g)
  if cin % g ~= 0 or cout % g ~= 0 then
    error(("%s: in_channels %d and out_channels %d must both be divisible by groups %d"):format(name, cin, cout, g), 3)
  end
end

local Conv2d = Module:extend("Conv2d")
Conv2d.tensor_input = true

--- @param in_channels C of the input
-- @param out_channels C of the output
-- @param kernel_size number or {kh, kw}
-- @param stride number or {sh, sw} (default 1), or the options table
-- @param padding number or {ph, pw} (default 0)
-- @param opts {dilation=1, groups=1, bias=true}
function Conv2d:init(in_channels, out_channels, kernel_size, stride, padding, opts)
  local k
  in_channels, out_channels, k = sizes("gan.nn.Conv2d", in_channels, out_channels, kernel_size)
  local a = parse("gan.nn.Conv2d", stride, padding, opts)
  check_groups("Conv2d", in_channels, out_channels, a.groups)
  self.in_channels, self.out_channels, self.kernel_size, self.args = in_channels, out_channels, k, a
  self.conv_opts = { stride = a.stride, padding = a.padding, dilation = a.dilation, groups = a.groups }
  local fan_in = in_channels // a.groups * k[1] * k[2]
  local b = 1 / math.sqrt(fan_in)
  self:param("weight", gan.uniform({ out_channels, in_channels // a.groups, k[1], k[2] }, -b, b))
  if a.bias then self:param("bias", gan.uniform({ out_channels }, -b, b)) end
end

--- x (N, C_in, H, W) -> (N, C_out, H', W').
function Conv2d:forward(x)
  return x:conv2d(self.weight, self.bias, self.conv_opts)
end

--- Settings shown when printed.
function Conv2d:extra_repr() return repr(self, false) end

local ConvTranspose2d = Module:extend("ConvTranspose2d")
ConvTranspose2d.tensor_input = true

--- @param in_channels C of the input
-- @param out_channels C of the output
-- @param kernel_size number or {kh, kw}
-- @param stride number or {sh, sw} (default 1), or the options table
-- @param padding number or {ph, pw} (default 0)
-- @param opts {output_padding=0, dilation=1, groups=1, bias=true}
function ConvTranspose2d:init(in_channels, out_channels, kernel_size, stride, padding, opts)
  local k
  in_channels, out_channels, k = sizes("gan.nn.ConvTranspose2d", in_channels, out_channels, kernel_size)
  local a = parse("gan.nn.ConvTranspose2d", stride, padding, opts)
  check_groups("ConvTranspose2d", in_channels, out_channels, a.groups)
  self.in_channels, self.out_channels, self.kernel_size, self.args = in_channels, out_channels, k, a
  self.conv_opts = { stride = a.stride, padding = a.padding, dilation = a.dilation, groups = a.groups,
    output_padding = a.output_padding }
  -- PyTorch takes the fan from weight dim 2 (out/groups) here
  local fan_in = out_channels // a.groups * k[1] * k[2]
  local b = 1 / math.sqrt(fan_in)
  self:param("weight", gan.uniform({ in_channels, out_channels // a.groups, k[1], k[2] }, -b, b))
  if a.bias then self:param("bias", gan.uniform({ out_channels }, -b, b)) end
end

--- x (N, C_in, H, W) -> (N, C_out, H', W'), H' = (H-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1.
function ConvTranspose2d:forward(x)
  return x:conv_transpose2d(self.weight, self.bias, self.conv_opts)
end

--- Settings shown when printed.
function ConvTranspose2d:extra_repr() return repr(self, true) end

return { Conv2d = Conv2d, ConvTranspose2d = ConvTranspose2d }
