--- Image-to-image data: two domains of images, unpaired (CycleGAN) or
-- paired (pix2pix). These functions are part of gan.data:
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
-- Training batches are augmented as in the papers' code: each image is
-- resized to load_size x load_size, a size x size square is cropped at a
-- random place, and it is mirrored left-right with probability 1/2 (a pair
-- gets the same crop and flip on both sides). The draws come from the seed
-- and the iterator's position, which is saved in checkpoints. `batch(i, k)`
-- returns images in order without augmentation (resized to size), for
-- evaluation and translation of a test split.
--
-- Small sets are decoded once and kept in memory; a set larger than
-- cache_mb (1024 MB at load_size) is read from its files at each batch.
-- A file that cannot be read is named on standard error and skipped when
-- the set is loaded into memory, and raises an error naming it otherwise.
--
-- Options read from opt: size (32), load_size (size), flip (true),
-- channels (3; Fashion-MNIST is gray), split ("train"), limit (0: all, per
-- domain), batch (64), seed (1), cache_mb (1024), direction ("AtoB" or
-- "BtoA": which side is A), classes_a ({7}), classes_b ({9}), classes
-- (paired Fashion-MNIST: the classes to keep, default all), edge_threshold
-- (0.8: the Sobel gradient magnitude, on images in [0, 1], that counts as an edge).
-- @module gan.domains

local gan = require "gan"
local util = require "gan.util"

local M = {}

local get = util.get

local function data() return require "gan.data" end

local function is_dir(path)
  local ok = os.execute("test -d " .. util.shell_quote(path))
  return ok == true or ok == 0
end

local function is_fashion(name)
  return name == "fashion-mnist" or name == "fashion_mnist" or name == "fmnist"
end

local image_ext = { png = true, jpg = true, jpeg = true }

