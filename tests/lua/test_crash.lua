-- A training run killed with SIGKILL at random moments (often in the middle
-- of a checkpoint write), resumed each time; and a run whose disk fills up.
-- After every kill the checkpoint loads whole (the old one or the new one,
-- never torn) and log.csv holds every step up to it; the resumed run ends
-- with every step logged once. The full disk is a small tmpfs when this
-- process may mount one (root in CI), else a file size limit (ulimit -f
-- with SIGXFSZ ignored, so writes fail with EFBIG): the run exits non-zero
-- and its last checkpoint is intact.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local exe = gan.io.executable()
local child = "tests/lua/crash_child.lua"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(script)
  local ok, _, code = os.execute("bash -c " .. q(script))
  return ok and 0 or code
end

-- the steps of log.csv's complete rows (a last line a kill cut short aside)
local function logged(dir)
  local f = io.open(dir .. "/log.csv")
  if not f then return {} end
  local text = f:read("a")
  f:close()
  local steps = {}
  for line, nl in text:gmatch("([^\n]*)(\n?)") do
    local s = line:match("^(%d+),")
    if s and nl == "\n" then steps[#steps + 1] = tonumber(s) end
  end
  return steps
end

-- the checkpoint loads whole and holds only finite values; returns its step
local function checkpoint_step(dir)
  local tensors, meta = gan.io.load_safetensors(dir .. "/checkpoint.safetensors")
  U.truthy(tensors, "the checkpoint does not load: " .. tostring(meta))
  U.equal(#gan.checkpoint.nonfinite(tensors), 0, "non-finite tensors")
  return math.tointeger(tonumber(meta["ganlua.step"]))
end

local function consecutive(steps, from, to, what)
  U.equal(#steps, to - from + 1, what .. ": " .. #steps .. " rows for steps " .. from .. ".." .. to)
  for i, s in ipairs(steps) do U.equal(s, from + i - 1, what .. ": row " .. i) end
end

T.case("kill -9 at random moments, then resume: the checkpoint is never torn, log.csv loses no row", function()
  local dir = U.tmpdir("crash_kill")
  os.execute("rm -rf " .. q(dir))
  local iters, rng = 80, 20240607
  local function rand(n) rng = (rng * 1103515245 + 12345) % 2147483648; return rng % n end
  local rounds = 0
  for round = 1, 5 do
    local before = #logged(dir)
    -- wait for a few new rows (so that slow builds also get that far), then kill
    -- after a random further delay: with a save at every step, often inside one
    local delay = ("0.%03d"):format(rand(200))
    local cmd = ("%s %s %s %d %s & pid=$!; n=0; while [ $n -lt 400 ]; do "
      .. "r=$(grep -c . %s/log.csv 2>/dev/null || echo 0); [ \"$r\" -ge %d ] && break; "
      .. "kill -0 $pid 2>/dev/null || break; sleep 0.02; n=$((n+1)); done; sleep %s; kill -9 $pid 2>/dev/null; wait $pid; exit 0")
      :format(q(exe), child, q(dir), iters, round > 1 and "resume" or "", q(dir), before + 4, delay)
    sh(cmd .. " >/dev/null 2>&1")
    rounds = rounds + 1
    local ck = checkpoint_step(dir)
    local steps = logged(dir)
    if ck == iters then break end
    -- every step up to the checkpoint's is in the log, in order (rows after it
    -- may be there too: a resume drops them)
    U.truthy(#steps >= ck, ("log.csv has %d rows, the checkpoint is at step %d"):format(#steps, ck))
    consecutive({ table.unpack(steps, 1, ck) }, 1, ck, "round " .. round)
  end
  U.truthy(rounds >= 2, "killed at least once")
  -- the last resume runs to the end
  U.equal(sh(("%s %s %s %d resume >/dev/null 2>&1"):format(q(exe), child, q(dir), iters)), 0, "the final resume")
  U.equal(checkpoint_step(dir), iters)
  consecutive(logged(dir), 1, iters, "the whole run")
  for _, f in ipairs(gan.io.files(dir) or {}) do U.truthy(not f:find("%.tmp%."), "a temporary is left: " .. f) end
end)

T.case("a full disk: the run exits non-zero, its last checkpoint intact", function()
  local dir = U.tmpdir("crash_full")
  os.execute("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir))
  -- 2 MB: the 0.8 MB checkpoint and its next version fit, the 1.8 MB one that
  -- comes at step 8 does not
  local mounted = sh(("mount -t tmpfs -o size=2048k tmpfs %s 2>/dev/null"):format(q(dir))) == 0
  local how = mounted and "a 2 MB tmpfs" or "ulimit -f 1200 (KB) with SIGXFSZ ignored"
  io.write("full disk: ", how, "\n")
  local limit = mounted and "" or "trap '' XFSZ; ulimit -f 1200; "
  local ok, err = pcall(function()
    local code = sh(("%s%s %s %s 12 '' 8 > %s/../crash_full.out 2>&1"):format(limit, q(exe), child, q(dir), q(dir)))
    U.truthy(code ~= 0, "exit status 0 with " .. how)
    local text = U.read(dir .. "/../crash_full.out")
    U.truthy(text:find("checkpoint of step 12 was not written", 1, true), text)
    U.equal(checkpoint_step(dir), 7, "the last checkpoint that fitted")
    consecutive({ table.unpack(logged(dir), 1, 7) }, 1, 7, "log.csv")
    for _, f in ipairs(gan.io.files(dir) or {}) do U.truthy(not f:find("%.tmp%."), "a temporary is left: " .. f) end
  end)
  if mounted then os.execute("umount " .. q(dir)) end
  if not ok then error(err, 0) end
end)

T.run()
