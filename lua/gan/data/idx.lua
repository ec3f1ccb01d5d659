--- gan.data.idx: MNIST-style IDX files, Fashion-MNIST among them.
--
--     local d = gan.data.idx.load("/usr/share/datasets/fashion-mnist", opt, { split = "test" })
--
-- A folder holds train-images-idx3-ubyte and train-labels-idx1-ubyte (and
-- t10k-* for the test split), plain or gzipped. 28x28 images: size 32
-- pads them with the background (-1 once scaled), other sizes resize them.
-- Options read: size, limit, subset, classes, batch, seed. Files read once per
-- process while something still holds them.
-- Requires: gan.data.dataset, gan.options; gan.metrics (Fashion-MNIST's evaluation).
-- @module gan.data.idx

local gan = require "gan"
local user_error = require("gan.util").user_error
local options = require "gan.options"

local M = {}

local get = options.get

local dataset = require "gan.data.dataset"

--- The folder of the package dataset-fashion-mnist.
M.FASHION_ROOT = "/usr/share/datasets/fashion-mnist"

--- Fashion-MNIST class names, by id (0-based ids: names[id + 1]).
M.fashion_classes = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
  "Ankle boot" }

--- Whether a data name means Fashion-MNIST ("fashion-mnist", "fashion_mnist", "fmnist").
-- @param name a string
-- @return boolean
function M.is_fashion(name)
  return name == "fashion-mnist" or name == "fashion_mnist" or name == "fmnist"
end

local function idx_file(dir, stem)
  for _, p in ipairs({ dir .. "/" .. stem, dir .. "/" .. stem .. ".gz" }) do
    if gan.io.exists(p) then return p end
  end
end

--- Whether a folder holds IDX image files of either split.
-- @param dir the folder
-- @return boolean
function M.has_files(dir)
  return idx_file(dir, "train-images-idx3-ubyte") ~= nil or idx_file(dir, "t10k-images-idx3-ubyte") ~= nil
end

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
      user_error(("gan.data: unknown class '%s' (classes: 0-%d, or names: %s)"):format(tostring(c), #names - 1,
        table.concat(names, ", ")))
    end
    keep[id] = true
  end
  return keep
end

-- Files read once per process while something still holds them (tests and
-- recipes that load several subsets of the same files).
local cache = setmetatable({}, { __mode = "v" })

local function load_cached(path, as_int)
  local key = path .. (as_int and "#int" or "")
  local t = cache[key]
  if not t then
    local err
    t, err = gan.io.load_idx(path, as_int)
    if not t then user_error(("gan.data: %s"):format(err)) end
    cache[key] = t
  end
  return t
end

-- Fashion-MNIST's samples are measured by gan.metrics' classifier
local function evaluate_fashion(_, draw, n)
  return gan.metrics.images(draw, { n = n })
end

--- Fashion-MNIST: the folder of params.root, $GANLUA_FASHION_MNIST or the package's.
-- @param opt options (see load)
-- @param params {split=, labels=, root=}
-- @return the data set, which measures its samples with gan.metrics
function M.fashion(opt, params)
  local root = dataset.param(opt, params, "root", nil) or os.getenv("GANLUA_FASHION_MNIST") or M.FASHION_ROOT
  return M.load(root, opt, params, true)
end

-- The first images of each class, in file order, n in all: n // K of each
-- of the K classes present, and one more for the first n % K of them.
local function stratified(x, y, n)
  local labels, by_class, classes = y:totable(), {}, {}
  for i, c in ipairs(labels) do
    if not by_class[c] then by_class[c] = {}; classes[#classes + 1] = c end
    local list = by_class[c]
    list[#list + 1] = i - 1
  end
  table.sort(classes)
  local K = #classes
  local idx = {}
  for k, c in ipairs(classes) do
    local want = n // K + (k <= n % K and 1 or 0)
    if want > #by_class[c] then
      error(("gan.data: --subset=%d asks for %d images of class %d, which has %d"):format(n, want, c, #by_class[c]), 0)
    end
    for j = 1, want do idx[#idx + 1] = by_class[c][j] end
  end
  table.sort(idx)
  local it = gan.tensor(idx, "int64")
  return x:index_select(1, it), y:index_select(1, it)
end

--- Loads the images (and labels) of an IDX folder.
-- @param root the folder
-- @param opt options: size, limit, subset, classes, batch, seed
-- @param params {split="train", labels=false}
-- @param fashion true when the folder is Fashion-MNIST's: the data set then measures its samples
--   with gan.metrics
-- @return the data set (with .classes, the class names)
function M.load(root, opt, params, fashion)
  local split = dataset.param(opt, params, "split", "train")
  local prefix = split == "test" and "t10k" or "train"
  local img_path = idx_file(root, prefix .. "-images-idx3-ubyte")
  local lab_path = idx_file(root, prefix .. "-labels-idx1-ubyte")
  if not img_path then
    user_error(("gan.data: Fashion-MNIST not found: no %s-images-idx3-ubyte[.gz] in %s; install it with "
      .. "`sudo apt-get install dataset-fashion-mnist`"):format(prefix, root))
  end
  local x = load_cached(img_path, false)
  local y = lab_path and load_cached(lab_path, true) or nil
  local names = M.fashion_classes
  local classes = get(opt, "classes")
  if #classes > 0 then
    if not y then error("gan.data: a classes filter needs the labels file next to " .. img_path, 0) end
    local keep = class_ids(classes, names)
    local idx = {}
    for i, c in ipairs(y:totable()) do
      if keep[c] then idx[#idx + 1] = i - 1 end
    end
    local it = gan.tensor(idx, "int64")
    x, y = x:index_select(1, it), y:index_select(1, it)
  end
  local subset = get(opt, "subset")
  if subset > 0 then
    if not y then error("gan.data: --subset (a stratified subset) needs the labels file next to " .. img_path, 0) end
    x, y = stratified(x, y, subset)
  end
  local limit = get(opt, "limit")
  if limit > 0 and limit < x:size(1) then
    x = x:narrow(1, 1, limit):clone()
    if y then y = y:narrow(1, 1, limit):clone() end
  end
  local n, h, w = x:size(1), x:size(2), x:size(3)
  x = x:reshape(n, 1, h, w)
  local size = get(opt, "size")
  if size ~= h or size ~= w then
    if size == h + 4 and h == w then
      x = x:pad { 2, 2, 2, 2 }      -- zeros: the background, -1 once scaled
    else
      x = dataset.resize(x, size, size)
    end
  end
  x = x * (2 / 255) - 1
  return dataset.new({ x = x }, {
    name = root, kind = "images", classes = names, labels = y, batch = get(opt, "batch"), seed = get(opt, "seed"),
    with_labels = dataset.param(opt, params, "labels", false), evaluate = fashion and evaluate_fashion or nil,
  })
end

return M
