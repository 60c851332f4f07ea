-- wrk script: Simple AI pre-call lookups (POST /precall/simpleai) of callers picked like
-- scripts/bench-lookup-paced.js picks them (the same mix, see there): BENCH_LOOKUP_KNOWN
-- (0.7) of them among the BENCH_LOOKUP_CUSTOMERS seeded numbers, skewed to the frequent
-- callers, the rest numbers never seen; each in one of six formats. The bearer token is
-- BENCH_PRECALL_TOKEN.
local customers, known, token
local formats = {
   function(a, x, l) return "+1" .. a .. x .. l end,
   function(a, x, l) return "+1 (" .. a .. ") " .. x .. "-" .. l end,
   function(a, x, l) return "(" .. a .. ") " .. x .. "-" .. l end,
   function(a, x, l) return a .. "." .. x .. "." .. l end,
   function(a, x, l) return a .. x .. l end,
   function(a, x, l) return "1-" .. a .. "-" .. x .. "-" .. l end,
}
local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   customers = tonumber(os.getenv("BENCH_LOOKUP_CUSTOMERS") or "20000")
   known = tonumber(os.getenv("BENCH_LOOKUP_KNOWN") or "0.7")
   token = os.getenv("BENCH_PRECALL_TOKEN") or "bench"
   math.randomseed(os.time() * 100 + tid)
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
   local area, number
   if math.random() < known then -- +1 415 200 0000 + k, as the seed stores them
      area, number = "415", 2000000 + math.floor(customers * math.random() ^ 1.5)
   else -- +1 628 3xx xxxx: never seeded
      area, number = "628", 3000000 + math.random(0, 999999)
   end
   local s = tostring(number)
   local phone = formats[math.random(#formats)](area, s:sub(1, 3), s:sub(4))
   local body = '{"call":{"from_number":"' .. phone .. '","to_number":"+18005550100",'
      .. '"direction":"inbound","timestamp":"2026-11-29T12:00:00Z"},'
      .. '"agent":{"id":"agent-uuid","name":"Support Agent"}}'
   return wrk.format("POST", "/precall/simpleai", nil, body)
end

function done(summary, latency, requests)
   local errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout
   io.write(string.format("LOOKUP requests=%d non2xx=%d socket_errors=%d seconds=%.2f\n",
      summary.requests, summary.errors.status, errors, summary.duration / 1e6))
   io.write(string.format("LOOKUP p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000))
end
