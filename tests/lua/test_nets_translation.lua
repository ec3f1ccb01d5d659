-- gan.nets.resnet, gan.nets.unet, gan.nets.patch: the ResNet and U-Net generators and the PatchGAN
-- discriminator: shapes, parameter counts against the reference PyTorch
-- implementation (pytorch-CycleGAN-and-pix2pix), receptive fields, dropout.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn

-- A network's parameter count is a quadratic in nf (weights nf^2 and nf,
-- biases nf and constant): three small builds give it exactly at nf = 64
-- without allocating tens of millions of weights.
local function count_at_64(build)
  local p1, p2, p3 = build(1):num_parameters(), build(2):num_parameters(), build(3):num_parameters()
  local a2 = p3 - 2 * p2 + p1 -- 2a
  local b = p2 - p1 - 3 * a2 // 2
  local c = p1 - a2 // 2 - b
  U.equal(a2 % 2, 0, "an integer quadratic")
  local function at(n) return a2 // 2 * n * n + b * n + c end
  U.equal(at(4), build(4):num_parameters(), "the quadratic holds at nf = 4")
  return at(64)
end

T.case("ResnetGenerator: shapes, range, parameter count of the 9-block reference", function()
  gan.manual_seed(1)
  local G = gan.nets.resnet.Generator(1, 1, { nf = 8, blocks = 2 })
  local y = G(gan.randn(2, 1, 32, 32))
  U.shape(y, { 2, 1, 32, 32 })
  U.truthy(y:abs():max():item() <= 1, "Tanh output")
  U.shape(gan.nets.resnet.Generator(3, 3, { nf = 4, blocks = 1 })(gan.randn(1, 3, 64, 48)), { 1, 3, 64, 48 })
  U.shape(gan.nets.resnet.Generator(3, 1, { nf = 4, blocks = 0, downs = 3 })(gan.randn(1, 3, 16, 16)), { 1, 1, 16, 16 })
  -- CycleGAN's resnet_9blocks, ngf 64, 3 -> 3: "Total number of parameters : 11.378 M"
  U.equal(count_at_64(function(nf) return gan.nets.resnet.Generator(3, 3, { nf = nf, blocks = 9 }) end), 11378179)
  -- resnet_6blocks (128 px)
  U.equal(count_at_64(function(nf) return gan.nets.resnet.Generator(3, 3, { nf = nf, blocks = 6 }) end), 7837699)
  -- batch norm: no conv biases, but norm weights and biases
  local n_in = gan.nets.resnet.Generator(1, 1, { nf = 4, blocks = 1 }):num_parameters()
  local n_bn = gan.nets.resnet.Generator(1, 1, { nf = 4, blocks = 1, norm = "batch" }):num_parameters()
  U.equal(n_bn - n_in, (4 + 8 + 16 + 16 + 16 + 8 + 4) * 2 - (4 + 8 + 16 + 16 + 16 + 8 + 4), "norm params minus biases")
  T.raises(function() gan.nets.resnet.Generator(1, 1, { norm = "layer" }) end, "norm must be")
end)

T.case("ResnetBlock: reflection padding treats the border like the centre", function()
  gan.manual_seed(2)
  local x = gan.full({ 1, 4, 8, 8 }, 0.3)
  local y = gan.nets.resnet.Block(4, { norm = "none" })(x)
  -- no zeros come in at the edges: every pixel of a constant input sees the same neighbourhood
  U.truthy((y - y:mean(3, true):mean(4, true)):abs():max():item() < 1e-5, "constant planes")
  local z = gan.nets.resnet.Block(4, { norm = "none", padding = "zeros" })(x)
  U.truthy((z - z:mean(3, true):mean(4, true)):abs():max():item() > 1e-4, "zero padding shows at the borders")
  U.shape(gan.nets.resnet.Block(4, { dropout = 0.5 })(x), { 1, 4, 8, 8 })
end)

T.case("UnetGenerator: shapes, skip connections, parameter count of unet_256", function()
  gan.manual_seed(3)
  local G = gan.nets.unet.Generator(1, 1, 5, { nf = 8 })
  U.shape(G(gan.randn(4, 1, 32, 32)), { 4, 1, 32, 32 })
  U.shape(gan.nets.unet.Generator(3, 2, 6, { nf = 2 })(gan.randn(2, 3, 64, 64)), { 2, 2, 64, 64 })
  T.raises(function() G(gan.randn(2, 1, 24, 24)) end, "divisible by 2^downs = 32")
  T.raises(function() gan.nets.unet.Generator(1, 1, 4) end, "downs must be a whole number >= 5")
  -- pix2pix's unet_256 (8 levels, ngf 64, batch norm, 3 -> 3): 54,413,955 ("54.414 M")
  U.equal(count_at_64(function(nf) return gan.nets.unet.Generator(3, 3, 8, { nf = nf }) end), 54413955)
  -- the outermost level sees the input directly: a change in one corner pixel
  -- reaches the output's same corner through the skip path only
  local x = gan.randn(1, 1, 32, 32):requires_grad(true)
  local y = G:eval()(x)
  local g = gan.grad(y:narrow(3, 1, 1):narrow(4, 1, 1):sum(), x)
  U.truthy(g:abs():sum():item() > 0, "gradient flows")
end)

