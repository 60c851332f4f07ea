#!/usr/bin/env bash
# Differential framing test against a strict parser: every case of the raw-request corpus
# (tests/http/corpus, trailing smuggled delivery included) goes to Node's built-in HTTP
# server (llhttp, insecureHTTPParser false: tests/http/llhttp-server.js) and to
# callbridge. Callbridge must never dispatch a request llhttp refuses: per case, the
# requests callbridge answered other than with a framing refusal are at most as many as
# llhttp parsed to their end and dispatched, and as many for the well-formed cases.
. "$(dirname "$0")/lib.sh"
HTTP=$ROOT/tests/http
export PYTHONDONTWRITEBYTECODE=1
command -v node >/dev/null || {
	echo "1..0 # skip node is not installed"
	exit 0
}
pg_start
migrate
daemon_start CALLBRIDGE_MAX_BODY_BYTES=4096 # what the corpus assumes
wait_ready || fail "daemon ready"

# Per case: name, kind, callbridge's count, node's count, node's clientError, callbridge's
# answers (see tests/http/llhttp-diff.py).
python3 "$HTTP/llhttp-diff.py" --port "$PORT" "$HTTP/corpus.tsv" "$HTTP/corpus" >"$TMP/diff.out"
total=0 agree=0 stricter=0
declare -A NODE_ERR NODE_N
while IFS=$'\t' read -r name kind cb node err answers; do
	total=$((total + 1))
	NODE_ERR[$name]=$err
	NODE_N[$name]=$node
	if [ "$node" = "?" ]; then
		fail "$name: llhttp's record of the connection"
		continue
	fi
	[ "$cb" = "$node" ] && agree=$((agree + 1))
	[ "$cb" -lt "$node" ] && stricter=$((stricter + 1))
	if [ "$kind" = valid ]; then
		is "$cb" "$node" "$name (well-formed): callbridge dispatches as many requests as llhttp ($node)"
	elif [ "$cb" -le "$node" ]; then
		pass "$name ($kind): callbridge dispatches $cb, llhttp $node${err:+ ($err)}"
	else
		fail "$name ($kind): callbridge dispatches $cb, llhttp $node${err:+ ($err)}"
		diag "  callbridge answered: $answers"
	fi
done <"$TMP/diff.out"
is "$total" "$(grep -vc '^#' "$HTTP/corpus.tsv")" "every corpus case ran on both servers"

# The reference must really be strict and really count, or every comparison above is void.
like "${NODE_ERR[te-cl]:-}" '^HPE_' "llhttp refuses Content-Length with Transfer-Encoding (${NODE_ERR[te-cl]:-no error})"
like "${NODE_ERR[lf-header-line]:-}" '^HPE_' "llhttp refuses a bare LF line end (${NODE_ERR[lf-header-line]:-no error})"
is "${NODE_N[ok-pipeline]:-}" 5 "llhttp dispatches all five requests of ok-pipeline"

diag "$agree of $total cases agree; $stricter cases callbridge is stricter"
kill -0 "$DAEMON_PID" && pass "daemon still running" || fail "daemon still running"
done_testing
