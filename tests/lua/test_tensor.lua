-- The Tensor binding: constructors, reading, printing, operators, views,
-- autograd, errors, in-place updates, random state, memory.
local gan = require "gan"
local T = require "gan.test"

-- Skips the case when the runtime does not have an op yet.
local function needs(...)
  for _, probe in ipairs { ... } do
    local ok, err = pcall(probe)
    if not ok and tostring(err):find("not implemented yet", 1, true) then T.skip(err) end
  end
end

local function line() return debug.getinfo(2, "l").currentline end

-- constructors -------------------------------------------------------------------

T.case("tensor from nested tables", function()
  local x = gan.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  T.eq(x:shape(), { 2, 3 })
  T.eq(x:dtype(), "float32")
  T.eq(x:totable(), { { 1, 2, 3 }, { 4, 5, 6 } })
  T.eq(gan.tensor({ 7, -8 }, "int64"):totable(), { 7, -8 })
  T.eq(math.type(gan.tensor({ 7 }, "int64"):totable()[1]), "integer")
  T.eq(gan.tensor(2.5):dim(), 0)
  T.eq(gan.tensor(2.5):item(), 2.5)
  T.eq(gan.tensor({}):shape(), { 0 })
  local c = gan.tensor(x, "int64")
  T.eq(c:dtype(), "int64")
  T.eq(c:totable(), { { 1, 2, 3 }, { 4, 5, 6 } })
end)

T.case("tensor rejects ragged and non-numeric tables", function()
  T.raises(function() return gan.tensor { { 1, 2 }, { 3 } } end, "ragged")
  T.raises(function() return gan.tensor { 1, "a" } end, "element at [2] is a string")
  T.raises(function() return gan.tensor({ 1.5 }, "int64") end, "not an integer")
  T.raises(function() return gan.tensor({ 1 }, "float64") end, "invalid option 'float64'")
end)

T.case("zeros ones full empty scalar, shapes as varargs or a table", function()
  T.eq(gan.zeros(2, 3):totable(), { { 0, 0, 0 }, { 0, 0, 0 } })
  T.eq(gan.zeros { 2, 3 }:shape(), { 2, 3 })
  T.eq(gan.ones(3):totable(), { 1, 1, 1 })
  T.eq(gan.ones({ 2 }, "int64"):dtype(), "int64")
  T.eq(gan.full({ 2, 2 }, 7):totable(), { { 7, 7 }, { 7, 7 } })
  T.eq(gan.full(3, -1):totable(), { -1, -1, -1 })
  T.eq(gan.empty(4, 5):shape(), { 4, 5 })
  T.eq(gan.zeros():dim(), 0)
  T.eq(gan.scalar(1.5):item(), 1.5)
  T.raises(function() return gan.zeros(1, 2, 3, 4, 5, 6, 7) end, "at most 6 dims")
  T.raises(function() return gan.zeros(-1) end, "negative size")
end)

T.case("random and range constructors", function()
  needs(function() return gan.rand(1) end, function() return gan.arange(3) end)
  T.eq(gan.rand(2, 3):shape(), { 2, 3 })
  T.eq(gan.randn { 4 }:shape(), { 4 })
  T.eq(gan.arange(3):totable(), { 0, 1, 2 })
  T.eq(gan.arange(1, 2, 0.5):totable(), { 1, 1.5 })
  T.eq(gan.linspace(0, 1, 3):totable(), { 0, 0.5, 1 })
  T.eq(gan.eye(2):totable(), { { 1, 0 }, { 0, 1 } })
  local r = gan.randint(0, 5, { 100 })
  T.eq(r:dtype(), "int64")
  for _, v in ipairs(r:totable()) do T.eq(v >= 0 and v < 5, true) end
  T.eq(gan.randperm(5):float():sum():item(), 10)
end)

-- reading ---------------------------------------------------------------------------

