--- gan.augment: random transformations of training batches.
--
-- The data pipeline applies them to every training batch (gan.data):
-- images stored at `load_size` are cropped to `size` at a random place
-- and, with `flip`, mirrored left-right with probability 1/2, as the
-- image-to-image papers' code does (pix2pix, CycleGAN). A pair (A and B
-- stacked on the channel dim) gets the same crop and flip on both sides.
--
--     local aug = gan.augment.new { size = 32, flip = true, stream = "data" }
--     local x = aug:apply(batch)       -- (B, C, L, L) -> (B, C, 32, 32)
--
-- The draws of a batch depend only on the seed, the stream's name and the
-- number of batches augmented so far, which is the augmenter's state
-- (saved in checkpoints with the data's).
--
-- Options read (declared here): load_size, flip.
-- Requires: gan.options, gan.random.
-- @module gan.augment

local gan = require "gan"
local options = require "gan.options"
local random = require "gan.random"

local M = {}

--- The options of the data pipeline's augmentation.
M.options = options.declare("gan.augment", "augmentation", {
  { "load_size", 0, "resize images to this, then crop --size at random (0: no crop)" },
  { "flip", false, "mirror training images left-right at random" },
})

local Augment = {}
Augment.__index = Augment
M.Augment = Augment

--- An augmenter.
-- @param spec {size= (the crop), flip=false, stream="data" (its random stream's name),
--   seed= (default: the generator's)}
-- @return the augmenter
function M.new(spec)
  assert(type(spec) == "table" and math.type(spec.size) == "integer", "gan.augment.new: {size = crop size} expected")
  return setmetatable({ size = spec.size, flip = spec.flip == true, stream = (spec.stream or "data") .. ".augment",
    seed = spec.seed or gan.rng_state().seed, batches = 0 }, Augment)
end

--- Crops each image of x at random to size x size and, with flip, mirrors
-- it with probability 1/2. The draws of the k-th batch are the keyed draw
-- (stream, k): three uniforms per image (top, left, flip).
-- @param x images (B, C, L, L) with L >= size
-- @return (B, C, size, size)
function Augment:apply(x)
  local L, s = x:size(3), self.size
  if x:size(4) ~= L or L < s then
    error(("gan.augment: images (%s) must be square and at least %d wide"):format(table.concat(x:shape(), ", "), s), 2)
  end
  self.batches = self.batches + 1
  local B = x:size(1)
  local u = random.keyed(self.stream, self.batches, function() return gan.rand(B, 3) end, self.seed):totable()
  local out = {}
  for i = 1, B do
    local top, left = math.floor(u[i][1] * (L - s + 1)), math.floor(u[i][2] * (L - s + 1))
    local xi = x:select(1, i)
    if L > s then xi = xi:narrow(2, top + 1, s):narrow(3, left + 1, s) end
    if self.flip and u[i][3] < 0.5 then xi = xi:flip(3) end
    out[i] = xi
  end
  return gan.stack(out, 1)
end

--- The augmenter's state: {batches=} (the batches augmented so far).
-- @return table
function Augment:state_dict()
  return { batches = self.batches }
end

--- Restores the state (numbers may be strings).
-- @param sd table from state_dict()
function Augment:load_state_dict(sd)
  local check = require "gan.check"
  check.table("gan.augment:load_state_dict", "the state", sd)
  self.batches = sd.batches == nil and 0 or check.integer_or_text("gan.augment:load_state_dict", "batches", sd.batches, 0)
end

return M
