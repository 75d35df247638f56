-- wrk script for `make bench` and `make bench-shim`: POST the JSON body in the file named by
-- the first script argument (`wrk ... -s post.lua URL -- body.json`), or GET when none is
-- given, and print one JSON line of results that bench/run.py and bench/shim/run.py read.
-- Latency is in microseconds; wrk counts a status >= 400 as an error.
local body_file = nil

function init(args)
  body_file = args[1]
  if body_file == nil then
    return
  end
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
