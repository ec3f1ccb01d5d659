-- Smoke runs of recipes/stylegan2_ada.lua (StyleGAN2 with adaptive
-- augmentation) on a stratified subset with tiny networks: p and r_t in the
-- log, a resumed run that continues bit for bit with the same p, bad options.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function run(args) return U.run_recipe("recipes/stylegan2_ada.lua", args) end

-- tiny networks; p starts at 0.5 and, with a target of -1, rises by 8 / 400 at every step
local TINY = "--subset=64 --batch=8 --nz=16 --w_dim=16 --channel_base=64 --channel_max=16 --threads=1 "
  .. "--p=0.5 --ada_target=-1 --ada_interval=1 --ada_kimg=0.4 --r1_every=2 --pl_every=2 --sample_every=0 --eval=false "

T.case("stylegan2_ada.lua: p and r_t logged; 4 steps = 2 + --resume + 2, bit for bit, p included", function()
  U.skip_without_style(T)
  local a, b = U.tmpdir("recipe_stylegan2_ada_straight"), U.tmpdir("recipe_stylegan2_ada_resumed")
  local ok, text = run(TINY .. "--iters=4 --out=" .. a)
  U.truthy(ok, text)
  U.truthy(text:find("augment=ada", 1, true), "the variant's default is printed with the options")
  ok, text = run(TINY .. "--iters=2 --out=" .. b)
  U.truthy(ok, text)
  ok, text = run(TINY .. "--iters=4 --resume --out=" .. b)
  U.truthy(ok and text:find("resumed from .* at step 2"), text)
  local la, lb = U.read(a .. "/log.csv"), U.read(b .. "/log.csv")
  U.equal(lb, la, "log.csv")
  local header = la:match("^[^\n]+")
  local cols = {}
  for c in header:gmatch("[^,]+") do cols[#cols + 1] = c end
  local ip, ir
  for i, c in ipairs(cols) do
    if c == "p" then ip = i elseif c == "r_t" then ir = i end
  end
  U.truthy(ip and ir, "p and r_t columns: " .. header)
  local ps = {}
  for line in la:gmatch("\n([^\n]+)") do
    local f = {}
    for v in (line .. ","):gmatch("([^,]*),") do f[#f + 1] = v end
    ps[#ps + 1] = tonumber(f[ip])
    local r = tonumber(f[ir])
    U.truthy(r and r >= -1 and r <= 1, "r_t in [-1, 1]: " .. line)
  end
  T.eq(#ps, 4)
  for k = 1, 4 do U.close(ps[k], 0.5 + (k - 1) * 8 / 400, 1e-9, "p at step " .. k) end
  local ta, meta_a = gan.io.load_safetensors(a .. "/checkpoint.safetensors")
  local tb, meta_b = gan.io.load_safetensors(b .. "/checkpoint.safetensors")
  for k, t in pairs(ta) do U.equal(U.maxdiff(tb[k], t), 0, k) end
  for _, k in ipairs({ "aug.p", "aug.calls", "ada.sum", "ada.count", "ada.steps" }) do
    U.truthy(meta_a[k], "metadata " .. k)
    U.equal(meta_b[k], meta_a[k], k)
  end
  U.close(tonumber(meta_a["aug.p"]), 0.5 + 4 * 8 / 400, 1e-12, "p after 4 steps, exactly")
end)

T.case("stylegan2_ada.lua refuses bad options; stylegan2 keeps augmentation off", function()
  local out = U.tmpdir("recipe_stylegan2_ada_bad")
  for args, msg in pairs({
    ["--augment=all"] = "--augment must be none, fixed, ada or reals, got 'all'",
    ["--p=1.5"] = "--p must be between 0 and 1",
    ["--augpipe=bgz"] = "--augpipe: ",
    ["--ada_kimg=0"] = "--ada_kimg > 0",
  }) do
    local ok, text = run(args .. " --out=" .. out)
    U.truthy(not ok and text:find(msg, 1, true), args .. ":\n" .. text)
  end
  local ok, text = U.run_recipe("recipes/stylegan2.lua", "--help")
  U.truthy(ok and text:find("--augment=none", 1, true), text)
  ok, text = run("--help")
  U.truthy(ok and text:find("--augment=ada", 1, true) and text:find("--out=runs/stylegan2_ada", 1, true), text)
end)

T.run()
