--- gan.random: named streams of the one random generator.
--
-- ganlua has one seeded, counter-based generator (Philox4x32-10). Its
-- counter has two halves: a stream and an offset in that stream. Every
-- consumer of randomness draws from a stream of its own, named, so adding
-- a consumer never shifts another's numbers:
--
-- * the **default stream** (0): what `gan.randn`, `gan.rand`, dropout and a
--   recipe's noise draw from, in the order the recipe draws;
-- * **named streams** (`gan.random.stream(name)`): a sequence of its own,
--   whose position is saved in checkpoints with the rest of the run;
-- * **keyed draws** (`gan.random.keyed(name, key, fn)`): the numbers that
--   fn draws depend only on the seed, the name and the key. The data
--   order of epoch e, the crops of batch b, the fixed noise of the sample
--   grids are keyed draws: nothing to save, and the same on any machine.
--
--     gan.random.seed(1)                                    -- gan.options does this
--     local order = gan.random.keyed("data.order", epoch, function() return gan.randperm(n) end)
--     local crops = gan.random.stream("augment")
--     local u = crops:rand(8, 2)                            -- advances the stream
--
-- Names are hashed to 64-bit stream ids (FNV-1a, mixed with the key by
-- SplitMix64), so a stream's numbers do not depend on which other streams
-- exist. The library's names:
--
-- * `<data>.order` (key: the epoch) and `<data>.augment` (key: the batch),
--   where `<data>` is a data set's stream name: "data", or "data.1" and
--   "data.2" for the two domains of image-to-image data;
-- * `data.toy` (key 0): the points of the toy 2-D sets;
-- * `train.samples` (key 0): the noise of the sample grids;
-- * `train.eval` and `train.eval.recipe` (key 0): the evaluations;
-- * `metrics.ceiling` (key: the sample count; seed 1): FD's noise images;
-- * `style.mixing`: nn.MappingNetwork's style mixing (whether, where, the
--   second z);
-- * `penalties.path_length`: the noise images of the path length penalty.
--
-- A recipe names its own after itself (`infogan.codes`, `stackgan.captions`).
-- Requires: gan.core (rng_state, set_rng_state, manual_seed).
-- @module gan.random

local gan = require "gan"
local core = require "gan.core"

local M = {}

local FNV_OFFSET, FNV_PRIME = -3750763034362895579, 1099511628211 -- 0xcbf29ce484222325, 0x100000001b3

local function splitmix(x)
  x = x + -7046029254386353131 -- 0x9E3779B97F4A7C15
  x = (x ~ (x >> 30)) * -4658895280553007687 -- 0xBF58476D1CE4E5B9
  x = (x ~ (x >> 27)) * -7723592293110705685 -- 0x94D049BB133111EB
  return x ~ (x >> 31)
end

--- The stream id of a name (and a key): a 64-bit integer, never 0 (the
-- default stream).
-- @param name a string
-- @param key an integer (optional)
-- @return integer
function M.id(name, key)
  assert(type(name) == "string" and name ~= "", "gan.random.id: a name is needed")
  local h = FNV_OFFSET
  for i = 1, #name do h = (h ~ name:byte(i)) * FNV_PRIME end
  if key ~= nil then
    assert(math.type(key) == "integer", "gan.random.id: the key must be an integer")
    h = splitmix(h ~ splitmix(key))
  end
  if h == 0 then h = 1 end
  return h
end

-- offsets of the named streams drawn from since the last seed: name -> offset
local offsets = {}
local by_name = {}

--- Seeds the generator: every stream starts again from its beginning.
-- @param seed integer
function M.seed(seed)
  core.manual_seed(seed)
  offsets = {}
end

-- Runs fn(...) on stream id at offset under seed (nil: the generator's),
-- then puts the generator back where it was; returns the offset the
-- stream reached and fn's results.
local function on_stream(seed, id, offset, fn, ...)
  local saved = gan.rng_state()
  gan.set_rng_state { seed = seed or saved.seed, stream = id, offset = offset }
  local r = table.pack(pcall(fn, ...))
  local reached = gan.rng_state().offset
  gan.set_rng_state(saved)
  if not r[1] then error(r[2], 0) end
  return reached, table.unpack(r, 2, r.n)
end

--- Runs fn() with every draw taken from the stream (name, key) from its
-- beginning: its numbers depend only on the seed, the name and the key.
-- Nothing else moves: the default stream and the named ones stay where
-- they were.
-- @param name a string
-- @param key an integer
-- @param fn function() -> results
-- @param seed the seed (default: the generator's)
-- @return fn's results
function M.keyed(name, key, fn, seed)
  return select(2, on_stream(seed, M.id(name, key), 0, fn))
end

local Stream = {}
Stream.__index = Stream

--- A named stream: its draws go on from where the last one stopped, and
-- its position is part of the run's state (`state`).
-- @param name a string
-- @return the stream (the same object for the same name)
function M.stream(name)
  local s = by_name[name]
  if not s then
    s = setmetatable({ name = name, id = M.id(name) }, Stream)
    by_name[name] = s
  end
  return s
end

--- Runs fn(...) with its draws taken from this stream; the stream advances.
-- @param fn function(...) -> results
-- @return fn's results
function Stream:draw(fn, ...)
  local r = table.pack(on_stream(nil, self.id, offsets[self.name] or 0, fn, ...))
  offsets[self.name] = r[1]
  return table.unpack(r, 2, r.n)
end

--- gan.randn(...) from this stream.
function Stream:randn(...) return self:draw(gan.randn, ...) end
--- gan.rand(...) from this stream.
function Stream:rand(...) return self:draw(gan.rand, ...) end
--- gan.randint(...) from this stream.
function Stream:randint(...) return self:draw(gan.randint, ...) end
--- gan.randperm(...) from this stream.
function Stream:randperm(...) return self:draw(gan.randperm, ...) end

--- Where the stream is (counters used since the seed).
-- @return integer
function Stream:offset()
  return offsets[self.name] or 0
end

--- A one-line description.
function Stream:__tostring()
  return ("gan.random.stream(%q) at %d"):format(self.name, self:offset())
end

--- The generator's whole state: the default stream's (seed, offset, the
-- current stream) and the offset of every named stream drawn from.
-- @return {seed=, offset=, stream=, streams = {name = offset}}
function M.state()
  local s = gan.rng_state()
  s.streams = {}
  for k, v in pairs(offsets) do s.streams[k] = v end
  return s
end

--- Restores a state from `state` (streams missing from it start from
-- their beginning).
-- @param s a table from state()
function M.set_state(s)
  gan.set_rng_state { seed = s.seed, offset = s.offset, stream = s.stream or 0 }
  offsets = {}
  for k, v in pairs(s.streams or {}) do offsets[k] = v end
end

return M
