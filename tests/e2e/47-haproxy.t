#!/usr/bin/env bash
# Three callbridge instances behind HAProxy (round robin, health checks on /readyz), one
# PostgreSQL. The copies of one event reach different instances at the same time and
# still make one row counted three times; kill -9 of one instance under load loses no
# delivery answered 2xx, HAProxy takes it out, and the sender's retries store the rest.
. "$(dirname "$0")/lib.sh"
command -v haproxy >/dev/null || {
	echo "1..0 # skip haproxy is not installed"
	exit 0
}
STORED='callbridge_deliveries_total{platform="simz",outcome="stored"}'

# Six free ports, no two the same (free_port alone may give twice one that nothing
# listens on yet): HAProxy's two front ends and its stats, the three instances.
ports=()
while [ "${#ports[@]}" -lt 6 ]; do
	p=$(free_port) || break
	[[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done
HA_PORT=${ports[0]} ONLY1_PORT=${ports[1]} STATS_PORT=${ports[2]}
CB_PORT=([1]=${ports[3]} [2]=${ports[4]} [3]=${ports[5]})
CB_PID=()
HA_PID=

# cb_start I: instance I on its own port and spool, logging to $TMP/cbI.log; waits for
# /healthz as daemon_start does.
cb_start() {
	env PORT="${CB_PORT[$1]}" CALLBRIDGE_LISTEN=127.0.0.1 CALLBRIDGE_SPOOL_DIR="$TMP/spool$1" \
		"$BIN" serve >>"$TMP/cb$1.log" 2>&1 &
	CB_PID[$1]=$!
	poll 10 curl -s -o /dev/null "http://127.0.0.1:${CB_PORT[$1]}/healthz" && return 0
	echo "Bail out! instance $1 did not start"
	sed 's/^/# /' "$TMP/cb$1.log"
	exit 1
}
# cbs_stop: SIGTERM to every instance still running; their logs, each line marked with
# its instance, go to daemon.log, where done_testing looks for sanitizer reports.
cbs_stop() {
	local i
	for i in 1 2 3; do
		[ -n "${CB_PID[$i]:-}" ] || continue
		kill -TERM "${CB_PID[$i]}" 2>/dev/null
		wait "${CB_PID[$i]}" 2>/dev/null
		CB_PID[i]=
		sed "s/^/[cb$i] /" "$TMP/cb$i.log" >>"$TMP/daemon.log"
	done
}
ha_stop() {
	[ -n "$HA_PID" ] || return 0
	kill -TERM "$HA_PID" 2>/dev/null
	wait "$HA_PID" 2>/dev/null
	HA_PID=
}
# Before lib.sh's cleanup: HAProxy and the instances, and on failure HAProxy's log of the
# answers that were not 200 (which server, how it ended).
cleanup_all() {
	ha_stop
	cbs_stop
	if [ "$T_FAILED" -ne 0 ] && [ -s "$TMP/haproxy.log" ]; then
		echo "# haproxy: answers other than 200 (last 20):"
		grep -v ' 200 ' "$TMP/haproxy.log" | tail -n 20 | sed 's/^/#   /'
	fi
	cleanup
}
trap cleanup_all EXIT

# server_stat FIELD NAME [BACKEND]: a field of server NAME of BACKEND (cb) on HAProxy's
# stats page (CSV), such as status: UP, DOWN, "UP 1/2" on the way.
server_stat() {
	curl -s --max-time 5 "http://127.0.0.1:$STATS_PORT/stats;csv" |
		awk -F, -v f="$1" -v s="$2" -v b="${3:-cb}" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == f) c = i}
			$1 == b && $2 == s {print $c}'
}
all_up() { [ "$(server_stat status cb1) $(server_stat status cb2) $(server_stat status cb3)" == "UP UP UP" ]; }

