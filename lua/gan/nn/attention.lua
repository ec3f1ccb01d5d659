--- Self-attention for images (SAGAN, Zhang et al. 2018, arXiv:1805.08318),
-- as BigGAN uses it.
--
--     local att = nn.SelfAttention(64)               -- 1x1 convs spectrally normalized
--     local y = att(x)                               -- x (N, 64, H, W): x + sigma * o
--     att.keep_map = true; att(x); att.map           -- (N, H*W, H*W/4) weights of the last forward
--
-- Each pixel i (a query) looks at every pixel of a 2x2 max-pooled grid (the
-- keys): theta = 1x1 conv to C/8 at every pixel, phi = 1x1 conv to C/8 then
-- max-pooled, g = 1x1 conv to C/2 then max-pooled; beta_i = softmax_j
-- (theta_i . phi_j) weighs the g_j, a 1x1 conv brings the sum back to C
-- channels, and the block returns x + sigma * o with sigma, a learned scalar,
-- starting at 0 (so the block starts as the identity and the network learns
-- how much long-range structure to use). The four convolutions have no
-- bias and are spectrally normalized unless opts.sn is false.
-- Requires: gan.nn.Module, gan.nn.Conv2d, gan.nn.SpectralNorm. Reads no options.
-- @classmod gan.nn.SelfAttention

local gan = require "gan"
local Module = require "gan.nn.Module"
local conv = require "gan.nn.Conv2d"
local SpectralNorm = require "gan.nn.SpectralNorm"

local SelfAttention = Module:extend("SelfAttention")

--- @param c channels in and out (a multiple of 8)
-- @param opts {sn=true (spectral norm on the 1x1 convolutions)}
function SelfAttention:init(c, opts)
  opts = opts or {}
  if math.type(c) ~= "integer" or c < 8 or c % 8 ~= 0 then
    error(("SelfAttention: channels must be a multiple of 8, got %s"):format(tostring(c)), 3)
  end
  local function c1(cin, cout)
    local m = conv.Conv2d(cin, cout, 1, 1, 0, { bias = false })
    return opts.sn == false and m or SpectralNorm(m)
  end
  self.channels = c
  self.theta = c1(c, c // 8)
  self.phi = c1(c, c // 8)
  self.g = c1(c, c // 2)
  self.o = c1(c // 2, c)
  self:param("sigma", gan.zeros(1))
  self.keep_map = false
end

--- The attention weights (N, H*W, H*W/4) for x: row i is query pixel i's
-- softmax over the pooled grid (row-major, (H/2) x (W/2)).
-- @param x (N, C, H, W), H and W even
-- @return the weights and g pooled as (N, C/2, H*W/4)
function SelfAttention:attention(x)
  if x:dim() ~= 4 or x:size(2) ~= self.channels or x:size(3) % 2 ~= 0 or x:size(4) % 2 ~= 0 then
    error(("SelfAttention: expected (N, %d, H, W) with H and W even, got (%s)"):format(self.channels,
      table.concat(x:shape(), ", ")), 3)
  end
  local n, h, w = x:size(1), x:size(3), x:size(4)
  local k = self.channels // 8
  local theta = self.theta(x):reshape(n, k, h * w)                        -- (N, C/8, HW)
  local phi = self.phi(x):max_pool2d(2):reshape(n, k, h * w // 4)         -- (N, C/8, HW/4)
  local g = self.g(x):max_pool2d(2):reshape(n, self.channels // 2, h * w // 4)
  local beta = theta:transpose(2, 3):matmul(phi):softmax(3)               -- (N, HW, HW/4)
  return beta, g
end

--- x (N, C, H, W) -> x + sigma * o (N, C, H, W). With `keep_map` set, the
-- weights are kept (detached) as `self.map`.
function SelfAttention:forward(x)
  local beta, g = self:attention(x)
  if self.keep_map then self.map = beta:detach() end
  local n, h, w = x:size(1), x:size(3), x:size(4)
  local o = g:matmul(beta:transpose(2, 3)):reshape(n, self.channels // 2, h, w) -- (N, C/2, H, W)
  return x + self.sigma * self.o(o)
end

--- Settings shown when printed.
function SelfAttention:extra_repr()
  return tostring(self.channels)
end

return { SelfAttention = SelfAttention }
