--- gan.metrics: measuring what a GAN made.
--
--     local m = gan.metrics.images(function(n) return G(gan.randn(n, 100, 1, 1)) end)
--     print(m.fd, m.precision, m.recall, m.min_coverage)
--     local labels = gan.metrics.predict(x)        -- what the classifier sees in x
--
-- **The feature network.** A small convolutional classifier of Fashion-MNIST,
-- trained by `recipes/tools/fmnist_classifier.lua` (its weights ship with the
-- library: gan/weights/fmnist_classifier.safetensors; 93% test accuracy).
-- Inception weights are not available offline, and a network trained on this
-- data separates its classes better than one trained on ImageNet would.
--
-- **The protocol** (the same for every number in the README):
--
-- * preprocessing: images in [-1, 1]; RGB becomes gray (the mean of the
--   channels); 28x28 images are padded to 32x32 with the background (-1),
--   as `gan.data` does; other sizes are resized to 32x32 (average pooling by
--   the integer factor, then bilinear);
-- * features: the classifier's penultimate layer, the 128 outputs of its
--   hidden fully connected layer after ReLU (`features`);
-- * FD: the Fréchet distance between Gaussian fits of the features of n
--   generated images and of the first n images of the training split
--   (n = 10,000 by default; quick evaluations during training use fewer, so
--   their values are comparable with each other only). FD is FID's formula
--   on our features; its matrix square root uses LAPACK in double precision;
-- * the floor: FD between n images of the test split and the reference (the
--   best a generator can expect); the ceiling: FD of n images of uniform
--   noise in [-1, 1];
-- * KID: unbiased MMD^2 with the kernel (x.y/128 + 1)^3, mean and standard
--   deviation over 100 random subsets of min(1000, n/2) images of each set;
-- * precision and recall: Kynkäänniemi et al. 2019, k = 3, against the same
--   reference;
-- * class coverage: the share of generated images the classifier puts in
--   each of the 10 classes (a uniform generator gives 0.1 each), and the
--   smallest share; accuracy, for conditional models: how often the
--   classifier agrees with the asked class.
--
-- The statistics are functions of `gan.stats` (in C, double precision),
-- usable on any features:
--
-- * `gan.stats.fit(x)`: x (N, D) -> a Gaussian fit with `:mean()`, `:cov()`,
--   `:count()`, `:dim()`; `gan.stats.gaussian(mean, cov)` makes one directly;
-- * `gan.stats.frechet(a, b)` -> the Fréchet distance of two fits;
-- * `gan.stats.kid(x, y [, {subsets = 100, size = min(1000, N), seed = 0}])`
--   -> mean, standard deviation;
-- * `gan.stats.precision_recall(real, fake [, k = 3])` -> precision, recall.
--
-- Toy 2-D sets (`points`): modes covered (a mode counts when at least one
-- sample is within 3 standard deviations of it and it holds at least 1% of
-- the ideal count) and the share of high-quality samples (within 3 standard
-- deviations of some mode), as in the Unrolled GAN paper.
-- @module gan.metrics

local gan = require "gan"
local nn = gan.nn
local check = require "gan.check"

local M = {}

--- Features of the classifier's penultimate layer.
M.FEATURES = 128
--- The image size the classifier reads.
M.SIZE = 32
--- Default sample count of a full evaluation.
M.SAMPLES = 10000
--- The classifier's classes (Fashion-MNIST's), by id + 1.
M.CLASSES = gan.data.fashion_classes

-- ----------------------------------------------------------------------------
-- The classifier

local Classifier = nn.Module:extend("FashionClassifier")

