#!/usr/bin/env bash
# Sources (docs/sources.md): several accounts of one platform, each on its own route with
# its own secrets and its tag on every row; the same ids in two accounts stay two rows;
# SIGHUP reloads the file — secret rotation, a reload under load with nothing failed or
# lost, a bad file refused while the sources in force stay; check-config names the line;
# and a client's database role reads its own source's rows only.
. "$(dirname "$0")/lib.sh"

pg_start
migrate
SRC=$TMP/sources.ini
printf 'globex-secret\n' >"$TMP/globex.secret"
write_sources() { # write_sources ACME-SECRETS: the sources file, acme's secrets as given
	cat >"$SRC.new" <<-EOF
		; two clients of one SimZ account type, an insecure Allo account, one with no secret
		[simz.acme]
		secret = $1

		[simz.globex]
		secret = file:$TMP/globex.secret   ; read from a file
		tolerance = 600

		[simz.load]
		insecure = true

		[allo.umbrella]
		insecure = yes

		[atoms.nosecret]

		[simpleai.acme]
		token = env:ACME_PRECALL
		precall_scope = source
		insecure = true

		[simpleai.globex]
		token = globex-precall
		insecure = true

		[allo.paris]
		insecure = true
		timezone = Europe/Paris
	EOF
	mv "$SRC.new" "$SRC" # whole, never half-written, when SIGHUP comes
}
write_sources 'env:ACME_OLD'
export ACME_OLD=acme-old ACME_NEW=acme-new ACME_PRECALL=acme-precall

# sign_simz SECRET FILE: the SimZ signature headers of FILE, as curl arguments, in SIG.
sign_simz() {
	local now sig
	now=$(date +%s)
	sig=$( { printf '%s.' "$now"; cat "$2"; } | openssl dgst -sha256 -hmac "$1" -r | cut -d' ' -f1)
	SIG=(-H "X-Webhook-Timestamp: $now" -H "X-Webhook-Signature: sha256=$sig")
}

# ---- check-config ----
out=$(CALLBRIDGE_SOURCES_FILE=$SRC "$BIN" check-config 2>&1)
is "$?|$(printf '%s' "$out" | tail -n 1)" "0|configuration ok" "check-config: the file is valid"
printf '[simz.acme]\nsecret = x\n[simz.Bad]\n' >"$TMP/bad.ini"
out=$(CALLBRIDGE_SOURCES_FILE=$TMP/bad.ini "$BIN" check-config 2>&1)
is "$?|$out" "1|callbridge: $TMP/bad.ini:3: [simz.Bad]: a source name is 1 to 64 of a-z, 0-9, _ and -" \
	"check-config: a bad file, exit 1 and its line"
printf '[allo.mars]\ninsecure = true\ntimezone = Mars/Olympus_Mons\n' >"$TMP/mars.ini"
out=$(CALLBRIDGE_SOURCES_FILE=$TMP/mars.ini "$BIN" check-config 2>&1)
like "$?|$out" "^1\|callbridge: $TMP/mars.ini:3: timezone: " "check-config: a source's unknown time zone, with its line"
out=$(CALLBRIDGE_SOURCES_FILE=$SRC ACME_OLD= "$BIN" check-config 2>&1)
is "$?|$out" "1|callbridge: $SRC:3: secret: ACME_OLD is not set" "check-config: env: of an unset variable"

daemon_start CALLBRIDGE_SOURCES_FILE="$SRC" CALLBRIDGE_WORKERS=2 # reloads meet requests on two loops
wait_ready
like "$(cat "$TMP/daemon.log")" 'insecure source: anyone can post to its route platform=allo source=umbrella' "an insecure source is logged"
like "$(cat "$TMP/daemon.log")" 'source without a secret or token.*platform=atoms source=nosecret' "a source without a secret is logged"

# ---- routes, secrets, rows ----
body=$FIX/simz/call_completed.json
sign_simz acme-old "$body"
post simz/acme "$body" "${SIG[@]}"
is "$CODE|$(json_field status)" "200|stored" "acme's route, signed with acme's secret: stored"
post simz/acme "$body" "${SIG[@]}"
is "$CODE|$(json_field status)" "200|duplicate" "again: a duplicate of acme's"
sign_simz globex-secret "$body"
post simz/acme "$body" "${SIG[@]}"
is "$CODE|$(json_field error)" "401|signature_invalid" "globex's secret on acme's route: 401"
post simz/globex "$body" "${SIG[@]}"
is "$CODE|$(json_field status)" "200|stored" "the same event on globex's route: stored, not a duplicate of acme's"
post simz "$body"
is "$CODE|$(json_field status)" "200|stored" "and on the default route (no secret): stored"
is "$(sql "SELECT string_agg(source || ':' || delivery_count, ',' ORDER BY source) FROM callbridge.webhook_events")" \
	"acme:2,default:1,globex:1" "de-duplication is per source"