T.case("size shape dim numel len item", function()
  local x = gan.zeros(2, 3, 4)
  T.eq(x:size(), { 2, 3, 4 })
  T.eq(x:size(1), 2)
  T.eq(x:size(-1), 4)
  T.eq(x:dim(), 3)
  T.eq(x:numel(), 24)
  T.eq(#x, 2)
  T.eq(x:is_contiguous(), true)
  T.raises(function() return x:size(0) end, "dims count from 1")
  T.raises(function() return x:size(4) end, "dim 4 out of range for a tensor of shape [2, 3, 4]")
  T.raises(function() return x:item() end, "gan.item: only a one-element tensor")
  T.raises(function() return #gan.scalar(1) end, "0-d tensor has no length")
end)

-- printing ----------------------------------------------------------------------------

T.case("printing like PyTorch", function()
  local x = gan.tensor { { 0.1, -2 }, { 3.5, 4 } }
  T.eq(tostring(x), "tensor([[ 0.1000, -2.0000],\n        [ 3.5000,  4.0000]], shape=(2, 2))")
  T.eq(tostring(x * 4), "tensor([[ 0.4000, -8.0000],\n        [14.0000, 16.0000]], shape=(2, 2))")
  T.eq(tostring(gan.tensor { 0.01, 16 }), "tensor([1.0000e-02, 1.6000e+01], shape=(2,))") -- range > 1000
  T.eq(tostring(gan.tensor { 1, 2, 3 }), "tensor([1., 2., 3.], shape=(3,))")
  T.eq(tostring(gan.tensor({ 1, -20 }, "int64")), "tensor([  1, -20], shape=(2,), dtype=int64)")
  T.eq(tostring(gan.scalar(2)), "tensor(2.)")
  T.eq(tostring(gan.zeros(0)), "tensor([], shape=(0,))")
  local w = gan.tensor({ 1, 2 }):requires_grad(true)
  T.eq(tostring(w), "tensor([1., 2.], shape=(2,), requires_grad=true)")
  T.eq(tostring(w * 2), "tensor([2., 4.], shape=(2,), grad_fn=mul_scalar)")
  T.eq(tostring(gan.tensor { 1e-5, 1 }), "tensor([1.0000e-05, 1.0000e+00], shape=(2,))")
  local long = tostring(gan.zeros(2000))
  T.eq(long, "tensor([0., 0., 0., ..., 0., 0., 0.], shape=(2000,))")
  local big = tostring(gan.zeros(50, 50))
  T.eq(select(2, big:gsub("\n", "")), 6) -- 3 rows, "...", 3 rows
  T.eq(big:find("...,", 1, true) ~= nil, true)
  T.eq(tostring(gan.tensor { { { 1 } }, { { 2 } } }), "tensor([[[1.]],\n\n        [[2.]]], shape=(2, 1, 1))")
end)

-- operators ------------------------------------------------------------------------------

T.case("metamethods with numbers on either side", function()
  local x = gan.tensor { 1, 2, 4 }
  T.eq((x + 1):totable(), { 2, 3, 5 })
  T.eq((1 + x):totable(), { 2, 3, 5 })
  T.eq((x - 1):totable(), { 0, 1, 3 })
  T.eq((1 - x):totable(), { 0, -1, -3 })
  T.eq((x * 3):totable(), { 3, 6, 12 })
  T.eq((3 * x):totable(), { 3, 6, 12 })
  T.eq((x / 2):totable(), { 0.5, 1, 2 })
  T.eq((-x):totable(), { -1, -2, -4 })
  T.eq((x + x):totable(), { 2, 4, 8 })
  T.eq((x - x * 2):totable(), { -1, -2, -4 })
  T.eq((x / x):totable(), { 1, 1, 1 })
  T.eq(gan.add(x, 1):totable(), { 2, 3, 5 })
  T.eq(gan.sub(1, x):totable(), { 0, -1, -3 })
  T.eq(x:mul(x):totable(), { 1, 4, 16 })
  T.raises(function() return x + "a" end, "gan.Tensor or number expected")
  T.raises(function() return gan.add(1, 2) end, "both arguments are numbers")
end)

T.case("number / tensor and powers", function()
  needs(function() return 1 / gan.ones(1) end, function() return gan.ones(1) ^ 2 end)
  local x = gan.tensor { 1, 2, 4 }
  T.eq((4 / x):totable(), { 4, 2, 1 })
  T.eq((x ^ 2):totable(), { 1, 4, 16 })
  T.close((2 ^ x):totable(), { 2, 4, 16 })
end)

T.case("floor, round and ceil: exact, halves to even, constants to autograd", function()
  local x = gan.tensor { -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 1.2, 8388607.5, 2 ^ 40 }
  T.eq(gan.floor(x):totable(), { -3, -2, -1, 0, 1, 2, -2, 1, 8388607, 2 ^ 40 })
  T.eq(x:round():totable(), { -2, -2, 0, 0, 2, 2, -2, 1, 8388608, 2 ^ 40 })
  T.eq(gan.round(x):totable(), x:round():totable())
  T.eq(x:ceil():totable(), { -2, -1, 0, 1, 2, 3, -1, 2, 8388608, 2 ^ 40 })
  T.eq(1 / x:round():totable()[3], -math.huge, "round(-0.5) is -0")
  T.eq(1 / gan.ceil(x):totable()[3], -math.huge, "ceil(-0.5) is -0")
  local s = gan.tensor({ 0 / 0, math.huge, -math.huge }):floor():totable()
  T.eq(s[1] ~= s[1], true, "NaN stays NaN")
  T.eq({ s[2], s[3] }, { math.huge, -math.huge })
  -- no gradient of their own: a straight-through estimator is written out
  local w = gan.tensor({ 0.4, 1.6 }):requires_grad(true)
  T.eq(w:round():requires_grad(), false)
  T.eq(w:floor():grad_fn(), nil)
  local st = w + (w:round() - w):detach()
  T.eq(st:totable(), { 0, 2 })
  T.eq(gan.grad((st * 3):sum(), w):totable(), { 3, 3 })
  T.raises(function() return gan.tensor({ 1 }, "int64"):ceil() end, "ceil: x must be float32")
end)

T.case("broadcasting", function()
  local a = gan.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  T.eq((a + gan.tensor { 10, 20, 30 }):totable(), { { 11, 22, 33 }, { 14, 25, 36 } })
  local col = gan.tensor { { 1 }, { 2 } }
  local row = gan.tensor { { 1, 10, 100 } }
  T.eq((col * row):totable(), { { 1, 10, 100 }, { 2, 20, 200 } })
  T.eq((a * gan.scalar(2)):totable(), { { 2, 4, 6 }, { 8, 10, 12 } })
end)

T.case("reductions", function()
  local a = gan.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  T.eq(a:sum():item(), 21)
  T.eq(a:sum(1):totable(), { 5, 7, 9 })
  T.eq(a:sum(-1):totable(), { 6, 15 })
  T.eq(a:sum(2, true):shape(), { 2, 1 })
  T.eq(a:sum { 1, 2 }:item(), 21)
  T.eq(gan.sum(a, 2):totable(), { 6, 15 })
  T.raises(function() return a:sum(3) end, "dim 3 out of range")
end)

-- views --------------------------------------------------------------------------------

T.case("views", function()
  local x = gan.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  T.eq(x:reshape(3, 2):totable(), { { 1, 2 }, { 3, 4 }, { 5, 6 } })
  T.eq(x:view { -1 }:totable(), { 1, 2, 3, 4, 5, 6 })
  T.eq(x:t():totable(), { { 1, 4 }, { 2, 5 }, { 3, 6 } })
  T.eq(x:transpose(1, 2):totable(), { { 1, 4 }, { 2, 5 }, { 3, 6 } })
  T.eq(x:permute(2, 1):is_contiguous(), false)
  T.eq(x:permute { 2, 1 }:contiguous():is_contiguous(), true)
  T.eq(x:narrow(2, 2, 2):totable(), { { 2, 3 }, { 5, 6 } })
  T.eq(x:narrow(2, -1, 1):totable(), { { 3 }, { 6 } })
  T.eq(x:select(1, 2):totable(), { 4, 5, 6 })
  T.eq(x:select(2, -1):totable(), { 3, 6 })
  T.eq(x[1]:totable(), { 1, 2, 3 })
  T.eq(x[-1][2]:item(), 5)
  T.eq(x:unsqueeze(1):shape(), { 1, 2, 3 })
  T.eq(x:unsqueeze(-1):shape(), { 2, 3, 1 })
  T.eq(x:unsqueeze(1):squeeze(1):shape(), { 2, 3 })
  T.eq(gan.zeros(1, 2, 1):squeeze():shape(), { 2 })
  T.eq(gan.zeros(2, 3, 4):flatten():shape(), { 24 })
  T.eq(gan.zeros(2, 3, 4):flatten(2):shape(), { 2, 12 })
  T.eq(x:flip(2):totable(), { { 3, 2, 1 }, { 6, 5, 4 } })
  T.eq(gan.tensor({ 1, 2 }):expand(2, 2):totable(), { { 1, 2 }, { 1, 2 } })
  T.eq(gan.ones(3, 2):sum_to(1, 2):totable(), { { 3, 3 } })
  T.raises(function() return x:narrow(2, 0, 1) end, "index 0 out of range")
  T.raises(function() return x[3] end, "index 3 out of range for dim 1 of size 2")
  T.raises(function() return x:permute(1) end, "gan.permute: needs 2 dims")
end)

T.case("views share storage", function()
  local x = gan.zeros(2, 3)
  x:narrow(2, 2, 1):fill_(5)
  T.eq(x:totable(), { { 0, 5, 0 }, { 0, 5, 0 } })
  x[2] = 7
  T.eq(x:totable(), { { 0, 5, 0 }, { 7, 7, 7 } })
  x:t()[1]:copy_(gan.tensor { 1, 2 })
  T.eq(x:totable(), { { 1, 5, 0 }, { 2, 7, 7 } })
  x:reshape(6):select(1, 6):fill_(-1)
  T.eq(x[2][3]:item(), -1)
  local c = x:clone()
  c:zero_()
  T.eq(x[1][1]:item(), 1, "a clone does not share")
  local d = x:detach()
  d:fill_(3)
  T.eq(x[1][1]:item(), 3, "detach shares")
end)

-- autograd --------------------------------------------------------------------------------

T.case("grad through views and arithmetic", function()
  local x = gan.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }):requires_grad(true)
  local w = gan.tensor({ 1, 10 }):requires_grad(true)
  -- y = sum(x^T * w) over a transposed view, plus a flipped, reshaped, expanded term
  local y = (x:t() * w):sum() + (x:flip(2):reshape(3, 2):unsqueeze(1):expand(2, 3, 2) * 3):sum()
  T.eq(y:grad_fn(), "add")
  local gx, gw = table.unpack(gan.grad(y, { x, w }))
  T.eq(gx:totable(), { { 7, 7, 7 }, { 16, 16, 16 } })
  T.eq(gw:totable(), { 6, 15 })
  -- a single input gives a single tensor
  local z = (x:permute(2, 1):flatten() / 2 - 1):sum()
  T.eq(gan.grad(z, x):totable(), { { 0.5, 0.5, 0.5 }, { 0.5, 0.5, 0.5 } })
  T.eq(x:requires_grad(), true)
  T.eq(x:grad_fn(), nil)
  T.eq(x:detach():requires_grad(), false)
end)

