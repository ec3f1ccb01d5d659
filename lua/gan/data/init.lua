--- gan.data: datasets as endless, seeded, shuffled batch iterators.
--
--     local data = gan.data.load("fashion-mnist", opt)   -- opt.batch, opt.size, opt.seed, ...
--     local x = data:next()              -- (batch, 1, 32, 32) in [-1, 1]
--     local x, y = data:next()           -- labels (int64, 0-based) as a second value
--
-- `next` never ends: it walks a permutation of the data and draws a new one
-- at each epoch. The order depends only on the seed, and the position is
-- part of the state saved in checkpoints (`state_dict`), so a resumed run
-- sees the same batches as an uninterrupted one.
--
-- Sources (the first argument):
--
-- * "fashion-mnist" (the default data; files from the package
--   dataset-fashion-mnist in /usr/share/datasets/fashion-mnist), or any
--   folder holding MNIST-style IDX files (train-images-idx3-ubyte[.gz], ...).
--   28x28 gray images; size 32 pads them (with the background, -1), other
--   sizes resize them bilinearly. Options: split ("train" or "test"),
--   classes (a list of class ids or names to keep), limit, labels.
-- * a folder of PNG/JPEG images, searched recursively: each image resized
--   so its short side is `size` (or `load_size` with crop="random") and
--   cropped square; gray or RGB by `channels` (default 3). Files that fail
--   to load are reported by name and skipped.
-- * toy 2-D sets: "8gaussians", "25gaussians", "ring", "swissroll": points
--   (N, 2); mixtures expose their mode centres (`centres`, a (K, 2) tensor)
--   and `std` for metrics.
--
-- Options read from `opt` (a gan.options table or a plain one; all
-- optional): batch (64), seed (1), size (32), limit (0: all), labels
-- (false: with true, `next` returns a table {images, labels}), split,
-- classes, channels, crop ("center" or "random"), load_size, root.
-- @module gan.data

local gan = require "gan"
local util = require "gan.util"

local M = {}

M.FASHION_ROOT = "/usr/share/datasets/fashion-mnist"

--- Fashion-MNIST class names, by id (0-based ids: names[id + 1]).
M.fashion_classes = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
  "Ankle boot" }

local get = util.get

-- ----------------------------------------------------------------------------
-- A small counter-based generator (splitmix64), separate from gan's, so
-- that the order of the data does not depend on the training's draws.

local function splitmix(x)
  x = x + 0x9E3779B97F4A7C15
  x = (x ~ (x >> 30)) * 0xBF58476D1CE4E5B9
  x = (x ~ (x >> 27)) * 0x94D049BB133111EB
  return x ~ (x >> 31)
end

local function hash(a, b, c)
  return splitmix(splitmix(splitmix(a) + (b or 0)) + (c or 0))
end

-- uniform in [0, 1) from a 64-bit integer
local function unit(z)
  return (z >> 11) * (1.0 / 9007199254740992.0)
end

--- A stream of uniform numbers in [0, 1) from (seed, stream): pure Lua,
-- reproducible everywhere.
-- @param seed integer
-- @param stream integer (distinct streams are independent)
-- @return function() -> number
function M.uniform_stream(seed, stream)
  local i = 0
  return function()
    i = i + 1
    return unit(hash(seed, stream, i))
  end
end

-- gaussian pairs from a uniform stream (Box-Muller)
local function gauss_stream(u)
  local spare
  return function()
    if spare then
      local s = spare
      spare = nil
      return s
    end
    local a, b = u(), u()
    if a < 1e-300 then a = 1e-300 end
    local r = math.sqrt(-2 * math.log(a))
    spare = r * math.sin(2 * math.pi * b)
    return r * math.cos(2 * math.pi * b)
  end
end

local function permutation(n, seed, epoch)
  local p = {}
  for i = 1, n do p[i] = i - 1 end
  local u = M.uniform_stream(seed, 1000003 + epoch)
  for i = n, 2, -1 do
    local j = math.floor(u() * i) + 1
    p[i], p[j] = p[j], p[i]
  end
  return p
end

-- ----------------------------------------------------------------------------
-- The iterator

local Data = {}
Data.__index = Data

local function new_data(x, labels, opt, extra)
  local n = x:size(1)
  if n == 0 then error("gan.data: the dataset is empty", 3) end
  local self = setmetatable({
    x = x,
    labels = labels,
    n = n,
    batch = get(opt, "batch", 64),
    seed = get(opt, "seed", 1),
    with_labels = get(opt, "labels", false),
    epoch = 0,
    pos = 0,
    draws = 0,
  }, Data)
  for k, v in pairs(extra or {}) do self[k] = v end
  self.perm = permutation(n, self.seed, 0)
  return self
