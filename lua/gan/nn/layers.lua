--- Small layers: Embedding, Dropout, Upsample, Pad2d, Flatten, Reshape, Lambda.
--
--     nn.Embedding(10, 50)                       -- 10 ids -> vectors of 50
--     nn.Dropout(0.3)
--     nn.Upsample { scale = 2 }                  -- or { size = {h, w}, mode = "bilinear" }
--     nn.Pad2d(3, "reflect")                     -- PyTorch's ReflectionPad2d(3)
--     nn.Flatten()                               -- (N, C, H, W) -> (N, C*H*W)
--     nn.Reshape(128, 7, 7)                      -- (N, 6272) -> (N, 128, 7, 7)
--     nn.Lambda(function(x) return x * 2 end)
-- @module gan.nn.layers

local gan = require "gan"
local Module = require "gan.nn.Module"
local check = require "gan.check"

local M = {}

local Embedding = Module:extend("Embedding")
Embedding.tensor_input = true
M.Embedding = Embedding

--- A table of vectors looked up by int64 ids (0-based). Weight (n, dim) from N(0, 1).
-- @param num_embeddings number of ids
-- @param embedding_dim vector size
function Embedding:init(num_embeddings, embedding_dim)
  self.num_embeddings = check.integer("gan.nn.Embedding", "num_embeddings", num_embeddings, 1)
  self.embedding_dim = check.integer("gan.nn.Embedding", "embedding_dim", embedding_dim, 1)
  self:param("weight", gan.randn(num_embeddings, embedding_dim))
end

--- int64 ids of any shape -> vectors (..., embedding_dim).
function Embedding:forward(idx)
  return gan.embedding(self.weight, idx)
end

--- Settings shown when printed.
function Embedding:extra_repr()
  return ("%d, %d"):format(self.num_embeddings, self.embedding_dim)
end

local Dropout = Module:extend("Dropout")
Dropout.tensor_input = true
M.Dropout = Dropout

--- Zeroes each value with probability p in training mode (and scales the
-- rest by 1/(1-p)); the identity in evaluation mode.
-- @param p (default 0.5)
function Dropout:init(p)
  self.p = check.number("gan.nn.Dropout", "p", p == nil and 0.5 or p, 0, 1)
end

--- x -> x with values dropped (training) or x itself (evaluation).
function Dropout:forward(x)
  if not self.training or self.p == 0 then return x end
  return x:dropout(self.p, true)
end

--- Settings shown when printed.
function Dropout:extra_repr() return ("p=%g"):format(self.p) end

local Upsample = Module:extend("Upsample")
Upsample.tensor_input = true
M.Upsample = Upsample

--- Resizes (N, C, H, W) by a scale factor or to a size.
-- A scale s gives the size floor(H s) x floor(W s) and, as PyTorch's
-- scale_factor, maps output pixel o to source pixel o / s (nearest:
-- floor(o / s); bilinear: (o + 0.5) / s - 0.5, unless align_corners). With
-- recompute_scale_factor=true the mapping is the size's, by H / H' (PyTorch's
-- flag of that name); for whole scales the two agree.
-- @param opts a scale number, or {scale=, size={h, w}, mode="nearest"|"bilinear", align_corners=false,
--   recompute_scale_factor=false}
function Upsample:init(opts)
  local who = "gan.nn.Upsample"
  if type(opts) == "number" then opts = { scale = opts } end
  opts = check.options(who, opts)
  self.scale = opts.scale or opts.scale_factor
  if type(self.scale) == "table" then
    self.scale = { check.number(who, "scale[1]", self.scale[1], 1e-9), check.number(who, "scale[2]", self.scale[2], 1e-9) }
  elseif self.scale ~= nil then
    check.number(who, "scale", self.scale, 1e-9)
  end
  self.size = opts.size and check.pair(who, "size", opts.size, 1)
  if not self.scale and not self.size then self.scale = 2 end
  self.mode = check.oneof(who, "mode", opts.mode or "nearest", { "nearest", "bilinear" })
  self.align_corners = opts.align_corners == true
  self.args = self.size and { size = self.size }
    or { scale = self.scale, recompute_scale_factor = opts.recompute_scale_factor == true }
end

--- x (N, C, H, W) -> (N, C, H', W').
function Upsample:forward(x)
  return x:upsample(self.args, self.mode, self.align_corners)
end

