--- gan.data.sampler: the order in which a data set's items are drawn.
--
-- One sampler serves every loader: it walks a random permutation of the
-- items and draws a new one at each epoch, so every item comes once per
-- epoch. Its position is its state: saved with a checkpoint and restored,
-- the sampler gives the same batches as an uninterrupted run.
--
--     local s = gan.data.sampler.new(60000, { stream = "data" })
--     local idx = s:take(64)            -- 64 0-based item indices
--
-- Requires: gan.random.
-- @module gan.data.sampler

local gan = require "gan"

local M = {}

-- ----------------------------------------------------------------------------
-- The permutation of an epoch (splitmix64 in Lua)

local function splitmix(x)
  x = x + 0x9E3779B97F4A7C15
  x = (x ~ (x >> 30)) * 0xBF58476D1CE4E5B9
  x = (x ~ (x >> 27)) * 0x94D049BB133111EB
  return x ~ (x >> 31)
end

local function hash(a, b, c)
  return splitmix(splitmix(splitmix(a) + (b or 0)) + (c or 0))
end

local function uniform_stream(seed, stream)
  local i = 0
  return function()
    i = i + 1
    return (hash(seed, stream, i) >> 11) * (1.0 / 9007199254740992.0)
  end
end
M.uniform_stream = uniform_stream

local function permutation(n, seed, epoch)
  local p = {}
  for i = 1, n do p[i] = i - 1 end
  local u = uniform_stream(seed, 1000003 + epoch)
  for i = n, 2, -1 do
    local j = math.floor(u() * i) + 1
    p[i], p[j] = p[j], p[i]
  end
  return p
end

-- ----------------------------------------------------------------------------

local Sampler = {}
Sampler.__index = Sampler
M.Sampler = Sampler

--- A sampler of n items.
-- @param n the number of items (>= 1)
-- @param o {stream="data" (the name of its random stream), seed=1}
-- @return the sampler
function M.new(n, o)
  o = o or {}
  if math.type(n) ~= "integer" or n < 1 then
    error(("gan.data.sampler: the data set is empty (%s items)"):format(tostring(n)), 2)
  end
  local self = setmetatable({ n = n, stream = o.stream or "data", seed = o.seed or 1, epoch = 0, pos = 0 }, Sampler)
  self.perm = permutation(n, self.seed, 0)
  return self
end

--- The next b item indices (0-based), across epochs.
-- @param b how many
-- @return list of integers
function Sampler:take(b)
  local idx = {}
  for k = 1, b do
    if self.pos >= self.n then
      self.epoch, self.pos = self.epoch + 1, 0
      self.perm = permutation(self.n, self.seed, self.epoch)
    end
    idx[k] = self.perm[self.pos + 1]
    self.pos = self.pos + 1
  end
  return idx
end

--- Where the sampler is: {epoch=, pos=, seed=}.
-- @return table
function Sampler:state_dict()
  return { epoch = self.epoch, pos = self.pos, seed = self.seed }
end

--- Moves the sampler to a saved position (numbers may be strings).
-- @param sd table from state_dict()
function Sampler:load_state_dict(sd)
  local function n(v) return math.tointeger(tonumber(v)) end
  self.seed = n(sd.seed) or self.seed
  self.epoch, self.pos = n(sd.epoch) or 0, n(sd.pos) or 0
  self.perm = permutation(self.n, self.seed, self.epoch)
end

return M
