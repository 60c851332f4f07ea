# lib.sh — shared by the end-to-end tests (bash, TAP output). Each test file gets a
# throwaway PostgreSQL (scripts/pg.sh: initdb + pg_ctl, private port and socket dir)
# and runs the real bin/callbridge on a free port; requests are made with curl and
# rows checked with psql. Everything is torn down when the test file exits.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${CB_TEST_BIN:-$ROOT/bin/callbridge} # make test-asan points this at a sanitized build
FIX=$ROOT/tests/fixtures
TMP=$(mktemp -d /tmp/callbridge-test.XXXXXX)
chmod 755 "$TMP"
T_COUNT=0
T_FAILED=0
DAEMON_PID=
PG_DIR=$TMP/pg
PG_PORT=
PORT=
export CALLBRIDGE_LOG_LEVEL=${CALLBRIDGE_LOG_LEVEL:-info} # a line per delivery, for failures
export PGOPTIONS="-c client_min_messages=warning"

pass() { T_COUNT=$((T_COUNT + 1)); echo "ok $T_COUNT - $1"; }
fail() {
	T_COUNT=$((T_COUNT + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_COUNT - $1"
}
# is GOT WANT NAME
is() {
	if [ "$1" == "$2" ]; then
		pass "$3"
	else
		fail "$3"
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
	fi
}
# like GOT REGEX NAME
like() {
	if [[ $1 =~ $2 ]]; then
		pass "$3"
	else
		fail "$3"
		printf '#   got:  %s\n#   want match: %s\n' "$1" "$2"
	fi
}
diag() { echo "# $*"; }
# shellcheck source=tests/e2e/common.sh
. "$ROOT/tests/e2e/common.sh"

# Stops the daemon (so leak reports are written), fails on any sanitizer report in its
# log, prints the plan.
done_testing() {
	daemon_stop
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$TMP/daemon.log" 2>/dev/null; then
		fail "the daemon's log holds no sanitizer report"
		grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$TMP/daemon.log" | head -40 | sed 's/^/#   /'
		# every report in one line each: where they are, how many times
		grep -E '^SUMMARY: [A-Za-z]+Sanitizer' "$TMP/daemon.log" | sort | uniq -c | sed 's/^/#   /'
	fi
	echo "1..$T_COUNT"
	[ "$T_FAILED" -eq 0 ]
}

pg_start() {
	PG_PORT=${PG_PORT:-$(free_port)}
	DATABASE_URL=$(bash "$ROOT/scripts/pg.sh" start "$PG_DIR" "$PG_PORT") || {
		echo "Bail out! cannot start PostgreSQL"
		exit 1
	}
	export DATABASE_URL
}

# pg_stop: a fast shutdown (pg_ctl -w waits for it); then PostgreSQL must refuse
# connections, or what follows would not be an outage.
pg_stop() {
	bash "$ROOT/scripts/pg.sh" stop "$PG_DIR"
	wait_for -m "PostgreSQL stopped (pg_isready says no)" pg_refuses
}
pg_refuses() { ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 1; }

# pg_outage: stops PostgreSQL, then waits until the daemon has seen its connections go
# (/metrics: callbridge_database_up 0), so that the next delivery meets the outage rather
# than a connection that has yet to find out.
pg_outage() {
	pg_stop
	wait_for -m "the daemon sees PostgreSQL gone (callbridge_database_up 0)" prints 0 metric callbridge_database_up
}

migrate() { "$BIN" migrate >>"$TMP/migrate.log" 2>&1; }

# daemon_start [VAR=value ...]: starts the server with extra settings; waits for /healthz.
daemon_start() {
	PORT=$(free_port)
	env PORT="$PORT" CALLBRIDGE_LISTEN=127.0.0.1 CALLBRIDGE_SPOOL_DIR="$TMP/spool" "$@" "$BIN" serve >>"$TMP/daemon.log" 2>&1 &
	DAEMON_PID=$!
	local scheme=http a
	for a in "$@"; do [[ $a == CALLBRIDGE_TLS_CERT_FILE=* ]] && scheme=https; done
	poll 10 curl -sk -o /dev/null "$scheme://127.0.0.1:$PORT/healthz" && return 0
	echo "Bail out! the daemon did not start"
	cat "$TMP/daemon.log" | sed 's/^/# /'
	exit 1
}

# wait_ready [SECONDS]: until /readyz answers 200 (10 s at most); quiet, callers say
# what it means when it does not.
wait_ready() { poll "${1:-10}" prints 200 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz"; }

daemon_stop() {
	if [ -n "$DAEMON_PID" ]; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_RC=$?
		DAEMON_PID=
	fi
}

# post SLUG FILE [curl args...]: sets CODE and BODY.
post() {
	local slug=$1 file=$2
	shift 2
	CODE=$(curl -s -o "$TMP/resp" -D "$TMP/resp.headers" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary @"$file" "$@" \
		"http://127.0.0.1:$PORT/webhooks/$slug")
	BODY=$(cat "$TMP/resp")
}

# request METHOD PATH [curl args...]: sets CODE and BODY.
request() {
	local method=$1 path=$2
	shift 2
	CODE=$(curl -s -o "$TMP/resp" -D "$TMP/resp.headers" -w '%{http_code}' -X "$method" "$@" \
		"http://127.0.0.1:$PORT$path")
	BODY=$(cat "$TMP/resp")
}

# header NAME: the value of a header of the last answer.
header() { grep -i "^$1:" "$TMP/resp.headers" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }

# json_field NAME: a top-level string or number field of the last answer's body.
json_field() { printf '%s' "$BODY" | sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p"; }

sql() { psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }

# age EXTERNAL_ID INTERVAL: moves the entity's raw events and keys back in time, as if
# received INTERVAL earlier (the UPDATE moves rows between partitions); prints how many
# keys moved.
age() {
	sql "WITH e AS (UPDATE callbridge.webhook_events SET received_at = received_at - interval '$2',
	                 last_received_at = last_received_at - interval '$2'
	           WHERE entity_id = '$1' RETURNING platform, source, dedupe_key)
	     UPDATE callbridge.event_keys k SET received_at = k.received_at - interval '$2'
	       FROM e WHERE (k.platform, k.source, k.dedupe_key) = (e.platform, e.source, e.dedupe_key)
	     RETURNING 1" | grep -c .
}

# ---- deliveries and their rows --------------------------------------------------------
CALL_ID=call_1777920072301_12514 # the call of tests/fixtures/simz/*.json

# simz FILE ID [EVENT_TIME]: the SimZ fixture FILE for call ID (at EVENT_TIME).
simz() {
	sed -e "s/$CALL_ID/$2/" -e "s/2026-05-19T15:02:14.781Z/${3:-2026-05-19T15:02:14.781Z}/" "$FIX/simz/$1"
}
# simz_call ID: $TMP/ID.json, a call.completed of call ID.
simz_call() { simz call_completed.json "$1" >"$TMP/$1.json"; }
# simz_calls PREFIX N: $TMP/PREFIX_1.json .. PREFIX_N.json, one call each (made in the
# shell: a process per file makes hundreds of them take seconds on a busy machine).
simz_calls() {
	local body i
	body=$(<"$FIX/simz/call_completed.json")
	for i in $(seq 1 "$2"); do printf '%s\n' "${body//$CALL_ID/$1_$i}" >"$TMP/$1_$i.json"; done
}

# burst_posts PREFIX N [PARALLEL]: posts $TMP/PREFIX_1..N.json to /webhooks/simz,
# PARALLEL (8) at a time, each on a connection of its own; a line "<i> <code>" per
# answer in $TMP/PREFIX.codes, written as it comes.
burst_posts() {
	seq 1 "$2" | xargs -P "${3:-8}" -I{} sh -c "echo {} \$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @$TMP/$1_{}.json http://127.0.0.1:$PORT/webhooks/simz)" >"$TMP/$1.codes"
}
# codes_in PREFIX: how many answers of the burst are in so far.
codes_in() { if [ -e "$TMP/$1.codes" ]; then grep -c . "$TMP/$1.codes"; else echo 0; fi; }
# acked_ids PREFIX: the calls of the burst answered 200, sorted.
acked_ids() { awk -v p="$1" '$2 == 200 {print p "_" $1}' "$TMP/$1.codes" | sort; }
# lost_acks PREFIX: how many of them have no call row.
lost_acks() {
	comm -23 <(acked_ids "$1") <(sql "SELECT external_id FROM callbridge.calls WHERE external_id LIKE '$1\\_%'" | sort) | grep -c . || true
}

# count_calls PREFIX: how many calls PREFIX_* are in the database.
count_calls() { sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE '$1\\_%'"; }
# segments: how many segments (spool-*.log) wait in the daemon's spool directory.
segments() { ls "$TMP/spool" | grep -c '^spool-' || true; }
# delivery_count ID: the delivery_count of the stored event of call ID.
delivery_count() { sql "SELECT delivery_count FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:$1:%'"; }

# lock_events [SECONDS]: a session named "gate" holds webhook_events in EXCLUSIVE mode
# (the daemon's writes wait; reads do not) for SECONDS (60), then commits; returns once
# the lock is held. GATE_PID is its psql.
lock_events() {
	(PGAPPNAME=gate psql -X -q "$DATABASE_URL" -c "BEGIN; LOCK callbridge.webhook_events IN EXCLUSIVE MODE; SELECT pg_sleep(${1:-60}); COMMIT;" >/dev/null 2>&1) &
	GATE_PID=$!
	wait_for -m "a session holds webhook_events locked" prints 1 \
		sql "SELECT count(*) FROM pg_locks WHERE relation = 'callbridge.webhook_events'::regclass AND mode = 'ExclusiveLock' AND granted"
}
# unlock_events: ends the gate's session now (its transaction rolls back).
unlock_events() {
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gate'" >/dev/null
	wait "$GATE_PID" 2>/dev/null
}

cleanup() {
	daemon_stop
	[ -n "$PG_PORT" ] && bash "$ROOT/scripts/pg.sh" stop "$PG_DIR" # no test after the plan
	if [ "$T_FAILED" -ne 0 ] && [ -s "$TMP/daemon.log" ]; then
		echo "# daemon log (last 30 lines):"
		tail -n 30 "$TMP/daemon.log" | sed 's/^/#   /'
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
