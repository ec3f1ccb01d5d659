--- gan.sample: using a trained run: sample grids, latent walks and
-- translations, from a run's checkpoint alone.
--
--     ganlua sample runs/dcgan --n=64 --seed=3 --out=dcgan.png
--     ganlua sample runs/dcgan --interpolate=8 --truncation=1.5
--     ganlua translate runs/cyclegan photos/ --out=translated/ --direction=BtoA
--     ganlua translate runs/stargan garments/ --target=dress
--
-- The checkpoint records the recipe that made it and the options it ran
-- with; gan.train.replay runs that recipe again, which builds its networks
-- as it did, loads the checkpoint and, instead of training, hands the run
-- to the functions here. So every recipe trained with gan.train can be
-- sampled, with no code of its own: what is drawn is what its sample grids
-- show (hooks.sample, or G or its EMA on hooks.noise). Sampling changes
-- nothing in the run folder but the file it writes.
--
-- `--interpolate` and `--truncation` work on the generator's noise, so they
-- need a run whose samples are G(noise) (hooks.noise: DCGAN, WGAN-GP, ...);
-- a recipe that samples through a function of its own (labels, triplets)
-- is told so. `translate` needs a recipe that says how it translates
-- (hooks.translate): a direction (CycleGAN, UNIT, DiscoGAN, pix2pix), or
-- a target domain among several (StarGAN: `--target=`).
--
-- Requires: gan.train (replay, draw_of, without_side_effects), gan.image,
-- gan.data.images (read_square), gan.util (user_error).
-- @module gan.sample

local gan = require "gan"
local util = require "gan.util"

local M = {}

local user_error = util.user_error

-- {key = default} of each command's own options; the rest go to the recipe
local own = {
  sample = { n = 64, out = "", seed = 1, truncation = 0.0, interpolate = 0 },
  translate = { out = "", direction = "AtoB", target = "", batch = 16 },
}

--- Splits a command's arguments into its own options (converted to the
-- type of their default) and the recipe's (passed on as they are).
-- @param command "sample" or "translate"
-- @param argv list of "--key=value" arguments
-- @return table of its options, list of the recipe's arguments
function M.arguments(command, argv)
  local o, rest = {}, {}
  for k, v in pairs(own[command]) do o[k] = v end
  for _, a in ipairs(argv) do
    local k, v = a:match("^%-%-([%w_%-]+)=(.*)$")
    k = k and k:gsub("%-", "_")
    if k and own[command][k] ~= nil then
      local value, err = require("gan.options").convert(k, v, own[command][k])
      if value == nil then user_error("ganlua %s: %s", command, err) end
      o[k] = value
    elseif a:match("^%-%-") then
      rest[#rest + 1] = a
    else
      user_error("ganlua %s: unexpected argument '%s' (options look like --key=value)", command, a)
    end
  end
  return o, rest
end

-- The run's generator and noise, for what needs z: G (or its EMA's copy) and hooks.noise.
local function generator(run, what)
  local state, hooks = run.state, run.hooks
  local G = (type(state.ema) == "table" and state.ema.module and state.ema:module()) or state.G
  if not hooks.noise or type(G) ~= "table" then
    user_error("%s: this recipe draws its samples through a function of its own (hooks.sample), not G(noise): "
      .. "%s needs a run whose samples are G on hooks.noise", run.opt.out, what)
  end
  return G, hooks.noise
end

-- n noise vectors of the run's shape, from N(0, 1) truncated to [-t, t] when t > 0
local function draw_noise(noise, n, t)
  local z = noise(n)
  if t > 0 then z = gan.trunc_normal(z:shape(), -t, t) end
  return z
end

