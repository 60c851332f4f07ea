#!/usr/bin/env bash
# Data that ages (sql/migrations/0008_retention.sql, docs/operations.md "Retention and
# erasure"): day partitions of webhook_events made ahead, a day without one landing in
# the default partition and moved out later, de-duplication across partitions, raw-event
# retention (whole partitions dropped, the rest deleted in batches) and the key window,
# the daemon's own maintenance, `callbridge forget` across every table with the number
# written in several ways, its tombstones in the change feed and in the crm-sync example.
. "$(dirname "$0")/lib.sh"
RFIX=$TMP/payloads
pg_start
migrate || fail "migrate"

# day N: the UTC date N days from today, as in partition names (YYYYMMDD).
day() { date -u -d "$1 days" +%Y%m%d; }
# routed FROM TO: where rows received at noon (UTC) of days FROM..TO would land, one
# partition name per day; the rows are rolled back.
routed() {
	psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c BEGIN -c "
		INSERT INTO callbridge.webhook_events (platform, dedupe_key, payload, status, received_at, last_received_at)
		SELECT 'probe', 'probe:' || d, '{}', 'mapped',
		       (((now() AT TIME ZONE 'UTC')::date + d) + interval '12 hours') AT TIME ZONE 'UTC', now()
		  FROM generate_series($1, $2) AS d ORDER BY d
		RETURNING tableoid::regclass" -c ROLLBACK | sed 's/^callbridge\.//' | paste -sd' ' -
}
names() { local i out=; for i in $(seq "$1" "$2"); do out="$out${out:+ }webhook_events_$(day "$i")"; done; echo "$out"; }
# prune [VAR=value ...]: `callbridge prune`, again while the daemon's own run holds the
# maintenance lock; OUT is what it printed.
prune_once() { OUT=$(env "$@" "$BIN" prune 2>&1) && [[ $OUT != *"another callbridge is maintaining"* ]]; }
prune() { poll 10 prune_once "$@" || diag "prune: $OUT"; }
# where EXTERNAL_ID: the partitions holding the raw events of that entity.
where() { sql "SELECT string_agg(tableoid::regclass::text, ' ' ORDER BY received_at) FROM callbridge.webhook_events WHERE entity_id = '$1'" | sed 's/callbridge\.//g'; }
events_of() { sql "SELECT count(*) FROM callbridge.webhook_events WHERE entity_id = '$1'"; }
keys_of() { sql "SELECT count(*) FROM callbridge.event_keys WHERE dedupe_key LIKE '%:$1:%'"; }
partition_exists() { sql "SELECT to_regclass('callbridge.$1') IS NOT NULL"; }

# --- 1. partitions ahead -----------------------------------------------------------------
# Right after the migration the old table is the partition up to the day after tomorrow;
# day partitions follow up to 7 days ahead; later days have none yet.
is "$(routed 0 9)" "webhook_events_legacy webhook_events_legacy $(names 2 7) webhook_events_default webhook_events_default" \
	"after migrate: today and tomorrow in the legacy partition, day partitions to 7 days ahead, then the default one"
is "$(sql "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'callbridge.webhook_events'::regclass")" \
	"$(names 2 7) webhook_events_default webhook_events_legacy" \
	"pg_inherits: the day partitions (today+2 .. today+7), the default and the legacy one"
prune CALLBRIDGE_PARTITIONS_AHEAD_DAYS=10
like "$OUT" 'partitions made ahead: 3 \(10 days\)' "prune with CALLBRIDGE_PARTITIONS_AHEAD_DAYS=10: 3 more partitions"
is "$(routed 8 11)" "$(names 8 10) webhook_events_default" "days 8 to 10 have their partitions, day 11 not"
prune CALLBRIDGE_PARTITIONS_AHEAD_DAYS=10
like "$OUT" 'partitions made ahead: 0 \(10 days\)' "prune again: nothing to make"

