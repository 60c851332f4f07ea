#!/usr/bin/env bash
# Routes, methods, limits and bad bodies: each gets its JSON error, is counted, and
# writes nothing.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start CALLBRIDGE_MAX_BODY_BYTES=4096
wait_ready || fail "daemon ready"

request GET /healthz
is "$CODE $BODY" '200 {"status":"ok"}' "GET /healthz"
request GET /readyz
is "$CODE $BODY" '200 {"status":"ready","database":"up","database_down_seconds":0}' "GET /readyz"
request HEAD /healthz -I
is "$CODE" 200 "HEAD /healthz"
request POST /healthz
is "$CODE $(json_field error)" "405 method_not_allowed" "POST /healthz: 405"
request GET /nope
is "$CODE $(json_field error)" "404 not_found" "unknown path: 404"
is "$(header Content-Type)" "application/json" "errors are JSON"
request GET /webhooks/simz
is "$CODE $(json_field error)" "405 method_not_allowed" "GET a webhook route: 405"
is "$(header Allow)" "POST" "405 names the allowed method"
request PUT /webhooks/simz -d '{}'
is "$CODE" 405 "PUT a webhook route: 405"
post nope "$FIX/simz/call_completed.json"
is "$CODE $(json_field error)" "404 unknown_platform" "unknown platform: 404"
post simz/extra/parts "$FIX/simz/call_completed.json"
is "$CODE" 404 "extra path segments: 404"
post simz/ "$FIX/simz/call_completed.json"
is "$CODE" 200 "trailing slash accepted"
sql "TRUNCATE callbridge.webhook_events, callbridge.event_keys, callbridge.calls CASCADE"

printf '{"event":"call.completed","callId":' >"$TMP/bad.json"
post simz "$TMP/bad.json"
is "$CODE $(json_field error)" "400 invalid_json" "truncated JSON: 400 invalid_json"
printf '{"event":"call.completed","callId":"x"} trailing' >"$TMP/bad.json"
post simz "$TMP/bad.json"
is "$CODE $(json_field error)" "400 invalid_json" "trailing garbage: 400 invalid_json"
printf '{"event":"call.completed","callId":"\xff\xfe"}' >"$TMP/bad.json"
post simz "$TMP/bad.json"
is "$CODE $(json_field error)" "400 invalid_utf8" "invalid UTF-8: 400 invalid_utf8"
printf '[1,2,3]' >"$TMP/bad.json"
post simz "$TMP/bad.json"
is "$CODE $(json_field error)" "400 invalid_payload" "array body: 400 invalid_payload"
: >"$TMP/bad.json"
post simz "$TMP/bad.json"
is "$CODE $(json_field error)" "400 invalid_json" "empty body: 400"
python3 -c 'print("{\"a\":" * 200 + "1" + "}" * 200)' >"$TMP/bad.json" 2>/dev/null ||
	perl -e 'print "{\"a\":" x 200, "1", "}" x 200' >"$TMP/bad.json"
post simz "$TMP/bad.json"
is "$CODE $(json_field error)" "400 invalid_json" "nesting deeper than 64: 400"
head -c 5000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
post simz "$TMP/big.json"
is "$CODE $(json_field error)" "413 body_too_large" "body over the limit: 413 JSON"
head -c 20000 /dev/zero | tr '\0' ' ' >"$TMP/huge.json"
post simz "$TMP/huge.json"
is "$CODE" 413 "body far over the limit: 413"
printf '{"event":"call.completed","callId":"nul\\u0000inside","note":"x"}' >"$TMP/nul.json"
post simz "$TMP/nul.json"
is "$CODE $(json_field error)" "400 unstorable" "\\u0000 that jsonb refuses: 400 unstorable, no retry storm"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events") $(sql "SELECT count(*) FROM callbridge.calls")" "0 0" "bad input wrote nothing"

# Numbers PostgreSQL cannot store in a column: the raw event is kept as failed.
printf '{"event":"call.completed","callId":"big","timestamp":"2026-05-19T15:02:14Z","call":{"durationSeconds":1e308}}' >"$TMP/range.json"
post simz "$TMP/range.json"
is "$CODE" 200 "huge number: accepted (numeric holds it)"
printf '{"event":"call.completed","callId":"dir","timestamp":"2026-05-19T15:02:14Z","call":{"direction":"sideways","callDateTime":"2026-02-30T10:00:00Z"}}' >"$TMP/odd.json"
post simz "$TMP/odd.json"
is "$CODE" 200 "unknown direction and impossible date: read as absent, stored"
is "$(sql "SELECT direction IS NULL, started_at IS NULL FROM callbridge.calls WHERE external_id = 'dir'")" "t|t" "odd values left NULL"

