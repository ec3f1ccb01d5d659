-- gan.nets: the shared generator and discriminator families.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nets = gan.nets
local nn = gan.nn

local function images(c, size)
  return gan.data.from_tensors(gan.rand(4, c, size, size) * 2 - 1, nil, { batch = 2 })
end

local function names(net)
  local out = {}
  for _, m in ipairs(net:modules()) do out[m.__name] = (out[m.__name] or 0) + 1 end
  return out
end

T.case("points: MLPs of the given width and depth", function()
  local data = gan.data.load("8gaussians", { limit = 64 })
  local opt = { nz = 7, hidden = 16, depth = 2 }
  local G, noise = nets.generator(data, opt)
  U.shape(noise(5), { 5, 7 })
  U.shape(G(noise(5)), { 5, 2 })
  local D = nets.discriminator(data, opt)
  U.shape(D(data.x:narrow(1, 1, 5)), { 5, 1 })
  T.eq(names(D).Linear, 3, "2 hidden layers and the output")
  T.eq(names(D).BatchNorm1d, nil, "no batch norm on points")
  T.eq(names(nets.discriminator(data, opt, { norm = "layer" })).LayerNorm, 2)
  T.eq(names(nets.discriminator(data, opt, { norm = "spectral" })).SpectralNorm, 3)
  U.shape(nets.discriminator(data, opt, { out = 3 })(data.x:narrow(1, 1, 2)), { 2, 3 })
end)

T.case("images: DCGAN-style convnets for each size and channel count", function()
  for _, c in ipairs({ { 1, 16 }, { 3, 32 } }) do
    local data = images(c[1], c[2])
    local opt = { nz = 8, nf = 4 }
    local G, noise = nets.generator(data, opt)
    U.shape(noise(2), { 2, 8, 1, 1 })
    local x = G(noise(2))
    U.shape(x, { 2, c[1], c[2], c[2] })
    U.truthy(x:abs():max():item() <= 1, "Tanh output")
    for _, norm in ipairs({ "batch", "layer", "spectral", "none" }) do
      local D = nets.discriminator(data, opt, { norm = norm })
      U.shape(D(x), { 2, 1 }, norm)
      local n = names(D)
      T.eq(n.BatchNorm2d ~= nil, norm == "batch", norm .. ": batch norm")
      T.eq(n.LayerNorm ~= nil, norm == "layer", norm .. ": layer norm")
      T.eq(n.SpectralNorm ~= nil, norm == "spectral", norm .. ": spectral norm")
    end
  end
  T.eq(names((nets.generator(images(1, 16), { nf = 4 }, { norm = "none" }))).BatchNorm2d, nil, "G without batch norm")
end)

T.case("features: a discriminator without its last layer, for heads of one's own", function()
  local pts = gan.data.load("8gaussians", { limit = 64, batch = 8 })
  local f, n = nets.features(pts, { hidden = 16, depth = 2 })
  T.eq(n, 16, "the hidden width")
  U.shape(f(pts:next()), { 8, 16 })
  T.eq(names(f).LeakyReLU, 2, "an activation after every layer")
  for _, size in ipairs({ 16, 32 }) do
    local data = images(3, size)
    local x = gan.rand(2, 3, size, size)
    local g, m = nets.features(data, { nf = 4 })
    T.eq(m, 4 * (size // 8) * 16, "feature maps at 4x4, flattened")
    U.shape(g(x), { 2, m })
    for _, p in ipairs(g:named_parameters()) do
      U.truthy(not p.name:match("^%d+%.bias$") or g[tonumber(p.name:match("^(%d+)"))].__name == "BatchNorm2d",
        "no conv biases under batch norm: " .. p.name)
    end
  end
  local seen = 0
  local own = nets.features(images(1, 16), { nf = 4 }, { norm = function(c, s) seen = seen + 1; return nn.LayerNorm({ c, s, s }) end })
  T.eq(seen, 1, "a norm of one's own after each layer but the first")
  U.shape(own(gan.rand(2, 1, 16, 16)), { 2, 4 * 2 * 16 })
end)

T.case("mlp: a norm function after each hidden layer, an activation and a last module", function()
  local seen = 0
  local net = nets.mlp({ 3, 5, 5, 2 }, { norm = function(n) seen = seen + 1; return nn.LayerNorm(n) end,
    act = function() return nn.ELU() end, last = nn.Tanh() })
  T.eq(seen, 2, "two hidden layers")
  T.eq(names(net).ELU, 2, "the activation asked for")
  local y = net(gan.randn(4, 3) * 10)
  U.shape(y, { 4, 2 })
  U.truthy(y:abs():max():item() <= 1, "ends in Tanh")
  T.raises(function() nets.mlp({ 3 }) end, "at least an input and an output")
  T.raises(function() nets.mlp({ 3, 1 }, { norm = "group" }) end, 'norm must be "batch", "layer"')
end)

T.case("generator: a norm of one's own and biases", function()
  local data = images(1, 16)
  local seen = 0
  local G = nets.generator(data, { nz = 8, nf = 4 }, { norm = function(c) seen = seen + 1; return nn.GroupNorm(1, c) end,
    bias = false, last_bias = false })
  T.eq(seen, 2, "a norm after each hidden layer")
  U.shape(G(gan.randn(2, 8, 1, 1)), { 2, 1, 16, 16 })
  for _, p in ipairs(G:named_parameters()) do
    U.truthy(not p.name:match("bias") or G[tonumber(p.name:match("^(%d+)"))].__name == "GroupNorm", "no conv bias: " .. p.name)
  end
  T.raises(function() nets.generator(data, {}, { norm = "layer" }) end, 'norm must be "batch", "none" or a function')
end)

T.case("errors", function()
  T.raises(function() nets.generator(images(1, 24), {}) end, "power-of-two size from 16")
  T.raises(function() nets.discriminator(images(1, 8), {}) end, "power-of-two size from 16")
  T.raises(function() nets.discriminator(images(1, 16), {}, { norm = "group" }) end, 'norm must be "batch", "layer"')
end)

T.run()
