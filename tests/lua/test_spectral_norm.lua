-- nn.SpectralNorm: the normalised weight's largest singular value is 1,
-- gradients flow through it, and u is a buffer that checkpoints keep.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn

-- the largest singular value of a matrix (rows, cols) by many power
-- iterations from a fresh random start, in double precision (Lua numbers)
local function sigma_max(m)
  local a = m:detach():reshape(m:size(1), -1):totable()
  local rows, cols = #a, #a[1]
  local v = {}
  for j = 1, cols do v[j] = math.sin(j * 1.7) + 1.1 end
  local s = 0
  for _ = 1, 500 do
    local u = {}
    for i = 1, rows do
      local acc = 0
      for j = 1, cols do acc = acc + a[i][j] * v[j] end
      u[i] = acc
    end
    local w, n = {}, 0
    for j = 1, cols do
      local acc = 0
      for i = 1, rows do acc = acc + a[i][j] * u[i] end
      w[j] = acc
      n = n + acc * acc
    end
    n = math.sqrt(n)
    for j = 1, cols do v[j] = w[j] / n end
    s = math.sqrt(n)     -- |A^T A v| -> sigma^2 for unit v
  end
  return s
end

T.case("the normalised weight of a Linear has largest singular value 1", function()
  gan.manual_seed(1)
  local lin = nn.Linear(20, 30)
  local sn = nn.SpectralNorm(lin)
  local before = sigma_max(sn.weight_orig)
  U.truthy(math.abs(before - 1) > 0.1, "the raw weight's sigma is not already 1: " .. before)
  local x = gan.randn(4, 20)
  for _ = 1, 60 do sn(x) end          -- one power iteration per training forward
  U.close(sigma_max(sn:normalized_weight()), 1, 2e-3, "sigma(W / sigma(W))")
  U.close(sn:sigma():item(), before, 2e-3, "the estimate of sigma(W)")
  U.shape(sn(x), { 4, 30 })
end)

T.case("a Conv2d's weight seen as (out, in*kh*kw) is normalised too", function()
  gan.manual_seed(2)
  local sn = nn.SpectralNorm(nn.Conv2d(3, 8, 4, 2, 1))
  local x = gan.randn(2, 3, 8, 8)
  for _ = 1, 60 do sn(x) end
  U.close(sigma_max(sn:normalized_weight()), 1, 2e-3, "sigma of the conv weight")
  U.shape(sn(x), { 2, 8, 4, 4 })
  -- outside the forward, the layer's own field is the raw weight again
  T.eq(rawequal(sn.module.weight, sn.weight_orig), true, "layer.weight is weight_orig")
end)

T.case("sigma is Algorithm 1's u^T W v, with v from the same iteration (PyTorch's too)", function()
  -- W = [[2, 0, 1], [0, 1, 0]], u0 = (1, 1)/sqrt 2: v = W^T u0 / |.| = (2, 1, 1)/sqrt 6, W v = (5, 1)/sqrt 6,
  -- so u1 = (5, 1)/sqrt 26 and sigma = u1^T W v = |W v| = sqrt(26/6) = 2.08167 (PyTorch's spectral_norm
  -- gives the same after one training forward). |W^T u1| = sqrt(126/26) = 2.20139 would be another estimator.
  local lin = nn.Linear(3, 2, { bias = false })
  local sn = nn.SpectralNorm(lin)
  sn.weight_orig:copy_(gan.tensor({ { 2, 0, 1 }, { 0, 1, 0 } }))
  sn.u:copy_(gan.tensor({ 1, 1 }) / math.sqrt(2))
  local x = gan.tensor({ { 1, 0, 0 } })
  local y = sn(x)                         -- one iteration, then W / sigma
  U.close(sn:sigma():item(), math.sqrt(26 / 6), 1e-5, "sigma after one iteration")
  U.close(y[1][1]:item(), 2 / math.sqrt(26 / 6), 1e-5, "the forward used that sigma")
  U.close(sn.u[1]:item(), 5 / math.sqrt(26), 1e-6, "u1")
  U.close(sn.v[1]:item(), 2 / math.sqrt(6), 1e-6, "v is the iteration's")
  -- the other estimator, as an option
  local st = nn.SpectralNorm(nn.Linear(3, 2, { bias = false }), { estimator = "transpose" })
  st.weight_orig:copy_(sn.weight_orig)
  st.u:copy_(gan.tensor({ 1, 1 }) / math.sqrt(2))
  st(x)
  U.close(st:sigma():item(), math.sqrt(126 / 26), 1e-5, "|W^T u1|")
  -- in evaluation mode u and v stay, so sigma stays
  sn:eval()
  sn(x)
  U.close(sn:sigma():item(), math.sqrt(26 / 6), 1e-5, "evaluation mode")
end)

