--- gan.roc: how well a score separates two groups (anomaly detection).
--
--     local auc = gan.roc.auroc(scores, is_anomaly)   -- 1: every anomaly scores above every normal item
--
-- Scores are a float tensor or a list of numbers; the groups a list of
-- booleans, or 0/1 numbers or tensors, as many as the scores.
-- @module gan.roc

local gan = require "gan"

local M = {}

local function list(v, what)
  if gan.is_tensor(v) then
    if v:dim() ~= 1 then
      error(("gan.roc: %s must be 1-d, got (%s)"):format(what, table.concat(v:shape(), ", ")), 3)
    end
    v = v:totable()
  end
  if type(v) ~= "table" then error(("gan.roc: %s must be a tensor or a list"):format(what), 3) end
  return v
end

--- Area under the ROC curve: the probability that a random positive item
-- scores higher than a random negative one, ties counting one half (the
-- Mann-Whitney U statistic over n_pos n_neg).
-- @param scores higher means "more likely positive" (tensor or list)
-- @param positive booleans, or 1/0 (tensor or list), one per score
-- @return number in [0, 1]
function M.auroc(scores, positive)
  local s, p = list(scores, "scores"), list(positive, "positive")
  if #s ~= #p then error(("gan.roc.auroc: %d scores but %d labels"):format(#s, #p), 2) end
  local items, npos = {}, 0
  for i = 1, #s do
    local x = s[i]
    if type(x) ~= "number" or x ~= x then error(("gan.roc.auroc: score %d is %s"):format(i, tostring(x)), 2) end
    local pos = p[i] == true or p[i] == 1
    if not pos and p[i] ~= false and p[i] ~= 0 then
      error(("gan.roc.auroc: label %d is %s, expected a boolean or 0/1"):format(i, tostring(p[i])), 2)
    end
    if pos then npos = npos + 1 end
    items[i] = { x, pos }
  end
  local nneg = #s - npos
  if npos == 0 or nneg == 0 then error("gan.roc.auroc: needs both positive and negative items", 2) end
  table.sort(items, function(a, b) return a[1] < b[1] end)
  -- sum of the positives' ranks, ties sharing their mean rank
  local rank_sum, i = 0, 1
  while i <= #items do
    local j = i
    while j < #items and items[j + 1][1] == items[i][1] do j = j + 1 end
    local mean_rank = (i + j) / 2
    for k = i, j do if items[k][2] then rank_sum = rank_sum + mean_rank end end
    i = j + 1
  end
  return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg)
end

return M
