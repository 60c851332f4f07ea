-- wrk script: realistic events from bench/templates/<slug>--<name>.json, posted in turn to
-- /webhooks/<slug> with every @ID@ replaced by an id unique to the request, so each
-- request is a new delivery. BENCH_TEMPLATES (a shell glob, default "*") picks templates:
-- "simz--call-completed" is the SimZ-only workload, "*" the mix of all platforms.
local templates = {}
local counter = 0
local threads = {}

local function load_templates()
   local pattern = os.getenv("BENCH_TEMPLATES") or "*"
   local p = io.popen("ls bench/templates/" .. pattern .. ".json")
   for path in p:lines() do
      local slug = path:match("templates/([a-z]+)%-%-")
      local f = io.open(path, "r")
      local body = f:read("*a")
      f:close()
      table.insert(templates, { slug = slug, body = body })
   end
   p:close()
end

function setup(thread)
   thread:set("tid", tostring(#threads + 1) .. "_" .. tostring(os.time()))
   table.insert(threads, thread)
end

function init(args)
   load_templates()
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   local t = templates[(counter % #templates) + 1]
   local id = "b" .. tid .. "_" .. counter
   local body = t.body:gsub("@ID@", id)
   return wrk.format("POST", "/webhooks/" .. t.slug, nil, body)
end

function done(summary, latency, requests)
   local ok = summary.requests - summary.errors.status - summary.errors.connect
      - summary.errors.read - summary.errors.write - summary.errors.timeout
   io.write(string.format("BENCH requests=%d ok=%d non2xx=%d socket_errors=%d seconds=%.2f\n",
      summary.requests, ok, summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      summary.duration / 1e6))
   io.write(string.format("BENCH p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
