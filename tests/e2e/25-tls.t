#!/usr/bin/env bash
# Native TLS, for deployments without a proxy: a real TLS client (curl) posts over
# HTTPS with a certificate made here; plain HTTP to the TLS port gets nowhere.
. "$(dirname "$0")/lib.sh"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
pg_start
migrate
daemon_start CALLBRIDGE_TLS_CERT_FILE="$TMP/cert.pem" CALLBRIDGE_TLS_KEY_FILE="$TMP/key.pem"
code=$(curl -s -o "$TMP/out" -w '%{http_code}' --cacert "$TMP/cert.pem" -X POST \
	--data-binary @"$FIX/simz/call_completed.json" "https://127.0.0.1:$PORT/webhooks/simz")
is "$code $(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' "$TMP/out")" "200 stored" "HTTPS POST verified against the certificate: stored"
ver=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/cert.pem" --tls-max 1.1 "https://127.0.0.1:$PORT/healthz")
is "$ver" 000 "TLS 1.1 refused"
plain=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
is "$plain" 000 "plain HTTP to the TLS port gets no answer"
like "$(cat "$TMP/daemon.log")" 'listening .*tls=on' "start-up says TLS is on"
CALLBRIDGE_TLS_CERT_FILE="$TMP/cert.pem" DATABASE_URL=$DATABASE_URL "$BIN" serve >"$TMP/x" 2>&1
like "$? $(tail -n 1 "$TMP/x")" '^1 callbridge: CALLBRIDGE_TLS_CERT_FILE and CALLBRIDGE_TLS_KEY_FILE go together' "a certificate without a key: start-up fails"
CALLBRIDGE_TLS_CERT_FILE="$TMP/key.pem" CALLBRIDGE_TLS_KEY_FILE="$TMP/key.pem" PORT=$(free_port) "$BIN" serve >"$TMP/x" 2>&1
like "$? $(tail -n 1 "$TMP/x")" '^1 callbridge: CALLBRIDGE_TLS_CERT_FILE/CALLBRIDGE_TLS_KEY_FILE: ' "a bad certificate: start-up fails with OpenSSL's reason"
done_testing