T.case("grad through narrow and select", function()
  needs(function()
    local x = gan.ones(2):requires_grad(true)
    return gan.grad(x:narrow(1, 1, 1):sum(), x)
  end)
  local x = gan.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }):requires_grad(true)
  local y = (x[1] - x[2] * 2):sum() + (x:reshape(6):narrow(1, 2, 3) / 2):sum()
  T.eq(gan.grad(y, x):totable(), { { 1, 1.5, 1.5 }, { -1.5, -2, -2 } })
end)

T.case("grad options: retain_graph, grad_outputs, allow_unused", function()
  local x = gan.tensor({ 1, 2 }):requires_grad(true)
  local u = gan.tensor({ 3 }):requires_grad(true)
  local y = x * x
  local g = gan.grad(y, x, { grad_outputs = gan.tensor { 1, 10 }, retain_graph = true })
  T.eq(g:totable(), { 2, 40 })
  T.eq(gan.grad(y:sum(), x):totable(), { 2, 4 })
  T.raises(function() return gan.grad(y:sum(), x) end, "already differentiated")
  local gs = gan.grad((x * 2):sum(), { x, u }, { allow_unused = true })
  T.eq(gs[1]:totable(), { 2, 2 })
  T.eq(gs[2], nil)
  T.raises(function() return gan.grad(gan.ones(1), x) end, "does not require a gradient")
  T.raises(function() return gan.grad(y, { x, 3 }) end, "inputs[2] is a number")
end)

