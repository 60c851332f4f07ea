#!/usr/bin/env bash
# The outage spool: while PostgreSQL is away, deliveries are fsync'd and answered
# "spooled", then drained in order when it returns. kill -9 at any moment loses no
# acknowledged delivery; a torn tail and a corrupted record are handled at start-up.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
SPOOL=$TMP/spool

daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready
pg_outage
for i in 1 2 3; do simz_call "sp_$i"; done
post simz "$TMP/sp_1.json"
is "$CODE $(json_field status)" "200 spooled" "database down: 200 spooled"
post simz "$TMP/sp_2.json"
post simz "$TMP/sp_1.json"
is "$CODE $(json_field status)" "200 spooled" "a repeat while down is spooled too (de-duplicated on drain)"
request GET /readyz
is "$CODE" 200 "/readyz: ready while the spool can take deliveries"
page=$(metrics)
like "$page" 'callbridge_spool_records 3' "metrics: 3 records spooled"
like "$page" 'callbridge_deliveries_total\{platform="simz",outcome="spooled"\} 3' "metrics: spooled outcome counted"
pg_start
eventually "drained when the database came back, no restart" prints 2 count_calls sp
is "$(sql "SELECT delivery_count FROM callbridge.webhook_events WHERE dedupe_key LIKE '%sp_1:%'")" 2 "the repeat became a duplicate"
post simz "$TMP/sp_1.json"
is "$CODE $(json_field status)" "200 duplicate" "a later retry is a duplicate"
eventually "drained segments deleted" prints 0 segments
like "$(metrics)" 'callbridge_spool_records 0' "metrics: spool empty"

# PostgreSQL stopped in the middle of a steady load, then started again: every 2xx is in
# the database exactly once, with no restart of the daemon.
SPOOLED='callbridge_deliveries_total{platform="simz",outcome="spooled"}'

simz_calls steady 600
burst_posts steady 600 &
b=$!
wait_for -t 30 -m "steady: the load is under way (100 answers)" at_least 100 codes_in steady
spooled=$(metric "$SPOOLED")
pg_outage
# Down for as long as it takes the load to meet the outage: 50 deliveries spooled.
wait_for -m "steady: deliveries spooled while PostgreSQL is away" at_least $((spooled + 50)) metric "$SPOOLED"
pg_start
wait "$b"
n=$(acked_ids steady | grep -c . || true)
eventually "database stopped mid-load and started: all $n acknowledged deliveries stored" prints 0 lost_acks steady
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%steady%' AND delivery_count <> 1")" 0 "each exactly once"
is "$(awk '$2 != 200' "$TMP/steady.codes" | wc -l)" 0 "with the spool on, every delivery was acknowledged"

# kill -9 during load, database down, then up: every 2xx ends in the database once.
pg_outage
simz_calls k9down 400
burst_posts k9down 400 &
b=$!
wait_for -t 30 -m "k9down: the load is under way (100 answers)" at_least 100 codes_in k9down
kill -9 "$DAEMON_PID"
wait "$b"
DAEMON_PID=
pg_start
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready
n=$(acked_ids k9down | grep -c . || true)
like "$n" '^[1-9][0-9]+$' "kill -9 with the database down came after $n acknowledgements"
eventually "kill -9 with the database down: all $n acknowledged deliveries in the database after restart" prints 0 lost_acks k9down
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%k9down%' AND delivery_count <> 1")" 0 "each exactly once"

simz_calls k9up 400
burst_posts k9up 400 &
b=$!
wait_for -t 30 -m "k9up: the load is under way (100 answers)" at_least 100 codes_in k9up
kill -9 "$DAEMON_PID"
wait "$b"
DAEMON_PID=
daemon_start
wait_ready
n=$(acked_ids k9up | grep -c . || true)
like "$n" '^[1-9][0-9]+$' "kill -9 with the database up came after $n acknowledgements"
is "$(lost_acks k9up)" 0 "kill -9 with the database up: all $n acknowledged deliveries in the database"
daemon_stop

# kill -9 in the middle of a drain: the next start drains the whole segment again, and the
# records committed before the crash are not counted a second time. md_400's call is held
# by an uncommitted insert, so that its batch waits while the others commit; the crashed
# daemon's backend, waiting on that lock, may still commit it once the lock is gone.
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready
pg_outage
simz_calls md 400
burst_posts md 400
is "$(awk '$2 != 200' "$TMP/md.codes" | wc -l)" 0 "mid-drain: 400 deliveries spooled"
daemon_stop
pg_start
(PGAPPNAME=gate psql -X -q "$DATABASE_URL" -c "BEGIN; INSERT INTO callbridge.calls (platform, source, external_id) VALUES ('simz', 'default', 'md_400'); SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1) &
gate=$!
wait_for -m "mid-drain: a session holds md_400's call" prints 1 \
	sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gate' AND state = 'active'"
daemon_start CALLBRIDGE_BATCH_MAX=50
md_events() { sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:md\_%'"; }
wait_for -t 30 -m "mid-drain: all but the held batch committed" at_least 350 md_events
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
committed=$(md_events)
like "$committed" '^3[5-9][0-9]$' "mid-drain: kill -9 after $committed of 400 committed, the segment left"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gate'" >/dev/null
wait "$gate" 2>/dev/null
daemon_start
eventually "mid-drain: the next start drains the segment again, whole" prints 0 segments
is "$(sql "SELECT count(*) || ' ' || min(delivery_count) || ' ' || max(delivery_count) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:md\_%'")" \
	"400 1 1" "mid-drain: every delivery stored once and counted once"
is "$(count_calls md)" 400 "mid-drain: with its call"
daemon_stop

# A torn tail and a corrupted record: the good ones survive, the bad one is reported.
pg_stop
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
for i in 1 2 3; do simz_call "tc_$i"; post simz "$TMP/tc_$i.json"; done
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
like "$(metrics)" 'callbridge_spool_corrupt_records_total 1' "metrics: corrupted record counted"
eventually "the good records are drained" prints "tc_1,tc_3" \
	sql "SELECT string_agg(external_id, ',' ORDER BY external_id) FROM callbridge.calls WHERE external_id LIKE 'tc\\_%'"
daemon_stop

# A full spool answers 503 again, and /readyz says so.
pg_stop
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
