-- gan.io's folders, paths and programs: mkdir, isdir, exists, files, cwd,
-- abspath, executable and run, with their conventions (nil and a message
-- for failures from outside, a raise for misuse), on names a shell would
-- have mangled.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local io_ = gan.io

-- the failure convention: nil, then a message holding each of frags
-- (the call under test comes last, so that all its results arrive)
local function fails(what, frags, v, msg)
  U.equal(v, nil, what .. " returns nil")
  U.truthy(type(msg) == "string", what .. " gives a message")
  for _, frag in ipairs(frags) do
    U.truthy(msg:find(frag, 1, true), ("%s: message '%s' lacks '%s'"):format(what, msg, frag))
  end
end

local function touch(path) U.write(path, "x") end

local function ln(target, path) assert(io_.run({ "ln", "-s", target, path })) end

-- a folder below this file's scratch space (emptied once, here), made
-- without a shell
local base = U.tmpdir("io_files")
local function scratch(name)
  local dir = base .. "/" .. name
  assert(io_.mkdir(dir))
  return dir
end

T.case("mkdir makes parents, takes a folder that is there, and fails through a file", function()
  local dir = scratch("mkdir")
  local deep = dir .. "/a b/it's/$x/c"
  U.equal(io_.mkdir(deep), true)
  U.truthy(io_.isdir(deep), "every part is made, quotes and all")
  U.equal(io_.mkdir(deep), true, "again")
  U.equal(io_.mkdir(dir .. "//x///y/"), true)
  U.truthy(io_.isdir(dir .. "/x/y"))
  touch(dir .. "/file")
  fails("mkdir through a file", { dir .. "/file/sub", "file exists and is not a folder" },
    io_.mkdir(dir .. "/file/sub"))
  fails("mkdir of a file", { "exists and is not a folder" }, io_.mkdir(dir .. "/file"))
  U.raises(function() io_.mkdir("") end, "the path is empty")
  U.raises(function() io_.mkdir() end, "bad argument #1")
  U.raises(function() io_.mkdir({}) end, "bad argument #1")
  U.raises(function() io_.mkdir(dir .. "/a\0b") end, "zero byte")
end)

T.case("isdir and exists ask stat: links followed, dangling ones absent", function()
  local dir = scratch("isdir")
  touch(dir .. "/f")
  ln("f", dir .. "/to_f")
  ln(".", dir .. "/to_dir")
  ln("missing", dir .. "/dangling")
  U.equal(io_.isdir(dir), true)
  U.equal(io_.exists(dir), true)
  U.equal(io_.isdir(dir .. "/f"), false)
  U.equal(io_.exists(dir .. "/f"), true)
  U.equal(io_.exists(dir .. "/to_f"), true)
  U.equal(io_.isdir(dir .. "/to_dir"), true)
  U.equal(io_.exists(dir .. "/dangling"), false)
  U.equal(io_.exists(dir .. "/missing"), false)
  U.equal(io_.exists(dir .. "/f/below"), false)
  U.equal(io_.isdir(""), false)
  U.equal(io_.exists(""), false)
  U.equal(io_.exists(dir .. "/f\0junk"), false, "a zero byte never names a file")
  U.raises(function() io_.isdir() end, "bad argument #1")
  U.raises(function() io_.exists({}) end, "bad argument #1")
end)

-- a dataset folder as users bring them: macOS leftovers, a .git folder,
-- links, a loop, names with spaces and quotes, upper-case extensions
local function dataset(name)
  local dir = scratch(name)
  local outside = scratch(name .. "_outside")
  touch(outside .. "/real.png")
  assert(io_.mkdir(outside .. "/more"))
  touch(outside .. "/more/w.jpg")
  for _, f in ipairs({ "b.png", "A.PNG", "notes.txt", "noext", "it's a cat.jpeg", "$HOME.png", ".DS_Store",
    "._b.png" }) do
    touch(dir .. "/" .. f)
  end
  assert(io_.mkdir(dir .. "/.git/objects"))
  touch(dir .. "/.git/objects/x.png")
  assert(io_.mkdir(dir .. "/sub/deep"))
  touch(dir .. "/sub.png")
  touch(dir .. "/sub/z.jpg")
  touch(dir .. "/sub/deep/y.png")
  assert(io_.mkdir(dir .. "/empty"))
  ln(outside .. "/real.png", dir .. "/link.png")
  ln(outside .. "/more", dir .. "/linked")
  ln("missing.png", dir .. "/dangling.png")
  ln("..", dir .. "/sub/up")
  return dir
