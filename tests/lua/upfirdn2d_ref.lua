-- Two references for the upfirdn2d op (upsample by zero insertion, pad or
-- crop, FIR filter, downsample; NVlabs' semantics), for the tests of
-- gan.nn.resample and of the layers built on it:
--
-- * R.upfirdn2d(x, f, opts): the same computation from existing ops (cat
--   with zeros, pad, narrow, a depthwise conv2d of stride down), so it is
--   differentiable to any order like the op;
-- * R.naive(x, f, opts): the definition, one output value at a time, in
--   Lua numbers (doubles); a nested table.
local gan = require "gan"

local R = {}

local function pair(v)
  if v == nil then return 1, 1 end
  if type(v) == "number" then return v, v end
  return v[1], v[2]
end

local function pads(p)
  if p == nil then return 0, 0, 0, 0 end
  if type(p) == "number" then return p, p, p, p end
  return p[1], p[2], p[3], p[4]
end

function R.parse(o)
  o = o or {}
  local ux, uy = pair(o.up)
  local dx, dy = pair(o.down)
  local x0, x1, y0, y1 = pads(o.pad)
  return ux, uy, dx, dy, x0, x1, y0, y1, o.flip == true, o.gain or 1
end

-- zeros after each value along dim d (3 or 4) of (N, C, H, W), u - 1 of them
local function insert_zeros(x, d, u)
  if u == 1 then return x end
  local n, c, h, w = table.unpack(x:shape())
  if d == 4 then
    local cols = x:reshape(n * c * h, w, 1)
    return gan.cat({ cols, gan.zeros(n * c * h, w, u - 1) }, 3):reshape(n, c, h, w * u)
  end
  local rows = x:reshape(n * c, h, 1, w)
  return gan.cat({ rows, gan.zeros(n * c, h, u - 1, w) }, 3):reshape(n, c, h * u, w)
end

function R.upfirdn2d(x, f, o)
  local ux, uy, dx, dy, x0, x1, y0, y1, flip, gain = R.parse(o)
  local c = x:size(2)
  x = insert_zeros(insert_zeros(x, 4, ux), 3, uy)
  x = x:pad({ math.max(x0, 0), math.max(x1, 0), math.max(y0, 0), math.max(y1, 0) })
  local cx0, cx1, cy0, cy1 = math.max(-x0, 0), math.max(-x1, 0), math.max(-y0, 0), math.max(-y1, 0)
  if cx0 + cx1 > 0 then x = x:narrow(4, 1 + cx0, x:size(4) - cx0 - cx1) end
  if cy0 + cy1 > 0 then x = x:narrow(3, 1 + cy0, x:size(3) - cy0 - cy1) end
  f = f * gain ^ (f:dim() / 2)
  -- conv2d correlates: a convolution is a correlation with the flipped filter
  if not flip then f = f:flip(f:dim() == 1 and { 1 } or { 1, 2 }) end
  if f:dim() == 2 then
    local k = f:reshape(1, 1, f:size(1), f:size(2)):expand(c, 1, f:size(1), f:size(2)):contiguous()
    return x:conv2d(k, nil, { groups = c, stride = { dy, dx } })
  end
  local t = f:size(1)
  x = x:conv2d(f:reshape(1, 1, 1, t):expand(c, 1, 1, t):contiguous(), nil, { groups = c, stride = { 1, dx } })
  return x:conv2d(f:reshape(1, 1, t, 1):expand(c, 1, t, 1):contiguous(), nil, { groups = c, stride = { dy, 1 } })
end

function R.naive(x, f, o)
  local ux, uy, dx, dy, x0, x1, y0, y1, flip, gain = R.parse(o)
  local xv = x:detach():totable()
  local n, c, h, w = table.unpack(x:shape())
  -- the 2-d filter, gain included, indexed k[a][b] (row a, column b)
  local fv, k = f:detach():totable(), {}
  if f:dim() == 1 then
    for a = 1, #fv do
      k[a] = {}
      for b = 1, #fv do k[a][b] = fv[a] * fv[b] * gain end
    end
  else
    for a = 1, #fv do
      k[a] = {}
      for b = 1, #fv[a] do k[a][b] = fv[a][b] * gain end
    end
  end
  local fh, fw = #k, #k[1]
  -- the upsampled, padded image at (p, q), 0-based
  local hp, wp = h * uy + y0 + y1, w * ux + x0 + x1
  local function at(img, p, q)
    local i, j = p - y0, q - x0
    if i < 0 or j < 0 or i >= h * uy or j >= w * ux or i % uy ~= 0 or j % ux ~= 0 then return 0 end
    return img[i // uy + 1][j // ux + 1]
  end
  local oh, ow = (hp - fh) // dy + 1, (wp - fw) // dx + 1
  local out = {}
  for s = 1, n do
    out[s] = {}
    for ch = 1, c do
      local img, plane = xv[s][ch], {}
      for i = 0, oh - 1 do
        local row = {}
        for j = 0, ow - 1 do
          local acc = 0
          for a = 0, fh - 1 do
            for b = 0, fw - 1 do
              -- convolution: the filter reversed over the window
              local kv = flip and k[a + 1][b + 1] or k[fh - a][fw - b]
              acc = acc + at(img, i * dy + a, j * dx + b) * kv
            end
          end
          row[j + 1] = acc
        end
        plane[i + 1] = row
      end
      out[s][ch] = plane
    end
  end
  return out
end

return R
