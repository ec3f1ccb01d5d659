-- PGGAN's layers: PixelNorm and MinibatchStdDev against loops over their
-- definitions (NVlabs' MinibatchStdLayer for the groups), with finite
-- differences of first and second order.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local nn = gan.nn

T.case("PixelNorm: each pixel's channels divided by their root mean square", function()
  gan.manual_seed(1)
  local x = gan.randn(2, 5, 3, 4)
  local y = nn.PixelNorm()(x)
  local xv, yv = x:totable(), y:totable()
  for n = 1, 2 do
    for i = 1, 3 do
      for j = 1, 4 do
        local ms = 0
        for c = 1, 5 do ms = ms + xv[n][c][i][j] ^ 2 / 5 end
        for c = 1, 5 do U.close(yv[n][c][i][j], xv[n][c][i][j] / math.sqrt(ms + 1e-8), 1e-5, "pixel") end
      end
    end
  end
  local z = nn.PixelNorm()(gan.randn(4, 7))
  U.tclose(z:square():mean(2), { 1, 1, 1, 1 }, 1e-5, "features: unit mean square per sample")
  U.equal(nn.norm_layer("pixel", 8).__name, "PixelNorm")
  U.equal(nn.norm_layer1d("pixel", 8).__name, "PixelNorm")
  U.gradcheck_module(nn.PixelNorm(), gan.randn(2, 3, 2, 2), { points = 5 })
  local x, r = gan.randn(2, 3, 2, 2):requires_grad(true), gan.randn(2, 3, 2, 2)
  U.gradcheck(function()
    local g = gan.grad((nn.PixelNorm()(x) * r):sum(), x, { create_graph = true })
    return g:square():sum()
  end, { x }, { points = 6, name = "second order" })
end)

-- MinibatchStdDev by its definition: sample i is member i // m of group i mod m
local function mbstd_loop(x, g, f)
  local xv = x:totable()
  local n, c, h, w = table.unpack(x:shape())
  local m, cg = n // g, c // f
  local stat = {}
  for grp = 0, m - 1 do
    stat[grp] = {}
    for k = 0, f - 1 do
      local acc = 0
      for ch = k * cg + 1, (k + 1) * cg do
        for i = 1, h do
          for j = 1, w do
            local mean = 0
            for a = 0, g - 1 do mean = mean + xv[a * m + grp + 1][ch][i][j] / g end
            local var = 0
            for a = 0, g - 1 do var = var + (xv[a * m + grp + 1][ch][i][j] - mean) ^ 2 / g end
            acc = acc + math.sqrt(var + 1e-8)
          end
        end
      end
      stat[grp][k] = acc / (cg * h * w)
    end
  end
  return stat, m
end

T.case("MinibatchStdDev: group statistics by a loop; the group size clamp; errors", function()
  gan.manual_seed(2)
  for _, cfg in ipairs({ { n = 6, g = 3, f = 1, c = 4 }, { n = 8, g = 4, f = 2, c = 4 }, { n = 2, g = 4, f = 1, c = 3 },
                         { n = 5, g = nil, f = 1, c = 2 } }) do
    local x = gan.randn(cfg.n, cfg.c, 3, 2)
    local layer = nn.MinibatchStdDev(cfg.g or 0, cfg.f)
    local y = layer(x)
    local g = math.min(cfg.g or cfg.n, cfg.n)
    U.shape(y, { cfg.n, cfg.c + cfg.f, 3, 2 })
    U.equal(U.maxdiff(y:narrow(2, 1, cfg.c), x), 0, "the input comes first")
    local stat, m = mbstd_loop(x, g, cfg.f)
    local yv = y:totable()
    for i = 0, cfg.n - 1 do
      for k = 0, cfg.f - 1 do
        for a = 1, 3 do
          for b = 1, 2 do
            U.close(yv[i + 1][cfg.c + k + 1][a][b], stat[i % m][k], 1e-5, ("n %d, sample %d"):format(cfg.n, i))
          end
        end
      end
    end
  end
  U.raises(function() nn.MinibatchStdDev(4)(gan.randn(6, 2, 2, 2)) end, "not a multiple of the group size 4")
  U.raises(function() nn.MinibatchStdDev(2, 2)(gan.randn(4, 3, 2, 2)) end, "do not split")
  local x = gan.randn(4, 2, 2, 2):requires_grad(true)
  U.gradcheck_module(nn.MinibatchStdDev(2), x, { points = 6 })
  -- second order: the squared input gradient, differentiated for the input again
  local layer, r = nn.MinibatchStdDev(2), gan.randn(4, 3, 2, 2)
  U.gradcheck(function()
    local g = gan.grad((layer(x) * r):sum(), x, { create_graph = true })
    return g:square():sum()
  end, { x }, { points = 6, name = "second order" })
end)

T.run()
