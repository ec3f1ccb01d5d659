--- gan.report: a run's report, one HTML page that works offline.
--
--     gan.report.write("runs/dcgan")      -- writes runs/dcgan/report.html
--
-- gan.train writes it at the end of every run (and `ganlua eval RUN_DIR`
-- again). The page holds everything in itself: the options, the losses of
-- log.csv and the evaluations of eval.csv as SVG charts (one per column,
-- raw values light, a moving average dark), sample grids over time (PNG
-- files embedded as data), the final metrics (metrics.json) with FD's floor
-- and ceiling and class coverage bars, time per step and the machine. A
-- small script checks on load that every chart was drawn and writes the
-- result into the hidden element `#status` ("ok: N of N charts, ..."),
-- shown only when something is missing.
--
-- While a run trains, gan.train writes the page again at each sample grid
-- and each evaluation, as a live page (`info.live`): it says which step the
-- run has reached and reloads itself every few seconds, so the run can be
-- watched in a browser from the file, with no server. The live page holds
-- the time it was written and how long a running run may leave it
-- unchanged: older than that, it stops reloading and says the run seems to
-- have stopped (a killed process never writes its final page). A run that
-- stopped on an error, a NaN or Ctrl-C writes a final page that says so
-- (`info.stopped`).
--
-- Sample grids are shown 360 pixels wide: enlarged without blur when the
-- file is narrower (older runs), shrunk smoothly when it is wider (grids
-- are written enlarged: gan.image.save_grid).
-- @module gan.report

local gan = require "gan"
local util = require "gan.util"

