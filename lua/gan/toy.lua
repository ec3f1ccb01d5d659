--- gan.toy: measures of generated points on the toy 2-D mixtures
-- (8gaussians, 25gaussians), as in the Unrolled GAN and VEEGAN papers.
--
--     local m = gan.toy.points(G(noise(2500)), data)   -- {modes=7, hq=0.83, ...}
--
-- A sample is of high quality when it lies within 3 standard deviations of
-- its nearest mode centre; a mode is covered when at least `min_share` of
-- the samples (default 0.8%: 20 of 2500) are high-quality samples nearest
-- to it.
-- @module gan.toy

local gan = require "gan"
local util = require "gan.util"

local M = {}

--- Measures points against a mixture's modes.
-- @param x generated points (N, 2)
-- @param data the toy set (a gan.data iterator with .centres (K, 2) and .std)
-- @param opts {sigmas=3, min_share=0.008}
-- @return {modes= (modes covered), hq= (share of high-quality samples), k= (modes of the data),
--   counts= (list of high-quality samples per mode)}
function M.points(x, data, opts)
  opts = opts or {}
  if type(data) ~= "table" or not data.centres or not data.std then
    error("gan.toy.points: the data must be a toy mixture with centres and std (8gaussians, 25gaussians)", 2)
  end
  if x:dim() ~= 2 or x:size(2) ~= 2 then
    error(("gan.toy.points: expected points (N, 2), got (%s)"):format(table.concat(x:shape(), ", ")), 2)
  end
  local radius = (opts.sigmas or 3) * data.std
  local min_share = opts.min_share or 0.008
  return gan.no_grad(function()
    local c = data.centres
    local d2 = (x:detach():unsqueeze(2) - c:unsqueeze(1)):square():sum(3)     -- (N, K)
    local best, idx = d2:min(2)
    local near, which = best:totable(), idx:totable()
    local k, n = c:size(1), x:size(1)
    local counts = {}
    for j = 1, k do counts[j] = 0 end
    local hq = 0
    for i = 1, n do
      if near[i] <= radius * radius then
        hq = hq + 1
        counts[which[i] + 1] = counts[which[i] + 1] + 1
      end
    end
    local modes = 0
    local need = math.max(1, min_share * n)
    for j = 1, k do if counts[j] >= need then modes = modes + 1 end end
    return { modes = modes, hq = hq / n, k = k, counts = counts }
  end)
end

--- Makes every gan.train run of this process on a toy mixture log the
-- measures of `points` (columns modes and hq of OUT/eval.csv, every
-- --eval_every steps) on n samples from fixed noise. The run itself is
-- unchanged: the random state is put back after each measurement. For
-- comparing recipes that do not measure points themselves (the
-- mode-collapse lab runs each recipe with it). With opts.save, the points
-- of each measurement are also written to OUT/points/step_NNNNNN.safetensors
-- (tensor "x").
-- @param opts {n=2500 (samples per measurement), save=false}
function M.watch(opts)
  opts = opts or {}
  local n = opts.n or 2500
  local train = require "gan.train"
  local run = train.run
  train.run = function(opt, state, step_fn, hooks)
    local data = state.data
    if type(data) ~= "table" or not data.centres then return run(opt, state, step_fn, hooks) end
    local h = {}
    for k, v in pairs(hooks or {}) do h[k] = v end
    local own_eval = h.eval
    local z
    h.eval = function(step)
      local rng = gan.rng_state()
      local x
      if h.sample then
        x = h.sample(n)
      else
        local noise = h.noise or function(k) return gan.randn(k, util.get(opt, "nz", 100)) end
        z = z or train.fixed(util.get(opt, "seed", 1), function() return noise(n) end)
        x = state.G(z)
      end
      gan.set_rng_state(rng)
      if opts.save then
        local dir = util.get(opt, "out", "runs/run") .. "/points"
        os.execute("mkdir -p " .. util.shell_quote(dir))
        gan.io.save_safetensors(("%s/step_%06d.safetensors"):format(dir, step), { x = x:detach():contiguous() }, {})
      end
      local m = M.points(x, data)
      local out = own_eval and own_eval(step) or {}
      out.modes, out.hq = m.modes, m.hq
      return out
    end
    return run(opt, state, step_fn, h)
  end
end

return M
