--- sample — draw from a trained run: `ganlua sample RUN [--n=64 --out=FILE --seed=1 --truncation=T --interpolate=K]`.
-- @paper Sampling: see gan.sample (grids, truncated noise, latent walks).
-- @year 2015
-- @ja 要点: 実行フォルダのチェックポイント(レシピ名と学習時のオプションを含む)から生成器を組み立て直し、サンプルの格子・切断ノイズ・潜在空間の補間を画像に書き出す。
-- @en Key points: rebuilds a run's generator from its checkpoint (which names its recipe and options) and writes a grid of samples, samples of truncated noise, or walks between two latent points.
local gan = require "gan"

local run = arg[1]
if not run or run:match("^%-") then
  gan.util.user_error("usage: ganlua sample RUN [--n=64] [--out=FILE] [--seed=1] [--truncation=T] [--interpolate=K]"
    .. " [other options of the recipe]")
end
gan.sample.sample(run, { table.unpack(arg, 2) })
