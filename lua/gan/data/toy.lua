--- gan.data.toy: toy 2-D sets of points.
--
--     local d = gan.data.toy.load("8gaussians", opt)   -- opt.limit points (default 50000)
--
-- "8gaussians" (8 on a circle of radius 2, std 0.02), "25gaussians" (a
-- 5x5 grid of spacing 2, std 0.05), "ring" (radius 2, std 0.05),
-- "swissroll". Mixtures expose their mode centres (`centres`, (K, 2)) and
-- `std`, and measure samples by the modes they cover (gan.metrics.points).
-- The points depend only on the seed.
-- Options read: limit, batch, seed.
-- Requires: gan.data, gan.metrics (for mixtures' evaluation).
-- @module gan.data.toy

local gan = require "gan"
local options = require "gan.options"

local M = {}

local get = options.get

-- gaussian pairs from a uniform stream (Box-Muller)
local function gauss_stream(u)
  local spare
  return function()
    if spare then
      local s = spare
      spare = nil
      return s
    end
    local a, b = u(), u()
    if a < 1e-300 then a = 1e-300 end
    local r = math.sqrt(-2 * math.log(a))
    spare = r * math.sin(2 * math.pi * b)
    return r * math.cos(2 * math.pi * b)
  end
end

--- The sets by name: each a function() -> {centres=, std=} (mixtures) or
-- {std=, radius=, draw=function(u, g) -> x, y}.
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
    draw = function(u, g) local a = 2 * math.pi * u(); local r = 2 + 0.05 * g(); return r * math.cos(a), r * math.sin(a) end,
  }
end

M.sets.swissroll = function()
  return {
    std = 0.25 / 5,
    draw = function(u, g)
      local t = 1.5 * math.pi * (1 + 2 * u())
      return (t * math.cos(t) + 0.25 * g()) / 5, (t * math.sin(t) + 0.25 * g()) / 5
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
  local uniform_stream = require("gan.data.sampler").uniform_stream
  local u = uniform_stream(seed, 77)
  local g = gauss_stream(uniform_stream(seed, 78))
  local flat = {}
  for i = 1, n do
    local x, y
    if spec.centres then
      local c = spec.centres[math.floor(u() * #spec.centres) + 1]
      x, y = c[1] + spec.std * g(), c[2] + spec.std * g()
    else
      x, y = spec.draw(u, g)
    end
    flat[2 * i - 1], flat[2 * i] = x, y
  end
  return require("gan.data").dataset({ x = gan.tensor(flat):reshape(n, 2) }, {
    name = name, kind = "points", std = spec.std, radius = spec.radius, batch = get(opt, "batch"), seed = seed,
    centres = spec.centres and gan.tensor(spec.centres) or nil, evaluate = spec.centres and evaluate_mixture or nil,
  })
end

return M
