#!/usr/bin/env bash
# Signatures made by an implementation we did not write (OpenSSL's command line): the
# daemon accepts good ones, refuses unsigned, tampered and stale ones with 401 and
# writes nothing for them.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start CALLBRIDGE_SIMZ_SECRET="retired-secret,current-secret" CALLBRIDGE_ATOMS_SECRET=atoms-key \
	CALLBRIDGE_ALLO_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
wait_ready || fail "daemon ready"
like "$(cat "$TMP/daemon.log")" 'no secret or token configured.*platform=replicer' "open platforms are warned about"
if grep -q 'current-secret\|atoms-key\|MfKQ9r8' "$TMP/daemon.log"; then fail "secrets never logged"; else pass "secrets never logged"; fi

body=$FIX/simz/call_completed.json
now=$(date +%s)
sig=$( { printf '%s.' "$now"; cat "$body"; } | openssl dgst -sha256 -hmac current-secret -r | cut -d' ' -f1)
post simz "$body" -H "X-Webhook-Timestamp: $now" -H "X-Webhook-Signature: sha256=$sig"
is "$CODE $(json_field status)" "200 stored" "SimZ: signed with openssl, accepted"
post simz "$FIX/simz/call_audit_completed.json"
is "$CODE $(json_field error)" "401 signature_missing" "SimZ: unsigned refused"
post simz "$FIX/simz/call_audit_completed.json" -H "X-Webhook-Timestamp: $now" -H "X-Webhook-Signature: sha256=$sig"
is "$CODE $(json_field error)" "401 signature_invalid" "SimZ: signature of another body refused"
old=$((now - 600))
sig_old=$( { printf '%s.' "$old"; cat "$body"; } | openssl dgst -sha256 -hmac current-secret -r | cut -d' ' -f1)
post simz "$body" -H "X-Webhook-Timestamp: $old" -H "X-Webhook-Signature: sha256=$sig_old"
is "$CODE $(json_field error)" "401 signature_stale" "SimZ: ten-minute-old timestamp refused"
sig_retired=$( { printf '%s.' "$now"; cat "$body"; } | openssl dgst -sha256 -hmac retired-secret -r | cut -d' ' -f1)
post simz "$body" -H "X-Webhook-Timestamp: $now" -H "X-Webhook-Signature: sha256=$sig_retired"
is "$CODE $(json_field status)" "200 duplicate" "SimZ: either secret accepted during rotation"

printf '{"event":"call.end","call_id":"sig-1","agent_id":"a","timestamp":"2026-05-19T15:02:14Z"}' >"$TMP/atoms.json"
asig=$(openssl dgst -sha256 -hmac atoms-key -r "$TMP/atoms.json" | cut -d' ' -f1)
post atoms "$TMP/atoms.json" -H "X-Signature: $asig"
is "$CODE" 200 "Atoms: hex HMAC of the body accepted"
printf ' ' >>"$TMP/atoms.json"
post atoms "$TMP/atoms.json" -H "X-Signature: $asig"
is "$CODE $(json_field error)" "401 signature_invalid" "Atoms: one added byte refused"