end

local function with_dir(dir, names)
  local t = {}
  for i, n in ipairs(names) do t[i] = dir .. "/" .. n end
  return t
end

T.case("files lists regular files, sorted by byte order, hidden ones left out", function()
  local dir = dataset("files")
  T.eq(assert(io_.files(dir)), with_dir(dir, { "$HOME.png", "A.PNG", "b.png", "it's a cat.jpeg", "link.png",
    "noext", "notes.txt", "sub.png" }), "one level")
  T.eq(assert(io_.files(dir .. "/", { recursive = false })), assert(io_.files(dir)), "a trailing slash")
  T.eq(assert(io_.files(dir, { recursive = true })), with_dir(dir, { "$HOME.png", "A.PNG", "b.png",
    "it's a cat.jpeg", "link.png", "linked/w.jpg", "noext", "notes.txt", "sub.png", "sub/deep/y.png", "sub/z.jpg" }),
    "every level; the link back up (sub/up) is not a loop")
  local images = { "$HOME.png", "A.PNG", "b.png", "it's a cat.jpeg", "link.png", "linked/w.jpg", "sub.png",
    "sub/deep/y.png", "sub/z.jpg" }
  T.eq(assert(io_.files(dir, { recursive = true, ext = { "png", "JPG", "jpeg" } })), with_dir(dir, images),
    "extensions ignore case")
  T.eq(assert(io_.files(dir, { recursive = true, ext = { ".png", ".jpg", ".jpeg" } })), with_dir(dir, images),
    "a leading dot is allowed")
  T.eq(assert(io_.files(dir, { ext = "txt" })), { dir .. "/notes.txt" }, "one extension as a string")
  T.eq(assert(io_.files(dir, { ext = {} })), {}, "no extension takes nothing")
  T.eq(assert(io_.files(dir .. "/empty", { recursive = true })), {}, "an empty folder")
  T.eq(assert(io_.files(dir .. "/.git", { recursive = true })), { dir .. "/.git/objects/x.png" },
    "the folder asked for may itself be hidden")
end)

T.case("files: failures return nil and a message, misuse raises", function()
  local dir = scratch("files_bad")
  touch(dir .. "/plain")
  fails("a missing folder", { dir .. "/missing", "cannot open" }, io_.files(dir .. "/missing"))
  fails("a file", { dir .. "/plain", "not a folder" }, io_.files(dir .. "/plain"))
  U.raises(function() io_.files("") end, "the path is empty")
  U.raises(function() io_.files(dir, { recurse = true }) end, 'unknown option "recurse"')
  U.raises(function() io_.files(dir, { recursive = "yes" }) end, "recursive must be a boolean")
  U.raises(function() io_.files(dir, { ext = { "png", 3 } }) end, "ext[2] is a number")
  U.raises(function() io_.files(dir, { ext = { "tar.gz" } }) end, "is not an extension")
  U.raises(function() io_.files(dir, { ext = true }) end, "ext must be a string or a list")
  U.raises(function() io_.files(dir, "png") end, "bad argument #2")
end)

