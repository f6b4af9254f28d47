-- wrk script of bench/tiles: cycle through the paths in $WRK_PATHS (one per line), optional bearer token
-- in $WRK_TOKEN, and print one JSON line with throughput, latency percentiles and status counts.
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local token = os.getenv("WRK_TOKEN")
local counter = 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
  if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "bytes": %d, "p50_ms": %.2f, "p95_ms": %.2f, ' ..
    '"max_ms": %.2f, "non2xx": %d, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