T.case("second order: d2/dx2 of x^3 through mul", function()
  local x = gan.tensor({ -1, 0.5, 2 }):requires_grad(true)
  local y = (x * x * x):sum()
  local g = gan.grad(y, x, { create_graph = true })
  T.close(g, { 3, 0.75, 12 })
  T.eq(g:requires_grad(), true)
  local g2 = gan.grad(g:sum(), x)
  T.close(g2, { -6, 3, 12 })
end)

T.case("no_grad returns results and restores the mode, even on error", function()
  local x = gan.ones(2):requires_grad(true)
  T.eq(gan.is_grad_enabled(), true)
  local y, extra = gan.no_grad(function(a, b)
    T.eq(gan.is_grad_enabled(), false)
    return a * 2, b
  end, x, "b")
  T.eq(extra, "b")
  T.eq(y:requires_grad(), false)
  T.eq(gan.is_grad_enabled(), true)
  local msg = T.raises(function() gan.no_grad(function() error("inside") end) end, "inside")
  T.eq(gan.is_grad_enabled(), true, msg)
  -- nested: the inner restores off, the outer restores on
  gan.no_grad(function()
    pcall(gan.no_grad, function() error("x") end)
    T.eq(gan.is_grad_enabled(), false)
  end)
  T.eq(gan.is_grad_enabled(), true)
end)

