--- gan.data.images: a folder of PNG and JPEG images.
--
--     local d = gan.data.images.load("photos/", opt)     -- opt.size, opt.channels, opt.load_size, ...
--
-- Images are found recursively (sorted by path), each resized so its short
-- side is `load_size` (or `size` when load_size is 0) and cropped square
-- around its centre; training batches then take a random `size` crop
-- (gan.augment) and, with `flip`, mirror it. Gray or RGB by `channels`.
-- A file that cannot be read is named on standard error and skipped.
-- Options read: size, channels, limit, load_size, flip, batch, seed.
-- Requires: gan.data.dataset, gan.options, gan.io.
-- @module gan.data.images

local gan = require "gan"
local user_error = require("gan.util").user_error
local options = require "gan.options"
local dataset = require "gan.data.dataset"

local M = {}

local get = options.get

--- The image file endings the loaders take.
M.extensions = { "png", "jpg", "jpeg" }

--- The PNG and JPEG files under a folder, recursively, sorted by path.
-- @param dir the folder
-- @return list of paths (empty when the folder cannot be read)
function M.files(dir)
  return gan.io.files(dir, { recursive = true, ext = M.extensions }) or {}
end

--- The size images are stored at: load_size, or size when load_size is 0;
-- an error when it is smaller than size.
-- @param opt options: size, load_size
-- @return size, load size
function M.sizes(opt)
  local size, L = get(opt, "size"), get(opt, "load_size")
  if L == 0 then L = size end
  if L < size then user_error(("gan.data: --load_size (%d) must be at least --size (%d)"):format(L, size)) end
  return size, L
end

--- The largest ratio of an image's long side to its short side that
-- read_square takes (16).
M.MAX_ASPECT = 16

--- An image file as (C, L, L) in [-1, 1]: its short side resized to L and
-- cropped square around the centre. An image whose long side is more than
-- MAX_ASPECT times its short side is refused.
-- @param path the file
-- @param channels 1 to 4 (0: the file's own)
-- @param L the side
-- @return the image, or nil and a message
function M.read_square(path, channels, L)
  local img, err = gan.io.load_image(path, channels)
  if not img then return nil, err end
  local h, w = img:size(2), img:size(3)
  -- the long side is resized with the short one: a 1 x 262144 strip would ask
  -- for L x 262144 L
  if math.max(h, w) > M.MAX_ASPECT * math.min(h, w) then
    return nil, ("%d x %d: an aspect ratio beyond %d:1"):format(w, h, M.MAX_ASPECT)
  end
  local s = L / math.min(h, w)
  local nh, nw = math.max(L, math.floor(h * s + 0.5)), math.max(L, math.floor(w * s + 0.5))
  local x = img:unsqueeze(1)
  if nh ~= h or nw ~= w then x = dataset.resize(x, nh, nw) end
  local top, left = (nh - L) // 2, (nw - L) // 2
  return x:narrow(3, top + 1, L):narrow(4, left + 1, L):squeeze(1) * 2 - 1
end

--- Loads a folder of images into memory.
-- @param dir the folder
-- @param opt options: size, channels, limit, load_size, flip, batch, seed
-- @return the data set (with .files, the paths used, and .skipped, {path, message} pairs)
function M.load(dir, opt)
  local size, L = M.sizes(opt)
  local channels = get(opt, "channels")
  local files = M.files(dir)
  local limit = get(opt, "limit")
  local imgs, used, skipped = {}, {}, {}
  for _, f in ipairs(files) do
    if limit > 0 and #imgs >= limit then break end
    -- any failure of one file (a message, or an error such as memory) names it and skips it
    local ok, x, err = pcall(M.read_square, f, channels, L)
    if not ok then x, err = nil, x end
    if not x then
      skipped[#skipped + 1] = { f, err }
      io.stderr:write(("gan.data: skipping %s: %s\n"):format(f, tostring(err)))
    else
      imgs[#imgs + 1], used[#used + 1] = x, f
    end
  end
  if #imgs == 0 then
    user_error(("gan.data: no usable images in %s (%d image files found, %d could not be read)"):format(dir, #files,
      #skipped))
  end
  return dataset.new({ x = gan.stack(imgs, 1) }, {
    name = dir, kind = "images", files = used, skipped = skipped, size = size, flip = get(opt, "flip"),
    batch = get(opt, "batch"), seed = get(opt, "seed"),
  })
end

return M
