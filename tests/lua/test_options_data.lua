-- Defaults by kind of data (gan.options(defaults, { toy = {...} })): the
-- table's on images, the toy set's on 8gaussians unless the command line
-- gives them, printed, and both shown by --help.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local options = require "gan.options"

local defaults = { data = "fashion-mnist", lr = 1e-4, beta1 = 0.0, batch = 64 }
local toy = { toy = { lr = 1e-3, beta1 = 0.5, batch = 256 } }

T.case("images keep the table's defaults; a toy set takes its own unless given", function()
  local o = options.parse(defaults, {}, "recipes/none.lua", toy)
  U.equal(o.lr, 1e-4, "images: lr")
  U.equal(o.batch, 64, "images: batch")
  o = options.parse(defaults, { "--data=8gaussians" }, "recipes/none.lua", toy)
  U.equal(o.lr, 1e-3, "toy: lr")
  U.equal(o.beta1, 0.5, "toy: beta1")
  U.equal(o.batch, 256, "toy: batch")
  o = options.parse(defaults, { "--data=ring", "--lr=0.01" }, "recipes/none.lua", toy)
  U.equal(o.lr, 0.01, "the command line wins")
  U.equal(o.beta1, 0.5, "the rest from the toy set")
  U.equal(math.type(o.batch), "integer", "an integer stays one")
  -- gan.options(defaults, per_data), as a recipe writes it
  U.equal(gan.options(defaults, toy).lr, 1e-4, "the call form")
  -- a per-data default of an unknown key, or of another type, is the recipe's bug
  U.raises(function() options.parse(defaults, {}, "x.lua", { toy = { lrr = 1 } }) end, "'lrr' is not of an option's type")
  U.raises(function() options.parse(defaults, {}, "x.lua", { toy = { lr = "fast" } }) end, "not of an option's type")
  U.raises(function() options.parse(defaults, {}, "x.lua", { points = { lr = 1 } }) end, "the kinds are toy and images")
end)

T.case("a run prints which defaults it used; --help shows both", function()
  local dir = U.tmpdir("options_data")
  U.write(dir .. "/r.lua", [[
local gan = require "gan"
local opt = gan.options({
  data = "fashion-mnist", -- data
  lr = 1e-4,              -- Adam learning rate
}, { toy = { lr = 1e-3 } })
print("lr=" .. opt.lr)
]])
  local exe = gan.io.executable()
  local ok, _, text = gan.io.run({ exe, dir .. "/r.lua", "--data=8gaussians" }, { capture = true })
  U.truthy(ok, text)
  U.truthy(text:find("defaults for toy sets (8gaussians, 25gaussians, ring, swissroll): --lr=0.001\n", 1, true), text)
  U.truthy(text:find("lr=0.001", 1, true), text)
  ok, _, text = gan.io.run({ exe, dir .. "/r.lua" }, { capture = true })
  U.truthy(ok and text == "defaults for images (fashion-mnist, a folder): the recipe's (other data: toy: --lr=0.001)\n"
    .. "lr=0.0001\n", text)
  ok, _, text = gan.io.run({ exe, dir .. "/r.lua", "--help" }, { capture = true })
  U.truthy(text:find("on toy sets (8gaussians, 25gaussians, ring, swissroll) the defaults below change to: --lr=0.001",
    1, true), text)
  U.truthy(text:find("--lr=0.0001", 1, true), text)
end)

T.run()
