#!/usr/bin/env bash
# The alerting rules of docs/prometheus/alerts.yml: valid for promtool; each shown by
# tests/prometheus/alerts.test.yml to fire on some series and not on others; and every
# metric, selector and unit-test series they rest on is one a running daemon exports, so
# that renaming a metric, a label or a label value fails here instead of leaving an alert
# that can never fire.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || {
	echo "1..0 # skip promtool is not installed (apt-get install prometheus)"
	exit 0
}
RULES=$ROOT/docs/prometheus/alerts.yml
UNIT=$ROOT/tests/prometheus/alerts.test.yml

# ---- the rules and their unit tests ----------------------------------------------------
alerts=$(sed -n 's/^ *- alert: *//p' "$RULES")
out=$(promtool check rules "$RULES" 2>&1)
is "$?|$(grep -o 'SUCCESS: [0-9]* rules found' <<<"$out")" "0|SUCCESS: $(grep -c . <<<"$alerts") rules found" \
	"promtool check rules: every alert valid"
out=$(promtool test rules "$UNIT" 2>&1)
rc=$?
is "$rc" 0 "promtool test rules: every unit test passes"
[ "$rc" = 0 ] || sed 's/^/#   /' <<<"$out" | head -60

# Each case "alertname: X" is followed by its "exp_alerts:", [] or a list: every alert
# needs one of each, and a case for an alert that does not exist would pass unseen.
perl -ne '
	$a = $1 if /^\s*alertname:\s*(\S+)/;
	print "$a ", (/\[\]/ ? "quiet" : "fires"), "\n" if /^\s*exp_alerts:/;
' "$UNIT" | sort -u >"$TMP/cases"
missing=
for a in $alerts; do
	for kind in fires quiet; do
		grep -qx "$a $kind" "$TMP/cases" || missing="$missing $a:$kind"
	done
done
is "$missing" "" "every alert has a unit test where it fires and one where it does not"
unknown=$(cut -d' ' -f1 "$TMP/cases" | sort -u | grep -vxF -f <(echo "$alerts") | paste -sd' ')
is "$unknown" "" "every alert the unit tests name is in alerts.yml"

# Every CALLBRIDGE_ setting the annotations send an operator to is one the daemon has.
"$BIN" config | sed -n 's/^| `\([A-Z0-9_]*\)`.*/\1/p' >"$TMP/settings"
unknown=$(grep -o 'CALLBRIDGE_[A-Z0-9_]*[A-Z0-9]' "$RULES" | sort -u | grep -vxF -f "$TMP/settings" | paste -sd' ')
is "$unknown" "" "every setting alerts.yml names is in callbridge config"

# ---- against a running daemon ----------------------------------------------------------
# The spool on (lib.sh's daemon_start gives it one), one SimZ call stored and one refused
# for its signature: the series the rules read, as the daemon writes them.
pg_start
migrate
daemon_start CALLBRIDGE_ATOMS_SECRET=alerts-test-secret
wait_ready || fail "the daemon is ready"
post simz "$FIX/simz/call_completed.json"
is "$CODE $(json_field status)" "200 stored" "a SimZ delivery is stored"
post atoms "$FIX/simz/call_completed.json"
is "$CODE" 401 "an unsigned Atoms delivery is refused"
wait_for -m "the refusal counted on /metrics" prints 1 metric 'callbridge_signature_failures_total{platform="atoms",reason="missing"}'
metrics >"$TMP/metrics"
like "$(grep -c '^callbridge_' "$TMP/metrics")" '^[1-9][0-9]+$' "/metrics has callbridge series"
# The callbridge_spool_* series are written only with the spool on, and the rules read
# them: without it, the checks below would fail for the daemon's setup, not the rules.
like "$(grep -c '^callbridge_spool_backlog_seconds ' "$TMP/metrics")" '^1$' "the spool is on: /metrics has its series"

# series FILE: each sample's name and labels, the labels sorted, one a line.
series() {
	perl -ne '
		next unless /^(\w+)(?:\{(.*)\})?\s+\S+\s*$/;
		my ($n, $l) = ($1, $2 // "");
		my @l = sort grep { !/^(job|instance)=/ } $l =~ /(\w+="(?:[^"\\]|\\.)*")/g;
		print "$n\{", join(",", @l), "}\n";
	' "$1"
}
series "$TMP/metrics" | sort -u >"$TMP/live"

# Metric names anywhere in alerts.yml (annotations too): each a family on /metrics.
sed -n 's/^# TYPE \([a-z_0-9]*\) .*/\1/p' "$TMP/metrics" | sort -u >"$TMP/families"
names=$(grep -o 'callbridge_[a-z0-9_]*[a-z0-9]' "$RULES" | sort -u)
unknown=$({ grep -vxF -f "$TMP/families" | grep -vxF -f <(sed 's/{.*//' "$TMP/live")
} <<<"$names" | paste -sd' ')
like "$(grep -c . <<<"$names")" '^[1-9]' "alerts.yml names metrics"
is "$unknown" "" "every metric alerts.yml names is on /metrics"

# The unit tests' input series, without job and instance, each a series of /metrics.
sed -n "s/^ *- series: '\\(.*\\)'\$/\\1 0/p" "$UNIT" >"$TMP/unit-series"
unknown=$(series "$TMP/unit-series" | sort -u | grep -vxF -f "$TMP/live" | paste -sd' ')
like "$(grep -c . "$TMP/unit-series")" '^[1-9]' "the unit tests have input series"
is "$unknown" "" "every unit test series is one /metrics has, name and labels"

# Every selector of the rules' expressions matches a series of /metrics, as PromQL matches
# it: promtool evaluates count(<selector>) over the page loaded as its input.
perl -ne '
	if (/^(\s*)expr:\s*(.*?)\s*$/) { ($ind, $e) = (length $1, $2); print "$e\n" unless $e eq "|"; next }
	if (defined $ind) { if (/^(\s*)\S/ && length $1 > $ind) { print } else { undef $ind } }
' "$RULES" | grep -o 'callbridge_[a-z0-9_]*\({[^}]*}\)\{0,1\}' | sort -u >"$TMP/selectors"
like "$(grep -c . "$TMP/selectors")" '^[1-9]' "the rules' expressions have selectors"
{
	echo 'tests:'
	echo '  - interval: 1m'
	echo '    input_series:'
	grep '^callbridge_' "$TMP/metrics" | while read -r s v; do
		printf "      - series: '%s'\n        values: '%s'\n" "$s" "$v"
	done
} >"$TMP/live.test.yml.head"
while read -r sel; do
	{
		cat "$TMP/live.test.yml.head"
		echo '    promql_expr_test:'
		echo "      - expr: 'count($sel) > bool 0'"
		echo '        eval_time: 0m'
		echo '        exp_samples:'
		echo "          - labels: '{}'"
		echo '            value: 1'
	} >"$TMP/live.test.yml"
	out=$(promtool test rules "$TMP/live.test.yml" 2>&1)
	rc=$?
	is "$rc" 0 "the rules' selector $sel matches a series of /metrics"
	[ "$rc" = 0 ] || sed 's/^/#   /' <<<"$out" | head -20
done <"$TMP/selectors"

done_testing
