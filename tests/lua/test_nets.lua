-- gan.nets: the shared generator and discriminator families.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nets = gan.nets

local function images(c, size)
  return gan.data.from_tensors(gan.rand(4, c, size, size) * 2 - 1, nil, { batch = 2 })
end

local function names(net)
  local out = {}
  for _, m in ipairs(net:modules()) do out[m.__name] = (out[m.__name] or 0) + 1 end
  return out
end

T.case("points: MLPs of the given width and depth", function()
  local data = gan.data.toy("8gaussians", { limit = 64 })
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

T.case("errors", function()
  T.raises(function() nets.generator(images(1, 24), {}) end, "power-of-two size from 16")
  T.raises(function() nets.discriminator(images(1, 8), {}) end, "power-of-two size from 16")
  T.raises(function() nets.discriminator(images(1, 16), {}, { norm = "group" }) end, "norm must be batch, layer")
end)

T.run()
