--- gan.pool: a history of generated images for the discriminator
-- (Shrivastava et al. 2017; CycleGAN keeps 50).
--
--     local pool = gan.pool.ImagePool(50)
--     local fake_for_D = pool:query(fake:detach())   -- same shape as fake
--
-- Until the pool holds `size` images, every image of a query is stored and
-- returned as it is. Once it is full, each image has a 50% chance to be
-- swapped: a stored image (drawn uniformly) is returned in its place and
-- the new one takes its slot; otherwise the new image is returned and the
-- pool stays as it was. The draws come from gan's random generator, so a
-- run is the same for the same seed. The pool is state: give it to
-- gan.train (state.poolA = pool) and its images are saved in checkpoints
-- and restored on --resume.
-- @module gan.pool

local gan = require "gan"

local M = {}

local ImagePool = {}
ImagePool.__index = ImagePool
M.ImagePool = ImagePool

--- Makes an empty pool.
-- @function ImagePool
-- @param size how many images it keeps (0: queries return their input)
-- @return the pool
local function new(size)
  size = size or 50
  if math.type(size) ~= "integer" or size < 0 then
    error(("gan.pool.ImagePool: size must be an integer >= 0, got %s"):format(tostring(size)), 3)
  end
  return setmetatable({ size = size, images = {} }, ImagePool)
end
setmetatable(ImagePool, { __call = function(_, size) return new(size) end })

--- How many images the pool holds now.
-- @return integer
function ImagePool:count()
  return #self.images
end

--- Returns a batch for the discriminator: the new images, some swapped
-- for older ones once the pool is full (see the module comment).
-- @param images (N, C, H, W) generated images (detached: the pool keeps no graph)
-- @return (N, C, H, W)
function ImagePool:query(images)
  if self.size == 0 then return images end
  images = images:detach()
  local n = images:size(1)
  local draws = gan.rand(n, 2):totable()
  local out = {}
  for i = 1, n do
    local img = images[i]
    if #self.images < self.size then
      self.images[#self.images + 1] = img:clone()
      out[i] = img
    elseif draws[i][1] < 0.5 then
      local j = math.min(self.size, math.floor(draws[i][2] * self.size) + 1)
      out[i] = self.images[j]
      self.images[j] = img:clone()
    else
      out[i] = img
    end
  end
  return gan.stack(out, 1)
end

--- The pool's contents, for checkpoints: {size=, count=, images=(count, C, H, W)}
-- (no images entry while empty).
-- @return table
function ImagePool:state_dict()
  local sd = { size = self.size, count = #self.images }
  if #self.images > 0 then sd.images = gan.stack(self.images, 1) end
  return sd
end

--- Restores the contents saved by state_dict (numbers may be strings, as
-- from a checkpoint's metadata).
-- @param sd table
function ImagePool:load_state_dict(sd)
  local count = math.tointeger(tonumber(sd.count or 0)) or 0
  local size = math.tointeger(tonumber(sd.size or self.size))
  if size ~= self.size then
    error(("gan.pool: the saved pool held up to %d images, this one %d"):format(size, self.size), 2)
  end
  local images = sd.images
  if count > 0 and (images == nil or images:size(1) ~= count) then
    error(("gan.pool: the saved pool says %d images but holds %s"):format(count,
      images and tostring(images:size(1)) or "none"), 2)
  end
  self.images = {}
  for i = 1, count do self.images[i] = images[i]:clone() end
end

--- A one-line description.
function ImagePool:__tostring()
  return ("gan.pool.ImagePool(%d of %d images)"):format(#self.images, self.size)
end

return M