# A database migrated 12 days ago: the legacy partition ends there and each day since has
# its partition (what the daemon's maintenance leaves behind). The past days are made
# here by hand, as ensure_event_partitions makes future ones.
sql "ALTER TABLE callbridge.webhook_events DETACH PARTITION callbridge.webhook_events_legacy" >/dev/null
sql "DO \$\$
DECLARE
    today constant date := (now() AT TIME ZONE 'UTC')::date;
    d date;
    name text;
BEGIN
    EXECUTE format('ALTER TABLE callbridge.webhook_events ATTACH PARTITION callbridge.webhook_events_legacy'
                   ' FOR VALUES FROM (MINVALUE) TO (%L)', (today - 12)::timestamp AT TIME ZONE 'UTC');
    FOR d IN SELECT g::date FROM generate_series(today - 12, today + 1, interval '1 day') g LOOP
        name := callbridge.event_partition_name(d);
        EXECUTE format('CREATE TABLE callbridge.%I PARTITION OF callbridge.webhook_events'
                       ' FOR VALUES FROM (%L) TO (%L)', name,
                       d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
    END LOOP;
END
\$\$" >/dev/null
is "$(routed -12 -11)" "$(names -12 -11)" "set-up: days since the (simulated) migration have their partitions"
is "$(routed -13 -13)" "webhook_events_legacy" "set-up: older days are in the legacy partition"

# --- 2. a day without a partition ----------------------------------------------------------
D5=webhook_events_$(day 5)
sql "DROP TABLE callbridge.$D5" >/dev/null
sql "INSERT INTO callbridge.webhook_events (platform, dedupe_key, payload, status, received_at, last_received_at)
     VALUES ('probe', 'probe:day5', '{}', 'unmapped',
             (((now() AT TIME ZONE 'UTC')::date + 5) + interval '12 hours') AT TIME ZONE 'UTC', now())" >/dev/null
is "$?|$(sql "SELECT tableoid::regclass FROM callbridge.webhook_events WHERE dedupe_key = 'probe:day5'")" \
	"0|callbridge.webhook_events_default" "a row of a day without a partition is inserted, into the default partition"
prune
like "$OUT" 'partitions made ahead: 1 \(7 days\)' "prune makes the missing partition again"
is "$(sql "SELECT tableoid::regclass FROM callbridge.webhook_events WHERE dedupe_key = 'probe:day5'")" "callbridge.$D5" \
	"the row moved into it"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events_default")" 0 "the default partition is empty after"

# --- 3. de-duplication across a partition boundary ------------------------------------------
daemon_start CALLBRIDGE_RETELL_PRECALL_TOKEN=rt-token
wait_ready || fail "daemon ready"
simz_call call_dedupe
post simz "$TMP/call_dedupe.json"
is "$CODE $(json_field status)" "200 stored" "a SimZ call delivered"
is "$(where call_dedupe)" "webhook_events_$(day 0)" "its raw event is in today's partition"
is "$(age call_dedupe '1 day')" 1 "a day passes (raw event and key received a day earlier)"
is "$(where call_dedupe)" "webhook_events_$(day -1)" "the raw event is now in yesterday's partition"
post simz "$TMP/call_dedupe.json"
is "$CODE $(json_field status)" "200 duplicate" "the same delivery again, today: duplicate"
is "$(events_of call_dedupe)|$(sql "SELECT delivery_count FROM callbridge.webhook_events WHERE entity_id = 'call_dedupe'")" "1|2" \
	"one raw event, delivery_count 2"

# --- 4. retention ---------------------------------------------------------------------------
# old_call EXTERNAL_ID INTERVAL: a SimZ call stored now, then made INTERVAL old.
old_call() {
	simz_call "$1"
	post simz "$TMP/$1.json"
	[ "$CODE $(json_field status)" = "200 stored" ] || fail "$1 delivered ($CODE $BODY)"
	age "$1" "$2" >/dev/null
}
# Raw events received 10 days, 4 days, just over 3 days and 2 days ago.
old_call call_old10 '10 days'
old_call call_old4 '4 days'
old_call call_old3a '3 days 5 minutes'
old_call call_old3b '3 days 6 minutes'
old_call call_old2 '2 days'
is "$(where call_old10) $(where call_old4) $(where call_old2)" "webhook_events_$(day -10) webhook_events_$(day -4) webhook_events_$(day -2)" \
	"set-up: old raw events in their days' partitions"
# The cutoff is 3 days ago; every partition that ends before it goes whole: the legacy
# one and days -12 .. -4 (ten). The two rows just older than the cutoff are in the
# cutoff's own partition (or day -4's just after midnight) and go one per batch.
prune CALLBRIDGE_RAW_RETENTION_DAYS=3 CALLBRIDGE_PRUNE_BATCH=1
like "$OUT" 'raw events removed: 4 \(older than 3 days; 10 partitions dropped\)' "prune: 4 raw events removed, 10 partitions dropped"
like "$OUT" 'de-duplication keys removed: 0 \(older than 30 days\)' "prune: keys kept (window 30 days)"
is "$(events_of call_old10)$(events_of call_old4)$(events_of call_old3a)$(events_of call_old3b)" "0000" "raw events older than 3 days are gone"
is "$(events_of call_old2)|$(events_of call_dedupe)" "1|1" "raw events 2 days and 1 day old stay"
is "$(partition_exists "webhook_events_$(day -10)")$(partition_exists "webhook_events_$(day -4)")$(partition_exists webhook_events_legacy)" "fff" \
	"the old partitions (and the legacy one) are dropped"
is "$(partition_exists "webhook_events_$(day -3)")$(partition_exists "webhook_events_$(day -2)")" "tt" "the cutoff's partition and newer ones stay"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id IN ('call_old10', 'call_old4', 'call_old3a', 'call_old3b', 'call_old2')")" 5 \
	"the mapped calls stay"
is "$(keys_of call_old4)" 1 "the key of the 4-day-old event is still there"
post simz "$TMP/call_old4.json"
is "$CODE $(json_field status)|$(events_of call_old4)" "200 duplicate|0" "a late retry of it is a duplicate (and stores nothing)"
prune CALLBRIDGE_RAW_RETENTION_DAYS=3
like "$OUT" 'raw events removed: 0 \(older than 3 days; 0 partitions dropped\)' "prune again: nothing left to remove"
prune CALLBRIDGE_RAW_RETENTION_DAYS=3 CALLBRIDGE_DEDUPE_WINDOW_DAYS=3
like "$OUT" 'de-duplication keys removed: 4 \(older than 3 days\)' "with a 3-day window the old keys go"
is "$(keys_of call_old10)$(keys_of call_old4)$(keys_of call_old3a)$(keys_of call_old2)" "0001" "keys older than 3 days are gone, newer stay"
post simz "$TMP/call_old4.json"
is "$CODE $(json_field status)|$(events_of call_old4)" "200 stored|1" "a retry after the window is stored again"

# --- 5. the daemon applies retention on its own ------------------------------------------------
daemon_stop
daemon_start CALLBRIDGE_RETELL_PRECALL_TOKEN=rt-token CALLBRIDGE_RAW_RETENTION_DAYS=3 CALLBRIDGE_MAINTENANCE_INTERVAL_SECONDS=10
wait_ready || fail "daemon ready (retention on)"
# Made old after the daemon's first run: only a later run removes them. Day -5 has no
# partition any more, so its row lands in the default partition.
old_call call_auto5 '5 days'
old_call call_auto4 '3 days 10 minutes'
is "$(where call_auto5)" webhook_events_default "set-up: a 5-day-old raw event, in the default partition"
auto_left() { echo "$(events_of call_auto5)$(events_of call_auto4)"; }
eventually -t 25 "the daemon removes raw events older than 3 days by itself (maintenance every 10 s)" prints 00 auto_left
is "$(events_of call_old2)|$(events_of call_dedupe)" "1|1" "newer raw events stay"
like "$(cat "$TMP/daemon.log")" 'maintenance done' "the daemon logs its maintenance run"

# --- 6. forget -------------------------------------------------------------------------------
# The person at +1 415 555 0100, written differently in each platform's payload: a SimZ
# call (E.164) with its audit, an Atoms call with a transcript ("(415) 555-0100"), an Allo
# SMS ("415.555.0100") and contact ("1-415-555-0100"), a pre-call lookup; and another
# person, whose call transcript and SMS mention the number.
#
# The number however it was written: its last nine digits with up to three separators
# between them (what forget looks for), searched in a data-only dump. The same search
# before the forget finds it in every table it was in, so it can fail.
NUMBER_RE='1[-. ()/+]{0,3}5[-. ()/+]{0,3}5[-. ()/+]{0,3}5[-. ()/+]{0,3}5[-. ()/+]{0,3}0[-. ()/+]{0,3}1[-. ()/+]{0,3}0[-. ()/+]{0,3}0'
# number_left: "table: line" for every line of the dump that has the number (perl: mawk
# has no {m,n}).
number_left() {
	pg_dump --data-only --no-owner "$DATABASE_URL" >"$TMP/dump.sql" 2>"$TMP/dump.err" || echo "pg_dump failed: $(cat "$TMP/dump.err")"
	RE=$NUMBER_RE perl -ne 'chomp; $t = $1 if /^COPY (\S+)/; print "$t: ", substr($_, 0, 300), "\n" if /$ENV{RE}/' "$TMP/dump.sql"
}
# The payloads (here, not in tests/fixtures/: every directory there is a platform's, with
# expected rows per fixture).
mkdir -p "$RFIX"
cat >"$RFIX/simz_call.json" <<'JSON'
{"event":"call.completed","callId":"call_erase_a","agentId":"agent-7","companyId":"comp_0005","status":"Completed","timestamp":"2026-05-20T10:02:00.000Z","call":{"direction":"Outbound","callerNumber":"+15551234567","toNumber":"+14155550100","callDateTime":"2026-05-20T10:00:00.000Z","durationSeconds":120},"lead":{"customData":{"leadId":"LEAD-077","campaignTag":"spring-2026"}}}
JSON
cat >"$RFIX/simz_audit.json" <<'JSON'
{"event":"call.audit.completed","callId":"call_erase_a","agentId":"agent-7","companyId":"comp_0005","status":"successful","timestamp":"2026-05-20T10:06:00.000Z","lead":{"customData":{"leadId":"LEAD-077"}},"audit":{"qualified":true,"reason":"Asked to be called back on 415 555 0100"}}
JSON
cat >"$RFIX/atoms_call.json" <<'JSON'
{"event":"69fc7dd072a0c1d28d948ace.post-conversation","metadata":{"agentId":"69fc7dd072a0c1d28d948ace","eventType":"post-conversation","conversationType":"telephonyOutbound","callId":"CALL-erase-b","callData":{"answerTime":"2026-05-21T09:00:05.000Z","callDirection":"telephony_outbound","callDuration":40,"callStatus":"completed","endTime":"2026-05-21T09:00:45.000Z","fromNumber":"+15551234567","toNumber":"(415) 555-0100"},"transcript":[{"role":"agent","content":"Hello, is this Dana?","timestamp":"2026-05-21T09:00:07.000Z"},{"role":"user","content":"Yes, speaking.","timestamp":"2026-05-21T09:00:09.000Z"}],"variables":{"call_id":"CALL-erase-b","user_number":"(415) 555-0100","customer_name":"Dana Reyes"}},"id":"atoms-evt-erase-b"}
JSON
cat >"$RFIX/atoms_other.json" <<'JSON'
{"event":"69fc7dd072a0c1d28d948ace.post-conversation","metadata":{"agentId":"69fc7dd072a0c1d28d948ace","eventType":"post-conversation","conversationType":"telephonyOutbound","callId":"CALL-other","callData":{"answerTime":"2026-05-21T11:00:05.000Z","callDirection":"telephony_outbound","callDuration":30,"callStatus":"completed","endTime":"2026-05-21T11:00:35.000Z","fromNumber":"+15551234567","toNumber":"+15557654321"},"transcript":[{"role":"agent","content":"Who else should we call?","timestamp":"2026-05-21T11:00:07.000Z"},{"role":"user","content":"My sister Dana, on 415-555-0100.","timestamp":"2026-05-21T11:00:09.000Z"}],"variables":{"call_id":"CALL-other","user_number":"+15557654321","customer_name":"Sam Reyes"}},"id":"atoms-evt-other"}
JSON
cat >"$RFIX/allo_sms.json" <<'JSON'
{"topic":"SMS_RECEIVED","data":{"id":"sms_erase","direction":"INBOUND","type":"SMS","content":"Please call me back","sent_at":"2026-05-22T08:15:00Z","from_number":"415.555.0100","to_number":"+15550009999","from_name":"Dana Reyes","to_name":"Front desk"}}
JSON
cat >"$RFIX/allo_sms_other.json" <<'JSON'
{"topic":"SMS_RECEIVED","data":{"id":"sms_other","direction":"INBOUND","type":"SMS","content":"My sister is on +1 (415) 555 0100, not this number","sent_at":"2026-05-22T08:30:00Z","from_number":"+15557654321","to_number":"+15550009999","from_name":"Sam Reyes","to_name":"Front desk"}}
JSON
cat >"$RFIX/allo_contact.json" <<'JSON'
{"topic":"CONTACT_CREATED","data":{"id":"ct_erase","name":"Dana","last_name":"Reyes","company":"Reyes Dental","emails":["dana@reyes.example"],"numbers":["1-415-555-0100"]}}
JSON
cat >"$RFIX/allo_contact_other.json" <<'JSON'
{"topic":"CONTACT_CREATED","data":{"id":"ct_other","name":"Sam","last_name":"Reyes","emails":["sam@reyes.example"],"numbers":["+15557654321"]}}
JSON
post simz "$RFIX/simz_call.json" && post simz "$RFIX/simz_audit.json"
post atoms "$RFIX/atoms_call.json" && post atoms "$RFIX/atoms_other.json"
post allo "$RFIX/allo_sms.json" && post allo "$RFIX/allo_sms_other.json"
post allo "$RFIX/allo_contact.json" && post allo "$RFIX/allo_contact_other.json"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id IN ('call_erase_a', 'CALL-erase-b', 'CALL-other')")|$(sql "SELECT count(*) FROM callbridge.call_audits a JOIN callbridge.calls c ON c.id = a.call_id WHERE c.external_id = 'call_erase_a'")|$(sql "SELECT count(*) FROM callbridge.transcript_segments")|$(sql "SELECT count(*) FROM callbridge.sms_messages")|$(sql "SELECT count(*) FROM callbridge.contacts")" \
	"3|1|4|2|2" "set-up: calls, audit, transcripts, SMS and contacts stored"
curl -s -o /dev/null -H 'Authorization: Bearer rt-token' "http://127.0.0.1:$PORT/v1/callers/4155550100"
wait_for -m "set-up: the pre-call lookup is recorded" prints 1 sql "SELECT count(*) FROM callbridge.precall_lookups WHERE phone = '+14155550100'"

# Cursors and the consumer's state, before the forget.
TABLES="calls call_audits sms_messages contacts"
declare -A BEFORE
for t in $TABLES; do
	BEFORE[$t]=$("$BIN" export --table "$t" --since 0 --limit 100000 | tail -n 1 | sed -n 's/^{"cursor":"\([0-9]*:[0-9]*\)".*/\1/p')
done
mkdir -p "$TMP/crm"
# The consumer: one file per row, named by its external_id; a tombstone removes it.
# shellcheck disable=SC2016 # run by sh -c, which expands it
CONSUMER='while IFS= read -r line; do
	id=$(printf "%s\n" "$line" | sed -n "s/.*\"external_id\": \{0,1\}\"\([^\"]*\)\".*/\1/p")
	[ -n "$id" ] || exit 1
	case $line in
	*"\"deleted\":true"* | *"\"deleted\": true"*) rm -f "$1/$id" ;;
	*) printf "%s\n" "$line" >"$1/$id" ;;
	esac
