--- gan.translate: what the unpaired image-to-image recipes (CycleGAN, UNIT,
-- DiscoGAN) do with two trained translators besides training them: the
-- test split, sample grids of triplets, the evaluation and `--test`.
--
--     local test, have_test, why = gan.translate.test_split(opt, data)   -- in order, no augmentation
--     -- train (grids of triplets, translation measures), or with --test translate the test split
--     gan.translate.train(opt, state, step, test, G_AB, G_BA, { have_test = have_test, why = why })
--
-- G_AB and G_BA are functions (a module or any closure) from (N, C, H, W)
-- images of one domain to images of the other, both in [-1, 1].
-- @module gan.translate

local gan = require "gan"

local M = {}

--- The test split of an unpaired set (gan.data.unpaired), in order, at
-- --size, neither cropped nor mirrored. With opt.test all of it, else as
-- many images per domain as the final evaluation measures (eval_samples, at
-- least 100). Without a test split (a folder with no testA/testB) it notes
-- so and returns the training data.
-- @param opt the recipe's options
-- @param data the training data (returned when there is no test split)
-- @return test (with .A and .B), have_test (boolean), and the reason when there is none
function M.test_split(opt, data)
  local topt = gan.options.with(opt, {
    load_size = opt.size, flip = false, limit = opt.test and 0 or math.max(100, opt.eval_samples or 0),
  })
  local ok, test = pcall(gan.data.unpaired, opt.data, topt, { split = "test" })
  if not ok then
    print("note: no test split (" .. tostring(test) .. "); samples show training images")
    return data, false, test
  end
  return test, true
end