--- Settings shown when printed.
function Upsample:extra_repr()
  local s = self.scale
  local what = self.size and ("size=(%d, %d)"):format(self.size[1], self.size[2])
    or (type(s) == "table" and ("scale=(%g, %g)"):format(s[1], s[2]) or ("scale=%g"):format(s))
  return ("%s, mode=%s"):format(what, self.mode)
end

-- A pooling layer class: kernel k, stride (default k), padding (default 0).
local function pooling(name, op)
  local P = Module:extend(name)
  P.tensor_input = true
  function P:init(k, stride, padding)
    local who = "gan.nn." .. name
    check.pair(who, "kernel", k, 1)
    check.pair(who, "stride", stride, 1, k)
    check.pair(who, "padding", padding, 0, 0)
    self.k, self.stride, self.padding = k, stride or k, padding or 0
  end
  function P:forward(x) return x[op](x, self.k, self.stride, self.padding) end
  function P:extra_repr() return ("kernel=%s, stride=%s, padding=%s"):format(self.k, self.stride, self.padding) end
  return P
end

--- MaxPool2d(k [, stride=k [, padding=0]]): the maximum of each k x k window.
-- @function MaxPool2d
M.MaxPool2d = pooling("MaxPool2d", "max_pool2d")

--- AvgPool2d(k [, stride=k [, padding=0]]): the mean of each k x k window.
-- @function AvgPool2d
M.AvgPool2d = pooling("AvgPool2d", "avg_pool2d")

local Pad2d = Module:extend("Pad2d")
Pad2d.tensor_input = true
M.Pad2d = Pad2d

--- Pads the last two dims: Pad2d(3, "reflect") is PyTorch's ReflectionPad2d(3).
-- @param padding a number (all four sides) or {left, right, top, bottom}
-- @param mode "reflect" (default), "replicate" or "zeros"
function Pad2d:init(padding, mode)
  if type(padding) == "number" then padding = { padding, padding, padding, padding } end
  self.padding, self.mode = padding, mode or "reflect"
end

--- x (N, C, H, W) -> (N, C, H + top + bottom, W + left + right).
function Pad2d:forward(x)
  return x:pad(self.padding, self.mode)
end

--- Settings shown when printed.
function Pad2d:extra_repr()
  return ("(%s), mode=%s"):format(table.concat(self.padding, ", "), self.mode)
end

local Flatten = Module:extend("Flatten")
Flatten.tensor_input = true
M.Flatten = Flatten

--- Flattens dims start..stop into one.
-- @param start first dim (default 2, keeping the batch)
-- @param stop last dim (default -1)
function Flatten:init(start, stop)
  self.start, self.stop = start or 2, stop or -1
end

--- x -> x with dims start..stop flattened.
function Flatten:forward(x)
  return x:flatten(self.start, self.stop)
end

--- Settings shown when printed.
function Flatten:extra_repr() return ("start=%d, stop=%d"):format(self.start, self.stop) end

local Reshape = Module:extend("Reshape")
Reshape.tensor_input = true
M.Reshape = Reshape

--- Reshapes every sample, keeping the batch dim: Reshape(C, H, W) maps
-- (N, ...) to (N, C, H, W). One size may be -1.
-- @param ... sizes, or one table of sizes
function Reshape:init(...)
  local s = ...
  if type(s) ~= "table" then s = { ... } end
  self.shape = s
end

--- x (N, ...) -> (N, shape...).
function Reshape:forward(x)
  local s = { x:size(1) }
  for i, v in ipairs(self.shape) do s[i + 1] = v end
  return x:reshape(s)
end

--- Settings shown when printed.
function Reshape:extra_repr() return table.concat(self.shape, ", ") end

local Lambda = Module:extend("Lambda")
M.Lambda = Lambda

--- Wraps a function as a module (no parameters).
-- @param fn function(x, ...) -> y
-- @param name shown when printed (optional)
function Lambda:init(fn, name)
  if type(fn) ~= "function" and not (type(fn) == "table" and (getmetatable(fn) or {}).__call) then
    check.fail("gan.nn.Lambda", "fn", "a function", fn)
  end
  self.fn, self.label = fn, name
end

--- Calls the wrapped function.
function Lambda:forward(...)
  return self.fn(...)
end

--- Settings shown when printed.
function Lambda:extra_repr() return self.label or "" end

return M