done'
files() { find "$1" -type f | grep -c .; }
crm() { CALLBRIDGE=$BIN SYNC_LIMIT=3 sh "$ROOT/examples/crm-sync/sync.sh" calls "$TMP/crm.cursor" sh -c "$CONSUMER" sh "$TMP/crm"; }
crm
is "$?|$(files "$TMP/crm")" "0|$(sql "SELECT count(*) FROM callbridge.calls")" "crm-sync: a file per call"

is "$(number_left | cut -d: -f1 | sort -u | sed 's/^callbridge\.//' | paste -sd' ' -)" \
	"call_audits calls contacts precall_lookups sms_messages transcript_segments webhook_events_$(day 0)" \
	"before the forget, a dump has the number in every table that got it"

"$BIN" forget --phone "(415) 555-0100" --reference "ticket 4711" >"$TMP/forget.out" 2>"$TMP/forget.err"
is "$?|$(cat "$TMP/forget.err")" "0|" "forget --phone '(415) 555-0100': exit 0"
# (Lines of 0 left out: a table forget learns to look in later need not change this.)
is "$(grep -v ': 0$' "$TMP/forget.out")" "webhook_events: 7
transcript_segments: 2
call_audits: 1
calls: 2
sms_messages: 1
contacts: 1
precall_lookups: 1
transcript_segments_redacted: 1
calls_redacted: 1
sms_messages_redacted: 1
erased; recorded in callbridge.erasures" "forget: a count per table, for every table the person was in"
is "$(grep -cvE '^[a-z_]+: [0-9]+$' "$TMP/forget.out")" 1 "forget: every other line is \"table: count\""

