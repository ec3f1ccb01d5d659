--- gan.data.domains: two domains of images for image-to-image
-- translation, unpaired (CycleGAN) or paired (pix2pix). Its functions are
-- gan.data's:
--
--     local data = gan.data.unpaired("fashion-mnist", opt)   -- sneakers (A) and ankle boots (B)
--     local batch = data:next()           -- {a, b, A = a, B = b}: (batch, C, size, size) each
--     local pairs = gan.data.paired("datasets/facades", opt)
--     local batch = pairs:next()          -- {a, b, A = a, B = b}: a[i] and b[i] belong together
--
-- Layouts on disk (PNG or JPEG, searched recursively, sorted by path):
--
-- * CycleGAN: DIR/trainA, DIR/trainB, DIR/testA, DIR/testB (`split`
--   chooses train or test); the two domains are drawn independently.
-- * pix2pix, side by side: each image holds A on its left half and B on
--   its right, in DIR/<split>/ (or in DIR itself when it has no such folder).
-- * pix2pix, two folders: DIR/A/<split>/ and DIR/B/<split>/ (or DIR/A and
--   DIR/B) holding files of the same names; files without a partner are
--   reported and left out.
--
-- And the defaults, made from Fashion-MNIST with nothing to download:
-- unpaired sneakers (class 7, domain A) and ankle boots (class 9, domain B)
-- (`classes_a`, `classes_b` choose others); paired Sobel edges of each
-- garment (A, white lines on black) and the garment itself (B).
--
-- Training batches are augmented as in the papers' code (gan.augment): each
-- image is resized to load_size x load_size, a size x size square is
-- cropped at a random place, and with `flip` it is mirrored left-right
-- with probability 1/2 (a pair gets the same crop and flip on both sides).
-- `items(i, k)` returns images in order without augmentation (resized to
-- size), for evaluation and translation of a test split.
--
-- Small sets are decoded once and kept in memory; a set larger than
-- cache_mb (at load_size) is read from its files at each batch. A file
-- that cannot be read is named on standard error and skipped when the set
-- is loaded into memory, and raises an error naming it otherwise.
--
-- Options read (declared here): classes_a, classes_b, direction,
-- edge_threshold, cache_mb; and size, load_size, flip, channels, limit,
-- batch, seed. Parameters (the third argument): split ("train"), classes
-- (paired Fashion-MNIST: the classes to keep), root.
-- Requires: gan.data.dataset, gan.data.idx, gan.data.images, gan.options.
-- @module gan.data.domains

local gan = require "gan"
local user_error = require("gan.util").user_error
local options = require "gan.options"

local M = {}

--- The options of the two-domain loaders.
M.options = options.declare("gan.data.domains", "two-domain data: unpaired and paired", {
  { "classes_a", { 7 }, "Fashion-MNIST classes of domain A (7: sneaker)" },
  { "classes_b", { 9 }, "Fashion-MNIST classes of domain B (9: ankle boot)" },
  { "direction", "AtoB", "AtoB, or BtoA: which side is the input" },
  { "edge_threshold", 0.8, "Sobel gradient magnitude (images in [0, 1]) that counts as an edge" },
  { "cache_mb", 1024, "image sets up to this size are kept in memory; larger ones are read at each batch" },
})

local get = options.get

local dataset = require "gan.data.dataset"
local idx = require "gan.data.idx"
local images = require "gan.data.images"

local function stem(path)
  return (path:match("([^/]+)$") or path):gsub("%.[%w]+$", "")
end

