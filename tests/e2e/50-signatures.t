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
like "$(cat "$TMP/daemon.log")" 'no signing secret configured.*platform=replicer' "open platforms are warned about"
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
like "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'callbridge_deliveries_total\{platform="simz",outcome="unauthorized"\} 3' "refusals counted"
done_testing
