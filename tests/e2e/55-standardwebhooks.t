#!/usr/bin/env bash
# Interoperability with the reference implementation of Standard Webhooks (the npm
# package standardwebhooks): requests it signs are accepted for Allo v2 and Simple AI;
# tampered ones are refused.
. "$(dirname "$0")/lib.sh"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "1..0 # SKIP node and npm are not installed"
	exit 0
fi
if ! (cd "$TMP" && timeout 180 npm install --silent --no-audit --no-fund standardwebhooks@1 >/dev/null 2>&1); then
	echo "1..0 # SKIP the npm registry is unreachable"
	exit 0
fi
secret=whsec_$(head -c 24 /dev/urandom | base64)
pg_start
migrate
daemon_start CALLBRIDGE_ALLO_SECRET="$secret" CALLBRIDGE_SIMPLEAI_SECRET="whsec_b2xkLXNlY3JldC1yb3RhdGVkLW91dA==,$secret"
wait_ready

# sign FILE ID [SECONDS_AGO]: prints the three headers, as the reference library makes them.
sign() {
	(cd "$TMP" && node -e '
		const { Webhook } = require("standardwebhooks");
		const fs = require("fs");
		const body = fs.readFileSync(process.argv[1], "utf8");
		const when = new Date(Date.now() - 1000 * Number(process.argv[3] || 0));
		const sig = new Webhook(process.argv[4]).sign(process.argv[2], when, body);
		console.log(`webhook-id: ${process.argv[2]}`);
		console.log(`webhook-timestamp: ${Math.floor(when.getTime() / 1000)}`);
		console.log(`webhook-signature: ${sig}`);
	' "$1" "$2" "${3:-0}" "$secret")
}
headers() { local a=(); while IFS= read -r l; do a+=(-H "$l"); done < <(sign "$@"); printf '%s\n' "${a[@]}"; }

printf '{"topic":"call.completed","version":"2.0","timestamp":"2026-05-19T15:02:14Z","data":{"id":"allo-call-1","type":"INBOUND","from_number":"+15550001111"}}' >"$TMP/allo.json"
mapfile -t h < <(headers "$TMP/allo.json" msg_2Jq8)
post allo "$TMP/allo.json" "${h[@]}"
is "$CODE" 200 "Allo v2: signed by the reference library, accepted"
post allo "$TMP/allo.json" "${h[@]}"
is "$CODE $(json_field status)" "200 duplicate" "the same webhook-id again: duplicate"
printf ' ' >>"$TMP/allo.json"
post allo "$TMP/allo.json" "${h[@]}"
is "$CODE $(json_field error)" "401 signature_invalid" "one byte added to the body: refused"
mapfile -t h < <(headers "$TMP/allo.json" msg_old 600)
post allo "$TMP/allo.json" "${h[@]}"
is "$CODE $(json_field error)" "401 signature_stale" "signed ten minutes ago: refused"

printf '{"event_type":"call.completed","event_id":"evt_1","payload":{"call_id":"sa-1","attempt":1}}' >"$TMP/sa.json"
mapfile -t h < <(headers "$TMP/sa.json" msg_sa1)
post simpleai "$TMP/sa.json" "${h[@]}"
is "$CODE" 200 "Simple AI: the second of two rotated secrets matches"
svix=("${h[@]/webhook-/svix-}")
post simpleai "$TMP/sa.json" "${svix[@]}"
is "$CODE" 200 "the same signature under svix-* headers"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events")" 2 "only accepted deliveries stored"
done_testing
