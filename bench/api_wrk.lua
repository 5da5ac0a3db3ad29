-- The requests of `yiju bench api` for wrk: each thread walks the path list (YIJU_BENCH_PATHS,
-- one per line) from its own offset and the clients' keys (YIJU_BENCH_KEYS, comma-separated) in
-- turn, so each key carries its share of the load; done() prints the figures as one JSON line,
-- latency at the quantiles of YIJU_BENCH_QUANTILES.
local paths = {}
for line in io.lines(os.getenv("YIJU_BENCH_PATHS")) do paths[#paths + 1] = line end
local keys = {}
for key in string.gmatch(os.getenv("YIJU_BENCH_KEYS"), "[^,]+") do keys[#keys + 1] = key end
local started = 0

function setup(thread)
  thread:set("offset", started * 997)
  started = started + 1
end

function init(args)
  i = offset
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], {["Authorization"] = "Bearer " .. keys[i % #keys + 1]})
end

function done(summary, latency, requests)
  local quantiles = {}
  for q in string.gmatch(os.getenv("YIJU_BENCH_QUANTILES"), "[^,]+") do
    local value = tonumber(q) >= 100 and latency.max or latency:percentile(tonumber(q))
    quantiles[#quantiles + 1] = string.format('"%s": %.3f', q, value / 1000)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "elapsed_s": %.3f, "non_2xx": %d, "socket_errors": %d, "percentiles_ms": {%s}}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    table.concat(quantiles, ", ")))
end
