-- gan.backbones: the shared generator and discriminator bodies, for points
-- and images: shapes, output range, norms, errors.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn, B = gan.nn, gan.backbones

gan.manual_seed(2)

local function images(c, size) return gan.data.from_tensors(gan.rand(4, c, size, size) * 2 - 1, nil, { batch = 2 }) end

T.case("points: MLPs of the asked widths", function()
  local data = gan.data.toy("8gaussians", { limit = 64, batch = 8 })
  local G = B.generator(data, { nz = 3, hidden = 16, layers = 2 })
  local z = B.noise(data, 3)(5)
  U.shape(z, { 5, 3 })
  U.shape(G(z), { 5, 2 })
  U.equal(#G:parameters(), 6, "three Linear layers")
  local f, n = B.features(data, { hidden = 16, layers = 2 })
  U.equal(n, 16)
  U.shape(f(data:next()), { 8, 16 })
  local D = B.discriminator(data, { hidden = 16, out = 3 })
  U.shape(D(data:next()), { 8, 3 })
  local u = B.noise(data, 4, "uniform")(100)
  U.truthy(u:min():item() >= -1 and u:max():item() <= 1, "uniform noise in [-1, 1]")
end)

T.case("images: DCGAN networks at 16 and 32 pixels", function()
  for _, size in ipairs({ 16, 32 }) do
    local data = images(3, size)
    local G = B.generator(data, { nz = 10, nf = 4 })
    local x = G(B.noise(data, 10)(2))
    U.shape(x, { 2, 3, size, size })
    U.truthy(x:abs():max():item() <= 1, "Tanh output")
    local f, n = B.features(data, { nf = 4 })
    U.equal(n, 4 * (size // 8) * 16, "feature maps at 4x4, flattened")
    U.shape(f(x), { 2, n })
    U.shape(B.discriminator(data, { nf = 4 })(x), { 2, 1 })
  end
end)

T.case("images: norm none, a norm of one's own, and errors", function()
  local data = images(1, 16)
  local plain = B.generator(data, { nz = 8, nf = 4, norm = "none" })
  for _, m in ipairs(plain:modules()) do U.truthy(not m.__name:match("Norm"), "no norm layers") end
  local seen = 0
  local G = B.generator(data, { nz = 8, nf = 4, norm = function(c) seen = seen + 1; return nn.GroupNorm(1, c) end })
  U.equal(seen, 2, "a norm after each hidden layer")
  U.shape(G(gan.randn(2, 8, 1, 1)), { 2, 1, 16, 16 })
  T.raises(function() B.generator(images(1, 20), {}) end, "--size must be a power of two >= 16, got 20")
  T.raises(function() B.features(data, { norm = "group" }) end, "unknown norm 'group'")
  T.raises(function() B.mlp({ 3 }) end, "at least an input and an output")
end)

T.run()
