-- Bad arguments to the library's constructors and functions: each is an
-- error at the call that names the function and the argument, never a raw
-- Lua error from inside the library ("attempt to index a nil value") or a
-- failure much later (at forward, after a minute of work).
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn

-- the call fails with a message holding every fragment, at this file's line
local function refused(fn, ...)
  local ok, err = pcall(fn)
  U.truthy(not ok, "accepted: " .. table.concat({ ... }, " "))
  err = tostring(err)
  U.truthy(not err:find("attempt to", 1, true), "a raw Lua error: " .. err)
  U.truthy(err:find("test_arguments.lua:", 1, true), "not reported at the call: " .. err)
  for _, frag in ipairs { ... } do U.truthy(err:find(frag, 1, true), ("%q missing in: %s"):format(frag, err)) end
end

T.case("the cases that used to slip through", function()
  local lin = nn.Linear(3, 2)
  refused(function() return nn.AvgPool2d(gan.zeros(2)) end, "gan.nn.AvgPool2d", "kernel", "a tensor of shape (2)")
  refused(function() return lin(nil) end, "Linear:forward", "the input must be a tensor, got nil")
  refused(function() return gan.optim.AdamW(lin, 0.5) end, "gan.optim.AdamW", "opts", "got 0.5")
  refused(function() return gan.nets.resnet.Generator(3, 3, { blocks = -1 }) end, "gan.nets.resnet.Generator",
    "blocks must be a whole number >= 0, got -1")
  refused(function() return gan.nets.resnet.Generator { blocks = -1 } end, "in_channels")
  refused(function() return lin:load_state_dict(nil) end, "Linear:load_state_dict", "the state must be a table")
  local t = { a = 1 }
  t.self = t
  refused(function() return gan.util.json(t) end, "gan.util.json", "cycle")
  local t0 = os.clock()
  refused(function() return gan.metrics.floor_ceiling(-1) end, "gan.metrics.floor_ceiling", "n must be", "got -1")
  U.truthy(os.clock() - t0 < 1, "rejected before any work")
end)

T.case("layers check their sizes and options when made", function()
  refused(function() return nn.Linear(0, 2) end, "gan.nn.Linear", "in_features")
  refused(function() return nn.Linear(3, 2.5) end, "out_features", "got 2.5")
  refused(function() return nn.Linear(3, 2, "yes") end, "gan.nn.Linear", "opts")
  refused(function() return nn.Conv2d(3, 8, 0) end, "gan.nn.Conv2d", "kernel_size")
  refused(function() return nn.Conv2d(3, 8, 3, -1) end, "stride")
  refused(function() return nn.Conv2d(3, 8, 3, 1, { -1, 0 }) end, "padding")
  refused(function() return nn.ConvTranspose2d("3", 8, 4) end, "gan.nn.ConvTranspose2d", "in_channels", 'got "3"')
  refused(function() return nn.MaxPool2d(2, 0) end, "gan.nn.MaxPool2d", "stride")
  refused(function() return nn.BatchNorm2d(-4) end, "gan.nn.BatchNorm2d", "num_features")
  refused(function() return nn.BatchNorm1d(4, { momentum = 2 }) end, "momentum")
  refused(function() return nn.InstanceNorm2d(nil) end, "gan.nn.InstanceNorm2d", "num_features")
  refused(function() return nn.GroupNorm(0, 4) end, "gan.nn.GroupNorm", "num_groups")
  refused(function() return nn.Embedding(10, 0) end, "gan.nn.Embedding", "embedding_dim")
  refused(function() return nn.Dropout(1.5) end, "gan.nn.Dropout", "p", "in [0, 1]")
  refused(function() return nn.LeakyReLU("x") end, "gan.nn.LeakyReLU", "slope")
  refused(function() return nn.Upsample { scale = 0 } end, "gan.nn.Upsample", "scale")
  refused(function() return nn.Upsample { mode = "cubic" } end, "mode must be one of")
  refused(function() return nn.Lambda(3) end, "gan.nn.Lambda", "fn")
  refused(function() return nn.ReLU()(3) end, "ReLU:forward", "got 3")
  refused(function() return nn.Sequential { nn.Linear(2, 2) }("x") end, "Linear:forward", 'got "x"')
end)

T.case("optimizers and nets check their options", function()
  local lin = nn.Linear(3, 2)
  refused(function() return gan.optim.Adam(lin, { lr = -1 }) end, "gan.optim.Adam", "lr must be a finite number >= 0")
  refused(function() return gan.optim.Adam(lin, { lr = 0 / 0 }) end, "lr")
  refused(function() return gan.optim.Adam(lin, { betas = { 0.5, 1 } }) end, "betas[2] must be a number in [0, 1)")
  refused(function() return gan.optim.Adam(lin, { betas = 0.5 }) end, "betas must be a list of 2 numbers")
  refused(function() return gan.optim.SGD(lin, { nesterov = 1 }) end, "gan.optim.SGD", "nesterov must be true or false")
  refused(function() return gan.optim.SGD(nil) end, "gan.optim", "params must be a module or a list of tensors")
  refused(function() return gan.optim.Adam(lin, { lr = 1e-3 }):load_state_dict(nil) end, "Adam:load_state_dict")
  refused(function() return gan.nets.patch.Discriminator(3, { n_layers = "3" }) end, "gan.nets.patch.Discriminator",
    "n_layers")
  refused(function() return gan.nets.unet.Generator(3, 3, 5, { nf = 0 }) end, "gan.nets.unet.Generator", "nf")
  refused(function() return gan.nets.mlp.new({ 2, -3, 1 }) end, "gan.nets.mlp", "sizes[2]")
  refused(function() return gan.nets.dcgan.generator(100, 0, 32, 64) end, "gan.nets.dcgan.generator", "C")
  refused(function() return gan.metrics.images(nil) end, "gan.metrics.images", "sample")
end)

T.case("a value shown in a message is escaped and cut short", function()
  local check = require "gan.check"
  U.equal(check.shown("a\27[31mb"), '"a\\027[31mb"')
  U.equal(#check.shown(("x"):rep(1000)), 60 + 5)
  U.equal(check.some { "a", "b", "c", "d", "e", "f" }, "a, b, c, d and 2 more")
  U.equal(check.integer_or_text("f", "n", "12", 0, 20), 12)
  refused(function() return check.integer_or_text("f", "n", "1e300") end, "f: n must be a whole number, got \"1e300\"")
  refused(function() return check.integer("f", "n", "12") end, "f: n must be a whole number, got \"12\"")
end)

T.run()
