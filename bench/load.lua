-- wrk script for the benchmark's rows that are independent requests (bench/run.sh).
--   wrk -tTHREADS ... -s bench/load.lua http://127.0.0.1:PORT -- MODE FIXTURES THREADS
-- MODE is floor, floor_signed_in, page (reloaded unchanged), poll (unchanged, 304), print,
-- therapist (50 client couples), therapist_10, therapist_200, checkin_list or checkin; FIXTURES is
-- the folder bench/seed.py wrote. Each thread takes its own share of the signed-in people and
-- cycles through them; every answer whose status is not the one expected is counted, and done()
-- prints one line of JSON for bench/report.py.
--
-- What must happen in order (a change, then the other partner's page; the accept / withdraw
-- cycle) is driven by bench/drive.py instead: wrk calls request() once before the run to check
-- what it returns and never sends that request, so a script whose requests depend on each other
-- loses its first step (the one 409 of each accept / withdraw run of earlier versions).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then
      local fields = {}
      for field in line:gmatch("%S+") do table.insert(fields, field) end
      table.insert(out, fields)
    end
  end
  return out
end

local function headers(session, csrf, extra)
  -- The app sits behind a TLS proxy in production; the header says so, as the proxy would.
  local h = { ["X-Forwarded-Proto"] = "https" }
  if session then
    h["Cookie"] = "sessionid=" .. session .. (csrf and ("; csrftoken=" .. csrf) or "")
  end
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

local requests, expected = {}, {}
local next_request = 0
mode = ""
statuses = {}
unexpected = 0

function init(args)
  mode = args[1]
  local dir = args[2]
  local nthreads = tonumber(args[3])
  local mine = function(i) return (i - 1) % nthreads == id end

  if mode == "floor" then
    expected = { [200] = true }
    table.insert(requests, wrk.format("GET", "/bench/floor", headers()))
  elseif mode:match("^therapist") then
    -- therapist: the therapists of 50 client couples; therapist_10, therapist_200: of that many.
    expected = { [200] = true }
    local size = mode:match("^therapist_(%d+)$")
    local file = size and ("/therapist-" .. size .. ".txt") or "/therapist.txt"
    for i, t in ipairs(lines(dir .. file)) do
      if mine(i) then
        table.insert(requests, wrk.format("GET", "/therapist/", headers(t[1])))
      end
    end
  else
    local paths = {
      floor_signed_in = "/bench/floor/signed-in",
      page = "/agreement/",
      poll = "/agreement/poll/",
      print = "/agreement/print/",
      checkin_list = "/checkins/",
    }
    expected = { [200] = true }
    if mode == "poll" then expected = { [304] = true } end
    for i, p in ipairs(lines(dir .. "/page.txt")) do
      if mine(i) then
        local extra = {}
        if mode == "poll" then
          extra = { ["If-None-Match"] = p[3], ["HX-Request"] = "true" }
        end
        local path = paths[mode]
        if mode == "checkin" then path = "/checkins/" .. p[4] .. "/" end
        table.insert(requests, wrk.format("GET", path, headers(p[1], nil, extra)))
      end
    end
  end
  if #requests == 0 then
    error("no requests for mode " .. tostring(mode))
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if not expected[status] then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local by_status, bad = {}, 0
  local name = threads[1]:get("mode")
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    for status, n in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(by_status) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"mode": "%s", "requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"unexpected": %d, "statuses": {%s}}\n',
    name, summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout, bad, table.concat(parts, ", ")))
end