T.case("UnetGenerator: dropout is the noise; levels as in the reference", function()
  gan.manual_seed(4)
  local x = gan.randn(2, 1, 32, 32)
  local G0 = gan.nets.unet.Generator(1, 1, 5, { nf = 4 })
  U.equal(U.maxdiff(G0(x), G0(x)), 0, "no dropout at 5 levels by default: deterministic")
  local G = gan.nets.unet.Generator(1, 1, 5, { nf = 4, dropout = 2 })
  local drops = 0
  for _, m in ipairs(G:modules()) do if m.__name == "Dropout" then drops = drops + 1 end end
  U.equal(drops, 2)
  U.truthy(U.maxdiff(G(x), G(x)) > 1e-4, "two samples differ in training mode")
  G:eval()
  U.equal(U.maxdiff(G(x), G(x)), 0, "evaluation mode: no dropout")
  local ref = gan.nets.unet.Generator(3, 3, 8, { nf = 1 })
  drops = 0
  for _, m in ipairs(ref:modules()) do if m.__name == "Dropout" then drops = drops + 1 end end
  U.equal(drops, 3, "unet_256 has dropout in its 3 inner 8nf levels")
  T.raises(function() gan.nets.unet.Generator(1, 1, 5, { dropout = 4 }) end, "dropout (levels) must be a whole number in [0, 3]")
end)

T.case("PatchDiscriminator: 30x30 logits at 256 px, parameter counts of the reference", function()
  gan.manual_seed(5)
  U.shape(gan.nets.patch.Discriminator(3, { nf = 2 })(gan.randn(1, 3, 256, 256)), { 1, 1, 30, 30 })
  U.shape(gan.nets.patch.Discriminator(1, { nf = 4, n_layers = 2 })(gan.randn(2, 1, 32, 32)), { 2, 1, 6, 6 })
  -- CycleGAN's basic D (3 in, instance norm): "2.765 M"; pix2pix's (3 + 3 in, batch norm): "2.769 M"
  U.equal(gan.nets.patch.Discriminator(3, { nf = 64, norm = "instance" }):num_parameters(), 2764737)
  U.equal(gan.nets.patch.Discriminator(6, { nf = 64, norm = "batch" }):num_parameters(), 2768705)
end)

T.case("receptive fields: 70, 34 and 16 pixels, measured by gradients", function()
  U.equal(gan.nets.receptive_field(gan.nets.patch.Discriminator(3, { n_layers = 3, nf = 1 })), 70)
  U.equal(gan.nets.receptive_field(gan.nets.patch.Discriminator(3, { n_layers = 2, nf = 1 })), 34)
  U.equal(gan.nets.receptive_field(gan.nets.patch.Discriminator(3, { n_layers = 1, nf = 1 })), 16)
  gan.manual_seed(6)
  for _, case in ipairs({ { 3, 70 }, { 2, 34 }, { 1, 16 } }) do
    -- without norm layers, one logit depends on exactly its patch
    local D = gan.nets.patch.Discriminator(1, { nf = 2, n_layers = case[1], norm = "none" })
    local x = gan.randn(1, 1, 96, 96):requires_grad(true)
    local y = D(x)
    local h = y:size(3)
    local c = h // 2 + 1
    local g = gan.grad(y:narrow(3, c, 1):narrow(4, c, 1):sum(), x):abs():reshape(96, 96)
    local rows = g:sum(2):gt(0):sum():item()
    local cols = g:sum(1):gt(0):sum():item()
    U.equal(rows, case[2], ("n_layers %d: rows seen"):format(case[1]))
    U.equal(cols, case[2], ("n_layers %d: columns seen"):format(case[1]))
  end
end)

T.case("Pad2d: reflection like PyTorch's ReflectionPad2d", function()
  local x = gan.tensor { { { { 1, 2, 3 }, { 4, 5, 6 } } } }
  local y = nn.Pad2d({ 2, 1, 1, 0 })(x)
  U.tclose(y, { { { { 6, 5, 4, 5, 6, 5 }, { 3, 2, 1, 2, 3, 2 }, { 6, 5, 4, 5, 6, 5 } } } })
end)

T.case("a code tiled in constant planes reaches the ResNet generator's output only with zero padding", function()
  -- StarGAN's conditioning: instance norm removes what the constant planes add after the first
  -- convolution, except where zero padding breaks the constancy at the borders
  local x = gan.randn(1, 1, 16, 16)
  local function with_code(k)
    local code = gan.zeros(1, 2, 16, 16)
    code:narrow(2, k, 1):fill_(1)
    return gan.cat({ x, code }, 2)
  end
  for _, pad in ipairs({ "zeros", "reflect" }) do
    gan.manual_seed(3)
    local G = gan.nets.resnet.Generator(3, 1, { nf = 4, blocks = 1, padding = pad })
    local d = U.maxdiff(G(with_code(1)), G(with_code(2)))
    if pad == "zeros" then U.truthy(d > 1e-3, "zeros: the code changes the output by " .. d)
    else U.truthy(d < 1e-5, "reflect: the code is erased (difference " .. d .. ")") end
  end
end)

T.run()
