-- wrk script: distinct, realistic SimZ call.completed events (a unique callId per request,
-- per thread), so every request is a new delivery and a new row.
local counter = 0
local template = [[{"event":"call.completed","callId":"call_%s_%d","agentId":"d5c58cfd-ddb4-47ba-8c85-d68a8f7f36e3","companyId":"comp_0005","status":"Completed","timestamp":"2026-05-19T15:02:14.781Z","call":{"direction":"Outbound","callerNumber":"+15551234567","toNumber":"+15557654321","callDateTime":"2026-05-19T15:00:02.000Z","durationSeconds":%d,"billedDurationMinutes":3,"recordingUrl":"call_%s_%d.mp3","twilioCallSid":"CAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},"lead":{"customData":{"leadId":"LEAD-%d","campaignTag":"spring-2026"}}}]]
local threads = {}

function setup(thread)
   thread:set("tid", tostring(#threads + 1) .. "_" .. tostring(os.time()))
   table.insert(threads, thread)
end

function init(args)
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   local body = string.format(template, tid, counter, 30 + counter % 600, tid, counter, counter % 5000)
   return wrk.format("POST", "/webhooks/simz", nil, body)
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
