--- gan.data.dataset: the one data set class every loader makes.
--
-- A data set holds its items in memory (a tensor) or reads them from files
-- at each batch; a sampler (gan.data.sampler) gives the order, and images
-- stored larger than the batch size are cropped and flipped by gan.augment.
--
--     local d = gan.data.dataset({ x = images }, { batch = 64, seed = 1, size = 32, flip = true })
--     local x = d:next()
--
-- Requires: gan.data.sampler, gan.augment.
-- @module gan.data.dataset

local gan = require "gan"
local sampler = require "gan.data.sampler"

local M = {}

--- A value of the third argument of a loader (params), else of opt.
-- @local
function M.param(opt, params, key, default)
  local v = params and params[key]
  if v == nil and opt then v = rawget(opt, key) end
  if v == nil then return default end
  return v
end

--- Resizes images (N, C, H, W) to (N, C, h, w): an integer average
-- pooling first when shrinking by 2 or more (so it does not alias), then
-- bilinear.
-- @param x images
-- @param h height
-- @param w width
-- @return the resized images
function M.resize(x, h, w)
  local fh, fw = x:size(3) // h, x:size(4) // w
  local f = math.min(fh, fw)
  if f >= 2 then x = x:avg_pool2d(f, f) end
  if x:size(3) == h and x:size(4) == w then return x end
  return x:upsample({ size = { h, w } }, "bilinear", false)
end

-- ----------------------------------------------------------------------------
-- The data set

local Dataset = {}
Dataset.__index = Dataset
M.Dataset = Dataset

--- Makes a data set (the loaders call this).
-- @param src {x = (N, ...) tensor} held in memory, or {n=, load=function(i) -> item or nil, err,
--   path=function(i)} read at each batch (i 1-based)
-- @param o {batch=64, seed= (default: the generator's), stream="data" (the name of its random
--   streams), labels= int64 (N) tensor, with_labels=false,
--   size= (crop size of images stored larger), flip=false, split_at= (channels of A in a
--   pair), name=, kind=, and any fields to keep (classes, centres, files, skipped, ...)}
-- @return the data set
function M.new(src, o)
  local n = src.x and src.x:size(1) or src.n
  if not n or n == 0 then error(("gan.data: %s holds no items"):format(o.name or "the data set"), 3) end
  local self = setmetatable({}, Dataset)
  for k, v in pairs(o) do self[k] = v end
  self.size, self.image_size = nil, o.size -- `size` is the method
  self.x, self.load, self.path, self.n = src.x, src.load, src.path, n
  self.batch = o.batch or 64
  self.sampler = sampler.new(n, { stream = o.stream or "data", seed = o.seed })
  local L = src.x and src.x:dim() == 4 and src.x:size(3) or src.L
  if o.size and L and (L > o.size or o.flip) then
    self.augment = require("gan.augment").new { size = o.size, flip = o.flip, stream = o.stream or "data",
      seed = o.seed }
  end
  return self
end

--- The number of items (images, pairs or points).
-- @return integer
function Dataset:size()
  return self.n
end

--- Item i (0-based) as stored; a file that cannot be read is an error naming it.
-- @local
function Dataset:item(i)
  if self.x then return self.x[i + 1] end
  local x, err = self.load(i + 1)
  if not x then error(("gan.data: cannot read %s: %s"):format(self.path(i + 1), tostring(err)), 0) end
  return x
end

-- the stored items of a list of 0-based indices, stacked
local function gather(self, idx)
  if self.x then return self.x:index_select(1, gan.tensor(idx, "int64")) end
  local list = {}
  for k, i in ipairs(idx) do list[k] = self:item(i) end
  return gan.stack(list, 1)
end

-- a batch as the caller gets it: pairs as {a, b, A = a, B = b}, labels as a second value or in a table
local function result(self, x, y)
  if self.split_at then
    local c = self.split_at
    local a, b = x:narrow(2, 1, c), x:narrow(2, c + 1, x:size(2) - c)
    return { a, b, A = a, B = b }
  end
  if self.with_labels then return { x, y, images = x, labels = y } end
  return x, y
end

--- The next training batch, shuffled and augmented: items (b, ...) and
-- the labels (int64, b) as a second value when the data has them; with
-- the `labels` parameter one table {images, labels}; pairs as {a, b, A =
-- a, B = b}.
-- @param b batch size (default: the data's batch)
-- @return batch [, labels]
function Dataset:next(b)
  local idx = self.sampler:take(b or self.batch)
  local x = gather(self, idx)
  if self.augment then x = self.augment:apply(x) end
  local y = self.labels and self.labels:index_select(1, gan.tensor(idx, "int64")) or nil
  return result(self, x, y)
end

--- Items i .. i + k - 1 (1-based) in order, resized to the data's size,
-- without augmentation (for evaluation and translation of a test split).
-- @param i first item
-- @param k how many (clipped at the end)
-- @return batch, as `next` returns it
function Dataset:items(i, k)
  k = math.min(k, self.n - i + 1)
  local x
  if self.x then
    x = self.x:narrow(1, i, k)
  else
    local list = {}
    for j = 1, k do list[j] = self:item(i + j - 2) end
    x = gan.stack(list, 1)
  end
  local s = self.image_size
  if s and x:dim() == 4 and x:size(3) ~= s then x = M.resize(x, s, s) end
  local y = self.labels and self.labels:narrow(1, i, k) or nil
  return result(self, x, y)
end

--- A name for item i (1-based): its file's name without the extension, or its number.
-- @param i index
-- @return string
function Dataset:item_name(i)
  return self.names and self.names[i] or ("%05d"):format(i)
end

--- Where the iterator is: the sampler's position and the augmenter's batch count.
-- @return table
function Dataset:state_dict()
  local sd = self.sampler:state_dict()
  if self.augment then sd.batches = self.augment:state_dict().batches end
  return sd
end

--- Moves the iterator to a saved position (numbers may be strings).
-- @param sd table from state_dict()
function Dataset:load_state_dict(sd)
  self.sampler:load_state_dict(sd)
  if self.augment then self.augment:load_state_dict(sd) end
end

--- A one-line description.
function Dataset:__tostring()
  local shape = self.x and table.concat(self.x[1]:shape(), ", ") or ("files at " .. tostring(self.L))
  return ("gan.data(%s: %d %s of (%s), batch %d)"):format(self.name or "?", self.n,
    self.split_at and "pairs" or "items", shape, self.batch)
end

return M