-- (C, H, W) in [0, 1] -> (C, s, s) in [-1, 1] (squashed, as the papers' resize)
local function to_square(img, s)
  local x = img:unsqueeze(1)
  if img:size(2) ~= s or img:size(3) ~= s then x = dataset.resize(x, s, s) end
  return x:squeeze(1) * 2 - 1
end

--- Sobel edges: white (1) where the gradient magnitude of the image (gray,
-- taken to [0, 1]) exceeds threshold, black (-1) elsewhere.
-- @param x images (N, C, H, W) in [-1, 1]
-- @param threshold (default 0.8; a sharp black-to-white step gives 4)
-- @return (N, 1, H, W) in {-1, 1}
function M.sobel_edges(x, threshold)
  threshold = threshold or 0.8
  local kx = gan.tensor { { -1, 0, 1 }, { -2, 0, 2 }, { -1, 0, 1 } }:reshape(1, 1, 3, 3)
  local w = gan.cat({ kx, kx:transpose(3, 4) }, 1)
  return gan.no_grad(function()
    -- in chunks: temporaries of a whole dataset would be slow to allocate
    local out = {}
    for i = 1, x:size(1), 2048 do
      local g = (x:narrow(1, i, math.min(2048, x:size(1) - i + 1)):detach():mean(2, true) + 1) * 0.5
      local mag = g:pad({ 1, 1, 1, 1 }, "replicate"):conv2d(w):square():sum(2, true):sqrt()
      out[#out + 1] = mag:gt(threshold) * 2 - 1
    end
    return #out == 1 and out[1] or gan.cat(out, 1)
  end)
end

-- One domain (or a pair stacked on the channel dim) as a data set.
-- src = {x = (N, C, L, L)} or {n=, channels=, names=, load=function(i), path=function(i)};
-- k = the domain's number (its random stream); label = its name for messages
local function domain(src, opt, k, label, split_at)
  local size, L = images.sizes(opt)
  local o = {
    name = label, kind = "images", size = size, L = L, flip = get(opt, "flip"), batch = get(opt, "batch"),
    seed = get(opt, "seed"), stream = "data." .. k, split_at = split_at,
    names = src.names, skipped = {},
  }
  if not src.x and src.n * src.channels * L * L * 4 <= get(opt, "cache_mb") * 2 ^ 20 then
    local imgs, names = {}, {}
    for i = 1, src.n do
      local x, err = src.load(i)
      if x then
        imgs[#imgs + 1], names[#names + 1] = x, src.names[i]
      else
        o.skipped[#o.skipped + 1] = { src.path(i), err }
        io.stderr:write(("gan.data: skipping %s: %s\n"):format(src.path(i), tostring(err)))
      end
    end
    if #imgs == 0 then
      user_error(("gan.data: no usable images in %s (%d files, %d could not be read)"):format(label, src.n,
        #o.skipped))
    end
    src, o.names = { x = gan.stack(imgs, 1) }, names
  end
  src.L = L
  return dataset.new(src, o)
end

-- the first `limit` of a list (all when limit is 0)
local function first(list, limit)
  if not limit or limit <= 0 or limit >= #list then return list end
  return table.move(list, 1, limit, 1, {})
end

local function folder_source(dir, channels, L, limit)
  local files = first(images.files(dir), limit)
  if #files == 0 then user_error(("gan.data: no PNG or JPEG files in %s"):format(dir)) end
  local names = {}
  for i, f in ipairs(files) do names[i] = stem(f) end
  return {
    n = #files, channels = channels, names = names,
    path = function(i) return files[i] end,
    load = function(i)
      local img, err = gan.io.load_image(files[i], channels)
      if not img then return nil, err end
      return to_square(img, L)
    end,
  }
end

local function fashion_x(opt, params, classes, L)
  local d = idx.fashion({ classes = classes, limit = get(opt, "limit"), size = L, batch = 1 },
    { split = dataset.param(opt, params, "split", "train"), root = dataset.param(opt, params, "root", nil) })
  return d.x
end

-- ----------------------------------------------------------------------------
-- Unpaired

local Unpaired = {}
Unpaired.__index = Unpaired
M.Unpaired = Unpaired

--- Two domains of images drawn independently (CycleGAN).
-- @param name "fashion-mnist" or a folder with the CycleGAN layout (default: opt.data)
-- @param opt options (see the module comment)
-- @param params {split="train", root=}
-- @return an iterator with .A and .B (each a data set) whose next() gives {a, b, A = a, B = b}
function M.unpaired(name, opt, params)
  name = name or get(opt, "data")
  local split = dataset.param(opt, params, "split", "train")
  local A, B
  if idx.is_fashion(name) then
    local _, L = images.sizes(opt)
    local ca, cb = get(opt, "classes_a"), get(opt, "classes_b")
    A = domain({ x = fashion_x(opt, params, ca, L) }, opt, 1,
      "fashion-mnist " .. split .. " classes " .. table.concat(ca, ","))
    B = domain({ x = fashion_x(opt, params, cb, L) }, opt, 2,
      "fashion-mnist " .. split .. " classes " .. table.concat(cb, ","))
  else
    if not gan.io.isdir(name) then
      user_error(("gan.data.unpaired: '%s' is neither fashion-mnist nor a folder"):format(name))
    end
    local channels = get(opt, "channels")
    local _, L = images.sizes(opt)
    local doms = {}
    for k, side in ipairs({ "A", "B" }) do
      local dir = ("%s/%s%s"):format(name, split, side)
      if not gan.io.isdir(dir) then
        user_error(("gan.data.unpaired: %s has no %s%s folder (the CycleGAN layout: DIR/trainA, DIR/trainB, "
          .. "DIR/testA, DIR/testB)"):format(name, split, side))
      end
      doms[side] = domain(folder_source(dir, channels, L, get(opt, "limit")), opt, k, dir)
    end
    A, B = doms.A, doms.B
  end
  if get(opt, "direction") == "BtoA" then A, B = B, A end
  return setmetatable({ A = A, B = B, name = name, kind = "images", batch = A.batch }, Unpaired)
end

--- The next training batches of both domains: {a, b, A = a, B = b}.
-- @param b batch size (default opt.batch)
-- @return table
function Unpaired:next(b)
  local a, bb = self.A:next(b), self.B:next(b)
  return { a, bb, A = a, B = bb }
end

--- The size of the larger domain.
-- @return integer
function Unpaired:size()
  return math.max(self.A.n, self.B.n)
end

--- Both iterators' positions, as A.<key> and B.<key>.
-- @return table
function Unpaired:state_dict()
  local sd = {}
  for k, v in pairs(self.A:state_dict()) do sd["A." .. k] = v end
  for k, v in pairs(self.B:state_dict()) do sd["B." .. k] = v end
  return sd
end

--- Restores both positions from state_dict().
-- @param sd table
function Unpaired:load_state_dict(sd)
  local a, b = {}, {}
  for k, v in pairs(sd) do
    local side, key = k:match("^([AB])%.(.+)$")
    if side == "A" then a[key] = v elseif side == "B" then b[key] = v
    else error(("gan.data.Unpaired:load_state_dict: unexpected key %s"):format(k), 2) end
  end
  self.A:load_state_dict(a)
  self.B:load_state_dict(b)
end

--- A one-line description.
function Unpaired:__tostring()
  return ("gan.data.Unpaired(A: %d images, B: %d images)"):format(self.A.n, self.B.n)
end

-- ----------------------------------------------------------------------------
-- Paired

local function matching_pairs(dirA, dirB)
  local fa, fb = images.files(dirA), images.files(dirB)
  local by_name = {}
  for _, f in ipairs(fb) do by_name[f:sub(#dirB + 2)] = f end
  local pa, pb, lonely = {}, {}, {}
  for _, f in ipairs(fa) do
    local rel = f:sub(#dirA + 2)
    if by_name[rel] then
      pa[#pa + 1], pb[#pb + 1] = f, by_name[rel]
      by_name[rel] = nil
    else
      lonely[#lonely + 1] = f
    end
  end
  for _, f in pairs(by_name) do lonely[#lonely + 1] = f end
  table.sort(lonely)
  for _, f in ipairs(lonely) do io.stderr:write(("gan.data: %s has no partner of the same name; left out\n"):format(f)) end
  if #pa == 0 then
    user_error(("gan.data.paired: no files of the same name in %s and %s"):format(dirA, dirB))
  end
  return pa, pb
end

--- Pairs of images (pix2pix): A and B stacked on the channel dim and
-- augmented together.
-- @param name "fashion-mnist" (edges -> garment) or a folder with one of the pix2pix layouts
--   (default: opt.data)
-- @param opt options (see the module comment)
-- @param params {split="train", classes= (Fashion-MNIST classes to keep), root=}
-- @return a data set whose next() gives {a, b, A = a, B = b}
function M.paired(name, opt, params)
  name = name or get(opt, "data")
  local split = dataset.param(opt, params, "split", "train")
  local swap = get(opt, "direction") == "BtoA"
  local function join(a, b)
    if swap then a, b = b, a end
    return gan.cat({ a, b }, 1)
  end
  local _, L = images.sizes(opt)
  if idx.is_fashion(name) then
    local x = fashion_x(opt, params, dataset.param(nil, params, "classes", get(opt, "classes")), L)
    local edges = M.sobel_edges(x, get(opt, "edge_threshold"))
    local a, b = edges, x
    if swap then a, b = b, a end
    return domain({ x = gan.cat({ a, b }, 2) }, opt, 1, "fashion-mnist " .. split .. " edges -> garments", 1)
  end
  if not gan.io.isdir(name) then
    user_error(("gan.data.paired: '%s' is neither fashion-mnist nor a folder"):format(name))
  end
  local channels = get(opt, "channels")
  local limit = get(opt, "limit")
  local src, label
  if gan.io.isdir(name .. "/A") and gan.io.isdir(name .. "/B") then
    local dirA, dirB = name .. "/A", name .. "/B"
    if gan.io.isdir(dirA .. "/" .. split) then dirA, dirB = dirA .. "/" .. split, dirB .. "/" .. split end
    local pa, pb = matching_pairs(dirA, dirB)
    pa, pb = first(pa, limit), first(pb, limit)
    local names = {}
    for i, f in ipairs(pa) do names[i] = stem(f) end
    src = {
      n = #pa, channels = 2 * channels, names = names,
      path = function(i) return pa[i] .. " / " .. pb[i] end,
      load = function(i)
        local a, err = gan.io.load_image(pa[i], channels)
        if not a then return nil, err end
        local b, err2 = gan.io.load_image(pb[i], channels)
        if not b then return nil, err2 end
        return join(to_square(a, L), to_square(b, L))
      end,
    }
    label = dirA .. " | " .. dirB
  else
    local dir = gan.io.isdir(name .. "/" .. split) and (name .. "/" .. split) or name
    local files = first(images.files(dir), limit)
    if #files == 0 then user_error(("gan.data.paired: no PNG or JPEG files in %s"):format(dir)) end
    local names = {}
    for i, f in ipairs(files) do names[i] = stem(f) end
    src = {
      n = #files, channels = 2 * channels, names = names,
      path = function(i) return files[i] end,
      load = function(i)
        local img, err = gan.io.load_image(files[i], channels)
        if not img then return nil, err end
        local w = img:size(3) // 2
        if w == 0 then return nil, "too narrow to hold A and B side by side" end
        return join(to_square(img:narrow(3, 1, w), L), to_square(img:narrow(3, w + 1, w), L))
      end,
    }
    label = dir
  end
  return domain(src, opt, 1, label, channels)
end

return M
