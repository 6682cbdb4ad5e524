-- wrk script of bench/run.py: counts answers whose status is not the expected one and prints
-- one machine-readable line at the end. Usage: wrk ... -s bench/wrk_report.lua URL -- 200
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expected = tonumber(args[1] or "200")
  unexpected = 0
  last_status = 0
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
    last_status = status
  end
end

function done(summary, latency, requests)
  local bad, bad_status = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    local s = thread:get("last_status")
    if s ~= 0 then bad_status = s end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "unexpected": %d, "unexpected_status": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    bad, bad_status, e.connect, e.read, e.write, e.timeout))
end
