#!/usr/bin/env bash
# The SQL reports (sql/reports, run by scripts/report.sh) and the call_facts view
# (migration 0002): a fixed set of calls, messages and contacts of every platform is
# posted through the daemon, then each report is run with fixed parameters and its
# output compared with tests/reports/<name>.expected, worked out by hand from the data
# below (the arithmetic is in the comments of this file).
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start
wait_ready || fail "daemon ready"

REPORT=$ROOT/scripts/report.sh
EXPECTED=$ROOT/tests/reports
SENT=()     # "slug file" of every payload posted
NOT_STORED= # payloads not answered "200 stored"

# send SLUG < JSON: posts the payload, remembers it for the duplicate round.
send() {
	local file=$TMP/payload_${#SENT[@]}.json
	cat >"$file"
	SENT+=("$1 $file")
	post "$1" "$file"
	[ "$CODE $(json_field status)" = "200 stored" ] || NOT_STORED+=" $1:$(basename "$file")=$CODE:$BODY"
}

# check_report NAME [psql args...]: the report's unaligned output equals NAME.expected
# (@TODAY@ there stands for today's date in UTC, see contact_growth).
check_report() {
	local name=$1 got want
	shift
	got=$(REPORT_FORMAT=unaligned "$REPORT" "$name" "$@" 2>&1)
	want=$(sed "s/@TODAY@/${TODAY:-@TODAY@}/g" "$EXPECTED/$name.expected")
	if [ "$got" == "$want" ]; then
		pass "report $name as expected"
	else
		fail "report $name as expected"
		diff -u <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed 's/^/#   /'
	fi
}

# ---- the data ---------------------------------------------------------------------------
# call  platform agent          dir  status     day(UTC)    dur   succ  qualified sentiment campaign
# sz-0  simz     agent-a        out  Completed  05-18       100   -     -         -         spring (before the range)
# sz-1  simz     agent-a        out  Completed  05-19 09:00 120   -     true      -         spring
# sz-2  simz     agent-a        out  No Answer  05-19 10:00 0     -     -         -         spring
# sz-3  simz     agent-a        in   Completed  05-20 14:00 300   -     false     -         fall
# sz-4  simz     agent-b        out  (none)     05-20 16:00 45    -     true      -         -
# sz-5  simz     agent-b        out  Completed  05-19 18:00 80    -     true      -         spring
# rp-1  replicer rep-1          out  completed  05-19 11:00 60    true  -         positive  summer (campaign_id)
# rp-2  replicer rep-1          in   completed  05-20 02:30 30    false -         negative  fall (campaignTag wins over campaign_id summer)
# rp-3  replicer rep-1          out  busy       05-20 15:00 0     false -         -         -
# rp-4  replicer rep-1          out  completed  05-20 16:00 90    true  -         Positive  summer
# rp-5  replicer rep-2          in   completed  05-20 09:00 200   true  -         neutral   -
# rp-6  replicer rep-2          in   failed     05-19 20:00 0     -     -         mixed     -
# at-1  atoms    atoms-agent-1  out  completed  05-19 12:00 50.5  -     -         -         spring (answered_at only)
# at-2  atoms    atoms-agent-1  in   no_answer  05-19 13:00 0     -     -         -         - (ended_at only)
# al-1  allo     sam@allo...    in   ANSWERED   05-19 16:00 120   true  -         -         summer (campaign_id)
# al-2  allo     sam@allo...    in   VOICEMAIL  05-20 17:00 30    false -         -         7 (campaign_id, a number)
# Connected: every call but sz-2 (no answer), rp-3 (busy), rp-6 (failed), at-2 (no
# answer) and al-2 (voicemail, although it lasted 30 s); sz-4 by its duration alone.

send simz <<'JSON'
{"event":"call.completed","callId":"sz-0","agentId":"agent-a","companyId":"comp-1","status":"Completed","timestamp":"2026-05-18T09:05:00Z","call":{"direction":"Outbound","callerNumber":"+15550100000","toNumber":"+15550100010","callDateTime":"2026-05-18T09:00:00Z","durationSeconds":100},"lead":{"customData":{"campaignTag":"spring"}}}
JSON
send simz <<'JSON'
{"event":"call.completed","callId":"sz-1","agentId":"agent-a","companyId":"comp-1","status":"Completed","timestamp":"2026-05-19T09:05:00Z","call":{"direction":"Outbound","callerNumber":"+15550100000","toNumber":"+15550100011","callDateTime":"2026-05-19T09:00:00Z","durationSeconds":120,"billedDurationMinutes":2},"lead":{"customData":{"campaignTag":"spring"}}}
JSON
send simz <<'JSON'
{"event":"call.audit.completed","callId":"sz-1","agentId":"agent-a","companyId":"comp-1","status":"successful","timestamp":"2026-05-19T09:10:00Z","lead":{"customData":{"campaignTag":"spring"}},"audit":{"qualified":true,"reason":"Booked a demo"}}
JSON
send simz <<'JSON'
{"event":"call.completed","callId":"sz-2","agentId":"agent-a","companyId":"comp-1","status":"No Answer","timestamp":"2026-05-19T10:01:00Z","call":{"direction":"Outbound","callerNumber":"+15550100000","toNumber":"+15550100012","callDateTime":"2026-05-19T10:00:00Z","durationSeconds":0},"lead":{"customData":{"campaignTag":"spring"}}}
JSON
send simz <<'JSON'
{"event":"call.completed","callId":"sz-3","agentId":"agent-a","companyId":"comp-1","status":"Completed","timestamp":"2026-05-20T14:05:00Z","call":{"direction":"Inbound","callerNumber":"+15550100013","toNumber":"+15550100000","callDateTime":"2026-05-20T14:00:00Z","durationSeconds":300},"lead":{"customData":{"campaignTag":"fall"}}}
JSON
send simz <<'JSON'
{"event":"call.audit.completed","callId":"sz-3","agentId":"agent-a","companyId":"comp-1","status":"unsuccessful","timestamp":"2026-05-20T14:10:00Z","audit":{"qualified":false,"reason":"Not interested"}}
JSON
send simz <<'JSON'
{"event":"call.completed","callId":"sz-4","agentId":"agent-b","companyId":"comp-1","timestamp":"2026-05-20T16:01:00Z","call":{"direction":"Outbound","callerNumber":"+15550100000","toNumber":"+15550100014","callDateTime":"2026-05-20T16:00:00Z","durationSeconds":45}}
JSON
send simz <<'JSON'
{"event":"call.audit.completed","callId":"sz-4","agentId":"agent-b","companyId":"comp-1","status":"successful","timestamp":"2026-05-20T16:10:00Z","audit":{"qualified":true,"reason":"Wants a quote"}}
JSON
send simz <<'JSON'
{"event":"call.completed","callId":"sz-5","agentId":"agent-b","companyId":"comp-1","status":"Completed","timestamp":"2026-05-19T18:02:00Z","call":{"direction":"Outbound","callerNumber":"+15550100000","toNumber":"+15550100015","callDateTime":"2026-05-19T18:00:00Z","durationSeconds":80},"lead":{"customData":{"campaignTag":"spring"}}}
JSON
send simz <<'JSON'
{"event":"call.audit.completed","callId":"sz-5","agentId":"agent-b","companyId":"comp-1","status":"successful","timestamp":"2026-05-19T18:10:00Z","lead":{"customData":{"campaignTag":"spring"}},"audit":{"qualified":true,"reason":"Signed up"}}
JSON

send replicer <<'JSON'
{"id":"evt-rp-1","event":"call.ended","timestamp":"2026-05-19T11:01:00Z","data":{"callId":"rp-1","organizationId":"org-1","agentId":"rep-1","agentName":"Sales Agent","customerName":"Ann Lee","customerPhone":"+15550200001","fromNumber":"+15550200000","direction":"OUTBOUND","status":"completed","duration":60,"sentiment":"positive","callSuccessful":true,"tokenCost":1.5,"startedAt":"2026-05-19T11:00:00Z","endedAt":"2026-05-19T11:01:00Z","metadata":{"campaign_id":"summer"},"transcript":"Agent: Hello, this is about your pricing plan.\nCustomer: Yes, the annual plan sounds good."}}
JSON
send replicer <<'JSON'
{"id":"evt-rp-2","event":"call.ended","timestamp":"2026-05-20T02:30:30Z","data":{"callId":"rp-2","organizationId":"org-1","agentId":"rep-1","agentName":"Sales Agent","customerPhone":"+15550200002","fromNumber":"+15550200000","direction":"INBOUND","status":"completed","duration":30,"sentiment":"negative","callSuccessful":false,"startedAt":"2026-05-20T02:30:00Z","metadata":{"campaignTag":"fall","campaign_id":"summer"}}}
JSON
send replicer <<'JSON'
{"id":"evt-rp-3","event":"call.ended","timestamp":"2026-05-20T15:00:20Z","data":{"callId":"rp-3","organizationId":"org-1","agentId":"rep-1","agentName":"Sales Agent","customerPhone":"+15550200003","fromNumber":"+15550200000","direction":"OUTBOUND","status":"busy","duration":0,"callSuccessful":false,"startedAt":"2026-05-20T15:00:00Z"}}
JSON
send replicer <<'JSON'
{"id":"evt-rp-4","event":"call.ended","timestamp":"2026-05-20T16:01:30Z","data":{"callId":"rp-4","organizationId":"org-1","agentId":"rep-1","agentName":"Sales Agent","customerPhone":"+15550200004","fromNumber":"+15550200000","direction":"OUTBOUND","status":"completed","duration":90,"sentiment":"Positive","callSuccessful":true,"startedAt":"2026-05-20T16:00:00Z","metadata":{"campaign_id":"summer"}}}
JSON
send replicer <<'JSON'
{"id":"evt-rp-5","event":"call.ended","timestamp":"2026-05-20T09:03:20Z","data":{"callId":"rp-5","organizationId":"org-1","agentId":"rep-2","agentName":"Support Agent","customerPhone":"+15550200005","fromNumber":"+15550200000","direction":"INBOUND","status":"completed","duration":200,"sentiment":"neutral","callSuccessful":true,"startedAt":"2026-05-20T09:00:00Z"}}
JSON
send replicer <<'JSON'
{"id":"evt-rp-6","event":"call.ended","timestamp":"2026-05-19T20:00:10Z","data":{"callId":"rp-6","organizationId":"org-1","agentId":"rep-2","agentName":"Support Agent","customerPhone":"+15550200006","fromNumber":"+15550200000","direction":"INBOUND","status":"failed","duration":0,"sentiment":"mixed","startedAt":"2026-05-19T20:00:00Z"}}
JSON

send atoms <<'JSON'
{"event":"atoms-agent-1.post-conversation","metadata":{"agentId":"atoms-agent-1","eventType":"post-conversation","callId":"at-1","callData":{"answerTime":"2026-05-19T12:00:05Z","callDirection":"telephony_outbound","callDuration":50.5,"callStatus":"completed","endTime":"2026-05-19T12:00:55.5Z","fromNumber":"+15550300000","toNumber":"+15550300001"},"transcript":[{"role":"agent","content":"Hello, I am calling about the overdue invoice."},{"role":"user","content":"I will pay the invoice on Friday."}],"variables":{"campaignTag":"spring"}},"id":"atoms-evt-1"}
JSON
send atoms <<'JSON'
{"event":"atoms-agent-1.analytics-completed","metadata":{"agentId":"atoms-agent-1","eventType":"analytics-completed","callId":"at-1","analytics":{"summary":"Customer promised to pay on Friday.","successMetrics":[]}},"id":"atoms-evt-2"}
JSON
send atoms <<'JSON'
{"event":"atoms-agent-1.post-conversation","metadata":{"agentId":"atoms-agent-1","eventType":"post-conversation","callId":"at-2","callData":{"callDirection":"telephony_inbound","callDuration":0,"callStatus":"no-answer","endTime":"2026-05-19T13:00:30Z","fromNumber":"+15550300002","toNumber":"+15550300000"},"transcript":[],"variables":{}},"id":"atoms-evt-3"}
JSON

send allo <<'JSON'
{"topic":"CALL_RECEIVED","data":{"id":"al-1","start_date":"2026-05-19T16:00:00Z","from_number":"+33600000001","to":"+33100000000","length_in_minutes":2,"type":"INBOUND","user_email":"sam@allo.example","result":"ANSWERED","data_collected":{"campaign_id":"summer"},"transcriptions":[{"source":"AGENT","time":"2026-05-19T16:00:02Z","text":"Bonjour, which plan do you want?"},{"source":"USER","time":"2026-05-19T16:00:06Z","text":"The premium plan, the plan with support."}]}}
JSON
send allo <<'JSON'
{"topic":"CALL_RECEIVED","data":{"id":"al-2","start_date":"2026-05-20T17:00:00Z","from_number":"+33600000002","to":"+33100000000","length_in_minutes":0.5,"type":"INBOUND","user_email":"sam@allo.example","result":"VOICEMAIL","data_collected":{"campaign_id":7}}}
JSON

# Transfer chains (allo), on 05-21 (outside the range of the other reports):
# al-3 (the chain's first call, 60 s, handed to Léa) -> al-4 (90 s in, 120 s, Standard to
# Léa) -> al-5 (4 min in, 180 s, Léa to dupont@, no name): 3 calls, 360 s of calls, 420 s
# from al-3's start to al-5's end (09:04 + 180 s). al-7 names a first call al-6 that never
# came: a chain of one, 30 s. The call's own id is not sent by al-3: it heads the chain
# by its external_id.
send allo <<'JSON'
{"topic":"CALL_RECEIVED","data":{"id":"al-3","start_date":"2026-05-21T09:00:00Z","from_number":"+33600000005","to":"+33100000001","length_in_minutes":1,"type":"INBOUND","user_email":"standard@allo.example","result":"TRANSFERRED_EXTERNAL","transfer_to":{"number":"+33100000002","user_email":"lea@allo.example","user_name":"Léa"}}}
JSON
send allo <<'JSON'
{"topic":"CALL_RECEIVED","data":{"id":"al-4","start_date":"2026-05-21T09:01:30Z","from_number":"+33600000005","to":"+33100000002","length_in_minutes":2,"type":"INBOUND","user_email":"lea@allo.example","result":"TRANSFERRED_EXTERNAL","transfer_original_call_id":"al-3","transfer_from":{"number":"+33100000001","user_name":"Standard"},"transfer_to":{"number":"+33100000002","user_name":"Léa"},"original_to_number":"+33100000001","original_to_name":"Accueil"}}
JSON
send allo <<'JSON'
{"topic":"CALL_RECEIVED","data":{"id":"al-5","start_date":"2026-05-21T09:04:00Z","from_number":"+33600000005","to":"+33100000003","length_in_minutes":3,"type":"INBOUND","user_email":"dupont@allo.example","result":"ANSWERED","transfer_original_call_id":"al-3","transfer_from":{"number":"+33100000002","user_name":"Léa"},"transfer_to":{"number":"+33100000003","user_email":"dupont@allo.example"}}}
JSON
send allo <<'JSON'
{"topic":"CALL_RECEIVED","data":{"id":"al-7","start_date":"2026-05-21T10:00:00Z","from_number":"+33600000006","to":"+33100000009","length_in_minutes":0.5,"type":"INBOUND","result":"ANSWERED","transferOriginalCallId":"al-6","transferFrom":{"userName":"Standard"},"transferTo":{"number":"+33100000009"}}}
JSON

# SMS (allo): day  direction type
# sm-1  05-19 inbound  sms    sm-2  05-19 inbound  sms    sm-3  05-19 outbound mms
# sm-4  05-20 outbound sms    sm-5  05-18 inbound  sms (before the range)
# sm-6  05-20 outbound sms (v2: no sent_at, the envelope's timestamp dates it)
send allo <<'JSON'
{"topic":"SMS_RECEIVED","data":{"id":"sm-1","direction":"INBOUND","type":"SMS","content":"Hi","sent_at":"2026-05-19T08:00:00Z","from_number":"+33600000001","to_number":"+33100000000"}}
JSON
send allo <<'JSON'
{"topic":"SMS_RECEIVED","data":{"id":"sm-2","direction":"INBOUND","type":"SMS","content":"Are you open?","sent_at":"2026-05-19T09:00:00Z","from_number":"+33600000002","to_number":"+33100000000"}}
JSON
send allo <<'JSON'
{"topic":"SMS_SENT","data":{"id":"sm-3","type":"MMS","content":"Here is the map","sent_at":"2026-05-19T10:00:00Z","from_number":"+33100000000","to_number":"+33600000002"}}
JSON
send allo <<'JSON'
{"topic":"SMS_SENT","data":{"id":"sm-4","type":"SMS","content":"See you tomorrow","sent_at":"2026-05-20T10:00:00Z","from_number":"+33100000000","to_number":"+33600000002"}}
JSON
send allo <<'JSON'
{"topic":"SMS_RECEIVED","data":{"id":"sm-5","direction":"INBOUND","type":"SMS","content":"Too early","sent_at":"2026-05-18T10:00:00Z","from_number":"+33600000003","to_number":"+33100000000"}}
JSON
send allo <<'JSON'
{"topic":"sms.sent","version":"2.0","timestamp":"2026-05-20T11:00:00Z","data":{"id":"sm-6","type":"SMS","content":"Reminder","from_number":"+33100000000","to_number":"+33600000001","direction":"OUTBOUND"}}
JSON

# Contacts (allo): three created today (two v1, one v2) and one update, which adds none.
send allo <<'JSON'
{"topic":"CONTACT_CREATED","data":{"id":"ct-1","name":"Claire","last_name":"Martin","emails":["claire@example.fr"],"numbers":["+33600000001"]}}
JSON
send allo <<'JSON'
{"topic":"CONTACT_CREATED","data":{"id":"ct-2","name":"Paul","last_name":"Durand","numbers":["+33600000002"]}}
JSON
send allo <<'JSON'
{"topic":"contact.created","version":"2.0","timestamp":"2026-05-19T08:00:00Z","data":{"id":"ct-3","name":"Noé","last_name":"Petit"}}
JSON
send allo <<'JSON'
{"topic":"CONTACT_UPDATED","data":{"id":"ct-1","name":"Claire","last_name":"Martin","company":"Martin & Fils","updated_at":"2026-05-19T12:00:00Z"}}
JSON
TODAY=$(sql "SELECT (now() AT TIME ZONE 'UTC')::date")

is "${NOT_STORED:-none}" none "every payload (${#SENT[@]}) answered 200 stored"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE status <> 'mapped'")" 0 "every payload mapped"

# Every payload again: duplicates, which the reports must not count twice.
dups=0
for s in "${SENT[@]}"; do
	post "${s% *}" "${s#* }"
	[ "$CODE $(json_field status)" = "200 duplicate" ] && dups=$((dups + 1))
done
is "$dups" "${#SENT[@]}" "every payload posted again: duplicate"

# contacts.created_at is the time callbridge stored a contact, so the daemon can only
# add contacts today; these, stored on fixed past days, give contact_growth a history:
# allo 1 on 2020-01-01, 2 on 2020-01-02; replicer 1 on 2020-01-02.
sql "INSERT INTO callbridge.contacts (platform, external_id, first_name, created_at) VALUES
     ('allo', 'old-1', 'Ada', '2020-01-01 10:00Z'), ('allo', 'old-2', 'Bea', '2020-01-02 10:00Z'),
     ('allo', 'old-3', 'Cy', '2020-01-02 11:00Z'), ('replicer', 'old-4', 'Di', '2020-01-02 12:00Z')" >/dev/null

# ---- call_facts ---------------------------------------------------------------------------
is "$(sql "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'callbridge' AND table_name = 'call_facts'")" \
	"call_id,platform,external_id,account_id,agent_id,agent_name,direction,from_number,from_name,to_number,to_name,customer_number,customer_name,status,disposition,successful,connected,call_at,started_at,answered_at,ended_at,duration_seconds,billed_minutes,cost,sentiment,summary,audit_status,audit_qualified,audit_reason,analytics_summary,transcript_segments,metadata,cost_unit,tags,carrier_call_id,dialed_number,dialed_name,transfer_chain_id,transferred_from_number,transferred_from_name,transferred_from_email,transferred_to_number,transferred_to_name,transferred_to_email,integration_id,owner_email,source" \
	"call_facts: its columns"
is "$(sql "SELECT count(*), count(DISTINCT call_id) FROM callbridge.call_facts")" "20|20" "call_facts: one row per call (20 calls; audits and analytics add none)"
is "$(sql "SELECT platform, agent_id, direction, customer_number, status, billed_minutes, audit_status, audit_qualified, audit_reason, analytics_summary IS NULL, connected, transcript_segments, metadata->>'campaignTag' FROM callbridge.call_facts WHERE external_id = 'sz-1'")" \
	"simz|agent-a|outbound|+15550100011|Completed|2|successful|t|Booked a demo|t|t|0|spring" "call_facts: a SimZ call with its audit"
is "$(sql "SELECT call_at AT TIME ZONE 'UTC', call_at = answered_at, started_at IS NULL, duration_seconds, analytics_summary, audit_status IS NULL, connected, transcript_segments FROM callbridge.call_facts WHERE external_id = 'at-1'")" \
	"2026-05-19 12:00:05|t|t|50.5|Customer promised to pay on Friday.|t|t|2" "call_facts: an Atoms call with its analytics, dated by answered_at"
is "$(sql "SELECT call_at AT TIME ZONE 'UTC', connected FROM callbridge.call_facts WHERE external_id = 'at-2'")" \
	"2026-05-19 13:00:30|f" "call_facts: a call with only ended_at is dated by it; no_answer is not connected"
is "$(sql "SELECT agent_name, sentiment, successful, cost, connected, transcript_segments FROM callbridge.call_facts WHERE external_id = 'rp-1'")" \
	"Sales Agent|positive|t|1.5|t|2" "call_facts: a Replicer call"
is "$(sql "SELECT platform, cost_unit, count(*), sum(cost) FROM callbridge.call_facts WHERE cost IS NOT NULL GROUP BY platform, cost_unit")" \
	"replicer|tokens|1|1.5" "call_facts: a cost with its unit (Replicer's tokens)"
is "$(sql "SELECT agent_id IS NULL, owner_email, transfer_chain_id, transferred_from_name, transferred_to_name, dialed_number FROM callbridge.call_facts WHERE external_id = 'al-4'")" \
	"t|lea@allo.example|al-3|Standard|Léa|+33100000001" "call_facts: an Allo call's owner, transfer and dialled line"
is "$(sql "SELECT status, duration_seconds > 0, successful, connected FROM callbridge.call_facts WHERE external_id = 'al-2'")" \
	"VOICEMAIL|t|f|f" "call_facts: a voicemail is not connected, though it lasted"
is "$(sql "SELECT status IS NULL, connected FROM callbridge.call_facts WHERE external_id = 'sz-4'")" \
	"t|t" "call_facts: no status, a duration: connected"
is "$(sql "SELECT string_agg(external_id, ',' ORDER BY external_id) FROM callbridge.call_facts WHERE NOT connected")" \
	"al-2,at-2,rp-3,rp-6,sz-2" "call_facts: the calls not connected"

# ---- the reports --------------------------------------------------------------------------
RANGE=(-v from=2026-05-19 -v to=2026-05-20)
check_report daily_call_volume "${RANGE[@]}"
check_report agent_performance "${RANGE[@]}"
check_report campaign_outcomes "${RANGE[@]}"
check_report sms_activity "${RANGE[@]}"
check_report contact_growth -v from=2020-01-02
check_report transcript_search -v query=plan
check_report transfer_chains -v from=2026-05-21 -v to=2026-05-21
out=$(REPORT_FORMAT=unaligned "$REPORT" transfer_chains -v from=2026-05-19 -v to=2026-05-20)
is "$out" "platform|chain_id|position|external_id|call_at|handed_over_by|handed_over_to|duration_seconds|chain_calls|chain_duration_seconds|chain_elapsed_seconds" \
	"transfer_chains: no chain began in another range"
out=$(REPORT_FORMAT=unaligned "$REPORT" transfer_chains -v from=2026-05-21 -v to=2026-05-21 -v tz=Europe/Paris)
like "$out" $'\nallo\\|al-3\\|1\\|al-3\\|2026-05-21 11:00:00\\|' "transfer_chains: times in the zone asked for"

# Parameters change what the reports count.
out=$(REPORT_FORMAT=unaligned "$REPORT" daily_call_volume -v from=2026-05-19 -v to=2026-05-19 -v tz=America/New_York)
like "$out" $'\n2026-05-19\\|replicer\\|inbound\\|completed\\|1\\|1\\|30\n' "daily_call_volume: tz moves rp-2 (02:30 UTC) to the day before in New York"
out=$(REPORT_FORMAT=unaligned "$REPORT" daily_call_volume -v from=2026-05-18 -v to=2026-05-18)
is "$out" $'day|platform|direction|status|calls|connected|total_duration_seconds\n2026-05-18|simz|outbound|Completed|1|1|100' "daily_call_volume: one day only"
out=$(REPORT_FORMAT=unaligned "$REPORT" campaign_outcomes "${RANGE[@]}" -v key=campaign_id)
like "$out" $'\nsummer\\|4\\|4\\|3\\|0\\|75\\.00\n' "campaign_outcomes -v key=campaign_id: rp-2 counts for summer"
out=$(REPORT_FORMAT=unaligned "$REPORT" agent_performance -v from=2026-05-18 -v to=2026-05-18)
is "$out" $'platform|agent_id|agent_name|calls|connected|connect_rate|avg_duration_seconds|p90_duration_seconds|successful|success_rate|qualified|qualification_rate|sentiment_positive|sentiment_neutral|sentiment_negative|sentiment_other|sentiment_none\nsimz|agent-a||1|1|1.000|100.00|100.00|0||0||0|0|0|0|1' \
	"agent_performance: another range"

# transcript_search: found, not found, phrase; and through its GIN index.
out=$(REPORT_FORMAT=unaligned "$REPORT" transcript_search -v query=INVOICE)
is "$(printf '%s\n' "$out" | cut -d'|' -f1-4 | tail -n +2 | tr '\n' ' ')" "atoms|at-1|0|agent atoms|at-1|1|customer " "transcript_search: a word of a posted transcript is found, in any case"
out=$(REPORT_FORMAT=unaligned "$REPORT" transcript_search -v query=zebra)
is "$out" "platform|external_id|seq|role|content|rank" "transcript_search: a word in no transcript finds nothing"
out=$(REPORT_FORMAT=unaligned "$REPORT" transcript_search -v query='"annual plan"')
is "$(printf '%s\n' "$out" | tail -n +2 | cut -d'|' -f1-3)" "replicer|rp-1|1" "transcript_search: a quoted phrase"
plan=$(PGOPTIONS="-c client_min_messages=log -c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 -c enable_seqscan=off" \
	REPORT_FORMAT=unaligned "$REPORT" transcript_search -v query=plan 2>&1 >/dev/null)
like "$plan" "Bitmap Index Scan on transcript_segments_content_fts" "transcript_search: its query can use the GIN index"

# ---- scripts/report.sh ------------------------------------------------------------------------
out=$("$REPORT" no_such_report 2>&1)
rc=$?
like "$rc $out" "^2 report.sh: unknown report 'no_such_report'.*agent_performance +campaign_outcomes +contact_growth +daily_call_volume +sms_activity +transcript_search" "report.sh: unknown report refused, the reports listed"
out=$(cd "$TMP" && env -u DATABASE_URL CALLBRIDGE_PG_PORT=$(free_port) "$REPORT" daily_call_volume 2>&1)
rc=$?
like "$rc $out" "^2 .*127.0.0.1.*failed" "report.sh: without DATABASE_URL, the local database of make run (here down: a clear error)"
out=$("$REPORT" transcript_search 2>&1)
rc=$?
like "$rc $out" "^3 .*no query; give the words with -v query=WORDS" "transcript_search: the query is required"
out=$(REPORT_FORMAT=csv "$REPORT" sms_activity -v from=2026-05-20 -v to=2026-05-20)
is "$out" $'day,platform,direction,message_type,messages\n2026-05-20,allo,outbound,sms,2' "report.sh: REPORT_FORMAT=csv"
like "$("$REPORT" sms_activity -v from=2026-05-20 -v to=2026-05-20)" "\(1 row\)" "report.sh: aligned by default, for people"
done_testing