# ha_posts PREFIX PARALLEL I...: posts $TMP/PREFIX_I.json for each I (an I listed twice
# is posted twice) to HAProxy's port $HA_TO (HA_PORT unless set), by one curl, PARALLEL
# at a time; "<I> <code>" per answer in $TMP/PREFIX.codes, a line as each comes (so
# codes_in follows it).
ha_posts() {
	local prefix=$1 parallel=$2 i sep=
	shift 2
	: >"$TMP/$prefix.codes"
	[ $# -gt 0 ] || return 0
	for i; do
		printf '%surl = "http://127.0.0.1:%s/webhooks/simz"\nheader = "Content-Type: application/json"\n' "$sep" "${HA_TO:-$HA_PORT}"
		printf 'data-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%s %%{http_code}\\n"\n' "$TMP/${prefix}_$i.json" "$i"
		sep=$'next\n'
	done >"$TMP/$prefix.curl"
	stdbuf -oL curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$parallel" -K "$TMP/$prefix.curl" >"$TMP/$prefix.codes"
}

# ---- 1. PostgreSQL, three instances, HAProxy in front --------------------------------
pg_start
migrate
for i in 1 2 3; do cb_start "$i"; done
# Keep-alive to the servers, as HAProxy runs by default; a connection refused is tried
# again on another server (redispatch), as a deployment would have it; a request already
# sent is never resent (POST), so a server that dies under it makes a 502. Checks every
# 200 ms, two failures to go down: the test sees a kill within a second. The second
# front end leads to cb1 alone: the test's way to have requests there when it kills it.
cat >"$TMP/haproxy.cfg" <<EOF
global
	log stderr format raw local0 info
defaults
	mode http
	log global
	option httplog
	option http-keep-alive
	option redispatch 1
	retries 2
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	timeout http-request 10s
	timeout http-keep-alive 10s
	timeout check 2s
frontend webhooks
	bind 127.0.0.1:$HA_PORT
	default_backend cb
backend cb
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server check inter 200ms fall 2 rise 2
	server cb1 127.0.0.1:${CB_PORT[1]}
	server cb2 127.0.0.1:${CB_PORT[2]}
	server cb3 127.0.0.1:${CB_PORT[3]}
frontend only1
	bind 127.0.0.1:$ONLY1_PORT
	default_backend only1
backend only1
	server cb1 127.0.0.1:${CB_PORT[1]}
listen stats
	bind 127.0.0.1:$STATS_PORT
	stats enable
	stats uri /stats
EOF
haproxy -c -q -f "$TMP/haproxy.cfg" >"$TMP/haproxy.check" 2>&1 ||
	diag "haproxy -c: $(cat "$TMP/haproxy.check")"
haproxy -f "$TMP/haproxy.cfg" -db >>"$TMP/haproxy.log" 2>&1 &
HA_PID=$!
eventually "three instances on their own ports and spools behind HAProxy, all UP by /readyz" all_up ||
	diag "haproxy: $(tail -n 5 "$TMP/haproxy.log")"

# ---- 2. every event three times, the copies on different instances -------------------
N=90
simz_calls dup "$N"
# Three events' nine copies at a time (in flight together) in the order a b c b c a c a
# b: round robin sends each event's copies to the three instances, and each instance
# gets an event's first copy for a third of the events.
mapfile -t order < <(seq 1 3 "$N" | awk '{a = $1; b = a + 1; c = a + 2; print a RS b RS c RS b RS c RS a RS c RS a RS b}')
ha_posts dup 12 "${order[@]}"
is "$(awk '$2 != 200' "$TMP/dup.codes" | wc -l) of $(wc -l <"$TMP/dup.codes")" "0 of $((N * 3))" \
	"$N events posted three times through HAProxy: every answer 200"
is "$(count_calls dup)" "$N" "one call row per event"
is "$(sql "SELECT count(*) || ' ' || coalesce(string_agg(DISTINCT delivery_count::text, ','), '')
	FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:dup\\_%'")" "$N 3" \
	"one event row each, delivery_count 3"
spread=$(for i in 1 2 3; do PORT=${CB_PORT[$i]} metric "$STORED"; done | tr '\n' ' ')
like "$spread" '^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]* $' "stored on every instance (first copies: $spread)"

# ---- 3. kill -9 of one instance in the middle of a burst -----------------------------
# COMMITs are held for a while (a lock): the instance killed has answered deliveries
# from its spool (after CALLBRIDGE_COMMIT_DEADLINE_MS) and holds others that HAProxy has
# sent it (three sent there through the other front end, so that some surely are): both
# kinds die with it.
K=800
simz_calls k9 "$K"
simz_calls pin 3
ha_posts k9 8 $(seq 1 "$K") &
b=$!
wait_for -t 30 -m "the burst is under way (50 answers)" at_least 50 codes_in k9
lock_events 30
cb1_metric() { PORT=${CB_PORT[1]} metric "$1"; }
wait_for -m "instance 1 answers from its spool while COMMITs are held" \
	at_least 1 cb1_metric 'callbridge_deliveries_total{platform="simz",outcome="spooled"}'
spooled=$(cb1_metric 'callbridge_deliveries_total{platform="simz",outcome="spooled"}')
HA_TO=$ONLY1_PORT ha_posts pin 3 1 2 3 &
p=$!
wait_for -m "instance 1 holds the three deliveries sent to it alone" at_least 3 server_stat scur cb1 only1
at=$(codes_in k9)
{
	kill -9 "${CB_PID[1]}"
	wait "${CB_PID[1]}"
} 2>/dev/null # not bash's word that it was killed
CB_PID[1]=
unlock_events
[ "$at" -lt "$K" ] && pass "killed in the middle of the burst ($at of $K answered)" ||
	fail "killed in the middle of the burst ($at of $K answered)"
eventually "HAProxy marks the killed instance DOWN" prints DOWN server_stat status cb1
wait "$b" "$p"
is "$(sort -n "$TMP/pin.codes" | tr '\n' ' ')" "1 502 2 502 3 502 " "the three it held when killed: answered 502 (not retried)"
acked=$(acked_ids k9 | grep -c . || true)
is "$(awk '$2 != 200 && $2 != 502 && $2 != 503 && $2 != "000"' "$TMP/k9.codes" | wc -l)" 0 \
	"the burst's answers other than 200 ($((K - acked)) of $K) are 502, 503 or none at all"

# Once it is DOWN, every request goes to the two left.
simz_calls after 30
ha_posts after 8 $(seq 1 30)
is "$(awk '$2 != 200' "$TMP/after.codes" | wc -l)" 0 "with the instance DOWN, 30 more deliveries: every answer 200"
is "$(count_calls after)" 30 "and all stored"

# A 2xx of the killed instance may be in its spool: start it again on the same spool and
# wait for the spool to be empty before counting.
cb_start 1
PORT=${CB_PORT[1]} wait_ready || diag "the restarted instance is not ready"
wait_for -m "the restarted instance's spool is drained" prints 0 cb1_metric callbridge_spool_records
is "$(lost_acks k9)" 0 \
	"every delivery answered 200 across the kill is in the database ($acked of $K; $spooled from the spool of the instance killed)"
eventually "HAProxy takes the restarted instance back (UP)" prints UP server_stat status cb1

# The sender retries what was not answered 200, through HAProxy.
cp "$TMP/k9.codes" "$TMP/k9.first"
mapfile -t failed < <(awk '$2 != 200 {print $1}' "$TMP/k9.first")
ha_posts k9 8 "${failed[@]}"
ha_posts pin 3 1 2 3
is "$(cat "$TMP/k9.codes" "$TMP/pin.codes" | awk '$2 != 200' | wc -l)" 0 \
	"the sender's retries of the $((K - acked + 3)) not answered 200: all answered 200 now"
is "$(count_calls k9) $(count_calls pin)" "$K 3" "all $K calls of the burst and the three held in the database"

ha_stop
cbs_stop
done_testing