# Standard Webhooks, signed with openssl: key = base64-decoded secret after whsec_.
printf '{"topic":"PING","data":{}}' >"$TMP/allo.json"
keyhex=$(printf '%s' MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw | openssl base64 -d -A | od -An -tx1 | tr -d ' \n')
wsig=$( { printf 'msg_1.%s.' "$now"; cat "$TMP/allo.json"; } | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$keyhex" -binary | openssl base64 -A)
post allo "$TMP/allo.json" -H "webhook-id: msg_1" -H "webhook-timestamp: $now" -H "webhook-signature: v1,bm90IGl0 v1,$wsig"
is "$CODE" 200 "Standard Webhooks: any matching v1 entry accepted"
post allo "$TMP/allo.json" -H "webhook-id: msg_2" -H "webhook-timestamp: $now" -H "webhook-signature: v1,$wsig"
is "$CODE $(json_field error)" "401 signature_invalid" "Standard Webhooks: the id is part of what is signed"

is "$(sql "SELECT count(*) FROM callbridge.webhook_events")" 3 "only the accepted deliveries were stored"
page=$(metrics)
like "$page" 'callbridge_deliveries_total\{platform="simz",outcome="unauthorized"\} 3' "refusals counted"
is "$(printf '%s\n' "$page" | grep '^callbridge_signature_failures_total{platform="simz"' | tr '\n' ' ')" \
	'callbridge_signature_failures_total{platform="simz",reason="missing"} 1 callbridge_signature_failures_total{platform="simz",reason="invalid"} 1 callbridge_signature_failures_total{platform="simz",reason="stale"} 1 callbridge_signature_failures_total{platform="simz",reason="token"} 0 ' \
	"signature failures counted by reason"
daemon_stop

# Overrides: a Stripe-style header for Replicer, a path token for Allo v1 (which signs
# nothing), a bearer token for Simple AI, secrets from files (beside an empty twin, which
# is unset, as a compose file with empty defaults passes it), a tighter tolerance.
printf 'file-secret\n' >"$TMP/replicer.secret"
printf 'p4th-t0ken\n' >"$TMP/allo.token"
daemon_start CALLBRIDGE_REPLICER_SIGNATURE=stripe:X-Sig CALLBRIDGE_REPLICER_SECRET= \
	CALLBRIDGE_REPLICER_SECRET_FILE="$TMP/replicer.secret" CALLBRIDGE_ALLO_PATH_TOKEN= \
	CALLBRIDGE_ALLO_PATH_TOKEN_FILE="$TMP/allo.token" CALLBRIDGE_SIMPLEAI_BEARER_TOKEN=b34rer \
	CALLBRIDGE_SIGNATURE_TOLERANCE_SECONDS=60
wait_ready
printf '{"id":"evt-1","event":"call.ended","timestamp":"2026-04-05T14:04:00Z","data":{"callId":"clx-1"}}' >"$TMP/rep.json"
rsig=$( { printf '%s.' "$now"; cat "$TMP/rep.json"; } | openssl dgst -sha256 -hmac file-secret -r | cut -d' ' -f1)
post replicer "$TMP/rep.json" -H "X-Sig: t=$now,v1=0000000000000000000000000000000000000000000000000000000000000000,v1=$rsig"
is "$CODE" 200 "Stripe-style t=,v1= header with a secret from a file: accepted"
old=$((now - 120))
rsig_old=$( { printf '%s.' "$old"; cat "$TMP/rep.json"; } | openssl dgst -sha256 -hmac file-secret -r | cut -d' ' -f1)
post replicer "$TMP/rep.json" -H "X-Sig: t=$old,v1=$rsig_old"
is "$CODE $(json_field error)" "401 signature_stale" "CALLBRIDGE_SIGNATURE_TOLERANCE_SECONDS=60 refuses two minutes"
printf '{"topic":"PING","data":{}}' >"$TMP/ping.json"
post allo "$TMP/ping.json"
is "$CODE $(json_field error)" "401 token_invalid" "path token required: missing"
post allo/wrong-token "$TMP/ping.json"
is "$CODE $(json_field error)" "401 token_invalid" "path token required: wrong"
post allo/p4th-t0ken "$TMP/ping.json"
is "$CODE" 200 "path token right: accepted"
post allo/p4th-t0ken/ "$TMP/ping.json"
is "$CODE" 200 "trailing slash after the token"
post simz/some-token "$FIX/simz/call_completed.json"
is "$CODE" 404 "a token segment on a route without a token: 404"
printf '{"event_type":"call.started","event_id":"e1","payload":{"call_id":"c1","attempt":1}}' >"$TMP/sa.json"
post simpleai "$TMP/sa.json" -H "Authorization: Bearer nope"
is "$CODE $(json_field error)" "401 token_invalid" "bearer token wrong"
post simpleai "$TMP/sa.json" -H "Authorization: Bearer b34rer"
is "$CODE" 200 "bearer token right"
like "$(metrics)" 'callbridge_signature_failures_total\{platform="simpleai",reason="token"\} 1' "a wrong token counted as reason token"
if grep -q 'file-secret\|p4th-t0ken\|b34rer' "$TMP/daemon.log"; then fail "tokens never logged"; else pass "tokens never logged"; fi
daemon_stop

CALLBRIDGE_ATOMS_SIGNATURE=md5 "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" "^1 callbridge: CALLBRIDGE_ATOMS_SIGNATURE: 'md5' is not one of" "unknown scheme fails start-up, naming the variable"
CALLBRIDGE_ATOMS_SECRET=a CALLBRIDGE_ATOMS_SECRET_FILE=/dev/null "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" "^1 callbridge: CALLBRIDGE_ATOMS_SECRET and CALLBRIDGE_ATOMS_SECRET_FILE are both set" "a secret and its file: refused"
CALLBRIDGE_ATOMS_SECRET_FILE=/nonexistent "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" "^1 callbridge: CALLBRIDGE_ATOMS_SECRET_FILE: cannot read /nonexistent" "an unreadable secret file: refused"
done_testing
