--- Fashion-MNIST classifier — the feature network of gan.metrics (FD, KID, precision/recall, coverage).
-- @paper The protocol of FID: Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter. GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium. 2017. arXiv:1706.08500
-- @year 2017
-- @ja 要点: FIDは識別ネットワークの中間特徴をガウス分布で近似し、実画像と生成画像の分布間のフレシェ距離を測る。
-- @ja ここではImageNetのInceptionの代わりにFashion-MNISTで学習した小さなCNN(テスト精度91%以上)の128次元特徴を使う。
-- @en Key points: FID fits Gaussians to a network's intermediate features of real and generated images and measures the Fréchet distance between them.
-- @en Here a small CNN trained on Fashion-MNIST (at least 91% test accuracy) replaces ImageNet's Inception; its 128 penultimate features are measured.

local gan = require "gan"
local F = gan.F

local opt = gan.options {
  batch = 128,            -- minibatch size
  lr = 1e-3,              -- Adam learning rate (cosine decay to 0)
  epochs = 8,             -- passes over the 60,000 training images
  flip = true,            -- random horizontal flips
  save = "",              -- where to write the weights (default OUT/fmnist_classifier.safetensors)
  sample_every = 0,
  eval_every = 469,       -- test accuracy every N iterations (one epoch of batch 128)
  eval = false,
  iters = 0,              -- iterations (0: from epochs)
  out = "runs/fmnist_classifier",
}
if opt.epochs < 1 then error("--epochs must be at least 1", 0) end

local data = gan.data.load("fashion-mnist", gan.options.with(opt, { size = gan.metrics.SIZE }), { labels = true })
local iters = opt.iters > 0 and opt.iters or opt.epochs * (data:size() // opt.batch)
rawset(opt, "iters", iters)

local net = gan.metrics.classifier_net()
local adam = gan.optim.Adam(net, { lr = opt.lr })
local sched = gan.optim.schedule.cosine(adam, { total = iters })

-- test accuracy of the network as it is now (eval mode)
local function test_accuracy()
  local test = gan.data.load("fashion-mnist", { size = gan.metrics.SIZE }, { split = "test" })
  net:eval()
  local correct = 0
  gan.no_grad(function()
    for s = 1, test.x:size(1), 1000 do
      local n = math.min(1000, test.x:size(1) - s + 1)
      local pred = net(test.x:narrow(1, s, n)):argmax(2)
      correct = correct + pred:eq(test.labels:narrow(1, s, n)):float():sum():item()
    end
  end)
  net:train()
  return correct / test.x:size(1)
end

local summary = gan.train(opt, { C = net, optC = adam, sched = sched, data = data }, function(batch, step)
  local x, y = batch.images, batch.labels
  if opt.flip then   -- flip a random half of the batch
    local m = gan.rand(x:size(1), 1, 1, 1):lt(0.5)
    x = gan.where(m, x:flip(4), x)
  end
  local logits = net(x)
  local loss = F.cross_entropy(logits, y)
  adam:step(loss)
  sched:step()
  local acc = gan.no_grad(function() return logits:argmax(2):eq(y):float():mean() end)
  return { loss = loss, acc = acc, lr = sched:lr() }
end, {
  eval = function() return { test_acc = test_accuracy() } end,
})

local acc = test_accuracy()
print(("test accuracy: %.4f"):format(acc))
local path = opt.save ~= "" and opt.save or (summary.out .. "/fmnist_classifier.safetensors")
local ok, err = gan.io.save_safetensors(path, net:state_dict(), {
  test_accuracy = ("%.4f"):format(acc), steps = tostring(summary.step), features = tostring(gan.metrics.FEATURES),
})
if not ok then error(err, 0) end
print(("weights: %s (for gan.metrics: GANLUA_CLASSIFIER=%s, or copy it to %s)"):format(path, path,
  gan.metrics.weights_path()))
