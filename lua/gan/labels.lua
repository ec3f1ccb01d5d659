--- gan.labels: class labels as inputs of conditional networks.
--
--     local y = gan.labels.rows(100, 10)            -- 0 x10, 1 x10, ...: a 10x10 grid, one row per class
--     local zy = gan.labels.join(z, y, 10)          -- (N, nz + 10, 1, 1): noise and one-hot label
--     local xy = gan.labels.join(x, y, 10)          -- (N, C + 10, H, W): images and label planes
--     local sample = gan.labels.sampler(function(z, y) return G(gan.labels.join(z, y, 10)) end, 10, noise)
--     local x, y = sample(100)                      -- a hook for gan.train: images and the classes asked
--
-- Ids are int64 and count from 0, as in the data files.
-- @module gan.labels

local gan = require "gan"

local M = {}

--- n class ids in blocks, 0 first: id i*k // n for i = 0..n-1. A batch of
-- 100 with k = 10 drawn as a 10x10 grid shows one class per row.
-- @param n number of ids
-- @param k number of classes
-- @return int64 tensor (n)
function M.rows(n, k)
  local ids = {}
  for i = 0, n - 1 do ids[i + 1] = i * k // n end
  return gan.tensor(ids, "int64")
end

--- Class ids as one-hot planes of an image's size: (N) -> (N, k, h, w).
-- @param y int64 ids (N)
-- @param k number of classes
-- @param h height (default 1)
-- @param w width (default h)
-- @return float tensor
function M.planes(y, k, h, w)
  h = h or 1
  w = w or h
  local n = y:size(1)
  return y:one_hot(k):reshape(n, k, 1, 1):expand(n, k, h, w)
end

--- Concatenates one-hot labels to x along the channels: x (N, C, H, W)
-- -> (N, C + k, H, W), or x (N, F) -> (N, F + k).
-- @param x input
-- @param y int64 ids (N)
-- @param k number of classes
-- @return tensor
function M.join(x, y, k)
  if x:dim() == 2 then return gan.cat({ x, y:one_hot(k) }, 2) end
  if x:dim() ~= 4 then
    error(("gan.labels.join: x must be (N, F) or (N, C, H, W), got (%s)"):format(table.concat(x:shape(), ", ")), 2)
  end
  return gan.cat({ x, M.planes(y, k, x:size(3), x:size(4)) }, 2)
end

--- A sampling function for a class-conditional generator: n images asked
-- in class order (`rows`), from noise of the current random stream (gan.train
-- fixes the stream for its grids and evaluations), made in chunks so that
-- large n do not need one huge batch. Give it to gan.train as hooks.sample:
-- it returns the images and the classes asked, which the evaluation
-- compares with the classifier's (accuracy).
-- With `interleave`, the classes go round instead (0, 1, ..., k-1, 0, ...:
-- a 10x10 grid shows one class per column), so every chunk holds every
-- class: what a generator sampled with batch statistics needs.
-- @param gen function(z, y) -> images
-- @param k number of classes
-- @param noise function(n) -> z
-- @param chunk images per call of gen (default 500), or {chunk=500, interleave=false}
-- @return function(n) -> images (n, C, H, W), int64 classes (n)
function M.sampler(gen, k, noise, chunk)
  local o = type(chunk) == "table" and chunk or { chunk = chunk }
  chunk = o.chunk or 500
  return function(n)
    local y
    if o.interleave then
      local ids = {}
      for i = 1, n do ids[i] = (i - 1) % k end
      y = gan.tensor(ids, "int64")
    else
      y = M.rows(n, k)
    end
    local z = noise(n)
    local out = {}
    for i = 1, n, chunk do
      local m = math.min(chunk, n - i + 1)
      out[#out + 1] = gen(z:narrow(1, i, m), y:narrow(1, i, m))
    end
    return #out == 1 and out[1] or gan.cat(out, 1), y
  end
end

return M
