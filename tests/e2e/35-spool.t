#!/usr/bin/env bash
# The outage spool: while PostgreSQL is away, deliveries are fsync'd and answered
# "spooled", then drained in order when it returns. kill -9 at any moment loses no
# acknowledged delivery; a torn tail and a corrupted record are handled at start-up.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
SPOOL=$TMP/spool

mk() { sed "s/call_1777920072301_12514/$1/" "$FIX/simz/call_completed.json" >"$TMP/$1.json"; }
count() { sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE '$1%'"; }
drained() { # drained PREFIX N: waits until N calls with PREFIX are in the database
	for _ in $(seq 1 100); do [ "$(count "$1")" = "$2" ] && return 0; sleep 0.1; done
	return 1
}

daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready
pg_stop
sleep 0.3
for i in 1 2 3; do mk "sp_$i"; done
post simz "$TMP/sp_1.json"
is "$CODE $(json_field status)" "200 spooled" "database down: 200 spooled"
post simz "$TMP/sp_2.json"
post simz "$TMP/sp_1.json"
is "$CODE $(json_field status)" "200 spooled" "a repeat while down is spooled too (de-duplicated on drain)"
request GET /readyz
is "$CODE" 200 "/readyz: ready while the spool can take deliveries"
metrics=$(curl -s "http://127.0.0.1:$PORT/metrics")
like "$metrics" 'callbridge_spool_records 3' "metrics: 3 records spooled"
like "$metrics" 'callbridge_deliveries_total\{platform="simz",outcome="spooled"\} 3' "metrics: spooled outcome counted"
pg_start
if drained sp_ 2; then pass "drained when the database came back, no restart"; else fail "drained when the database came back, no restart"; fi
is "$(sql "SELECT delivery_count FROM callbridge.webhook_events WHERE dedupe_key LIKE '%sp_1:%'")" 2 "the repeat became a duplicate"
post simz "$TMP/sp_1.json"
is "$CODE $(json_field status)" "200 duplicate" "a later retry is a duplicate"
segments() { ls "$SPOOL" | grep -c '^spool-' || true; }
for _ in $(seq 1 30); do [ "$(segments)" = 0 ] && break; sleep 0.1; done
is "$(segments)" 0 "drained segments deleted"
like "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'callbridge_spool_records 0' "metrics: spool empty"

# PostgreSQL stopped in the middle of a steady load, then started again: every 2xx is in
# the database exactly once, with no restart of the daemon.
prepare() { for i in $(seq 1 "$2"); do mk "$1_$i"; done; }
answered() { # answered PREFIX N: waits until N answers are in
	for _ in $(seq 1 100); do [ "$(wc -l <"$TMP/$1.codes" 2>/dev/null || echo 0)" -ge "$2" ] && return 0; sleep 0.05; done
}
burst() { # burst PREFIX N: posts N prepared events 8 at a time; lines "<i> <code>" in $TMP/PREFIX.codes
	seq 1 "$2" | xargs -P 8 -I{} sh -c "echo {} \$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @$TMP/$1_{}.json http://127.0.0.1:$PORT/webhooks/simz)" >"$TMP/$1.codes"
}
acked() { awk -v p="$1" '$2 == 200 {print p "_" $1}' "$TMP/$1.codes" | sort; }
lost() { comm -23 <(acked "$1") <(sql "SELECT external_id FROM callbridge.calls WHERE external_id LIKE '$1\\_%'" | sort) | grep -c . || true; }

prepare steady 600
burst steady 600 &
b=$!
answered steady 100
pg_stop
sleep 0.5
pg_start
wait "$b"
n=$(acked steady | grep -c . || true)
drained steady "$n" || true
is "$(lost steady)" 0 "database stopped mid-load and started: all $n acknowledged deliveries stored"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%steady%' AND delivery_count <> 1")" 0 "each exactly once"
is "$(awk '$2 != 200' "$TMP/steady.codes" | wc -l)" 0 "with the spool on, every delivery was acknowledged"

# kill -9 during load, database down, then up: every 2xx ends in the database once.
pg_stop
sleep 0.3
prepare k9down 400
burst k9down 400 &
b=$!
answered k9down 100
kill -9 "$DAEMON_PID"
wait "$b"
DAEMON_PID=
pg_start
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready
n=$(acked k9down | grep -c . || true)
drained k9down "$n" || true
like "$n" '^[1-9][0-9]+$' "kill -9 with the database down came after $n acknowledgements"
is "$(lost k9down)" 0 "kill -9 with the database down: all $n acknowledged deliveries in the database after restart"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%k9down%' AND delivery_count <> 1")" 0 "each exactly once"

prepare k9up 400
burst k9up 400 &
b=$!
answered k9up 100
kill -9 "$DAEMON_PID"
wait "$b"
DAEMON_PID=
daemon_start
wait_ready
n=$(acked k9up | grep -c . || true)
like "$n" '^[1-9][0-9]+$' "kill -9 with the database up came after $n acknowledgements"
is "$(lost k9up)" 0 "kill -9 with the database up: all $n acknowledged deliveries in the database"
daemon_stop

# A torn tail and a corrupted record: the good ones survive, the bad one is reported.
pg_stop
sleep 0.2
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
for i in 1 2 3; do mk "tc_$i"; post simz "$TMP/tc_$i.json"; done
is "$CODE $(json_field status)" "200 spooled" "three records spooled"
daemon_stop
seg=$(ls "$SPOOL"/spool-*.log | tail -n 1)
size=$(stat -c %s "$seg")
third=$((size / 3))
# Flip one byte inside the second record's body, then append half of a record.
printf 'X' | dd of="$seg" bs=1 seek=$((third + third / 2)) conv=notrunc 2>/dev/null
head -c 40 "$seg" >>"$seg"
pg_start
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready
like "$(cat "$TMP/daemon.log")" 'cut a torn tail' "start-up cuts the torn tail"
like "$(cat "$TMP/daemon.log")" 'skipping records whose checksum fails.*records=1' "start-up reports the corrupted record"
like "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'callbridge_spool_corrupt_records_total 1' "metrics: corrupted record counted"
drained tc_ 2
is "$(sql "SELECT string_agg(external_id, ',' ORDER BY external_id) FROM callbridge.calls WHERE external_id LIKE 'tc\\_%'")" "tc_1,tc_3" "the good records are drained"
daemon_stop

# A full spool answers 503 again, and /readyz says so.
pg_stop
sleep 0.2
rm -rf "$SPOOL"
daemon_start CALLBRIDGE_SPOOL_MAX_BYTES=1048576
big=$TMP/big.json
{ printf '{"event":"call.completed","callId":"big","note":"'; head -c 300000 /dev/zero | tr '\0' 'x'; printf '"}'; } >"$big"
codes=""
for i in 1 2 3 4 5; do post simz "$big" ; codes="$codes$CODE "; done
is "$codes" "200 200 200 503 503 " "spool full: 503"
is "$(header Retry-After)" 5 "with Retry-After"
request GET /readyz
is "$CODE" 503 "/readyz 503 when the database is down and the spool full"
daemon_stop

# One spool, one daemon: a second one on the same directory refuses to start.
daemon_start CALLBRIDGE_SPOOL_DIR="$TMP/shared-spool"
first=$DAEMON_PID
env PORT="$(free_port)" CALLBRIDGE_LISTEN=127.0.0.1 CALLBRIDGE_SPOOL_DIR="$TMP/shared-spool" "$BIN" serve >"$TMP/second.log" 2>&1
like "$? $(cat "$TMP/second.log")" "^1 .*CALLBRIDGE_SPOOL_DIR: .*shared-spool is in use by another callbridge process" "a second daemon on the same spool refuses to start"
kill -0 "$first" && pass "the first goes on" || fail "the first goes on"
daemon_stop

# A spool whose parents are missing: they are made like mkdir -p makes them, the spool
# itself private, so a shared var/ stays open to others (make run's var/pg).
umask 022
daemon_start CALLBRIDGE_SPOOL_DIR="$TMP/var/deep/spool"
is "$(stat -c %a "$TMP/var" "$TMP/var/deep" "$TMP/var/deep/spool" | tr '\n' ' ')" "755 755 700 " "missing parents 755, the spool 700"
done_testing
