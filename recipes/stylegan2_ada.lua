--- StyleGAN2-ADA — StyleGAN2 with adaptive discriminator augmentation: every image D sees is augmented, with a probability p that follows D's overfitting.
-- @paper Karras, Aittala, Hellsten, Laine, Lehtinen, Aila. Training Generative Adversarial Networks with Limited Data. 2020. arXiv:2006.06676
-- @year 2020
-- @ja 要点: データが少ないと D は訓練画像を覚えて過学習し(実画像への出力が大きくなり続ける)、D のフィードバックが意味を失って G が崩れる。データ拡張で増やしたいが、実画像だけを拡張すると G は拡張された分布(回転・色反転した画像)を学んでしまう(拡張の「漏れ」)。
-- @ja ADA は D が見るすべての画像(実画像と生成画像、D と G の両方のステップ、R1 も)に同じ確率 p で拡張をかける。G の損失も拡張後の画像で測るので、拡張が可逆(確率 p < 約 0.8 で元の分布が一意に決まる)なら G は元の分布を学び、拡張は漏れない。
-- @ja p は過学習の指標 r_t = E[sign(D(実画像))] で自動調整する: 4 ステップごとに r_t が目標 0.6 より大きければ p を上げ、小さければ下げる。変換は bgc: ピクセル移動(反転・90度回転・整数平行移動)、幾何(拡大縮小・回転・異方性・小数平行移動)、色(明るさ・コントラスト・輝度反転・色相・彩度)。
-- @en Key points: with little data D memorises the training images and overfits (its outputs on real images keep growing); its feedback stops meaning anything and G degrades. Augmenting the data would help, but augmenting only the real images teaches G the augmented distribution (rotated, inverted images): the augmentations leak.
-- @en ADA augments every image D sees, real and generated, in D's and G's steps and in R1, with the same probability p. G's loss is measured through the augmentation too, so as long as the augmentations are invertible in distribution (p below about 0.8), G still learns the original distribution and nothing leaks.
-- @en p is set by an overfitting heuristic, r_t = E[sign(D(real))]: every 4 steps p goes up when r_t is above the target 0.6 and down when below. The transformations, bgc: pixel blitting (x-flip, quarter turns, integer translation), geometry (scaling, rotation, anisotropic scaling, fractional translation), colour (brightness, contrast, luma flip, hue, saturation).

local gan = require "gan"

-- StyleGAN2's recipe (recipes/stylegan2.lua: networks, losses, R1, path length, EMA) with the
-- augmentation on; every option of stylegan2 applies (--subset=1000: the small-data case).
-- ada_kimg 100, not NVlabs' 500: p moves by at most batch * 4 / (ada_kimg * 1000) every 4 steps, so
-- from 0 to 1 in 31,250 steps of batch 16 at 500 (2.6 hours of one thread here), in 6,250 at 100. p stays
-- in [0, 1] (NVlabs clamps at 0 only).
-- StyleGAN2 のレシピ(ネットワーク、損失、R1、パス長、EMA)に拡張を加えたもの。ada_kimg は NVlabs の
-- 500 ではなく 100: バッチ 16 で p が 0 から 1 まで動くのに 500 では 31,250 ステップ、100 では 6,250。
gan.recipes.variant("stylegan2", {
  augment = "ada",
  ada_kimg = 100.0,
  out = "runs/stylegan2_ada",
})