# A neighbour of bad deliveries in the same burst is unaffected.
for i in $(seq 1 40); do
	if [ $((i % 4)) = 0 ]; then
		printf '{"event":"call.completed","callId":"n%d\\u0000"}' "$i" >"$TMP/mix_$i.json"
	else
		sed "s/call_1777920072301_12514/mix_$i/" "$FIX/simz/call_completed.json" >"$TMP/mix_$i.json"
	fi
done
seq 1 40 | xargs -P 16 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST --data-binary @"$TMP/mix_{}.json" \
	"http://127.0.0.1:$PORT/webhooks/simz" | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ' >"$TMP/mix"
is "$(cat "$TMP/mix")" "200x30 400x10 " "mixed burst: good ones 200, bad ones 400"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE 'mix_%'")" 30 "mixed burst: every good one stored"

metrics=$(curl -s "http://127.0.0.1:$PORT/metrics")
like "$metrics" 'callbridge_deliveries_total\{platform="simz",outcome="invalid"\} [1-9]' "metrics count invalid bodies"
like "$metrics" 'callbridge_http_refused_total\{reason="body_too_large"\} 2' "metrics count oversized bodies"
like "$metrics" 'callbridge_deliveries_total\{platform="simz",outcome="rejected"\} [1-9]' "metrics count refused events"
like "$metrics" 'callbridge_database_up 1' "metrics: database up"

# Headers past 64 KiB are refused; a client that stalls mid-request is cut off after
# CALLBRIDGE_READ_TIMEOUT_SECONDS; neither harms anyone else.
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Padding: $big" --data-binary @"$FIX/simz/call_completed.json" "http://127.0.0.1:$PORT/webhooks/simz")
like "$code" '^(4[0-9][0-9]|000)$' "headers over 64 KiB refused ($code)"
daemon_stop
daemon_start CALLBRIDGE_READ_TIMEOUT_SECONDS=1
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /webhooks/simz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"event":' >&3
start=$(date +%s%N)
timeout 5 cat <&3 >/dev/null # returns when the server closes the connection
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
exec 3>&-
[ "$elapsed" -lt 3000 ] && pass "a client stalling mid-body is cut off by the read timeout (${elapsed} ms)" || fail "a client stalling mid-body is cut off by the read timeout (${elapsed} ms)"
request GET /healthz
is "$CODE" 200 "others are served meanwhile"

# CALLBRIDGE_MAX_CONNECTIONS bounds the open files: past it, accepting pauses and new
# clients wait in the listen queue (no answer, no busy loop) until connections close.
daemon_stop
daemon_start CALLBRIDGE_MAX_CONNECTIONS=1 CALLBRIDGE_READ_TIMEOUT_SECONDS=30
python3 -c '
import socket, sys, time
s = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(100)]
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))
' "$PORT" 4 "$TMP/hog.ready" &
hog=$!
# Once the 100 are connected, a new client queues behind them: the daemon runs out of
# files before it reaches it.
wait_for -m "100 idle connections made" test -e "$TMP/hog.ready"
cpu() { awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat"; }
before=$(cpu)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/healthz")
is "$code" 000 "100 idle connections over a limit of 1 (+64 own files): a new client waits"
used=$(( $(cpu) - before ))
[ "$used" -lt 30 ] && pass "meanwhile the daemon does not spin (${used} ticks in 1 s)" || fail "meanwhile the daemon does not spin (${used} ticks in 1 s)"
kill "$hog" 2>/dev/null
wait "$hog" 2>/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$PORT/healthz")
is "$code" 200 "they close: new clients are served again"
like "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'callbridge_accept_pauses_total [1-9]' "metrics: accept pauses counted"
like "$(cat "$TMP/daemon.log")" 'out of file descriptors: new connections wait' "logged"

kill -0 "$DAEMON_PID" && pass "daemon still running" || fail "daemon still running"
done_testing
