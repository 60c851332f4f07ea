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

pg_stop
sleep 0.3
post simz "$FIX/simz/call_audit_completed.json"
is "$CODE" 503 "database down: 503"
is "$(header Retry-After)" 7 "503 carries Retry-After"
is "$(json_field error)" unavailable "503 body is a JSON error"
request GET /readyz
is "$CODE" 503 "database down: /readyz 503"
request GET /healthz
is "$CODE" 200 "database down: /healthz still 200"
like "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'callbridge_database_up 0' "metrics: database down"

pg_start
if wait_ready 15; then pass "reconnected without a restart"; else fail "reconnected without a restart"; fi
post simz "$FIX/simz/call_audit_completed.json"
is "$CODE $(json_field status)" "200 stored" "stored again after the database came back"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events")" 2 "both events in the database"

# Stopped in the middle of a burst: every 2xx is stored, every other answer is a 503.
for i in $(seq 1 300); do
	sed "s/call_1777920072301_12514/out_$i/" "$FIX/simz/call_completed.json" >"$TMP/out_$i.json"
done
(seq 1 300 | xargs -P 8 -I{} sh -c "echo {} \$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @$TMP/out_{}.json http://127.0.0.1:$PORT/webhooks/simz)" >"$TMP/burst") &
burst=$!
sleep 0.15
pg_stop
wait "$burst"
pg_start
wait_ready 15 || fail "ready after the burst"
ok_ids=$(awk '$2 == 200 {print "out_" $1}' "$TMP/burst" | sort)
other=$(awk '$2 != 200 && $2 != 503' "$TMP/burst" | wc -l)
stored=$(sql "SELECT external_id FROM callbridge.calls WHERE external_id LIKE 'out_%' ORDER BY 1" | sort)
missing=$(comm -23 <(echo "$ok_ids") <(echo "$stored") | grep -c . || true)
is "$missing" 0 "every 2xx of the interrupted burst is in the database"
is "$other" 0 "answers were 200 or 503 only"
diag "burst: $(echo "$ok_ids" | grep -c .) stored before the stop, $(awk '$2 == 503' "$TMP/burst" | wc -l) answered 503"

done_testing
