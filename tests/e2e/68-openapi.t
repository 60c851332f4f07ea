#!/usr/bin/env bash
# docs/openapi.yaml is the HTTP surface as the server has it. The document is valid
# OpenAPI 3.1 (and the validator refuses broken copies); its platforms, error codes and
# endpoints are those of the platform table and docs/http.md; its request examples are
# fixtures, byte for byte as JSON. Against a running server: every path and method it
# describes is served, every other path is 404 and every other method 405 with the
# document's Allow; each example posted gets the answer the document gives it, and every
# answer (status, headers, body) is one the document describes — with no secrets, with
# secrets, a path token and a sources file (signed as the security schemes say: each
# source with its own secret, through its own path token, or refused when it has
# neither), with PostgreSQL away,
# spool on and off, and with an admin listener: each path answers on the listeners its
# servers name (x-listener) and 404 on the others, and /readyz says database_down. The
# pre-call lookups' examples get the document's answers with the lookup tokens configured
# (the secured phase; with a bearer token and with ?token=, without a token, with
# another's; a source's with its token) and 401 without any (the open phase), where any
# other method is 405 all the same. The checks themselves are tests/openapi/check.mjs.
#
# A route added to the server is a document edit plus taking it off PROBES below; the
# test fails while one is served and not described, or described and not served.
. "$(dirname "$0")/lib.sh"
DOC=$ROOT/docs/openapi.yaml
CHECK=$ROOT/tests/openapi

# Paths the document does not have: each must answer 404, to GET and to POST, on every
# listener.
PROBES=(/ /webhooks /webhooks/ /webhooks/nope /webhooks/SIMZ /webhooks/simz// /webhooks/simz/a//
	/webhooks/simz/a/b/c /webhooks/simz/a/b/c/
	/metrics/x /healthz/ /readyz/ /metrics/ /status/ /precall /precall/ /precall/vapi
	/precall/SIMPLEAI /v1 /v1/callers /v1/callers/ /v1/callers/123/x /admin /webhook/simz
	/favicon.ico)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "1..0 # SKIP node and npm are not installed"
	exit 0
fi
# The validator and Ajv, as package-lock.json pins them: installed again only when the
# lock file changed since (npm ci starts from an empty node_modules).
if ! cmp -s "$CHECK/package-lock.json" "$CHECK/node_modules/.installed-lock.json"; then
	if ! (cd "$CHECK" && timeout 300 npm ci --no-audit --no-fund --silent >"$TMP/npm.log" 2>&1); then
		echo "1..0 # SKIP npm ci failed (is the npm registry reachable?): $(tail -n 1 "$TMP/npm.log")"
		exit 0
	fi
	cp "$CHECK/package-lock.json" "$CHECK/node_modules/.installed-lock.json"
fi

# checks ARGS...: runs check.mjs, each of its lines a test (or a diagnostic); fails when it
# did not run to its end or checked nothing.
checks() {
	local line n=0 rc=
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok }" && n=$((n + 1)) ;;
		"not ok "*) fail "${line#not ok }" && n=$((n + 1)) ;;
		"exit "*) rc=${line#exit } ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;; # node's own complaints
		esac
	done < <(node "$CHECK/check.mjs" "$@" 2>&1; echo "exit $?")
	if [ "$rc" != 0 ] || [ "$n" -eq 0 ]; then
		fail "check.mjs $1${5:+ $5} ran to its end (exit $rc, $n checks)"
	fi
}

"$BIN" platforms --json >"$TMP/platforms.json" || fail "callbridge platforms --json"
checks static "$DOC" "$ROOT" "$TMP/platforms.json"

pg_start
migrate
daemon_start
wait_ready || fail "the server is ready"
checks live "$DOC" "$TMP/platforms.json" "$PORT" open "${PROBES[@]}"

# Secrets for every platform, a path token for one, a lookup token for each lookup
# platform: the document's own settings.
mapfile -t secured < <(node "$CHECK/check.mjs" env "$DOC")
like "${secured[*]}" '_PATH_TOKEN=.*_SECRET=.*_PRECALL_TOKEN=' "the document gives a path token, secrets and lookup tokens to configure"
# And a sources file, whose sources the document's examples of the source routes name: one
# signed with its own secret, one that cannot sign (insecure, through its own path token),
# and one with a lookup token alone, which therefore refuses every delivery.
SOURCES=$TMP/sources.ini
cat >"$SOURCES" <<'INI'
[simz.acme]
secret = simz-secret-of-acme-for-the-openapi-test
[allo.umbrella]
insecure = true
path_token = 7d1e0b3a9c55
[simpleai.acme]
token = precall-token-of-simpleai-acme-for-the-openapi-test
INI
CALLBRIDGE_SOURCES_FILE=$SOURCES "$BIN" check-config >"$TMP/check-config.log" 2>&1
is "$?|$(tail -n 1 "$TMP/check-config.log")" "0|configuration ok" "the sources file is one the daemon takes"
daemon_stop
daemon_start "${secured[@]}" CALLBRIDGE_SOURCES_FILE="$SOURCES"
wait_ready || fail "the server is ready with secrets and sources"
CALLBRIDGE_SOURCES_FILE=$SOURCES checks live "$DOC" "$TMP/platforms.json" "$PORT" secured "${PROBES[@]}"

# PostgreSQL away, the spool on: deliveries are spooled.
daemon_stop
daemon_start
wait_ready || fail "the server is ready again"
pg_outage
checks live "$DOC" "$TMP/platforms.json" "$PORT" spooled

# PostgreSQL away, the spool off: 503 with Retry-After, and /readyz says so.
daemon_stop
daemon_start CALLBRIDGE_SPOOL_DIR=
eventually "/readyz: 503 without a database or a spool" prints 503 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz"
checks live "$DOC" "$TMP/platforms.json" "$PORT" unavailable

# An admin listener, PostgreSQL still away and the spool on: /readyz, /metrics and
# /status there only, and /readyz 503 database_down once the database has been away for
# CALLBRIDGE_READY_DB_DOWN_SECONDS.
daemon_stop
ADMIN_PORT=$(free_port)
daemon_start CALLBRIDGE_ADMIN_LISTEN="127.0.0.1:$ADMIN_PORT" CALLBRIDGE_READY_DB_DOWN_SECONDS=1
readyz_error() { curl -s --max-time 10 "http://127.0.0.1:$ADMIN_PORT/readyz" | sed -n 's/^{"error":"\([a-z_]*\)".*/\1/p'; }
eventually "/readyz on the admin listener: database_down after a second without the database" prints database_down readyz_error
checks live "$DOC" "$TMP/platforms.json" "$PORT,$ADMIN_PORT" admin "${PROBES[@]}"
done_testing