T.case("files of a big folder: all of them, in order", function()
  local dir = scratch("files_many")
  for i = 1, 500 do touch(("%s/%d.png"):format(dir, (i * 7919) % 1000)) end
  local list = assert(io_.files(dir, { ext = "png" }))
  U.equal(#list, 500)
  for i = 2, #list do U.truthy(list[i - 1] < list[i], "sorted at " .. i) end
end)

T.case("cwd and abspath", function()
  local cwd = assert(io_.cwd())
  local ok, _, pwd = io_.run({ "pwd", "-P" }, { capture = true })
  U.truthy(ok)
  U.equal(cwd, (pwd:gsub("\n$", "")), "the same as pwd -P")
  U.equal(cwd:sub(1, 1), "/")
  U.equal(io_.abspath("runs/./x//y/"), cwd .. "/runs/x/y")
  U.equal(io_.abspath("."), cwd)
  U.equal(io_.abspath("../up"), cwd .. "/../up", ".. stays")
  U.equal(io_.abspath("/a//b/./c/"), "/a/b/c")
  U.equal(io_.abspath("/"), "/")
  U.raises(function() io_.abspath("") end, "the path is empty")
  U.raises(function() io_.abspath() end, "bad argument #1")
end)

T.case("executable is this ganlua, and starts it again", function()
  local exe = assert(io_.executable())
  U.equal(exe:sub(1, 1), "/")
  U.truthy(exe:match("/ganlua$"), exe)
  U.truthy(io_.exists(exe))
  local ok, code, out = io_.run({ exe, "-e", "io.write('hello from ', 'the child')" }, { capture = true })
  U.truthy(ok, out)
  U.equal(code, 0)
  U.equal(out, "hello from the child")
end)

T.case("run: exit codes, signals, and what cannot start", function()
  local ok, code, extra = io_.run({ "true" })
  U.equal(ok, true)
  U.equal(code, 0)
  U.equal(extra, nil, "no output without capture")
  U.equal(select("#", io_.run({ "true" })), 2)
  ok, code = io_.run({ "false" })
  U.equal(ok, false)
  U.equal(code, 1)
  ok, code = io_.run({ "sh", "-c", "exit 7" })
  U.equal(ok, false)
  U.equal(code, 7)
  ok, code = io_.run({ "sh", "-c", "kill -TERM $$" })
  U.equal(ok, false)
  U.truthy(type(code) == "string" and code:match("^signal 15 %(.+%)$"), tostring(code))
  fails("a missing program", { "ganlua-no-such-program: no such program on PATH" },
    io_.run({ "ganlua-no-such-program", "x" }))
  fails("a missing path", { "/no/such/program", "cannot start it" },
    io_.run({ "/no/such/program" }, { capture = true }))
end)

T.case("run passes arguments as given and captures merged output of any size", function()
  local ok, code, out = io_.run({ "printf", "%s|", "a b", "it's", "$HOME", "*", "", 3, 2.5 }, { capture = true })
  U.truthy(ok, out)
  U.equal(out, "a b|it's|$HOME|*||3|2.5|")
  ok, code, out = io_.run({ "sh", "-c", "echo out; echo err >&2; exit 3" }, { capture = true })
  U.equal(ok, false)
  U.equal(code, 3)
  U.equal(out, "out\nerr\n", "stderr merged, in order, output kept on failure")
  local n = 3 * 1024 * 1024 + 17
  local script = ("io.write(string.rep('x', %d)); io.stdout:flush(); io.stderr:write('end')"):format(n)
  ok, code, out = io_.run({ io_.executable(), "-e", script }, { capture = true })
  U.truthy(ok, code)
  U.equal(#out, n + 3, "3 MiB captured fully")
  U.equal(out:sub(-5), "xxend")
  -- without capture, what the caller printed first comes out first
  ok, code, out = io_.run({ io_.executable(), "-e",
    "io.write('first '); local gan = require 'gan'; gan.io.run({ 'echo', 'second' }); io.write('third')" },
    { capture = true })
  U.truthy(ok, out)
  U.equal(out, "first second\nthird")
end)

T.case("run: misuse raises", function()
  U.raises(function() io_.run("true") end, "bad argument #1")
  U.raises(function() io_.run({}) end, "argv is empty")
  U.raises(function() io_.run({ "" }) end, "the program, is empty")
  U.raises(function() io_.run({ "echo", {} }) end, "argv[2] is a table")
  U.raises(function() io_.run({ "echo", "a\0b" }) end, "argv[2] holds a zero byte")
  U.raises(function() io_.run({ "true" }, { capture = "yes" }) end, "capture must be a boolean")
  U.raises(function() io_.run({ "true" }, { capturee = true }) end, 'unknown option "capturee"')
end)

T.run()
