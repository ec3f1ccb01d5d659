-- gan.pool.ImagePool: filling, swapping half the time once full, state in checkpoints.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local ImagePool = gan.pool.ImagePool

-- n images (n, 1, 2, 2), image i filled with the value first + i - 1
local function labelled(first, n)
  local v = {}
  for i = 1, n do v[i] = first + i - 1 end
  return gan.tensor(v):reshape(n, 1, 1, 1):expand(n, 1, 2, 2):contiguous()
end

local function values(x)
  local out = {}
  for i = 1, x:size(1) do out[i] = x[i]:mean():item() end
  return out
end

local function contents(pool)
  local set = {}
  for _, img in ipairs(pool.images) do set[img:mean():item()] = true end
  return set
end

T.case("filling: the first `size` images are kept and returned as they are", function()
  gan.manual_seed(1)
  local pool = ImagePool(10)
  local x = labelled(1, 4)
  U.equal(U.maxdiff(pool:query(x), x), 0)
  U.equal(pool:count(), 4)
  local y = labelled(5, 6)
  U.equal(U.maxdiff(pool:query(y), y), 0)
  U.equal(pool:count(), 10)
  local set = contents(pool)
  for i = 1, 10 do U.truthy(set[i], "image " .. i .. " stored") end
end)

T.case("full: about half the images are swapped for stored ones, which the new ones replace", function()
  gan.manual_seed(2)
  local pool = ImagePool(50)
  pool:query(labelled(1, 50))
  local swapped, total = 0, 0
  for q = 0, 49 do
    local first = 1000 + q * 8
    local before = contents(pool)
    local out = values(pool:query(labelled(first, 8)))
    local after = contents(pool)
    U.equal(pool:count(), 50, "stays full")
    -- nothing lost, nothing doubled: the pool before plus the inputs is the pool after plus the outputs
    local lhs, rhs = {}, {}
    for v in pairs(before) do lhs[#lhs + 1] = v end
    for i = 1, 8 do lhs[#lhs + 1] = first + i - 1 end
    for v in pairs(after) do rhs[#rhs + 1] = v end
    for _, v in ipairs(out) do rhs[#rhs + 1] = v end
    table.sort(lhs); table.sort(rhs)
    T.eq(rhs, lhs, "images are conserved")
    for i, v in ipairs(out) do
      total = total + 1
      if v ~= first + i - 1 then swapped = swapped + 1 end
    end
  end
  local share = swapped / total
  U.truthy(share > 0.4 and share < 0.6, ("swapped share %.3f, expected about 0.5"):format(share))
end)

T.case("size 0 passes images through; the output holds no graph", function()
  local x = gan.randn(3, 1, 2, 2):requires_grad(true)
  U.equal(U.maxdiff(ImagePool(0):query(x), x), 0)
  local y = ImagePool(2):query(x * 2)
  U.equal(y:requires_grad(), false)
  T.raises(function() ImagePool(-1) end, "size must be an integer >= 0")
end)

T.case("state: a checkpoint restores the pool, and the queries after it match", function()
  local dir = U.tmpdir("pool")
  gan.manual_seed(3)
  local pool = ImagePool(6)
  pool:query(labelled(1, 4))
  local path = dir .. "/ckpt.safetensors"
  assert(gan.checkpoint.save(path, { pool = ImagePool(6) }))
  local empty = ImagePool(6)
  empty:query(labelled(50, 2))
  assert(gan.checkpoint.load(path, { pool = empty }))
  U.equal(empty:count(), 0, "an empty pool saved and restored")
  pool:query(labelled(5, 4))
  assert(gan.checkpoint.save(path, { pool = pool }))
  local a = values(pool:query(labelled(100, 8)))
  local other = ImagePool(6)
  assert(gan.checkpoint.load(path, { pool = other }))
  U.equal(other:count(), 6)
  local b = values(other:query(labelled(100, 8)))
  T.eq(b, a, "the same draws and the same contents give the same batch")
  T.raises(function() assert(gan.checkpoint.load(path, { pool = ImagePool(5) })) end, "held up to 6 images, this one 5")
end)

T.run()
