-- A corpus of hostile files, generated here from valid ones (seeded
-- truncations, byte flips, overwritten runs, inserted and appended bytes,
-- and crafted headers), read through every reader: PNG and JPEG
-- (gan.io.load_image), IDX plain and gzip'd, safetensors, gan.checkpoint.load
-- and image folders; and FIFOs given to each. Every file must load or give a
-- clear error that names it: never a crash (ASan checks memory in CI), never
-- a raw Lua error, never a block.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local root = U.tmpdir("hostile")
os.execute("rm -rf '" .. root .. "' && mkdir -p '" .. root .. "'")

-- a small seeded generator (the corpus is the same on every run)
local seed = 12345
local function rand(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end

local function bytes_of(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- the variants of s: prefixes, flipped bytes, a run of 0xff, inserted and appended garbage
local function mutants(s, n)
  local out = {}
  local cuts = { 0, 1, 2, 7, 8, 9, 16, 33, #s // 4, #s // 2, #s - 3, #s - 2, #s - 1 }
  for _, k in ipairs(cuts) do
    if k >= 0 and k < #s then out[#out + 1] = s:sub(1, k) end
  end
  for _ = 1, n do
    local at, kind = rand(#s) + 1, rand(4)
    if kind == 0 then
      out[#out + 1] = s:sub(1, at - 1) .. string.char(s:byte(at) ~ (1 << rand(8))) .. s:sub(at + 1)
    elseif kind == 1 then
      local len = 1 + rand(16)
      out[#out + 1] = s:sub(1, at - 1) .. ("\255"):rep(len) .. s:sub(at + len)
    elseif kind == 2 then
      out[#out + 1] = s:sub(1, at - 1) .. ("\0\1\2garbage"):rep(1 + rand(3)) .. s:sub(at)
    else
      out[#out + 1] = s .. ("\0"):rep(1 + rand(64))
    end
  end
  return out
end

local count = 0
local function write(name, data)
  count = count + 1
  local path = ("%s/%04d_%s"):format(root, count, name)
  U.write(path, data)
  return path
end

-- fn(path) must return a value, or nil and a message, or raise an error;
-- a message (returned or raised) names the file and is no raw Lua error
local function try(path, fn)
  local ok, v, msg = pcall(fn, path)
  local err = not ok and tostring(v) or (v == nil and msg) or nil
  if err == nil then return "loaded" end
  U.truthy(type(err) == "string" and #err > 0, "an empty message for " .. path)
  U.truthy(not err:find("attempt to", 1, true) and not err:find("bad argument", 1, true), "a raw Lua error: " .. err)
  local base = path:match("[^/]+$")
  U.truthy(err:find(base, 1, true), ("the message does not name %s: %s"):format(base, err))
  return "refused"
end

local function corpus(name, seed_bytes, crafted, readers)
  local tally = { loaded = 0, refused = 0 }
  local variants = mutants(seed_bytes, 40)
  for _, c in ipairs(crafted or {}) do variants[#variants + 1] = c end
  for _, v in ipairs(variants) do
    local path = write(name, v)
    for _, fn in ipairs(readers) do
      local r = try(path, fn)
      tally[r] = tally[r] + 1
    end
  end
  U.truthy(tally.refused > #variants // 2, ("%s: only %d of %d refused"):format(name, tally.refused, #variants))
  io.write(("%s: %d files, %d reads refused, %d loaded\n"):format(name, #variants, tally.refused, tally.loaded))
  return tally
end

local function be32(n) return string.pack(">I4", n) end

T.case("PNG and JPEG: mutants and crafted headers through load_image", function()
  local good = root .. "/good.png"
  assert(gan.io.save_png(good, gan.rand(3, 12, 17)))
  local png = bytes_of(good)
  -- an IHDR claiming 2^31 - 1 x 2^31 - 1 pixels (its CRC then wrong as well)
  local huge = png:sub(1, 16) .. be32(0x7fffffff) .. be32(0x7fffffff) .. png:sub(25)
  local function load(p) return gan.io.load_image(p) end
  local function load1(p) return gan.io.load_image(p, 1) end
  corpus("x.png", png, { huge, "\137PNG\r\n\26\n" }, { load, load1 })
  for _, jpg in ipairs { "tests/data/rgb_40x30.jpg", "tests/data/gray_24x24.jpg" } do
    local s = bytes_of(jpg)
    -- the frame header's dims set to 60000 x 60000, and a scan cut short before a kept EOI
    local sof = s:find("\255\192", 1, true) or s:find("\255\194", 1, true)
    local big = s:sub(1, sof + 4) .. string.pack(">I2I2", 60000, 60000) .. s:sub(sof + 9)
    local sos = s:find("\255\218", 1, true)
    local cut = s:sub(1, sos + 40) .. "\255\217"
    corpus("x.jpg", s, { big, cut }, { load, load1 })
  end
end)

T.case("IDX, plain and gzip'd: mutants, lying dims, trailing bytes", function()
  local data = {}
  for i = 1, 2 * 5 * 6 do data[i] = string.char(i % 251) end
  local idx = "\0\0\8\3" .. be32(2) .. be32(5) .. be32(6) .. table.concat(data)
  local crafted = {
    "\0\0\8\3" .. be32(60000) .. be32(28) .. be32(28) .. table.concat(data), -- a believable lie
    "\0\0\14\2" .. be32(0xffffffff) .. be32(0xffffffff),                     -- past every cap
    "\0\0\8\0", "\0\0\7\1" .. be32(1) .. "x", "\0\0\8\9" .. ("\0"):rep(40),
  }
  local function load(p) return gan.io.load_idx(p) end
  local function load_int(p) return gan.io.load_idx(p, true) end
  corpus("x.idx", idx, crafted, { load, load_int })
  -- gzip'd: the same mutants of the compressed bytes, and garbage after the member
  local plain = root .. "/plain.idx"
  U.write(plain, idx)
  U.equal(os.execute("gzip -c '" .. plain .. "' > '" .. plain .. ".gz'"), true)
  local gz = bytes_of(plain .. ".gz")
  corpus("x.idx.gz", gz, { gz .. "trailing", gz .. "\0" }, { load, load_int })
  U.truthy(gan.io.load_idx(plain .. ".gz"), "the untouched .gz loads")
end)

T.case("safetensors and checkpoints: mutants and crafted headers", function()
  local lin = gan.nn.Linear(3, 4)
  local good = root .. "/good.safetensors"
  U.truthy(gan.checkpoint.save(good, { G = lin }, { step = 1 }))
  local st = bytes_of(good)
  local function header(json, data)
    local n = #json
    return string.pack("<I8", n) .. json .. (data or "")
  end
  local crafted = {
    header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', "abcd"),
    header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', "abcdefgh"),
    header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', "abcdefgh"),
    header('{"a":{"dtype":"F32","shape":[1048576],"data_offsets":[0,4194304]}}', "abcd"),
    header('{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}', "abcdefgh"),
    header('{"__metadata__":{"k":"\27[2J"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', "abcd"),
    string.pack("<I8", 2 ^ 40) .. "{}",
    st:sub(1, 8):gsub("^(.)", function(c) return string.char(c:byte() - 1) end) .. st:sub(9),
  }
  local function load(p) return gan.io.load_safetensors(p) end
  local function resume(p) return gan.checkpoint.load(p, { G = gan.nn.Linear(3, 4) }) end
  corpus("x.safetensors", st, crafted, { load, resume })
end)

T.case("image folders: the hostile images are named and skipped, the good one kept", function()
  local dir = root .. "/folder"
  os.execute("mkdir -p '" .. dir .. "'")
  assert(gan.io.save_png(dir .. "/good.png", gan.rand(3, 12, 12)))
  local png = bytes_of(dir .. "/good.png")
  local jpg = bytes_of("tests/data/rgb_40x30.jpg")
  local n = 0
  for _, v in ipairs(mutants(png, 10)) do n = n + 1; U.write(("%s/m%03d.png"):format(dir, n), v) end
  for _, v in ipairs(mutants(jpg, 10)) do n = n + 1; U.write(("%s/m%03d.jpg"):format(dir, n), v) end
  local d = gan.data.load(dir, { size = 8, channels = 3, batch = 2 })
  U.truthy(d:size() >= 1 and d:size() + #d.skipped == n + 1, ("%d kept, %d skipped of %d"):format(d:size(), #d.skipped, n + 1))
  for _, s in ipairs(d.skipped) do
    U.truthy(s[1]:find(dir, 1, true), "a skipped file is named")
    U.truthy(not tostring(s[2]):find("attempt to", 1, true), tostring(s[2]))
  end
end)

T.case("a FIFO given to any reader is refused at once, never read (which would block)", function()
  local fifo_dir = root .. "/fifos"
  os.execute("mkdir -p '" .. fifo_dir .. "'")
  local function fifo(name)
    local p = fifo_dir .. "/" .. name
    U.equal(os.execute("mkfifo '" .. p .. "'"), true)
    return p
  end
  local cases = {
    { fifo("a.png"), function(p) return gan.io.load_image(p) end },
    { fifo("b.idx"), function(p) return gan.io.load_idx(p) end },
    { fifo("c.safetensors"), function(p) return gan.io.load_safetensors(p) end },
    { fifo("d.safetensors"), function(p) return gan.checkpoint.load(p, { G = gan.nn.Linear(1, 1) }) end },
  }
  for _, c in ipairs(cases) do
    U.equal(try(c[1], c[2]), "refused")
    local _, v, msg = pcall(c[2], c[1])
    U.truthy(tostring(msg or v):find("not a regular file", 1, true), tostring(msg or v))
  end
  -- an image folder lists regular files only: the FIFO named a.png is left
  -- out (not opened, so nothing blocks) and the run goes on
  assert(gan.io.save_png(fifo_dir .. "/good.png", gan.rand(1, 8, 8)))
  local d = gan.data.load(fifo_dir, { size = 8, channels = 1, batch = 1 })
  U.equal(d:size(), 1)
end)

T.run()
