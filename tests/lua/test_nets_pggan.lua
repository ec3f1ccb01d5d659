-- gan.nets.pggan: the growing generator and discriminator at every
-- resolution and alpha; alpha 0 and 1 are exactly the lower and the higher
-- networks; the fused resampling convs against their unfused definitions;
-- the real images' fade; the growing schedule; first and second derivatives.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn, pggan = gan.nn, gan.nets.pggan

-- channels 16 at 4x4, 8 at 8x8, 4 at 16x16; the dense layer of D's epilogue 16
local SMALL = { channel_base = 64, channel_max = 16 }

T.case("channels: min(channel_base / r, channel_max); parameters named and counted", function()
  U.equal(pggan.channels(4), 512, "official: 512 up to 32x32")
  U.equal(pggan.channels(64), 256, "official: 256 at 64x64")
  U.equal(pggan.channels(1024), 16, "official: 16 at 1024x1024")
  U.equal(pggan.channels(16, { channel_base = 512, channel_max = 128 }), 32)
  gan.manual_seed(1)
  local G = pggan.Generator(8, 1, 16, SMALL)
  local D = pggan.Discriminator(1, 16, SMALL)
  local names = {}
  for _, e in ipairs(G:named_parameters()) do names[#names + 1] = e.name end
  U.equal(table.concat(names, " "), "b4.bias b4.dense.weight b4.conv.weight b4.conv.bias torgb4.weight torgb4.bias " ..
    "b8.conv0.weight b8.conv0.bias b8.conv1.weight b8.conv1.bias torgb8.weight torgb8.bias b16.conv0.weight " ..
    "b16.conv0.bias b16.conv1.weight b16.conv1.bias torgb16.weight torgb16.bias")
  -- by hand: dense 8 x 256, bias 16, conv 16x16x9+16, torgb 17; 8x8: 16x8x9+8, 8x8x9+8, 9; 16x16: 8x4x9+4, 4x4x9+4, 5
  U.equal(G:num_parameters(), 2048 + 16 + 2320 + 17 + 1160 + 584 + 9 + 292 + 148 + 5)
  -- fromRGB 8, 16, 32; blocks 148 + 296, 584 + 1168; epilogue conv 17x16x9+16, fc 256x16+16, out 17
  U.equal(D:num_parameters(), 8 + 148 + 296 + 16 + 584 + 1168 + 32 + 2464 + 4112 + 17)
  -- the He gain in the weights, plain LeakyReLU after: PGGAN's placement
  local r2 = math.sqrt(2)
  U.close(G.b8.conv1.weight_gain, r2 / math.sqrt(8 * 9), 1e-12)
  U.equal(G.b8.conv1.act_gain, 1)
  U.close(G.b4.dense.weight_gain, r2 / 4 / math.sqrt(8), 1e-12, "the dense layer's gain sqrt(2) / 4")
  U.close(G.torgb16.weight_gain, 1 / 2, 1e-12, "toRGB: gain 1")
  U.close(D.b4.conv.weight_gain, r2 / math.sqrt(17 * 9), 1e-12)
  U.equal(D.b4.fc.act_gain, 1)
  U.close(D.b4.out.weight_gain, 1 / 4, 1e-12, "the score: gain 1")
end)

T.case("shapes at every resolution and alpha", function()
  gan.manual_seed(2)
  local G = pggan.Generator(8, 3, 16, SMALL)
  local D = pggan.Discriminator(3, 16, SMALL)
  for _, res in ipairs({ 4, 8, 16 }) do
    for _, alpha in ipairs({ 0, 0.3, 1 }) do
      local img = G(gan.randn(4, 8), res, alpha)
      U.shape(img, { 4, 3, res, res }, ("G at %d, alpha %g"):format(res, alpha))
      U.shape(D(img, res, alpha), { 4, 1 }, ("D at %d, alpha %g"):format(res, alpha))
      U.shape(pggan.reals(gan.randn(4, 3, 16, 16), res, alpha), { 4, 3, res, res })
    end
  end
  U.shape(G(gan.randn(2, 8, 1, 1)), { 2, 3, 16, 16 }, "z as (N, nz, 1, 1); the final resolution by default")
  U.raises(function() G(gan.randn(2, 8), 12) end, "res must be a power of two from 4 to 16")
  U.raises(function() G(gan.randn(2, 8), 32) end, "res must be a power of two from 4 to 16")
  U.raises(function() G(gan.randn(2, 8), 8, 1.5) end, "alpha must be in [0, 1]")
  U.raises(function() D(gan.randn(2, 3, 16, 16), 8) end, "expected images (N, 3, 8, 8)")
  U.raises(function() pggan.Generator(8, 1, 24) end, "a power of two >= 4")
  U.raises(function() pggan.reals(gan.randn(2, 1, 12, 12), 8) end, "cannot be pooled to 8x8")
end)

T.case("alpha 0 is exactly the lower resolution's network, alpha 1 exactly the higher one's", function()
  gan.manual_seed(3)
  local G = pggan.Generator(8, 1, 16, SMALL)
  local D = pggan.Discriminator(1, 16, SMALL)
  local z = gan.randn(4, 8)
  gan.no_grad(function()
    for _, res in ipairs({ 8, 16 }) do
      local low = G(z, res // 2, 1)
      U.equal(U.maxdiff(G(z, res, 0), low:upsample({ scale = 2 })), 0, "G at alpha 0: the lower image, upsampled")
      -- alpha 1: toRGB of the last block alone
      local x, r = G.b4(z), 8
      while r <= res do
        x, r = G["b" .. r](x), r * 2
      end
      U.equal(U.maxdiff(G(z, res, 1), G["torgb" .. res](x)), 0, "G at alpha 1: the new block's image")
      local between = G(z, res, 0.25)
      U.truthy(U.maxdiff(between, low:upsample({ scale = 2 }) * 0.75 + G(z, res, 1) * 0.25) < 1e-5, "a blend")

      local img = gan.randn(4, 1, res, res)
      U.equal(U.maxdiff(D(img, res, 0), D(img:avg_pool2d(2), res // 2, 1)), 0, "D at alpha 0: the lower network")
      local y, q = D["fromrgb" .. res](img), res
      while q > 4 do
        y, q = D["b" .. q](y), q // 2
      end
      y = D.b4(y)
      U.equal(U.maxdiff(D(img, res, 1), y), 0, "D at alpha 1: the new block alone")
      U.truthy(U.maxdiff(D(img, res, 0.999), D(img, res, 1)) < 1e-3, "continuous in alpha")
    end
  end)
end)

T.case("the real images at a fractional resolution", function()
  gan.manual_seed(4)
  local x = gan.randn(2, 1, 16, 16)
  local at8 = x:avg_pool2d(2)
  U.equal(U.maxdiff(pggan.reals(x, 8, 1), at8), 0, "alpha 1: average-pooled to 8x8")
  U.equal(U.maxdiff(pggan.reals(x, 8), at8), 0, "alpha defaults to 1")
  local low = at8:avg_pool2d(2):upsample({ scale = 2 })
  U.equal(U.maxdiff(pggan.reals(x, 8, 0), low), 0, "alpha 0: the 4x4 version, upsampled")
  U.truthy(U.maxdiff(pggan.reals(x, 8, 0.4), low * 0.6 + at8 * 0.4) < 1e-6, "between: a blend")
  U.equal(U.maxdiff(pggan.reals(x, 16, 1), x), 0, "the final resolution: the images")
  U.equal(U.maxdiff(pggan.reals(x, 4, 0.5), x:avg_pool2d(4)), 0, "4x4 never fades")
end)

T.case("FusedScaleConv2d: an upsample then a conv, a conv then a pool, as one strided conv each", function()
  gan.manual_seed(5)
  local up = pggan.FusedScaleConv2d(3, 5, "up")
  local down = pggan.FusedScaleConv2d(3, 5, "down")
  gan.no_grad(function()
    up.bias:copy_(gan.randn(5))
    down.bias:copy_(gan.randn(5))
  end)
  local plain = { gain = math.sqrt(2), activation = "lrelu", act_gain = 1 }
  local ref = nn.EqualizedConv2d(3, 5, 3, plain)
  local x = gan.randn(2, 3, 6, 6)
  gan.no_grad(function()
    ref.weight:copy_(up.weight)
    ref.bias:copy_(up.bias)
    U.shape(up(x), { 2, 5, 12, 12 })
    U.truthy(U.maxdiff(up(x), ref(x:upsample({ scale = 2 }))) < 1e-5, "up: nearest 2x, then the 3x3 conv")
    ref.weight:copy_(down.weight)
    U.shape(down(x), { 2, 5, 3, 3 })
    local pooled = x:conv2d(ref:effective_weight(), nil, { padding = 1 }):avg_pool2d(2)
    U.truthy(U.maxdiff(down(x), nn.bias_act(pooled, down.bias, { act = "lrelu", gain = 1 })) < 1e-5,
      "down: the 3x3 conv, a 2x2 average pool, then bias and LeakyReLU")
  end)
  U.equal(tostring(up), "FusedScaleConv2d(3, 5, kernel_size=3, up)")
  U.raises(function() pggan.FusedScaleConv2d(3, 5, "sideways") end, "scale must be \"up\" or \"down\"")
end)

T.case("Growth: phases in images shown, alpha, the phase that ended, state", function()
  local g = pggan.Growth { resolution = 16, stabilize = 4, fade = 2 }
  local seen = {}
  for n = 0, 20 do
    local phase, res, alpha = g:at(n)
    seen[#seen + 1] = ("%d:%d/%g"):format(phase, res, alpha)
  end
  U.equal(table.concat(seen, " "), "0:4/1 0:4/1 0:4/1 0:4/1 1:8/0 1:8/0.5 2:8/1 2:8/1 2:8/1 2:8/1 " ..
    "3:16/0 3:16/0.5 4:16/1 4:16/1 4:16/1 4:16/1 4:16/1 4:16/1 4:16/1 4:16/1 4:16/1")
  U.equal(g:grown(), 12, "16x16 has faded in after 2 x (4 + 2) images")
  U.equal(g:advance(3), nil, "still stabilising at 4x4")
  local ended = g:advance(2)
  U.equal(ended.phase, 0)
  U.equal(ended.res, 4)
  U.truthy(ended.stabilized, "4x4's stabilisation ended")
  U.equal(select(2, g:current()), 0.5, "8x8 half faded in")
  ended = g:advance(1)
  U.truthy(ended and ended.res == 8 and not ended.stabilized, "8x8's fade-in ended")
  local h = pggan.Growth { resolution = 16, stabilize = 4, fade = 2 }
  h:load_state_dict({ nimg = tostring(g:state_dict().nimg) })
  U.equal(h.nimg, 6, "the images shown, through text as from a checkpoint")
  U.equal(select(1, h:current()), 8)
  local none = pggan.Growth { resolution = 16, start = 16, stabilize = 0, fade = 0 }
  U.equal(select(1, none:current()), 16, "start at the final resolution: no growing")
  U.raises(function() pggan.Growth { resolution = 16, stabilize = 1.5, fade = 2 } end, "stabilize must be a count")
  U.raises(function() pggan.Growth { resolution = 16, start = 6, stabilize = 1, fade = 1 } end, "start must be a power")
  U.raises(function() h:load_state_dict({ nimg = "x" }) end, "nimg must be an integer")
end)

T.case("first and second derivatives (WGAN-GP differentiates through D) by finite differences", function()
  gan.manual_seed(6)
  -- tanh for LeakyReLU: finite differences jump at its kink
  local tiny = { channel_base = 32, channel_max = 8, mbstd_group = 2, activation = "tanh" }
  local G = pggan.Generator(3, 1, 8, tiny)
  local D = pggan.Discriminator(1, 8, tiny)
  local z = gan.randn(2, 3)
  local x = gan.randn(2, 1, 8, 8):requires_grad(true)
  local r = gan.randn(2, 1, 8, 8)
  U.gradcheck(function() return (G(z, 8, 0.6) * r):sum() end, G:parameters(), { points = 3, eps = 1e-3, name = "G" })
  U.gradcheck(function() return D(x, 8, 0.6):sum() end, { x, table.unpack(D:parameters()) },
    { points = 3, eps = 1e-3, name = "D" })
  -- the penalty's shape: |grad_x D(x)|^2, differentiated by D's weights and by x
  local params = D:parameters()
  local some = { x, params[1], params[3], params[5], params[#params - 2], params[#params - 1] }
  U.gradcheck(function()
    local g = gan.grad(D(x, 8, 0.6):sum(), x, { create_graph = true })
    return g:square():sum()
  end, some, { points = 3, eps = 1e-3, name = "second order" })
end)

T.run()