-- errors ----------------------------------------------------------------------------------

T.case("errors name the function, the shapes and the caller's line", function()
  local a, b = gan.zeros(2, 3), gan.zeros(4)
  local l = line(); local ok, err = pcall(function() return a + b end)
  T.eq(ok, false)
  T.eq(err:match("^[^:]+test_tensor%.lua:(%d+): ") ~= nil, true, err)
  T.eq(tonumber(err:match("test_tensor%.lua:(%d+):")), l, err)
  T.eq(err:find("gan.add: shapes [2, 3] and [4] do not broadcast", 1, true) ~= nil, true, err)
  l = line(); ok, err = pcall(function() return a:reshape(5) end)
  T.eq(tonumber(err:match("test_tensor%.lua:(%d+):")), l, err)
  T.eq(err:find("gan.reshape: cannot view [2, 3] (6 elements) as [5]", 1, true) ~= nil, true, err)
  err = T.raises(function() return a:narrow(1, 1) end, "bad argument #3 to 'narrow'")
  T.eq(err:find("test_tensor.lua", 1, true) ~= nil, true, err)
  T.raises(function() return gan.zeros(2):sum("x") end, "bad argument #1 to 'sum'")
  T.raises(function() return gan.relu(1) end, "gan.Tensor expected, got number")
  T.raises(function() return gan.cat({ a, 1 }, 1) end, "element 2 is a number")
end)

-- in place ----------------------------------------------------------------------------------

