-- SAGAN's and BigGAN's pieces: the self-attention block against a direct loop,
-- conditional BN against BN and a per-class affine, the projection term
-- against its sum, truncated z, the orthogonal penalty, the networks' shapes.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn
local B = gan.nets.biggan

T.case("SelfAttention equals a loop over query pixels and pooled keys", function()
  gan.manual_seed(1)
  local c, h, w = 16, 4, 6
  local att = nn.SelfAttention(c, { sn = false })
  att.sigma:copy_(gan.tensor({ 0.7 }))
  local x = gan.randn(2, c, h, w)
  local y = att(x):totable()
  -- the 1x1 convolutions by hand: out[k] = sum_c W[k][c] x[c] at each pixel
  local xt = x:totable()
  local function conv1(m, a, kout, hh, ww)
    local W = m.weight:reshape(kout, -1):totable()
    local out = {}
    for k = 1, kout do
      out[k] = {}
      for i = 1, hh do
        out[k][i] = {}
        for j = 1, ww do
          local s = 0
          for cc = 1, #W[k] do s = s + W[k][cc] * a[cc][i][j] end
          out[k][i][j] = s
        end
      end
    end
    return out
  end
  local function pool(a)
    local out = {}
    for k = 1, #a do
      out[k] = {}
      for i = 1, #a[k] // 2 do
        out[k][i] = {}
        for j = 1, #a[k][1] // 2 do
          out[k][i][j] = math.max(a[k][2 * i - 1][2 * j - 1], a[k][2 * i - 1][2 * j], a[k][2 * i][2 * j - 1],
            a[k][2 * i][2 * j])
        end
      end
    end
    return out
  end
  local worst = 0
  for n = 1, 2 do
    local theta = conv1(att.theta, xt[n], c // 8, h, w)
    local phi = pool(conv1(att.phi, xt[n], c // 8, h, w))
    local g = pool(conv1(att.g, xt[n], c // 2, h, w))
    -- o_pre[k][i][j] = sum over pooled (p, q) of softmax weight * g[k][p][q]
    local pre = {}
    for k = 1, c // 2 do pre[k] = {} for i = 1, h do pre[k][i] = {} end end
    for i = 1, h do
      for j = 1, w do
        local logits, mx = {}, -math.huge
        for p = 1, h // 2 do
          for q = 1, w // 2 do
            local s = 0
            for k = 1, c // 8 do s = s + theta[k][i][j] * phi[k][p][q] end
            logits[#logits + 1] = s
            mx = math.max(mx, s)
          end
        end
        local z = 0
        for l = 1, #logits do logits[l] = math.exp(logits[l] - mx); z = z + logits[l] end
        for k = 1, c // 2 do
          local s, l = 0, 0
          for p = 1, h // 2 do
            for q = 1, w // 2 do
              l = l + 1
              s = s + logits[l] / z * g[k][p][q]
            end
          end
          pre[k][i][j] = s
        end
      end
    end
    local o = conv1(att.o, pre, c, h, w)
    for k = 1, c do
      for i = 1, h do
        for j = 1, w do
          worst = math.max(worst, math.abs(y[n][k][i][j] - (xt[n][k][i][j] + 0.7 * o[k][i][j])))
        end
      end
    end
  end
  U.truthy(worst < 1e-4, "largest difference from the loop: " .. worst)
  -- the maps: rows sum to 1, one per query pixel over the (h/2)(w/2) pooled grid
  att.keep_map = true
  att(x)
  U.shape(att.map, { 2, h * w, h * w // 4 })
  U.truthy(U.maxdiff(att.map:sum(3), gan.ones(2, h * w)) < 1e-5, "each query's weights sum to 1")
end)

T.case("SelfAttention starts as the identity, learns sigma, and is spectrally normalized by default", function()
  gan.manual_seed(2)
  local att = nn.SelfAttention(8)
  local x = gan.randn(3, 8, 4, 4)
  T.eq(U.maxdiff(att(x), x), 0, "sigma = 0: x itself")
  T.eq(att.theta.__name, "SpectralNorm")
  local names = {}
  for _, e in ipairs(att:named_parameters()) do names[#names + 1] = e.name end
  U.truthy(table.concat(names, " "):find("sigma", 1, true), "sigma is a parameter")
  local g = gan.grad(att(x):square():sum(), att.sigma)
  U.truthy(g:abs():item() > 0, "the loss reaches sigma")
  U.gradcheck_module(nn.SelfAttention(8, { sn = false }), gan.randn(2, 8, 4, 4), { eps = 1e-2, atol = 2e-3, rtol = 2e-2 })
  T.raises(function() nn.SelfAttention(12) end, "multiple of 8")
  T.raises(function() att(gan.randn(1, 8, 3, 4)) end, "H and W even")
end)

T.case("ConditionalBatchNorm2d is BN without affine, then a per-class gain and bias", function()
  gan.manual_seed(3)
  local K, c = 4, 5
  local shared = nn.Embedding(K, 6)
  local cbn = nn.ConditionalBatchNorm2d(c, 6, { sn = false })
  local x = gan.randn(8, c, 3, 3)
  local y = gan.tensor({ 0, 1, 2, 3, 3, 2, 1, 0 }, "int64")
  local out = cbn(x, shared(y))
  local bn = nn.BatchNorm2d(c, { affine = false })(x)
  -- per class k: gain_k = 1 + G e_k, bias_k = Bm e_k with e_k the class's embedding
  local E, Gw, Bw = shared.weight:totable(), cbn.gain.weight:totable(), cbn.offset.weight:totable()
  local yt = y:totable()
  local expect = bn:totable()
  for n = 1, 8 do
    local e = E[yt[n] + 1]
    for ch = 1, c do
      local g, b = 1, 0
      for d = 1, 6 do g, b = g + Gw[ch][d] * e[d], b + Bw[ch][d] * e[d] end
      for i = 1, 3 do for j = 1, 3 do expect[n][ch][i][j] = expect[n][ch][i][j] * g + b end end
    end
  end
  U.truthy(U.maxdiff(out, gan.tensor(expect)) < 1e-5, "bn(x) (1 + gain) + bias")
  -- running statistics as BatchNorm2d's; evaluation mode uses them
  U.truthy(cbn.bn.running_mean:abs():sum():item() > 0, "running mean updated")
  T.raises(function() cbn(x, gan.randn(8, 5)) end, "the condition must be %(8, 6%)")
  T.raises(function() cbn(x) end, "got nil")
  T.eq(nn.ConditionalBatchNorm2d(c, 6).gain.__name, "SpectralNorm", "spectral norm by default")
end)

T.case("the projection discriminator adds embed(y) . h to linear(h)", function()
  gan.manual_seed(4)
  local D = B.Discriminator { channels = 1, size = 16, ndf = 8, attention = 8, classes = 3, sn = false }
  local x = gan.randn(3, 1, 16, 16)
  local y = gan.tensor({ 2, 0, 1 }, "int64")
  local out = D(x, y)
  U.shape(out, { 3, 1 })
  local h = D:features(x):totable()
  local lin = D.linear(D:features(x)):totable()
  local E = D.embed.weight:totable()
  for n = 1, 3 do
    local s = 0
    for k = 1, 8 do s = s + E[y:totable()[n] + 1][k] * h[n][k] end
    U.close(out[n][1]:item(), lin[n][1] + s, 1e-4, "sample " .. n)
  end
  T.raises(function() D(x) end, "needs the classes y")
  T.raises(function() D(gan.randn(3, 1, 8, 8), y) end, "expected %(N, 1, 16, 16%)")
end)

T.case("truncated z lies within +-t with the truncated normal's moments", function()
  gan.manual_seed(5)
  for _, t in ipairs({ 0.5, 1, 2 }) do
    local z = B.truncated_z(400, 100, t)
    U.shape(z, { 400, 100 })
    U.truthy(z:min():item() >= -t and z:max():item() <= t, "inside [-t, t] for t = " .. t)
    -- N(0, 1) on [-t, t]: mean 0, variance 1 - 2 t pdf(t) / (2 Phi(t) - 1)
    local pdf = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    local mass = 0
    for i = 1, 20000 do local u = -t + (i - 0.5) * 2 * t / 20000; mass = mass + math.exp(-u * u / 2) end
    mass = mass * 2 * t / 20000 / math.sqrt(2 * math.pi)
    local var = 1 - 2 * t * pdf / mass
    U.close(z:mean():item(), 0, 5 * math.sqrt(var / z:numel()), "mean, t = " .. t)
    U.close(z:square():mean():item(), var, 0.02 * var, "variance, t = " .. t)
  end
  local z = B.truncated_z(4000, 10)
  U.truthy(z:abs():max():item() > 2.5, "without t: N(0, 1)")
  T.raises(function() B.truncated_z(2, 3, 0) end, "must be > 0")
end)

T.case("the orthogonal penalty is beta/2 |W W^T (1 - I)|^2 over the weights", function()
  local net = nn.Sequential { nn.Linear(3, 2, { bias = false }) }
  net[1].weight:copy_(gan.tensor({ { 1, 2, 0 }, { 1, 0, 1 } }))
  -- W W^T = [[5, 1], [1, 2]]: off-diagonal squares 1 + 1
  U.close(B.orthogonal_penalty(net, 1e-4):item(), 1e-4 / 2 * 2, 1e-9)
  -- its gradient is BigGAN's 2 beta (W W^T (1 - I)) W = 2e-4 [[0, 1], [1, 0]] W
  local g = gan.grad(B.orthogonal_penalty(net, 1e-4), net[1].weight)
  U.tclose(g, { { 2e-4, 0, 2e-4 }, { 2e-4, 4e-4, 0 } }, 1e-9)
  U.close(B.orthogonal_penalty(net, 1e-4, { net[1].weight }):item(), 0, 0, "skipped weights")
end)

T.case("the generator: unconditional and class-conditional with hierarchical z", function()
  gan.manual_seed(6)
  local G = B.Generator { nz = 12, channels = 1, size = 16, nf = 8, attention = 8 }
  U.shape(G(gan.randn(2, 12)), { 2, 1, 16, 16 })
  T.eq(G.attention_after, 1, "attention after the 8x8 block")
  local Gc = B.Generator { nz = 12, channels = 3, size = 32, nf = 8, attention = 16, classes = 5, shared_dim = 4 }
  T.eq(Gc.chunk, 3, "12 split over the linear layer and 3 blocks")
  T.eq(Gc.blocks[1].bn1.cond_dim, 7, "condition: embedding 4 + chunk 3")
  local y = gan.tensor({ 0, 4 }, "int64")
  local img = Gc(gan.randn(2, 12), y)
  U.shape(img, { 2, 3, 32, 32 })
  U.truthy(img:abs():max():item() <= 1, "Tanh")
  T.raises(function() Gc(gan.randn(2, 12)) end, "needs the classes y")
  T.raises(function() G(gan.randn(2, 12), y) end, "unconditional")
  T.raises(function() G(gan.randn(2, 10)) end, "z must be %(N, 12%)")
  T.raises(function() B.Generator { nz = 10, classes = 2 } end, "multiple of 4")
  T.raises(function() B.Generator { size = 24 } end, "size must be 16, 32 or 64")
  T.raises(function() B.Generator { size = 16, attention = 32 } end, "attention must be")
  local Dn = B.Discriminator { size = 16, ndf = 8, attention = 0 }
  T.eq(Dn.attention, nil, "no attention block with attention = 0")
  U.shape(Dn(gan.randn(2, 1, 16, 16)), { 2, 1 })
end)

T.case("a widened discriminator doubles its maps per block up to 4 ndf", function()
  gan.manual_seed(7)
  local D = B.Discriminator { channels = 1, size = 32, ndf = 8, attention = 16, classes = 3, widen = true, sn = false }
  local widths = {}
  for i = 1, #D.blocks do widths[i] = D.blocks[i].conv2.weight:size(1) end
  T.eq(table.concat(widths, " "), "8 16 32 32", "ndf, 2 ndf, 4 ndf, 4 ndf")
  T.eq(D.attention_after, 1, "attention at 16x16, after the first block")
  T.eq(D.attention.theta.weight:size(2), 8, "attention over the first block's 8 maps")
  T.eq(D.features_n, 32, "h has 4 ndf features")
  local x, y = gan.randn(2, 1, 32, 32), gan.tensor({ 1, 2 }, "int64")
  local h = D:features(x)
  U.shape(h, { 2, 32 })
  -- the projection term over the widened features
  local expect = D.linear(h) + (D.embed(y) * h):sum(2, true)
  U.truthy(U.maxdiff(D(x, y), expect) < 1e-5, "linear(h) + embed(y) . h")
  local narrow = B.Discriminator { channels = 1, size = 32, ndf = 8, attention = 0, sn = false }
  T.eq(narrow.features_n, 8, "without widen: ndf everywhere")
  T.eq(narrow.blocks[4].conv2.weight:size(1), 8)
end)

T.run()