T.case("a ConvTranspose2d's matrix is (out, in*kh*kw), as PyTorch's spectral_norm takes it", function()
  -- 2 -> 1 channels, 2x2 kernel, weight (in=2, out=1, 2, 2) with one 1 in each input's kernel at
  -- different places: as (out, in*kh*kw) = (1, 8) the one row has norm sqrt 2 (PyTorch: 1.41421);
  -- taken as (in, out*kh*kw) = (2, 4) its rows are orthonormal and sigma would be 1
  local sn = nn.SpectralNorm(nn.ConvTranspose2d(2, 1, 2, { bias = false }))
  T.eq(sn.u:size(1), 1, "u has one entry per output channel")
  T.eq(sn.v:size(1), 8, "v one per input channel and tap")
  sn.weight_orig:copy_(gan.tensor({ { { { 1, 0 }, { 0, 0 } } }, { { { 0, 1 }, { 0, 0 } } } }))
  local x = gan.randn(1, 2, 3, 3)
  for _ = 1, 3 do sn(x) end
  U.close(sn:sigma():item(), math.sqrt(2), 1e-5, "sigma of the (out, in*kh*kw) matrix")
  U.shape(sn(x), { 1, 1, 4, 4 })
  T.raises(function() nn.SpectralNorm(nn.Linear(2, 2), { dim = 3 }) end, "dim must be 1 or 2")
  T.raises(function() nn.SpectralNorm(nn.Linear(2, 2), { estimator = "svd" }) end, "estimator must be")
end)

T.case("one power iteration per training forward; none in evaluation mode", function()
  gan.manual_seed(3)
  local sn = nn.SpectralNorm(nn.Linear(5, 7))
  local x = gan.randn(3, 5)
  local u0 = sn.u:clone()
  sn:eval()
  sn(x)
  T.eq(U.maxdiff(sn.u, u0), 0, "u unchanged in evaluation mode")
  sn:train()
  sn(x)
  U.truthy(U.maxdiff(sn.u, u0) > 1e-4, "u moved in training mode")
  local u1 = sn.u:clone()
  sn:power_iteration(1)
  local u2 = sn.u:clone()
  sn.u:copy_(u1)
  sn(x)
  U.truthy(U.maxdiff(sn.u, u2) < 1e-6, "a forward is exactly one iteration")
  U.close(sn.u:square():sum():item(), 1, 1e-5, "u has unit norm")
end)

T.case("a later forward's power iteration does not change an earlier graph's gradient", function()
  -- D(real) and D(fake) each run a power iteration before one backward through both
  gan.manual_seed(6)
  local sn = nn.SpectralNorm(nn.Linear(4, 6))
  local x1, x2 = gan.randn(3, 4), gan.randn(3, 4)
  local u0 = sn.u:clone()
  local alone = gan.grad(sn(x1):sum(), sn.weight_orig)
  sn.u:copy_(u0)
  local y1 = sn(x1)
  sn(x2)                                   -- moves u in place
  local after = gan.grad(y1:sum(), sn.weight_orig)
  U.truthy(U.maxdiff(after, alone) < 1e-6, "the same gradient with or without a forward in between")
end)

T.case("gradients flow through the normalisation (finite differences)", function()
  gan.manual_seed(4)
  local sn = nn.SpectralNorm(nn.Linear(4, 3))
  for _ = 1, 20 do sn(gan.randn(2, 4)) end
  sn:eval()                             -- u fixed: the function is then deterministic
  U.gradcheck_module(sn, gan.randn(5, 4), { eps = 1e-2, atol = 2e-3, rtol = 2e-2 })
  -- and W / sigma has a gradient different from the unnormalised one
  local x = gan.randn(5, 4)
  local g = gan.grad(sn(x):sum(), sn.weight_orig)
  U.truthy(g:abs():sum():item() > 0, "a gradient for weight_orig")
end)

T.case("parameters, buffers and checkpoints", function()
  gan.manual_seed(5)
  local D = nn.Sequential { nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1) }
  nn.SpectralNorm.wrap(D)
  T.eq(D[1].__name, "SpectralNorm")
  T.eq(D[3].__name, "SpectralNorm")
  local names = {}
  for _, e in ipairs(D:named_parameters()) do names[#names + 1] = e.name end
  T.eq(names, { "1.weight_orig", "1.module.bias", "3.weight_orig", "3.module.bias" })
  local bufs = {}
  for _, e in ipairs(D:named_buffers()) do bufs[#bufs + 1] = e.name end
  T.eq(bufs, { "1.u", "1.v", "3.u", "3.v" })
  local x = gan.randn(4, 2)
  for _ = 1, 3 do D(x) end
  local dir = U.tmpdir("spectral_norm")
  assert(gan.checkpoint.save(dir .. "/c.safetensors", { D = D }, { step = 3 }))
  gan.manual_seed(99)
  local E = nn.Sequential { nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1) }
  nn.SpectralNorm.wrap(E)
  U.truthy(U.maxdiff(E[1].u, D[1].u) > 1e-3, "a fresh u differs")
  assert(gan.checkpoint.load(dir .. "/c.safetensors", { D = E }))
  T.eq(U.maxdiff(E[1].u, D[1].u), 0, "u came back from the checkpoint")
  E:eval(); D:eval()
  U.truthy(U.maxdiff(E(x), D(x)) < 1e-6, "the loaded network computes the same")
  D:train()
  -- other tools still walk the tree: init, clone, printing
  D:apply(nn.init.dcgan)
  local C = D:clone()
  U.truthy(U.maxdiff(C(x), D(x)) < 1e-6, "a clone computes the same")
  U.truthy(tostring(D):find("SpectralNorm%(\n%s+n_power_iterations=1\n"), tostring(D))
end)

T.case("errors", function()
  T.raises(function() nn.SpectralNorm(42) end, "expected a module")
  T.raises(function() nn.SpectralNorm(nn.ReLU()) end, "has no parameter 'weight'")
  T.raises(function() nn.SpectralNorm(nn.Linear(2, 2), { n_power_iterations = 0 }) end, "n_power_iterations")
  T.raises(function() nn.SpectralNorm.wrap(nn.Linear(2, 2)) end, "wrap a single layer")
end)

T.run()
