--- eval — measure a run again: `ganlua eval RUN_DIR [--eval_samples=N]` writes RUN_DIR/metrics.json and report.html.
-- @paper Metrics: see gan.metrics (FD, KID, precision and recall, class coverage, modes of toy sets).
-- @year 2017
-- @ja 要点: 学習済みの実行フォルダのチェックポイントを読み込み、サンプルを生成して評価指標(FD・KID・適合率・再現率・クラス被覆率)を計算する。
-- @en Key points: loads a run folder's last checkpoint, draws samples and computes the metrics (FD, KID, precision, recall, class coverage).

-- The run folder's options.txt names the recipe that made it (first line,
-- "# recipe=PATH") and its options; the recipe runs again with them and
-- --resume, at the checkpoint's step, so it trains nothing and only measures.
local gan = require "gan"

local dir = arg[1]
if not dir or dir:match("^%-") then
  error("usage: ganlua eval RUN_DIR [--eval_samples=N] [other options of the recipe]", 0)
end
dir = dir:gsub("/+$", "")
local f = io.open(dir .. "/options.txt", "r")
if not f then error(("ganlua eval: %s/options.txt not found: is %s a run folder?"):format(dir, dir), 0) end
local recipe
local argv = {}
local skip = { out = true, resume = true, iters = true, eval = true }
for line in f:lines() do
  local r = line:match("^# recipe=(.+)$")
  if r then recipe = r end
  local k, v = line:match("^([%w_]+)=(.*)$")
  if k and not skip[k] then argv[#argv + 1] = ("--%s=%s"):format(k, v) end
end
f:close()
if not recipe then
  error(("ganlua eval: %s/options.txt does not name its recipe; run the recipe again with --out=%s --resume "
    .. "--iters=STEP (the checkpoint's step)"):format(dir, dir), 0)
end
local g = io.open(recipe, "r")
if not g then error(("ganlua eval: the run's recipe %s is gone"):format(recipe), 0) end
g:close()

local ckpt = dir .. "/checkpoint.safetensors"
local _, meta = gan.io.load_safetensors(ckpt)
if not meta then error(("ganlua eval: cannot read %s: %s"):format(ckpt, select(2, gan.io.load_safetensors(ckpt))), 0) end
local step = math.tointeger(tonumber(meta["ganlua.step"]))
if not step then error(("ganlua eval: %s has no step in its metadata"):format(ckpt), 0) end

for _, a in ipairs { "--out=" .. dir, "--resume=true", "--iters=" .. step, "--eval=true" } do argv[#argv + 1] = a end
for i = 2, #arg do argv[#argv + 1] = arg[i] end
argv[0] = recipe
_G.arg = argv
require("gan.train").eval_only = true
dofile(recipe)
