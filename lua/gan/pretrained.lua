--- gan.pretrained: networks of earlier runs, for recipes that build on a
-- trained model (PPGN samples a DCGAN's G; the latent-space lab walks it;
-- the truncation and path length labs measure a StyleGAN2's; the style
-- mixing and AdaIN labs take a StyleGAN's apart).
--
--     local G, info = gan.pretrained.dcgan("runs/dcgan/checkpoint.safetensors")
--     print(info.path, info.step, info.nz)
--
-- It only reads checkpoints (gan.io.load_safetensors: loading never runs
-- code); it never trains. `generator` takes a run of any recipe: it runs
-- the run's recipe again up to its networks (gan.sample.load). A recipe that wants a model trained when none
-- is there runs that recipe itself (gan.recipes.run).
-- Requires: gan.nets.dcgan, gan.nets.style, gan.nets.stylegan.
-- @module gan.pretrained

local gan = require "gan"

local M = {}

--- The options a run saved in its checkpoint ("ganlua.options": key=value lines).
-- @param meta the checkpoint's metadata
-- @return table key -> text
function M.options(meta)
  local o = {}
  for k, v in ((meta or {})["ganlua.options"] or ""):gmatch("([%w_]+)=([^\n]*)") do o[k] = v end
  return o
end

--- A module of a run's checkpoint: the entries saved under state[key],
-- loaded into the network `build` makes from the run's options, in
-- evaluation mode.
-- @param path the checkpoint
-- @param key the state key the module was saved under ("G")
-- @param build function(options, tensors) -> module (options: key -> text, as saved; tensors:
--   the module's, by name within it, for shapes the options do not give)
-- @return the module, the options and the step; raises a clear error otherwise
function M.load(path, key, build)
  local tensors, meta = gan.io.load_safetensors(path)
  if not tensors then error(("cannot read %s: %s"):format(path, meta), 0) end
  local o = M.options(meta)
  local sd, prefix = {}, "^" .. key:gsub("%p", "%%%0") .. "%.(.+)$"
  for k, t in pairs(tensors) do
    local name = k:match(prefix)
    if name then sd[name] = t end
  end
  local net = build(o, sd)
  local ok, err = pcall(net.load_state_dict, net, sd)
  if not ok then error(("%s: its %s does not match: %s"):format(path, key, tostring(err)), 0) end
  net:eval()
  return net, o, tonumber(meta["ganlua.step"])
end

--- Any run's generator, whatever its recipe: the run rebuilt from its
-- checkpoint (gan.sample.load), its modules in evaluation mode.
-- @param path a run folder or its checkpoint
-- @return draw (function(n) -> what the run's sample grids show) and the run
--   {state=, opt=, step=, noise=, translate=, recipe=}; raises a clear error otherwise
function M.generator(path)
  local r = require("gan.sample").load(path)
  if not r.draw then error(("%s: the run samples nothing (no state.G, hooks.noise or hooks.sample)"):format(path), 0) end
  return r.draw, r
end

--- DCGAN's generator from a checkpoint of recipes/dcgan.lua (or any run
-- that saved gan.nets.dcgan.generator(nz, channels, size, nf) as G with
-- the options nz, nf, size and channels), in evaluation mode.
-- @param path the checkpoint
-- @return G and info {path=, step=, nz=, nf=, size=, channels=}; raises a clear error otherwise
function M.dcgan(path)
  if not gan.io.exists(path) then
    error(("%s not found: train a DCGAN first (`ganlua dcgan`), or name a checkpoint with --checkpoint=FILE")
      :format(path), 0)
  end
  local info = { path = path }
  local G, _, step = M.load(path, "G", function(o)
    for _, k in ipairs { "nz", "nf", "size" } do
      info[k] = math.tointeger(tonumber(o[k]))
      if not info[k] then error(path .. " is not a DCGAN checkpoint (no nz, nf, size in its options)", 0) end
    end
    info.channels = math.tointeger(tonumber(o.channels or 1))
    return gan.nets.dcgan.generator(info.nz, info.channels, info.size, info.nf)
  end)
  info.step = step
  return G, info
end

-- The generator of a style-based run (stylegan or stylegan2): the module
-- under key, built by Net from the run's options and the image channels
-- of the bias under `rgb`; `marks` are entries that must be there too.
local function style_generator(path, key, name, recipe, Net, rgb, marks)
  if not gan.io.exists(path) then
    error(("%s not found: train a %s first (`ganlua %s`), or name a checkpoint with --checkpoint=FILE")
      :format(path, name, recipe), 0)
  end
  key = key or "ema"
  local info = { path = path }
  local G, o, step = M.load(path, key, function(o, tensors)
    for _, k in ipairs { "nz", "w_dim", "size", "mapping", "channel_base", "channel_max" } do
      info[k] = math.tointeger(tonumber(o[k]))
      if not info[k] then error(("%s is not a %s checkpoint (no %s in its options)"):format(path, name, k), 0) end
    end
    local ok = tensors[rgb] ~= nil
    for _, m in ipairs(marks) do ok = ok and tensors[m] ~= nil end
    if not ok then error(("%s holds no %s generator under '%s'"):format(path, name, key), 0) end
    info.channels = tensors[rgb]:numel()
    return Net(info.nz, info.w_dim, info.size, info.channels, {
      mapping_layers = info.mapping, channel_base = info.channel_base, channel_max = info.channel_max })
  end)
  info.step, info.options = step, o
  return G, info
end

--- StyleGAN2's generator from a checkpoint of recipes/stylegan2.lua:
-- the average G (its EMA, saved as "ema"; `key` = "G" gives the trained
-- one), built from the run's options nz, w_dim, size, mapping,
-- channel_base and channel_max (the image channels from its ToRGB), in
-- evaluation mode: the fused modulated convolution, random noise.
-- @param path the checkpoint
-- @param key the state key (default "ema")
-- @return G and info {path=, step=, nz=, w_dim=, size=, channels=, mapping=, channel_base=,
--   channel_max=, options= (all of the run's, as text)}; raises a clear error otherwise
function M.stylegan2(path, key)
  return style_generator(path, key, "StyleGAN2", "stylegan2", gan.nets.style.Generator,
    "synthesis.b4.torgb.bias", {})
end

--- StyleGAN's generator from a checkpoint of recipes/stylegan.lua: the
-- average G (its EMA, saved as "ema"; `key` = "G" gives the trained one),
-- built from the run's options nz, w_dim, size, mapping, channel_base and
-- channel_max (the image channels from its ToRGB), in evaluation mode with
-- random noise.
-- @param path the checkpoint
-- @param key the state key (default "ema")
-- @return G and info {path=, step=, nz=, w_dim=, size=, channels=, mapping=, channel_base=,
--   channel_max=, options= (all of the run's, as text)}; raises a clear error otherwise
function M.stylegan(path, key)
  return style_generator(path, key, "StyleGAN", "stylegan", gan.nets.stylegan.Generator,
    "synthesis.torgb.bias", { "synthesis.b4.epi0.adain.style.weight" })
end

--- SAGAN's generator and discriminator from a checkpoint of
-- recipes/sagan.lua, built from the run's options nz, nf, ndf, size and
-- attention (the image channels from G's last convolution). G is returned
-- in training mode (the recipe samples with batch statistics), D in
-- evaluation mode.
-- @param path the checkpoint
-- @return G, D and info {path=, step=, nz=, nf=, ndf=, size=, attention= (the resolution, 0: none), channels=};
--   raises a clear error otherwise
function M.sagan(path)
  if not gan.io.exists(path) then
    error(("%s not found: train a SAGAN first (`ganlua sagan`), or name a checkpoint with --checkpoint=FILE")
      :format(path), 0)
  end
  local info = { path = path }
  local function read(o, tensors, key, mark)
    for _, k in ipairs { "nz", "nf", "ndf", "size" } do
      info[k] = math.tointeger(tonumber(o[k]))
      if not info[k] then error(("%s is not a SAGAN checkpoint (no %s in its options)"):format(path, k), 0) end
    end
    if o.attention ~= "true" and o.attention ~= "false" then
      error(("%s is not a SAGAN checkpoint (no attention in its options)"):format(path), 0)
    end
    info.attention = o.attention == "true" and math.min(16, info.size // 2) or 0
    if not tensors[mark] then error(("%s holds no SAGAN %s"):format(path, key), 0) end
  end
  local G, _, step = M.load(path, "G", function(o, tensors)
    read(o, tensors, "G", "out.3.weight_orig")
    info.channels = tensors["out.3.weight_orig"]:size(1)
    return gan.nets.biggan.Generator { nz = info.nz, channels = info.channels, size = info.size, nf = info.nf,
      attention = info.attention }
  end)
  local D = M.load(path, "D", function(o, tensors)
    read(o, tensors, "D", "linear.weight_orig")
    return gan.nets.biggan.Discriminator { channels = info.channels, size = info.size, ndf = info.ndf,
      attention = info.attention }
  end)
  G:train()
  info.step = step
  return G, D, info
end

--- BigGAN's generator from a checkpoint of recipes/biggan.lua: the average
-- G (its EMA, saved as "ema"; `key` = "G" gives the trained one), built
-- from the run's options nz, nf, size, shared_dim and attention (the
-- classes from its shared embedding, the image channels from its last
-- convolution). It is returned in training mode: the recipe samples with
-- batch statistics (so ask every class in each batch).
-- @param path the checkpoint
-- @param key the state key (default "ema")
-- @return G and info {path=, step=, nz=, nf=, size=, shared_dim=, attention=, classes=, channels=};
--   raises a clear error otherwise
function M.biggan(path, key)
  if not gan.io.exists(path) then
    error(("%s not found: train a BigGAN first (`ganlua biggan`), or name a checkpoint with --checkpoint=FILE")
      :format(path), 0)
  end
  key = key or "ema"
  local info = { path = path }
  local G, _, step = M.load(path, key, function(o, tensors)
    for _, k in ipairs { "nz", "nf", "size", "shared_dim", "attention" } do
      info[k] = math.tointeger(tonumber(o[k]))
      if not info[k] then error(("%s is not a BigGAN checkpoint (no %s in its options)"):format(path, k), 0) end
    end
    local shared, last = tensors["shared.weight"], tensors["out.3.weight_orig"]
    if not shared or not last then error(("%s holds no BigGAN generator under '%s'"):format(path, key), 0) end
    info.classes, info.channels = shared:size(1), last:size(1)
    return gan.nets.biggan.Generator { nz = info.nz, channels = info.channels, size = info.size, nf = info.nf,
      attention = info.attention, classes = info.classes, shared_dim = info.shared_dim }
  end)
  G:train()
  info.step = step
  return G, info
end

return M
