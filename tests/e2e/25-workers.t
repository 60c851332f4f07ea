#!/usr/bin/env bash
# CALLBRIDGE_WORKERS=3: three event loops share the port (SO_REUSEPORT) and hand their
# deliveries to the main loop, which commits for all. Every 2xx still means committed or
# spooled, /metrics counts over every loop, and SIGTERM stops them all.
. "$(dirname "$0")/lib.sh"
pg_start
migrate

CALLBRIDGE_WORKERS=0 DATABASE_URL=$DATABASE_URL "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" "^1 callbridge: CALLBRIDGE_WORKERS: must be an integer from 1 to 64, got '0'" "CALLBRIDGE_WORKERS=0 refused"

daemon_start CALLBRIDGE_WORKERS=3 CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready
is "$(ss -Hltn "sport = :$PORT" | wc -l)" 3 "three listening sockets share the port"
like "$(cat "$TMP/daemon.log")" 'listening .*workers=3' "start-up names the loops"

mk() { sed "s/call_1777920072301_12514/$1/" "$FIX/simz/call_completed.json" >"$TMP/$1.json"; }
prepare() { for i in $(seq 1 "$2"); do mk "$1_$i"; done; }
burst() { # burst PREFIX N: N prepared deliveries, 16 at a time, each on its own connection
	seq 1 "$2" | xargs -P 16 -I{} sh -c "echo {} \$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @$TMP/$1_{}.json http://127.0.0.1:$PORT/webhooks/simz)" >"$TMP/$1.codes"
}
count() { sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE '$1\\_%'"; }

prepare w 400
burst w 400
is "$(awk '$2 != 200' "$TMP/w.codes" | wc -l)" 0 "400 deliveries over three loops: all answered 200"
is "$(count w)" 400 "all 400 stored"
busy=0
for t in /proc/"$DAEMON_PID"/task/*; do
	n=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")
	[ "$n" -gt 100 ] && busy=$((busy + 1))
done
[ "$busy" -ge 3 ] && pass "the kernel spread the connections: $busy busy threads" || fail "the kernel spread the connections: $busy busy threads"
totals=$(for _ in 1 2 3 4 5 6; do
	curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^callbridge_deliveries_total{platform="simz",outcome="stored"} //p'
done | sort -u)
is "$totals" 400 "/metrics on any loop counts every loop's deliveries"
post simz "$TMP/w_1.json"
is "$CODE $(json_field status)" "200 duplicate" "a retry through any loop is a duplicate"

# The database away: receivers' deliveries are spooled by the main loop, then drained.
pg_stop
prepare down 40
burst down 40
is "$(awk '$2 != 200' "$TMP/down.codes" | wc -l)" 0 "database down: all 40 answered 200 (spooled)"
pg_start
for _ in $(seq 1 100); do [ "$(count down)" = 40 ] && break; sleep 0.1; done
is "$(count down)" 40 "drained when it came back"

# SIGTERM in the middle of a burst: exit 0, and every 2xx is in the database.
prepare term 600
burst term 600 &
b=$!
for _ in $(seq 1 500); do [ "$(cat "$TMP/term.codes" 2>/dev/null | wc -l)" -ge 100 ] && break; sleep 0.02; done
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
wait "$b"
is "$rc" 0 "SIGTERM with three loops: exit 0"
acked=$(awk '$2 == 200 {print "term_" $1}' "$TMP/term.codes" | sort)
lost=$(comm -23 <(echo "$acked") <(sql "SELECT external_id FROM callbridge.calls WHERE external_id LIKE 'term\\_%'" | sort) | grep -c . || true)
is "$lost" 0 "every 2xx of the interrupted burst is stored ($(echo "$acked" | grep -c .) of 600)"
is "$(awk '$2 != 200 && $2 != 503 && $2 != 000' "$TMP/term.codes" | wc -l)" 0 "the others were refused (503) or not connected"
done_testing
