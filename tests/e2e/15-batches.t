#!/usr/bin/env bash
# Group commit with array statements: many deliveries in one batch, written with a few
# statements per batch; the same event twice in a batch; rows of one table sharing a key;
# a delivery PostgreSQL refuses among good ones. To put known deliveries in one batch,
# a "gate" delivery is held by a lock on webhook_events (one database connection), the
# others queue behind it, and the lock is let go: the next batch takes all of them.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start CALLBRIDGE_DB_CONNECTIONS=1 CALLBRIDGE_COMMIT_DEADLINE_MS=60000 # the gate holds the database on purpose
wait_ready || fail "daemon ready"

# gated NAME [QUEUED]: posts $TMP/NAME_*.json all at once, while a gate delivery holds
# the database; QUEUED of them (default all) wait for it, and are answered once the gate
# opens. Lines "<file> <code>" in $TMP/NAME.out; each answer's body in <file>.body.
gated() {
	local files n
	files=$(ls "$TMP/$1"_*.json)
	n=${2:-$(echo "$files" | wc -l)}
	lock_events
	simz call_completed.json "gate_$1" >"$TMP/gate_$1.json"
	curl -s -o /dev/null -X POST --data-binary @"$TMP/gate_$1.json" "http://127.0.0.1:$PORT/webhooks/simz" &
	local gate_post=$!
	wait_for -m "$1: the gate delivery waits for the lock" prints 1 metric callbridge_inflight
	echo "$files" | xargs -P 64 -I{} sh -c "echo {} \$(curl -s -o {}.body -w '%{http_code}' -X POST --data-binary @{} http://127.0.0.1:$PORT/webhooks/simz)" >"$TMP/$1.out" &
	local posts=$!
	wait_for -m "$1: all $n deliveries wait behind the gate" prints $((n + 1)) metric callbridge_inflight
	unlock_events
	wait "$posts" "$gate_post"
}
answered_as() { grep -ho "\"status\":\"$2\"" "$TMP/$1"_*.json.body | wc -l; } # answered_as NAME STATUS: how many
answers() { awk '{print $2}' "$TMP/$1.out" | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' '; }
largest_batch_over() { # true when a committed batch held more than $1 deliveries
	[ "$(metrics | awk -v le="callbridge_batch_size_bucket{le=\"$1\"}" '$1 == le {a = $2} $1 == "callbridge_batch_size_count" {c = $2} END {print c - a}')" -gt 0 ]
}

# 1. Thirty deliveries in one batch: ten call.completed, the ten audits of those calls
#    (the calls table gets two rows per call: written one by one, the audits as one
#    statement) and ten more calls.
for i in $(seq 1 10); do
	simz call_completed.json "b_$i" >"$TMP/one_c$i.json"
	simz call_audit_completed.json "b_$i" >"$TMP/one_a$i.json"
	sed "s/call_ユニコード_😀/u_$i/" "$FIX/simz/call_completed_unicode.json" >"$TMP/one_u$i.json"
done
before=$(metric callbridge_batches_total)
gated one
is "$(answers one)" "200x30 " "one batch: thirty deliveries answered 200"
is "$(answered_as one stored)" 30 "one batch: every one stored"
largest_batch_over 16 && pass "one batch: a batch of more than 16 deliveries committed" || fail "one batch: a batch of more than 16 deliveries committed"
is "$(( $(metric callbridge_batches_total) - before ))" 2 "one batch: the gate's batch and one more"
is "$(metric callbridge_batches_row_by_row_total)" 0 "one batch: written with array statements"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE 'b\_%' OR external_id LIKE 'u\_%'")" 20 "one batch: twenty calls"
is "$(sql "SELECT count(*) FROM callbridge.call_audits a JOIN callbridge.calls c ON c.id = a.call_id WHERE c.external_id LIKE 'b\_%' AND a.qualified AND a.kind = 'audit'")" 10 "one batch: ten audits, each on its call"
is "$(sql "SELECT DISTINCT from_number || ' ' || direction || ' ' || status || ' ' || (last_event_at AT TIME ZONE 'UTC') FROM callbridge.calls WHERE external_id LIKE 'b\_%'")" \
	"+15551234567 outbound Completed 2026-05-19 15:06:41.22" "one batch: both events of a call merged into it, in either order"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE delivery_count = 1 AND status = 'mapped' AND payload ? 'callId'")" 31 "one batch: raw events with their payloads"
sed "s/call_ユニコード_😀/u_1/" "$FIX/simz/call_completed_unicode.json" >"$TMP/u1.json"
is "$(sql "SELECT payload::text FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:u\_1:%'")" "$(psql -X -tA -c "SELECT '$(sed "s/'/''/g" "$TMP/u1.json")'::jsonb::text" "$DATABASE_URL")" "one batch: a unicode payload stored byte for byte"

# 2. The same event twice in one batch (a sender's retry racing its first attempt) and
#    a repeat of one already stored: one stored, the others duplicates, counted.
simz call_completed.json twice >"$TMP/two_1.json"
cp "$TMP/two_1.json" "$TMP/two_2.json"
simz call_completed.json b_1 >"$TMP/two_3.json"
for i in 4 5 6; do simz call_completed.json "two_$i" >"$TMP/two_$i.json"; done
gated two
is "$(answers two)" "200x6 " "same event twice: all answered 200"
is "$(answered_as two stored) $(answered_as two duplicate)" "4 2" "same event twice: one stored, the repeats duplicates"
is "$(sql "SELECT delivery_count FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:twice:%'")" 2 "same event twice: delivery_count 2"
is "$(sql "SELECT delivery_count FROM callbridge.webhook_events WHERE dedupe_key LIKE 'call.completed:b\_1:%'")" 2 "a repeat of a stored event: delivery_count 2"
is "$(metric callbridge_batches_row_by_row_total)" 1 "same event twice: that batch written statement by statement"

# 3. Deliveries PostgreSQL refuses, among good ones: a call row that breaks a CHECK
#    constraint the daemon does not know of (as a DBA might add; everything the daemon
#    can check itself is checked before any 2xx, so only the database can refuse now —
#    the rows are refused: stored raw as failed) and a \u0000 jsonb cannot hold (the
#    event is refused). The batch is retried statement by statement; the good ones are
#    stored.
sql "ALTER TABLE callbridge.calls ADD CONSTRAINT no_bad_long CHECK (external_id <> 'bad_long')"
printf '{"event":"call.completed","callId":"bad_long","timestamp":"2026-05-19T15:02:14Z","call":{"direction":"outbound"}}' >"$TMP/bad_long.json"
printf '{"event":"call.completed","callId":"bad_nul\\u0000"}' >"$TMP/bad_nul.json"
for i in $(seq 1 8); do simz call_completed.json "bad_ok$i" >"$TMP/bad_ok$i.json"; done
gated bad 9 # the \u0000 is refused before it waits
is "$(answered_as bad stored)" 8 "refused neighbours: the good ones stored"
like "$(grep bad_long.json "$TMP/bad.out") $(cat "$TMP/bad_long.json.body")" ' 4[0-9][0-9] .*no_bad_long' "refused rows: 4xx naming PostgreSQL's reason"
like "$(grep bad_nul.json "$TMP/bad.out") $(cat "$TMP/bad_nul.json.body")" ' 400 .*"error":"unstorable"' "refused event: 400 unstorable"
is "$(sql "SELECT status FROM callbridge.webhook_events WHERE dedupe_key LIKE '%bad\_long%'") $(sql "SELECT count(*) FROM callbridge.calls WHERE external_id = 'bad_long'")" "failed 0" "refused rows: raw event kept as failed, no call row"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE 'bad\_ok%'")" 8 "refused neighbours: eight calls"
is "$(metric callbridge_batches_row_by_row_total)" 2 "refused neighbours: the batch retried statement by statement"
grep -q 'batch refused as a whole; retrying it delivery by delivery' "$TMP/daemon.log" && pass "the fallback is logged" || fail "the fallback is logged"
sql "ALTER TABLE callbridge.calls DROP CONSTRAINT no_bad_long"

# 4. After a fallback, batches go back to array statements.
for i in 1 2 3; do simz call_completed.json "after_$i" >"$TMP/after_$i.json"; done
gated after
is "$(answers after)" "200x3 " "after a fallback: answered 200"
is "$(metric callbridge_batches_row_by_row_total)" 2 "after a fallback: array statements again"

# 5. With two connections (the default), a batch stuck behind a row lock does not hold
#    up the next: after 50 ms another connection takes it.
daemon_stop
daemon_start
wait_ready || fail "daemon ready (two connections)"
simz call_completed.json held >"$TMP/held.json"
post simz "$TMP/held.json"
(PGAPPNAME=holder psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT 1 FROM callbridge.calls WHERE external_id = 'held' FOR UPDATE; SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1) &
holder=$!
wait_for -m "a session holds the call's row" prints 1 \
	sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'holder' AND query LIKE '%pg_sleep%' AND wait_event = 'PgSleep'"
simz call_audit_completed.json held >"$TMP/held_audit.json"
curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$TMP/held_audit.json" "http://127.0.0.1:$PORT/webhooks/simz" >"$TMP/held_code" &
held_post=$!
wait_for -m "the audit waits for the locked call" at_least 1 sql "SELECT count(*) FROM pg_locks WHERE NOT granted"
simz call_completed.json free >"$TMP/free.json"
post simz "$TMP/free.json" --max-time 5
is "$CODE $(json_field status)" "200 stored" "a delivery behind a stuck batch: stored meanwhile"
kill -0 "$held_post" 2>/dev/null && pass "the stuck one still waits" || fail "the stuck one still waits"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder'" >/dev/null
wait "$held_post" "$holder" 2>/dev/null
is "$(cat "$TMP/held_code")" 200 "the stuck one: stored once the lock goes"
is "$(sql "SELECT count(*) FROM callbridge.call_audits a JOIN callbridge.calls c ON c.id = a.call_id WHERE c.external_id = 'held'")" 1 "the stuck one: its audit written"

done_testing
