#!/usr/bin/env bash
# delivery_count stays exact however the spool is drained. Records marked "maybe stored"
# (spooled after a COMMIT went unanswered): draining one whose event is stored already
# must not count a second delivery; one whose event is not stored stores it; an unmarked
# record of a stored event is a real repeat and counts. That segment is written here byte
# by byte in the spool's format (src/spoolrec.h), so the test does not depend on catching
# a connection loss at the moment of COMMIT. Then a segment the daemon spooled itself is
# drained twice, as after a crash mid-drain: nothing is counted again.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
SPOOL=$TMP/spool
key() { sql "SELECT dedupe_key FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:$1:%'"; }

daemon_start
wait_ready
for c in fl_maybe fl_plain fl_new; do simz_call "$c"; done
post simz "$TMP/fl_maybe.json"
post simz "$TMP/fl_plain.json"
is "$CODE $(json_field status)" "200 stored" "two events stored"
ka=$(key fl_maybe)
kb=$(key fl_plain)
post simz "$TMP/fl_new.json"
kc=$(key fl_new)
sql "DELETE FROM callbridge.webhook_events WHERE dedupe_key = '$kc'; DELETE FROM callbridge.event_keys WHERE dedupe_key = '$kc'; DELETE FROM callbridge.calls WHERE external_id = 'fl_new'" >/dev/null
daemon_stop

# spool-0000000000000001.log: records "maybe stored" (flag 1) for fl_maybe and fl_new,
# unmarked for fl_plain, and between them one with an unknown flag bit, which reads as
# corrupt (at the very end it would read as a torn tail).
python3 - "$SPOOL/spool-0000000000000001.log" "$TMP" "$ka" "$kb" "$kc" <<'PY'
import struct, sys
def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF
out, tmp, ka, kb, kc = sys.argv[1:]
def record(name, key, flags):
    body = open(f"{tmp}/{name}.json", "rb").read()
    payload = b"\0".join([b"simz", b"2026-11-28T10:00:00.000000Z", key.encode(), body]) + b"\0"
    return b"CBS1" + struct.pack("<III", len(payload), crc32c(payload), flags) + payload
with open(out, "wb") as f:
    f.write(record("fl_maybe", ka, 1) + record("fl_plain", kb, 0) + record("fl_maybe", ka, 6)
            + record("fl_new", kc, 1))
PY
daemon_start
eventually "the segment is drained and deleted" prints "" ls "$SPOOL"/spool-0000000000000001.log 2>/dev/null
is "$(delivery_count fl_maybe)" 1 "maybe stored, and stored: the same delivery, not counted again"
is "$(delivery_count fl_plain)" 2 "unmarked record of a stored event: a real repeat, counted"
is "$(delivery_count fl_new)" 1 "maybe stored, but not stored: stored now"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id = 'fl_new'")" 1 "with its call row"
like "$(metrics)" 'callbridge_spool_corrupt_records_total 1' "a record with an unknown flag bit reads as corrupt"
daemon_stop

# A segment drained a second time: a crash after some of its records committed leaves the
# file, and the next start drains all of it again. Here the daemon's own segment, copied
# before its first drain, is put back after it.
counts() { echo "$(delivery_count tw_1) $(delivery_count tw_2) $(delivery_count tw_3)"; }
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready
pg_outage
for c in tw_1 tw_2 tw_3; do simz_call "$c"; done
for c in tw_1 tw_2 tw_1 tw_3; do post simz "$TMP/$c.json" && echo "$CODE $(json_field status)"; done >"$TMP/tw.out"
is "$(sort "$TMP/tw.out" | uniq -c | awk '{print $1 "x" $2 "/" $3}')" "4x200/spooled" \
	"database down: 4 deliveries spooled (tw_1 twice)"
daemon_stop
mkdir "$TMP/copy"
cp "$SPOOL"/spool-*.log "$TMP/copy/"
pg_start
daemon_start
eventually "the segment is drained and deleted" prints 0 segments
is "$(counts)" "2 1 1" "drained once: tw_1 counted twice (a real repeat), the others once"
daemon_stop
cp "$TMP"/copy/spool-*.log "$SPOOL/"
daemon_start
eventually "the same segment, put back, is drained and deleted again" prints 0 segments
is "$(counts)" "2 1 1" "drained twice: each delivery known by its arrival instant, none counted again"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE 'tw\_%'")" 3 "their calls stored once"
daemon_stop
done_testing
