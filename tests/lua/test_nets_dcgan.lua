-- gan.nets.dcgan stacks, gan.pretrained, gan.labels helpers and nn.Heads: shapes, names, gradients, errors.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn

T.case("gan.nets.dcgan: generator and body: DCGAN's shapes at 16, 32 and 64", function()
  for _, s in ipairs({ 16, 32, 64 }) do
    local G = gan.nets.dcgan.generator(12, 3, s, 4)
    local x = G(gan.randn(2, 12, 1, 1))
    U.shape(x, { 2, 3, s, s }, "G at " .. s)
    U.truthy(x:abs():max():item() <= 1, "Tanh output")
    local D, c = gan.nets.dcgan.body(3, s, 4)
    U.equal(c, 4 * 2 ^ (gan.nets.dcgan.levels(s) - 1), "channels at " .. s)
    U.shape(D(x), { 2, c, 4, 4 }, "D at " .. s)
  end
  local raw = gan.nets.dcgan.generator(5, 1, 16, 4, { out = "none", norm = "none" })
  U.truthy(raw(gan.randn(2, 5, 1, 1)):abs():max():item() > 0, "raw maps")
  for _, m in ipairs(raw:modules()) do U.truthy(m.__name ~= "BatchNorm2d" and m.__name ~= "Tanh", m.__name) end
end)

