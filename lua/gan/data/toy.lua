--- gan.data.toy: toy 2-D sets of points.
--
--     local d = gan.data.toy.load("8gaussians", opt)   -- opt.limit points (default 50000)
--
-- "8gaussians" (8 on a circle of radius 2, std 0.02), "25gaussians" (a
-- 5x5 grid of spacing 2, std 0.05), "ring" (radius 2, std 0.05),
-- "swissroll". Mixtures expose their mode centres (`centres`, (K, 2)) and
-- `std`, and measure samples by the modes they cover (gan.metrics.points).
-- The points depend only on the seed (a keyed draw, gan.random).
-- Options read: limit, batch, seed.
-- Requires: gan.data.dataset, gan.random, gan.metrics (for mixtures' evaluation).
-- @module gan.data.toy

local gan = require "gan"
local options = require "gan.options"
local random = require "gan.random"

local M = {}

local get = options.get

--- The sets by name: each a function() -> {centres=, std=} (mixtures) or
-- {std=, radius=, draw=function(n) -> (n, 2)} (drawing from the current stream).
M.sets = {}

M.sets["8gaussians"] = function()
  local c = {}
  for k = 0, 7 do c[#c + 1] = { 2 * math.cos(2 * math.pi * k / 8), 2 * math.sin(2 * math.pi * k / 8) } end
  return { centres = c, std = 0.02 }
end

M.sets["25gaussians"] = function()
  local c = {}
  for i = -2, 2 do for j = -2, 2 do c[#c + 1] = { 2 * i, 2 * j } end end
  return { centres = c, std = 0.05 }
end

M.sets.ring = function()
  return {
    radius = 2, std = 0.05,
    draw = function(n)
      local a, r = gan.rand(n) * (2 * math.pi), gan.randn(n) * 0.05 + 2
      return gan.stack({ r * a:cos(), r * a:sin() }, 2)
    end,
  }
end

M.sets.swissroll = function()
  return {
    std = 0.25 / 5,
    draw = function(n)
      local t = (gan.rand(n) * 2 + 1) * (1.5 * math.pi)
      local e = gan.randn(n, 2) * 0.25
      return gan.stack({ t * t:cos() + e:select(2, 1), t * t:sin() + e:select(2, 2) }, 2) / 5
    end,
  }
end

-- a mixture's samples are measured by the modes they cover
local function evaluate_mixture(self, draw, n)
  return gan.metrics.points(draw(n), self)
end

--- Makes a toy set of points.
-- @param name "8gaussians", "25gaussians", "ring" or "swissroll"
-- @param opt options: limit (number of points; 0: 50000), batch, seed
-- @return the data set, with .centres ((K, 2) tensor, mixtures only), .std, .kind = "points"
function M.load(name, opt)
  local spec = M.sets[name]
  if not spec then error(("gan.data: unknown toy set '%s'"):format(tostring(name)), 2) end
  spec = spec()
  local n = get(opt, "limit")
  if n <= 0 then n = 50000 end
  local seed = get(opt, "seed")
  -- the points are the keyed draw ("data.toy", 0): the same for a seed, whatever else draws
  local x = random.keyed("data.toy", 0, function()
    if not spec.centres then return spec.draw(n) end
    local which = gan.randint(0, #spec.centres, { n })
    return gan.tensor(spec.centres):index_select(1, which) + gan.randn(n, 2) * spec.std
  end, seed)
  return require("gan.data.dataset").new({ x = x }, {
    name = name, kind = "points", std = spec.std, radius = spec.radius, batch = get(opt, "batch"), seed = seed,
    centres = spec.centres and gan.tensor(spec.centres) or nil, evaluate = spec.centres and evaluate_mixture or nil,
  })
end

return M
