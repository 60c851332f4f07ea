#!/usr/bin/env bash
# Pre-call lookups (docs/precall.md): the platforms ask before a call who is calling, and
# the answer comes from our own tables, across platforms, in their own shapes; tokens
# guard it; a lock on a table it reads, a stuck write path or a database away never
# delays the answer past the budget; every lookup is recorded afterwards.
. "$(dirname "$0")/lib.sh"

pg_start
migrate
TOKENS=(CALLBRIDGE_SIMPLEAI_PRECALL_TOKEN=sa-token CALLBRIDGE_RETELL_PRECALL_TOKEN=rt-token
	CALLBRIDGE_ELEVENLABS_PRECALL_TOKEN_FILE="$TMP/el-token")
printf 'el-token\n' >"$TMP/el-token"
daemon_start "${TOKENS[@]}" CALLBRIDGE_PRECALL_BUDGET_MS=300
wait_ready

# lookup SLUG BODY [curl args...]: POST /precall/SLUG; sets CODE, BODY and SECS.
lookup() {
	local slug=$1 body=$2
	shift 2
	SECS=$(curl -s -o "$TMP/resp" -w '%{http_code} %{time_total}' -X POST --data-binary "$body" "$@" \
		"http://127.0.0.1:$PORT/precall/$slug")
	CODE=${SECS% *}
	SECS=${SECS#* }
	BODY=$(cat "$TMP/resp")
}
# caller PHONE [curl args...]: GET /v1/callers/PHONE with the Retell token.
caller() {
	local phone=$1
	shift
	SECS=$(curl -s -o "$TMP/resp" -w '%{http_code} %{time_total}' -H 'Authorization: Bearer rt-token' "$@" \
		"http://127.0.0.1:$PORT/v1/callers/$phone")
	CODE=${SECS% *}
	SECS=${SECS#* }
	BODY=$(cat "$TMP/resp")
}
# jv PATH: a value of the last answer's JSON (PATH: keys joined by dots); null is "null".
jv() {
	printf '%s' "$BODY" | perl -MJSON::PP -e '
		my $v = eval { decode_json(join "", <STDIN>) };
		for my $k (split /\./, $ARGV[0]) { $v = ref $v eq "HASH" ? $v->{$k} : undef }
		print !defined $v ? "null" : JSON::PP::is_bool($v) ? ($v ? "true" : "false") : ref $v ? "object" : $v' "$1"
}
simpleai() { # simpleai FROM [DIRECTION [TO]]: a Simple AI pre-call request
	printf '{"call":{"from_number":"%s","to_number":"%s","direction":"%s","timestamp":"2026-11-29T12:00:00Z"},"agent":{"id":"agent-uuid","name":"Support Agent"}}' \
		"$1" "${3:-+15550001111}" "${2:-inbound}"
}
SA=(-H 'Authorization: Bearer sa-token')

# ---- auth and routes ----
lookup simpleai "$(simpleai +15557654321)"
is "$CODE|$(jv error)" "401|token_missing" "no token: 401 token_missing"
lookup simpleai "$(simpleai +15557654321)" -H 'Authorization: Bearer wrong'
is "$CODE|$(jv error)" "401|token_invalid" "a wrong token: 401 token_invalid"
lookup simpleai "$(simpleai +15557654321)" -H 'Authorization: Bearer rt-token'
is "$CODE" 401 "another platform's token is not this one's"
lookup simpleai "$(simpleai +15557654321)" -H 'Authorization: Bearer sa-token-and-more'
is "$CODE" 401 "a token that only begins with the right one: 401"
lookup retell '{"event":"call_inbound","call_inbound":{"from_number":"+15557654321"}}' '--url-query' 'token=rt-token'
is "$CODE" 200 "?token= for senders that cannot set a header"
lookup vapi "$(simpleai +15557654321)" "${SA[@]}"
is "$CODE|$(jv error)" "404|unknown_platform" "a platform without a lookup shape: 404"
lookup simpleai/acme "$(simpleai +15557654321)" "${SA[@]}"
is "$CODE|$(jv error)" "404|unknown_source" "an unknown source: 404 unknown_source"
request GET /precall/simpleai "${SA[@]}"
is "$CODE|$(header Allow)" "405|POST" "GET on a lookup route: 405, Allow: POST"
lookup simpleai '{"call":' "${SA[@]}"
is "$CODE|$(jv error)" "400|invalid_json" "a body that is not JSON: 400 invalid_json"
lookup simpleai '{"event":"call.started"}' "${SA[@]}"
is "$CODE|$(jv error)" "400|invalid_request" "not the platform's request shape: 400 invalid_request"
request GET /v1/callers/%2B15557654321
is "$CODE" 401 "/v1/callers needs a token too"

# ---- unknown callers ----
lookup simpleai "$(simpleai '+1 (555) 765-4321')" "${SA[@]}"
is "$CODE|$(jv parameters.known)|$(jv parameters.previous_calls)|$(jv parameters.caller_name)" "200|false|0|" \
	"an unknown caller: 200, known \"false\", previous_calls \"0\""
is "$(printf '%s' "$BODY" | perl -MJSON::PP -e 'my $p = decode_json(join "", <STDIN>)->{parameters}; print scalar(grep { !ref $p->{$_} && defined $p->{$_} } keys %$p)')" 17 \
	"every variable is present, as a string"
lookup simpleai '{"call":{"from_number":null,"direction":"inbound"},"agent":{}}' "${SA[@]}"
is "$CODE|$(jv parameters.known)" "200|false" "a withheld number: the unknown caller's answer"

# ---- known callers, across platforms ----
post simz "$FIX/simz/call_completed.json"
post simz "$FIX/simz/call_audit_completed.json"
post allo "$FIX/allo/contact_created.json"
post allo "$FIX/allo/sms_received.json"
is "$(sql "SELECT count(*) FROM callbridge.calls") $(sql "SELECT count(*) FROM callbridge.contacts")" "1 1" "a SimZ call and an Allo contact are stored"

lookup simpleai "$(simpleai '(555) 765-4321')" "${SA[@]}"
is "$(jv parameters.known)|$(jv parameters.caller_phone)|$(jv parameters.previous_calls)|$(jv parameters.last_call_platform)|$(jv parameters.last_qualified)" \
	"true|+15557654321|1|simz|true" "the SimZ agent's caller is known to the Simple AI agent: calls, platform, audit verdict"
like "$(jv parameters.last_qualified_reason)" "scheduled a callback" "the audit's reason"
like "$(jv parameters.last_call_at)" '^2026-[0-9-]+T[0-9:]+Z$' "the last call's time in ISO 8601 UTC"

for n in '%2B1%20555-765-4321' '15557654321' '5557654321' '001%20555%20765%204321' '555.765.4321' '%2B1%20(555)%20765%204321'; do
	caller "$n"
	is "$CODE|$(jv known)|$(jv phone)|$(jv calls)" "200|true|+15557654321|1" "/v1/callers/$n normalises to the same caller"
done
is "$(jv last_call.platform)|$(jv last_audit.qualified)|$(jv lookup)" "simz|true|ok" "the plain answer nests the last call and audit, typed"

lookup retell '{"event":"call_inbound","call_inbound":{"agent_id":"ag","from_number":"+33 6 12 34 56 78","to_number":"+33187654321"}}' -H 'Authorization: Bearer rt-token'
is "$CODE|$(jv call_inbound.dynamic_variables.known)|$(jv call_inbound.dynamic_variables.caller_name)|$(jv call_inbound.dynamic_variables.caller_company)" \
	"200|true|Claire Martin|Martin & Fils" "Retell's shape: the Allo contact's name and company"
like "$(jv call_inbound.dynamic_variables.last_sms)" '.' "the last SMS of the number"
is "$(jv call_inbound.dynamic_variables.last_sms_direction)" inbound "the last SMS's direction"

lookup elevenlabs '{"caller_id":"0033612345678","agent_id":"ag","called_number":"+33187654321","call_sid":"CA1"}' -H 'Authorization: Bearer el-token'
is "$CODE|$(jv type)|$(jv dynamic_variables.caller_name)" "200|conversation_initiation_client_data|Claire Martin" \
	"ElevenLabs' shape, its token from a _FILE"

lookup simpleai "$(simpleai +15550001111 outbound 5557654321)" "${SA[@]}"
is "$(jv parameters.caller_phone)|$(jv parameters.known)" "+15557654321|true" "an outbound call looks up the callee"

sql "INSERT INTO callbridge.call_audits (call_id, platform, kind, results)
     SELECT id, platform, 'analytics', '{\"follow_up_needed\": true}' FROM callbridge.calls" >/dev/null
lookup simpleai "$(simpleai 5557654321)" "${SA[@]}"
is "$(jv parameters.follow_up)" true "analytics asking for a follow-up: follow_up \"true\""

# ---- never in the way ----
# The write path stuck (a lock on webhook_events): lookups do not wait behind it.
lock_events 60
simz_call stuck_1
(post simz "$TMP/stuck_1.json") &
writer=$!
lookup simpleai "$(simpleai 5557654321)" "${SA[@]}"
is "$CODE|$(jv parameters.known)" "200|true" "a lookup is answered while a write waits on a lock"
at_least_ms=$(perl -e "print int($SECS * 1000)")
if [ "$at_least_ms" -lt 250 ]; then pass "... at once (${at_least_ms} ms)"; else fail "... at once (${at_least_ms} ms)"; fi
unlock_events
wait "$writer"

# A lock on a table the lookup reads: the answer comes at the budget, unknown.
(PGAPPNAME=gate psql -X -q "$DATABASE_URL" -c "BEGIN; LOCK callbridge.contacts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1) &
GATE_PID=$!
wait_for -m "a session holds contacts locked" prints 1 \
	sql "SELECT count(*) FROM pg_locks WHERE relation = 'callbridge.contacts'::regclass AND mode = 'AccessExclusiveLock' AND granted"
lookup simpleai "$(simpleai 5557654321)" "${SA[@]}"
ms=$(perl -e "print int($SECS * 1000)")
is "$CODE|$(jv parameters.known)" "200|false" "a lookup blocked by a lock: 200 with the unknown caller's answer"
if [ "$ms" -ge 250 ] && [ "$ms" -lt 1000 ]; then pass "... at the budget (${ms} ms, budget 300)"; else fail "... at the budget (${ms} ms, budget 300)"; fi
caller 5557654321
is "$CODE|$(jv known)|$(jv lookup)" "200|false|budget_exceeded" "/v1/callers says the budget ran out"
unlock_events
eventually "the connection is free again once the lock goes: known again" \
	prints true sh -c "curl -s -H 'Authorization: Bearer rt-token' http://127.0.0.1:$PORT/v1/callers/5557654321 | perl -MJSON::PP -e 'print decode_json(join q(), <STDIN>)->{known} ? q(true) : q(false)'"

# Every lookup answered is recorded, with its outcome.
eventually "lookups are recorded in precall_lookups, each with its outcome" \
	prints "budget_exceeded known unknown" sql "SELECT string_agg(DISTINCT outcome, ' ' ORDER BY outcome) FROM callbridge.precall_lookups"
is "$(sql "SELECT count(*) > 0 AND bool_and(called_number = '+15550001111' AND agent_id = 'agent-uuid' AND duration_ms >= 0)
            FROM callbridge.precall_lookups WHERE adapter = 'simpleai' AND phone = '+15557654321' AND NOT called_number LIKE '%5557654321'")" t \
	"a record holds the normalised number, the number called, the agent and the time taken"
like "$(metrics)" 'callbridge_precall_lookups_total\{adapter="simpleai",outcome="known"\} [1-9]' "lookups counted by adapter and outcome"
like "$(metrics)" 'callbridge_precall_lookups_total\{adapter="simpleai",outcome="unauthorized"\} [1-9]' "refused lookups counted"

# The database away: the unknown caller's answer at once.
pg_outage
lookup simpleai "$(simpleai 5557654321)" "${SA[@]}"
ms=$(perl -e "print int($SECS * 1000)")
is "$CODE|$(jv parameters.known)" "200|false" "the database away: 200 with the unknown caller's answer"
if [ "$ms" -lt 250 ]; then pass "... at once (${ms} ms)"; else fail "... at once (${ms} ms)"; fi
caller 5557654321
is "$(jv lookup)" unavailable "/v1/callers says the database was unavailable"

# Back: lookups find the caller again without a restart.
pg_start
eventually -t 20 "after the database is back, lookups find the caller again" \
	prints true sh -c "curl -s -H 'Authorization: Bearer rt-token' http://127.0.0.1:$PORT/v1/callers/5557654321 | perl -MJSON::PP -e 'print decode_json(join q(), <STDIN>)->{known} ? q(true) : q(false)'"

# No token configured: the routes exist but refuse.
daemon_stop
daemon_start
request POST /precall/simpleai -d "$(simpleai 5557654321)" -H 'Authorization: Bearer sa-token'
is "$CODE|$(json_field error)" "401|token_invalid" "without a configured token, lookups are refused"
done_testing
