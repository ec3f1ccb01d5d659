-- gan.toy: modes covered and high-quality samples on the toy mixtures, and
-- the watch that makes any training run measure them.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local toy = gan.toy

T.case("points on the centres, on one centre, and far away", function()
  local data = gan.data.toy("8gaussians", { limit = 16 })
  local c = data.centres
  local all = gan.cat({ c, c, c, c }, 1)         -- 32 points, 4 per mode
  local m = toy.points(all, data)
  T.eq(m.modes, 8); T.eq(m.k, 8); U.close(m.hq, 1, 1e-9, "all high quality")
  T.eq(m.counts, { 4, 4, 4, 4, 4, 4, 4, 4 })
  local one = c:narrow(1, 3, 1):expand(40, 2) + 2.5 * data.std          -- 2.5 sigma on each axis: 3.54 sigma away
  m = toy.points(one, data)
  T.eq(m.hq, 0, "3.5 sigma away is not high quality")
  m = toy.points(c:narrow(1, 3, 1):expand(40, 2) + 2 * data.std, data)    -- 2.83 sigma away
  T.eq(m.modes, 1); U.close(m.hq, 1, 1e-9)
  m = toy.points(gan.zeros(50, 2), data)
  T.eq(m.modes, 0); T.eq(m.hq, 0)
end)

T.case("a mode needs min_share of the samples", function()
  local data = gan.data.toy("8gaussians", { limit = 16 })
  local c = data.centres
  local x = gan.cat({ c:narrow(1, 1, 1):expand(999, 2), c:narrow(1, 2, 1) }, 1)   -- 999 on mode 1, 1 on mode 2
  T.eq(toy.points(x, data).modes, 1, "one sample is not a mode at 0.8%")
  T.eq(toy.points(x, data, { min_share = 0 }).modes, 2, "any sample counts at 0")
end)

T.case("errors", function()
  local ring = gan.data.toy("ring", { limit = 16 })
  T.raises(function() toy.points(gan.zeros(3, 2), ring) end, "toy mixture with centres")
  local data = gan.data.toy("25gaussians", { limit = 16 })
  T.raises(function() toy.points(gan.zeros(3, 3), data) end, "expected points (N, 2)")
end)

T.case("watch: a training run logs modes and hq, and the run itself is unchanged", function()
  local function train(dir)
    gan.manual_seed(1)
    local data = gan.data.toy("25gaussians", { limit = 256, batch = 16 })
    local opt = { nz = 4, hidden = 8, depth = 1, iters = 4, eval_every = 2, sample_every = 0, save_every = 0,
      out = dir, seed = 1 }
    local G, noise = gan.nets.generator(data, opt)
    local optG = gan.optim.Adam(G, { lr = 0.01 })
    local s = gan.train(opt, { G = G, optG = optG, data = data }, function(real)
      local loss = (G(noise(real:size(1))) - real):square():mean()
      optG:step(loss)
      return { loss = loss }
    end, { noise = noise, eval = function() return { other = 1 } end })
    return s.losses.loss
  end
  local plain = train(U.tmpdir("toy_plain"))
  toy.watch { n = 100, save = true }
  local dir = U.tmpdir("toy_watch")
  T.eq(train(dir), plain, "the same losses with the measurements")
  local csv = U.read(dir .. "/eval.csv")
  U.truthy(csv:find("^step,hq,modes,other\n2,[%d.e-]+,%d+,1\n4,"), csv)     -- the run's own measures stay
  local pts = gan.io.load_safetensors(dir .. "/points/step_000004.safetensors")
  U.shape(pts.x, { 100, 2 })
end)

T.run()
