#!/usr/bin/env bash
# Every documented field where a report can use it (migration 0005):
#  1. the README's "Where each documented field lands" table against the fixtures: for
#     each row, a fixture of that platform sends the field and its expected rows fill the
#     column; every column 0005 adds to calls is in the table;
#  2. contact updates that clear: an explicit null clears (newer update), an absent field
#     stays, an older update clears nothing; in a batch (one array statement) as one by
#     one; calls are never cleared;
#  3. CALLBRIDGE_<SLUG>_TIMEZONE: an unknown zone stops start-up with the variable named;
#     a known one dates offset-less times on arrival and in replay alike;
#  4. the migration on a database of the previous schema: existing rows backfilled
#     (entity_id, Allo's owner and transfers, SimZ's carrier id, Replicer's cost unit).
. "$(dirname "$0")/lib.sh"

# ---- 1. the README table against the fixtures -------------------------------------------
awk '/^### Where each documented field lands/ { on = 1; next } on && /^\| [a-z]+ \| `/ { print; next }
     on && /^\|/ { next } on && /^#/ { exit }' "$ROOT/README.md" >"$TMP/fields"
like "$(grep -c . "$TMP/fields")" '^[1-9][0-9]' "the README has the field table ($(grep -c . "$TMP/fields") rows)"
bad=
while IFS='|' read -r _ slug field column _; do
	slug=$(echo "$slug" | tr -d ' ') field=$(echo "$field" | tr -d ' `') column=$(echo "$column" | tr -d ' `')
	table=${column%%.*} col=${column#*.}
	case $table in
	webhook_events) pattern="^event\\.$col = " ;;
	transcript_segments) pattern='^transcript\[' ;;
	*) pattern="^$table\\[[0-9]+\\]\\.$col = " ;;
	esac
	found=
	for json in "$FIX/$slug"/*.json; do
		[ -e "$json" ] || continue
		sends=1
		IFS=. read -ra parts <<<"$field"
		for p in "${parts[@]}"; do grep -q "\"$p\"" "$json" || { sends=; break; }; done
		[ -n "$sends" ] && grep -qE "$pattern" "${json%.json}.rows" && { found=$json; break; }
	done
	[ -n "$found" ] || bad="$bad $slug:$field->$column"
done <"$TMP/fields"
is "${bad:-none}" none "every row of the field table: a fixture sends the field and fills the column"
missing=
for c in cost_unit tags carrier_call_id dialed_number dialed_name transfer_chain_id \
	transferred_from_number transferred_from_name transferred_from_email transferred_to_number \
	transferred_to_name transferred_to_email integration_id owner_email; do
	grep -qF "\`calls.$c\`" "$TMP/fields" || missing="$missing $c"
done
is "${missing:-none}" none "every column 0005 adds to calls is in the field table"
like "$(grep -c 'webhook_events.entity_id' "$TMP/fields")" '^[5-9]' "the table says where each platform's entity id comes from"

# ---- 2. contact updates that clear --------------------------------------------------------
pg_start
migrate
daemon_start CALLBRIDGE_DB_CONNECTIONS=1 CALLBRIDGE_COMMIT_DEADLINE_MS=60000
wait_ready || fail "daemon ready"

# allo BODY: posts one Allo v1 payload; the answer must be "200 stored".
allo() {
	printf '%s' "$1" >"$TMP/allo.json"
	post allo "$TMP/allo.json"
	[ "$CODE $(json_field status)" = "200 stored" ] || fail "allo: stored ($CODE $BODY)"
}
contact() { sql "SELECT coalesce(first_name, '-'), coalesce(last_name, '-'), coalesce(company, '-'), coalesce(emails::text, '-'), coalesce(phone_numbers::text, '-') FROM callbridge.contacts WHERE platform = 'allo' AND external_id = '$1'"; }

allo '{"topic":"CONTACT_CREATED","data":{"id":"cl-1","name":"Claire","last_name":"Martin","company":"Martin SA","emails":["c@m.example"],"numbers":["+33600000001"],"created_at":"2026-03-01T10:00:00Z"}}'
is "$(contact cl-1)" 'Claire|Martin|Martin SA|{c@m.example}|{+33600000001}' "a contact created"
allo '{"topic":"CONTACT_UPDATED","data":{"id":"cl-1","name":"Claire","last_name":null,"emails":null,"updated_at":"2026-03-02T10:00:00Z"}}'
is "$(contact cl-1)" 'Claire|-|Martin SA|-|{+33600000001}' \
	"a newer update: last_name and emails sent as null are cleared; company and numbers, absent, stay"
allo '{"topic":"CONTACT_UPDATED","data":{"id":"cl-1","name":"Claire","last_name":"Old","company":null,"updated_at":"2026-03-01T12:00:00Z"}}'
is "$(contact cl-1)" 'Claire|Old|Martin SA|-|{+33600000001}' \
	"an older update clears nothing (company stays) and only fills gaps (last_name)"
allo '{"topic":"contact.updated","version":"2.0","timestamp":"2026-03-03T10:00:00Z","data":{"id":"cl-1","name":"Claire","lastName":null,"company":null}}'
is "$(contact cl-1)" 'Claire|-|-|-|{+33600000001}' "v2 and camelCase: lastName and company sent as null are cleared"
allo '{"topic":"contact.created","version":"2.0","timestamp":"2026-03-04T10:00:00Z","data":{"id":"cl-1","name":"Claire","last_name":"Again","company":null,"numbers":null}}'
is "$(contact cl-1)" 'Claire|Again|-|-|{+33600000001}' "a creation never clears: numbers sent as null stay"

# Calls keep today's rule: a newer event's null never clears a stored value.
allo '{"topic":"CALL_RECEIVED","data":{"id":"cc-1","start_date":"2026-03-01T10:00:00Z","recording_url":"https://r.example/1.mp3","tag":"sales","from_number":"+33600000002","to":"+33100000000","type":"INBOUND"}}'
allo '{"topic":"call.completed","version":"2.0","timestamp":"2026-03-01T10:05:00Z","data":{"id":"cc-1","recording_url":null,"tag":null,"result":"ANSWERED"}}'
is "$(sql "SELECT recording_url, disposition, status FROM callbridge.calls WHERE platform = 'allo' AND external_id = 'cc-1'")" \
	'https://r.example/1.mp3|sales|ANSWERED' "calls: a newer event's nulls clear nothing"

# In one batch (the contacts written by one array statement): a gate holds the only
# database connection while ten updates queue behind it.
for i in $(seq 1 10); do
	allo "{\"topic\":\"CONTACT_CREATED\",\"data\":{\"id\":\"cb-$i\",\"name\":\"N$i\",\"last_name\":\"L$i\",\"company\":\"C$i\",\"created_at\":\"2026-03-01T10:00:00Z\"}}"
	# odd: last_name null (cleared); even: company null, but older (nothing cleared)
	if [ $((i % 2)) = 1 ]; then
		printf '{"topic":"CONTACT_UPDATED","data":{"id":"cb-%d","name":"N%d","last_name":null,"updated_at":"2026-03-02T10:00:00Z"}}' "$i" "$i" >"$TMP/cb_$i.json"
	else
		printf '{"topic":"CONTACT_UPDATED","data":{"id":"cb-%d","name":"N%d","company":null,"updated_at":"2026-02-01T10:00:00Z"}}' "$i" "$i" >"$TMP/cb_$i.json"
	fi
done
rbr_before=$(metric callbridge_batches_row_by_row_total)
lock_events
simz call_completed.json gate_cb >"$TMP/gate_cb.json"
curl -s -o /dev/null -X POST --data-binary @"$TMP/gate_cb.json" "http://127.0.0.1:$PORT/webhooks/simz" &
gate_post=$!
wait_for -m "the gate delivery waits for the lock" prints 1 metric callbridge_inflight
ls "$TMP"/cb_*.json | xargs -P 16 -I{} curl -s -o /dev/null -X POST --data-binary @{} "http://127.0.0.1:$PORT/webhooks/allo" &
posts=$!
wait_for -m "the ten updates wait behind the gate" prints 11 metric callbridge_inflight
unlock_events
wait "$posts" "$gate_post"
is "$(metric callbridge_batches_row_by_row_total)" "$rbr_before" "the ten updates were written as one batch of array statements"
is "$(sql "SELECT string_agg(external_id || '=' || coalesce(last_name, '-') || '/' || coalesce(company, '-'), ' ' ORDER BY length(external_id), external_id) FROM callbridge.contacts WHERE external_id LIKE 'cb-%'")" \
	"cb-1=-/C1 cb-2=L2/C2 cb-3=-/C3 cb-4=L4/C4 cb-5=-/C5 cb-6=L6/C6 cb-7=-/C7 cb-8=L8/C8 cb-9=-/C9 cb-10=L10/C10" \
	"in a batch: newer nulls cleared, older nulls not"

# entity_id: the events name their entity, and the index finds it.
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE platform = 'allo' AND entity_id = 'cl-1'")" 5 "webhook_events.entity_id names the contact of each of its events"
like "$(sql "SELECT indexdef FROM pg_indexes WHERE schemaname = 'callbridge' AND tablename = 'webhook_events' AND indexname = 'webhook_events_entity'")" \
	"btree \\(platform, entity_id\\)" "webhook_events (platform, entity_id) is indexed"

# ---- 3. time zones ------------------------------------------------------------------------
daemon_stop
out=$(env CALLBRIDGE_ALLO_TIMEZONE=Mars/Olympus_Mons "$BIN" serve 2>&1)
rc=$?
like "$rc $out" '^[1-9].*CALLBRIDGE_ALLO_TIMEZONE: unknown time zone "Mars/Olympus_Mons"' "an unknown zone stops start-up, naming the variable"
out=$(env CALLBRIDGE_SIMZ_TIMEZONE=../../etc/passwd "$BIN" migrate 2>&1)
like "$? $out" '^[1-9].*CALLBRIDGE_SIMZ_TIMEZONE: .*not an IANA time zone name' "a path is not a zone name"
out=$(env CALLBRIDGE_ALLO_TIMEZONE=Mars/Olympus_Mons "$BIN" check-config 2>&1)
like "$? $out" '^[1-9].*CALLBRIDGE_ALLO_TIMEZONE' "check-config refuses an unknown zone"
daemon_start CALLBRIDGE_ALLO_TIMEZONE=Europe/Paris
wait_ready || fail "daemon ready with CALLBRIDGE_ALLO_TIMEZONE=Europe/Paris"
allo '{"topic":"CALL_RECEIVED","data":{"id":"tz-1","start_date":"2026-07-01 09:00:00","from_number":"+33600000003","to":"+33100000000","type":"INBOUND"}}'
allo '{"topic":"CALL_RECEIVED","data":{"id":"tz-2","start_date":"2026-07-01T09:00:00Z","from_number":"+33600000003","to":"+33100000000","type":"INBOUND"}}'
is "$(sql "SELECT external_id || '=' || to_char(started_at AT TIME ZONE 'UTC', 'HH24:MI') FROM callbridge.calls WHERE external_id IN ('tz-1', 'tz-2') ORDER BY 1" | tr '\n' ' ')" \
	"tz-1=07:00 tz-2=09:00 " "Europe/Paris: a local 09:00 in July is 07:00 UTC; a time with Z is not moved"
# replay maps with the same zone; with another one it would move the call.
sql "UPDATE callbridge.calls SET started_at = NULL, last_event_at = NULL WHERE external_id = 'tz-1'" >/dev/null
env CALLBRIDGE_ALLO_TIMEZONE=Europe/Paris "$BIN" replay --platform allo >"$TMP/replay.log" 2>&1
is "$?" 0 "replay with the zone runs"
is "$(sql "SELECT to_char(started_at AT TIME ZONE 'UTC', 'HH24:MI') FROM callbridge.calls WHERE external_id = 'tz-1'")" "07:00" "replay dates the local time in the same zone"
daemon_stop

# ---- 4. the migration over rows of the previous schema ------------------------------------
sql "DROP SCHEMA callbridge CASCADE" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "CREATE SCHEMA callbridge; CREATE TABLE callbridge.schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null
for f in "$ROOT"/sql/migrations/000[1-4]_*.sql; do
	psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "SET client_min_messages = warning" -f "$f" -c "INSERT INTO callbridge.schema_migrations VALUES ('$(basename "$f" .sql)')" >/dev/null 2>&1 ||
		fail "the schema before 0005: $(basename "$f") applies"
done
is "$(sql "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'callbridge' AND table_name = 'calls' AND column_name = 'owner_email'")" 0 "the schema before 0005 (no owner_email)"
# Rows as the previous release wrote them: Allo's user_email in agent_id, no new columns.
sql "INSERT INTO callbridge.webhook_events (platform, event_type, dedupe_key, occurred_at, payload, status) VALUES
  ('allo', 'CALL_RECEIVED', 'CALL_RECEIVED:mg-1', '2026-03-04T14:05:00Z', '{\"topic\":\"CALL_RECEIVED\",\"data\":{\"id\":\"mg-1\",\"user_email\":\"dr@example.fr\",\"integration_id\":\"int_1\",\"original_to_number\":\"+33100000000\",\"original_to_name\":\"Cabinet\",\"transfer_original_call_id\":\"mg-0\",\"transfer_from\":{\"number\":\"+33100000001\",\"user_email\":\"std@example.fr\",\"user_name\":\"Standard\"},\"transfer_to\":{\"number\":\"+33100000002\",\"user_email\":\"dr@example.fr\",\"user_name\":\"Dr\"}}}', 'mapped'),
  ('allo', 'CALL_RECEIVED', 'CALL_RECEIVED:mg-2', '2026-03-04T15:00:00Z', '{\"topic\":\"CALL_RECEIVED\",\"body\":{\"id\":\"mg-2\",\"userEmail\":\"sec@example.fr\",\"transferOriginalCallId\":\"mg-0\",\"transferFrom\":{\"userName\":\"Dr\"}}}', 'mapped'),
  ('allo', 'CONTACT_UPDATED', 'CONTACT_UPDATED:ct-9:x', NULL, '{\"topic\":\"CONTACT_UPDATED\",\"data\":{\"id\":42}}', 'mapped'),
  ('allo', 'PING', 'sha256:ping', NULL, '{\"topic\":\"PING\",\"data\":{\"id\":\"not-an-entity\"}}', 'unmapped'),
  ('simz', 'call.completed', 'call.completed:sz-9:c:a', '2026-05-19T15:02:14Z', '{\"event\":\"call.completed\",\"callId\":\"sz-9\",\"call\":{\"twilioCallSid\":\"CA9\"}}', 'mapped'),
  ('simpleai', 'call.completed', 'call.completed:sa-9', NULL, '{\"event_type\":\"call.completed\",\"payload\":{\"call\":{\"id\":\"sa-9\"}}}', 'mapped'),
  ('atoms', 'post-conversation', 'atoms-9', NULL, '{\"event\":\"a.post-conversation\",\"metadata\":{\"callId\":\"at-9\"}}', 'mapped'),
  ('replicer', 'call.ended', 'call.ended:rp-9', NULL, '{\"event\":\"call.ended\",\"data\":{\"callId\":\"rp-9\",\"tokenCost\":2}}', 'mapped');
INSERT INTO callbridge.calls (platform, external_id, agent_id, cost) VALUES
  ('allo', 'mg-1', 'dr@example.fr', NULL), ('allo', 'mg-2', 'sec@example.fr', NULL),
  ('allo', 'mg-3', 'old@example.fr', NULL), ('simz', 'sz-9', 'agent-9', NULL),
  ('replicer', 'rp-9', 'rep-9', 2), ('replicer', 'rp-8', 'rep-9', NULL)" >/dev/null
version_before=$(sql "SELECT max(sync_version) FROM callbridge.calls")
"$BIN" migrate >>"$TMP/migrate.log" 2>&1
is "$?" 0 "callbridge migrate applies 0005 over them"
is "$(sql "SELECT platform || ':' || coalesce(entity_id, '-') FROM callbridge.webhook_events ORDER BY platform, dedupe_key" | tr '\n' ' ')" \
	"allo:mg-1 allo:mg-2 allo:42 allo:- atoms:at-9 replicer:rp-9 simpleai:sa-9 simz:sz-9 " \
	"entity_id backfilled per platform (a PING names none)"
is "$(sql "SELECT external_id, coalesce(agent_id, '-'), owner_email, coalesce(transfer_chain_id, '-'), coalesce(transferred_from_name, '-'), coalesce(transferred_from_email, '-'), coalesce(transferred_to_number, '-'), coalesce(dialed_number, '-'), coalesce(dialed_name, '-'), coalesce(integration_id, '-') FROM callbridge.calls WHERE platform = 'allo' ORDER BY external_id" | tr '\n' ' ')" \
	"mg-1|-|dr@example.fr|mg-0|Standard|std@example.fr|+33100000002|+33100000000|Cabinet|int_1 mg-2|-|sec@example.fr|mg-0|Dr|-|-|-|-|- mg-3|-|old@example.fr|-|-|-|-|-|-|- " \
	"Allo: user_email moved from agent_id to owner_email (even without a raw event), transfers and the dialled line from the raw events (camelCase too)"
is "$(sql "SELECT carrier_call_id, agent_id FROM callbridge.calls WHERE platform = 'simz'")" "CA9|agent-9" "SimZ: carrier_call_id from twilioCallSid; agent_id kept"
is "$(sql "SELECT external_id || '=' || coalesce(cost_unit, '-') FROM callbridge.calls WHERE platform = 'replicer' ORDER BY 1" | tr '\n' ' ')" "rp-8=- rp-9=tokens " "Replicer: cost_unit tokens where there is a cost"
like "$(sql "SELECT count(*) FROM callbridge.calls WHERE sync_version > $version_before")" '^[1-9]' "the backfilled calls come again in the change feed"
is "$(sql "SELECT count(*) FROM callbridge.call_facts WHERE cost_unit = 'tokens'")" 1 "call_facts carries cost_unit"
done_testing
