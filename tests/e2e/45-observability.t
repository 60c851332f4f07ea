#!/usr/bin/env bash
# What operators watch: /metrics parsed by Prometheus's own promtool, and one JSON log
# line per delivery with platform, event, dedupe key and outcome — never a body or a
# secret.
. "$(dirname "$0")/lib.sh"
if ! command -v promtool >/dev/null && [ "$(id -u)" = 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; }
fi
pg_start
migrate
daemon_start CALLBRIDGE_LOG_FORMAT=json CALLBRIDGE_LOG_LEVEL=info CALLBRIDGE_ATOMS_SECRET=top-secret-value
wait_ready

marker=BODY-MARKER-$RANDOM$RANDOM
sed "s/LEAD-001/$marker/" "$FIX/simz/call_completed.json" >"$TMP/c.json"
post simz "$TMP/c.json"
post simz "$TMP/c.json"
post simz "$FIX/simz/missing_call_id.json"
printf '{"x":' >"$TMP/bad.json"
post simz "$TMP/bad.json"
post atoms "$FIX/simz/call_completed.json"
wait_for -m "a log line for each of the five deliveries" at_least 5 grep -c '"msg":"delivery' "$TMP/daemon.log"

# Every line is one JSON object; delivery lines carry the four fields.
bad=$(perl -MJSON::PP -ne 'eval { decode_json($_); 1 } or print' "$TMP/daemon.log" | wc -l)
is "$bad" 0 "every log line is a JSON object"
lines=$(perl -MJSON::PP -ne 'my $o = decode_json($_); print join("|", $o->{msg}, $o->{level}, $o->{platform} // "", $o->{event} // "", $o->{outcome} // $o->{error} // "", defined $o->{dedupe_key} ? "key" : "nokey"), "\n" if $o->{msg} =~ /^delivery/' "$TMP/daemon.log")
is "$lines" "delivery|info|simz|call.completed|stored|key
delivery|info|simz|call.completed|duplicate|key
delivery|info|simz|call.completed|unmappable|key
delivery refused|info|simz||invalid_json|nokey
delivery refused|info|atoms||signature_missing|nokey" "one line per delivery with platform, event, dedupe key and outcome"
if grep -q "$marker" "$TMP/daemon.log"; then fail "bodies never logged"; else pass "bodies never logged"; fi
if grep -q "top-secret-value" "$TMP/daemon.log"; then fail "secrets never logged"; else pass "secrets never logged"; fi

metrics >"$TMP/metrics"
if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$TMP/metrics" 2>&1)
	is "$?|$out" "0|" "promtool check metrics: valid, no lint problems"
else
	echo "ok $((T_COUNT += 1)) # SKIP promtool not installed (apt-get install prometheus)"
fi
m=$(cat "$TMP/metrics")
like "$m" 'callbridge_events_total\{platform="simz",event_type="call.completed",outcome="stored"\} 1' "deliveries by platform, event type and outcome"
like "$m" 'callbridge_deliveries_total\{platform="atoms",outcome="unauthorized"\} 1' "signature failures counted"
like "$m" 'callbridge_delivery_seconds_count 5' "latency histogram counts every delivery"
like "$m" 'callbridge_batch_size_count [1-9]' "batch sizes"
like "$m" 'callbridge_inflight 0' "in flight"
like "$m" 'callbridge_database_up 1' "database up"
like "$m" 'callbridge_spool_bytes 0' "spool bytes"

# The default level writes nothing per delivery.
daemon_stop
: >"$TMP/daemon.log"
daemon_start CALLBRIDGE_LOG_LEVEL=notice
wait_ready
post simz "$FIX/simz/call_audit_completed.json"
is "$(grep -c delivery "$TMP/daemon.log")" 0 "at the default level no line per delivery"
like "$(cat "$TMP/daemon.log")" 'notice listening' "the daemon's own life is logged at notice"
done_testing