T.case("gan.nets.dcgan.generator has the layout of recipes/dcgan.lua's G (its checkpoints load)", function()
  local G = gan.nets.dcgan.generator(100, 1, 32, 8)
  local names = {}
  for _, e in ipairs(G:named_parameters()) do names[#names + 1] = e.name end
  U.equal(table.concat(names, " "), "1.weight 2.weight 2.bias 4.weight 5.weight 5.bias 7.weight 8.weight 8.bias 10.weight",
    "parameter names")
  U.equal(G[11].__name, "Tanh", "last layer")
end)

T.case("gan.pretrained.dcgan loads a DCGAN checkpoint's G; other files give clear errors", function()
  local dir = U.tmpdir("pretrained")
  local G = gan.nets.dcgan.generator(6, 1, 16, 4)
  G(gan.randn(4, 6, 1, 1))                      -- batch-norm statistics move away from their start
  local tensors = { ["D.1.weight"] = gan.zeros(1) }
  for k, t in pairs(G:state_dict()) do tensors["G." .. k] = t end
  local meta = { ["ganlua.options"] = "data=fashion-mnist\nsize=16\nchannels=1\nnz=6\nnf=4\n", ["ganlua.step"] = "7" }
  assert(gan.io.save_safetensors(dir .. "/ck.safetensors", tensors, meta))
  local H, info = gan.pretrained.dcgan(dir .. "/ck.safetensors")
  U.equal(info.step, 7, "step")
  U.equal(info.nz, 6, "nz")
  G:eval()
  local z = gan.randn(3, 6, 1, 1)
  U.close(U.maxdiff(G(z), H(z)), 0, 0, "the same network")
  U.equal(H.training, false, "evaluation mode")
  meta["ganlua.options"] = "size=16\nnz=6\nnf=8\n"
  assert(gan.io.save_safetensors(dir .. "/wide.safetensors", tensors, meta))
  U.raises(function() gan.pretrained.dcgan(dir .. "/wide.safetensors") end, "its G does not match")
  assert(gan.io.save_safetensors(dir .. "/other.safetensors", tensors, {}))
  U.raises(function() gan.pretrained.dcgan(dir .. "/other.safetensors") end, "is not a DCGAN checkpoint")
  U.raises(function() gan.pretrained.dcgan(dir .. "/missing.safetensors") end, "train a DCGAN first")
  U.write(dir .. "/junk.safetensors", "not a checkpoint")
  U.raises(function() gan.pretrained.dcgan(dir .. "/junk.safetensors") end, "cannot read")
end)

T.case("gan.nets.dcgan norms and biases: layer norm, a function, none; biases unless batch norm follows", function()
  local function count(net, name)
    local n = 0
    for _, m in ipairs(net:modules()) do if m.__name == name then n = n + 1 end end
    return n
  end
  local function biases(net)
    local n = 0
    for _, m in ipairs(net:modules()) do if m.__name:match("^Conv") and m.bias then n = n + 1 end end
    return n
  end
  local G = gan.nets.dcgan.generator(6, 1, 32, 4)
  U.equal(count(G, "BatchNorm2d"), 3, "batch norm after every hidden layer")
  U.equal(biases(G), 0, "no conv biases under batch norm")
  local L = gan.nets.dcgan.generator(6, 1, 32, 4, { norm = "layer", last_bias = false })
  U.equal(count(L, "LayerNorm"), 3, "layer norm")
  U.equal(biases(L), 3, "biases on the hidden layers only")
  U.shape(L(gan.randn(2, 6, 1, 1)), { 2, 1, 32, 32 })
  local D, c = gan.nets.dcgan.body(1, 32, 4, { norm = "layer" })
  U.equal(count(D, "LayerNorm"), 2, "every layer but the first")
  U.equal(biases(D), 3, "biases without batch norm")
  U.shape(D(gan.randn(2, 1, 32, 32)), { 2, c, 4, 4 })
  local sizes = {}
  gan.nets.dcgan.body(1, 32, 4, { norm = function(ch, s) sizes[#sizes + 1] = ch .. "@" .. s; return nn.GroupNorm(1, ch) end })
  U.equal(table.concat(sizes, " "), "8@8 16@4", "the function gets the maps and size of each layer")
  local N = gan.nets.dcgan.body(1, 16, 4, { norm = "none", first_bias = false })
  U.equal(count(N, "BatchNorm2d") + count(N, "LayerNorm"), 0, "no norm")
  U.equal(biases(N), 1, "the first layer's bias left out")
  local S = gan.nets.dcgan.body(1, 16, 4, { norm = "spectral" })
  U.equal(count(S, "SpectralNorm"), 2, "spectral: every convolution wrapped")
  U.equal(count(gan.nets.dcgan.generator(6, 1, 16, 4, { norm = "instance" }), "InstanceNorm2d"), 2, "instance norm")
  U.raises(function() gan.nets.dcgan.generator(4, 1, 16, 4, { norm = "group" }) end, 'norm must be "batch", "layer", "instance", "none" or a function')
end)

T.case("gan.nets.dcgan.levels refuses sizes that are not powers of two >= 16", function()
  U.equal(gan.nets.dcgan.levels(32), 3, "32")
  U.raises(function() gan.nets.dcgan.levels(24) end, "--size must be a power of two >= 16, got 24")
  U.raises(function() gan.nets.dcgan.generator(4, 1, 8, 4) end, "--size must be")
end)

T.case("labels.rows, planes and join", function()
  U.tclose(gan.labels.rows(6, 3), { 0, 0, 1, 1, 2, 2 }, 0, "rows")
  U.tclose(gan.labels.rows(5, 2), { 0, 0, 0, 1, 1 }, 0, "rows, uneven")
  U.equal(gan.labels.rows(100, 10):dtype(), "int64", "dtype")
  local y = gan.tensor({ 2, 0 }, "int64")
  local p = gan.labels.planes(y, 3, 2, 2)
  U.shape(p, { 2, 3, 2, 2 }, "planes")
  U.tclose(p:sum({ 3, 4 }), { { 0, 0, 4 }, { 4, 0, 0 } }, 0, "one plane of ones per item")
  local x = gan.randn(2, 1, 2, 2)
  local xy = gan.labels.join(x, y, 3)
  U.shape(xy, { 2, 4, 2, 2 }, "join images")
  U.close(U.maxdiff(xy:narrow(2, 1, 1), x), 0, 0, "images first")
  U.tclose(gan.labels.join(gan.zeros(2, 1), y, 3), { { 0, 0, 0, 1 }, { 0, 1, 0, 0 } }, 0, "join vectors")
  U.raises(function() gan.labels.join(gan.zeros(2, 2, 2), y, 3) end, "(N, F) or (N, C, H, W)")
end)

T.case("labels.sampler: class order, noise from the current stream, chunks", function()
  local calls = {}
  local gen = function(z, y)
    calls[#calls + 1] = z:size(1)
    return (z + y:float():reshape(y:size(1), 1)):reshape(z:size(1), 1, 1, 2)
  end
  local sample = gan.labels.sampler(gen, 3, function(n) return gan.randn(n, 2) end, 4)
  gan.manual_seed(5)
  local x, y = sample(9)
  U.tclose(y, { 0, 0, 0, 1, 1, 1, 2, 2, 2 }, 0, "classes in order")
  U.shape(x, { 9, 1, 1, 2 }, "images")
  U.equal(table.concat(calls, ","), "4,4,1", "chunks of 4")
  U.truthy(U.maxdiff(x, sample(9)) > 0, "fresh noise at the next call")
  gan.manual_seed(5)
  U.close(U.maxdiff(x, sample(9)), 0, 0, "the same noise from the same stream")
  U.shape(sample(3), { 3, 1, 1, 2 }, "one chunk")
end)

T.case("labels.join passes gradients to the images", function()
  local y = gan.tensor({ 1, 0 }, "int64")
  local x = gan.randn(2, 2, 3, 3):requires_grad(true)
  U.gradcheck(function() return (gan.labels.join(x, y, 2) * gan.arange(0, 4):reshape(1, 4, 1, 1)):sum() end, { x })
end)

T.case("nn.Heads: the trunk once, every head on its output", function()
  local calls = 0
  local trunk = nn.Sequential { nn.Linear(3, 4), nn.Lambda(function(h) calls = calls + 1 return h end) }
  local H = nn.Heads(trunk, nn.Linear(4, 1), nn.Linear(4, 5))
  local x = gan.randn(2, 3)
  local a, b = H(x)
  U.equal(calls, 1, "trunk runs once")
  U.shape(a, { 2, 1 }, "head 1")
  U.shape(b, { 2, 5 }, "head 2")
  local h = trunk(x)
  U.close(U.maxdiff(b, H[2](h)), 0, 1e-6, "head 2 on the trunk's output")
  local names = {}
  for _, e in ipairs(H:named_parameters()) do names[#names + 1] = e.name end
  U.equal(table.concat(names, " "), "trunk.1.weight trunk.1.bias 1.weight 1.bias 2.weight 2.bias", "names")
  U.gradcheck_module(nn.Heads(nn.Linear(3, 2), nn.Sequential { nn.Linear(2, 2), nn.Tanh() }), gan.randn(2, 3))
  U.raises(function() nn.Heads(nn.Linear(3, 2)) end, "at least one head")
  U.raises(function() nn.Heads(nn.Linear(3, 2), 5) end, "head 1 is not a module")
end)

T.case("gan.nets.dcgan.standard_cnn: SNGAN's standard CNN, its layers and sizes", function()
  local D = gan.nets.dcgan.standard_cnn(1, 32, 32)
  -- PyTorch's layer by layer count (bench/torch_steps.py's sngan D)
  U.equal(D:num_parameters(), 736225, "parameters at 32x32x1, nf 32")
  local convs, slopes = {}, {}
  for _, m in ipairs(D:modules()) do
    if m.__name == "Conv2d" then convs[#convs + 1] = ("%d>%d k%d s%d"):format(m.in_channels, m.out_channels,
      m.kernel_size[1], m.args.stride[1]) end
    if m.__name == "LeakyReLU" then slopes[#slopes + 1] = m.slope end
  end
  T.eq(table.concat(convs, ", "), "1>32 k3 s1, 32>32 k4 s2, 32>64 k3 s1, 64>64 k4 s2, 64>128 k3 s1, 128>128 k4 s2, "
    .. "128>256 k3 s1")
  T.eq(table.concat(slopes, " "), "0.1 0.1 0.1 0.1 0.1 0.1 0.1")
  U.shape(D(gan.randn(2, 1, 32, 32)), { 2, 1 }, "one value per sample")
  U.shape(gan.nets.dcgan.standard_cnn(3, 16, 4)(gan.randn(3, 3, 16, 16)), { 3, 1 }, "at 16x16")
  U.raises(function() gan.nets.dcgan.standard_cnn(1, 20, 4) end, "size must be a multiple of 8, got 20")
  U.raises(function() gan.nets.dcgan.standard_cnn(1, 32, 0) end, "nf")
end)

T.run()
