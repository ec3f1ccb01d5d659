-- Using a trained run: `ganlua sample` on a short DCGAN run (a grid, the
-- same seed giving the same grid, truncated noise, latent walks) and on a
-- short CycleGAN run, `ganlua translate` on a folder (CycleGAN by direction,
-- StarGAN by target domain), and partial loading with gan.checkpoint.load
-- (strict = false, from).
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local exe = gan.io.executable()

local function ganlua(args)
  local argv = { exe }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local ok, _, text = gan.io.run(argv, { capture = true })
  return ok, text
end

local function has(text, s) U.truthy(text:find(s, 1, true), ("no '%s' in:\n%s"):format(s, text)) end

T.case("ganlua sample on a short DCGAN run: a grid, seeded, truncated, walks; the run folder otherwise untouched", function()
  local images = U.image_folder("sample_images", 8, 1, 16)
  local out = U.tmpdir("sample_dcgan") .. "/run"
  local ok, text = ganlua { "dcgan", "--data=" .. images, "--size=16", "--channels=1", "--nf=4", "--nz=8", "--batch=4",
    "--iters=2", "--eval=false", "--threads=1", "--out=" .. out }
  U.truthy(ok, text)
  local log = U.read(out .. "/log.csv")
  ok, text = ganlua { "sample", out, "--n=9", "--seed=3" }
  U.truthy(ok, text)
  has(text, out .. "/sample.png: 9 samples of " .. out .. " at step 2")
  -- a 3x3 grid of 16x16 gray images
  U.shape(gan.image.load(out .. "/sample.png"), U.grid_shape(1, 3, 3, 16), "grid")
  local first = U.read(out .. "/sample.png")
  ok, text = ganlua { "sample", out .. "/checkpoint.safetensors", "--n=9", "--seed=3", "--out=" .. out .. "/again.png" }
  U.truthy(ok, text)
  U.equal(U.read(out .. "/again.png") == first, true, "the same seed, the same grid")
  ok, text = ganlua { "sample", out, "--n=9", "--seed=4", "--out=" .. out .. "/other.png" }
  U.truthy(ok, text)
  U.equal(U.read(out .. "/other.png") == first, false, "another seed, another grid")
  -- a walk: rows of 5 steps, 2 rows for --n=10; truncated noise
  ok, text = ganlua { "sample", out, "--interpolate=5", "--n=10", "--truncation=0.5", "--out=" .. out .. "/walk.png" }
  U.truthy(ok, text)
  U.shape(gan.image.load(out .. "/walk.png"), U.grid_shape(1, 2, 5, 16), "2 walks of 5")
  U.equal(U.read(out .. "/log.csv"), log, "the run's log is untouched")
  -- in Lua: the run's generator, of any recipe, without shifting this process's draws
  gan.manual_seed(11)
  local before = gan.rand(3):totable()
  gan.manual_seed(11)
  local draw, r = gan.pretrained.generator(out)
  U.tclose(gan.rand(3), before, 0, "the random state is put back")
  U.equal(r.step, 2)
  U.shape(draw(5), { 5, 1, 16, 16 }, "five samples")
  U.shape(r.state.G(r.noise(2)), { 2, 1, 16, 16 }, "G on the run's noise")
  -- bad input: named, without a traceback
  for _, case in ipairs {
    { { "sample", out, "--interpolate=1" }, "--interpolate=1: at least 2 steps" },
    { { "sample", out, "--n=x" }, "--n=x: expected an integer" },
    { { "sample", out .. "/nothing" }, "checkpoint.safetensors not found" },
    { { "sample" }, "usage: ganlua sample RUN" },
    { { "translate", out, images }, "does not translate images" },
  } do
    ok, text = ganlua(case[1])
    U.equal(ok, false, case[2])
    has(text, case[2])
    U.truthy(not text:find("stack traceback", 1, true), text)
  end
end)

T.case("ganlua sample and translate on a short CycleGAN run", function()
  local dir = U.unpaired_folder("sample_cyclegan")
  local out = dir .. "/run"
  local ok, text = ganlua { "cyclegan", "--data=" .. dir, "--size=16", "--channels=3", "--nf=4", "--ndf=4", "--blocks=1",
    "--batch=2", "--iters=2", "--eval=false", "--threads=1", "--out=" .. out }
  U.truthy(ok, text)
  ok, text = ganlua { "sample", out, "--n=6" }
  U.truthy(ok, text)
  has(text, "6 samples of " .. out .. " at step 2")
  ok, text = ganlua { "sample", out, "--interpolate=4" }
  U.equal(ok, false)
  has(text, "draws its samples through a function of its own")
  -- every image of trainB, translated B to A, one file each, and a grid of pairs
  ok, text = ganlua { "translate", out, dir .. "/trainB", "--direction=BtoA", "--out=" .. dir .. "/toA" }
  U.truthy(ok, text)
  has(text, "3 images of " .. dir .. "/trainB translated BtoA")
  for i = 1, 3 do U.shape(gan.image.load(("%s/toA/b%d.png"):format(dir, i)), { 3, 16, 16 }, "translated image") end
  U.shape(gan.image.load(dir .. "/toA.png"), U.grid_shape(3, 1, 6, 16), "a row of 3 pairs")
  ok, text = ganlua { "translate", out, dir .. "/trainB", "--direction=CtoD" }
  U.equal(ok, false)
  has(text, "--direction=CtoD: this run translates AtoB, BtoA")
  ok, text = ganlua { "translate", out, dir .. "/trainB", "--target=3" }
  U.equal(ok, false)
  has(text, "--target=3: this run translates between two domains (--direction=AtoB or BtoA)")
end)