--- What `ganlua sample` draws from a loaded run: n samples (its sample
-- grids' function), or with o.truncation > 0 G on noise truncated to
-- [-t, t], or with o.interpolate = K, rows of K samples walking in a
-- straight line between two noise vectors (n // K rows, at least one).
-- The random draws start from o.seed.
-- @param run the run (as gan.train.replay gives it)
-- @param o {n=, seed=, truncation=, interpolate=}
-- @return the samples (N, C, H, W) or points (N, 2), and the grid's row length
function M.draw(run, o)
  local train = require "gan.train"
  if o.n < 1 then user_error("ganlua sample: --n=%d: at least one sample", o.n) end
  if o.truncation < 0 then user_error("ganlua sample: --truncation=%g: a bound > 0 (0: none)", o.truncation) end
  if o.interpolate < 0 or o.interpolate == 1 then
    user_error("ganlua sample: --interpolate=%d: at least 2 steps (0: no walk)", o.interpolate)
  end
  local r = train.without_side_effects(run.state, function()
    gan.manual_seed(o.seed)
    if o.interpolate >= 2 then
      local G, noise = generator(run, "--interpolate")
      local K, rows = o.interpolate, math.max(1, o.n // o.interpolate)
      local a, b = draw_noise(noise, rows, o.truncation), draw_noise(noise, rows, o.truncation)
      local walk = {}
      for i = 0, K - 1 do
        local t = i / (K - 1)
        walk[#walk + 1] = (a * (1 - t) + b * t):unsqueeze(2)
      end
      -- (rows, K, ...) row by row: each row of the grid one walk
      local z = gan.cat(walk, 2)
      local shape = z:shape()
      table.remove(shape, 1)
      shape[1] = rows * K
      return { G(z:reshape(table.unpack(shape))), K }
    end
    if o.truncation > 0 then
      local G, noise = generator(run, "--truncation")
      return { G(draw_noise(noise, o.n, o.truncation)) }
    end
    local draw, why = train.draw_of(run.state, run.hooks)
    if not draw then user_error("%s: %s", run.opt.out, why) end
    return { (draw(o.n)) }
  end)
  return r[1], r[2]
end

--- A trained run in this process: its recipe rebuilt from the checkpoint
-- (gan.train.replay), its networks loaded, in evaluation mode. The random
-- state is put back afterwards, so loading a run inside another recipe
-- shifts none of its draws.
--
--     local r = gan.sample.load("runs/dcgan")
--     local x = r.draw(16)            -- what the run's grids show
--     local y = r.state.G(r.noise(16)) -- or its parts
-- @param path the run folder or its checkpoint
-- @param argv more options for the recipe (optional)
-- @return {state= (the run's modules, by name), opt=, step=, draw= (function(n), or nil), noise= (or nil),
--   translate= (or nil), recipe=}
function M.load(path, argv)
  local train = require "gan.train"
  local rng = gan.rng_state()
  local ok, r = pcall(train.replay, path, argv or {}, function(run)
    for _, m in ipairs(train.modules_of(run.state)) do m:eval() end
    return { state = run.state, opt = run.opt, step = run.start, draw = train.draw_of(run.state, run.hooks),
      noise = run.hooks.noise, translate = run.hooks.translate, recipe = train.run_info(path).recipe }
  end)
  gan.set_rng_state(rng)
  if not ok then error(r, 0) end
  return r
end

--- `ganlua sample RUN [--n=64 --out=FILE --seed=1 --truncation=T --interpolate=K]`:
-- draws from a run's checkpoint (see draw) and writes a grid of images, or
-- a scatter plot of points over the data's, to FILE (default
-- RUN/sample.png). Other options go to the recipe (--limit=100 to load
-- less data).
-- @param path the run folder or its checkpoint
-- @param argv the command's arguments
-- @return the file written
function M.sample(path, argv)
  local o, rest = M.arguments("sample", argv or {})
  return require("gan.train").replay(path, rest, function(run)
    local x, row = M.draw(run, o)
    local out = o.out ~= "" and o.out or run.out .. "/sample.png"
    local ok, err
    if x:dim() == 2 and x:size(2) == 2 then
      local data = run.state.data
      local ref = type(data) == "table" and data.kind == "points" and data.x:narrow(1, 1, math.min(data.x:size(1), 2000))
      ok, err = gan.image.scatter(out, x, { reference = ref or nil })
    else
      ok, err = gan.image.save_grid(out, x, { nrow = row or math.max(1, math.floor(math.sqrt(x:size(1)) + 0.5)) })
    end
    if not ok then user_error("ganlua sample: cannot write %s: %s", out, tostring(err)) end
    print(("%s: %d samples of %s at step %d%s"):format(out, x:size(1), run.out, run.start,
      o.interpolate >= 2 and (", walks of %d steps"):format(o.interpolate) or ""))
    return out
  end)
end

-- The translation a run's hooks.translate names: {AtoB = fn, BtoA = fn}
-- by --direction, or for a run among several domains ({targets = {{id=,
-- name=}, ...}, to = fn(x, k)}) into the domain --target names, by its id
-- or its name (any case). Returns fn(x) and what it does ("AtoB", "to_3").
local function translation(run, o)
  local t = run.hooks.translate
  if t.to then
    local names = {}
    for k, d in ipairs(t.targets) do
      names[k] = ("%s (%s)"):format(d.id, d.name)
      if o.target == tostring(d.id) or o.target:lower() == tostring(d.name):lower() then
        return function(x) return t.to(x, k) end, "to_" .. d.id, "into " .. names[k]
      end
    end
    if o.target == "" then
      user_error("ganlua translate: this run translates into any of several domains; say which with --target= "
        .. "(its id or name): %s", table.concat(names, ", "))
    end
    user_error("ganlua translate: --target=%s: not a domain of this run; its domains: %s", o.target,
      table.concat(names, ", "))
  end
  local ways = {}
  for k in pairs(t) do if k ~= "channels" then ways[#ways + 1] = k end end
  table.sort(ways)
  if o.target ~= "" then
    user_error("ganlua translate: --target=%s: this run translates between two domains (--direction=%s), not into "
      .. "one of several", o.target, table.concat(ways, " or "))
  end
  if not t[o.direction] then
    user_error("ganlua translate: --direction=%s: this run translates %s", o.direction, table.concat(ways, ", "))
  end
  return t[o.direction], o.direction, o.direction
end

--- `ganlua translate RUN DIR [--out=FOLDER --direction=AtoB|BtoA --target=DOMAIN]`:
-- every image under DIR, its short side resized to the run's --size and
-- cropped square, translated by the run's generator, written as
-- FOLDER/NAME.png (default RUN/translated/AtoB, or RUN/translated/to_ID for
-- a run among several domains, where --target names the domain by id or
-- name), with a grid FOLDER.png of the first 16 (input, translation) pairs.
-- @param path the run folder or its checkpoint
-- @param dir the folder of images to translate
-- @param argv the command's arguments
-- @return the folder written and the number of images
function M.translate(path, dir, argv)
  local o, rest = M.arguments("translate", argv or {})
  local images = require "gan.data.images"
  if not gan.io.isdir(dir) then user_error("ganlua translate: %s is not a folder of images", dir) end
  local files = images.files(dir)
  if #files == 0 then user_error("ganlua translate: no PNG or JPEG files in %s", dir) end
  return require("gan.train").replay(path, rest, function(run)
    local t = run.hooks.translate
    if not t then
      user_error("%s: this run's recipe does not translate images (`ganlua translate` is for CycleGAN, UNIT, "
        .. "DiscoGAN, pix2pix and StarGAN runs; `ganlua sample` draws from the others)", run.out)
    end
    local G, folder, how = translation(run, o)
    local size = run.opt.size
    local out = o.out ~= "" and o.out:gsub("/+$", "") or ("%s/translated/%s"):format(run.out, folder)
    local made, err = gan.io.mkdir(out)
    if not made then user_error("ganlua translate: cannot make %s: %s", out, tostring(err)) end
    local pairs_, done = {}, 0
    gan.no_grad(function()
      for i = 1, #files, o.batch do
        local batch, names = {}, {}
        for j = i, math.min(#files, i + o.batch - 1) do
          local x, why = images.read_square(files[j], t.channels, size)
          if x then
            batch[#batch + 1], names[#names + 1] = x, files[j]
          else
            print(("skipped %s: %s"):format(files[j], tostring(why)))
          end
        end
        if #batch > 0 then
          local x = gan.stack(batch, 1)
          local y = G(x)
          for k, name in ipairs(names) do
            local base = name:sub(#dir + 2):gsub("%.[^./]+$", ""):gsub("/", "_")
            local ok, werr = gan.image.save(("%s/%s.png"):format(out, base), y[k])
            if not ok then user_error("ganlua translate: cannot write into %s: %s", out, tostring(werr)) end
            if #pairs_ < 32 then pairs_[#pairs_ + 1], pairs_[#pairs_ + 2] = x[k], y[k] end
            done = done + 1
          end
        end
      end
    end)
    if done == 0 then user_error("ganlua translate: none of the %d files in %s could be read", #files, dir) end
    gan.image.save_grid(out .. ".png", gan.stack(pairs_, 1), { nrow = 8 })
    print(("%s: %d images of %s translated %s by %s at step %d (pairs in %s.png)"):format(out, done, dir,
      how, run.out, run.start, out))
    return out, done
  end)
end

return M