T.case("in-place updates", function()
  local p = gan.tensor({ 1, 2, 3 }):requires_grad(true)
  T.eq(p:fill_(4), p, "returns self")
  T.eq(p:totable(), { 4, 4, 4 })
  p:zero_()
  T.eq(p:totable(), { 0, 0, 0 })
  p:copy_(gan.tensor { { 1, 2, 3 } })
  T.eq(p:totable(), { 1, 2, 3 })
  T.raises(function() p:copy_(gan.zeros(2)) end, "differ in size")
  local y = p * 2
  T.raises(function() y:fill_(0) end, "gan.fill_: cannot change in place a tensor made by a recorded op (mul_scalar)")
  gan.no_grad(function() (p * 2):fill_(0) end)
  local q = gan.tensor { -2, 0.5, 3 }
  needs(function() return gan.zeros(1):mul_(2) end,
    function() return gan.zeros(1):clamp_(0, 1) end,
    function() return gan.zeros(1):lerp_(gan.zeros(1), 0.5) end)
  T.eq(q:mul_(2):totable(), { -4, 1, 6 })
  T.eq(q:clamp_(-1, 2):totable(), { -1, 1, 2 })
  T.eq(q:clamp_(nil, 1.5):totable(), { -1, 1, 1.5 })
  q:lerp_(gan.tensor { 1, 1, 1.5 }, 0.5)
  T.eq(q:totable(), { 0, 1, 1.5 })
end)

T.case("random in place and the rng state", function()
  local s = gan.rng_state()
  T.eq(math.type(s.seed), "integer")
  T.eq(math.type(s.offset), "integer")
  gan.set_rng_state { seed = 42, offset = 7 }
  T.eq(gan.rng_state(), { seed = 42, offset = 7, stream = 0 })
  needs(function() return gan.randn(1) end, function() return gan.rand(1) end)
  gan.manual_seed(1)
  local a = gan.randn(5)
  local saved = gan.rng_state()
  local b = gan.randn(5)
  gan.set_rng_state(saved)
  T.eq(gan.randn(5):totable(), b:totable())
  gan.manual_seed(1)
  T.eq(gan.randn(5):totable(), a:totable())
  local u = gan.zeros(1000):uniform_(2, 3)
  T.eq(u:min():item() >= 2 and u:max():item() < 3, true)
  local n = gan.zeros(1000):normal_(5, 0.1)
  T.close(n:mean():item(), 5, 0.01)
end)

-- memory ---------------------------------------------------------------------------------------

-- AddressSanitizer keeps freed memory in quarantine on purpose, and makes
-- each large allocation a system call: no RSS check there, and fewer rounds.
local sanitized = false
do
  local maps = io.open("/proc/self/maps")
  if maps then
    sanitized = maps:read("a"):find("libasan", 1, true) ~= nil
    maps:close()
  end
end

local function rss_bytes()
  if sanitized then return nil end
  local f = io.open("/proc/self/statm")
  if not f then return nil end
  local pages = f:read("n") and f:read("n")
  f:close()
  return pages and pages * 4096
end

T.case("memory stays flat: 10000 tensors of 1 MB", function()
  collectgarbage()
  local mb = 1024 * 1024
  local base = gan.live().bytes
  local peak, rss0 = 0, rss_bytes()
  local function note()
    local b = gan.live().bytes - base
    if b > peak then peak = b end
  end
  for i = 1, sanitized and 1000 or 10000 do
    local x = gan.zeros(262144) -- 1 MB
    if i % 10 == 0 then note() end
    assert(x:numel() == 262144)
  end
  -- results of ops and of the graph they record go the same way
  local threads = gan.get_threads()
  gan.set_threads(1)
  local w = gan.zeros(262144):requires_grad(true)
  for i = 1, sanitized and 100 or 500 do
    local y = (w + 1) * 2
    if i % 10 == 0 then note() end
    assert(y:grad_fn() == "mul_scalar")
  end
  gan.set_threads(threads)
  T.eq(peak < 64 * mb, true, ("peak tensor memory %.1f MB"):format(peak / mb))
  if rss0 then
    local grown = rss_bytes() - rss0
    T.eq(grown < 128 * mb, true, ("RSS grew %.1f MB"):format(grown / mb))
  end
  collectgarbage()
  T.eq(gan.live().bytes - base <= 2 * mb, true, "freed after a collection")
end)

