-- gan.nets.style: StyleGAN2's generator and discriminator, against NVlabs'
-- networks run in PyTorch with the same weights; their shapes, ws, paths,
-- and second derivatives (R1, path length).
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn, style = gan.nn, gan.nets.style


local SMALL = { channel_base = 256, channel_max = 32, mapping_layers = 2 }

-- our dotted names as NVlabs' (mapping.fc1 is their fc0; a StyledConv2d's conv and noise are
-- theirs flat; noise_const is theirs too)
local function nvlabs_name(name)
  name = name:gsub("^mapping%.fc(%d+)", function(i) return "mapping.fc" .. (tonumber(i) - 1) end)
  name = name:gsub("%.conv%.affine%.", ".affine."):gsub("(conv%d)%.conv%.weight$", "%1.weight")
  name = name:gsub("(torgb)%.conv%.weight$", "%1.weight")
  name = name:gsub("%.noise%.strength$", ".noise_strength"):gsub("%.noise%.noise_const$", ".noise_const")
  return name
end

-- every parameter and noise buffer from sin(a i + b), a and b from its rank among NVlabs' names,
-- as the PyTorch script below fills its networks
local function fill(net)
  local entries = {}
  for _, e in ipairs(net:named_parameters()) do entries[#entries + 1] = e end
  for _, e in ipairs(net:named_buffers()) do
    if e.name:match("noise_const$") then entries[#entries + 1] = e end
  end
  local names = {}
  for _, e in ipairs(entries) do
    e.nv = nvlabs_name(e.name)
    names[#names + 1] = e.nv
  end
  table.sort(names)
  local rank = {}
  for i, n in ipairs(names) do rank[n] = i - 1 end
  for _, e in ipairs(entries) do
    local k = rank[e.nv]
    e.tensor:copy_(U.det({ e.tensor:numel() }, 0.05 + 0.003 * k, 0.3 * k + 0.2):reshape(e.tensor:shape()))
  end
  return names
end

T.case("the same numbers as NVlabs' StyleGAN2 Generator and Discriminator with the same weights", function()
  -- /usr/bin/python3, torch 1.13, NVlabs/stylegan2-ada-pytorch's training/networks.py (its reference
  -- upfirdn2d on the CPU): Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=16, img_channels=1,
  -- mapping num_layers=2, channel_base=256, channel_max=32) and Discriminator(c_dim=0, 16, 1, the same
  -- channels); every parameter and noise_const filled with sin((0.05 + 0.003 k) i + 0.3 k + 0.2) over
  -- its flat index i, k its rank among the sorted names; z = sin(0.71 i + 0.05) as (2, 32),
  -- noise_mode='const'; D on sin(0.29 i + 0.4) as (2, 1, 16, 16), on zeros, and on 3 times it
  gan.manual_seed(1)
  local G = style.Generator(32, 32, 16, 1, SMALL)
  local D = style.Discriminator(16, 1, SMALL)
  local gnames, dnames = fill(G), fill(D)
  -- NVlabs' names of G's parameters and noise buffers, sorted
  U.equal(table.concat(gnames, " ") .. " ",
    "mapping.fc0.bias mapping.fc0.weight mapping.fc1.bias mapping.fc1.weight " ..
    "synthesis.b16.conv0.affine.bias synthesis.b16.conv0.affine.weight synthesis.b16.conv0.bias " ..
    "synthesis.b16.conv0.noise_const synthesis.b16.conv0.noise_strength synthesis.b16.conv0.weight " ..
    "synthesis.b16.conv1.affine.bias synthesis.b16.conv1.affine.weight synthesis.b16.conv1.bias " ..
    "synthesis.b16.conv1.noise_const synthesis.b16.conv1.noise_strength synthesis.b16.conv1.weight " ..
    "synthesis.b16.torgb.affine.bias synthesis.b16.torgb.affine.weight synthesis.b16.torgb.bias " ..
    "synthesis.b16.torgb.weight synthesis.b4.const synthesis.b4.conv1.affine.bias " ..
    "synthesis.b4.conv1.affine.weight synthesis.b4.conv1.bias synthesis.b4.conv1.noise_const " ..
    "synthesis.b4.conv1.noise_strength synthesis.b4.conv1.weight synthesis.b4.torgb.affine.bias " ..
    "synthesis.b4.torgb.affine.weight synthesis.b4.torgb.bias synthesis.b4.torgb.weight " ..
    "synthesis.b8.conv0.affine.bias synthesis.b8.conv0.affine.weight synthesis.b8.conv0.bias " ..
    "synthesis.b8.conv0.noise_const synthesis.b8.conv0.noise_strength synthesis.b8.conv0.weight " ..
    "synthesis.b8.conv1.affine.bias synthesis.b8.conv1.affine.weight synthesis.b8.conv1.bias " ..
    "synthesis.b8.conv1.noise_const synthesis.b8.conv1.noise_strength synthesis.b8.conv1.weight " ..
    "synthesis.b8.torgb.affine.bias synthesis.b8.torgb.affine.weight synthesis.b8.torgb.bias " ..
    "synthesis.b8.torgb.weight ", "G's tensors are NVlabs'")
  U.equal(#dnames, 18, "D's parameters")
  U.equal(G:num_parameters(), 44792, "G's parameter count (NVlabs: mapping 2112, synthesis 42680)")
  U.equal(G.mapping:num_parameters(), 2112)
  U.equal(D:num_parameters(), 53009, "D's parameter count")
  U.equal(G.num_ws, 6)
  local z = U.det({ 2, 32 }, 0.71, 0.05)
  local pixels = { 1.078031301498413, 5.148876667022705, 5.083366870880127, 2.159196615219116, 4.919106960296631,
    5.310428142547607, 2.457024097442627, 2.5445241928100586, 5.283845901489258, 4.090852737426758,
    4.041278839111328, 5.4708051681518555, 4.123887062072754, 2.4109787940979004 }
  for _, mode in ipairs({ "eval", "train" }) do
    G:train(mode == "train")
    local img = G(z, { noise = "const" })
    U.shape(img, { 2, 1, 16, 16 })
    U.close(img:sum():item() / 1968.2783282995224, 1, 1e-5, mode .. ": sum")
    U.close(img:square():sum():item() / 8356.348726973298, 1, 1e-5, mode .. ": sum of squares")
    local flat, got = img:reshape(-1):totable(), {}
    for i = 1, #flat, 37 do got[#got + 1] = flat[i] end
    U.tclose(gan.tensor(got), pixels, 2e-5, mode .. ": every 37th pixel")
  end
  local x = U.det({ 2, 1, 16, 16 }, 0.29, 0.4)
  U.tclose(D(x), { -0.017072618007659912, -0.01665988564491272 }, 2e-6, "D")
  U.tclose(D(x * 0), { -0.018744349479675293, -0.018744349479675293 }, 2e-6, "D of zeros")
  U.tclose(D(x * 3), { -0.011796683073043823, -0.010351032018661499 }, 2e-6, "D of 3x")
end)

T.case("the ws: one per layer, each used; a block's ToRGB shares its w with the next block's first conv", function()
  gan.manual_seed(2)
  local S = style.Synthesis(8, 16, 3, { channel_base = 64, channel_max = 8 })
  U.equal(S.num_ws, 6, "2 log2(16) - 2")
  U.equal(style.channels(4, { channel_base = 64, channel_max = 8 }), 8)
  U.equal(style.channels(16, { channel_base = 64, channel_max = 8 }), 4)
  local ws = gan.randn(2, 6, 8)
  local img = S(ws, { noise = "none" })
  U.shape(img, { 2, 3, 16, 16 })
  for k = 1, 6 do
    local bumped = ws:clone()
    bumped:narrow(2, k, 1):copy_(gan.randn(2, 1, 8))
    U.truthy(U.maxdiff(S(bumped, { noise = "none" }), img) > 1e-4, "w " .. k .. " matters")
  end
  U.raises(function() S(gan.randn(2, 5, 8)) end, "expected ws of shape (N, 6, 8)")
  U.raises(function() style.Synthesis(8, 12, 3) end, "a power of two")
  U.raises(function() style.Discriminator(4, 3) end, "8 or more")
end)

T.case("noise modes, truncation through the generator, and the EMA's copy samples the same", function()
  gan.manual_seed(3)
  local G = style.Generator(8, 8, 8, 1, { channel_base = 64, channel_max = 8, mapping_layers = 2 })
  G:eval()
  local z = gan.randn(3, 8)
  U.equal(U.maxdiff(G(z, { noise = "const" }), G(z, { noise = "const" })), 0, "const: reproducible")
  for _, m in ipairs(G:modules()) do if m.__name == "NoiseInjection" then m.strength:fill_(1) end end
  U.truthy(U.maxdiff(G(z), G(z)) > 1e-4, "random by default")
  nn.set_noise_mode(G, "const")
  U.equal(U.maxdiff(G(z), G(z)), 0, "set_noise_mode")
  G.mapping.w_avg:copy_(G.mapping(z):select(2, 1):mean(1))
  local t0 = G(z, { psi = 0 })
  U.truthy(U.maxdiff(t0:narrow(1, 1, 1), t0:narrow(1, 2, 1)) < 1e-5, "psi 0: every sample is w_avg's")
  local ema = gan.optim.EMA(G, 0.9)
  U.equal(U.maxdiff(ema:module()(z), G(z)), 0, "the copy, buffers included")
end)

T.case("R1 through the discriminator and path length through the generator (double backward)", function()
  gan.manual_seed(4)
  local opts = { channel_base = 16, channel_max = 2, mapping_layers = 1, activation = "tanh", lr_multiplier = 1 }
  local D = style.Discriminator(8, 1, opts)
  local real = gan.randn(2, 1, 8, 8)
  U.gradcheck(function() return gan.penalties.r1(D, real) end, D:parameters(), { points = 3 })
  local G = style.Generator(2, 2, 8, 1, opts)
  local pl = gan.penalties.PathLength()
  local z = gan.randn(2, 2)
  local params = G.synthesis:parameters()
  U.gradcheck(function()
    gan.manual_seed(5)
    pl.pl_mean:fill_(0.1)
    local ws = G.mapping(z, { update_w_avg = false })
    return (pl:penalty(G.synthesis(ws, { noise = "const" }), ws))
  end, { params[1], params[3], params[#params - 1], G.mapping.fc1.weight }, { points = 3 })
end)

T.case("gan.pretrained.stylegan2 loads a run's average G with its shape from the options", function()
  local dir = U.tmpdir("pretrained_style")
  local G = style.Generator(8, 6, 16, 3, SMALL)
  G.mapping(gan.randn(4, 8))                     -- w_avg moves away from 0
  local ema = gan.optim.EMA(G, 0.5)
  local tensors = { ["D.b4.out.bias"] = gan.zeros(1) }
  for k, t in pairs(ema:state_dict()) do tensors["ema." .. k] = t end
  for k, t in pairs(G:state_dict()) do tensors["G." .. k] = t * 2 end
  local meta = { ["ganlua.options"] = "size=16\nnz=8\nw_dim=6\nmapping=2\nchannel_base=256\nchannel_max=32\n",
    ["ganlua.step"] = "9" }
  assert(gan.io.save_safetensors(dir .. "/ck.safetensors", tensors, meta))
  local H, info = gan.pretrained.stylegan2(dir .. "/ck.safetensors")
  U.equal(info.step, 9, "step")
  U.equal(info.channels, 3, "channels from the ToRGB")
  U.equal(info.options.w_dim, "6", "the run's options")
  U.equal(H.training, false, "evaluation mode")
  U.equal(U.maxdiff(H.mapping.w_avg, G.mapping.w_avg), 0, "w_avg")
  G:eval()
  local z = gan.randn(2, 8)
  U.equal(U.maxdiff(G(z, { noise = "const" }), H(z, { noise = "const" })), 0, "the average G")
  local T2 = gan.pretrained.stylegan2(dir .. "/ck.safetensors", "G")
  U.truthy(U.maxdiff(T2.synthesis.b4.const, G.synthesis.b4.const * 2) == 0, "key G: the trained G")
  meta["ganlua.options"] = "size=16\nnz=8\nw_dim=6\nmapping=2\nchannel_base=512\nchannel_max=32\n"
  assert(gan.io.save_safetensors(dir .. "/wide.safetensors", tensors, meta))
  U.raises(function() gan.pretrained.stylegan2(dir .. "/wide.safetensors") end, "its ema does not match")
  assert(gan.io.save_safetensors(dir .. "/other.safetensors", tensors, { ["ganlua.options"] = "size=16\nnz=8\n" }))
  U.raises(function() gan.pretrained.stylegan2(dir .. "/other.safetensors") end, "is not a StyleGAN2 checkpoint")
  U.raises(function() gan.pretrained.stylegan2(dir .. "/missing.safetensors") end, "train a StyleGAN2 first")
end)

T.run()
