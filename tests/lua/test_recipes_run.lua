-- gan.recipes: a recipe run from Lua in a fresh process without a shell; its
-- checkpoint made when absent. gan.pretrained: loading only.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

T.case("argv: the program, the recipe, --key=value in sorted order, then the extra words", function()
  local argv = gan.recipes.argv("dcgan", { nf = 8, classes = { 7, 9 }, eval = false }, { "--lr=1" })
  U.truthy(argv[1]:match("ganlua$"), argv[1])
  U.equal(table.concat(argv, " ", 2), "dcgan --classes=7,9 --eval=false --nf=8 --lr=1")
end)

T.case("run: output captured, exit status, odd characters passed as they are", function()
  local dir = U.tmpdir("recipes_run")
  local script = dir .. "/echo it's $HOME.lua"
  U.write(script, [[
local gan = require "gan"
local opt = gan.options { word = "x", fail = false }
print("word=" .. opt.word)
if opt.fail then error("asked to fail", 0) end
]])
  local ok, text, why = gan.recipes.run(script, { word = "a b;c'd" }, { capture = true })
  U.truthy(ok and not why, tostring(why))
  U.truthy(text:find("word=a b;c'd", 1, true), text)
  ok, text, why = gan.recipes.run(script, { fail = true }, { capture = true })
  U.truthy(not ok and text:find("asked to fail", 1, true) and why:find("exited with 1", 1, true), tostring(why))
end)

T.case("checkpoint: the file asked for, else the recipe's run into opts.out", function()
  local dir = U.tmpdir("recipes_checkpoint")
  local given = dir .. "/given.safetensors"
  assert(gan.io.save_safetensors(given, { x = gan.zeros(1) }, {}))
  U.equal(gan.recipes.checkpoint(given, "dcgan", { out = dir .. "/none" }), given, "an existing file is used")
  local img = U.image_folder("recipes_checkpoint_imgs", 4, 1, 16)
  local path = gan.recipes.checkpoint(dir .. "/missing.safetensors", "dcgan", {
    data = img, size = 16, nf = 4, batch = 2, iters = 1, threads = 1, eval = false, sample_every = 0, out = dir .. "/dcgan",
  })
  U.equal(path, dir .. "/dcgan/checkpoint.safetensors")
  local G, info = gan.pretrained.dcgan(path)
  U.equal(info.step, 1); U.equal(info.nf, 4); U.equal(G.training, false)
  U.raises(function() gan.recipes.checkpoint(dir .. "/missing2.safetensors", "dcgan",
    { nf = 0, out = dir .. "/bad" }) end, "exited with")
  -- more arguments, passed as they are
  path = gan.recipes.checkpoint(dir .. "/missing3.safetensors", "dcgan", {
    data = img, size = 16, batch = 2, iters = 1, threads = 1, eval = false, sample_every = 0, out = dir .. "/extra",
  }, { "--nf=2" })
  U.equal(select(2, gan.pretrained.dcgan(path)).nf, 2, "--nf=2 reached the run")
  path = gan.recipes.checkpoint(dir .. "/missing4.safetensors", "dcgan", {
    data = img, size = 16, batch = 2, iters = 1, threads = 1, eval = false, sample_every = 0, out = dir .. "/words",
  }, " --nf=3  --nz=5 ")
  local _, info = gan.pretrained.dcgan(path)
  U.equal(info.nf * 10 + info.nz, 35, "a string of words: --nf=3 and --nz=5")
end)

T.run()
