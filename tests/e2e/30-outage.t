#!/usr/bin/env bash
# With the spool disabled, PostgreSQL goes away: 503 with Retry-After and /readyz not
# ready; it comes back: the daemon reconnects by itself and stores again.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start CALLBRIDGE_SPOOL_DIR= CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1 CALLBRIDGE_RETRY_AFTER_SECONDS=7
wait_ready || fail "daemon ready"

post simz "$FIX/simz/call_completed.json"
is "$CODE" 200 "stored while the database is up"

pg_outage
post simz "$FIX/simz/call_audit_completed.json"
is "$CODE" 503 "database down: 503"
is "$(header Retry-After)" 7 "503 carries Retry-After"
is "$(json_field error)" unavailable "503 body is a JSON error"
request GET /readyz
is "$CODE" 503 "database down: /readyz 503"
request GET /healthz
is "$CODE" 200 "database down: /healthz still 200"
like "$(metrics)" 'callbridge_database_up 0' "metrics: database down"

pg_start
if wait_ready 15; then pass "reconnected without a restart"; else fail "reconnected without a restart"; fi
post simz "$FIX/simz/call_audit_completed.json"
is "$CODE $(json_field status)" "200 stored" "stored again after the database came back"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events")" 2 "both events in the database"

# Stopped in the middle of a burst: every 2xx is stored, every other answer is a 503 —
# and there were both, or the outage missed the burst and nothing was tested.
simz_calls out 300
burst_posts out 300 &
burst=$!
wait_for -m "the burst is under way (30 answers)" at_least 30 codes_in out
pg_stop
wait "$burst"
pg_start
wait_ready 15 || fail "ready after the burst"
stored=$(awk '$2 == 200' "$TMP/out.codes" | wc -l)
refused=$(awk '$2 == 503' "$TMP/out.codes" | wc -l)
is "$(lost_acks out)" 0 "every 2xx of the interrupted burst is in the database"
is "$(awk '$2 != 200 && $2 != 503' "$TMP/out.codes" | wc -l)" 0 "answers were 200 or 503 only"
[ "$stored" -gt 0 ] && [ "$refused" -gt 0 ] && pass "the outage came in the middle of the burst: $stored stored before it, $refused answered 503" ||
	fail "the outage came in the middle of the burst: $stored stored before it, $refused answered 503"

done_testing
