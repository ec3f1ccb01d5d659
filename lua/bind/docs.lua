-- Build step: the binding's LDoc comments, compiled into the binding.
--
--     lua docs.lua OUT.c SOURCE.c...
--
-- Writes OUT.c, which defines gan_doc_blocks: every `/** ... */` comment of
-- the sources that documents a function (@function) or a page (@module),
-- with the comment marks taken off each line. LDoc reads the same comments
-- for the reference; gan.help prints them. Runs on Lua 5.1 to 5.4.
local out_path = assert(arg[1], "usage: lua docs.lua OUT.c SOURCE.c...")

-- the text of a comment without "/***", "*/" and the " * " at each line's start
local function plain(body)
  local lines = {}
  for line in (body .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("^%s*%*+/?", ""):gsub("^ ", ""):gsub("%s+$", "")
    lines[#lines + 1] = line
  end
  while lines[1] == "" do table.remove(lines, 1) end
  while lines[#lines] == "" do table.remove(lines) end
  return table.concat(lines, "\n")
end

-- a C string literal, one source line per text line
local function literal(s)
  s = s:gsub("[\\\"?]", "\\%0")
  return '"' .. s:gsub("\n", '\\n"\n  "') .. '"'
end

local blocks = {}
for i = 2, #arg do
  local f = assert(io.open(arg[i], "rb"))
  local src = f:read("*a")
  f:close()
  for body in src:gmatch("/%*%*%*?(.-)%*/") do
    if body:find("@function") or body:find("@module") then blocks[#blocks + 1] = literal(plain(body)) end
  end
end

local out = assert(io.open(out_path, "wb"))
out:write("/* Generated from the binding's LDoc comments by lua/bind/docs.lua: do not edit. */\n",
  "#include <stddef.h>\n\n",
  "const char *const gan_doc_blocks[] = {\n  ", table.concat(blocks, ",\n  "), ",\n  NULL,\n};\n")
out:close()