T.case("graphs are freed with their tensors", function()
  collectgarbage()
  local nodes = gan.live().nodes
  do
    local x = gan.ones(3):requires_grad(true)
    local y = ((x * 2 + 1) * x):sum()
    T.eq(gan.live().nodes > nodes, true)
    gan.grad(y, x)
  end
  collectgarbage()
  collectgarbage()
  T.eq(gan.live().nodes, nodes)
end)

T.case("failed calls give back every temporary", function()
  local a, b = gan.zeros(2, 3), gan.zeros(4)
  local x = gan.ones(2):requires_grad(true)
  local failing = {
    function() return a + b end,
    function() return a:maximum(b) end,
    function() return gan.where(a, 1, b) end,
    function() return gan.tensor { { 1, 2 }, { 3 } } end,
    function() return gan.tensor { 1, 2, "x" } end,
    function() return gan.grad(x * 2, { x, a }) end,
    function() return gan.grad((x * x):sum(), x, { grad_outputs = gan.ones(3) }) end,
    function() return gan.cat({ a, b }, 1) end,
    function() return a:reshape(7) end,
    function() return a:split(2, 3) end,
    function() return gan.zeros(0):argmax() end,
    function() return gan.io.save_safetensors(nil, { a = a }) end,
  }
  collectgarbage()
  collectgarbage()
  local before = gan.live()
  for _ = 1, 3 do
    for i, f in ipairs(failing) do
      local ok = pcall(f)
      T.eq(ok, false, "call " .. i .. " should fail")
    end
  end
  collectgarbage()
  collectgarbage()
  local after = gan.live()
  T.eq(after.tensors, before.tensors)
  T.eq(after.bytes, before.bytes)
  T.eq(after.nodes, before.nodes)
end)

T.case("gan functions and modules", function()
  T.eq(type(gan.version), "string")
  T.eq(gan.is_tensor(gan.zeros(1)), true)
  T.eq(gan.is_tensor({}), false)
  T.eq(gan.get_threads() >= 1, true)
  T.raises(function() gan.adapt_threads(1) end, "boolean expected")
  local k = gan.kernels.info()
  T.eq(k.running_threads >= 1 and k.running_threads <= k.threads, true)
  T.eq(type(k.isa), "string")
  T.eq(gan.kernels.use("scalar"), true)
  local ok, msg = gan.kernels.use("sse9")
  T.eq(ok, nil)
  T.eq(msg:find("available: scalar", 1, true) ~= nil, true, msg)
  gan.kernels.use(k.isa)
  T.eq(gan.Tensor.numel(gan.zeros(2, 2)), 4)
  T.raises(function() return gan.no_such_thing end, "gan.no_such_thing: no such function or module")
  local n = gan.live().tensors
  local kept
  do
    local c <close> = gan.zeros(3)
    kept = c
  end
  T.eq(gan.live().tensors, n, "<close> gives the tensor back at once")
  T.raises(function() return kept + 1 end, "tensor was closed")
  T.eq(tostring(kept), "tensor(closed)")
  local live = gan.live()
  T.eq(math.type(live.tensors), "integer")
  T.eq(math.type(live.bytes), "integer")
  local path = os.tmpname()
  local okf, err = gan.io.load_image(path .. ".missing.png")
  T.eq(okf, nil)
  T.eq(type(err), "string")
  os.remove(path)
end)

T.case("runtime messages count dims from 1, as Lua does", function()
  T.raises(function() return gan.zeros(2, 3) + gan.zeros(4) end, "do not broadcast %(dim 2: 3 vs 4%)")
  T.raises(function() return gan.cat({ gan.zeros(2, 3), gan.zeros(3, 4) }, 1) end, "may differ only in dim 1")
  T.raises(function() return gan.zeros(0):argmax() end, "dim 1 of %[0%] is empty")
  T.raises(function() return gan.gather(gan.zeros(2, 3), 2, gan.tensor({ { 5 } }, "int64")) end,
    "index 5 is out of range for dim 2")
end)

T.run()
