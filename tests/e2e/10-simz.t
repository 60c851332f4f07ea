#!/usr/bin/env bash
# SimZ end to end: first delivery, duplicate, audit before call, merge rules.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start
wait_ready || fail "daemon ready"

post simz "$FIX/simz/call_completed.json"
is "$CODE" 200 "call.completed: 200"
is "$(json_field status)" stored "call.completed: stored"
is "$(sql "SELECT direction, from_number, to_number, customer_number, status, duration_seconds, billed_minutes, started_at AT TIME ZONE 'UTC', metadata->>'campaignTag' FROM callbridge.calls WHERE platform = 'simz' AND external_id = 'call_1777920072301_12514'")" \
	"outbound|+15551234567|+15557654321|+15557654321|Completed|132|3|2026-05-19 15:00:02|spring-2026" "call row as the seed says"
is "$(sql "SELECT event_type, status, delivery_count, payload->'call'->>'twilioCallSid' FROM callbridge.webhook_events")" \
	"call.completed|mapped|1|CAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "raw event stored with its payload"
before=$(sql "SELECT updated_at, xmin FROM callbridge.calls")

post simz "$FIX/simz/call_completed.json"
is "$CODE" 200 "repeat: 200"
is "$(json_field status)" duplicate "repeat: duplicate"
is "$(sql "SELECT delivery_count FROM callbridge.webhook_events")" 2 "repeat: delivery_count 2"
is "$(sql "SELECT updated_at, xmin FROM callbridge.calls")" "$before" "repeat: call row untouched (same row version)"
is "$(sql "SELECT count(*) FROM callbridge.calls")" 1 "repeat: still one call"

# Audit before its call: a stub call is created and completed later.
cat >"$TMP/audit.json" <<'JSON'
{"event":"call.audit.completed","callId":"call_B","agentId":"agent-1","companyId":"comp_0005","status":"successful","timestamp":"2026-05-19T15:06:41.220Z","lead":{"customData":{"leadId":"LEAD-009","stage":"audit"}},"audit":{"qualified":true,"reason":"Booked a demo"}}
JSON
cat >"$TMP/call.json" <<'JSON'
{"event":"call.completed","callId":"call_B","agentId":"agent-1","companyId":"comp_0005","status":"Completed","timestamp":"2026-05-19T15:02:14.781Z","call":{"direction":"Inbound","callerNumber":"+15550002222","toNumber":"+15557654321","callDateTime":"2026-05-19T15:00:02.000Z","durationSeconds":90},"lead":{"customData":{"leadId":"LEAD-009","stage":"call","campaignTag":"fall"}}}
JSON
post simz "$TMP/audit.json"
is "$CODE $(json_field status)" "200 stored" "audit first: stored"
is "$(sql "SELECT c.status IS NULL, c.agent_id, a.kind, a.status, a.qualified, a.reason FROM callbridge.call_audits a JOIN callbridge.calls c ON c.id = a.call_id WHERE c.external_id = 'call_B'")" \
	"t|agent-1|audit|successful|t|Booked a demo" "audit first: stub call and audit row"
post simz "$TMP/call.json"
is "$CODE $(json_field status)" "200 stored" "older call.completed after the audit: stored"
is "$(sql "SELECT status, direction, customer_number, duration_seconds, metadata->>'stage', metadata->>'campaignTag', last_event_at AT TIME ZONE 'UTC' FROM callbridge.calls WHERE external_id = 'call_B'")" \
	"Completed|inbound|+15550002222|90|audit|fall|2026-05-19 15:06:41.22" "older event fills gaps, overwrites nothing (newer 'stage' kept, new key added)"

# A newer event overwrites; NULL never does (call first, then its newer audit).
cat >"$TMP/call_c.json" <<'JSON'
{"event":"call.completed","callId":"call_C","agentId":"agent-7","companyId":"comp_0005","status":"Completed","timestamp":"2026-05-19T15:02:14Z","call":{"direction":"Outbound","toNumber":"+15550003333","durationSeconds":30},"lead":{"customData":{"stage":"call","campaignTag":"fall"}}}
JSON
cat >"$TMP/audit_c.json" <<'JSON'
{"event":"call.audit.completed","callId":"call_C","agentId":null,"companyId":"comp_0099","status":"unsuccessful","timestamp":"2026-05-19T15:09:00Z","lead":{"customData":{"stage":"audit"}},"audit":{"qualified":false,"reason":null}}
JSON
post simz "$TMP/call_c.json"
post simz "$TMP/audit_c.json"
is "$CODE" 200 "newer audit: 200"
is "$(sql "SELECT status, agent_id, account_id, metadata->>'stage', metadata->>'campaignTag', duration_seconds FROM callbridge.calls WHERE external_id = 'call_C'")" \
	"Completed|agent-7|comp_0099|audit|fall|30" "newer event wins; its nulls overwrite nothing; jsonb merged by key"
is "$(sql "SELECT qualified, reason IS NULL FROM callbridge.call_audits a JOIN callbridge.calls c ON c.id = a.call_id WHERE c.external_id = 'call_C'")" "f|t" "audit row with qualified false"

# Unknown event type: stored raw, unmapped, 2xx.
post simz "$FIX/simz/call_started_unknown.json"
is "$CODE $(json_field status)" "200 unmapped" "unknown event: 200 unmapped"
is "$(sql "SELECT status FROM callbridge.webhook_events WHERE event_type = 'call.started'")" unmapped "unknown event stored raw"

# Missing entity id: 400, stored as failed for debugging, no rows.
calls_before=$(sql "SELECT count(*) FROM callbridge.calls")
post simz "$FIX/simz/missing_call_id.json"
is "$CODE" 400 "missing callId: 400"
is "$(json_field error)" unmappable "missing callId: error code"
is "$(sql "SELECT status, error FROM callbridge.webhook_events WHERE dedupe_key LIKE 'sha256:%'")" "failed|callId is missing" "missing callId: stored as failed"
is "$(sql "SELECT count(*) FROM callbridge.calls")" "$calls_before" "missing callId: no rows"

# Many concurrent deliveries: every 2xx is in the database exactly once.
for i in $(seq 1 200); do
	sed "s/call_1777920072301_12514/call_burst_$i/" "$FIX/simz/call_completed.json" >"$TMP/burst_$i.json"
done
seq 1 200 | xargs -P 32 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST --data-binary @"$TMP/burst_{}.json" \
	"http://127.0.0.1:$PORT/webhooks/simz" >"$TMP/codes"
is "$(grep -c '^200$' "$TMP/codes")" 200 "burst: 200 concurrent deliveries answered 200"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE 'call_burst_%'")" 200 "burst: 200 calls stored"
like "$(metrics | grep '^callbridge_batches_total')" '^callbridge_batches_total [0-9]+$' "metrics: batches counted"

done_testing
