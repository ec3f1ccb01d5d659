-- gan.checkpoint.load against crafted metadata: every value is checked, a
-- message stays short however many stray entries there are, and text from
-- the file never reaches the terminal with its control characters.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function state()
  gan.manual_seed(3)
  local G = gan.nn.Linear(2, 3)
  local opt = gan.optim.Adam(G, { lr = 1e-3 })
  local sched = gan.optim.schedule.step(opt, { every = 5, gamma = 0.5 })
  local data = gan.data.load("8gaussians", { batch = 8, limit = 64, seed = 3 })
  return { G = G, opt = opt, sched = sched, data = data, count = 7 }
end

-- saves a fresh state, lets edit change its metadata and tensors, writes them back
local function crafted(name, edit)
  local path = U.tmpdir("checkpoint_values") .. "/" .. name .. ".safetensors"
  local s = state()
  s.opt:step(s.G(gan.randn(4, 2)):sum())
  U.truthy(gan.checkpoint.save(path, s, { step = 3 }))
  local tensors, meta = gan.io.load_safetensors(path)
  edit(meta, tensors)
  U.truthy(gan.io.save_safetensors(path, tensors, meta))
  return path
end

local function refused(path, pattern)
  local ok, err = pcall(gan.checkpoint.load, path, state())
  U.truthy(not ok or err == nil, "loaded: " .. path)
  local msg = tostring(ok and select(2, gan.checkpoint.load(path, state())) or err)
  U.truthy(msg:find(pattern, 1, true), msg)
  return msg
end

T.case("the untouched checkpoint loads", function()
  local path = crafted("plain", function() end)
  local s = state()
  U.truthy(gan.checkpoint.load(path, s))
  U.equal(s.count, 7)
end)

T.case("the data position, the sampler's epoch and seed must be whole numbers in range", function()
  local function key(meta, field)
    for k in pairs(meta) do
      if k:match("^data%.") and k:match("%." .. field .. "$") then return k end
    end
    error("no data " .. field .. " in the metadata")
  end
  for _, bad in ipairs { "abc", tostring(2 ^ 62), "4611686018427387904", "-1", "2.5", "65" } do
    local path = crafted("pos", function(meta) meta[key(meta, "pos")] = bad end)
    refused(path, "pos must be a whole number in [0, 64], got \"" .. bad .. "\"")
  end
  refused(crafted("epoch", function(meta) meta[key(meta, "epoch")] = "1e300" end), "epoch must be a whole number >= 0")
  refused(crafted("seed", function(meta) meta[key(meta, "seed")] = "x" end), "seed must be a whole number")
end)

T.case("optimizer, schedule, plain values and RNG words are checked", function()
  refused(crafted("lr", function(meta) meta["opt.lr"] = "fast" end), "lr must be a finite number >= 0, got \"fast\"")
  refused(crafted("t", function(meta) meta["sched.t"] = "-4" end), "t must be a whole number >= 0")
  refused(crafted("count", function(meta) meta["state.count"] = "many" end), "state.count must be a whole number, got \"many\"")
  refused(crafted("rng", function(meta) meta["ganlua.rng.offset"] = "0x" end), "ganlua.rng.offset must be a whole number")
  local step_key
  crafted("probe", function(meta)
    for k in pairs(meta) do if k:match("^opt%..*%.step$") then step_key = k end end
  end)
  U.truthy(step_key, "an optimizer step count in the metadata")
  refused(crafted("step", function(meta) meta[step_key] = "NaN" end), "must be a finite number >= 0, got \"NaN\"")
end)

T.case("10,000 stray entries: a short message with the count and the first names", function()
  local path = crafted("stray", function(meta)
    for i = 1, 10000 do meta[("zz.stray%05d"):format(i)] = "1" end
  end)
  local msg = refused(path, "holds 10000 entries this run has no place for: zz.stray00001, zz.stray00002")
  U.truthy(#msg < 400, "message of " .. #msg .. " bytes")
  U.truthy(msg:find("and 9996 more", 1, true), msg)
end)

T.case("control characters and ANSI escapes from the file are escaped in messages", function()
  local path = crafted("ansi", function(meta) meta["x\27[2J\27[31mred\r\n"] = "1" end)
  local msg = refused(path, "x\\027[2J\\027[31mred\\013\\010")
  U.truthy(not msg:find("\27", 1, true) and not msg:find("\r", 1, true), msg)
  local path2 = crafted("ansi_pos", function(meta)
    for k in pairs(meta) do if k:match("^data%..*pos$") then meta[k] = "\27]0;title\7" end end
  end)
  local msg2 = refused(path2, "got \"\\027]0;title\\007\"")
  U.truthy(not msg2:find("\27", 1, true), msg2)
end)

T.run()
