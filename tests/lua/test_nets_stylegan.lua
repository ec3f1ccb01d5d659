-- gan.nets.stylegan: StyleGAN's generator and its fixed-resolution
-- discriminator: shapes, num_ws and names; AdaIN's per-channel statistics
-- against the style; the noise inputs; style mixing and truncation; the
-- gradient against finite differences.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn, sg = gan.nn, gan.nets.stylegan


local SMALL = { channel_base = 64, channel_max = 16, mapping_layers = 2 }

-- per-channel mean and standard deviation of (N, C, H, W), by loops over the numbers
local function channel_stats(t)
  local v = t:totable()
  local out = {}
  for n = 1, #v do
    out[n] = {}
    for c = 1, #v[n] do
      local s, s2, k = 0, 0, 0
      for _, row in ipairs(v[n][c]) do
        for _, a in ipairs(row) do s, s2, k = s + a, s2 + a * a, k + 1 end
      end
      local mean = s / k
      out[n][c] = { mean = mean, std = math.sqrt(math.max(s2 / k - mean * mean, 0)) }
    end
  end
  return out
end

T.case("shapes, num_ws, the layers of each resolution, parameter names", function()
  gan.manual_seed(1)
  local G = sg.Generator(16, 12, 32, 1, SMALL)
  U.equal(G.num_ws, 8, "2 log2(32) - 2 ws")
  U.equal(sg.Generator(16, 12, 16, 3, SMALL).num_ws, 6)
  U.equal(sg.Generator(16, 12, 4, 1, SMALL).num_ws, 2, "4x4: the constant's layer and one conv")
  local z = gan.randn(3, 16)
  U.shape(G(z), { 3, 1, 32, 32 })
  U.shape(G.mapping(z), { 3, 8, 12 })
  U.shape(sg.Generator(16, 12, 16, 3, SMALL)(z), { 3, 3, 16, 16 })
  local a, b = G:layers(4, 8)
  U.equal(a .. "-" .. b, "1-4", "coarse: 4x4 and 8x8")
  a, b = G:layers(16)
  U.equal(a .. "-" .. b, "5-6", "middle: 16x16")
  a, b = G:layers(32)
  U.equal(a .. "-" .. b, "7-8", "fine: 32x32")
  U.raises(function() G:layers(64) end, "not a range of resolutions")
  local names = {}
  for _, e in ipairs(G:named_parameters()) do names[e.name] = table.concat(e.tensor:shape(), "x") end
  U.equal(names["synthesis.b4.const"], "1x16x4x4")
  U.equal(names["synthesis.b8.conv0.weight"], "8x16x3x3", "the upsampling conv: 16 maps at 4x4, 8 at 8x8")
  U.equal(names["synthesis.b8.conv0.bias"], nil, "no bias in the conv: the epilogue's")
  U.equal(names["synthesis.b32.epi1.noise.strength"], "2", "one strength per channel (32x32: 64 / 32 maps)")
  U.equal(names["synthesis.b16.epi0.adain.style.weight"], "8x12", "AdaIN's affine map: 2C outputs")
  U.equal(names["synthesis.torgb.weight"], "1x2x1x1")
  U.equal(names["synthesis.b4.conv.weight"], "16x16x3x3")
  U.equal(names["synthesis.b32.torgb.weight"], nil, "one ToRGB, at the last resolution")
  for _, e in ipairs(G.synthesis:named_parameters()) do
    if e.name:match("const$") then U.equal(U.maxdiff(e.tensor, gan.ones(e.tensor:shape())), 0, "constant from ones") end
    if e.name:match("strength$") then U.equal(U.maxdiff(e.tensor, gan.zeros(e.tensor:shape())), 0, "strength from 0") end
  end
  U.truthy(G.synthesis.b8.blur and not G.synthesis.b4.blur, "a blur after the upsampling conv")
  U.raises(function() G.synthesis(gan.randn(3, 7, 12)) end, "expected ws of shape (N, 8, 12)")
end)

