--- gan.image: sample grids, image files and scatter plots as PNG; an
-- antialiased resize.
--
--     gan.image.save_grid("samples.png", G(z), { nrow = 8 })   -- x in [-1, 1]
--     local img = gan.image.load("photo.jpg", 3)               -- (3, H, W) in [-1, 1]
--     gan.image.scatter("points.png", fake, { reference = real })
--
-- Images in the library live in [-1, 1] (the range of a Tanh generator);
-- files hold 8-bit [0, 255]. Failures of the file system return nil and a
-- message.
-- @module gan.image

local gan = require "gan"

local M = {}

--- Tiles a batch of images into one image (C, H', W') in [0, 1].
-- @param x images (N, C, H, W) in [-1, 1] (C is 1 or 3; a single (C, H, W) image works too)
-- @param opts {nrow=8 (images per row), pad=2 (pixels between images), pad_value=0 (in [0, 1])}
-- @return the grid tensor
function M.grid(x, opts)
  opts = opts or {}
  return gan.no_grad(function()
    x = x:detach()
    if x:dim() == 3 then x = x:unsqueeze(1) end
    if x:dim() ~= 4 then
      error(("gan.image.grid: expected images (N, C, H, W), got (%s)"):format(table.concat(x:shape(), ", ")), 3)
    end
    local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
    local nrow = math.min(opts.nrow or 8, n)
    local pad = opts.pad or 2
    local rows = (n + nrow - 1) // nrow
    local H, W = rows * h + (rows + 1) * pad, nrow * w + (nrow + 1) * pad
    local grid = gan.full({ c, H, W }, opts.pad_value or 0)
    local y01 = ((x + 1) * 0.5):clamp(0, 1)
    for i = 1, n do
      local r, col = (i - 1) // nrow, (i - 1) % nrow
      grid:narrow(2, pad + r * (h + pad) + 1, h):narrow(3, pad + col * (w + pad) + 1, w):copy_(y01[i])
    end
    return grid
  end)
end

--- How many pixels a tile of a grid shows at least on its shorter side
-- when save_grid is not told a scale (see default_scale).
M.READABLE = 64

--- The whole factor by which save_grid enlarges tiles of h x w pixels when
-- not told: the smallest that shows their shorter side at `READABLE` (64)
-- pixels or more, 1 for tiles that large already (32 -> 2, 28 -> 3,
-- 16 -> 4, 64 or more -> 1).
-- @param h tile height
-- @param w tile width
-- @return the scale, 1 to 64
function M.default_scale(h, w)
  return math.max(1, math.min(64, math.ceil(M.READABLE / math.min(h, w))))
end

--- Writes a grid of images as a PNG, enlarged so that it can be seen:
-- each pixel becomes a scale x scale block (nearest neighbour, no blur).
-- By default small tiles are shown at 64 pixels or more (`default_scale`:
-- 8 x 8 images of 32 pixels make a grid 548 pixels wide instead of 274);
-- `{ scale = 1 }` writes the tiles pixel for pixel.
-- @param path the file to write
-- @param x images (N, C, H, W) in [-1, 1]
-- @param opts {nrow=8, pad=2, pad_value=0, scale=default_scale(H, W) (a whole number from 1 to 64)}
-- @return true, or nil and a message
function M.save_grid(path, x, opts)
  opts = opts or {}
  local grid = M.grid(x, opts)
  local scale = opts.scale or M.default_scale(x:size(x:dim() - 1), x:size(x:dim()))
  if type(scale) ~= "number" or scale ~= math.floor(scale) or scale < 1 or scale > 64 then
    error(("gan.image.save_grid: scale must be a whole number from 1 to 64, got %s"):format(tostring(scale)), 2)
  end
  if scale > 1 then grid = grid:unsqueeze(1):upsample({ scale = scale }):squeeze(1) end
  return gan.io.save_png(path, grid)
end

--- Writes one image (C, H, W) in [-1, 1] as a PNG.
-- @param path the file to write
-- @param x the image
-- @return true, or nil and a message
function M.save(path, x)
  return gan.io.save_png(path, ((x:detach() + 1) * 0.5):clamp(0, 1))
end

--- Reads a PNG or JPEG file.
-- @param path the file
-- @param channels 1 (gray) or 3 (RGB); default: the file's own
-- @return (C, H, W) in [-1, 1], or nil and a message
function M.load(path, channels)
  local x, err = gan.io.load_image(path, channels or 0)
  if not x then return nil, err end
  return x * 2 - 1
end