is "$(sql "SELECT string_agg(source, ',' ORDER BY source) FROM callbridge.calls WHERE external_id = '$CALL_ID'")" \
	"acme,default,globex" "one call id in three sources: three rows, each tagged"
post simz "$FIX/simz/call_audit_completed.json"
sign_simz acme-old "$FIX/simz/call_audit_completed.json"
post simz/acme "$FIX/simz/call_audit_completed.json" "${SIG[@]}"
is "$(sql "SELECT string_agg(a.source || '=' || c.source, ',' ORDER BY a.source) FROM callbridge.call_audits a JOIN callbridge.calls c ON c.id = a.call_id")" \
	"acme=acme,default=default" "an audit lands on its own source's call"
is "$(sql "SELECT count(*) FROM callbridge.transcript_segments s JOIN callbridge.calls c ON c.id = s.call_id WHERE s.source <> c.source")" 0 \
	"transcript segments carry their call's source"

post simz/nope "$body"
is "$CODE|$(json_field error)" "404|unknown_source" "an unknown source: 404 unknown_source"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE source = 'nope'")" 0 "... and nothing stored"
post atoms/nosecret "$FIX/atoms/seed_call_end.json"
is "$CODE|$(json_field error)" "401|signature_missing" "a source with no secret, not insecure: refused"
post allo/umbrella "$FIX/allo/contact_created.json"
is "$CODE|$(json_field status)" "200|stored" "an insecure source takes unsigned deliveries"
like "$(metrics)" 'callbridge_source_deliveries_total\{platform="simz",source="acme",outcome="stored"\} 2' \
	"metrics count by source"

# ---- a source's time zone ----
allo_call() { printf '{"topic":"CALL_RECEIVED","data":{"id":"%s","start_date":"2026-07-01 09:00:00","from_number":"+33600000003","to":"+33100000000","type":"INBOUND"}}' "$1" >"$TMP/$1.json"; }
allo_call tz-paris
post allo/paris "$TMP/tz-paris.json"
allo_call tz-utc
post allo "$TMP/tz-utc.json"
is "$(sql "SELECT string_agg(external_id || '=' || to_char(started_at AT TIME ZONE 'UTC', 'HH24:MI'), ',' ORDER BY external_id) FROM callbridge.calls WHERE external_id LIKE 'tz-%'")" \
	"tz-paris=07:00,tz-utc=09:00" "an offset-less time in the source's zone (Europe/Paris), the default source's in UTC"

# ---- pre-call lookups per source ----
lookup() { # lookup PATH TOKEN: sets CODE and BODY
	CODE=$(curl -s -o "$TMP/resp" -w '%{http_code}' -H "Authorization: Bearer $2" -X POST \
		--data-binary '{"call":{"from_number":"+1 555 765 4321","direction":"inbound"},"agent":{"id":"a"}}' \
		"http://127.0.0.1:$PORT$1")
	BODY=$(cat "$TMP/resp")
}
lookup /precall/simpleai/acme acme-precall
is "$CODE|$(json_field known)|$(json_field previous_calls)" "200|true|1" \
	"a lookup on acme's route with acme's token (precall_scope = source): acme's call only"
lookup /precall/simpleai/globex globex-precall
is "$CODE|$(json_field previous_calls)" "200|3" "globex's lookups see every source (the default scope)"
lookup /precall/simpleai/globex acme-precall
is "$CODE|$(json_field error)" "401|token_invalid" "acme's token on globex's route: 401"
lookup /precall/simpleai acme-precall
is "$CODE" 401 "a source's token is not the default source's"
CODE=$(curl -s -o "$TMP/resp" -w '%{http_code}' -H 'Authorization: Bearer acme-precall' "http://127.0.0.1:$PORT/v1/callers/5557654321")
BODY=$(cat "$TMP/resp")
is "$CODE|$(json_field calls)" "200|1" "/v1/callers with acme's token: acme's rows only"

# ---- rotation: add the new secret, reload, switch, remove the old, reload ----
write_sources 'env:ACME_OLD, env:ACME_NEW'
kill -HUP "$DAEMON_PID"
wait_for -m "the reload is logged" at_least 1 grep -c 'sources file reloaded' "$TMP/daemon.log"
simz_call rot_1
sign_simz acme-new "$TMP/rot_1.json"
post simz/acme "$TMP/rot_1.json" "${SIG[@]}"
is "$CODE" 200 "rotation: the new secret is accepted once added"
simz_call rot_2
sign_simz acme-old "$TMP/rot_2.json"
post simz/acme "$TMP/rot_2.json" "${SIG[@]}"
is "$CODE" 200 "rotation: the old one still, until it is removed"
write_sources 'env:ACME_NEW'
kill -HUP "$DAEMON_PID"
wait_for -m "the second reload is logged" at_least 2 grep -c 'sources file reloaded' "$TMP/daemon.log"
simz_call rot_3
sign_simz acme-old "$TMP/rot_3.json"
post simz/acme "$TMP/rot_3.json" "${SIG[@]}"
is "$CODE|$(json_field error)" "401|signature_invalid" "rotation: the old secret refused once removed"
sign_simz acme-new "$TMP/rot_3.json"
post simz/acme "$TMP/rot_3.json" "${SIG[@]}"
is "$CODE" 200 "rotation: the new one accepted"