T.case("a layer: conv, noise, bias, lrelu, then AdaIN; after AdaIN each channel has the style's mean and std", function()
  gan.manual_seed(2)
  local G = sg.Generator(16, 12, 16, 1, SMALL)
  for _, p in ipairs(G:parameters()) do
    if p:dim() == 1 then gan.no_grad(function() p:copy_(gan.randn(p:shape()) * 0.3) end) end
  end
  nn.set_noise_mode(G, "const")
  local trace = {}
  local ws = G.mapping(gan.randn(4, 16))
  G.synthesis(ws, { trace = trace })
  U.equal(#trace, 6, "a table per layer")
  -- the epilogue by hand on layer 3 (8x8's first)
  local t, epi = trace[3], G.synthesis.b8.epi0
  U.equal(t.resolution, 8)
  local c = t.conv:size(2)
  local want = (t.conv + epi.noise.noise_const * epi.noise.strength:reshape(1, c, 1, 1) + epi.bias:reshape(1, c, 1, 1))
    :leaky_relu(0.2)
  U.truthy(U.maxdiff(t.features, want) < 1e-5, "noise, bias, lrelu")
  for i, tr in ipairs(trace) do
    -- the style from w by another way: y = w A^T / sqrt(w_dim) + b, scale 1 + y[1..C], shift y[C+1..2C]
    local ada = (i % 2 == 1 and G.synthesis["b" .. tr.resolution].epi0 or G.synthesis["b" .. tr.resolution].epi1).adain
    local ch = ada.channels
    local y = (ws:select(2, i):matmul(ada.style.weight:t()) / math.sqrt(12) + ada.style.bias):totable()
    local before, after = channel_stats(tr.features), channel_stats(tr.out)
    for n = 1, 4 do
      for k = 1, ch do
        local scale, shift = 1 + y[n][k], y[n][ch + k]
        U.close(after[n][k].mean, shift, 2e-4, ("layer %d sample %d channel %d: mean = the style's bias"):format(i, n, k))
        local v = before[n][k].std ^ 2
        U.close(after[n][k].std, math.abs(scale) * math.sqrt(v / (v + 1e-8)), 2e-3 * math.max(1, math.abs(scale)),
          ("layer %d sample %d channel %d: std = |the style's scale|"):format(i, n, k))
      end
    end
    local sc, sh = ada:styles(ws:select(2, i))
    U.truthy(U.maxdiff(sc, tr.scale) < 1e-6 and U.maxdiff(sh, tr.shift) < 1e-6, "the trace's style")
  end
end)

T.case("noise: strength 0 makes it irrelevant, a nonzero strength makes it matter", function()
  gan.manual_seed(3)
  local G = sg.Generator(16, 12, 16, 1, SMALL)
  local ws = G.mapping(gan.randn(2, 16))
  local ref = G.synthesis(ws, { noise = "none" })
  U.equal(U.maxdiff(G.synthesis(ws, { noise = "random" }), ref), 0, "strength 0: random noise changes nothing")
  U.equal(U.maxdiff(G.synthesis(ws, { noise = "const" }), ref), 0, "strength 0: nor the const noise")
  for _, m in ipairs(G:modules()) do
    if m.__name == "NoiseInjection" then m.strength:fill_(0.5) end
  end
  local a, b = G.synthesis(ws, { noise = "random" }), G.synthesis(ws, { noise = "random" })
  U.truthy(U.maxdiff(a, b) > 1e-2, "strength 0.5: two draws of the noise give two images")
  U.truthy(U.maxdiff(G.synthesis(ws, { noise = "none" }), ref) == 0, "none is the noiseless image")
  U.truthy(U.maxdiff(G.synthesis(ws, { noise = "const" }), ref) > 1e-2, "the const noise changes it")
  U.equal(U.maxdiff(G.synthesis(ws, { noise = "const" }), G.synthesis(ws, { noise = "const" })), 0,
    "the const noise is the same every call")
  -- only the finest layer noisy: only the finest layer's features change
  for _, m in ipairs(G:modules()) do
    if m.__name == "NoiseInjection" then m.strength:fill_(0) end
  end
  G.synthesis.b16.epi1.noise.strength:fill_(1)
  local t1, t2 = {}, {}
  G.synthesis(ws, { noise = "random", trace = t1 })
  G.synthesis(ws, { noise = "random", trace = t2 })
  for i = 1, 5 do U.equal(U.maxdiff(t1[i].out, t2[i].out), 0, ("layer %d untouched"):format(i)) end
  U.truthy(U.maxdiff(t1[6].out, t2[6].out) > 1e-2, "the last layer's features change")
end)

T.case("style mixing: with cutoff k, ws 1..k from one z and the rest from the other", function()
  gan.manual_seed(4)
  local G = sg.Generator(16, 12, 32, 1, SMALL)
  G:eval()
  local za, zb = gan.randn(3, 16), gan.randn(3, 16)
  local wa, wb = G.mapping(za), G.mapping(zb)
  for k = 1, 7 do
    local mixed = nn.MappingNetwork.copy_styles(wa, wb, k + 1)
    local trace = {}
    G.synthesis(mixed, { noise = "none", trace = trace })
    for i = 1, 8 do
      local block = G.synthesis["b" .. trace[i].resolution]
      local ada = (i % 2 == 1 and block.epi0 or block.epi1).adain
      local src = i <= k and wa or wb
      local sc = ada:styles(src:select(2, i))
      U.truthy(U.maxdiff(trace[i].scale, sc) < 1e-6, ("cutoff %d: layer %d's style comes from %s"):format(k, i,
        i <= k and "the first z" or "the second"))
    end
  end
  -- mix() draws the coin, the cutoff and the second z from "style.mixing": replayed by hand
  local ws = G.mapping(za)
  local seen = {}
  for _ = 1, 40 do
    local state = gan.random.state()
    local mixed, cutoff = G.mapping:mix(ws, za, { prob = 0.9 })
    gan.random.set_state(state)
    local s = gan.random.stream("style.mixing")
    local u = s:rand(2):totable()
    local z2 = s:randn(3, 16)
    if u[1] >= 0.9 then
      U.equal(cutoff, 8, "no mixing: cutoff = num_ws")
      U.equal(U.maxdiff(mixed, ws), 0)
    else
      U.truthy(cutoff >= 1 and cutoff <= 7, "cutoff in [1, num_ws - 1]")
      seen[cutoff] = true
      local want = nn.MappingNetwork.copy_styles(ws, G.mapping(z2), cutoff + 1)
      U.truthy(U.maxdiff(mixed, want) < 1e-6, "ws 1..cutoff from z, the rest from the stream's z")
      U.truthy(U.maxdiff(mixed:narrow(2, 1, cutoff), ws:narrow(2, 1, cutoff)) == 0, "the first cutoff ws kept")
    end
  end
  local n = 0
  for _ in pairs(seen) do n = n + 1 end
  U.truthy(n >= 4, ("40 draws saw %d cutoffs"):format(n))
  U.raises(function() nn.MappingNetwork.copy_styles(wa, wb, 0) end, "not a range")
  U.shape(nn.MappingNetwork.copy_styles(wa, wb:narrow(1, 1, 1), 1, 4), { 3, 8, 12 }, "one source for every row")
end)

T.case("truncation in W: psi 0 gives the average image, a cutoff truncates only the coarse ws", function()
  gan.manual_seed(5)
  local G = sg.Generator(16, 12, 16, 1, SMALL)
  G.mapping.w_avg:copy_(gan.randn(12))
  G:eval()
  local z = gan.randn(3, 16)
  local img = G(z, { psi = 0, noise = "none" })
  U.truthy(U.maxdiff(img:narrow(1, 1, 1):expand(3, 1, 16, 16), img) < 1e-5, "psi 0: every z the same image")
  local ws = G.mapping(z, { psi = 0.5, cutoff = 2 })
  local full = G.mapping(z)
  local avg = G.mapping.w_avg:reshape(1, 1, 12)
  U.truthy(U.maxdiff(ws:narrow(2, 1, 2), avg + (full:narrow(2, 1, 2) - avg) * 0.5) < 1e-5, "the first two truncated")
  U.truthy(U.maxdiff(ws:narrow(2, 3, 4), full:narrow(2, 3, 4)) < 1e-6, "the rest untouched")
end)

T.case("first-order gradients of a tiny StyleGAN against finite differences", function()
  gan.manual_seed(6)
  -- smooth activations and the const noise: a differentiable, deterministic function
  local G = sg.Generator(4, 4, 8, 1, { channel_base = 16, channel_max = 3, mapping_layers = 2, activation = "tanh",
    mapping_activation = "tanh" })
  for _, m in ipairs(G:modules()) do
    if m.__name == "NoiseInjection" then m.strength:copy_(gan.randn(m.strength:shape()) * 0.3) end
  end
  nn.set_noise_mode(G, "const")
  local z = gan.randn(2, 4)
  local r = gan.randn(2, 1, 8, 8)
  local params = {}
  for _, e in ipairs(G:named_parameters()) do params[#params + 1] = e.tensor end
  U.gradcheck(function() return (G(z) * r):sum() end, params, { points = 3, eps = 1e-2, atol = 2e-2, rtol = 3e-2 })
  local ws = G.mapping(z):detach():contiguous():requires_grad(true)
  U.gradcheck(function() return (G.synthesis(ws) * r):sum() end, { ws }, { points = 8, eps = 1e-2, atol = 2e-2,
    rtol = 3e-2, name = "ws" })
end)

T.case("the discriminator: PGGAN's, fixed at the resolution, with the blur", function()
  gan.manual_seed(7)
  local D = sg.Discriminator(1, 32, { channel_base = 64, channel_max = 16 })
  local names = {}
  for _, e in ipairs(D:named_parameters()) do names[e.name] = true end
  U.truthy(names["fromrgb32.weight"] and not names["fromrgb16.weight"], "only the last fromRGB")
  U.truthy(D.blocks[32].blur and D.blocks[8].blur, "a blur in each block")
  U.shape(D(gan.randn(8, 1, 32, 32)), { 8, 1 })
  U.raises(function() D(gan.randn(8, 1, 16, 16), 16) end, "a fixed discriminator takes only 32x32 images")
  -- the block by hand: conv0, the blur {1, 2, 1} (zero padding), conv1 and the 2x2 average pool
  local blk = D.blocks[16]
  local x = gan.randn(2, blk.conv0.in_channels, 16, 16)
  local h = blk.conv0(x)
  local f = gan.tensor({ { 1, 2, 1 }, { 2, 4, 2 }, { 1, 2, 1 } }) / 16
  local c = h:size(2)
  local blurred = h:conv2d(f:reshape(1, 1, 3, 3):expand(c, 1, 3, 3):contiguous(), nil, { padding = 1, groups = c })
  local y = blurred:conv2d(blk.conv1:effective_weight(), nil, { padding = 1 }):avg_pool2d(2)
  y = nn.bias_act(y, blk.conv1.bias, { act = "lrelu", gain = 1 })
  U.truthy(U.maxdiff(blk(x), y) < 1e-5, "conv, blur, conv, pool")
  U.equal(#sg.Discriminator(1, 32, { channel_base = 64, channel_max = 16, blur = false }):modules() <
    #D:modules(), true, "blur = false: none")
end)

T.run()
