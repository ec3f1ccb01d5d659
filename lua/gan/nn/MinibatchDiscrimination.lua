--- MinibatchDiscrimination: lets the discriminator compare the samples of a batch.
--
-- Salimans et al. 2016 (Improved Techniques for Training GANs): each sample's
-- features f_i (A values) are projected by a learned tensor T (A x B x C) to
-- B rows of C values, M_i. For each of the B kernels, the closeness of two
-- samples is c_b(i, j) = exp(-||M_i,b - M_j,b||_1), and each sample gets
-- o_i,b = sum over the other samples j of c_b(i, j). The layer returns
-- [f_i, o_i] (A + B values): a generator that collapses to a few outputs
-- makes o large, which D can see.
--
--     local D = nn.Sequential { features, nn.MinibatchDiscrimination(512, 64, 8), nn.Linear(512 + 64, 1) }
--
-- Real and generated samples must go through D in separate batches.
-- @classmod gan.nn.MinibatchDiscrimination

local gan = require "gan"
local Module = require "gan.nn.Module"

local MD = Module:extend("MinibatchDiscrimination")

--- @param in_features A, the size of the features
-- @param out_features B, the number of kernels (values added per sample)
-- @param kernel_dims C, the size of each kernel's rows (default 5)
-- @param opts {std=0.1} (T starts from N(0, std^2))
function MD:init(in_features, out_features, kernel_dims, opts)
  opts = opts or {}
  kernel_dims = kernel_dims or 5
  for _, v in ipairs({ { "in_features", in_features }, { "out_features", out_features }, { "kernel_dims", kernel_dims } }) do
    if math.type(v[2]) ~= "integer" or v[2] < 1 then
      error(("MinibatchDiscrimination: %s must be a positive integer, got %s"):format(v[1], tostring(v[2])), 3)
    end
  end
  self.in_features, self.out_features, self.kernel_dims = in_features, out_features, kernel_dims
  self:param("weight", gan.normal({ in_features, out_features * kernel_dims }, 0, opts.std or 0.1))
end

--- x (N, A) -> (N, A + B).
function MD:forward(x)
  if x:dim() ~= 2 or x:size(2) ~= self.in_features then
    error(("MinibatchDiscrimination: expected input (N, %d), got (%s)"):format(self.in_features,
      table.concat(x:shape(), ", ")), 2)
  end
  local n = x:size(1)
  local m = x:matmul(self.weight):reshape(n, self.out_features, self.kernel_dims)   -- (N, B, C)
  local l1 = (m:unsqueeze(2) - m:unsqueeze(1)):abs():sum(4)                         -- (N, N, B)
  local o = (-l1):exp():sum(2) - 1                                                  -- (N, B), without j = i
  return gan.cat({ x, o }, 2)
end

--- Settings shown when printed.
function MD:extra_repr()
  return ("in_features=%d, out_features=%d, kernel_dims=%d"):format(self.in_features, self.out_features,
    self.kernel_dims)
end

return MD
