--- MinibatchStdDev: appends the spread of the minibatch as extra feature maps.
--
-- Karras et al. 2018 (PGGAN, arXiv:1710.10196), in the form of NVlabs'
-- StyleGAN2 MinibatchStdLayer: the batch of N is split into N / G groups of
-- G samples (G = min(group_size, N); sample i belongs to group i mod (N / G)),
-- the channels into `num_channels` groups of C / num_channels; for each
-- group of samples, the standard deviation over its G samples of every
-- value, averaged over each channel group's values and pixels, becomes
-- num_channels constant maps appended to each sample of the group. A
-- discriminator that sees them can tell a batch of near-copies from a
-- varied one.
--
--     local D = nn.Sequential { body, nn.MinibatchStdDev(4, 1), nn.EqualizedConv2d(c + 1, c, 3), ... }
--
-- N must be a multiple of G (smaller batches use G = N). PGGAN's original
-- layer is num_channels = 1.
--
-- Requires: gan.nn.Module. Reads no options.
-- @classmod gan.nn.MinibatchStdDev

local gan = require "gan"
local Module = require "gan.nn.Module"

local MinibatchStdDev = Module:extend("MinibatchStdDev")

--- @param group_size G, the samples each statistic is taken over (default 4; nil or 0: the whole batch)
-- @param num_channels the maps appended (default 1)
function MinibatchStdDev:init(group_size, num_channels)
  self.group_size = group_size or 4
  self.num_channels = num_channels or 1
  if math.type(self.num_channels) ~= "integer" or self.num_channels < 1 then
    error(("MinibatchStdDev: num_channels must be a positive integer, got %s"):format(tostring(num_channels)), 3)
  end
end

--- x (N, C, H, W) -> (N, C + num_channels, H, W).
function MinibatchStdDev:forward(x)
  if x:dim() ~= 4 then
    error(("MinibatchStdDev: expected (N, C, H, W), got (%s)"):format(table.concat(x:shape(), ", ")), 2)
  end
  local n, c, h, w = table.unpack(x:shape())
  local g = (self.group_size and self.group_size > 0) and math.min(self.group_size, n) or n
  local f = self.num_channels
  if n % g ~= 0 then
    error(("MinibatchStdDev: the batch of %d is not a multiple of the group size %d"):format(n, g), 2)
  end
  if c % f ~= 0 then
    error(("MinibatchStdDev: %d channels do not split into num_channels %d groups"):format(c, f), 2)
  end
  local m = n // g
  local y = x:reshape(g, m, f, c // f, h, w)                 -- member, group, channel group, ...
  y = y - y:mean(1, true)
  y = (y:square():mean(1) + 1e-8):sqrt()                    -- (m, f, c/f, h, w): std over the group
  y = y:mean({ 3, 4, 5 })                                    -- (m, f)
  y = y:reshape(1, m, f, 1, 1):expand(g, m, f, h, w):reshape(n, f, h, w)
  return gan.cat({ x, y }, 2)
end

--- Settings shown when printed.
function MinibatchStdDev:extra_repr()
  return ("group_size=%s, num_channels=%d"):format(tostring(self.group_size), self.num_channels)
end

return MinibatchStdDev
