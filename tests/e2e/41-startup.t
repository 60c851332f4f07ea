#!/usr/bin/env bash
# Start-up against a database that accepts connections and never answers: every
# command gives up within CALLBRIDGE_DB_CONNECT_TIMEOUT_SECONDS with a clear reason (a
# connect_timeout in DATABASE_URL wins), and the server serves (spooling) rather than
# hang. And unknown CALLBRIDGE_* settings warn whether they come from the environment or
# from .env.
. "$(dirname "$0")/lib.sh"

SILENT=$(free_port)
perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
				      Listen => 64, ReuseAddr => 1) or die "listen: $!";
	my @held;
	while (my $c = $s->accept) { push @held, $c } # accepted, never answered
' "$SILENT" &
LISTENER=$!
trap 'kill "$LISTENER" 2>/dev/null; cleanup' EXIT
wait_for -t 5 -m "the silent listener is up" listening "$SILENT"
URL="postgresql://postgres@127.0.0.1:$SILENT/callbridge"

# run NAME TIMEOUT_SETTING URL ARGS...: runs bin/callbridge ARGS (bounded at 30 s, so
# that a hang fails rather than blocks); sets RC, SECS (elapsed) and ERR (its stderr).
run() {
	local setting=$1 url=$2 t0 t1
	shift 2
	t0=$(date +%s%N)
	env CALLBRIDGE_DB_CONNECT_TIMEOUT_SECONDS="$setting" DATABASE_URL="$url" \
		timeout 30 "$BIN" "$@" >/dev/null 2>"$TMP/err"
	RC=$?
	t1=$(date +%s%N)
	SECS=$(((t1 - t0) / 1000000000))
	ERR=$(cat "$TMP/err")
}

for cmd in migrate "export --table calls --since 0" replay; do
	# shellcheck disable=SC2086
	run 2 "$URL" $cmd
	name=${cmd%% *}
	if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; then pass "$name: exits non-zero"; else fail "$name: exits non-zero (rc $RC)"; fi
	if [ "$SECS" -lt 4 ]; then pass "$name: within the timeout + 2 s"; else fail "$name: within the timeout + 2 s (took $SECS s)"; fi
	like "$ERR" 'cannot connect to PostgreSQL \(no answer within CALLBRIDGE_DB_CONNECT_TIMEOUT_SECONDS\): .*timeout expired' "$name: says why"
done

run 60 "$URL?connect_timeout=2" migrate
if [ "$RC" -ne 0 ] && [ "$SECS" -lt 4 ]; then pass "a connect_timeout in DATABASE_URL wins over the setting"; else
	fail "a connect_timeout in DATABASE_URL wins over the setting (rc $RC, $SECS s)"
fi
run 2 "host=127.0.0.1 port=$SILENT user=postgres dbname=callbridge" migrate
if [ "$RC" -ne 0 ] && [ "$SECS" -lt 4 ]; then pass "a key=value DATABASE_URL gets the timeout too"; else
	fail "a key=value DATABASE_URL gets the timeout too (rc $RC, $SECS s)"
fi

# The server does not wait for the schema check: it warns and serves, spooling.
t0=$(date +%s%N)
daemon_start DATABASE_URL="$URL" CALLBRIDGE_DB_CONNECT_TIMEOUT_SECONDS=2
secs=$((($(date +%s%N) - t0) / 1000000000))
if [ "$secs" -lt 4 ]; then pass "serve: listening within the timeout + 2 s"; else fail "serve: listening within the timeout + 2 s (took $secs s)"; fi
like "$(cat "$TMP/daemon.log")" 'cannot check the database schema now; serving anyway.*timeout expired' "serve: the schema check says why it gave up"
post simz "$FIX/simz/call_completed.json"
is "$CODE $(json_field status)" "200 spooled" "serve: deliveries are spooled meanwhile"
daemon_stop

# Several hosts, the first silent: libpq's connect_timeout does not bound the writer's
# non-blocking attempts, so after one times out the next begins with the next host.
pg_start
migrate
t0=$(date +%s%N)
daemon_start DATABASE_URL="postgresql://postgres@127.0.0.1:$SILENT,127.0.0.1:$PG_PORT/callbridge" \
	CALLBRIDGE_DB_CONNECT_TIMEOUT_SECONDS=1 CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
eventually -t 15 "two hosts, the first silent: the writer reaches the second" prints 1 metric callbridge_database_up
diag "connected after $((($(date +%s%N) - t0) / 1000000)) ms"
simz_call hosts_1
post simz "$TMP/hosts_1.json"
is "$CODE $(json_field status)" "200 stored" "and stores there"
like "$(cat "$TMP/daemon.log")" "a database host did not answer in time.*port=$SILENT" "the silent host is named"
daemon_stop

# Unknown settings: the environment's and .env's alike, each named with where it is.
mkdir -p "$TMP/app"
printf 'CALLBRIDGE_BATCH_MAXX=64\nCALLBRIDGE_BATCH_MAX=32\nexport CALLBRIDGE_SPOLL_DIR=/tmp/x\nCALLBRIDGE_SIMZ_SECRET=s\n' >"$TMP/app/.env"
(cd "$TMP/app" && env -u DATABASE_URL CALLBRIDGE_RETRY_AFTER_SECS=3 "$BIN" migrate) >/dev/null 2>"$TMP/err"
err=$(cat "$TMP/err")
like "$err" 'unknown setting ignored \(a typo\?\) name=CALLBRIDGE_BATCH_MAXX in=\.env' "a typo in .env warns"
like "$err" 'name=CALLBRIDGE_SPOLL_DIR in=\.env' "a typo after export in .env warns"
like "$err" 'name=CALLBRIDGE_RETRY_AFTER_SECS in=environment' "a typo in the environment warns"
is "$(grep -c 'unknown setting' "$TMP/err")" 3 "nothing else warns (known and platform names are fine)"
done_testing
