-- The Lua reference: every module under lua/gan opens with an LDoc comment,
-- every function defined on a table has one, every function the binding
-- registers has an entry (and help() finds it), and LDoc builds the
-- reference without a warning, with a page entry for each of them.
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

T.case("every function the binding registers has a reference entry, and every entry a function", function()
  local help = require "gan.help"
  local registered, documented = help.registered(), help.documented()
  local n, missing, stray = 0, {}, {}
  for name in pairs(registered) do
    n = n + 1
    if not documented[name] then missing[#missing + 1] = name end
  end
  for name in pairs(documented) do
    if not registered[name] then stray[#stray + 1] = name end
  end
  table.sort(missing)
  table.sort(stray)
  U.truthy(n >= 150, ("%d registered functions found"):format(n))
  U.truthy(registered["cat"] and registered["size"] and registered["io.save_png"] and registered["stats.kid"],
    "gan.* functions, tensor methods and the functions of gan.io and gan.stats are all counted")
  U.truthy(#missing == 0, "registered without an entry: " .. table.concat(missing, ", "))
  U.truthy(#stray == 0, "an entry for no registered function: " .. table.concat(stray, ", "))
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
  -- the pages LDoc wrote name every registered function
  local anchors = {}
  for _, page in ipairs { "gan.tensors", "gan.Tensor", "gan.autograd", "gan.io", "gan.stats", "gan.mpi" } do
    local html = U.read(("%s/modules/%s.html"):format(out, page))
    local sub = page:match("^gan%.(%l+)$")
    for name in html:gmatch('<a name = "([%w_.]+)"') do
      anchors[(sub == "io" or sub == "stats") and sub .. "." .. name or name] = true
    end
  end
  local absent = {}
  for name in pairs(require("gan.help").registered()) do
    if not anchors[name] then absent[#absent + 1] = name end
  end
  table.sort(absent)
  U.truthy(#absent == 0, "not in the LDoc pages: " .. table.concat(absent, ", "))
  local recipes = U.read(out .. "/modules/gan.recipes.html")
  U.truthy(recipes:find("@paper", 1, true) and recipes:find("@ja", 1, true), "the recipe header contract is on gan.recipes")
end)

T.run()
