-- gan.nn: layer shapes, parameter gradients against finite differences,
-- state dicts, learning-rate multipliers, initialisers, printing.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn

gan.manual_seed(7)

T.case("Linear: shape, default init bounds, gradients", function()
  local m = nn.Linear(5, 4)
  U.shape(m(gan.randn(3, 5)), { 3, 4 })
  U.shape(m(gan.randn(2, 3, 5)), { 2, 3, 4 })
  local b = 1 / math.sqrt(5)
  U.truthy(m.weight:abs():max():item() <= b, "weight within 1/sqrt(in)")
  U.truthy(m.weight:requires_grad(), "weight requires grad")
  U.gradcheck_module(m, gan.randn(3, 5))
  local nb = nn.Linear(5, 4, { bias = false })
  U.equal(nb.bias, nil, "no bias")
  U.equal(#nb:parameters(), 1)
end)

T.case("Conv2d: shapes with stride, padding, dilation, groups; gradients", function()
  U.shape(nn.Conv2d(3, 4, 3, 2, 1)(gan.randn(2, 3, 8, 8)), { 2, 4, 4, 4 })
  U.shape(nn.Conv2d(3, 4, { 3, 1 }, { padding = { 1, 0 } })(gan.randn(1, 3, 5, 5)), { 1, 4, 5, 5 })
  U.shape(nn.Conv2d(4, 6, 3, { dilation = 2, groups = 2 })(gan.randn(1, 4, 7, 7)), { 1, 6, 3, 3 })
  local m = nn.Conv2d(2, 3, 3, 1, 1)
  U.shape(m.weight, { 3, 2, 3, 3 })
  U.gradcheck_module(m, gan.randn(2, 2, 4, 4))
  U.raises(function() nn.Conv2d(3, 4, 3, { groups = 2 }) end, "divisible")
end)

T.case("ConvTranspose2d: shapes with output_padding and groups; gradients", function()
  U.shape(nn.ConvTranspose2d(3, 5, 4, 2, 1)(gan.randn(2, 3, 4, 4)), { 2, 5, 8, 8 })
  U.shape(nn.ConvTranspose2d(3, 5, 3, 2, 1, { output_padding = 1 })(gan.randn(1, 3, 4, 4)), { 1, 5, 8, 8 })
  U.shape(nn.ConvTranspose2d(100, 8, 4, 1, 0)(gan.randn(2, 100, 1, 1)), { 2, 8, 4, 4 })
  local m = nn.ConvTranspose2d(4, 6, 3, 2, 1, { groups = 2 })
  U.shape(m.weight, { 4, 3, 3, 3 })
  U.gradcheck_module(nn.ConvTranspose2d(2, 3, 3, 2, 1), gan.randn(2, 2, 3, 3))
end)

T.case("BatchNorm2d: normalises, updates running stats, eval uses them; gradients", function()
  local bn = nn.BatchNorm2d(3, { momentum = 0.5 })
  local x = gan.randn(4, 3, 5, 5) * 2 + 3
  local y = bn(x)
  U.shape(y, { 4, 3, 5, 5 })
  U.close(y:mean():item(), 0, 1e-4, "mean of output")
  local m = x:mean({ 1, 3, 4 })
  U.tclose(bn.running_mean, (m * 0.5):totable(), 1e-4, "running mean moved half way")
  bn:eval()
  local ye = bn(x)
  local rm, rv = bn.running_mean:reshape(1, 3, 1, 1), bn.running_var:reshape(1, 3, 1, 1)
  local expect = (x - rm) / (rv + 1e-5):sqrt()
  U.truthy(U.maxdiff(ye, expect) < 1e-4, "eval uses running statistics")
  bn:train()
  U.gradcheck_module(nn.BatchNorm2d(2), gan.randn(3, 2, 2, 2), { atol = 2e-2 })
  U.equal(#nn.BatchNorm2d(3, { affine = false }):parameters(), 0)
  U.equal(#bn:buffers(), 2)
end)

T.case("BatchNorm1d on (N, C) and (N, C, L)", function()
  local bn = nn.BatchNorm1d(4)
  U.shape(bn(gan.randn(8, 4)), { 8, 4 })
  U.shape(bn(gan.randn(8, 4, 3)), { 8, 4, 3 })
  U.raises(function() bn(gan.randn(2, 4, 3, 3)) end, "BatchNorm1d")
  U.gradcheck_module(nn.BatchNorm1d(3), gan.randn(5, 3))
end)

T.case("InstanceNorm2d, LayerNorm, GroupNorm: shapes and gradients", function()
  local inorm = nn.InstanceNorm2d(3)
  U.equal(#inorm:parameters(), 0, "not affine by default")
  U.close(inorm(gan.randn(2, 3, 4, 4) + 5):mean():item(), 0, 1e-4)
  U.gradcheck_module(nn.InstanceNorm2d(2, { affine = true }), gan.randn(2, 2, 3, 3))
  local ln = nn.LayerNorm({ 3, 4 })
  U.shape(ln.weight, { 3, 4 })
  U.shape(ln(gan.randn(2, 3, 4)), { 2, 3, 4 })
  U.gradcheck_module(nn.LayerNorm(4), gan.randn(3, 4))
  U.gradcheck_module(nn.GroupNorm(2, 4), gan.randn(2, 4, 2, 2))
end)

T.case("the norm vocabulary: norm_layer, norm_layer1d, check_norm, bias_before", function()
  U.equal(nn.norm_layer("batch", 4).__name, "BatchNorm2d")
  U.equal(nn.norm_layer("instance", 4).__name, "InstanceNorm2d")
  U.shape(nn.norm_layer("layer", 4, 8).weight, { 4, 8, 8 }, "layer norm over (c, size, size)")
  U.equal(nn.norm_layer("none", 4), nil); U.equal(nn.norm_layer("spectral", 4), nil)
  U.equal(nn.norm_layer(function(c, s) return nn.GroupNorm(2, c) end, 4, 8).__name, "GroupNorm")
  U.raises(function() nn.norm_layer("layer", 4) end, "needs the maps' size")
  U.equal(nn.norm_layer1d("batch", 5).__name, "BatchNorm1d")
  U.shape(nn.norm_layer1d("layer", 5).weight, { 5 })
  U.raises(function() nn.norm_layer1d("instance", 5) end, "normalises maps, not features")
  U.equal(nn.check_norm("X", "layer"), "layer")
  U.raises(function() nn.check_norm("X", "group") end, 'X: norm must be "batch", "instance", "layer", "pixel", "spectral", "none" or a function')
  U.raises(function() nn.check_norm("X", function() end, { "batch", "none" }) end, 'X: norm must be "batch" or "none", got function')
  U.equal(nn.bias_before("batch"), false); U.equal(nn.bias_before("instance"), true)
end)

T.case("Embedding: lookup and gradient", function()
  local e = nn.Embedding(10, 3)
  local idx = gan.tensor({ { 1, 9 }, { 0, 1 } }, "int64")
  local y = e(idx)
  U.shape(y, { 2, 2, 3 })
  U.tclose(y[1][2], e.weight[10]:totable(), 0, "id 9 is row 10")
  U.gradcheck(function() return (e(idx) * gan.ones(2, 2, 3)):sum() end, { e.weight })
end)

T.case("Upsample by a non-whole scale maps o to o / scale, as PyTorch's scale_factor (numbers from PyTorch)", function()
  local x = gan.arange(5):view(1, 1, 1, 5)
  U.tclose(nn.Upsample(1.7)(x):view(-1), { 0, 0, 1, 1, 2, 2, 3, 4 }, 0, "nearest x1.7")
  U.tclose(nn.Upsample { scale = { 1, 0.6 } }(x):view(-1), { 0, 1, 3 }, 0, "nearest x0.6")
  U.tclose(nn.Upsample { scale = { 1, 2.5 } }(x):view(-1), { 0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4 }, 0, "nearest x2.5")
  U.tclose(nn.Upsample { scale = { 1, 1.7 }, mode = "bilinear" }(x):view(-1),
    { 0, 0.38235298, 0.97058833, 1.5588236, 2.147059, 2.7352943, 3.3235295, 3.9117649 }, 1e-6, "bilinear x1.7")
  U.tclose(nn.Upsample { scale = { 1, 1.7 }, mode = "bilinear", recompute_scale_factor = true }(x):view(-1),
    { 0, 0.4375, 1.0625, 1.6875, 2.3125, 2.9375, 3.5625, 4 }, 1e-6, "recompute_scale_factor: by in / out")
  U.tclose(nn.Upsample { scale = { 1, 1.7 }, mode = "bilinear", align_corners = true }(x):view(-1),
    { 0, 0.5714286, 1.1428572, 1.7142859, 2.2857144, 2.857143, 3.4285717, 4 }, 1e-6, "align_corners: corners")
  local x2 = gan.arange(12):view(1, 1, 3, 4)
  U.tclose(nn.Upsample { scale = { 1.5, 0.75 }, mode = "bilinear" }(x2):view(-1),
    { 0.16666669, 1.5, 2.8333335, 2.1666667, 3.5, 4.8333335, 4.8333335, 6.166667, 7.5, 7.5000005, 8.833334,
      10.166667 }, 1e-6, "two scales")
  -- the gradient is the adjoint of the same mapping
  local xg = gan.randn(1, 2, 3, 4):requires_grad(true)
  for _, mode in ipairs { "nearest", "bilinear" } do
    local up = nn.Upsample { scale = 1.7, mode = mode }
    local w = gan.randn(1, 2, 5, 6)
    local g = gan.grad((up(xg) * w):sum(), xg)
    U.close((g * xg):sum():item(), (up(xg) * w):sum():item(), 1e-4, mode .. " adjoint")
  end
  U.raises(function() return x:upsample { scale = -2 } end, "scale must be positive")
end)

T.case("Dropout, Upsample, Flatten, Reshape, Lambda, activations", function()
  local d = nn.Dropout(0.5)
  local x = gan.ones(1000)
  local y = d(x)
  local zeros = (y:eq(0)):sum():item()
  U.truthy(zeros > 400 and zeros < 600, "about half dropped: " .. zeros)
  U.close(y:max():item(), 2, 1e-6, "kept values scaled by 2")
  d:eval()
  U.equal(U.maxdiff(d(x), x), 0, "eval: identity")
  U.shape(nn.Upsample { scale = 2 }(gan.randn(1, 2, 3, 3)), { 1, 2, 6, 6 })
  U.shape(nn.Upsample { size = { 5, 7 }, mode = "bilinear" }(gan.randn(1, 2, 3, 3)), { 1, 2, 5, 7 })
  U.shape(nn.Flatten()(gan.randn(2, 3, 4, 5)), { 2, 60 })
  U.shape(nn.Reshape(3, 4, 5)(gan.randn(2, 60)), { 2, 3, 4, 5 })
  U.shape(nn.Reshape({ -1, 2 })(gan.randn(2, 6)), { 2, 3, 2 })
  U.tclose(nn.Lambda(function(v) return v * 2 end)(gan.ones(2)), { 2, 2 })
  local v = gan.tensor { -2, -0.5, 0, 1.5 }
  U.tclose(nn.ReLU()(v), { 0, 0, 0, 1.5 })
  U.tclose(nn.LeakyReLU(0.2)(v), { -0.4, -0.1, 0, 1.5 })
  U.tclose(nn.ELU()(v), { math.exp(-2) - 1, math.exp(-0.5) - 1, 0, 1.5 })
  U.tclose(nn.Tanh()(v), { math.tanh(-2), math.tanh(-0.5), 0, math.tanh(1.5) })
  U.tclose(nn.Sigmoid()(v), { 1 / (1 + math.exp(2)), 1 / (1 + math.exp(0.5)), 0.5, 1 / (1 + math.exp(-1.5)) })
  U.tclose(nn.Softplus()(v), { math.log(1 + math.exp(-2)), math.log(1 + math.exp(-0.5)), math.log(2),
    math.log(1 + math.exp(1.5)) })
  U.tclose(nn.Identity()(v), v:totable())
end)

local function mlp()
  return nn.Sequential { nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2) }
end

T.case("Sequential: add, indexing, names, parameters, buffers, train/eval, apply", function()
  local s = nn.Sequential():add(nn.Linear(2, 3)):add(nn.Tanh())
  U.equal(#s, 2)
  U.equal(s[2].__name, "Tanh")
  local net = mlp()
  local names = {}
  for _, e in ipairs(net:named_parameters()) do names[#names + 1] = e.name end
  U.equal(table.concat(names, " "), "1.weight 1.bias 2.weight 2.bias 4.weight 4.bias")
  U.equal(#net:parameters(), 6)
  U.equal(net:num_parameters(), 3 * 4 + 4 + 4 + 4 + 4 * 2 + 2)
  U.equal(#net:buffers(), 2)
  net:eval()
  U.equal(net[2].training, false, "eval reaches children")
  net:train()
  U.equal(net[2].training, true)
  local seen = {}
  net:apply(function(m) seen[#seen + 1] = m.__name end)
  U.equal(table.concat(seen, " "), "Linear BatchNorm1d ReLU Linear Sequential")
end)

T.case("custom modules register children by assignment", function()
  local Block = nn.Module:extend("Block")
  function Block:init(c)
    self.fc = nn.Linear(c, c)
    self.gate = self:param("gate", gan.ones(1))
  end
  function Block:forward(x) return x + self.fc(x) * self.gate end
  local b = Block(3)
  U.shape(b(gan.randn(2, 3)), { 2, 3 })
  local names = {}
  for _, e in ipairs(b:named_parameters()) do names[#names + 1] = e.name end
  U.equal(table.concat(names, " "), "gate fc.weight fc.bias")
  U.truthy(tostring(b):find("%(fc%): Linear%(in_features=3, out_features=3, bias=true%)"), tostring(b))
end)

T.case("printing a network gives a tree", function()
  local s = tostring(mlp())
  U.truthy(s:find("^Sequential%(\n  %(1%): Linear%(in_features=3, out_features=4, bias=true%)\n"), s)
  U.truthy(s:find("%(2%): BatchNorm1d%(4, eps=1e%-05, momentum=0.1"), s)
  U.truthy(s:find("%(3%): ReLU%(%)"), s)
  U.truthy(tostring(nn.Conv2d(3, 8, 4, 2, 1, { bias = false })):find(
    "Conv2d%(3, 8, kernel_size=%(4, 4%), stride=%(2, 2%), padding=%(1, 1%), bias=false%)"))
end)

T.case("state_dict round trip; missing, unexpected and mismatched keys", function()
  local a, b = mlp(), mlp()
  a(gan.randn(5, 3))   -- moves a's running stats
  local sd = a:state_dict()
  U.truthy(sd["2.running_mean"], "buffers in the state dict")
  b:load_state_dict(sd)
  a:eval(); b:eval()
  local x = gan.randn(4, 3)
  U.equal(U.maxdiff(a(x), b(x)), 0, "same outputs after loading")
  local partial = {}
  for k, v in pairs(sd) do if k ~= "4.bias" then partial[k] = v end end
  partial["9.weight"] = gan.zeros(1)
  local err = U.raises(function() b:load_state_dict(partial) end, "missing keys: 4.bias")
  U.truthy(err:find("unexpected keys: 9.weight", 1, true), err)
  local miss, unexp = b:load_state_dict(partial, false)
  U.equal(miss[1], "4.bias"); U.equal(unexp[1], "9.weight")
  local wrong = {}
  for k, v in pairs(sd) do wrong[k] = v end
  wrong["1.weight"] = gan.zeros(4, 2)
  U.raises(function() b:load_state_dict(wrong) end, "1.weight: shape (4, 2) in the state, (4, 3) in the module")
end)

T.case("lr_mult: 0 freezes a module's parameters, others move", function()
  local net = nn.Sequential { nn.Linear(3, 3), nn.Linear(3, 1) }
  net[1]:lr_mult(0)
  local w0, w1 = net[1].weight:clone(), net[2].weight:clone()
  local opt = gan.optim.SGD(net, { lr = 0.1 })
  opt:step((net(gan.randn(4, 3))):square():sum())
  U.equal(U.maxdiff(net[1].weight, w0), 0, "frozen")
  U.truthy(U.maxdiff(net[2].weight, w1) > 0, "not frozen")
  U.equal(net:named_parameters()[1].lr_mult, 0)
  -- a multiplier of 0.5 moves half as far as 1
  local p1 = nn.Linear(2, 1, false)
  local p2 = p1:clone():lr_mult(0.5)
  local x = gan.randn(3, 2)
  local start = p1.weight:clone()
  gan.optim.SGD(p1, { lr = 0.1 }):step(p1(x):sum())
  gan.optim.SGD(p2, { lr = 0.1 }):step(p2(x):sum())
  U.truthy(U.maxdiff((p1.weight - start) * 0.5, p2.weight - start) < 1e-6, "half the step")
end)

T.case("clone is deep and keeps parameters", function()
  local a = mlp()
  local b = a:clone()
  U.equal(U.maxdiff(a[1].weight, b[1].weight), 0)
  gan.no_grad(function() b[1].weight:fill_(0) end)
  U.truthy(a[1].weight:abs():sum():item() > 0, "a unchanged")
  U.truthy(b[1].weight:requires_grad(), "still a parameter")
  U.equal(getmetatable(b[1]), getmetatable(a[1]))
end)

T.case("init: normal, xavier, kaiming, orthogonal, dcgan", function()
  local init = nn.init
  local t = gan.empty(200, 100)
  init.normal_(t, 0, 0.02)
  U.close(t:mean():item(), 0, 1e-3)
  U.close(t:var():sqrt():item(), 0.02, 0.05)
  init.xavier_uniform_(t)
  local b = math.sqrt(6 / 300)
  U.truthy(t:abs():max():item() <= b + 1e-6, "xavier bound")
  U.close(t:var():item(), b * b / 3, 0.05)
  init.xavier_normal_(t, 2)
  U.close(t:var():sqrt():item(), 2 * math.sqrt(2 / 300), 0.05)
  init.kaiming_normal_(t, 0, "fan_in", "relu")
  U.close(t:var():sqrt():item(), math.sqrt(2 / 100), 0.05)
  init.kaiming_uniform_(t, 0, "fan_out", "relu")
  U.truthy(t:abs():max():item() <= math.sqrt(3) * math.sqrt(2 / 200) + 1e-6, "kaiming bound")
  local w = gan.empty(6, 4, 2)
  init.orthogonal_(w)
  local m = w:reshape(6, 8)
  U.tclose(m:matmul(m:t()), gan.eye(6):totable(), 1e-4, "rows orthonormal")
  local tall = init.orthogonal_(gan.empty(8, 3), 2)
  U.tclose(tall:t():matmul(tall), (gan.eye(3) * 4):totable(), 1e-4, "columns orthogonal, gain 2")
  init.zeros_(t); U.equal(t:abs():sum():item(), 0)
  init.ones_(t); U.equal(t:sum():item(), 20000)
  local net = nn.Sequential { nn.Conv2d(3, 64, 4, 2, 1), nn.BatchNorm2d(64) }
  net:apply(init.dcgan)
  U.close(net[1].weight:var():sqrt():item(), 0.02, 0.1)
  U.equal(net[1].bias:abs():sum():item(), 0)
  U.close(net[2].weight:mean():item(), 1, 0.02)
  U.raises(function() init.xavier_uniform_(gan.empty(5)) end, "2 or more dims")
end)

T.run()