--- Translations and reconstructions of a domain's first n images, in batches of 100.
-- @param dom a domain (gan.data.Domain: :items(i, k))
-- @param G the translator out of the domain
-- @param back the translator into it
-- @param n how many images
-- @return translated (n, C, H, W), reconstructed back(G(x)) (n, C, H, W)
function M.translate(dom, G, back, n)
  local fake, rec = {}, {}
  for i = 1, n, 100 do
    local x = dom:items(i, math.min(100, n - i + 1))
    fake[#fake + 1] = G(x)
    rec[#rec + 1] = back(fake[#fake])
  end
  return gan.cat(fake, 1), gan.cat(rec, 1)
end

--- Rows of (a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b))) on the
-- first test images of each domain (repeated when there are fewer rows).
-- @param test the test split (.A, .B)
-- @param G_AB translator A -> B
-- @param G_BA translator B -> A
-- @param n number of images (six per row)
-- @return (n, C, H, W)
function M.triplets(test, G_AB, G_BA, n)
  local rows = math.max(1, math.ceil(n / 6))
  local ka, kb = math.min(rows, test.A.n), math.min(rows, test.B.n)
  local a, b = test.A:items(1, ka), test.B:items(1, kb)
  local fb, fa = G_AB(a), G_BA(b)
  local ra, rb = G_BA(fb), G_AB(fa)
  local out = {}
  for r = 1, rows do
    local i, j = (r - 1) % ka + 1, (r - 1) % kb + 1
    for _, x in ipairs({ a[i], fb[i], ra[i], b[j], fa[j], rb[j] }) do out[#out + 1] = x end
  end
  return gan.stack(out, 1):narrow(1, 1, n)
end

--- Measures two translators on (up to n images per domain of) the test
-- split: cycle_l1 (and cycle_l1_A, cycle_l1_B), the mean |back(G(x)) - x|
-- on the [-1, 1] scale; and for Fashion-MNIST domains of one class each,
-- A_to_B, the share of A's images translated to B that the Fashion-MNIST
-- classifier (gan.metrics.predict) calls B's class, and B_to_A likewise.
-- @param test the test split (.A, .B)
-- @param G_AB translator A -> B
-- @param G_BA translator B -> A
-- @param n images per domain (nil or 0: all)
-- @param opt the recipe's options: data, classes_a, classes_b
-- @return table of scalars
function M.evaluate(test, G_AB, G_BA, n, opt)
  local na = (n and n > 0) and math.min(n, test.A.n) or test.A.n
  local nb = (n and n > 0) and math.min(n, test.B.n) or test.B.n
  local fb, ra = M.translate(test.A, G_AB, G_BA, na)
  local fa, rb = M.translate(test.B, G_BA, G_AB, nb)
  local cyc_a = gan.F.l1(ra, test.A:items(1, na)):item()
  local cyc_b = gan.F.l1(rb, test.B:items(1, nb)):item()
  local r = { cycle_l1 = (cyc_a * na + cyc_b * nb) / (na + nb), cycle_l1_A = cyc_a, cycle_l1_B = cyc_b }
  local ca, cb = gan.options.get(opt, "classes_a"), gan.options.get(opt, "classes_b")
  if gan.data.is_fashion(gan.options.get(opt, "data")) and #ca == 1 and #cb == 1 then
    r.A_to_B = gan.metrics.predict(fb):eq(cb[1]):float():mean():item()
    r.B_to_A = gan.metrics.predict(fa):eq(ca[1]):float():mean():item()
  end
  return r
end

--- Translates the whole test split with the run's checkpoint (`--test`):
-- OUT/results/AtoB/NAME.png and OUT/results/BtoA/NAME.png, one per test
-- image, grids OUT/results/AtoB.png and BtoA.png of (real, translated,
-- reconstructed) triplets, and the evaluation printed.
-- @param opt the recipe's options (out, threads, size)
-- @param state the training state, as given to gan.train (its modules are loaded)
-- @param test the test split (from test_split with opt.test set)
-- @param G_AB translator A -> B
-- @param G_BA translator B -> A
-- @param t {have_test = boolean, why = reason when there is none,
--   same = the options that must match training, for the error message}
function M.run_test(opt, state, test, G_AB, G_BA, t)
  if opt.threads > 0 then gan.set_threads(opt.threads) end
  local ckpt = opt.out .. "/checkpoint.safetensors"
  local ok, extra, msg = pcall(gan.checkpoint.load, ckpt, state)
  if not ok or not extra then
    error(("--test: cannot load %s (train first, with the same %s): %s")
      :format(ckpt, t.same or "options", tostring(ok and msg or extra)), 0)
  end
  if not t.have_test then error("--test: no test split: " .. tostring(t.why), 0) end
  gan.no_grad(function()
    for _, way in ipairs({ { "AtoB", test.A, G_AB, G_BA }, { "BtoA", test.B, G_BA, G_AB } }) do
      local name, dom, G, back = way[1], way[2], way[3], way[4]
      local dir = ("%s/results/%s"):format(opt.out, name)
      local made, err = gan.io.mkdir(dir)
      if not made then error(("--test: cannot make %s: %s"):format(dir, tostring(err)), 0) end
      local fake, rec = M.translate(dom, G, back, dom.n)
      for i = 1, dom.n do
        assert(gan.image.save(("%s/%s.png"):format(dir, dom:item_name(i)), fake[i]))
      end
      local k = math.min(dom.n, 16)
      local C = fake:size(2)
      local trip = gan.stack({ dom:items(1, k), fake:narrow(1, 1, k), rec:narrow(1, 1, k) }, 2)
      assert(gan.image.save_grid(dir .. ".png", trip:reshape(3 * k, C, opt.size, opt.size), { nrow = 6 }))
      print(("%s: %d images translated into %s (real, translated, reconstructed: %s.png)"):format(name, dom.n,
        dir, dir))
    end
    local ok_eval, r = pcall(M.evaluate, test, G_AB, G_BA, 0, opt)
    if ok_eval then
      local parts = {}
      for k, v in pairs(r) do parts[#parts + 1] = ("%s %.4f"):format(k, v) end
      table.sort(parts)
      print("test split: " .. table.concat(parts, "  "))
    end
  end)
end

--- The hooks of a recipe translating between the domains of `test`.
-- @param test the test split (.A, .B)
-- @param G_AB translator A -> B
-- @param G_BA translator B -> A
-- @param opt the recipe's options
-- @return {sample = function(n) (triplets), eval = function(step, n) (evaluate),
--   run_test = function(state, t) (run_test), translate = {AtoB=, BtoA=, channels=} (for gan.sample)}
function M.new(test, G_AB, G_BA, opt)
  return {
    sample = function(n) return M.triplets(test, G_AB, G_BA, n) end,
    translate = { AtoB = G_AB, BtoA = G_BA, channels = test.A:items(1, 1):size(2) },
    eval = function(_, n) return M.evaluate(test, G_AB, G_BA, n, opt) end,
    run_test = function(state, t) return M.run_test(opt, state, test, G_AB, G_BA, t) end,
  }
end

--- The end of an unpaired translation recipe: with opt.test, translates
-- the test split with the trained networks (run_test); otherwise trains
-- with gan.train, sample grids of triplets and the translation measures.
-- @param opt the recipe's options
-- @param state the training state
-- @param step the step function
-- @param test the test split (from test_split)
-- @param G_AB translator A -> B
-- @param G_BA translator B -> A
-- @param t {have_test=, why=, same=} as run_test takes
-- @return what gan.train or run_test returns
function M.train(opt, state, step, test, G_AB, G_BA, t)
  local T = M.new(test, G_AB, G_BA, opt)
  if opt.test then return T.run_test(state, t) end
  return gan.train(opt, state, step, { sample = T.sample, sample_count = 36, eval = T.eval, translate = T.translate })
end

return M