-- Bicubic kernel with a = -0.5 (Keys; PIL's and Matlab's imresize's).
local function cubic(x)
  x = math.abs(x)
  if x < 1 then return (1.5 * x - 2.5) * x * x + 1 end
  if x < 2 then return ((-0.5 * x + 2.5) * x - 4) * x + 2 end
  return 0
end

--- The weights of a 1-d antialiased bicubic resize from n to m samples,
-- as PIL computes them: output i is centred on input (i + 1/2) n / m - 1/2;
-- when shrinking (n > m) the kernel is stretched by n / m so that it
-- averages every input it covers instead of aliasing; taps past the edges
-- are dropped and each row renormalised to sum 1.
-- @param n input length
-- @param m output length
-- @return list of m rows, each {first = 0-based index of the first tap, w = {weights}}
function M.resize_weights(n, m)
  local scale = n / m
  local stretch = math.max(scale, 1)
  local support = 2 * stretch
  local rows = {}
  for i = 0, m - 1 do
    local center = (i + 0.5) * scale
    local lo = math.max(math.floor(center - support + 0.5), 0)
    local hi = math.min(math.floor(center + support + 0.5), n)
    local w, sum = {}, 0
    for j = lo, hi - 1 do
      w[#w + 1] = cubic((j - center + 0.5) / stretch)
      sum = sum + w[#w]
    end
    for k = 1, #w do w[k] = w[k] / sum end
    rows[i + 1] = { first = lo, w = w }
  end
  return rows
end

local matrices = setmetatable({}, { __mode = "v" }) -- "n:m" -> (m, n) tensor, kept while in use

-- the (m, n) matrix of resize_weights(n, m)
local function resize_matrix(n, m)
  local key = n .. ":" .. m
  local a = matrices[key]
  if a then return a end
  local flat = {}
  for i = 1, m * n do flat[i] = 0 end
  for i, r in ipairs(M.resize_weights(n, m)) do
    for k, w in ipairs(r.w) do flat[(i - 1) * n + r.first + k] = w end
  end
  a = gan.tensor(flat):reshape(m, n)
  matrices[key] = a
  return a
end

--- Resizes images with an antialiased bicubic filter (PIL's, and PyTorch's
-- `interpolate(mode="bicubic", antialias=True)`): separable, one matrix
-- product per axis (`resize_weights`), so any factor works, shrinking does
-- not alias, and the result is differentiable.
-- @param x images (N, C, H, W) or one image (C, H, W)
-- @param h output height (>= 1)
-- @param w output width (>= 1)
-- @return the resized images, x's rank
function M.resize(x, h, w)
  if not gan.is_tensor(x) or (x:dim() ~= 3 and x:dim() ~= 4) then
    error("gan.image.resize: expected images (N, C, H, W) or (C, H, W), got "
      .. (gan.is_tensor(x) and ("(%s)"):format(table.concat(x:shape(), ", ")) or type(x)), 2)
  end
  if math.type(h) ~= "integer" or math.type(w) ~= "integer" or h < 1 or w < 1 then
    error(("gan.image.resize: the size must be whole numbers >= 1, got %s x %s"):format(tostring(h), tostring(w)), 2)
  end
  local H, W = x:size(x:dim() - 1), x:size(x:dim())
  if H ~= h then x = resize_matrix(H, h):matmul(x) end
  if W ~= w then x = x:matmul(resize_matrix(W, w):transpose(1, 2)) end
  return x
end

local function bounds(list, margin)
  local r = 0
  for _, pts in ipairs(list) do
    for _, p in ipairs(pts) do
      r = math.max(r, math.abs(p[1]), math.abs(p[2]))
    end
  end
  if r == 0 then r = 1 end
  return r * margin
end

--- Draws points (N, 2) as a scatter plot PNG: axes through 0 in light
-- gray, reference points (e.g. real data) in gray, the points in orange.
-- @param path the file to write
-- @param points (N, 2) tensor (x, y)
-- @param opts {reference=(M, 2) tensor, size=512 (pixels), range=r (the
--   square [-r, r]^2; default: fits the points), radius=1 (dot radius in pixels)}
-- @return true, or nil and a message
function M.scatter(path, points, opts)
  return gan.io.save_png(path, M.scatter_image(points, opts))
end

--- The scatter plot of `scatter` as an image tensor (3, S, S) in [0, 1].
-- @param points (N, 2) tensor
-- @param opts as for scatter
-- @return the image
function M.scatter_image(points, opts)
  opts = opts or {}
  local S = opts.size or 512
  local pts = points:detach():totable()
  local ref = opts.reference and opts.reference:detach():totable() or {}
  local range = opts.range or bounds({ pts, ref }, 1.1)
  local n = S * S
  -- one flat buffer per channel, white background
  local px = {}
  for i = 1, 3 * n do px[i] = 1 end
  local function put(ix, iy, rgb)
    if ix >= 0 and ix < S and iy >= 0 and iy < S then
      local o = iy * S + ix + 1
      px[o], px[n + o], px[2 * n + o] = rgb[1], rgb[2], rgb[3]
    end
  end
  local function to_px(x, y)
    return math.floor((x + range) / (2 * range) * (S - 1) + 0.5), math.floor((range - y) / (2 * range) * (S - 1) + 0.5)
  end
  local axis = { 0.88, 0.88, 0.88 }
  local ox, oy = to_px(0, 0)
  for i = 0, S - 1 do put(i, oy, axis); put(ox, i, axis) end
  local rad = opts.radius or 1
  local function dots(list, rgb)
    for _, p in ipairs(list) do
      local cx, cy = to_px(p[1], p[2])
      for dy = -rad, rad do
        for dx = -rad, rad do
          if dx * dx + dy * dy <= rad * rad + rad then put(cx + dx, cy + dy, rgb) end
        end
      end
    end
  end
  dots(ref, { 0.6, 0.6, 0.6 })
  dots(pts, { 0.95, 0.45, 0.05 })
  return gan.tensor(px):reshape(3, S, S)
end

return M