T.case("ganlua translate on a short StarGAN run: into the domain --target names", function()
  U.skip_without_style(T) -- Fashion-MNIST: StarGAN's domains are its classes
  local out = U.tmpdir("sample_stargan") .. "/run"
  local ok, text = ganlua { "stargan", "--size=16", "--nf=4", "--ndf=4", "--blocks=1", "--n_critic=1", "--batch=4",
    "--limit=32", "--iters=2", "--eval=false", "--threads=1", "--out=" .. out }
  U.truthy(ok, text)
  local images = U.image_folder("sample_stargan_in", 3, 1, 20)
  ok, text = ganlua { "translate", out, images, "--target=Dress", "--out=" .. out .. "/dress" }
  U.truthy(ok, text)
  has(text, "3 images of " .. images .. " translated into 3 (Dress) by " .. out .. " at step 2")
  for i = 1, 3 do U.shape(gan.image.load(("%s/dress/%03d.png"):format(out, i)), { 1, 16, 16 }, "translated image") end
  U.shape(gan.image.load(out .. "/dress.png"), U.grid_shape(1, 1, 6, 16), "a row of 3 pairs")
  -- by id, into the default folder; another target, other images
  ok, text = ganlua { "translate", out, images, "--target=0" }
  U.truthy(ok, text)
  has(text, out .. "/translated/to_0: 3 images")
  U.truthy(U.read(out .. "/translated/to_0/001.png") ~= U.read(out .. "/dress/001.png"), "the target changes the image")
  for _, case in ipairs {
    { {}, "say which with --target= (its id or name): 0 (T-shirt/top), 2 (Pullover), 3 (Dress), 4 (Coat), 6 (Shirt)" },
    { { "--target=trouser" }, "--target=trouser: not a domain of this run; its domains: 0 (T-shirt/top)" },
    { { "--target=1" }, "--target=1: not a domain of this run" },
  } do
    local argv = { "translate", out, images }
    for _, a in ipairs(case[1]) do argv[#argv + 1] = a end
    ok, text = ganlua(argv)
    U.equal(ok, false, case[2])
    has(text, case[2])
    U.truthy(not text:find("stack traceback", 1, true), text)
  end
end)

T.case("gan.checkpoint.load: strict = false reads what the state names; from reads another key's entries", function()
  local path = U.tmpdir("sample_partial") .. "/c.safetensors"
  local A, B = gan.nn.Linear(3, 2), gan.nn.Linear(3, 2)
  local opt = gan.optim.Adam(A, { lr = 0.1 })
  assert(gan.checkpoint.save(path, { G_AB = A, G_BA = B, optG = opt }, { step = 7 }))
  -- strict (the default): the other entries have no place
  local G = gan.nn.Linear(3, 2)
  local meta, err = gan.checkpoint.load(path, { G_AB = G })
  U.equal(meta, nil)
  U.truthy(err:find("entries this run has no place for: G_BA.bias, G_BA.weight, optG.", 1, true), err)
  U.truthy(#err < 400, "a short message: " .. err)
  local what
  meta, what = gan.checkpoint.load(path, { G_AB = G }, { strict = false, rng = false })
  U.equal(meta.step, "7")
  U.equal(table.concat(what.loaded, ","), "G_AB")
  U.truthy(#what.ignored >= 3, "G_BA's and the optimizer's entries ignored")
  U.tclose(G.weight, A.weight:totable(), 0, "G_AB read")
  -- from: B's entries into G; a state key with none is listed as missing, not an error
  local H = gan.nn.Linear(3, 2)
  meta, what = gan.checkpoint.load(path, { G = G, H = H }, { strict = false, from = { G = "G_BA" }, rng = false })
  U.truthy(meta, what)
  U.tclose(G.weight, B.weight:totable(), 0, "G read from G_BA's entries")
  U.equal(table.concat(what.missing, ","), "H")
  -- entries that are there but do not fit are refused, with the names and shapes
  meta, err = gan.checkpoint.load(path, { G_AB = gan.nn.Linear(4, 2) }, { strict = false })
  U.equal(meta, nil)
  U.truthy(err:find("entry 'G_AB'", 1, true), err)
end)

T.run()
