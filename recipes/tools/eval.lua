--- eval — measure a run again: `ganlua eval RUN_DIR [--eval_samples=N]` writes RUN_DIR/metrics.json and report.html.
-- @paper Metrics: see gan.metrics (FD, KID, precision and recall, class coverage, modes of toy sets).
-- @year 2017
-- @ja 要点: 学習済みの実行フォルダのチェックポイントを読み込み、サンプルを生成して評価指標(FD・KID・適合率・再現率・クラス被覆率)を計算する。
-- @en Key points: loads a run folder's last checkpoint, draws samples and computes the metrics (FD, KID, precision, recall, class coverage).

-- The run folder's options.txt names the recipe that made it (first line,
-- "# recipe=PATH") and its options: gan.train.evaluate runs that recipe
-- again with them, which loads the last checkpoint and, instead of
-- training, measures it (metrics.json) and writes the report.
local gan = require "gan"

local dir = arg[1]
if not dir or dir:match("^%-") then
  error("usage: ganlua eval RUN_DIR [--eval_samples=N] [other options of the recipe]", 0)
end
local more = {}
for i = 2, #arg do more[#more + 1] = arg[i] end
gan.train.evaluate(dir, more)