# Nothing of the number anywhere in the database, however it was written.
left=$(number_left)
is "$(printf '%s' "$left" | grep -c .)" 0 "the number is nowhere in the database (pg_dump --data-only)"
[ -z "$left" ] || printf '%s\n' "$left" | head -20 | sed 's/^/#   left: /'
for s in +14155550100 4155550100 "(415) 555-0100" 415.555.0100 415-555-0100 "415 555 0100"; do
	if grep -qF -- "$s" "$TMP/dump.sql"; then fail "'$s' is not in the dump"; else pass "'$s' is not in the dump"; fi
done
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id = 'CALL-other'")|$(sql "SELECT transcript_text FROM callbridge.calls WHERE external_id = 'CALL-other'")" \
	$'1|agent: Who else should we call?\ncustomer: My sister Dana, on [erased].' "the other person's call stays, the number erased from its transcript"
is "$(sql "SELECT s.content FROM callbridge.transcript_segments s JOIN callbridge.calls c ON c.id = s.call_id WHERE c.external_id = 'CALL-other' ORDER BY seq DESC LIMIT 1")" \
	"My sister Dana, on [erased]." "and from its transcript segment"
is "$(sql "SELECT content FROM callbridge.sms_messages WHERE external_id = 'sms_other'")" "My sister is on [erased], not this number" \
	"the other person's SMS stays, the number erased"
