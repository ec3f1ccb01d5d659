--- gan.help: the reference, in the REPL.
--
--     help(gan.cat)           -- the entry of a function: signature, text, arguments, usage
--     help(gan.nn.Linear)     -- a class: its constructor's entry
--     help(gan.nn)            -- a module: its summary and what it holds
--     help "Tensor:sum"       -- by name ("gan.io.save_png", "sum", "nn.Conv2d")
--     help(x)                 -- a tensor or a layer: its kind and its methods
--     help()                  -- how to ask, and the pages
--
-- The REPL (and `ganlua -e`) has `help` as a global; elsewhere
-- `require("gan.help")(gan.cat)`. The entries are the LDoc comments of the
-- reference itself: those of the C binding (compiled into it as
-- gan.core._docs) and those above each Lua function (read from its file).
-- @module gan.help

local core = require "gan.core"

local M = {}

-- --- parsing: a comment's text (marks taken off) into an entry -----------

-- LDoc's typed tags: @int x is @tparam int x
local TYPED = { int = "int", number = "number", string = "string", bool = "boolean", table = "table",
  func = "function", tab = "table" }

-- {text = lines, params = {{name, type, opt, desc}}, returns = {...}, usage = lines, name=, module=}
local function parse(text)
  local e = { text = {}, params = {}, returns = {}, usage = {} }
  local last -- the list a continuation line goes to
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local tag, rest = line:match("^%s*@([%w_]+)(.*)$")
    if tag then
      local opt = rest:match("^(%b[])")
      if opt then rest = rest:sub(#opt + 1) end
      rest = rest:gsub("^%s+", "")
      if tag == "function" or tag == "module" or tag == "section" then
        e[tag == "function" and "name" or tag] = rest:match("^(%S+)")
        last = nil
      elseif tag == "param" or tag == "tparam" or TYPED[tag] then
        local ty = TYPED[tag]
        if tag == "tparam" then
          local t, r = rest:match("^(%S+)%s*(.*)$")
          ty, rest = t, r or ""
        end
        local name, desc = rest:match("^(%S+)%s*(.*)$")
        local p = { name = name or "?", type = ty, opt = opt, desc = { desc } }
        e.params[#e.params + 1] = p
        last = p.desc
      elseif tag == "return" or tag == "treturn" then
        if tag == "treturn" then
          local ty, desc = rest:match("^(%S+)%s*(.*)$")
          rest = (ty or "") .. (desc and desc ~= "" and " " .. desc or "")
        end
        local r = { rest }
        e.returns[#e.returns + 1] = r
        last = r
      elseif tag == "usage" then
        if rest ~= "" then e.usage[#e.usage + 1] = rest end
        last = e.usage
      else
        last = nil -- @see, @field and others: not shown
      end
    elseif last then
      last[#last + 1] = last == e.usage and line or line:gsub("^%s+", "")
    else
      e.text[#e.text + 1] = line
    end
  end
  while e.text[#e.text] == "" do table.remove(e.text) end
  return e
end

-- --- the binding's entries, by name relative to gan ("cat", "io.save_png") ------

local bound, pages -- name -> entry; page name ("gan.io") -> its text
local function binding_entries()
  if bound then return bound end
  bound, pages = {}, {}
  local page
  for _, text in ipairs(core._docs or {}) do
    local e = parse(text)
    if e.module then
      page = e.module
      pages[page] = text
    elseif e.name then
      local key = e.name
      -- a page named after a table of gan.core (gan.io) holds that table's functions
      local sub = page and page:match("^gan%.([%w_]+)$")
      if not key:find("%.") and sub and sub ~= "Tensor" and type(core[sub]) == "table" then key = sub .. "." .. key end
      e.page = page
      bound[key] = e
    end
  end
  return bound
end

--- Every name documented in the binding's reference, relative to gan:
-- "cat", "size", "kernels.info", "io.save_png", ...
-- @return a set: name -> true
function M.documented()
  local set = {}
  for k in pairs(binding_entries()) do set[k] = true end
  return set
end

--- Every function the binding registers, by the same names: the fields of
-- gan.core, the tensor methods, and the functions of its tables (gan.io,
-- gan.stats, gan.kernels, gan.fused).
-- @return a set: name -> true
function M.registered()
  local set = {}
  for k, v in pairs(core) do
    if type(v) == "function" then set[k] = true
    elseif type(v) == "table" and k ~= "_docs" then
      for k2, v2 in pairs(v) do
        if type(v2) == "function" then set[k == "Tensor" and k2 or k .. "." .. k2] = true end
      end
    end
  end
  return set
end

-- --- finding what a value is ---------------------------------------------------

-- name of a C function of the binding, relative to gan
local function binding_name(f)
  for k, v in pairs(core) do
    if v == f then return k end
    if type(v) == "table" and k ~= "_docs" then
      for k2, v2 in pairs(v) do
        if v2 == f then return k == "Tensor" and k2 or k .. "." .. k2 end
      end
    end
  end
end

-- "gan.nn.Linear"-style name of a value found in a loaded gan module
local function lua_name(v)
  local best
  for modname, mod in pairs(package.loaded) do
    if (modname == "gan" or modname:match("^gan%.")) and type(mod) == "table" then
      if mod == v then return modname, "module" end
      for k, x in pairs(mod) do
        if x == v and type(k) == "string" then
          local name = modname .. "." .. k
          if not best or #name < #best then best = name end
        end
      end
    end
  end
  return best
end

local function read_lines(path)
  local f = path and io.open(path, "r")
  if not f then return nil end
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  return lines
end

-- the LDoc comment above line n of a file, marks taken off
local function comment_above(lines, n)
  local j, block = n - 1, {}
  while j >= 1 and lines[j]:match("^%s*%-%-") do
    table.insert(block, 1, (lines[j]:gsub("^%s*%-%-%-?%s?", "")))
    if lines[j]:match("^%s*%-%-%-") then return table.concat(block, "\n") end
    j = j - 1
  end
end

-- the leading comment of a module's file, or of a page of the binding
local function module_comment(modname)
  binding_entries()
  if pages[modname] then return pages[modname] end
  local lines = read_lines(package.searchpath(modname, package.path) or "")
  if not lines then return nil end
  local block = {}
  for _, l in ipairs(lines) do
    if not l:match("^%-%-") then break end
    block[#block + 1] = l:gsub("^%-%-%-?%s?", "")
  end
  return table.concat(block, "\n")
end

-- --- rendering ------------------------------------------------------------------

local function signature(name, params, method)
  local parts, first = {}, 1
  if method then first = 2 end
  for i = first, #params do
    local p = params[i]
    parts[#parts + 1] = p.opt and "[" .. p.name .. "]" or p.name
  end
  local head = method and "x:" .. name or "gan." .. name
  return head .. "(" .. table.concat(parts, ", ") .. ")"
end

-- head then the words of text, lines of at most 80 columns, the next ones indented
local function wrap(head, text, indent)
  local lines, line = {}, head
  for word in text:gmatch("%S+") do
    if #line + 1 + #word > 80 and #line > #indent then
      lines[#lines + 1] = line
      line = indent .. word
    else
      line = line .. ((line == head and head:sub(-1) == " ") and "" or " ") .. word
    end
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n")
end

local function render(title, e)
  local out = { title }
  for _, l in ipairs(e.text) do out[#out + 1] = "  " .. l end
  if #e.params > 0 then
    out[#out + 1] = ""
    local w = 0
    for _, p in ipairs(e.params) do w = math.max(w, #p.name) end
    for _, p in ipairs(e.params) do
      local what = {}
      if p.type then what[#what + 1] = p.type end
      if p.opt then
        local def = p.opt:match("=%s*(.-)%]$")
        what[#what + 1] = def and ("optional, default " .. def) or "optional"
      end
      local desc = table.concat(p.desc, " "):gsub("%s+$", "")
      local kind = #what > 0 and "(" .. table.concat(what, ", ") .. ")" or ""
      local head = ("  %-" .. w .. "s  %s"):format(p.name, kind)
      out[#out + 1] = wrap(head, desc, (" "):rep(w + 4))
    end
  end
  for _, r in ipairs(e.returns) do
    out[#out + 1] = wrap("  returns", table.concat(r, " "), "    ")
  end
  if #e.usage > 0 then
    out[#out + 1] = "  usage:"
    for _, l in ipairs(e.usage) do out[#out + 1] = "    " .. l end
  end
  return table.concat(out, "\n")
end

local function binding_entry(key)
  local e = binding_entries()[key]
  if not e then return nil end
  local is_fn, is_method = core[key] ~= nil or key:find("%.") ~= nil, core.Tensor[key] ~= nil
  local title
  if key:find("%.") then
    local parts = {}
    for i, p in ipairs(e.params) do parts[i] = p.opt and "[" .. p.name .. "]" or p.name end
    title = "gan." .. key .. "(" .. table.concat(parts, ", ") .. ")"
  elseif is_fn and is_method then
    title = signature(key, e.params) .. "  or  " .. signature(key, e.params, true)
  elseif is_method then
    title = signature(key, e.params, true)
  else
    title = signature(key, e.params)
  end
  return render(title .. "    [" .. (e.page or "gan") .. "]", e)
end

local function lua_entry(name, f, constructor)
  local info = debug.getinfo(f, "Su")
  local params = {}
  for i = 1, info.nparams do params[#params + 1] = debug.getlocal(f, i) end
  if constructor and params[1] == "self" then table.remove(params, 1) end
  if info.isvararg then params[#params + 1] = "..." end
  local lines = info.source:sub(1, 1) == "@" and read_lines(info.source:sub(2))
  local text = lines and comment_above(lines, info.linedefined)
  local e = parse(text or "(no reference entry)")
  local file = info.short_src:match("(gan/.*)$") or info.short_src
  return render(("%s(%s)    [%s:%d]"):format(name, table.concat(params, ", "), file, info.linedefined), e)
end

local function module_entry(modname, mod)
  local text = module_comment(modname) or ""
  local e = parse(text)
  local names = {}
  for k, v in pairs(mod) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" and (type(v) == "function" or type(v) == "table") then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  local s = render(modname, e)
  if type(rawget(mod, "init")) == "function" then -- a class: how to make one
    s = s .. "\n\n" .. lua_entry(modname, mod.init, true)
  elseif #names > 0 then
    s = s .. "\n\n" .. wrap("  holds:", table.concat(names, ", "), "    ")
  end
  return s
end

local function methods_of(t)
  local names = {}
  for k, v in pairs(t) do if type(v) == "function" and type(k) == "string" then names[#names + 1] = k end end
  table.sort(names)
  return table.concat(names, ", ")
end

local INTRO = [[
help(x) prints the reference entry of a function, a class, a module or a value:
  help(gan.cat)  help(gan.nn.Linear)  help(gan.F)  help "Tensor:sum"  help(x)
Pages: gan.tensors (making and reading tensors), gan.Tensor (the ops), gan.autograd
(gradients, random state, threads), gan.io, gan.stats, and the Lua modules gan.nn,
gan.F, gan.optim, gan.data, gan.train, gan.options, gan.metrics, gan.report, ...
The whole reference as HTML: `ldoc .` in the source tree writes doc/index.html.]]

--- The entry of x as text.
-- @param x a function, a module or class table, a tensor, a layer, or a name
--   ("cat", "gan.io.save_png", "Tensor:sum", "nn.Linear"); nil for the introduction
-- @return text, or nil and a message
function M.entry(x)
  if x == nil then return INTRO end
  if type(x) == "string" then
    local name = x:gsub("^gan%.", "")
    local method = name:match("^[%w_]*:([%w_]+)$")
    if method then name = method end
    if binding_entries()[name] then return binding_entry(name) end
    if name == "gan" then return M.entry(require "gan") end
    binding_entries()
    if pages["gan." .. name] then -- a page of the binding: gan.tensors, gan.autograd
      local held = {}
      for k, e in pairs(bound) do if e.page == "gan." .. name then held[#held + 1] = k end end
      table.sort(held)
      return render("gan." .. name, parse(pages["gan." .. name])) .. "\n\n" .. wrap("  holds:", table.concat(held, ", "), "    ")
    end
    -- a path from gan: gan.nn.Linear, F.bce_logits
    local v = require "gan"
    for part in name:gmatch("[^.]+") do
      local ok, got = pcall(function() return v[part] end)
      if not ok or got == nil then return nil, ("help: no entry for '%s' (help() lists the pages)"):format(x) end
      v = got
    end
    return M.entry(v)
  end
  if type(x) == "function" then
    local key = binding_name(x)
    if key then
      return binding_entry(key) or ("gan.%s: a function of the binding with no reference entry"):format(key)
    end
    local name = lua_name(x) or "function"
    if debug.getinfo(x, "S").what == "C" then return name .. ": a C function with no reference entry" end
    return lua_entry(name, x)
  end
  if core.is_tensor(x) then
    return ("a tensor of shape {%s}, %s; help \"Tensor:name\" for one of its methods:\n%s"):format(
      table.concat(x:size(), ", "), x:dtype(), wrap("  ", methods_of(core.Tensor), "  "))
  end
  if type(x) == "table" then
    local name, kind = lua_name(x)
    if kind == "module" then return module_entry(name, x) end
    -- a class (gan.nn.Linear) or an instance: the class's constructor
    local init = rawget(x, "init") or (getmetatable(x) and type(getmetatable(x).__index) == "table"
      and getmetatable(x).__index.init)
    if type(init) == "function" then
      local class = rawget(x, "init") and x or getmetatable(x).__index
      local cname, ckind = lua_name(class)
      if ckind == "module" then return module_entry(cname, class) end
      return lua_entry(cname or name or "class", init, true)
    end
    if name then return module_entry(name, x) end
    return nil, "help: a table that is neither a module nor a class of gan"
  end
  return nil, ("help: no entry for a %s value"):format(type(x))
end

--- Prints the entry of x (see M.entry); `help(x)` is the same call.
-- @param x as for M.entry
function M.print(x)
  local text, err = M.entry(x)
  print(text or err)
end

return setmetatable(M, { __call = function(_, x) M.print(x) end })
