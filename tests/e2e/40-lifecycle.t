#!/usr/bin/env bash
# Command line, migrations under concurrency, configuration errors, graceful stop.
. "$(dirname "$0")/lib.sh"

"$BIN" --version >"$TMP/out" 2>&1
like "$(cat "$TMP/out")" '^callbridge [0-9]+\.[0-9]+\.[0-9]+$' "--version"
"$BIN" --help >"$TMP/out" 2>&1
is "$?" 0 "--help exits 0"
"$BIN" frobnicate >"$TMP/out" 2>&1
rc=$?
is "$rc $(cat "$TMP/out")" "1 callbridge: unknown command 'frobnicate' (see --help)" "unknown command: one line, non-zero"
env -u DATABASE_URL "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" '^1 callbridge: DATABASE_URL is not set' "serve without DATABASE_URL fails clearly"
PORT=99999 DATABASE_URL=x "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" "^1 callbridge: PORT: must be an integer from 1 to 65535, got '99999'" "bad PORT names the variable"
CALLBRIDGE_LOG_LEVEL=loud DATABASE_URL=x "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" "^1 callbridge: CALLBRIDGE_LOG_LEVEL: unknown value 'loud'" "bad enum names the variable"
mkdir -p "$TMP/cwd" && printf 'export PORT="abc"\n' >"$TMP/cwd/.env"
(cd "$TMP/cwd" && env -u PORT DATABASE_URL=x "$BIN" serve >"$TMP/out" 2>&1)
like "$? $(cat "$TMP/out")" "^1 callbridge: PORT: must be an integer" ".env is read"
(cd "$TMP/cwd" && PORT=1 CALLBRIDGE_SIMZ_SECRET= DATABASE_URL=postgresql://127.0.0.1:1/x CALLBRIDGE_MAX_BODY_BYTES=x "$BIN" serve >"$TMP/out" 2>&1)
like "$(cat "$TMP/out")" "CALLBRIDGE_MAX_BODY_BYTES" "the environment wins over .env"

pg_start
# Several instances migrating at once: all succeed, each migration applied once.
for i in 1 2 3 4; do "$BIN" migrate >"$TMP/m$i" 2>&1 & done
wait
# (each migration is its own transaction under the lock: instances may share the work)
is "$(cat "$TMP"/m? | grep -c 'migration applied')" "$(ls "$ROOT"/sql/migrations/*.sql | wc -l)" \
	"concurrent migrate: each migration applied by one instance"
is "$(sql "SELECT count(*) FROM callbridge.schema_migrations")" "$(ls "$ROOT"/sql/migrations/*.sql | wc -l)" "every migration recorded once"
"$BIN" migrate >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" 'migrations done applied=0' "migrate again: nothing to do, exit 0"

daemon_start CALLBRIDGE_BOGUS_SETTING=1 CALLBRIDGE_COMMIT_DEADLINE_MS=10000 # a 2 s lock below
like "$(cat "$TMP/daemon.log")" 'unknown setting ignored .*name=CALLBRIDGE_BOGUS_SETTING' "unknown CALLBRIDGE_* variable warned about"
wait_ready
post simz "$FIX/simz/call_completed.json"
is "$CODE" 200 "serving"
# A slow delivery in flight when SIGTERM arrives is still answered.
sql "CREATE OR REPLACE FUNCTION pg_temp.x() RETURNS void LANGUAGE sql AS 'SELECT 1'" >/dev/null
sql "ALTER DATABASE callbridge SET lock_timeout = '10s'" >/dev/null
# Wait for the facts, not for a guess at how long they take on a busy machine.
blocked() { # blocked: a delivery waits for the lock on webhook_events
	prints t sql "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'callbridge.webhook_events'::regclass AND NOT granted)"
}
lock_events 2 # held for 2 s, then let go by itself
post_bg() { curl -s -o "$TMP/slow" -w '%{http_code}' -X POST --data-binary @"$FIX/simz/call_audit_completed.json" "http://127.0.0.1:$PORT/webhooks/simz" >"$TMP/slow_code"; }
post_bg &
client=$!
eventually "the delivery waits for the database" blocked
kill -TERM "$DAEMON_PID"
wait "$client"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
wait "$GATE_PID"
is "$(cat "$TMP/slow_code")" 200 "delivery in flight at SIGTERM answered 200"
is "$rc" 0 "SIGTERM: exit 0"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE event_type = 'call.audit.completed'")" 1 "it is in the database"
like "$(cat "$TMP/daemon.log")" 'stopped' "logged its stop"

# Past CALLBRIDGE_SHUTDOWN_TIMEOUT_SECONDS a delivery still waiting for the database is
# spooled and left unanswered (its sender retries); the next start stores it.
daemon_start CALLBRIDGE_SHUTDOWN_TIMEOUT_SECONDS=1
wait_ready
simz_call late_1
lock_events 4
curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$TMP/late_1.json" "http://127.0.0.1:$PORT/webhooks/simz" >"$TMP/late_code" &
client=$!
wait_for -m "the late delivery waits for the database" blocked
start=$(date +%s%N)
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$client"
is "$rc" 0 "shutdown timeout: exit 0"
[ "$elapsed" -lt 3000 ] && pass "within the timeout (${elapsed} ms)" || fail "within the timeout (${elapsed} ms)"
like "$(cat "$TMP/daemon.log")" 'shutdown timeout' "the timeout is logged"
is "$(cat "$TMP/late_code")" 000 "the waiting delivery was not answered"
wait "$GATE_PID"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id = 'late_1'")" 0 "nothing of it committed"
daemon_start
wait_ready
wait_for -m "the late delivery's call is stored" prints 1 count_calls late
is "$(sql "SELECT count(*) || ' ' || min(delivery_count) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%late_1%'")" "1 1" "the next start drained it from the spool, once"

done_testing
