-- gan.random: keyed draws, named streams, seeding, and their state in checkpoints.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local random = gan.random

local function keyed(name, key, seed)
  return random.keyed(name, key, function() return gan.rand(8) end, seed)
end

T.case("a keyed draw depends on the seed, the name and the key only, and moves nothing", function()
  gan.manual_seed(4)
  local before = gan.rng_state()
  local a = keyed("data.order", 3)
  U.equal(U.maxdiff(a, keyed("data.order", 3)), 0, "the same numbers again")
  T.eq(gan.rng_state(), before, "the default stream did not move")
  gan.randn(100)                                    -- other draws in between change nothing
  U.equal(U.maxdiff(a, keyed("data.order", 3)), 0, "whatever was drawn before")
  U.truthy(U.maxdiff(a, keyed("data.order", 4)) > 0, "another key, other numbers")
  U.truthy(U.maxdiff(a, keyed("data.orders", 3)) > 0, "another name, other numbers")
  U.truthy(U.maxdiff(a, keyed("data.order", 3, 5)) > 0, "another seed, other numbers")
  gan.manual_seed(5)
  U.equal(U.maxdiff(keyed("data.order", 3), keyed("data.order", 3, 5)), 0, "the generator's seed by default")
  -- Philox at (seed, stream id, counter 0): the stream is the counter's high half
  local s = random.keyed("x", 1, function() return gan.rng_state() end, 7)
  U.equal(s.stream, random.id("x", 1)); U.equal(s.seed, 7); U.equal(s.offset, 0)
  U.truthy(random.id("x") ~= 0 and random.id("x") ~= random.id("x", 0), "ids of names and keys differ")
  U.raises(function() return random.keyed("boom", 1, function() error("inside") end) end, "inside")
  T.eq(gan.rng_state().stream, 0, "an error inside puts the generator back")
end)

T.case("a named stream goes on where it stopped; seeding starts every stream again", function()
  gan.manual_seed(2)
  local st = random.stream("aug")
  U.equal(st, random.stream("aug"), "one object per name")
  local a = st:rand(6)
  local b = st:rand(6)
  U.truthy(U.maxdiff(a, b) > 0, "the stream advances")
  U.equal(st:offset(), 4, "two draws of 6 values: 4 counters")
  local d = gan.rand(6)
  gan.manual_seed(2)
  U.equal(st:offset(), 0, "manual_seed starts it again")
  U.equal(U.maxdiff(st:rand(6), a), 0, "the same first draw")
  U.equal(U.maxdiff(gan.rand(6), d), 0, "the default stream did not see the named one")
  U.truthy(tostring(st):find('gan.random.stream%("aug"%) at 2'), tostring(st))
end)

T.case("the whole state round-trips, also through a checkpoint", function()
  gan.manual_seed(3)
  local st = random.stream("noise.extra")
  st:randn(10); gan.randn(7)
  local saved = random.state()
  U.equal(saved.streams["noise.extra"], 3)
  local want_named, want_default = st:randn(5), gan.randn(5)
  random.set_state(saved)
  U.equal(U.maxdiff(st:randn(5), want_named), 0, "named stream restored")
  U.equal(U.maxdiff(gan.randn(5), want_default), 0, "default stream restored")
  local path = U.tmpdir("random") .. "/ck.safetensors"
  random.set_state(saved)
  assert(gan.checkpoint.save(path, { x = gan.zeros(1) }, { step = 1 }))
  gan.manual_seed(99)
  assert(gan.checkpoint.load(path, { x = gan.zeros(1) }))
  U.equal(U.maxdiff(st:randn(5), want_named), 0, "named stream from the checkpoint")
  U.equal(U.maxdiff(gan.randn(5), want_default), 0, "default stream from the checkpoint")
end)

T.case("the data order and crops are keyed draws: the same however much a recipe draws", function()
  local x = gan.arange(40):reshape(10, 1, 2, 2):float()
  local function batches(extra_draws)
    gan.manual_seed(1)
    local d = gan.data.dataset({ x = x }, { size = 1, flip = true, seed = 1, batch = 4 })
    local out = {}
    for i = 1, 6 do
      gan.randn(extra_draws)                       -- a recipe's noise between batches
      out[i] = d:next()
    end
    return gan.cat(out, 1)
  end
  U.equal(U.maxdiff(batches(1), batches(1000)), 0)
end)

T.run()
