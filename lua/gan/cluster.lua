--- gan.cluster: how well a clustering matches classes (purity, NMI).
--
--     local code = ...            -- the cluster of each item (InfoGAN's categorical code)
--     local class = ...           -- the class of each item (true, or from a classifier)
--     gan.cluster.purity(code, class)    -- 1: every cluster holds one class
--     gan.cluster.nmi(code, class)       -- 1: the same partition; 0: independent
--
-- Assignments are int64 tensors or Lua lists of ids (any integers, e.g.
-- 0-based class ids), of the same length.
-- @module gan.cluster

local gan = require "gan"

local M = {}

local function ids(v, what)
  if gan.is_tensor(v) then
    if v:dim() ~= 1 then
      error(("gan.cluster: %s must be one id per item (1-d), got (%s)"):format(what, table.concat(v:shape(), ", ")), 3)
    end
    v = v:totable()
  end
  if type(v) ~= "table" then error(("gan.cluster: %s must be a tensor or a list of ids"):format(what), 3) end
  local out = {}
  for i, x in ipairs(v) do
    if math.type(x) == "float" and x == math.floor(x) then x = math.tointeger(x) end
    if math.type(x) ~= "integer" then
      error(("gan.cluster: %s[%d] is %s, expected an integer id"):format(what, i, tostring(x)), 3)
    end
    out[i] = x
  end
  return out
end

--- The contingency table of two assignments: counts[a][b] = items in
-- cluster a and class b, with row and column sums.
-- @param a cluster ids (tensor or list)
-- @param b class ids, as many as a
-- @return {counts=, rows=, cols=, n=}
function M.contingency(a, b)
  a, b = ids(a, "clusters"), ids(b, "classes")
  if #a ~= #b then error(("gan.cluster: %d cluster ids but %d class ids"):format(#a, #b), 2) end
  if #a == 0 then error("gan.cluster: no items", 2) end
  local counts, rows, cols = {}, {}, {}
  for i = 1, #a do
    local x, y = a[i], b[i]
    counts[x] = counts[x] or {}
    counts[x][y] = (counts[x][y] or 0) + 1
    rows[x] = (rows[x] or 0) + 1
    cols[y] = (cols[y] or 0) + 1
  end
  return { counts = counts, rows = rows, cols = cols, n = #a }
end

--- Purity: each cluster is labelled with its most common class; the share
-- of items that carry that label. 1 when every cluster holds one class;
-- its floor is the share of the largest class (one cluster for all).
-- @param clusters cluster ids (tensor or list)
-- @param classes class ids
-- @return number in (0, 1], and a table cluster -> its majority class
function M.purity(clusters, classes)
  local t = M.contingency(clusters, classes)
  local hit, label = 0, {}
  for a, row in pairs(t.counts) do
    local best, bestb = -1, nil
    for b, c in pairs(row) do
      if c > best or (c == best and b < bestb) then best, bestb = c, b end
    end
    hit = hit + best
    label[a] = bestb
  end
  return hit / t.n, label
end

local function entropy(marg, n)
  local h = 0
  for _, c in pairs(marg) do
    local p = c / n
    h = h - p * math.log(p)
  end
  return h
end

--- Normalized mutual information I(A; B) / ((H(A) + H(B)) / 2), in nats
-- (the arithmetic normalization, as scikit-learn's default). 1 when the
-- two partitions are the same up to renaming, 0 when they are independent;
-- 1 when both put everything in one group, 0 when only one does.
-- @param clusters cluster ids (tensor or list)
-- @param classes class ids
-- @return number in [0, 1], and I, H(A), H(B)
function M.nmi(clusters, classes)
  local t = M.contingency(clusters, classes)
  local n = t.n
  local mi = 0
  for a, row in pairs(t.counts) do
    for b, c in pairs(row) do
      mi = mi + c / n * math.log(c * n / (t.rows[a] * t.cols[b]))
    end
  end
  local ha, hb = entropy(t.rows, n), entropy(t.cols, n)
  if ha == 0 and hb == 0 then return 1, mi, ha, hb end
  if ha == 0 or hb == 0 then return 0, mi, ha, hb end
  local v = mi / ((ha + hb) / 2)
  return math.max(0, math.min(1, v)), mi, ha, hb
end

return M
