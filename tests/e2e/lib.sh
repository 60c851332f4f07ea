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

# Stops the daemon (so leak reports are written), fails on any sanitizer report in its
# log, prints the plan.
done_testing() {
	daemon_stop
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$TMP/daemon.log" 2>/dev/null; then
		fail "the daemon's log holds no sanitizer report"
		grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$TMP/daemon.log" | head -40 | sed 's/^/#   /'
	fi
	echo "1..$T_COUNT"
	[ "$T_FAILED" -eq 0 ]
}

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((RANDOM % 12000 + 20000)) # below the ephemeral range
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

pg_start() {
	PG_PORT=${PG_PORT:-$(free_port)}
	DATABASE_URL=$(bash "$ROOT/scripts/pg.sh" start "$PG_DIR" "$PG_PORT") || {
		echo "Bail out! cannot start PostgreSQL"
		exit 1
	}
	export DATABASE_URL
}

pg_stop() { bash "$ROOT/scripts/pg.sh" stop "$PG_DIR"; }

migrate() { "$BIN" migrate >>"$TMP/migrate.log" 2>&1; }

# daemon_start [VAR=value ...]: starts the server with extra settings; waits for /healthz.
daemon_start() {
	PORT=$(free_port)
	env PORT="$PORT" CALLBRIDGE_LISTEN=127.0.0.1 CALLBRIDGE_SPOOL_DIR="$TMP/spool" "$@" "$BIN" serve >>"$TMP/daemon.log" 2>&1 &
	DAEMON_PID=$!
	local scheme=http a
	for a in "$@"; do [[ $a == CALLBRIDGE_TLS_CERT_FILE=* ]] && scheme=https; done
	for _ in $(seq 1 100); do
		curl -sk -o /dev/null "$scheme://127.0.0.1:$PORT/healthz" && return 0
		sleep 0.05
	done
	echo "Bail out! the daemon did not start"
	cat "$TMP/daemon.log" | sed 's/^/# /'
	exit 1
}

# wait_ready [SECONDS]: until /readyz answers 200.
wait_ready() {
	local n=$(( ${1:-10} * 20 ))
	for _ in $(seq 1 "$n"); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] && return 0
		sleep 0.05
	done
	return 1
}

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

cleanup() {
	daemon_stop
	[ -n "$PG_PORT" ] && pg_stop
	if [ "$T_FAILED" -ne 0 ] && [ -s "$TMP/daemon.log" ]; then
		echo "# daemon log (last 30 lines):"
		tail -n 30 "$TMP/daemon.log" | sed 's/^/#   /'
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
