#!/usr/bin/env bash
# The bad-input corpus (tests/bad-input): each case's answer and database effect, with
# PostgreSQL up, posted twice (no half-written rows, no retry storm), and again with
# PostgreSQL down and the spool on (every answer is the same, except that what would be
# stored and answered 200 is answered "200 spooled"; an unmappable body is spooled, to
# be kept as failed, and answered 400 as with the database up).
. "$(dirname "$0")/lib.sh"
CORPUS=$ROOT/tests/bad-input
pg_start
migrate
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready

word() { local w; w=$(json_field error); [ -n "$w" ] || w=$(json_field status); echo "$w"; }
for json in "$CORPUS"/*.json; do
	name=$(basename "$json" .json)
	read -r status want stored <"$CORPUS/$name.expect"
	sql "TRUNCATE callbridge.webhook_events, callbridge.event_keys, callbridge.calls CASCADE" >/dev/null
	post simz "$json"
	first="$CODE $(word)"
	post simz "$json"
	second="$CODE $(word)"
	again=$want
	[ "$want" = stored ] && again=duplicate
	is "$first / $second" "$status $want / $status $again" "$name: $status $want, then $status $again"
	rows=$(sql "SELECT count(*) FROM callbridge.webhook_events")
	calls=$(sql "SELECT count(*) FROM callbridge.calls")
	[ "$status" = 200 ] && want_calls=1 || want_calls=0
	is "$rows $calls" "$stored $want_calls" "$name: $stored event(s) and $want_calls call(s) stored"
done

pg_outage
for json in "$CORPUS"/*.json; do
	name=$(basename "$json" .json)
	read -r status want stored <"$CORPUS/$name.expect"
	post simz "$json"
	if [ "$stored" = 1 ] && [ "$status" = 200 ]; then
		is "$CODE $(word)" "200 spooled" "$name, database down: spooled"
	elif [ "$stored" = 1 ]; then
		is "$CODE $(word)" "$status $want" "$name, database down: spooled, answered the same way"
	else
		is "$CODE $(word)" "$status $want" "$name, database down: refused the same way"
	fi
done
kill -0 "$DAEMON_PID" && pass "the daemon is still running" || fail "the daemon is still running"
done_testing