is "$(sql "SELECT string_agg(external_id, ',' ORDER BY external_id) FROM callbridge.contacts")" "ct_other" "the other contact stays"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id IN ('call_old2', 'call_dedupe')")" 2 "unrelated calls stay"

"$BIN" forget --phone +14155550100 --reference "ticket 4711" >"$TMP/forget2.out" 2>&1
is "$?|$(grep -vc ': 0$' "$TMP/forget2.out")|$(tail -n 1 "$TMP/forget2.out")" \
	"0|1|nothing found to erase; recorded in callbridge.erasures" "a second forget (another format) finds nothing: all zeros"
is "$(sql "SELECT count(*), count(*) FILTER (WHERE reference = 'ticket 4711') FROM callbridge.erasures")" "2|2" \
	"callbridge.erasures: two rows with the reference"
is "$(sql "SELECT count(*) FROM callbridge.erasures WHERE (erasures::text ~ '$NUMBER_RE') OR erasures::text ~ '155550100'")" 0 \
	"and nothing of the number"

# --- 7. tombstones in the change feed -------------------------------------------------------------
# feed TABLE: the rows exported since the cursor taken before the forget; LAST: the cursor line.
feed() {
	"$BIN" export --table "$1" --since "${BEFORE[$1]}" >"$TMP/feed.out" 2>&1
	RC=$?
	LAST=$(tail -n 1 "$TMP/feed.out")
	ROWS=$(sed '$d' "$TMP/feed.out")
}
# keys FIELD: FIELD of each exported row, "-" before it for a tombstone, in feed order.
# (A row is row_to_json, a tombstone jsonb text: "key": value, with a space.)
keys() {
	printf '%s\n' "$ROWS" | while IFS= read -r l; do
		k=$(printf '%s' "$l" | sed -n "s/.*\"$1\": \{0,1\}\"\([^\"]*\)\".*/\1/p")
		case $l in *'"deleted":true'* | *'"deleted": true'*) echo "-$k" ;; *) echo "$k" ;; esac
	done | paste -sd, -
}
feed calls
is "$RC|$(keys external_id)" "0|-call_erase_a,-CALL-erase-b,CALL-other" \
	"calls: tombstones of the erased calls, then the redacted call, in feed order"
