--- gan.recipes: running recipes from a recipe, as a user would.
--
-- A lab that compares recipes, or a recipe that needs a trained model,
-- runs them in fresh processes of the ganlua program, with no shell in
-- between (gan.io.run):
--
--     local ok, text = gan.recipes.run("dcgan", { iters = 200, out = "runs/x/dcgan" }, { capture = true })
--
-- **A recipe's header.** Every recipe opens with one comment block that
-- `ganlua --list` and `ganlua explain NAME` read (without running the file):
--
--     --- DCGAN — all-convolutional generator and discriminator with batch norm.
--     -- @paper Radford, Metz, Chintala. Unsupervised Representation ... 2015. arXiv:1511.06434
--     -- @year 2015
--     -- @ja 要点: プーリングの代わりにストライド付き畳み込み ...
--     -- @en Key points: strided convolutions (D) and transposed convolutions (G) ...
--
-- - the first line, after `---`, is the summary: the name, a dash, the idea
--   in one line (--list prints it);
-- - `@paper` the authors, the title, the year and where to read it;
-- - `@year` the year of the paper, a number (--list prints it);
-- - `@ja` and `@en` the key points, in Japanese and in English, one or more
--   lines each; `ganlua explain NAME` prints those of one language
--   (`--lang=en` or `--lang=ja`; by default the language of $LANG, else
--   English; `--lang=all` both).
--
-- The block ends at the first line that is not a comment. Plain `--` lines
-- inside it are printed by explain as they are.
--
-- Requires: gan.io (run, executable).
-- @module gan.recipes

local gan = require "gan"

local M = {}

--- The ganlua program: this process's when it is ganlua, else `ganlua`
-- from PATH (a stock lua5.4 running the library).
-- @return path or name
function M.program()
  local exe = gan.io.executable()
  if exe and exe:match("ganlua$") then return exe end
  return "ganlua"
end

--- The command line of a recipe with options: { program, name, "--k=v", ... }
-- with the keys in sorted order, lists joined by commas.
-- @param name a recipe's name ("dcgan", "lab/latent") or path
-- @param opts table key -> value (optional)
-- @param extra list of more arguments, passed as they are (optional)
-- @return list of strings
function M.argv(name, opts, extra)
  local argv = { M.program(), name }
  local keys = {}
  for k in pairs(opts or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do argv[#argv + 1] = ("--%s=%s"):format(k, require("gan.options").render(opts[k])) end
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return argv
end

--- Runs a recipe in a fresh ganlua process and waits for it.
-- @param name a recipe's name or path
-- @param opts table key -> value of its options (optional)
-- @param how {capture=false (return its output instead of letting it print), extra=list of more arguments}
-- @return ok (it exited with status 0), its output (when captured), and why it failed (or nil)
function M.run(name, opts, how)
  how = how or {}
  local argv = M.argv(name, opts, how.extra)
  local ok, code, output = gan.io.run(argv, { capture = how.capture == true })
  if ok == nil then return false, nil, ("cannot run %s: %s"):format(argv[1], tostring(code)) end
  if not ok then return false, output, ("%s exited with %s"):format(table.concat(argv, " "), tostring(code)) end
  return true, output
end

--- Runs another recipe in this process with some of its defaults
-- changed: a variant such as StyleGAN2-ADA (StyleGAN2 with augmentation on)
-- is a recipe file of a few lines. The base is found next to the calling
-- recipe (`name`.lua in the same folder); the command line still overrides
-- every option, --help lists the base's options with the variant's
-- defaults, and the run records the variant's path.
--
--     gan.recipes.variant("stylegan2", { augment = "ada", out = "runs/stylegan2_ada" })
-- @param name the base recipe's name ("stylegan2")
-- @param defaults table key -> value (each a key the base declares, of the same type)
-- @return the base recipe's results
function M.variant(name, defaults)
  if type(name) ~= "string" or type(defaults) ~= "table" then
    error("gan.recipes.variant: (name, {key = default, ...}) expected", 2)
  end
  -- the calling recipe's file (after a tail call, the script's: arg[0])
  local src = debug.getinfo(2, "S").source
  local file = src:sub(1, 1) == "@" and src:sub(2) or (rawget(_G, "arg") or {})[0] or ""
  local dir = file:match("^(.*)/[^/]*$") or "."
  local path = dir .. "/" .. name .. ".lua"
  if not gan.io.exists(path) then error(("gan.recipes.variant: no recipe %s"):format(path), 2) end
  local chunk, err = loadfile(path)
  if not chunk then error(err, 0) end
  return require("gan.options").with_variant(path, defaults, chunk)
end

--- The checkpoint of a run of a recipe: `path` when that file exists, else
-- OUT/checkpoint.safetensors of a run of the recipe with `opts` (opts.out
-- is OUT), which is made first when it is not there yet.
-- @param path the checkpoint asked for
-- @param name the recipe that makes one
-- @param opts its options (out is needed)
-- @param extra more arguments for that run, passed as they are: a list, or a string of
--   words separated by spaces (optional)
-- @return the checkpoint's path; raises an error when the run fails
function M.checkpoint(path, name, opts, extra)
  if gan.io.exists(path) then return path end
  if type(extra) == "string" then
    local words = {}
    for w in extra:gmatch("%S+") do words[#words + 1] = w end
    extra = words
  end
  assert(type(opts) == "table" and type(opts.out) == "string", "gan.recipes.checkpoint: opts.out is needed")
  local made = opts.out .. "/checkpoint.safetensors"
  if not gan.io.exists(made) then
    print(("%s not found: running %s into %s"):format(path, name, opts.out))
    local ok, _, why = M.run(name, opts, { extra = extra })
    if not ok then error(("gan.recipes.checkpoint: %s"):format(why), 0) end
  end
  return made
end

return M
