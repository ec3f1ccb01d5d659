--- gan.pretrained: networks of earlier runs, for recipes that use a trained model.
--
--     local G, info = gan.pretrained.dcgan(opt)   -- opt.checkpoint, or a short DCGAN run of our own
--     print(info.path, info.step, info.nz)
--
-- Checkpoints are read with gan.io.load_safetensors: loading never runs code.
-- @module gan.pretrained

local gan = require "gan"
local util = require "gan.util"
local convnet = require "gan.convnet"

local M = {}

--- The options a run saved in its checkpoint ("ganlua.options": key=value lines).
-- @param meta the checkpoint's metadata
-- @return table key -> text
function M.options(meta)
  local o = {}
  for k, v in ((meta or {})["ganlua.options"] or ""):gmatch("([%w_]+)=([^\n]*)") do o[k] = v end
  return o
end

--- DCGAN's generator from a checkpoint of recipes/dcgan.lua: built with
-- gan.convnet.up from the run's nz, nf, size and channels, its weights
-- and batch-norm statistics loaded, in evaluation mode.
-- @param path the checkpoint
-- @return G and info {path=, step=, nz=, nf=, size=, channels=}; raises a clear error otherwise
function M.generator(path)
  local tensors, meta = gan.io.load_safetensors(path)
  if not tensors then error(("cannot read %s: %s"):format(path, meta), 0) end
  local o = M.options(meta)
  local nz, nf, size, C = tonumber(o.nz), tonumber(o.nf), tonumber(o.size), tonumber(o.channels or 1)
  if not (nz and nf and size and C) then
    error(path .. " is not a DCGAN checkpoint (no nz, nf, size in its options)", 0)
  end
  local G = convnet.up(math.tointeger(nz), math.tointeger(C), math.tointeger(size), math.tointeger(nf))
  local sd = {}
  for k, t in pairs(tensors) do
    local name = k:match("^G%.(.+)$")
    if name then sd[name] = t end
  end
  local ok, err = pcall(G.load_state_dict, G, sd)
  if not ok then error(("%s: its G does not match DCGAN's layout: %s"):format(path, tostring(err)), 0) end
  G:eval()
  return G, { path = path, step = tonumber(meta["ganlua.step"]), nz = math.tointeger(nz), nf = math.tointeger(nf),
    size = math.tointeger(size), channels = math.tointeger(C) }
end

--- A trained DCGAN generator: opt.checkpoint when that file exists, else
-- the checkpoint of a DCGAN trained here for opt.train_iters iterations
-- (recipes/dcgan.lua in a fresh ganlua process, into OUT/dcgan; reused
-- when already there).
-- @param opt options: checkpoint, train_iters, train_nf (optional), out, batch, seed, threads, limit,
--   data, size, channels (optional)
-- @return G and info (as `generator`)
function M.dcgan(opt)
  local path = opt.checkpoint
  if not util.exists(path) then
    local dir = opt.out .. "/dcgan"
    path = dir .. "/checkpoint.safetensors"
    if not util.exists(path) then
      print(("%s not found: training a DCGAN for %d iterations in %s"):format(opt.checkpoint, opt.train_iters, dir))
      local a = rawget(_G, "arg")
      local exe = a and a[-1] or "ganlua"
      local cmd = ("%s dcgan --iters=%d --nf=%d --batch=%d --seed=%d --threads=%d --limit=%d --sample_every=%d "
        .. "--save_every=0 --eval=false --data=%s --size=%d --channels=%d --out=%s"):format(util.shell_quote(exe),
          opt.train_iters, util.get(opt, "train_nf", 64), opt.batch, opt.seed, opt.threads, opt.limit, opt.train_iters,
          util.shell_quote(util.get(opt, "data", "fashion-mnist")), util.get(opt, "size", 32),
          util.get(opt, "channels", 1), util.shell_quote(dir))
      if not os.execute(cmd) then error("training the DCGAN failed: " .. cmd, 0) end
    end
  end
  return M.generator(path)
end

return M
