-- gan.metrics and gan.stats: toy-mode counts on constructed samples, FD of
-- a set with itself, the classifier's accuracy on the test split, image
-- metrics of real images, and what gan.train and `ganlua eval` write.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local sanitized = gan.kernels.info().sanitized
local have_fmnist = U.exists(gan.data.FASHION_ROOT .. "/t10k-images-idx3-ubyte.gz")

T.case("stats from Lua: FD of a set with itself is 0, of a shifted set |shift|^2", function()
  gan.manual_seed(1)
  local x = gan.randn(3000, 6)
  local a = gan.stats.fit(x)
  U.truthy(tostring(a):find("features=6"), tostring(a))
  U.equal(a:count(), 3000)
  U.close(gan.stats.frechet(a, a), 0, 1e-9)
  -- shifting every vector by the same amount moves only the mean
  U.close(gan.stats.frechet(a, gan.stats.fit(x + 0.5)), 6 * 0.25, 1e-6)
  U.shape(a:cov(), { 6, 6 })
  local g = gan.stats.gaussian(gan.zeros(6), gan.eye(6))
  U.close(gan.stats.frechet(g, g), 0, 1e-12)
  U.raises(function() gan.stats.fit(gan.randn(5)) end, "matrix (N, D)")
  U.raises(function() gan.stats.precision_recall(x, x, 0) end, "k must be 1 to 64")
  U.raises(function() gan.stats.kid(x, x, { subsets = 0 }) end, "subsets")
end)

T.case("pearson: known correlations, gaps skipped, too little data refused", function()
  U.close(gan.metrics.pearson({ 1, 2, 3, 4 }, { 3, 5, 7, 9 }), 1, 1e-12)
  U.close(gan.metrics.pearson({ 1, 2, 3, 4 }, { 8, 6, 4, 2 }), -1, 1e-12)
  -- x = 1..5, y = 2 1 4 3 5: cov 2.0, var 2.0 each, r = 0.8
  local r, n = gan.metrics.pearson({ 1, 2, 3, 4, 5 }, { 2, 1, 4, 3, 5 })
  U.close(r, 0.8, 1e-12)
  U.equal(n, 5)
  -- a pair with a gap is skipped
  local r2, n2 = gan.metrics.pearson({ 1, 2, false, 3, 4, 5 }, { 2, 1, 9, 4, 3, 5 })
  U.close(r2, 0.8, 1e-12)
  U.equal(n2, 5)
  local none, why = gan.metrics.pearson({ 1, 2 }, { 1, 2 })
  U.truthy(none == nil and why:find("3 needed"), why)
  local flat, why2 = gan.metrics.pearson({ 1, 1, 1 }, { 1, 2, 3 })
  U.truthy(flat == nil and why2:find("does not vary"), why2)
  U.raises(function() gan.metrics.pearson({ 1, 2, 3 }, { 1, 2 }) end, "same length")
end)

T.case("mean_between and track_fd: a signal averaged between evaluations, correlated with eval.csv's fd", function()
  local m = gan.metrics.mean_between("X_mean")
  U.equal(m.eval().X_mean, nil)
  m:add(1); m:add(4)
  U.close(m.eval().X_mean, 2.5, 1e-12)
  m:add(-3)
  U.close(m.eval().X_mean, -3, 1e-12)
  -- x = 1..5, fd = 2 1 4 3 5 (r = 0.8); a row with an empty X_mean is skipped
  local out = U.tmpdir("metrics_track_fd")
  U.write(out .. "/eval.csv", "step,X_mean,fd\n1,1,2\n2,2,1\n3,,9\n4,3,4\n5,4,3\n6,5,5\n")
  local r, n = gan.metrics.track_fd(out, "X_mean", "x_vs_fd.txt")
  U.close(r, 0.8, 1e-12)
  U.equal(n, 5)
  U.equal(U.read(out .. "/x_vs_fd.txt"), "X_mean vs FD over 5 evaluations: Pearson r = 0.800\n")
  local none, why = gan.metrics.track_fd(out, "Y_mean", "y.txt")
  U.truthy(none == nil and why:find("no Y_mean"), why)
  none, why = gan.metrics.track_fd(U.tmpdir("metrics_track_none"), "X_mean", "y.txt")
  U.truthy(none == nil and why:find("not found"), why)
end)

