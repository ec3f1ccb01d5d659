--- translate — translate a folder of images with a trained run: `ganlua translate RUN DIR [--out=FOLDER --direction=AtoB]`.
-- @paper Translation: see gan.sample (CycleGAN, UNIT, DiscoGAN and pix2pix runs).
-- @year 2017
-- @ja 要点: 画像変換の実行フォルダのチェックポイントから生成器を組み立て直し、フォルダ内の全画像を変換して書き出す。
-- @en Key points: rebuilds a translation run's generator from its checkpoint and translates every image of a folder.
local gan = require "gan"

local run, dir = arg[1], arg[2]
if not run or not dir or run:match("^%-") or dir:match("^%-") then
  gan.util.user_error("usage: ganlua translate RUN DIR [--out=FOLDER] [--direction=AtoB|BtoA] [other options of the recipe]")
end
gan.sample.translate(run, dir, { table.unpack(arg, 3) })
