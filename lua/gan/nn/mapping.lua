--- MappingNetwork: StyleGAN's map from z to the intermediate latent space W,
-- with the average w, the truncation trick and style mixing.
--
--     local mapping = nn.MappingNetwork(512, 512, { layers = 8, num_ws = 14 })
--     local ws = mapping(z)                          -- (N, 14, 512): one w per synthesis layer
--     ws = mapping:mix(ws, z)                        -- style mixing regularisation (training)
--     local ws_t = mapping(z, { psi = 0.7, cutoff = 8 })   -- truncated, for samples
--
-- Karras et al. 2019 (arXiv:1812.04948), as NVlabs' MappingNetwork: z is
-- normalised by PixelNorm, then `layers` EqualizedLinear layers with lrelu
-- (gain sqrt(2)) and a learning-rate multiplier of 0.01 (8 layers in
-- StyleGAN and StyleGAN2; 2 do for small runs). In training mode each
-- forward moves the buffer `w_avg` towards the batch's mean w:
-- w_avg = beta w_avg + (1 - beta) mean(w), beta = 0.995 (saved in
-- checkpoints, copied into an EMA's module with the other buffers).
--
-- Truncation: w' = w_avg + psi (w - w_avg), on the first `cutoff` of the
-- num_ws copies only when cutoff is given (StyleGAN's coarse layers).
-- Style mixing: with probability `prob` (0.9), the ws from `cutoff` on are
-- replaced by those of a second z, with cutoff uniform in [1, num_ws - 1];
-- the draws (whether to mix, the cutoff, the second z) come from the named
-- random stream "style.mixing" (gan.random), so they never move the
-- recipe's own draws.
--
-- Requires: gan.nn.Module, gan.nn.equalized, gan.nn.norm, gan.random, gan.dist.
-- Reads no options.
-- @classmod gan.nn.MappingNetwork

local gan = require "gan"
local Module = require "gan.nn.Module"
local eq = require "gan.nn.equalized"
local norm = require "gan.nn.norm"
local dist = require "gan.dist"

local MappingNetwork = Module:extend("MappingNetwork")

--- @param z_dim the size of z
-- @param w_dim the size of w
-- @param opts {layers=8, hidden=w_dim (the hidden layers' width), lr_multiplier=0.01,
--   activation="lrelu", num_ws (nil: w is (N, w_dim); a number: (N, num_ws, w_dim) copies),
--   w_avg_beta=0.995 (false: no w_avg), normalize_z=true}
function MappingNetwork:init(z_dim, w_dim, opts)
  opts = opts or {}
  self.z_dim, self.w_dim = z_dim, w_dim
  self.num_layers = opts.layers or 8
  self.num_ws = opts.num_ws
  self.w_avg_beta = opts.w_avg_beta
  if self.w_avg_beta == nil then self.w_avg_beta = 0.995 end
  if math.type(self.num_layers) ~= "integer" or self.num_layers < 1 then
    error(("MappingNetwork: layers must be a positive integer, got %s"):format(tostring(opts.layers)), 3)
  end
  if opts.normalize_z ~= false then self.normalize = norm.PixelNorm() end
  local hidden = opts.hidden or w_dim
  for i = 1, self.num_layers do
    local fin = i == 1 and z_dim or hidden
    local fout = i == self.num_layers and w_dim or hidden
    self:add_module("fc" .. i, eq.EqualizedLinear(fin, fout, {
      activation = opts.activation or "lrelu", lr_multiplier = opts.lr_multiplier or 0.01,
    }))
  end
  if self.w_avg_beta then self:buffer("w_avg", gan.zeros(w_dim)) end
end

--- z (N, z_dim) -> w (N, w_dim), or (N, num_ws, w_dim) with num_ws.
-- @param z the latents
-- @param opts {psi=1 (truncation), cutoff (truncate only the first cutoff ws), update_w_avg (default:
--   in training mode), num_ws (default: the network's)}
-- @return w or ws
function MappingNetwork:forward(z, opts)
  opts = opts or {}
  if z:dim() ~= 2 or z:size(2) ~= self.z_dim then
    error(("MappingNetwork: expected z of shape (N, %d), got (%s)"):format(self.z_dim,
      table.concat(z:shape(), ", ")), 2)
  end
  local x = self.normalize and self.normalize(z) or z
  for i = 1, self.num_layers do x = self["fc" .. i](x) end
  local update = opts.update_w_avg
  if update == nil then update = self.training end
  if update and self.w_avg_beta then
    -- under mpirun, the mean of every rank's ws (gan.dist.global_mean)
    gan.no_grad(function() self.w_avg:lerp_(dist.global_mean(x:detach():mean(1)), self.w_avg_beta) end)
  end
  local num_ws = opts.num_ws or self.num_ws
  if num_ws then x = x:unsqueeze(2):expand(x:size(1), num_ws, self.w_dim) end
  if opts.psi and opts.psi ~= 1 then x = self:truncate(x, opts.psi, opts.cutoff) end
  return x
end

--- The truncation trick: w_avg + psi (w - w_avg), on the first `cutoff` ws
-- of (N, num_ws, w_dim) when cutoff is given, else on all.
-- @param ws (N, w_dim) or (N, num_ws, w_dim)
-- @param psi the truncation (1: none, 0: every w is w_avg)
-- @param cutoff number of leading ws truncated (nil: all)
-- @return the truncated ws
function MappingNetwork:truncate(ws, psi, cutoff)
  if not self.w_avg_beta then error("MappingNetwork: truncation needs w_avg (w_avg_beta is false)", 2) end
  local avg = self.w_avg
  if cutoff == nil or ws:dim() == 2 or cutoff >= ws:size(2) then return avg + (ws - avg) * psi end
  local n = ws:size(2)
  local coef = {}
  for i = 1, n do coef[i] = i <= cutoff and psi or 1 end
  return avg + (ws - avg) * gan.tensor(coef):reshape(1, n, 1)
end

--- Style mixing regularisation (StyleGAN): with probability prob, the ws
-- from a random cutoff on come from the mapping of a second z. The second
-- mapping leaves w_avg alone.
-- @param ws (N, num_ws, w_dim), this network's output for z
-- @param z the latents ws came from (for the second z's shape)
-- @param opts {prob=0.9, stream="style.mixing" (a gan.random stream name)}
-- @return the mixed ws, and the cutoff (num_ws: no mixing)
function MappingNetwork:mix(ws, z, opts)
  opts = opts or {}
  local prob = opts.prob or 0.9
  local n = ws:size(2)
  if ws:dim() ~= 3 or n < 2 then
    error("MappingNetwork:mix: ws must be (N, num_ws, w_dim) with num_ws >= 2", 2)
  end
  local stream = gan.random.stream(opts.stream or "style.mixing")
  -- the same three draws every call: the stream's position never depends on the coin
  local u = stream:rand(2):totable()
  local z2 = stream:randn(z:shape())
  if u[1] >= prob then return ws, n end
  local cutoff = 1 + math.floor(u[2] * (n - 1))
  local ws2 = self(z2, { update_w_avg = false, num_ws = n })
  return MappingNetwork.copy_styles(ws, ws2, cutoff + 1, n), cutoff
end

--- The ws of `dst` with those from `first` to `last` taken from `src`:
-- StyleGAN's style mixing (Figure 3 copies a source's coarse, middle or
-- fine styles into a destination; mixing regularisation takes the ws from
-- its cutoff + 1 on from a second z).
-- @param dst (N, num_ws, w_dim)
-- @param src (N, num_ws, w_dim), or (1, num_ws, w_dim) for every row of dst
-- @param first the first w copied (1-based)
-- @param last the last one (default num_ws)
-- @return (N, num_ws, w_dim)
function MappingNetwork.copy_styles(dst, src, first, last)
  local n = dst:size(2)
  last = last or n
  if dst:dim() ~= 3 or src:dim() ~= 3 or src:size(2) ~= n or src:size(3) ~= dst:size(3) then
    error(("MappingNetwork.copy_styles: dst (%s) and src (%s) must be (N, num_ws, w_dim) alike"):format(
      table.concat(dst:shape(), ", "), table.concat(src:shape(), ", ")), 2)
  end
  if math.type(first) ~= "integer" or math.type(last) ~= "integer" or first < 1 or last > n or first > last then
    error(("MappingNetwork.copy_styles: the ws %s..%s are not a range of 1..%d"):format(tostring(first),
      tostring(last), n), 2)
  end
  if src:size(1) ~= dst:size(1) then src = src:expand(dst:size(1), n, dst:size(3)) end
  local parts = {}
  if first > 1 then parts[#parts + 1] = dst:narrow(2, 1, first - 1) end
  parts[#parts + 1] = src:narrow(2, first, last - first + 1)
  if last < n then parts[#parts + 1] = dst:narrow(2, last + 1, n - last) end
  return #parts == 1 and parts[1] or gan.cat(parts, 2)
end

--- Settings shown when printed.
function MappingNetwork:extra_repr()
  local s = ("z_dim=%d, w_dim=%d, layers=%d"):format(self.z_dim, self.w_dim, self.num_layers)
  if self.num_ws then s = s .. (", num_ws=%d"):format(self.num_ws) end
  return s
end

return MappingNetwork
