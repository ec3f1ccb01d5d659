-- A seeded, bounded random fuzz of the tensor API: random shapes (empty
-- dims, scalars, broadcastable and not), dtypes, views, and arguments both
-- valid and not (negative, huge, NaN, fractional, wrong types), through
-- elementwise ops, reductions, views, indexing, linear algebra, convolution,
-- pooling, resampling and gradients. Every call must return or raise a
-- string error from the binding or the library; a crash or a memory error
-- (ASan in CI) fails the test. At most 20000 calls, 3 s of CPU or 5 s of wall time.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local seed = 987654321
local function rand(n)
  seed = (seed * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
  return (seed >> 33) % n
end
local function pick(list) return list[rand(#list) + 1] end

local ints = { 0, 1, 2, 3, 4, 5, -1, -2, 7, 2 ^ 31, -2 ^ 40, 1.5, 0 / 0, 1 / 0 }
local function an_int() return rand(4) == 0 and pick(ints) or rand(5) end
local function any_arg()
  local k = rand(10)
  if k < 5 then return an_int() end
  if k == 5 then return "x" end
  if k == 6 then return nil end
  if k == 7 then return { an_int(), an_int() } end
  if k == 8 then return true end
  return rand(3) - 1.25
end

local function a_shape()
  local s = {}
  for i = 1, rand(5) do s[i] = rand(4) == 0 and rand(2) or 1 + rand(4) end
  return s
end

local function a_tensor()
  local s = a_shape()
  local k = rand(8)
  local t
  if k == 0 then
    t = gan.randint(0, 5, s)
  elseif k == 1 then
    t = gan.full(s, pick { 0 / 0, 1 / 0, -1 / 0, 0, -0.0 })
  else
    t = gan.randn(table.unpack(s))
  end
  if rand(3) == 0 and t:dim() >= 2 then t = t:transpose(1, t:dim()) end -- a strided view
  if rand(4) == 0 and t:dtype() == "float32" then t = t:detach():requires_grad(true) end
  return t
end

-- the calls, each made of random inputs and arguments
local calls = {
  unary = function()
    local x = a_tensor()
    local m = pick { "abs", "neg", "exp", "log", "log1p", "sqrt", "rsqrt", "relu", "sigmoid", "tanh", "sin", "cos",
      "sign", "floor", "ceil", "round", "square", "softplus", "clone", "contiguous", "detach", "float", "long", "t" }
    return x[m](x)
  end,
  binary = function()
    local a, b = a_tensor(), rand(3) == 0 and any_arg() or a_tensor()
    local m = pick { "add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt", "ge", "ne" }
    return gan[m](a, b)
  end,
  operators = function()
    local a, b = a_tensor(), rand(2) == 0 and a_tensor() or any_arg()
    local op = rand(5)
    if op == 0 then return a + b elseif op == 1 then return a - b elseif op == 2 then return a * b
    elseif op == 3 then return a / b else return -a end
  end,
  reduce = function()
    local x = a_tensor()
    local m = pick { "sum", "mean", "max", "min", "var", "logsumexp", "softmax", "log_softmax", "argmax" }
    if rand(3) == 0 then return x[m](x) end
    return x[m](x, any_arg(), rand(2) == 0)
  end,
  view = function()
    local x = a_tensor()
    local m = pick { "view", "reshape", "permute", "transpose", "narrow", "select", "unsqueeze", "squeeze", "flatten",
      "expand", "flip", "chunk", "split" }
    return x[m](x, any_arg(), any_arg(), any_arg())
  end,
  index = function()
    local x, i = a_tensor(), gan.randint(-1, 6, a_shape())
    local m = pick { "index_select", "gather" }
    return gan[m](x, an_int(), i)
  end,
  join = function()
    local list = {}
    for k = 1, 1 + rand(3) do list[k] = a_tensor() end
    return gan[pick { "cat", "stack" }](list, an_int())
  end,
  where = function() return gan.where(a_tensor(), a_tensor(), rand(2) == 0 and a_tensor() or any_arg()) end,
  clamp = function() local x = a_tensor(); return x:clamp(any_arg(), any_arg()) end,
  matmul = function() return gan.matmul(a_tensor(), a_tensor()) end,
  linear = function() return gan.linear(a_tensor(), a_tensor(), rand(2) == 0 and a_tensor() or nil) end,
  conv = function()
    local x = gan.randn(1 + rand(2), 1 + rand(3), rand(7), 1 + rand(6))
    local w = gan.randn(1 + rand(3), 1 + rand(3), 1 + rand(4), 1 + rand(4))
    local f = rand(2) == 0 and gan.conv2d or gan.conv_transpose2d
    return f(x, w, nil, { stride = an_int(), padding = an_int(), dilation = an_int(), groups = an_int() })
  end,
  pool = function()
    local x = gan.randn(1, 1 + rand(2), rand(6), 1 + rand(6))
    return gan[pick { "avg_pool2d", "max_pool2d" }](x, any_arg(), any_arg(), any_arg())
  end,
  upsample = function()
    local x = a_tensor()
    if rand(2) == 0 then return x:upsample({ scale = any_arg() }, pick { "nearest", "bilinear", "cubic" }) end
    return x:upsample({ size = any_arg() }, pick { "nearest", "bilinear" })
  end,
  pad = function() return gan.pad(a_tensor(), { an_int(), an_int(), an_int(), an_int() }, pick { "zeros", "reflect", "replicate", "wrap" }) end,
  create = function()
    local f = pick { "zeros", "ones", "rand", "randn", "empty" }
    -- bad sizes, but none that asks for gigabytes (a valid call that big is no test)
    if rand(3) == 0 then return gan[f](pick { -1, 1.5, 0 / 0, "x", 3 }, pick { -2, 2, true, 0 }) end
    return gan[f](table.unpack(a_shape()))
  end,
  norm = function()
    local x = gan.randn(1 + rand(3), 1 + rand(4), rand(4), 1 + rand(3))
    local f = pick { "batch_norm", "instance_norm", "layer_norm", "group_norm" }
    return gan[f](x, any_arg(), any_arg())
  end,
  one_hot = function() return gan.one_hot(gan.randint(-1, 4, a_shape()), pick { -1, 0, 2, 3, 5, 1.5 }) end,
  grad = function()
    local x = gan.randn(table.unpack(a_shape())):requires_grad(true)
    local m = pick { "relu", "tanh", "sigmoid", "exp", "abs", "square", "softplus" }
    local y = x[m](x)
    return gan.grad(y:sum(), x, rand(2) == 0 and { create_graph = true } or nil)
  end,
}
local names = {}
for k in pairs(calls) do names[#names + 1] = k end
table.sort(names)

T.case("random calls return or raise a clear error, never crash", function()
  -- bounded by calls, by CPU time and by wall time (a loaded machine)
  local t0, w0, n, ok_count, errs = os.clock(), gan.clock(), 0, 0, {}
  while n < 20000 and os.clock() - t0 < 3 and gan.clock() - w0 < 5 do
    n = n + 1
    local name = pick(names)
    local c0 = os.clock()
    local ok, r = pcall(calls[name])
    if os.getenv("FUZZ_SHOW") and os.clock() - c0 > 0.1 then print("SLOW", name, os.clock() - c0, tostring(r)) end
    if ok then
      ok_count = ok_count + 1
      -- touch every result: its values are read (ASan sees a bad buffer)
      local rs = type(r) == "table" and not gan.is_tensor(r) and r or { r }
      for _, t in ipairs(rs) do
        if gan.is_tensor(t) and t:numel() < 100000 then
          local prod = 1
          for _, d in ipairs(t:shape()) do prod = prod * d end
          U.equal(prod, t:numel(), name .. ": numel and shape")
          gan.no_grad(function() return t:float():sum():item() end)
        end
      end
    else
      U.truthy(type(r) == "string", name .. ": a non-string error " .. tostring(r))
      U.truthy(not r:find("attempt to", 1, true), name .. ": a raw Lua error: " .. r)
      errs[#errs + 1] = r
      if os.getenv("FUZZ_SHOW") then print(name, r) end
    end
  end
  io.write(("%d calls in %.2f s: %d returned, %d refused\n"):format(n, os.clock() - t0, ok_count, #errs))
  U.truthy(ok_count > n // 10 and #errs > n // 10, "both outcomes exercised")
end)

T.run()
