#!/usr/bin/env bash
# A deadline for every answer: while PostgreSQL is up but does not commit, each delivery
# is answered from the spool once CALLBRIDGE_COMMIT_DEADLINE_MS has passed, instead of
# after the connection's 10 s timeout (when senders have given up). Commits hang for
# real: a synchronous standby that does not exist (each COMMIT waits for it, holding its
# locks), then a lock held on webhook_events (the statements before COMMIT wait). Once
# PostgreSQL commits again, every acknowledged delivery is stored exactly once: the
# batches left behind may commit after all, and the spool's copies, marked maybe stored,
# then find them without counting them again.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start # the default deadline, 2000 ms
wait_ready || fail "daemon ready"

# timed_posts NAME N: posts N new calls NAME_1..N at once; lines "<code> <seconds>
# <status>" in $TMP/NAME.out.
timed_posts() {
	simz_calls "$1" "$2"
	ls "$TMP/$1"_*.json | xargs -P "$2" -I{} sh -c "curl -s -o {}.body -w '%{http_code} %{time_total}' -X POST --data-binary @{} http://127.0.0.1:$PORT/webhooks/simz >{}.time"
	for i in $(seq 1 "$2"); do
		echo "$(cat "$TMP/$1_$i.json.time") $(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' "$TMP/$1_$i.json.body")"
	done >"$TMP/$1.out"
}
slowest() { sort -k2 -g "$TMP/$1.out" | tail -n 1 | cut -d' ' -f2; }
fastest() { sort -k2 -g "$TMP/$1.out" | head -n 1 | cut -d' ' -f2; }
within() { awk -v t="$1" -v lo="$2" -v hi="$3" 'BEGIN {exit !(t >= lo && t <= hi)}'; }
stored_once() { # stored_once NAME: "<calls counted once> of <calls>" for NAME_*
	sql "SELECT count(*) FILTER (WHERE delivery_count = 1) || ' of ' || count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:$1\_%'"
}

post simz "$FIX/simz/call_completed.json"
is "$CODE $(json_field status)" "200 stored" "a delivery is stored while commits work"

# 1. COMMIT waits for a synchronous standby that does not exist.
sql "ALTER SYSTEM SET synchronous_standby_names = 'nosuch'"
sql "SELECT pg_reload_conf()" >/dev/null
wait_for -t 5 -m "the standby is required" prints nosuch sql "SHOW synchronous_standby_names"
timed_posts sync 20
is "$(awk '{print $1, $3}' "$TMP/sync.out" | sort | uniq -c | awk '{print $1 "x" $2 "/" $3}')" "20x200/spooled" \
	"hung COMMIT: all 20 answered 200 spooled"
diag "hung COMMIT: answers took $(fastest sync) to $(slowest sync) s (deadline 2 s)"
within "$(slowest sync)" 0 2.5 && pass "hung COMMIT: the slowest answer within the deadline + 0.5 s" ||
	fail "hung COMMIT: the slowest answer within the deadline + 0.5 s (got $(slowest sync) s)"
within "$(fastest sync)" 1.9 2.5 && pass "hung COMMIT: answered at the deadline, not before" ||
	fail "hung COMMIT: answered at the deadline, not before (got $(fastest sync) s)"
like "$(metric callbridge_commit_deadline_expired_total)" '^([2-9][0-9]|[1-9][0-9]{2,})$' "metrics: the 20 counted as past their deadline"
like "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'callbridge' AND wait_event = 'SyncRep'")" '^[12]$' \
	"the batches' COMMITs still wait for the standby"
request GET /readyz
is "$CODE" 200 "hung COMMIT: still ready (the database is up)"

sql "ALTER SYSTEM RESET synchronous_standby_names"
sql "SELECT pg_reload_conf()" >/dev/null
wait_for -t 30 -m "hung COMMIT: the spool drains once the standby is no longer required" prints "20 of 20" stored_once sync &&
	wait_for -m "hung COMMIT: the spool drains once the standby is no longer required" prints 0 metric callbridge_spool_records
is "$(stored_once sync)" "20 of 20" "hung COMMIT: every acknowledged delivery stored once (delivery_count 1)"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE 'sync\_%'")" 20 "hung COMMIT: with its rows"
post simz "$TMP/sync_1.json"
is "$CODE $(json_field status)" "200 duplicate" "a sender's retry afterwards is a duplicate"
is "$(sql "SELECT delivery_count FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:sync\_1:%'")" 2 "and counts as the second delivery"

# 2. A lock holds the statements before COMMIT: the batches left behind are rolled back.
daemon_stop
daemon_start CALLBRIDGE_COMMIT_DEADLINE_MS=800
wait_ready || fail "daemon ready again"
lock_events
timed_posts lock 10
is "$(awk '{print $1, $3}' "$TMP/lock.out" | sort | uniq -c | awk '{print $1 "x" $2 "/" $3}')" "10x200/spooled" \
	"lock: all 10 answered 200 spooled"
diag "lock: answers took $(fastest lock) to $(slowest lock) s (deadline 0.8 s)"
within "$(slowest lock)" 0.75 1.3 && within "$(fastest lock)" 0.75 1.3 &&
	pass "lock: answered at CALLBRIDGE_COMMIT_DEADLINE_MS (+ 0.5 s at most)" ||
	fail "lock: answered at CALLBRIDGE_COMMIT_DEADLINE_MS (got $(fastest lock) to $(slowest lock) s)"
unlock_events
wait_for -t 30 -m "lock: the spool drains once the lock is gone" prints "10 of 10" stored_once lock &&
	wait_for -m "lock: the spool drains once the lock is gone" prints 0 metric callbridge_spool_records
is "$(stored_once lock)" "10 of 10" "lock: every acknowledged delivery stored once"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE 'lock\_%'")" 10 "lock: with its rows"
like "$(metric 'callbridge_batch_retries_total{reason="deadline"}')" '^[1-9]' \
	"metrics: a batch that lost its deliveries before COMMIT was rolled back and retried"

done_testing
