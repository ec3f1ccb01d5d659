-- The Lua reference: every module under lua/gan opens with an LDoc comment,
-- every function defined on a table has one, every op of one tensor in the
-- binding has an entry, and LDoc builds the reference without a warning.
package.path = "tests/lua/?.lua;" .. package.path
local T = require "gan.test"
local U = require "util"

local function lua_files()
  local files = {}
  local p = assert(io.popen("find lua/gan -name '*.lua' | sort"))
  for path in p:lines() do files[#files + 1] = path end
  p:close()
  return files
end

T.case("every module and every function on a table has an LDoc comment", function()
  local files = lua_files()
  U.truthy(#files >= 30, "the Lua library's files are found")
  local missing, seen = {}, 0
  for _, path in ipairs(files) do
    local lines = {}
    for l in io.lines(path) do lines[#lines + 1] = l end
    if not (lines[1] or ""):match("^%-%-%-") then missing[#missing + 1] = path .. ":1 (module comment)" end
    for i, l in ipairs(lines) do
      if l:match("^function [%w_]+[.:][%w_]+") or l:match("^[%w_]+%.[%w_]+ = function") then
        seen = seen + 1
        -- walk up over plain comment lines to the start of the comment block
        local j = i - 1
        while j > 0 and lines[j]:match("^%-%-") and not lines[j]:match("^%-%-%-") do j = j - 1 end
        if j < 1 or not lines[j]:match("^%-%-%-") then missing[#missing + 1] = ("%s:%d %s"):format(path, i, l) end
      end
    end
  end
  U.truthy(seen > 200, ("%d documented functions found"):format(seen))
  U.truthy(#missing == 0, "without an LDoc comment:\n" .. table.concat(missing, "\n"))
end)

T.case("every op of one tensor in lua/bind/ops.c has an LDoc entry", function()
  local src = U.read("lua/bind/ops.c")
  local list = src:match("#define GAN_UNARY_OPS%(X%)(.-)\n\n")
  U.truthy(list, "the GAN_UNARY_OPS list is found")
  local missing, n = {}, 0
  for name in list:gmatch("X%(([%w_]+)%)") do
    n = n + 1
    if not src:find("@function " .. name .. "%f[^%w_]") then missing[#missing + 1] = name end
  end
  U.truthy(n >= 17, ("%d ops found in the list"):format(n))
  U.truthy(#missing == 0, "without an LDoc entry: " .. table.concat(missing, ", "))
end)

T.case("ldoc builds the reference without a warning", function()
  if not os.execute("command -v ldoc >/dev/null 2>&1") then T.skip("ldoc is not installed (Debian: lua-ldoc)") end
  local out = U.tmpdir("ldoc")
  local p = assert(io.popen(("ldoc -c config.ld -d '%s' . 2>&1"):format(out)))
  local text = p:read("a")
  p:close()
  local bad = {}
  for line in text:gmatch("[^\n]+") do
    if not (line:match("^reading configuration") or line:match("^format:") or line:match("^output written")) then
      bad[#bad + 1] = line
    end
  end
  U.truthy(#bad == 0, "ldoc said:\n" .. table.concat(bad, "\n"))
  U.truthy(U.exists(out .. "/modules/gan.metrics.html"), "the gan.metrics page is written")
  U.truthy(U.exists(out .. "/modules/gan.io.html"), "the gan.io page (from lua/bind/io.c) is written")
  U.truthy(U.exists(out .. "/modules/gan.Tensor.html"), "the gan.Tensor page (the binding's ops) is written")
end)

T.run()
