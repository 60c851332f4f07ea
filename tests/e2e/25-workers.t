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

simz_calls w 400
burst_posts w 400 16
is "$(awk '$2 != 200' "$TMP/w.codes" | wc -l)" 0 "400 deliveries over three loops: all answered 200"
is "$(count_calls w)" 400 "all 400 stored"
busy=0
for t in /proc/"$DAEMON_PID"/task/*; do
	n=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")
	[ "$n" -gt 100 ] && busy=$((busy + 1))
done
[ "$busy" -ge 3 ] && pass "the kernel spread the connections: $busy busy threads" || fail "the kernel spread the connections: $busy busy threads"
totals=$(for _ in 1 2 3 4 5 6; do
	metrics | sed -n 's/^callbridge_deliveries_total{platform="simz",outcome="stored"} //p'
done | sort -u)
is "$totals" 400 "/metrics on any loop counts every loop's deliveries"
post simz "$TMP/w_1.json"
is "$CODE $(json_field status)" "200 duplicate" "a retry through any loop is a duplicate"

# The database away: receivers' deliveries are spooled by the main loop, then drained.
pg_stop
simz_calls down 40
burst_posts down 40 16
is "$(awk '$2 != 200' "$TMP/down.codes" | wc -l)" 0 "database down: all 40 answered 200 (spooled)"
pg_start
eventually "drained when it came back" prints 40 count_calls down

# SIGTERM in the middle of a burst: exit 0, and every 2xx is in the database.
simz_calls term 600
burst_posts term 600 16 &
b=$!
wait_for -t 30 -m "the burst is under way (100 answers)" at_least 100 codes_in term
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
wait "$b"
is "$rc" 0 "SIGTERM with three loops: exit 0"
is "$(lost_acks term)" 0 "every 2xx of the interrupted burst is stored ($(acked_ids term | grep -c .) of 600)"
is "$(awk '$2 != 200 && $2 != 503 && $2 != 000' "$TMP/term.codes" | wc -l)" 0 "the others were refused (503) or not connected"
done_testing