# ---- a bad file on reload: refused, the sources in force stay ----
cp "$SRC" "$TMP/good.ini"
printf '[simz.acme]\nsecret = env:ACME_NEW\nsecert = typo\n' >"$SRC"
kill -HUP "$DAEMON_PID"
wait_for -m "the bad file is refused, with its line" at_least 1 grep -c "sources file refused.*sources.ini:3: unknown key 'secert'" "$TMP/daemon.log"
simz_call bad_1
sign_simz globex-secret "$TMP/bad_1.json"
post simz/globex "$TMP/bad_1.json" "${SIG[@]}"
is "$CODE" 200 "after a refused reload, a source the bad file lacks still works"
cp "$TMP/good.ini" "$SRC"

# ---- a reload under load: nothing failed, nothing lost ----
simz_calls hup 400
(seq 1 400 | xargs -P 8 -I{} sh -c "echo {} \$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @$TMP/hup_{}.json http://127.0.0.1:$PORT/webhooks/simz/load)" >"$TMP/hup.codes") &
load=$!
reloads=0
while kill -0 "$load" 2>/dev/null; do
	kill -HUP "$DAEMON_PID"
	reloads=$((reloads + 1))
	sleep 0.05
done
wait "$load"
is "$(awk '$2 == 200' "$TMP/hup.codes" | wc -l | tr -d ' ')" 400 "400 deliveries during $reloads reloads: every one answered 200"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE source = 'load' AND external_id LIKE 'hup\\_%'")" 400 "... and every one is a row of its source"
kill -0 "$DAEMON_PID" && pass "the daemon is still running" || fail "the daemon is still running"

# ---- each client reads its own rows ----
sql "CREATE ROLE client_acme LOGIN; CREATE ROLE client_globex LOGIN; CREATE ROLE analyst LOGIN;
     SELECT callbridge.grant_source_reader('client_acme', 'acme');
     SELECT callbridge.grant_source_reader('client_globex', 'globex');
     GRANT USAGE ON SCHEMA callbridge TO analyst; GRANT SELECT ON ALL TABLES IN SCHEMA callbridge TO analyst" >/dev/null
as_role() { psql -X -q -tA -v ON_ERROR_STOP=1 "${DATABASE_URL/postgres@/$1@}" -c "$2" 2>&1; }
is "$(as_role client_acme "SELECT string_agg(DISTINCT source, ',') FROM callbridge.calls")" acme "client_acme reads acme's calls only"
is "$(as_role client_acme "SELECT count(*) FROM callbridge.calls WHERE source <> 'acme'")" 0 "another source's calls: nothing"
is "$(as_role client_acme "SELECT count(*) FROM callbridge.webhook_events WHERE source = 'globex'")" 0 "another source's raw events: nothing"
is "$(as_role client_acme "SELECT count(*) FROM callbridge.call_audits WHERE source <> 'acme'")" 0 "another source's audits: nothing"
is "$(as_role client_acme "SELECT count(*) FROM callbridge.call_facts WHERE source <> 'acme'")" 0 "the call_facts view too"
is "$(as_role client_globex "SELECT string_agg(DISTINCT source, ',') FROM callbridge.webhook_events")" globex "client_globex reads globex's events only"
like "$(as_role client_acme "SELECT count(*) FROM callbridge.source_readers")" "permission denied" "a client cannot list the other clients"
like "$(as_role client_acme "UPDATE callbridge.calls SET summary = 'x'")" "permission denied" "a client cannot write"
is "$(as_role analyst "SELECT count(DISTINCT source) FROM callbridge.calls")" 5 "a role not limited to sources reads them all, as before"
is "$(sql "SELECT count(DISTINCT source) FROM callbridge.calls")" 5 "the daemon's role too"

# ---- reports and export by source ----
rep=$(bash "$ROOT/scripts/report.sh" daily_call_volume -v source=acme 2>&1)
like "$rep" 'simz' "a report for one source"
is "$(psql -X -q -tA "$DATABASE_URL" -v source=acme -f "$ROOT/sql/reports/daily_call_volume.sql" | awk -F'|' '{s += $5} END {print s}')" \
	"$(sql "SELECT count(*) FROM callbridge.calls WHERE source = 'acme'")" "daily_call_volume -v source=acme counts acme's calls only"
exp=$("$BIN" export --table calls --since 0 --source acme)
is "$(printf '%s\n' "$exp" | grep -c '"source":"acme"')" "$(sql "SELECT count(*) FROM callbridge.calls WHERE source = 'acme'")" "export --source acme: acme's calls"
is "$(printf '%s\n' "$exp" | grep -v '"cursor"' | grep -vc '"source":"acme"')" 0 "... and no other source's"
done_testing