like "$LAST" '^\{"cursor":"[0-9]+:[0-9]+","rows":3,"more":false,"pending":false\}$' "calls: the cursor line last"
tomb=$(printf '%s\n' "$ROWS" | head -n 1)
for f in '"deleted": ?true' '"id": ?[0-9]+' '"platform": ?"simz"' '"source": ?"default"' '"external_id": ?"call_erase_a"' \
	'"sync_xid": ?"[0-9]+"' '"sync_version": ?[0-9]+' '"deleted_at": ?"[0-9-]+'; do
	like "$tomb" "$f" "a tombstone has $f"
done
is "$(printf '%s' "$tomb" | grep -c '415')" 0 "a tombstone carries no number"
feed call_audits
is "$RC|$(keys call_external_id)|$(printf '%s' "$ROWS" | grep -c '"kind": \{0,1\}"audit"')" "0|-call_erase_a|1" "call_audits: the erased audit's tombstone (call_external_id, kind)"
like "$ROWS" '"call_id": ?[0-9]+' "its call_id"
feed sms_messages
is "$RC|$(keys external_id)" "0|-sms_erase,sms_other" "sms_messages: the erased SMS's tombstone, then the redacted one"
feed contacts
is "$RC|$(keys external_id)" "0|-ct_erase" "contacts: the erased contact's tombstone"
"$BIN" export --table calls --since 0 --limit 100000 >"$TMP/feed.out"
ROWS=$(sed '$d' "$TMP/feed.out")
is "$(keys external_id | tr ',' '\n' | tail -n 3 | paste -sd, -)" "-call_erase_a,-CALL-erase-b,CALL-other" \
	"from cursor 0: the tombstones come after the earlier rows"

