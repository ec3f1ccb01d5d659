-- gan.report: the page a run writes, opened in headless Chromium (Debian's
-- chromium package): it loads without errors and draws every chart and image.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"

local function chromium()
  for _, name in ipairs { "chromium", "chromium-browser", "google-chrome" } do
    local p = io.popen("command -v " .. name .. " 2>/dev/null")
    local path = p:read("l")
    p:close()
    if path and path ~= "" then return path end
  end
end

-- a short run on a toy set: losses, evaluations, samples, metrics;
-- observers: more observers of gan.train; twist(step, loss): the loss the step returns
local function make_run(out, observers, twist)
  local opt = { iters = 8, batch = 16, seed = 3, out = out, sample_every = 4, save_every = 0, eval_every = 4,
    eval_samples = 200, nz = 2, limit = 256 }
  gan.manual_seed(3)
  local data = gan.data.load("8gaussians", opt)
  local G = gan.nn.Sequential { gan.nn.Linear(2, 8), gan.nn.ReLU(), gan.nn.Linear(8, 2) }
  local optG = gan.optim.Adam(G, { lr = 1e-2 })
  gan.train(opt, { G = G, optG = optG, data = data }, function(real, step)
    local loss = ((G(gan.randn(real:size(1), 2)) - real) ^ 2):mean()
    optG:step(loss)
    if twist then loss = twist(step, loss) end
    return { loss = loss, half = loss * 0.5 }
  end, { noise = function(n) return gan.randn(n, 2) end, observers = observers })
end

-- the page as headless Chromium sees it after its scripts ran
local function dump_dom(browser, page)
  local cmd = ("timeout 120 '%s' --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --dump-dom 'file://%s' 2>/dev/null")
    :format(browser, page)
  local p = io.popen(cmd)
  local dom = p:read("a")
  p:close()
  return dom
end