local M = {}

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function esc(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

--- Reads a CSV file of numbers with a header line.
-- @param path the file
-- @return columns (list of names), rows (list of lists of numbers; nil for empty fields), or nil
function M.read_csv(path)
  local text = read(path)
  if not text then return nil end
  local cols, rows = nil, {}
  for line in text:gmatch("[^\n]+") do
    local fields = {}
    for f in (line .. ","):gmatch("([^,]*),") do fields[#fields + 1] = f end
    if not cols then cols = fields
    else
      local row = {}
      for i = 1, #cols do row[i] = tonumber(fields[i]) end
      rows[#rows + 1] = row
    end
  end
  return cols, rows
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- Base64 encoding (RFC 4648, with padding).
-- @param s bytes
-- @return text
function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local q = {}
    for k = 1, 4 do q[k] = B64:sub(((n >> (6 * (4 - k))) & 63) + 1, ((n >> (6 * (4 - k))) & 63) + 1) end
    if not b then q[3], q[4] = "=", "=" elseif not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end

-- at most `max` points: the mean of each bucket of consecutive points
local function thin(xs, ys, max)
  if #xs <= max then return xs, ys end
  local ox, oy = {}, {}
  local per = #xs / max
  for b = 0, max - 1 do
    local lo, hi = math.floor(b * per) + 1, math.floor((b + 1) * per)
    local sx, sy, n = 0, 0, 0
    for i = lo, hi do
      if ys[i] then sx, sy, n = sx + xs[i], sy + ys[i], n + 1 end
    end
    if n > 0 then ox[#ox + 1], oy[#oy + 1] = sx / n, sy / n end
  end
  return ox, oy
end

local function moving_average(ys, w)
  local out, sum, q = {}, 0, {}
  for i, y in ipairs(ys) do
    sum = sum + y
    q[#q + 1] = y
    if #q > w then sum = sum - table.remove(q, 1) end
    out[i] = sum / #q
  end
  return out
end

local function nice(v)
  if v == 0 then return "0" end
  local a = math.abs(v)
  if a >= 1e4 or a < 1e-3 then return ("%.2e"):format(v) end
  return ("%.4g"):format(v)
end

--- An SVG line chart of y over x.
-- @param title the chart's title
-- @param xs x values (steps)
-- @param ys y values (nil entries are skipped)
-- @param opts {width=320, height=180, smooth=true (a moving average over the raw line),
--   refs = {{label, y}, ...} (dashed horizontal lines)}
-- @return SVG text (an element of class "chart")
function M.svg_chart(title, xs, ys, opts)
  opts = opts or {}
  local W, H = opts.width or 320, opts.height or 180
  local l, r, t, b = 52, 10, 22, 24
  local px, py = {}, {}
  for i = 1, #xs do
    if ys[i] and ys[i] == ys[i] and math.abs(ys[i]) ~= math.huge then px[#px + 1], py[#py + 1] = xs[i], ys[i] end
  end
  local parts = { ('<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">')
    :format(W, H, W, H), ('<text x="%d" y="15" class="title">%s</text>'):format(l, esc(title)) }
  if #px == 0 then
    parts[#parts + 1] = ('<text x="%d" y="%d">no values</text></svg>'):format(l, H // 2)
    return table.concat(parts)
  end
  local x0, x1, y0, y1 = px[1], px[#px], math.huge, -math.huge
  for _, y in ipairs(py) do y0, y1 = math.min(y0, y), math.max(y1, y) end
  for _, ref in ipairs(opts.refs or {}) do y0, y1 = math.min(y0, ref[2]), math.max(y1, ref[2]) end
  -- a curve that is never negative (a distance, a share) gets no negative axis
  local nonneg = y0 >= 0
  if x1 == x0 then x1 = x0 + 1 end
  if y1 == y0 then y0, y1 = y0 - 0.5, y1 + 0.5 end
  local pad = 0.05 * (y1 - y0)
  y0, y1 = y0 - pad, y1 + pad
  if nonneg then y0 = math.max(y0, 0) end
  local function sx(x) return l + (x - x0) / (x1 - x0) * (W - l - r) end
  local function sy(y) return H - b - (y - y0) / (y1 - y0) * (H - t - b) end
  parts[#parts + 1] = ('<rect x="%d" y="%d" width="%d" height="%d" class="frame"/>'):format(l, t, W - l - r, H - t - b)
  for k = 0, 2 do
    local y = y0 + (y1 - y0) * k / 2
    parts[#parts + 1] = ('<text x="%d" y="%.1f" class="tick" text-anchor="end">%s</text>'):format(l - 4, sy(y) + 4, nice(y))
  end
  parts[#parts + 1] = ('<text x="%d" y="%d" class="tick">%s</text>'):format(l, H - 6, nice(x0))
  parts[#parts + 1] = ('<text x="%d" y="%d" class="tick" text-anchor="end">%s</text>'):format(W - r, H - 6, nice(x1))
  local function polyline(xs_, ys_, class)
    local pts = {}
    for i = 1, #xs_ do pts[i] = ("%.1f,%.1f"):format(sx(xs_[i]), sy(ys_[i])) end
    return ('<polyline class="%s" points="%s"/>'):format(class, table.concat(pts, " "))
  end
  for _, ref in ipairs(opts.refs or {}) do
    parts[#parts + 1] = ('<line class="ref" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text x="%d" y="%.1f" class="tick">%s</text>')
      :format(l, W - r, sy(ref[2]), sy(ref[2]), l + 4, sy(ref[2]) - 3, esc(ref[1]))
  end
  local tx, ty = thin(px, py, 600)
  if #tx == 1 then
    parts[#parts + 1] = ('<circle class="dot" cx="%.1f" cy="%.1f" r="3"/>'):format(sx(tx[1]), sy(ty[1]))
  end
  parts[#parts + 1] = polyline(tx, ty, (opts.smooth ~= false and #px > 50) and "raw" or "line")
  if opts.smooth ~= false and #px > 50 then
    local w = math.max(2, #px // 50)
    local mx, my = thin(px, moving_average(py, w), 600)
    parts[#parts + 1] = polyline(mx, my, "line")
  end
  parts[#parts + 1] = "</svg>"
  return table.concat(parts)
end

-- charts of every numeric column of a CSV but the step (and those in skip);
-- refs[col] = {column whose last value is drawn as a dashed line, ...}
local function csv_charts(path, skip, refs, panels)
  local cols, rows = M.read_csv(path)
  if not cols or #rows == 0 then return {} end
  local xs = {}
  for i, row in ipairs(rows) do xs[i] = row[1] or i end
  local charts = {}
  for c = 2, #cols do
    if not (skip and skip[cols[c]]) then
      local ys = {}
      for i, row in ipairs(rows) do ys[i] = row[c] end
      local lines = {}
      for _, rc in ipairs(refs and refs[cols[c]] or {}) do
        for k = 2, #cols do
          if cols[k] == rc and rows[#rows][k] then lines[#lines + 1] = { rc, rows[#rows][k] } end
        end
      end
      charts[#charts + 1] = M.svg_chart(cols[c], xs, ys, { refs = lines })
      if panels then panels[#panels + 1] = { title = cols[c], x = xs, y = ys, refs = lines } end
    end
  end
  return charts
end

-- the sample grids by step: every labelled one (step_NNNNNN_LABEL.png), and
-- of the others at most what `max` leaves, spread evenly, always the last
local function sample_files(out, max)
  local plain, labelled = {}, {}
  for _, path in ipairs(gan.io.files(out .. "/samples", { recursive = false, ext = { "png" } }) or {}) do
    local name = path:match("([^/]+)$")
    local step, label = name:match("^step_(%d+)_?([%w%-]*)%.png$")
    if step then
      local f = { name = name, step = tonumber(step), label = label ~= "" and label or nil }
      if f.label then labelled[#labelled + 1] = f else plain[#plain + 1] = f end
    end
  end
  local by_step = function(a, b) return a.step < b.step or (a.step == b.step and a.name < b.name) end
  table.sort(plain, by_step)
  local room = math.max(max - #labelled, 1)
  local pick = labelled
  if #plain <= room then
    for _, f in ipairs(plain) do pick[#pick + 1] = f end
  elseif room == 1 then
    pick[#pick + 1] = plain[#plain]
  else
    for k = 0, room - 1 do pick[#pick + 1] = plain[math.floor(k * (#plain - 1) / (room - 1) + 0.5) + 1] end
  end
  table.sort(pick, by_step)
  return pick
end

local function machine()
  local info = gan.kernels.info()
  local cpu = (read("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "?"
  local function line(path) return ((read(path) or "?"):gsub("%s+$", "")) end
  local uname = line("/proc/sys/kernel/ostype") .. " " .. line("/proc/sys/kernel/osrelease")
  return {
    { "ganlua", gan.version }, { "CPU", cpu }, { "threads", tostring(info.threads) },
    { "kernels", tostring(info.isa) }, { "BLAS", tostring(info.blas) }, { "system", uname or "?" },
    { "OPENBLAS_CORETYPE", os.getenv("OPENBLAS_CORETYPE") or "(unset)" }, { "written", os.date("%Y-%m-%d %H:%M") },
  }
end

local CSS = [[
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}
.charts{display:flex;flex-wrap:wrap;gap:8px}
svg.chart{background:#fff;border:1px solid #ddd}
svg .title{font-size:12px;font-weight:600}svg .tick{font-size:10px;fill:#555}
svg .frame{fill:none;stroke:#ccc}svg .raw{fill:none;stroke:#9ecae1;stroke-width:1}
svg .line{fill:none;stroke:#08519c;stroke-width:1.6}svg .ref{stroke:#e6550d;stroke-dasharray:4 3}svg .dot{fill:#08519c}
.samples{display:flex;flex-wrap:wrap;gap:12px}.samples figure{margin:0}
.samples img{width:360px;border:1px solid #ddd}.samples img.up{image-rendering:pixelated}
.bar{display:inline-block;height:10px;background:#3182bd;vertical-align:middle}
#status{color:#b30000;font-size:12px}#live{background:#eef5ff;border:1px solid #c6dbef;padding:6px 10px}
#live.stale,#stopped{background:#fff4e5;border:1px solid #f0b36b;padding:6px 10px}
]]

-- a live page reloads itself until it is older than data-stale seconds
local LIVE_SCRIPT = [[
(function () {
  var live = document.getElementById("live");
  var age = Date.now() / 1000 - Number(live.dataset.written);
  if (age <= Number(live.dataset.stale)) {
    live.dataset.reloading = "yes";
    setTimeout(function () { location.reload(); }, 1000 * Number(live.dataset.reload));
    return;
  }
  live.dataset.reloading = "no";
  live.className = "stale";
  live.textContent = "The run seems to have stopped at step " + live.dataset.step + ": this page was last written " +
    Math.round(age / 60) + " min ago, and a running run writes it again within " +
    Math.round(Number(live.dataset.stale) / 60) + " min. It no longer reloads itself.";
})();
]]

local SCRIPT = [[
window.addEventListener("error", function (e) {
  document.getElementById("status").textContent = "error: " + e.message;
});
window.addEventListener("load", function () {
  var charts = document.querySelectorAll("svg.chart"), drawn = 0;
  for (var i = 0; i < charts.length; i++) {
    var line = charts[i].querySelector("polyline, circle");
    if (line && line.getBBox().width + line.getBBox().height > 0) drawn++;
  }
  var imgs = document.querySelectorAll(".samples img"), shown = 0;
  for (var j = 0; j < imgs.length; j++) if (imgs[j].complete && imgs[j].naturalWidth > 0) shown++;
  var s = document.getElementById("status"), ok = drawn === charts.length && shown === imgs.length;
  if (s.textContent.indexOf("error") !== 0)
    s.textContent = (ok ? "ok: " : "incomplete: ") +
      drawn + " of " + charts.length + " charts, " + shown + " of " + imgs.length + " images";
  s.hidden = ok && s.textContent.indexOf("error") !== 0;
});
]]

local function metrics_html(r)
  local rows = {}
  local function row(k, v) rows[#rows + 1] = ("<tr><th>%s</th><td>%s</td></tr>"):format(esc(k), esc(v)) end
  if r.fd then
    row("FD", ("%.2f"):format(r.fd))
    if r.fd_floor then row("FD floor (test vs train) / ceiling (uniform noise)", ("%.2f / %.1f"):format(r.fd_floor, r.fd_ceiling)) end
  end
  if r.kid then row("KID", ("%.4f ± %.4f"):format(r.kid, r.kid_std or 0)) end
  if r.precision then row("precision / recall (k = 3)", ("%.3f / %.3f"):format(r.precision, r.recall)) end
  if r.accuracy then row("accuracy (classifier agrees with the asked class)", ("%.3f"):format(r.accuracy)) end
  if r.modes then row("modes covered", ("%d of %d"):format(r.modes, r.modes_total)) end
  if r.hq then row("high-quality samples (within 3σ)", ("%.1f%%"):format(100 * r.hq)) end
  if r.n then row("samples", tostring(r.n)) end
  local skip = { fd = 1, fd_floor = 1, fd_ceiling = 1, kid = 1, kid_std = 1, precision = 1, recall = 1, accuracy = 1,
    modes = 1, modes_total = 1, hq = 1, n = 1, coverage = 1, min_coverage = 1 }
  local rest = {}
  for k, v in pairs(r) do if not skip[k] and type(v) == "number" then rest[#rest + 1] = k end end
  table.sort(rest)
  for _, k in ipairs(rest) do row(k, ("%.6g"):format(r[k])) end
  local html = { "<table>", table.concat(rows, "\n"), "</table>" }
  if type(r.coverage) == "table" then
    html[#html + 1] = "<h3>Class coverage</h3><table>"
    for i, v in ipairs(r.coverage) do
      html[#html + 1] = ('<tr><td>%s</td><td><span class="bar" style="width:%dpx"></span> %.1f%%</td></tr>')
        :format(esc(gan.metrics.CLASSES[i] or i), math.floor(v * 600 + 0.5), 100 * v)
    end
    html[#html + 1] = "</table>"
  end
  return table.concat(html, "\n")
end

--- Draws every curve in one PNG: a panel per column (raw values light, a
-- moving average dark, reference values dashed), three panels a row.
-- @param path the PNG to write
-- @param panels list of {title=, x=, y=, refs = {{label, y}, ...}}
-- @return true, or nil and a message
function M.curves_png(path, panels)
  local plot = require "gan.plot"
  local W, H, per_row = 360, 220, 3
  local images = {}
  for _, p in ipairs(panels) do
    local x, y = {}, {}
    for i = 1, #p.x do
      if p.y[i] then x[#x + 1], y[#y + 1] = p.x[i], p.y[i] end
    end
    local series = {}
    if #y > 0 then
      local tx, ty = thin(x, y, 600)
      if #y > 50 then
        series[1] = { x = tx, y = ty, color = { 0.62, 0.79, 0.88 }, width = 1 }
        local mx, my = thin(x, moving_average(y, math.max(2, #y // 50)), 600)
        series[2] = { x = mx, y = my, color = { 0.03, 0.32, 0.61 }, width = 2 }
      else
        series[1] = { x = tx, y = ty, color = { 0.03, 0.32, 0.61 }, width = 2 }
      end
      for _, r in ipairs(p.refs or {}) do
        series[#series + 1] = { x = { x[1], x[#x] }, y = { r[2], r[2] }, label = r[1], color = { 0.9, 0.33, 0.05 }, dash = true }
      end
      local ok, im = pcall(plot.lines_image, series, { width = W, height = H, title = p.title, font = 1 })
      if ok then images[#images + 1] = im end
    end
  end
  if #images == 0 then return nil, "no values to draw" end
  local rows = {}
  for r = 1, #images, per_row do
    local row = {}
    for k = r, r + per_row - 1 do row[#row + 1] = images[k] or gan.ones(3, H, W) end
    rows[#rows + 1] = gan.cat(row, 3)
  end
  return gan.io.save_png(path, gan.cat(rows, 2))
end

--- Seconds between two reloads of a live page.
M.RELOAD_SECONDS = 5

--- How long a live page may go unchanged before it calls its run stopped:
-- five times the longest interval between two writes, and at least 10 minutes.
-- @param interval the longest time between two writes of the page so far (seconds)
-- @return whole seconds (rounded up)
function M.stale_after(interval)
  return math.max(600, math.ceil(5 * (interval or 0)))
end

-- the width of a PNG file's image, from its header (0 if it is not a PNG)
local function png_width(png)
  if #png < 24 or png:sub(1, 8) ~= "\137PNG\r\n\26\n" then return 0 end
  return (string.unpack(">I4", png, 17))
end

--- Writes OUT/report.html (and OUT/curves.png) from what the run folder holds.
-- @param out the run folder
-- @param info optional {results = metrics table (else OUT/metrics.json is not parsed: pass it),
--   seconds_per_step = number, title = text, live = {step=, iters=, interval= (the
--   longest time between two writes so far, seconds), written= (os.time(); default
--   now)} while the run trains: the page says so and reloads itself until it is
--   older than stale_after(interval), and curves.png is not drawn; stopped = text,
--   a final page's line saying why the run ended early (an error, a NaN, Ctrl-C)}
-- @return the report's path, or nil and a message
function M.write(out, info)
  info = info or {}
  local title = info.title or out:match("([^/]+)/*$") or out
  local live = info.live
  local h = { "<!DOCTYPE html><html><head><meta charset=\"utf-8\">" }
  -- without scripts, the browser reloads; with them, LIVE_SCRIPT decides
  if live then h[#h + 1] = ('<noscript><meta http-equiv="refresh" content="%d"></noscript>'):format(M.RELOAD_SECONDS) end
  h[#h + 1] = ("<title>%s — ganlua run report</title><style>%s</style></head><body>"):format(esc(title), CSS)
  h[#h + 1] = ("<h1>%s</h1><p id=\"status\">loading</p>"):format(esc(title))
  if live then
    local written = live.written or os.time()
    h[#h + 1] = ('<p id="live" data-step="%d" data-written="%d" data-stale="%d" data-reload="%d">Training: step '
      .. '<b id="step">%d</b> of %d (%s). This page reloads every %d s and stops when the run ends.</p>')
      :format(live.step, written, M.stale_after(live.interval), M.RELOAD_SECONDS, live.step, live.iters,
        os.date("%H:%M:%S", written), M.RELOAD_SECONDS)
    h[#h + 1] = "<script>" .. LIVE_SCRIPT .. "</script>"
  end
  if info.stopped then h[#h + 1] = ('<p id="stopped">%s</p>'):format(esc(info.stopped)) end
  local r = info.results
  if r then
    h[#h + 1] = ("<h2>Metrics at step %s</h2>"):format(esc(r.step or "?"))
    h[#h + 1] = metrics_html(r)
  end
  local panels = {}
  local loss = csv_charts(out .. "/log.csv", nil, nil, panels)
  local ev = csv_charts(out .. "/eval.csv", { fd_floor = true, fd_ceiling = true, n = true, kid_std = true,
    modes_total = true }, { fd = { "fd_floor", "fd_ceiling" } }, panels)
  local curves = #panels > 0 and not live and M.curves_png(out .. "/curves.png", panels)
  if #loss > 0 then
    h[#h + 1] = "<h2>Training curves (log.csv)</h2><div class=\"charts\">" .. table.concat(loss, "\n") .. "</div>"
  end
  if #ev > 0 then
    h[#h + 1] = "<h2>Evaluations during training (eval.csv)</h2><div class=\"charts\">" .. table.concat(ev, "\n") .. "</div>"
  end
  if curves then h[#h + 1] = "<p>Every curve in one picture: curves.png, next to this page.</p>" end
  local files = sample_files(out, 8)
  if #files > 0 then
    h[#h + 1] = "<h2>Samples over time</h2><div class=\"samples\">"
    for _, f in ipairs(files) do
      local png = read(out .. "/samples/" .. f.name)
      if png then
        local caption = ("step %d"):format(f.step) .. (f.label and ", " .. esc(f.label) or "")
        local up = png_width(png) < 360 and ' class="up"' or ""
        h[#h + 1] = ('<figure><img alt="%s"%s src="data:image/png;base64,%s"><figcaption>%s</figcaption></figure>')
          :format(esc(f.name), up, M.base64(png), caption)
      end
    end
    h[#h + 1] = "</div>"
  end
  h[#h + 1] = "<h2>Run</h2><table>"
  if info.seconds_per_step then h[#h + 1] = ("<tr><th>time per step</th><td>%.3f s</td></tr>"):format(info.seconds_per_step) end
  for _, kv in ipairs(machine()) do h[#h + 1] = ("<tr><th>%s</th><td>%s</td></tr>"):format(esc(kv[1]), esc(kv[2])) end
  h[#h + 1] = "</table>"
  local opts = read(out .. "/options.txt")
  if opts then
    h[#h + 1] = "<h2>Options</h2><table>"
    for line in opts:gmatch("[^\n]+") do
      local k, v = line:match("^([^#=][^=]*)=(.*)$")
      if k then h[#h + 1] = ("<tr><th>%s</th><td>%s</td></tr>"):format(esc(k), esc(v)) end
    end
    h[#h + 1] = "</table>"
  end
  h[#h + 1] = "<script>" .. SCRIPT .. "</script></body></html>\n"
  local path = out .. "/report.html"
  local ok, err = util.write_file(path, table.concat(h, "\n"))
  if not ok then return nil, err end
  return path
end

return M