end

--- The number of items (images or points).
-- @return integer
function Data:size()
  return self.n
end

--- The next batch: images (B, C, H, W) or points (B, 2), and the labels
-- (int64, B) as a second value when the data has them; with opt.labels,
-- one table {images, labels} (also as .images and .labels).
-- @param b batch size (default opt.batch)
-- @return batch [, labels]
function Data:next(b)
  b = b or self.batch
  local idx = {}
  for k = 1, b do
    if self.pos >= self.n then
      self.epoch = self.epoch + 1
      self.pos = 0
      self.perm = permutation(self.n, self.seed, self.epoch)
    end
    idx[k] = self.perm[self.pos + 1]
    self.pos = self.pos + 1
  end
  local it = gan.tensor(idx, "int64")
  local x = self.x:index_select(1, it)
  if self.crop then x = self:random_crop(x) end
  local y = self.labels and self.labels:index_select(1, it) or nil
  if self.with_labels then return { x, y, images = x, labels = y } end
  return x, y
end

--- A random crop of each image of x (N, C, full, full) to crop x crop, counted in the draws.
-- @local
function Data:random_crop(x)
  local s, full = self.crop, x:size(3)
  local out = {}
  for i = 1, x:size(1) do
    self.draws = self.draws + 1
    local u = M.uniform_stream(self.seed, 2000003 + self.draws)
    local top = math.floor(u() * (full - s + 1))
    local left = math.floor(u() * (x:size(4) - s + 1))
    out[i] = x:select(1, i):narrow(2, top + 1, s):narrow(3, left + 1, s)
  end
  return gan.stack(out, 1)
end

--- Where the iterator is: {epoch=, pos=, draws=, seed=}.
-- @return table
function Data:state_dict()
  return { epoch = self.epoch, pos = self.pos, draws = self.draws, seed = self.seed }
end

--- Moves the iterator to a saved position (numbers may be strings).
-- @param sd table from state_dict()
function Data:load_state_dict(sd)
  local function n(v) return math.tointeger(tonumber(v)) end
  self.seed = n(sd.seed) or self.seed
  self.epoch = n(sd.epoch) or 0
  self.pos = n(sd.pos) or 0
  self.draws = n(sd.draws) or 0
  self.perm = permutation(self.n, self.seed, self.epoch)
end

--- A one-line description.
function Data:__tostring()
  return ("gan.data(%s: %d items of (%s), batch %d)"):format(self.name or "?", self.n,
    table.concat(self.x[1]:shape(), ", "), self.batch)
end

M.Data = Data

--- Wraps tensors as a dataset iterator.
-- @param x the items, (N, ...)
-- @param labels int64 (N) or nil
-- @param opt options (batch, seed, labels)
-- @return the iterator
function M.from_tensors(x, labels, opt)
  return new_data(x, labels, opt, { name = "tensors", kind = "tensors" })
end

-- ----------------------------------------------------------------------------
-- Files

local exists = util.exists

local shell_quote = util.shell_quote

local function is_dir(path)
  local ok = os.execute("test -d " .. shell_quote(path))
  return ok == true or ok == 0
end

local function idx_file(dir, stem)
  for _, p in ipairs({ dir .. "/" .. stem, dir .. "/" .. stem .. ".gz" }) do
    if exists(p) then return p end
  end
end

-- resize (N, C, H, W) to (N, C, h, w): an integer average pooling first
-- when shrinking by 2 or more (so it does not alias), then bilinear
local function resize(x, h, w)
  local fh, fw = x:size(3) // h, x:size(4) // w
  local f = math.min(fh, fw)
  if f >= 2 then x = x:avg_pool2d(f, f) end
  if x:size(3) == h and x:size(4) == w then return x end
  return x:upsample({ size = { h, w } }, "bilinear", false)
end
M.resize = resize

local function class_ids(classes, names)
  local keep = {}
  for _, c in ipairs(classes) do
    local id = math.tointeger(tonumber(c))
    if id == nil then
      for i, nm in ipairs(names) do
        if nm:lower() == tostring(c):lower() then id = i - 1 end
      end
    end
    if id == nil or id < 0 or id >= #names then
      error(("gan.data: unknown class '%s' (classes: 0-%d, or names: %s)"):format(tostring(c), #names - 1,
        table.concat(names, ", ")), 4)
    end
    keep[id] = true
  end
  return keep
end

-- Files read once per process while something still holds them (tests and
-- recipes that load several subsets of the same files).
local idx_cache = setmetatable({}, { __mode = "v" })