--- The PNG and JPEG files under a folder, recursively, sorted by path.
-- @param dir the folder
-- @return list of paths
function M.image_files(dir)
  local p = io.popen("find " .. util.shell_quote(dir) .. " -type f 2>/dev/null")
  local files = {}
  for line in p:lines() do
    local ext = line:match("%.([%w]+)$")
    if ext and image_ext[ext:lower()] then files[#files + 1] = line end
  end
  p:close()
  table.sort(files)
  return files
end

local function stem(path)
  return (path:match("([^/]+)$") or path):gsub("%.[%w]+$", "")
end

-- (C, H, W) in [0, 1] -> (C, s, s) in [-1, 1] (squashed, as the papers' resize)
local function to_square(img, s)
  local x = img:unsqueeze(1)
  if img:size(2) ~= s or img:size(3) ~= s then x = data().resize(x, s, s) end
  return x:squeeze(1) * 2 - 1
end

local function read(path, channels)
  local img, err = gan.io.load_image(path, channels)
  if not img then return nil, err end
  return img
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

-- ----------------------------------------------------------------------------
-- One set of images (one domain, or a pair stacked on the channel dim)

local Domain = {}
Domain.__index = Domain
M.Domain = Domain

-- src = {n=, load=function(i) -> (C, L, L) or nil, err, name=function(i), path=function(i)}
-- or {x = (N, C, L, L)}; spec = {L=, size=, flip=, seed=, batch=, split_at=, label=}
local function new_domain(src, spec, opt)
  local self = setmetatable({
    name = spec.label, kind = "images", L = spec.L, size_ = spec.size, flip = spec.flip,
    seed = spec.seed, batch = spec.batch, split_at = spec.split_at,
    epoch = 0, pos = 0, draws = 0, names = src.names, skipped = {},
  }, Domain)
  if src.x then
    self.x, self.n = src.x, src.x:size(1)
  else
    local C = src.channels
    local bytes = src.n * C * spec.L * spec.L * 4
    if bytes <= get(opt, "cache_mb", 1024) * 2 ^ 20 then
      local imgs, names = {}, {}
      for i = 1, src.n do
        local x, err = src.load(i)
        if x then
          imgs[#imgs + 1], names[#names + 1] = x, src.names[i]
        else
          self.skipped[#self.skipped + 1] = { src.path(i), err }
          io.stderr:write(("gan.data: skipping %s: %s\n"):format(src.path(i), tostring(err)))
        end
      end
      if #imgs == 0 then
        error(("gan.data: no usable images in %s (%d files, %d could not be read)"):format(spec.label, src.n,
          #self.skipped), 0)
      end
      self.x, self.n, self.names = gan.stack(imgs, 1), #imgs, names
    else
      self.load, self.path, self.n, self.channels = src.load, src.path, src.n, C
    end
  end
  if self.n == 0 then error(("gan.data: %s holds no images"):format(spec.label), 0) end
  self.perm = data().permutation(self.n, self.seed, 0)
  return self
end

-- item i (0-based) at load size
--- Item i (0-based) at load size; a file that cannot be read is an error naming it.
-- @local
function Domain:item(i)
  if self.x then return self.x[i + 1] end
  local x, err = self.load(i + 1)
  if not x then error(("gan.data: cannot read %s: %s"):format(self.path(i + 1), tostring(err)), 0) end
  return x
end

--- A batch as returned to the caller: paired images (split_at channels of A, the rest B)
-- come back as {a, b, A = a, B = b}, single images as they are.
-- @local
function Domain:result(x)
  if not self.split_at then return x end
  local c = self.split_at
  local a, b = x:narrow(2, 1, c), x:narrow(2, c + 1, x:size(2) - c)
  return { a, b, A = a, B = b }
end

--- The number of images (or pairs).
-- @return integer
function Domain:size()
  return self.n
end

--- The next training batch, shuffled and augmented: (b, C, size, size),
-- or for pairs {a, b, A = a, B = b}.
-- @param b batch size (default opt.batch)
-- @return batch
function Domain:next(b)
  b = b or self.batch
  local out = {}
  local L, s = self.L, self.size_
  for k = 1, b do
    if self.pos >= self.n then
      self.epoch, self.pos = self.epoch + 1, 0
      self.perm = data().permutation(self.n, self.seed, self.epoch)
    end
    local x = self:item(self.perm[self.pos + 1])
    self.pos = self.pos + 1
    self.draws = self.draws + 1
    local u = data().uniform_stream(self.seed, 3000017 + self.draws)
    local top, left, flip = math.floor(u() * (L - s + 1)), math.floor(u() * (L - s + 1)), u() < 0.5
    if L > s then x = x:narrow(2, top + 1, s):narrow(3, left + 1, s) end
    if self.flip and flip then x = x:flip(3) end
    out[k] = x
  end
  return self:result(gan.stack(out, 1))
end

--- Images i .. i + k - 1 (1-based) in order, resized to size, without
-- augmentation: (k, C, size, size), or for pairs {a, b, A = a, B = b}.
-- @param i first image
-- @param k how many (clipped at the end)
-- @return batch
function Domain:items(i, k)
  k = math.min(k, self.n - i + 1)
  local x
  if self.x then
    x = self.x:narrow(1, i, k)
  else
    local list = {}
    for j = 1, k do list[j] = self:item(i + j - 2) end
    x = gan.stack(list, 1)
  end
  if x:size(3) ~= self.size_ then x = data().resize(x, self.size_, self.size_) end
  return self:result(x)
end

--- A name for image i (1-based): its file's name without the extension, or its number.
-- @param i index
-- @return string
function Domain:item_name(i)
  return self.names and self.names[i] or ("%05d"):format(i)
end

--- Where the iterator is: {epoch=, pos=, draws=, seed=}.
-- @return table
function Domain:state_dict()
  return { epoch = self.epoch, pos = self.pos, draws = self.draws, seed = self.seed }
end

--- Moves the iterator to a saved position (numbers may be strings).
-- @param sd table from state_dict()
function Domain:load_state_dict(sd)
  local function n(v) return math.tointeger(tonumber(v)) end
  self.seed = n(sd.seed) or self.seed
  self.epoch, self.pos, self.draws = n(sd.epoch) or 0, n(sd.pos) or 0, n(sd.draws) or 0
  self.perm = data().permutation(self.n, self.seed, self.epoch)
end

--- A one-line description.
function Domain:__tostring()
  return ("gan.data.Domain(%s: %d %s of %d px, batch %d)"):format(self.name or "?", self.n,
    self.split_at and "pairs" or "images", self.size_, self.batch)
end

local function spec_of(opt, label, stream, channels)
  local size = get(opt, "size", 32)
  local L = get(opt, "load_size", 0)
  if L == 0 or L == nil then L = size end
  if L < size then
    error(("gan.data: --load_size (%d) must be at least --size (%d)"):format(L, size), 0)
  end
  return {
    L = L, size = size, flip = get(opt, "flip", true), batch = get(opt, "batch", 64), label = label,
    seed = get(opt, "seed", 1) + 104729 * stream, channels = channels,
  }
end

-- the first `limit` of a list (all when limit is 0)
local function first(list, limit)
  if not limit or limit <= 0 or limit >= #list then return list end
  return table.move(list, 1, limit, 1, {})
end

local function folder_source(dir, channels, L, limit)
  local files = first(M.image_files(dir), limit)
  if #files == 0 then error(("gan.data: no PNG or JPEG files in %s"):format(dir), 0) end
  local names = {}
  for i, f in ipairs(files) do names[i] = stem(f) end
  return {
    n = #files, channels = channels, names = names,
    path = function(i) return files[i] end,
    load = function(i)
      local img, err = read(files[i], channels)
      if not img then return nil, err end
      return to_square(img, L)
    end,
  }
end

local function fashion_x(opt, classes, L)
  local d = data().load("fashion-mnist", {
    split = get(opt, "split", "train"), classes = classes, limit = get(opt, "limit", 0), size = L,
    root = get(opt, "root", nil), batch = 1,
  })
  return d.x
end

-- ----------------------------------------------------------------------------
-- Unpaired

local Unpaired = {}
Unpaired.__index = Unpaired
M.Unpaired = Unpaired

--- Two domains of images drawn independently (CycleGAN).
-- @param name "fashion-mnist" or a folder with the CycleGAN layout
-- @param opt options (see the module comment)
-- @return an iterator with .A and .B (each a Domain) whose next() gives {a, b, A = a, B = b}
function M.unpaired(name, opt)
  name = name or get(opt, "data", "fashion-mnist")
  local split = get(opt, "split", "train")
  local A, B
  if is_fashion(name) then
    local ca, cb = get(opt, "classes_a", { 7 }), get(opt, "classes_b", { 9 })
    local sa, sb = spec_of(opt, "fashion-mnist " .. split .. " classes " .. table.concat(ca, ","), 1, 1),
        spec_of(opt, "fashion-mnist " .. split .. " classes " .. table.concat(cb, ","), 2, 1)
    A = new_domain({ x = fashion_x(opt, ca, sa.L) }, sa, opt)
    B = new_domain({ x = fashion_x(opt, cb, sb.L) }, sb, opt)
  else
    if not is_dir(name) then
      error(("gan.data.unpaired: '%s' is neither fashion-mnist nor a folder"):format(name), 0)
    end
    local channels = get(opt, "channels", 3)
    local doms = {}
    for k, side in ipairs({ "A", "B" }) do
      local dir = ("%s/%s%s"):format(name, split, side)
      if not is_dir(dir) then
        error(("gan.data.unpaired: %s has no %s%s folder (the CycleGAN layout: DIR/trainA, DIR/trainB, "
          .. "DIR/testA, DIR/testB)"):format(name, split, side), 0)
      end
      local spec = spec_of(opt, dir, k, channels)
      doms[side] = new_domain(folder_source(dir, channels, spec.L, get(opt, "limit", 0)), spec, opt)
    end
    A, B = doms.A, doms.B
  end
  if get(opt, "direction", "AtoB") == "BtoA" then A, B = B, A end
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
  local fa, fb = M.image_files(dirA), M.image_files(dirB)
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
    error(("gan.data.paired: no files of the same name in %s and %s"):format(dirA, dirB), 0)
  end
  return pa, pb
end

--- Pairs of images (pix2pix): A and B stacked on the channel dim and
-- augmented together.
-- @param name "fashion-mnist" (edges -> garment) or a folder with one of the pix2pix layouts
-- @param opt options (see the module comment)
-- @return a Domain whose next() gives {a, b, A = a, B = b}
function M.paired(name, opt)
  name = name or get(opt, "data", "fashion-mnist")
  local split = get(opt, "split", "train")
  local swap = get(opt, "direction", "AtoB") == "BtoA"
  local function join(a, b)
    if swap then a, b = b, a end
    return gan.cat({ a, b }, 1)
  end
  local d
  if is_fashion(name) then
    local spec = spec_of(opt, "fashion-mnist " .. split .. " edges -> garments", 1, 1)
    local x = fashion_x(opt, get(opt, "classes", {}), spec.L)
    local edges = M.sobel_edges(x, get(opt, "edge_threshold", 0.8))
    spec.split_at = 1
    local a, b = edges, x
    if swap then a, b = b, a end
    d = new_domain({ x = gan.cat({ a, b }, 2) }, spec, opt)
  else
    if not is_dir(name) then
      error(("gan.data.paired: '%s' is neither fashion-mnist nor a folder"):format(name), 0)
    end
    local channels = get(opt, "channels", 3)
    local spec = spec_of(opt, name, 1, channels)
    spec.split_at = channels
    local src
    if is_dir(name .. "/A") and is_dir(name .. "/B") then
      local dirA, dirB = name .. "/A", name .. "/B"
      if is_dir(dirA .. "/" .. split) then dirA, dirB = dirA .. "/" .. split, dirB .. "/" .. split end
      local pa, pb = matching_pairs(dirA, dirB)
      pa, pb = first(pa, get(opt, "limit", 0)), first(pb, get(opt, "limit", 0))
      local names = {}
      for i, f in ipairs(pa) do names[i] = stem(f) end
      src = {
        n = #pa, channels = 2 * channels, names = names,
        path = function(i) return pa[i] .. " / " .. pb[i] end,
        load = function(i)
          local a, err = read(pa[i], channels)
          if not a then return nil, err end
          local b, err2 = read(pb[i], channels)
          if not b then return nil, err2 end
          return join(to_square(a, spec.L), to_square(b, spec.L))
        end,
      }
      spec.label = dirA .. " | " .. dirB
    else
      local dir = is_dir(name .. "/" .. split) and (name .. "/" .. split) or name
      local files = first(M.image_files(dir), get(opt, "limit", 0))
      if #files == 0 then error(("gan.data.paired: no PNG or JPEG files in %s"):format(dir), 0) end
      local names = {}
      for i, f in ipairs(files) do names[i] = stem(f) end
      src = {
        n = #files, channels = 2 * channels, names = names,
        path = function(i) return files[i] end,
        load = function(i)
          local img, err = read(files[i], channels)
          if not img then return nil, err end
          local w = img:size(3) // 2
          if w == 0 then return nil, "too narrow to hold A and B side by side" end
          return join(to_square(img:narrow(3, 1, w), spec.L), to_square(img:narrow(3, w + 1, w), spec.L))
        end,
      }
      spec.label = dir
    end
    d = new_domain(src, spec, opt)
  end
  return d
end

return M