T.case("points: modes covered and high-quality share on constructed samples", function()
  local data = gan.data.load("8gaussians", { limit = 100 })
  local c = data.centres
  U.shape(c, { 8, 2 })
  -- 100 samples exactly on each of the first 6 centres, and 50 far away
  local rows = {}
  for k = 1, 6 do
    local p = c[k]:totable()
    for _ = 1, 100 do rows[#rows + 1] = p end
  end
  for _ = 1, 50 do rows[#rows + 1] = { 40, 40 } end
  local r = gan.metrics.points(gan.tensor(rows), data)
  U.equal(r.modes, 6)
  U.equal(r.modes_total, 8)
  U.close(r.hq, 600 / 650, 1e-6)
  -- a point 2.9 sigma from a centre is good, 3.1 sigma is not
  local p = c[1]:totable()
  local near = gan.tensor { { p[1] + 2.9 * data.std, p[2] }, { p[1] + 3.1 * data.std, p[2] } }
  local r2 = gan.metrics.points(near, data, { min_share = 0 })
  U.close(r2.hq, 0.5, 1e-6)
  U.equal(r2.modes, 1)
  U.raises(function() gan.metrics.points(gan.randn(10, 3), data) end, "(N, 2)")
  U.raises(function() gan.metrics.points(gan.randn(10, 2), gan.data.load("ring", { limit = 10 })) end, "mixture")
end)

T.case("the classifier file loads and reaches its accuracy on the test split", function()
  if not have_fmnist then T.skip("Fashion-MNIST is not installed") end
  local net = gan.metrics.classifier()
  U.equal(net:num_parameters() > 100000, true)
  -- the whole split in a normal build; the first 1000 images under the sanitizers (10x slower)
  local n = sanitized and 1000 or 10000
  local test = gan.data.load("fashion-mnist", { size = 32, limit = n }, { split = "test" })
  local acc = gan.metrics.accuracy(gan.metrics.predict(test.x), test.labels)
  U.truthy(acc >= 0.91, ("test accuracy %.4f on %d images"):format(acc, n))
  -- 28x28 images are padded like gan.data does, so they give the same answer
  local raw = gan.data.load("fashion-mnist", { size = 28, limit = 200 }, { split = "test" })
  U.shape(raw.x, { 200, 1, 28, 28 })
  local same = gan.metrics.predict(raw.x):eq(gan.metrics.predict(test.x:narrow(1, 1, 200))):float():sum():item()
  U.equal(same, 200)
  U.shape(gan.metrics.features(raw.x), { 200, gan.metrics.FEATURES })
  -- RGB and other sizes are converted
  U.shape(gan.metrics.predict(gan.rand(3, 3, 64, 64) * 2 - 1), { 3 })
  U.raises(function() gan.metrics.predict(gan.randn(4, 32, 32)) end, "(N, C, H, W)")
end)

T.case("images: real test images score near the floor, with full coverage", function()
  if not have_fmnist then T.skip("Fashion-MNIST is not installed") end
  local n = sanitized and 200 or 500   -- fewer under the sanitizers (several times slower)
  local test = gan.data.load("fashion-mnist", { size = 32, limit = 5000 }, { split = "test", labels = true })
  local pos = 0
  local function real(b)   -- a "generator" that returns test images and their true classes
    local x, y = test.x:narrow(1, pos + 1, b), test.labels:narrow(1, pos + 1, b)
    pos = pos + b
    return x, y
  end
  local r = gan.metrics.images(real, { n = n, kid_subsets = 10 })
  U.equal(r.n, n)
  U.truthy(r.fd < 0.2 * r.fd_ceiling, ("FD %.2f, ceiling %.2f"):format(r.fd, r.fd_ceiling))
  U.truthy(r.fd_floor < r.fd_ceiling)
  U.truthy(r.precision > 0.6 and r.recall > 0.6, ("precision %.3f recall %.3f"):format(r.precision, r.recall))
  U.truthy(r.min_coverage > 0.03, "every class is there")
  local sum = 0
  for _, v in ipairs(r.coverage) do sum = sum + v end
  U.close(sum, 1, 1e-9)
  U.truthy(r.accuracy > 0.85, "the true labels as asked classes: " .. r.accuracy)
  -- a collapsed generator: one image over and over
  local one = test.x:narrow(1, 1, 1)
  local c = gan.metrics.images(function(b) return one:expand(b, 1, 32, 32) end, { n = n, kid_subsets = 10, bounds = false })
  U.truthy(c.fd > 3 * r.fd and c.recall < 0.05, ("collapsed: FD %.2f recall %.3f"):format(c.fd, c.recall))
  U.truthy(c.min_coverage == 0)
  U.raises(function() gan.metrics.images(function(b) return gan.randn(b, 2) end, { n = 20 }) end, "(N, C, H, W)")
  U.raises(function() gan.metrics.images(real, { n = 5 }) end, "n must be")
end)

T.case("fd: the reference itself scores 0, test images the floor; bad sets refused", function()
  if not have_fmnist then T.skip("Fashion-MNIST is not installed") end
  local n = 200
  local train = gan.data.load("fashion-mnist", { size = 32, limit = n })
  local test = gan.data.load("fashion-mnist", { size = 32, limit = n }, { split = "test" })
  U.close(gan.metrics.fd(train.x), 0, 1e-3)
  local floor = gan.metrics.floor_ceiling(n)
  U.close(gan.metrics.fd(test.x), floor, 1e-6 * floor)
  -- 28x28 images are padded as the protocol says: the same value
  local raw = gan.data.load("fashion-mnist", { size = 28, limit = n }, { split = "test" })
  U.close(gan.metrics.fd(raw.x), floor, 1e-6 * floor)
  U.truthy(gan.metrics.fd(test.x:flip(3)) > 2 * floor, "upside-down garments are far from the reference")
  U.raises(function() gan.metrics.fd(test.x:narrow(1, 1, 5)) end, "N from 10 to 60000")
  U.raises(function() gan.metrics.fd(gan.randn(20, 32, 32)) end, "(N, C, H, W)")
end)

T.case("gan.train evaluates points during and after a run; report.html holds the charts", function()
  local out = U.tmpdir("metrics_train_points")
  local opt = { iters = 6, batch = 16, seed = 2, out = out, sample_every = 3, save_every = 0, eval_every = 3,
    eval_samples = 500, nz = 2, limit = 256 }
  gan.manual_seed(2)
  local data = gan.data.load("25gaussians", opt)
  local G = gan.nn.Sequential { gan.nn.Linear(2, 8), gan.nn.ReLU(), gan.nn.Linear(8, 2) }
  local optG = gan.optim.Adam(G, { lr = 1e-3 })
  local sum = gan.train(opt, { G = G, optG = optG, data = data }, function(real)
    local loss = ((G(gan.randn(real:size(1), 2)) - real) ^ 2):mean()
    optG:step(loss)
    return { loss = loss }
  end, { noise = function(n) return gan.randn(n, 2) end })
  U.truthy(sum.metrics and sum.metrics.modes_total == 25, "final metrics")
  local eval_csv = U.read(out .. "/eval.csv")
  U.truthy(eval_csv:find("^step,hq,modes,modes_total,n\n3,"), eval_csv)
  local json = U.read(out .. "/metrics.json")
  U.truthy(json:find('"modes_total": 25') and json:find('"step": 6'), json)
  local html = U.read(out .. "/report.html")
  local charts = select(2, html:gsub('<svg class="chart"', ""))
  U.equal(charts, 3) -- loss; hq, modes
  U.truthy(html:find("data:image/png;base64,"), "sample images embedded")
  U.truthy(not html:find('src="http') and not html:find("<link"), "nothing from outside")
end)

T.case("ganlua eval RUN_DIR measures a finished run again", function()
  if not have_fmnist then T.skip("Fashion-MNIST is not installed") end
  local out = U.tmpdir("metrics_eval_cli")
  local ok, text = U.run_recipe("recipes/gan.lua", "--iters=2 --limit=128 --batch=16 --hidden=32 --eval=false --out=" .. out)
  U.truthy(ok, text)
  U.truthy(not U.exists(out .. "/metrics.json"), "--eval=false measured nothing")
  local ok2, text2 = U.run_recipe("eval", out .. " --eval_samples=100")
  U.truthy(ok2, text2)
  U.truthy(text2:find("FD %d") and text2:find("floor"), text2)
  local json = U.read(out .. "/metrics.json")
  U.truthy(json:find('"fd":') and json:find('"n": 100') and json:find('"step": 2'), json)
  U.truthy(U.exists(out .. "/report.html"), "report")
  -- a folder that is not a run
  local ok3, text3 = U.run_recipe("eval", U.tmpdir("metrics_not_a_run"))
  U.truthy(not ok3 and text3:find("options.txt not found"), text3)
end)

T.run()