--- The feature network: five 3x3 conv blocks with pooling, then FC 2048 -> 128 -> 10.
-- @local
function Classifier:init()
  local function block(cin, cout)
    return { nn.Conv2d(cin, cout, 3, 1, 1, { bias = false }), nn.BatchNorm2d(cout), nn.ReLU() }
  end
  local layers = {}
  local function add(list) for _, l in ipairs(list) do layers[#layers + 1] = l end end
  add(block(1, 32)); add { nn.MaxPool2d(2) }                       -- 16x16
  add(block(32, 64)); add(block(64, 64)); add { nn.MaxPool2d(2) }  -- 8x8
  add(block(64, 128)); add { nn.MaxPool2d(2) }                     -- 4x4
  add { nn.Flatten(), nn.Linear(128 * 16, M.FEATURES), nn.ReLU() }
  self.body = nn.Sequential(layers)
  self.head = nn.Sequential { nn.Dropout(0.3), nn.Linear(M.FEATURES, 10) }
end

--- x (N, 1, 32, 32) -> logits (N, 10).
function Classifier:forward(x)
  return self.head(self.body(x))
end

--- A new, untrained classifier network (what the weights file holds).
-- @return the module: `body` maps (N, 1, 32, 32) to (N, 128) features, `head` to 10 logits
function M.classifier_net()
  return Classifier()
end

--- Where the classifier's weights are: $GANLUA_CLASSIFIER, else next to this module.
-- @return path
function M.weights_path()
  local env = os.getenv("GANLUA_CLASSIFIER")
  if env and env ~= "" then return env end
  local here = package.searchpath("gan.metrics", package.path) or "gan/metrics.lua"
  return (here:gsub("metrics%.lua$", "")) .. "weights/fmnist_classifier.safetensors"
end

local cached

--- The trained classifier, in eval mode (loaded once per process).
-- @param path a weights file (default `weights_path()`)
-- @return the module
function M.classifier(path)
  if cached and not path then return cached end
  path = path or M.weights_path()
  local tensors, err = gan.io.load_safetensors(path)
  if not tensors then
    error(("gan.metrics: cannot load the classifier: %s (train one with `ganlua recipes/tools/fmnist_classifier.lua`)")
      :format(err), 2)
  end
  local net = Classifier()
  local ok, lerr = pcall(net.load_state_dict, net, tensors, true)
  if not ok then error(("gan.metrics: %s does not hold the classifier's weights: %s"):format(path, lerr), 2) end
  net:eval()
  if not path or path == M.weights_path() then cached = net end
  return net
end

--- Brings images to what the classifier reads (see the protocol).
-- @param x (N, C, H, W) in [-1, 1]
-- @return (N, 1, 32, 32)
function M.prepare(x)
  if not gan.is_tensor(x) or x:dim() ~= 4 then
    error(("gan.metrics: images must be a tensor (N, C, H, W), got %s"):format(
      gan.is_tensor(x) and ("shape (" .. table.concat(x:shape(), ", ") .. ")") or type(x)), 3)
  end
  if x:size(2) ~= 1 then x = x:mean(2, true) end
  local h, w = x:size(3), x:size(4)
  if h == M.SIZE and w == M.SIZE then return x end
  if h == 28 and w == 28 then return (x + 1):pad { 2, 2, 2, 2 } - 1 end   -- the background is -1
  return gan.data.resize(x, M.SIZE, M.SIZE)
end

-- Runs fn on x in batches of 500, without gradients; concatenates the results.
local function batched(x, fn)
  return gan.no_grad(function()
    local n, out = x:size(1), {}
    for s = 1, n, 500 do
      out[#out + 1] = fn(M.prepare(x:narrow(1, s, math.min(500, n - s + 1))))
    end
    return #out == 1 and out[1] or gan.cat(out, 1)
  end)
end

--- The classifier's penultimate features.
-- @param x images (N, C, H, W) in [-1, 1]
-- @return (N, 128)
function M.features(x)
  local net = M.classifier()
  return batched(x, function(b) return net.body(b) end)
end

--- The classifier's logits.
-- @param x images (N, C, H, W) in [-1, 1]
-- @return (N, 10)
function M.logits(x)
  local net = M.classifier()
  return batched(x, function(b) return net(b) end)
end

--- The class the classifier sees in each image.
-- @param x images (N, C, H, W) in [-1, 1]
-- @return int64 (N) class ids, 0-based (gan.data.fashion_classes[id + 1] names them)
function M.predict(x)
  return M.logits(x):argmax(2)
end

--- The share of labels equal to their targets.
-- @param pred int64 (N)
-- @param target int64 (N)
-- @return number
function M.accuracy(pred, target)
  return gan.no_grad(function() return pred:eq(target):float():mean():item() end)
end

-- ----------------------------------------------------------------------------
-- Reference sets

local refs = {}

-- Features of the first n images of a Fashion-MNIST split (once per process).
local function split_features(split, n)
  local key = split .. "#" .. n
  if not refs[key] then
    local data = gan.data.load("fashion-mnist", { limit = n, size = M.SIZE }, { split = split })
    if data.x:size(1) < n then
      error(("gan.metrics: the %s split has %d images; %d asked"):format(split, data.x:size(1), n), 3)
    end
    refs[key] = M.features(data.x)
  end
  return refs[key]
end

--- Features of the reference set: the first n training images.
-- @param n count (at most 60000)
-- @return (n, 128)
function M.reference(n)
  return split_features("train", check.integer("gan.metrics.reference", "n", n, 2, 60000))
end

local bounds = {}

--- The reference points for n samples: FD of n test images (the floor) and
-- of n uniform-noise images (the ceiling) against the reference.
-- @param n sample count
-- @return floor, ceiling
function M.floor_ceiling(n)
  n = check.integer("gan.metrics.floor_ceiling", "n", n, 2, 60000)
  if not bounds[n] then
    local ref = gan.stats.fit(M.reference(n))
    local floor = gan.stats.frechet(gan.stats.fit(split_features("test", math.min(n, 10000))), ref)
    local noise = gan.random.keyed("metrics.ceiling", n, function()
      return gan.uniform({ n, 1, M.SIZE, M.SIZE }, -1, 1)
    end, 1)
    local ceiling = gan.stats.frechet(gan.stats.fit(M.features(noise)), ref)
    bounds[n] = { floor, ceiling }
  end
  return bounds[n][1], bounds[n][2]
end

-- ----------------------------------------------------------------------------
-- Image metrics

-- class ids from penultimate features: the classifier's head
local function head_predict(feats)
  return gan.no_grad(function() return M.classifier().head(feats):argmax(2) end)
end

-- Draws n samples from sample(b) in batches of at most 500: images, labels (or nil).
local function draw(sample, n)
  local xs, ys = {}, {}
  local got = 0
  while got < n do
    local b = math.min(500, n - got)
    local x, y = sample(b)
    if not gan.is_tensor(x) or x:dim() ~= 4 or x:size(1) ~= b then
      error(("gan.metrics: the sampler must return %d images (N, C, H, W), got %s"):format(b,
        gan.is_tensor(x) and ("shape (" .. table.concat(x:shape(), ", ") .. ")") or type(x)), 3)
    end
    xs[#xs + 1] = x:detach()
    if y ~= nil then ys[#ys + 1] = y:detach() end
    got = got + b
  end
  local x = #xs == 1 and xs[1] or gan.cat(xs, 1)
  local y
  if #ys == #xs then y = #ys == 1 and ys[1] or gan.cat(ys, 1) end
  return x, y
end

--- Measures a generator of Fashion-MNIST-like images (see the protocol).
-- @param sample function(n) -> images (n, C, H, W) in [-1, 1] [, int64 (n) asked class ids];
--   called with n <= 500, repeatedly
-- @param opts {n = 10000 (samples and reference images), k = 3, kid_subsets = 100,
--   bounds = true (also the floor and ceiling)}
-- @return table {fd, fd_floor, fd_ceiling, kid, kid_std, precision, recall,
--   coverage (10 shares, class id + 1), min_coverage, accuracy (with labels), n}
function M.images(sample, opts)
  opts = check.options("gan.metrics.images", opts)
  if type(sample) ~= "function" then check.fail("gan.metrics.images", "sample", "a function(n) -> images", sample) end
  local n = opts.n or M.SAMPLES
  if math.type(n) ~= "integer" or n < 10 or n > 60000 then
    error(("gan.metrics.images: n must be an integer from 10 to 60000, got %s"):format(tostring(n)), 2)
  end
  local x, asked = draw(sample, n)
  local feats = M.features(x)
  local ref = M.reference(n)
  local r = { n = n }
  r.fd = gan.stats.frechet(gan.stats.fit(feats), gan.stats.fit(ref))
  r.kid, r.kid_std = gan.stats.kid(feats, ref, { subsets = opts.kid_subsets or 100,
    size = math.min(1000, n // 2) })
  r.precision, r.recall = gan.stats.precision_recall(ref, feats, opts.k or 3)
  local pred = head_predict(feats)
  local counts = {}
  for c = 1, 10 do counts[c] = 0 end
  for _, c in ipairs(pred:totable()) do counts[c + 1] = counts[c + 1] + 1 end
  r.coverage, r.min_coverage = {}, 1
  for c = 1, 10 do
    r.coverage[c] = counts[c] / n
    r.min_coverage = math.min(r.min_coverage, r.coverage[c])
  end
  if asked then r.accuracy = M.accuracy(pred, asked:reshape(n)) end
  if opts.bounds ~= false then r.fd_floor, r.fd_ceiling = M.floor_ceiling(n) end
  return r
end

--- FD of images already drawn against the reference: the first N training
-- images, N the number of images (the FD of `images`, alone; for sets that
-- are not a sampler's output, such as the coarse levels of a pyramid).
--
--     local fd = gan.metrics.fd(x)      -- x (N, C, H, W) in [-1, 1]
-- @param x images (N, C, H, W) in [-1, 1], N from 10 to 60000
-- @return number
function M.fd(x)
  if not gan.is_tensor(x) or x:dim() ~= 4 or x:size(1) < 10 or x:size(1) > 60000 then
    error(("gan.metrics.fd: images must be a tensor (N, C, H, W) with N from 10 to 60000, got %s"):format(
      gan.is_tensor(x) and ("shape (" .. table.concat(x:shape(), ", ") .. ")") or type(x)), 2)
  end
  return gan.stats.frechet(gan.stats.fit(M.features(x)), gan.stats.fit(M.reference(x:size(1))))
end

-- ----------------------------------------------------------------------------
-- Toy 2-D sets

--- Modes covered and high-quality share of 2-D samples of a Gaussian mixture.
-- @param x samples (N, 2)
-- @param data the toy set (gan.data.toy): its `centres` (K, 2) and `std`
-- @param opts {sigmas = 3, min_share = 0.01 (of the ideal N/K per mode)}
-- @return table {modes, modes_total, hq (share within 3 std of a mode), n}
function M.points(x, data, opts)
  opts = opts or {}
  if type(data) ~= "table" or not gan.is_tensor(data.centres) or type(data.std) ~= "number" then
    error("gan.metrics.points: the data must be a Gaussian mixture with centres and std (8gaussians, 25gaussians)", 2)
  end
  if not gan.is_tensor(x) or x:dim() ~= 2 or x:size(2) ~= 2 then
    error("gan.metrics.points: samples must be a tensor (N, 2)", 2)
  end
  local sigmas = opts.sigmas or 3
  local min_share = opts.min_share or 0.01
  return gan.no_grad(function()
    local c = data.centres
    local n, k = x:size(1), c:size(1)
    local d2 = ((x:unsqueeze(2) - c:unsqueeze(1)) ^ 2):sum(3)    -- (N, K)
    local best, which = d2:min(2)
    local good = best:le((sigmas * data.std) ^ 2)
    local hq = good:float():mean():item()
    local per = gan.zeros(k):scatter_add(1, which, good:float())
    local need = math.max(1, min_share * n / k)
    local modes = per:ge(need):float():sum():item()
    return { modes = math.tointeger(modes) or modes, modes_total = k, hq = hq, n = n }
  end)
end

--- Pearson's correlation coefficient of two lists of numbers; pairs where
-- either is nil are skipped.
-- @param xs list of numbers
-- @param ys list of numbers, as long as xs
-- @return r in [-1, 1] and the number of pairs used, or nil and a reason
-- (fewer than 3 pairs, or a list that does not vary)
function M.pearson(xs, ys)
  if type(xs) ~= "table" or type(ys) ~= "table" or #xs ~= #ys then
    error("gan.metrics.pearson: two lists of the same length expected", 2)
  end
  local a, b = {}, {}
  for i = 1, #xs do
    if type(xs[i]) == "number" and type(ys[i]) == "number" then a[#a + 1], b[#b + 1] = xs[i], ys[i] end
  end
  local n = #a
  if n < 3 then return nil, ("%d pairs (3 needed)"):format(n) end
  local ma, mb = 0, 0
  for i = 1, n do ma, mb = ma + a[i] / n, mb + b[i] / n end
  local sab, saa, sbb = 0, 0, 0
  for i = 1, n do
    local da, db = a[i] - ma, b[i] - mb
    sab, saa, sbb = sab + da * db, saa + da * da, sbb + db * db
  end
  if saa == 0 or sbb == 0 then return nil, "a list does not vary" end
  return sab / math.sqrt(saa * sbb), n
end

--- The mean of a training signal between two evaluations, for eval.csv: add
-- a value at every step; `eval` (a gan.train eval hook) returns {NAME = the
-- mean since the previous call} (nil when nothing was added) and starts over.
--
--     local w = gan.metrics.mean_between("W_mean")
--     gan.train(opt, state, function(real) ... w:add(estimate) ... end, { eval = w.eval })
-- @param name the column's name
-- @return the object, with add(self, v) and eval()
function M.mean_between(name)
  local sum, count = 0, 0
  local self = {}
  function self.add(_, v) sum, count = sum + v, count + 1 end
  function self.eval()
    local mean = count > 0 and sum / count or nil
    sum, count = 0, 0
    return { [name] = mean }
  end
  return self
end

--- How well a value logged beside the quick evaluations tracks FD:
-- Pearson's r between the column `column` of OUT/eval.csv and its `fd`
-- column (rows where both are numbers), printed as "COLUMN vs FD over N
-- evaluations: Pearson r = R" and written to OUT/`file`.
--
--     gan.metrics.track_fd(run.out, "W_mean", "w_vs_fd.txt")   -- after gan.train, in a recipe
-- @param out the run folder
-- @param column the column of eval.csv to correlate with fd
-- @param file the file in `out` that receives the line
-- @return r and the number of evaluations, or nil and why (no eval.csv, no such
-- column, fewer than 3 evaluations, a column that does not vary)
function M.track_fd(out, column, file)
  local cols, rows = require("gan.report").read_csv(out .. "/eval.csv")
  if not cols then return nil, out .. "/eval.csv not found" end
  local col = {}
  for i, name in ipairs(cols) do col[name] = i end
  if not col[column] or not col.fd then return nil, ("eval.csv has no %s or no fd column"):format(column) end
  local xs, fd = {}, {}
  for i, row in ipairs(rows) do xs[i], fd[i] = row[col[column]] or false, row[col.fd] or false end
  local r, n = M.pearson(xs, fd)
  if not r then return nil, n end
  local line = ("%s vs FD over %d evaluations: Pearson r = %.3f"):format(column, n, r)
  print(line)
  require("gan.util").write_file(out .. "/" .. file, line .. "\n")
  return r, n
end

return M
