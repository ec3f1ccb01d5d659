--- gan.data.sampler: the order in which a data set's items are drawn.
--
-- One sampler serves every loader: it walks a random permutation of the
-- items and draws a new one at each epoch, so every item comes once per
-- epoch. The permutation of epoch e is a keyed draw (gan.random.keyed) of
-- the sampler's stream name and e: it depends only on the seed, the name
-- and the epoch, so the sampler's state is its position (epoch, pos),
-- saved with a checkpoint; restored, it gives the same batches as an
-- uninterrupted run.
--
--     local s = gan.data.sampler.new(60000, { stream = "data", seed = opt.seed })
--     local idx = s:take(64)            -- 64 0-based item indices
--
-- Under mpirun, while a training step runs (gan.dist.sharded), `take(b)`
-- takes the global batch of b items per rank and returns the rank's slice:
-- every rank walks the same order, and together they take what one
-- process with the global batch takes.
--
-- Requires: gan.random, gan.dist.
-- @module gan.data.sampler

local gan = require "gan"
local random = require "gan.random"
local check = require "gan.check"
local dist = require "gan.dist"

local M = {}

--- The permutation of 0 .. n-1 of an epoch: the keyed draw
-- (stream .. ".order", epoch) of gan.randperm(n).
-- @param n the number of items
-- @param stream the sampler's stream name
-- @param epoch the epoch (0 first)
-- @param seed the seed
-- @return list of 0-based indices
function M.permutation(n, stream, epoch, seed)
  return random.keyed(stream .. ".order", epoch, function() return gan.randperm(n) end, seed):totable()
end

local Sampler = {}
Sampler.__index = Sampler
M.Sampler = Sampler

--- A sampler of n items.
-- @param n the number of items (>= 1)
-- @param o {stream="data" (the name of its random stream), seed= (default: the generator's)}
-- @return the sampler
function M.new(n, o)
  o = o or {}
  if math.type(n) ~= "integer" or n < 1 then
    error(("gan.data.sampler: the data set is empty (%s items)"):format(tostring(n)), 2)
  end
  local self = setmetatable({ n = n, stream = o.stream or "data", seed = o.seed or gan.rng_state().seed, epoch = 0,
    pos = 0 }, Sampler)
  self.perm = M.permutation(n, self.stream, 0, self.seed)
  return self
end

--- The next b item indices (0-based), across epochs.
-- @param b how many
-- @return list of integers
function Sampler:take(b)
  local shards = dist.shards()
  if shards > 1 then return dist.slice(self:take_all(b * shards)) end
  return self:take_all(b)
end

--- The next b item indices (0-based), across epochs, whatever the world.
-- @param b how many
-- @return list of integers
function Sampler:take_all(b)
  local idx = {}
  for k = 1, b do
    if self.pos >= self.n then
      self.epoch, self.pos = self.epoch + 1, 0
      self.perm = M.permutation(self.n, self.stream, self.epoch, self.seed)
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

--- Moves the sampler to a saved position (numbers may be strings). The
-- position must be a whole number from 0 to the item count, the epoch and
-- the seed whole numbers; anything else (text that is no number, 2^62) is
-- an error that names it.
-- @param sd table from state_dict()
function Sampler:load_state_dict(sd)
  local who = "gan.data.sampler:load_state_dict"
  check.table(who, "the state", sd)
  if sd.seed ~= nil then self.seed = check.integer_or_text(who, "seed", sd.seed, 0) end
  self.epoch = sd.epoch == nil and 0 or check.integer_or_text(who, "epoch", sd.epoch, 0)
  self.pos = sd.pos == nil and 0 or check.integer_or_text(who, "pos", sd.pos, 0, self.n)
  self.perm = M.permutation(self.n, self.stream, self.epoch, self.seed)
end

return M
