#!/usr/bin/env bash
# callbridge replay: events stored by an older mapper (as unmapped, or with rows lost)
# are mapped again through the same path; a second replay changes nothing.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start
wait_ready || fail "daemon ready"
post simz "$FIX/simz/call_completed.json"
post simz "$FIX/simz/call_audit_completed.json"
daemon_stop

# As if an older version had not known call.completed: stored unmapped, no call row.
sql "INSERT INTO callbridge.webhook_events (platform, event_type, dedupe_key, occurred_at, received_at, payload, status)
     SELECT 'simz', 'call.completed', 'old:1', now(), '2026-05-20T10:00:00Z',
            jsonb_set(payload, '{callId}', '\"call_from_the_past\"'), 'unmapped'
       FROM callbridge.webhook_events WHERE event_type = 'call.completed'" >/dev/null
sql "UPDATE callbridge.calls SET recording_url = NULL" >/dev/null

out=$("$BIN" replay --platform simz --status unmapped 2>/dev/null)
is "$?" 0 "replay --status unmapped: exit 0"
is "$out" "replayed 1 events: 1 mapped, 0 unmapped, 0 failed, 0 unreadable" "only the unmapped event replayed"
is "$(sql "SELECT status FROM callbridge.webhook_events WHERE dedupe_key = 'old:1'")" mapped "event now mapped"
is "$(sql "SELECT direction, duration_seconds, metadata->>'leadId' FROM callbridge.calls WHERE external_id = 'call_from_the_past'")" \
	"outbound|132|LEAD-001" "its call row written"
is "$(sql "SELECT recording_url IS NULL FROM callbridge.calls WHERE external_id = 'call_1777920072301_12514'")" t "filtered: other events untouched"

out=$("$BIN" replay 2>/dev/null)
is "$out" "replayed 3 events: 3 mapped, 0 unmapped, 0 failed, 0 unreadable" "replay all"
is "$(sql "SELECT recording_url FROM callbridge.calls WHERE external_id = 'call_1777920072301_12514'")" \
	"call_1777920072301_12514.mp3" "lost column restored from the raw event"
is "$(sql "SELECT count(*) FROM callbridge.call_audits")" 1 "audit still one row"

snapshot() { sql "SELECT string_agg(t::text || xmin::text, ',' ORDER BY t::text) FROM (SELECT c, c.xmin FROM callbridge.calls c) t"; }
before=$(snapshot)
events_before=$(sql "SELECT string_agg(id || status || delivery_count, ',' ORDER BY id) FROM callbridge.webhook_events")
"$BIN" replay >/dev/null 2>&1
is "$(snapshot)" "$before" "replaying again leaves every call row as it was (same row versions)"
is "$(sql "SELECT string_agg(id || status || delivery_count, ',' ORDER BY id) FROM callbridge.webhook_events")" "$events_before" "events unchanged"

"$BIN" replay --status bogus >"$TMP/out" 2>&1
is "$? $(cat "$TMP/out")" "1 callbridge: --status: must be mapped, unmapped or failed, not 'bogus'" "bad --status refused"
"$BIN" replay --platform nope >"$TMP/out" 2>&1
is "$? $(cat "$TMP/out")" "1 callbridge: --platform: unknown platform 'nope'" "bad --platform refused"
"$BIN" replay --since not-a-time >"$TMP/out" 2>&1
is "$? $(cat "$TMP/out")" "1 callbridge: --since: 'not-a-time' is not an ISO 8601 time" "bad --since refused"
out=$("$BIN" replay --since 2030-01-01T00:00:00Z 2>/dev/null)
is "$out" "replayed 0 events: 0 mapped, 0 unmapped, 0 failed, 0 unreadable" "--since filters"
done_testing