n_before=$(files "$TMP/crm")
crm
is "$?" 0 "crm-sync after the forget"
is "$([ -e "$TMP/crm/call_erase_a" ] && echo kept || echo gone) $([ -e "$TMP/crm/CALL-erase-b" ] && echo kept || echo gone)" "gone gone" \
	"crm-sync: the erased calls' files are removed"
is "$(files "$TMP/crm")|$(grep -c '\[erased\]' "$TMP/crm/CALL-other")" "$((n_before - 2))|1" "the other files remain; the redacted call is updated"

# --- 8. bad input ---------------------------------------------------------------------------------
"$BIN" forget >"$TMP/out" 2>"$TMP/err"
is "$?|$(grep -c . "$TMP/err")|$(cat "$TMP/out")" "1|1|" "forget without --phone: exit 1, one line"
like "$(cat "$TMP/err")" 'needs --phone' "it names --phone"
"$BIN" forget --phone 12 >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -ne 0 ]; then pass "forget --phone 12: non-zero exit ($rc)"; else fail "forget --phone 12: non-zero exit"; fi
like "$(cat "$TMP/err")" 'at least 7 digits' "it says at least 7 digits are needed"
is "$(sql "SELECT count(*) FROM callbridge.erasures")" 2 "refused erasures are not recorded"

done_testing