T.case("pieces: base64 and charts", function()
  U.equal(gan.report.base64(""), "")
  U.equal(gan.report.base64("f"), "Zg==")
  U.equal(gan.report.base64("fo"), "Zm8=")
  U.equal(gan.report.base64("foobar"), "Zm9vYmFy")
  U.equal(gan.report.base64("\0\255\128"), "AP+A")
  local svg = gan.report.svg_chart("loss <D>", { 1, 2, 3 }, { 0.5, nil, 2 })
  U.truthy(svg:find("<polyline") and svg:find("loss &lt;D&gt;"), svg)
  U.truthy(gan.report.svg_chart("empty", {}, {}):find("no values"))
  local ticks = {}
  for t in gan.report.svg_chart("fd", { 1, 2, 3 }, { 0, 5, 10 }):gmatch('class="tick"[^>]*>([^<]*)<') do ticks[#ticks + 1] = t end
  U.equal(ticks[1], "0", "a curve that is never negative starts its axis at 0, not below")
  ticks = {}
  for t in gan.report.svg_chart("loss", { 1, 2, 3 }, { -1, 5, 10 }):gmatch('class="tick"[^>]*>([^<]*)<') do ticks[#ticks + 1] = t end
  U.truthy(tonumber(ticks[1]) < -1, "a curve with negative values keeps its margin below")
end)

T.case("sample grids: every labelled one, the others spread evenly up to 8 in all, the last always", function()
  local out = U.tmpdir("report_grids")
  os.execute(("mkdir -p '%s/samples'"):format(out))
  local png = gan.full({ 1, 2, 2 }, 0.5)
  for step = 1, 20 do assert(gan.io.save_png(("%s/samples/step_%06d.png"):format(out, step), png)) end
  for _, name in ipairs({ "step_000003_4x4", "step_000011_8x8", "step_000020_16x16" }) do
    assert(gan.io.save_png(("%s/samples/%s.png"):format(out, name), png))
  end
  assert(gan.report.write(out))
  local html = U.read(out .. "/report.html")
  local captions = {}
  for c in html:gmatch("<figcaption>([^<]*)</figcaption>") do captions[#captions + 1] = c end
  U.equal(table.concat(captions, "; "),
    "step 1; step 3, 4x4; step 6; step 11; step 11, 8x8; step 15; step 20; step 20, 16x16",
    "three labelled grids and five of the others (1, 6, 11, 15, 20), in step order")
end)

T.case("report.html is self-contained and draws its charts in headless Chromium", function()
  local out = U.tmpdir("report_run")
  make_run(out)
  local html = U.read(out .. "/report.html")
  U.truthy(html:find("<h2>Metrics at step 8</h2>"), "final metrics")
  local curves = gan.image.load(out .. "/curves.png")
  U.truthy(curves and curves:size(3) == 3 * 360 and curves:size(2) == 2 * 220, "curves.png: 4 panels in 2 rows of 3")
  U.truthy(not html:find('src="http') and not html:find("<link") and not html:find("@import"), "nothing from outside")
  local browser = chromium()
  if not browser then T.skip("chromium is not installed (apt-get install chromium): the page was not opened") end
  local dom = dump_dom(browser, out .. "/report.html")
  local status = dom:match('<p id="status" hidden="">([^<]*)</p>')
  U.truthy(status, "the page loaded, its script ran and hid the status line:\n" .. dom:sub(1, 400))
  -- log.csv: loss, half; eval.csv: hq, modes
  U.equal(status, "ok: 4 of 4 charts, 2 of 2 images")
  U.truthy(not dom:find('id="live"') and not dom:find('http-equiv="refresh"'), "the final page is not live")
end)

T.case("while the run trains, the page shows the step reached and reloads itself", function()
  local browser = chromium()
  local out = U.tmpdir("report_live")
  local seen = {}
  -- an observer after the report's: what a browser shows at steps 4 (grid and evaluation) and 6 (neither)
  local watcher = { step = function(run, step)
    if step ~= 4 and step ~= 6 then return end
    local html = U.read(out .. "/report.html") or ""
    seen[step] = { html = html, dom = browser and dump_dom(browser, out .. "/report.html") }
  end }
  make_run(out, { watcher })
  U.truthy(seen[4].html:find('data-reload="5"', 1, true) and seen[4].html:find('<noscript><meta http-equiv="refresh" '
    .. 'content="5"></noscript>', 1, true), "the live page reloads itself (by its script, or without scripts)")
  U.truthy(seen[4].html:find('Training: step <b id="step">4</b> of 8', 1, true), "and says the step")
  U.truthy(seen[4].html:find("<polyline", 1, true) and seen[4].html:find("step 4</figcaption>", 1, true),
    "with the curves and the grid of step 4")
  U.truthy(seen[6].html:find('<b id="step">4</b>', 1, true), "a step without a grid or an evaluation leaves the page as it was")
  local final = U.read(out .. "/report.html")
  U.truthy(not final:find('id="live"', 1, true) and not final:find("refresh", 1, true), "the final page is not live")
  if not browser then T.skip("chromium is not installed (apt-get install chromium): the page was not opened") end
  U.equal(seen[4].dom:match('<b id="step">(%d+)</b>'), "4", "Chromium shows step 4:\n" .. seen[4].dom:sub(1, 400))
  U.truthy(seen[4].dom:find('<p id="status" hidden="">ok: 4 of 4 charts, 1 of 1 images</p>', 1, true),
    "the live page draws its charts and its grid:\n" .. seen[4].dom:sub(1, 600))
  U.truthy(seen[4].dom:find('data-reloading="yes"', 1, true), "a fresh live page reloads itself")
end)

T.case("a run that stops on an error or a NaN leaves a final page that says so, not a live one", function()
  for _, c in ipairs({
    { "error", function(step, loss) if step == 5 then error("boom at step five") end return loss end,
      "after step 4 of 8 on an error: ", "boom at step five" },
    { "nan", function(step, loss) return step == 5 and loss * (0 / 0) or loss end,
      "after step 4 of 8 on a NaN or infinite loss: ", "nan at step 5" },
  }) do
    local out = U.tmpdir("report_stopped_" .. c[1])
    local live -- the page after step 4 (a grid and an evaluation: a live page)
    local ok, err = pcall(make_run, out, { { step = function(_, step)
      if step == 4 then live = U.read(out .. "/report.html") end
    end } }, c[2])
    U.truthy(not ok and tostring(err):find(c[4], 1, true), tostring(err))
    U.truthy(live and live:find('id="live"', 1, true), c[1] .. ": the page at step 4 was live")
    local html = U.read(out .. "/report.html")
    U.truthy(not html:find('id="live"', 1, true) and not html:find("refresh", 1, true) and not html:find("reload()", 1, true),
      c[1] .. ": the last page does not reload")
    local line = html:match('<p id="stopped">([^<]*)</p>')
    U.truthy(line and line:find(c[3], 1, true) and line:find(c[4], 1, true), c[1] .. ": " .. tostring(line))
  end
end)

T.case("a live page no longer written stops reloading and says the run seems to have stopped", function()
  U.equal(gan.report.stale_after(10), 600, "at least 10 minutes")
  U.equal(gan.report.stale_after(300), 1500, "five times the longest interval between two writes")
  -- gan.clock's seconds have fractions: the page's attribute is a whole number of seconds
  U.equal(gan.report.stale_after(150.3), 752, "rounded up to a whole second")
  local slow = U.tmpdir("report_slow")
  os.execute(("mkdir -p '%s/samples'"):format(slow))
  assert(gan.report.write(slow, { live = { step = 500, iters = 3000, interval = 150.3 } }))
  U.truthy(U.read(slow .. "/report.html"):find('data-stale="752"', 1, true), "a live page after 150.3 s between writes")
  local out = U.tmpdir("report_stale")
  os.execute(("mkdir -p '%s/samples'"):format(out))
  assert(gan.report.write(out, { live = { step = 4, iters = 8, interval = 30, written = os.time() - 3600 } }))
  local html = U.read(out .. "/report.html")
  U.truthy(html:find(('data-step="4" data-written="%d" data-stale="600"'):format(os.time() - 3600), 1, true)
    or html:find(('data-step="4" data-written="%d" data-stale="600"'):format(os.time() - 3601), 1, true),
    "the page holds its step, when it was written and how long it may wait:\n" .. html:sub(1, 2000))
  local browser = chromium()
  if not browser then T.skip("chromium is not installed (apt-get install chromium): the page was not opened") end
  local dom = dump_dom(browser, out .. "/report.html")
  U.truthy(dom:find('data-reloading="no"', 1, true), "written an hour ago: no reload\n" .. dom:sub(1, 800))
  U.truthy(dom:find("The run seems to have stopped at step 4: this page was last written 60 min ago", 1, true),
    dom:sub(1, 1200))
end)

T.run()
