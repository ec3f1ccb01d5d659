-- gan.enable_grad inside gan.no_grad: gradients recorded again, the mode restored after.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

T.case("enable_grad records inside no_grad and restores the mode", function()
  local x = gan.tensor({ 1, 2, 3 }):requires_grad(true)
  local g, inner, after = gan.no_grad(function()
    local y = (x * x):sum()
    U.equal(y:grad_fn(), nil, "nothing recorded under no_grad")
    local gg, mode = gan.enable_grad(function(a)
      return gan.grad((a * a):sum(), a), gan.is_grad_enabled()
    end, x)
    return gg, mode, gan.is_grad_enabled()
  end)
  U.tclose(g, { 2, 4, 6 }, 1e-6, "d/dx sum x^2")
  U.equal(inner, true, "grad mode inside enable_grad")
  U.equal(after, false, "no_grad again after it")
  U.equal(gan.is_grad_enabled(), true, "and on outside")
end)

T.case("enable_grad passes errors on and still restores the mode", function()
  local err = gan.no_grad(function()
    local ok, e = pcall(gan.enable_grad, function() error("boom", 0) end)
    U.equal(ok, false, "the error comes through")
    U.equal(gan.is_grad_enabled(), false, "mode restored after the error")
    return e
  end)
  U.equal(err, "boom", "the same error value")
  U.raises(function() gan.enable_grad() end, "bad argument #1")
end)

T.case("the gradient of a non-scalar is an error naming its shape (a forgotten :mean())", function()
  local x = gan.tensor({ 1, 2, 3 }):requires_grad(true)
  U.raises(function() gan.grad(x * 2, x) end, "output 1 has shape [3], not a scalar")
  -- a scalar of any rank, or explicit grad_outputs, is fine
  U.tclose(gan.grad((x * 2):sum():reshape(1, 1), x), { 2, 2, 2 }, 1e-6, "a (1, 1) loss")
  U.tclose(gan.grad(x * 2, x, { grad_outputs = gan.ones(3) }), { 2, 2, 2 }, 1e-6, "grad_outputs")
  local W = gan.nn.Linear(3, 2)
  local opt = gan.optim.SGD(W, { lr = 0.1 })
  local before = W.weight:clone()
  U.raises(function() opt:step(W(gan.randn(4, 3))) end, "SGD:step: the loss has shape [4, 2], not a scalar")
  U.tclose(W.weight, before:totable(), 0, "nothing updated")
end)

T.run()
