-- gan.upfirdn2d and x:upfirdn2d: values against a plain Lua reference, the
-- shapes of StyleGAN2's three uses, the option forms, first and second order
-- gradients, and the errors.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

-- The definition on nested tables: each plane upsampled by zero insertion,
-- padded, filtered (f reversed unless flip), every down-th value kept.
local function reference(x, f, o)
  local ux, uy = o.up[1], o.up[2]
  local dx, dy = o.down[1], o.down[2]
  local x0, x1, y0, y1 = o.pad[1], o.pad[2], o.pad[3], o.pad[4]
  local fh, fw = #f, #f[1]
  local out = {}
  for n, planes in ipairs(x) do
    out[n] = {}
    for c, p in ipairs(planes) do
      local H, W = #p, #p[1]
      local function at(i, j) -- the padded, upsampled plane, from 0
        i, j = i - y0, j - x0
        if i < 0 or j < 0 or i >= H * uy or j >= W * ux or i % uy ~= 0 or j % ux ~= 0 then return 0 end
        return p[i // uy + 1][j // ux + 1]
      end
      local Hc, Wc = H * uy + y0 + y1 - fh + 1, W * ux + x0 + x1 - fw + 1
      local plane = {}
      for qy = 0, (Hc - 1) // dy do
        local row = {}
        for qx = 0, (Wc - 1) // dx do
          local s = 0
          for ky = 0, fh - 1 do
            for kx = 0, fw - 1 do
              local w = o.flip and f[ky + 1][kx + 1] or f[fh - ky][fw - kx]
              s = s + w * at(qy * dy + ky, qx * dx + kx)
            end
          end
          row[#row + 1] = s * o.gain
        end
        plane[#plane + 1] = row
      end
      out[n][c] = plane
    end
  end
  return out
end

T.case("values: a 2-d filter and 1-d taps against the definition", function()
  gan.manual_seed(3)
  local x = gan.rand(2, 2, 3, 4) * 2 - 1
  local f = gan.tensor { { 1, -2, 0.5 }, { 3, 0.25, -1 } }
  local o = { up = { 2, 1 }, down = { 1, 2 }, pad = { 2, -1, 1, 3 }, flip = false, gain = 1.5 }
  local y = gan.upfirdn2d(x, f, o)
  U.tclose(y, reference(x:totable(), f:totable(), o), 1e-5, "2-d filter")
  local t = gan.tensor { 0.25, 0.5, 0.25 }
  local o2 = { up = { 1, 3 }, down = { 2, 1 }, pad = { 1, 1, -1, 2 }, flip = true, gain = 2 }
  local outer = t:reshape(3, 1) * t:reshape(1, 3)
  U.tclose(x:upfirdn2d(t, o2), reference(x:totable(), outer:totable(), o2), 1e-5, "taps are f f^T")
end)

T.case("StyleGAN2's upsample, downsample and blur keep their shapes; defaults", function()
  local x = gan.randn(2, 3, 8, 8)
  local f = gan.tensor { 1, 3, 3, 1 } / 8
  U.shape(x:upfirdn2d(f, { up = 2, pad = { 2, 1, 2, 1 }, gain = 4 }), { 2, 3, 16, 16 })
  U.shape(x:upfirdn2d(f, { down = 2, pad = 1 }), { 2, 3, 4, 4 })
  U.shape(x:upfirdn2d(f, { pad = { 2, 1, 2, 1 } }), { 2, 3, 8, 8 })
  -- no options: a valid filter, (8 - 4 + 1) pixels
  U.shape(gan.upfirdn2d(x, f), { 2, 3, 5, 5 })
  -- a constant image upsampled with gain up^2 stays constant inside
  local one = gan.ones(1, 1, 6, 6):upfirdn2d(f, { up = 2, pad = { 2, 1, 2, 1 }, gain = 4 })
  U.close(one[1][1][6][7]:item(), 1, 1e-6, "DC gain")
end)

T.case("option forms: a number or a list, {x, y} pads, the method and the function agree", function()
  local x = gan.randn(1, 2, 5, 6)
  local f = gan.tensor { 1, 2, 1 } / 4
  local a = gan.upfirdn2d(x, f, { up = 2, down = 3, pad = 1 })
  local b = x:upfirdn2d(f, { up = { 2, 2 }, down = { 3, 3 }, pad = { 1, 1, 1, 1 } })
  U.equal(U.maxdiff(a, b), 0)
  local c = x:upfirdn2d(f, { pad = { 2, 1 } })
  local d = x:upfirdn2d(f, { pad = { 2, 2, 1, 1 } })
  U.equal(U.maxdiff(c, d), 0)
  -- x and y in that order: up = {2, 1} doubles the width only
  U.shape(x:upfirdn2d(f, { up = { 2, 1 }, pad = 1 }), { 1, 2, 5, 12 })
  U.shape(x:upfirdn2d(f, { down = { 1, 2 }, pad = 1 }), { 1, 2, 3, 6 })
end)

T.case("gradients: first order, and second order through create_graph", function()
  gan.manual_seed(5)
  local f = gan.tensor { 1, 3, 3, 1 } / 8
  local cases = {
    { up = 2, pad = { 2, 1, 2, 1 }, gain = 4 },
    { down = 2, pad = 1 },
    { up = { 1, 3 }, down = { 2, 1 }, pad = { 0, 2, -1, 1 }, flip = true },
  }
  for i, o in ipairs(cases) do
    local x = gan.randn(2, 2, 4, 5):requires_grad(true)
    local r = gan.randn(x:upfirdn2d(f, o):shape())
    U.gradcheck(function() return (x:upfirdn2d(f, o) * r):sum() end, { x }, { name = "first " .. i, points = 10 })
    -- R1-like: the squared norm of a gradient that goes through the op twice
    U.gradcheck(function()
      local y = x:upfirdn2d(f, o)
      local g = gan.grad((y * y * r):sum(), x, { create_graph = true })
      return (g * g):sum()
    end, { x }, { name = "second " .. i, points = 10 })
  end
end)

T.case("errors name the argument, or the op and the shapes", function()
  local x = gan.randn(1, 2, 4, 4)
  local f = gan.tensor { 1, 3, 3, 1 } / 8
  T.raises(function() return gan.upfirdn2d(x, 3) end, "bad argument #2")
  T.raises(function() return x:upfirdn2d(f, 2) end, "table expected")
  T.raises(function() return x:upfirdn2d(f, { gian = 4 }) end, "unknown option gian")
  T.raises(function() return x:upfirdn2d(f, { up = { 1, 2, 3 } }) end, "up must be an integer or {x, y}")
  T.raises(function() return x:upfirdn2d(f, { pad = 0.5 }) end, "pad must be an integer")
  T.raises(function() return x:upfirdn2d(f, { flip = 1 }) end, "flip must be a boolean")
  T.raises(function() return x:upfirdn2d(f, { gain = "x" }) end, "gain must be a number")
  T.raises(function() return x:upfirdn2d(f, { down = 0 }) end, "down %(0, 0%) must be at least 1")
  T.raises(function() return x:upfirdn2d(f, { pad = -1 }) end, "the output is empty")
  T.raises(function() return gan.randn(2, 4, 4):upfirdn2d(f) end, "x must be %(N,C,H,W%), got %[2, 4, 4%]")
  T.raises(function() return x:upfirdn2d(gan.ones(2, 2, 2)) end, "f must be taps")
  T.raises(function() return x:upfirdn2d(gan.tensor { 1, 2 }:long()) end, "f must be float32")
  local fg = gan.tensor { 0.5, 0.5 }:requires_grad(true)
  T.raises(function() return x:upfirdn2d(fg) end, "must be a constant")
end)

T.run()
