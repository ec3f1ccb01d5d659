--- gan.data: datasets as endless, seeded, shuffled batch iterators.
--
--     local data = gan.data.load(opt.data, opt)        -- opt.batch, opt.size, opt.limit, ...
--     local x = data:next()                            -- (batch, 1, 32, 32) in [-1, 1]
--     local x, y = data:next()                         -- labels (int64, 0-based) as a second value
--     local b = gan.data.load(opt.data, opt, { labels = true }):next()   -- {images, labels}
--
-- `next` never ends: a sampler (gan.data.sampler) walks a permutation of
-- the items and draws a new one at each epoch; training batches are
-- augmented (gan.augment: random crop from `load_size`, `flip`). The
-- order and the draws depend only on the seed, and the position is part of
-- the state saved in checkpoints (`state_dict`), so a resumed run sees the
-- same batches as an uninterrupted one.
--
-- Sources (the first argument of `load`):
--
-- * "fashion-mnist" (the default data: the package dataset-fashion-mnist,
--   files in /usr/share/datasets/fashion-mnist), or any folder holding
--   MNIST-style IDX files (train-images-idx3-ubyte[.gz], ...): 28x28 gray
--   images; size 32 pads them (with the background, -1), other sizes
--   resize them (gan.data.idx);
-- * a folder of PNG/JPEG images, searched recursively: each resized so
--   its short side is `load_size` (or `size`) and cropped square; gray or
--   RGB by `channels`. Files that fail to load are named and skipped
--   (gan.data.images);
-- * toy 2-D sets: "8gaussians", "25gaussians", "ring", "swissroll":
--   points (N, 2) (gan.data.toy);
-- * two domains of images for image-to-image translation, unpaired or
--   paired: `gan.data.unpaired`, `gan.data.paired` (gan.data.domains).
--
-- A data set chooses how samples of its kind are measured (its `evaluate`
-- method, which gan.train calls): Fashion-MNIST's images with gan.metrics'
-- classifier, Gaussian mixtures by their modes.
--
-- Options read (declared here): data, batch, size, limit, channels,
-- classes; seed (gan.train's); load_size, flip (gan.augment's). The third
-- argument of a loader holds what is not an option: split ("train" or
-- "test"), labels (true: `next` returns {images, labels}), root.
-- Requires: gan.options, gan.data.dataset, gan.data.idx; the other loaders
-- on first use. None of them requires this module.
-- @module gan.data

local gan = require "gan"
local options = require "gan.options"
local dataset = require "gan.data.dataset"
local idx = require "gan.data.idx"

local M = {}

--- The options of the data pipeline.
M.options = options.declare("gan.data", "data", {
  { "data", "fashion-mnist", "dataset: fashion-mnist, a folder of images or of IDX files, or a toy set" },
  { "batch", 64, "minibatch size" },
  { "size", 32, "image size in pixels" },
  { "limit", 0, "use only the first N training images (0: all)" },
  { "subset", 0, "use N training images, the same number of each class (the first of each; 0: all)" },
  { "channels", 3, "channels of images from a folder: 1 gray, 3 RGB (Fashion-MNIST is gray)" },
  { "classes", {}, "Fashion-MNIST classes to keep, by id or name (empty: all)" },
})

local get = options.get

--- The folder of the package dataset-fashion-mnist.
M.FASHION_ROOT = idx.FASHION_ROOT

--- Fashion-MNIST class names, by id (0-based ids: names[id + 1]).
M.fashion_classes = idx.fashion_classes

--- Whether a data name means Fashion-MNIST ("fashion-mnist", "fmnist").
M.is_fashion = idx.is_fashion

--- The data set class (gan.data.dataset).
M.Dataset = dataset.Dataset

--- Makes a data set (gan.data.dataset.new).
M.dataset = dataset.new

--- Resizes images (gan.data.dataset.resize).
M.resize = dataset.resize

--- The toy 2-D sets' names.
M.toy_names = { "8gaussians", "25gaussians", "ring", "swissroll" }

--- Wraps tensors as a data set.
-- @param x the items, (N, ...)
-- @param labels int64 (N) or nil
-- @param opt options (batch, seed)
-- @param params {labels=false (next returns {items, labels}), stream="data"}
-- @return the data set
function M.from_tensors(x, labels, opt, params)
  return dataset.new({ x = x }, {
    name = "tensors", kind = "tensors", labels = labels, batch = get(opt, "batch"), seed = get(opt, "seed"),
    with_labels = dataset.param(opt, params, "labels", false), stream = dataset.param(nil, params, "stream", "data"),
  })
end

-- ----------------------------------------------------------------------------

--- Loads a dataset by name or path (see the module comment).
-- @param name "fashion-mnist", a toy set's name, a folder of images, or a
--   folder of IDX files (default: opt.data)
-- @param opt options (a gan.options table or a plain one)
-- @param params {split="train", labels=false, root= (Fashion-MNIST's folder)}
-- @return the data set
function M.load(name, opt, params)
  name = name or get(opt, "data")
  if idx.is_fashion(name) then return idx.fashion(opt, params) end
  local function unlabelled(what)
    if get(opt, "subset") > 0 then
      error(("gan.data: --subset (the same number of each class) needs labels, and %s has none: use --limit"):format(
        what), 0)
    end
  end
  if M.toy.sets[name] then
    unlabelled(name)
    return M.toy.load(name, opt)
  end
  if gan.io.isdir(name) then
    if idx.has_files(name) then return idx.load(name, opt, params, false) end
    unlabelled("the image folder " .. name)
    return M.images.load(name, opt, params)
  end
  require("gan.util").user_error("gan.data: '%s' is neither a dataset name (fashion-mnist, %s) nor a folder",
    name, table.concat(M.toy_names, ", "))
end

-- the loaders and the two-domain functions load on first use
M.idx = idx
local submodules = { images = "gan.data.images", toy = "gan.data.toy", domains = "gan.data.domains",
  sampler = "gan.data.sampler" }
local from_domains = { unpaired = true, paired = true, sobel_edges = true, Unpaired = true }

return setmetatable(M, {
  __index = function(t, k)
    if submodules[k] then
      local mod = require(submodules[k])
      rawset(t, k, mod)
      return mod
    end
    if from_domains[k] then return t.domains[k] end
    if k == "image_files" then return t.images.files end
  end,
})