local function load_idx_cached(path, as_int)
  local key = path .. (as_int and "#int" or "")
  local t = idx_cache[key]
  if not t then
    local err
    t, err = gan.io.load_idx(path, as_int)
    if not t then error(("gan.data: %s"):format(err), 4) end
    idx_cache[key] = t
  end
  return t
end

--- Loads MNIST-style IDX files from a folder (Fashion-MNIST by default).
-- @param root the folder (default opt.root, $GANLUA_FASHION_MNIST, or the package's folder)
-- @param opt options: split, classes, limit, size, labels, batch, seed
-- @return the iterator (with .classes the class names)
function M.idx_folder(root, opt)
  local split = get(opt, "split", "train")
  local prefix = split == "test" and "t10k" or "train"
  local img_path = idx_file(root, prefix .. "-images-idx3-ubyte")
  local lab_path = idx_file(root, prefix .. "-labels-idx1-ubyte")
  if not img_path then
    error(("gan.data: Fashion-MNIST not found: no %s-images-idx3-ubyte[.gz] in %s; install it with "
      .. "`sudo apt-get install dataset-fashion-mnist`"):format(prefix, root), 3)
  end
  local x = load_idx_cached(img_path, false)
  local y = lab_path and load_idx_cached(lab_path, true) or nil
  local names = M.fashion_classes
  local classes = get(opt, "classes", {})
  if #classes > 0 then
    if not y then error("gan.data: a classes filter needs the labels file next to " .. img_path, 3) end
    local keep = class_ids(classes, names)
    local idx = {}
    for i, c in ipairs(y:totable()) do
      if keep[c] then idx[#idx + 1] = i - 1 end
    end
    local it = gan.tensor(idx, "int64")
    x, y = x:index_select(1, it), y:index_select(1, it)
  end
  local limit = get(opt, "limit", 0)
  if limit > 0 and limit < x:size(1) then
    x = x:narrow(1, 1, limit):clone()
    if y then y = y:narrow(1, 1, limit):clone() end
  end
  local n, h, w = x:size(1), x:size(2), x:size(3)
  x = x:reshape(n, 1, h, w)
  local size = get(opt, "size", h)
  if size ~= h or size ~= w then
    if size == h + 4 and h == w then
      x = x:pad { 2, 2, 2, 2 }      -- zeros: the background, -1 once scaled
    else
      x = resize(x, size, size)
    end
  end
  x = x * (2 / 255) - 1
  return new_data(x, y, opt, { name = root, kind = "images", classes = names })
end

local image_ext = { png = true, jpg = true, jpeg = true }

--- Loads a folder of PNG/JPEG images, recursively.
-- @param dir the folder
-- @param opt options: size, channels (3), crop ("center"|"random"), load_size, limit, batch, seed
-- @return the iterator (with .files the paths used and .skipped {path, message} pairs)
function M.image_folder(dir, opt)
  local size = get(opt, "size", 64)
  local channels = get(opt, "channels", 3)
  local crop = get(opt, "crop", "center")
  local load = size
  if crop == "random" then load = get(opt, "load_size", math.floor(size * 1.125 + 0.5)) end
  local p = io.popen("find " .. shell_quote(dir) .. " -type f 2>/dev/null")
  local files = {}
  for line in p:lines() do
    local ext = line:match("%.([%w]+)$")
    if ext and image_ext[ext:lower()] then files[#files + 1] = line end
  end
  p:close()
  table.sort(files)
  local limit = get(opt, "limit", 0)
  local imgs, used, skipped = {}, {}, {}
  for _, f in ipairs(files) do
    if limit > 0 and #imgs >= limit then break end
    local img, err = gan.io.load_image(f, channels)
    if not img then
      skipped[#skipped + 1] = { f, err }
      io.stderr:write(("gan.data: skipping %s: %s\n"):format(f, tostring(err)))
    else
      local h, w = img:size(2), img:size(3)
      local s = load / math.min(h, w)
      local nh, nw = math.max(load, math.floor(h * s + 0.5)), math.max(load, math.floor(w * s + 0.5))
      local x = img:unsqueeze(1)
      if nh ~= h or nw ~= w then x = resize(x, nh, nw) end
      local top, left = (nh - load) // 2, (nw - load) // 2
      x = x:narrow(3, top + 1, load):narrow(4, left + 1, load):squeeze(1)
      imgs[#imgs + 1] = x * 2 - 1
      used[#used + 1] = f
    end
  end
  if #imgs == 0 then
    error(("gan.data: no usable images in %s (%d image files found, %d could not be read)"):format(dir, #files,
      #skipped), 3)
  end
  local x = gan.stack(imgs, 1)
  return new_data(x, nil, opt, {
    name = dir, kind = "images", files = used, skipped = skipped,
    crop = crop == "random" and load > size and size or nil,
  })
end

-- ----------------------------------------------------------------------------
-- Toy 2-D sets

local toys = {}

toys["8gaussians"] = function()
  local c = {}
  for k = 0, 7 do c[#c + 1] = { 2 * math.cos(2 * math.pi * k / 8), 2 * math.sin(2 * math.pi * k / 8) } end
  return { centres = c, std = 0.02 }
end

toys["25gaussians"] = function()
  local c = {}
  for i = -2, 2 do for j = -2, 2 do c[#c + 1] = { 2 * i, 2 * j } end end
  return { centres = c, std = 0.05 }
end

--- A ring of radius 2 (std 0.05).
-- @local
toys.ring = function()
  return {
    radius = 2, std = 0.05,
    draw = function(u, g) local a = 2 * math.pi * u(); local r = 2 + 0.05 * g(); return r * math.cos(a), r * math.sin(a) end,
  }
end

--- A Swiss roll.
-- @local
toys.swissroll = function()
  return {
    std = 0.25 / 5,
    draw = function(u, g)
      local t = 1.5 * math.pi * (1 + 2 * u())
      return (t * math.cos(t) + 0.25 * g()) / 5, (t * math.sin(t) + 0.25 * g()) / 5
    end,
  }
end

--- The names of the toy 2-D sets.
M.toy_names = { "8gaussians", "25gaussians", "ring", "swissroll" }

--- Makes a toy 2-D set of points.
-- @param name "8gaussians", "25gaussians", "ring" or "swissroll"
-- @param opt options: limit (number of points, default 50000), batch, seed
-- @return the iterator, with .centres ((K, 2) tensor, mixtures only), .std, .kind = "points"
function M.toy(name, opt)
  local spec = toys[name]
  if not spec then error(("gan.data: unknown toy set '%s'"):format(name), 2) end
  spec = spec()
  local n = get(opt, "limit", 0)
  if n <= 0 then n = 50000 end
  local seed = get(opt, "seed", 1)
  local u = M.uniform_stream(seed, 77)
  local g = gauss_stream(M.uniform_stream(seed, 78))
  local flat = {}
  for i = 1, n do
    local x, y
    if spec.centres then
      local c = spec.centres[math.floor(u() * #spec.centres) + 1]
      x, y = c[1] + spec.std * g(), c[2] + spec.std * g()
    else
      x, y = spec.draw(u, g)
    end
    flat[2 * i - 1], flat[2 * i] = x, y
  end
  local pts = gan.tensor(flat):reshape(n, 2)
  return new_data(pts, nil, opt, {
    name = name, kind = "points", std = spec.std, radius = spec.radius,
    centres = spec.centres and gan.tensor(spec.centres) or nil,
  })
end

-- ----------------------------------------------------------------------------

--- Loads a dataset by name or path (see the module comment).
-- @param name "fashion-mnist", a toy set's name, a folder of images, or a
--   folder of IDX files
-- @param opt options (a gan.options table works as it is)
-- @return the iterator
function M.load(name, opt)
  name = name or get(opt, "data", "fashion-mnist")
  if name == "fashion-mnist" or name == "fashion_mnist" or name == "fmnist" then
    local root = get(opt, "root", nil) or os.getenv("GANLUA_FASHION_MNIST") or M.FASHION_ROOT
    return M.idx_folder(root, opt)
  end
  if toys[name] then return M.toy(name, opt) end
  if is_dir(name) then
    if idx_file(name, "train-images-idx3-ubyte") or idx_file(name, "t10k-images-idx3-ubyte") then
      return M.idx_folder(name, opt)
    end
    return M.image_folder(name, opt)
  end
  error(("gan.data: '%s' is neither a dataset name (fashion-mnist, %s) nor a folder"):format(name,
    table.concat(M.toy_names, ", ")), 2)
end

-- Image-to-image data (two domains, unpaired or paired): gan/domains.lua adds
-- unpaired, paired, sobel_edges, image_files and Domain to this module.

--- A shuffled order of 0 .. n-1 for a seed and an epoch (the iterators' order).
-- @param n number of items
-- @param seed integer
-- @param epoch integer
-- @return list of 0-based indices
function M.permutation(n, seed, epoch)
  return permutation(n, seed, epoch)
end
for k, v in pairs(require "gan.domains") do
  if M[k] == nil then M[k] = v end
end

return M
