#!/usr/bin/env bash
# The change feed (sql/migrations/0003_change_feed.sql, docs/change-feed.md): `callbridge
# export` pages through changed rows with a cursor that never skips a row, even when a
# transaction that took a lower number commits after one that took a higher number;
# duplicates and no-op replays stamp nothing; NOTIFY after commits; normalize_phone and
# contact_activity; the examples/crm-sync job.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start
wait_ready || fail "daemon ready"
CALL=call_1777920072301_12514

# feed TABLE CURSOR [args...]: runs export; sets RC, ROWS (the NDJSON lines), LAST (the
# cursor line), NEXT (its cursor) and ERR (stderr).
feed() {
	local table=$1 since=$2
	shift 2
	"$BIN" export --table "$table" --since "$since" "$@" >"$TMP/feed.out" 2>"$TMP/feed.err"
	RC=$?
	LAST=$(tail -n 1 "$TMP/feed.out")
	ROWS=$(sed '$d' "$TMP/feed.out")
	NEXT=$(printf '%s' "$LAST" | sed -n 's/^{"cursor":"\([0-9]*:[0-9]*\)".*/\1/p')
	ERR=$(cat "$TMP/feed.err")
}
# ids [FIELD]: that string field of every exported row, in feed order, comma-separated.
ids() { printf '%s\n' "$ROWS" | grep -o "\"${1:-external_id}\":\"[^\"]*\"" | cut -d'"' -f4 | paste -sd, -; }
stamp() { sql "SELECT sync_xid || ':' || sync_version FROM callbridge.calls WHERE external_id = '$1'"; }
new_call() { sed "s/$CALL/$1/" "$FIX/simz/call_completed.json" >"$TMP/$1.json" && post simz "$TMP/$1.json"; }

# --- a first export, then nothing new -------------------------------------------------
post simz "$FIX/simz/call_completed.json"
is "$CODE $(json_field status)" "200 stored" "call delivered"
feed calls 0
is "$RC" 0 "export from cursor 0: exit 0"
is "$(ids)" "$CALL" "export from 0 gives the call"
like "$LAST" '^\{"cursor":"[0-9]+:[0-9]+","rows":1,"more":false,"pending":false\}$' "last line: the cursor, the count, more and pending"
is "$NEXT" "$(stamp "$CALL")" "the cursor is the last row's (sync_xid:sync_version)"
like "$ROWS" '"sync_version":[0-9]+' "rows carry sync_version"
like "$ROWS" '"started_at":"2026-05-19T15:00:02\+00:00"' "timestamps in UTC"
C1=$NEXT
feed calls "$C1"
is "$ROWS|$LAST" "|{\"cursor\":\"$C1\",\"rows\":0,\"more\":false,\"pending\":false}" "export again from the returned cursor: nothing, same cursor"

# --- duplicates and no-op replays stamp nothing ---------------------------------------
before=$(stamp "$CALL")
post simz "$FIX/simz/call_completed.json"
is "$CODE $(json_field status)" "200 duplicate" "the same delivery again: duplicate"
is "$(stamp "$CALL")" "$before" "a duplicate delivery does not advance sync_version"
"$BIN" replay >/dev/null 2>&1
is "$(stamp "$CALL")" "$before" "a replay that changes nothing does not advance sync_version"
sql "UPDATE callbridge.calls SET status = status" >/dev/null
is "$(stamp "$CALL")" "$before" "an UPDATE that changes nothing does not either"
feed calls "$C1"
is "$(printf '%s' "$LAST" | sed 's/"cursor":"[^"]*",//')" '{"rows":0,"more":false,"pending":false}' "nothing re-exported"

# --- a newer event changes the call: exported again, once -----------------------------
post simz "$FIX/simz/call_audit_completed.json"
is "$CODE $(json_field status)" "200 stored" "a newer event (the audit) delivered"
after=$(stamp "$CALL")
[ "${after#*:}" -gt "${before#*:}" ] && pass "its change advanced sync_version (${before#*:} -> ${after#*:})" || fail "its change advanced sync_version"
feed calls "$C1"
is "$(ids)" "$CALL" "the changed call is exported again, once"
like "$ROWS" '"last_event_at":"2026-05-19T15:06:41.22\+00:00"' "in its new state"
C2=$NEXT
feed calls "$C2"
is "$(ids)" "" "and not a second time"
feed call_audits 0
is "$(ids kind)" "audit" "call_audits: the audit row"

# --- never skip: a lower number committed after a higher one ---------------------------
# A transaction changes the call and stays open (psql reads its script from a FIFO, so
# the test decides when it commits); meanwhile a later delivery commits a new call.
mkfifo "$TMP/hold.fifo"
PGAPPNAME=cb-hold psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" <"$TMP/hold.fifo" >"$TMP/hold.out" 2>&1 &
HOLD_PID=$!
exec 7>"$TMP/hold.fifo"
echo "BEGIN; UPDATE callbridge.calls SET summary = 'from the held transaction' WHERE external_id = '$CALL';" >&7
hold_xid=
for _ in $(seq 1 200); do
	hold_xid=$(sql "SELECT backend_xid FROM pg_stat_activity WHERE application_name = 'cb-hold' AND state = 'idle in transaction' AND backend_xid IS NOT NULL")
	[ -n "$hold_xid" ] && break
	sleep 0.05
done
like "$hold_xid" '^[0-9]+$' "a transaction holds an uncommitted change (xid $hold_xid)"
new_call call_after_hold
is "$CODE $(json_field status)" "200 stored" "a later delivery commits meanwhile"
after_xid=$(sql "SELECT sync_xid FROM callbridge.calls WHERE external_id = 'call_after_hold'")
[ "$after_xid" -gt "$hold_xid" ] && pass "it has the higher xid ($after_xid > $hold_xid)" || fail "it has the higher xid ($after_xid > $hold_xid)"
feed calls "$C2"
is "$(ids)" "" "export while the first is open: neither row (the later one waits behind it)"
is "$NEXT" "$C2" "the cursor does not move past the open transaction's change"
[ "${NEXT%%:*}" -lt "$hold_xid" ] && pass "cursor xid ${NEXT%%:*} < open xid $hold_xid" || fail "cursor xid ${NEXT%%:*} < open xid $hold_xid"
like "$LAST" '"pending":true' "export says committed changes are pending"
C_HOLD=$NEXT # what a sync job would have stored
echo "COMMIT;" >&7
exec 7>&-
wait "$HOLD_PID"
is "$? $(cat "$TMP/hold.out")" "0 " "the held transaction commits"
held_v=$(sql "SELECT sync_version FROM callbridge.calls WHERE external_id = '$CALL'")
later_v=$(sql "SELECT sync_version FROM callbridge.calls WHERE external_id = 'call_after_hold'")
[ "$held_v" -lt "$later_v" ] && pass "it took the lower sync_version ($held_v < $later_v): a plain max(sync_version) cursor would have skipped it" || fail "held sync_version $held_v < later $later_v"
feed calls "$C_HOLD"
is "$(ids)" "$CALL,call_after_hold" "export again from the cursor it returned: both rows, in xid order"
like "$ROWS" '"summary":"from the held transaction"' "with the held transaction's change"
like "$LAST" '"pending":false' "nothing pending"
C3=$NEXT

# --- NOTIFY callbridge_changes after commits -------------------------------------------
mkfifo "$TMP/listen.fifo"
PGAPPNAME=cb-listen psql -X -q "$DATABASE_URL" <"$TMP/listen.fifo" >"$TMP/listen.out" 2>&1 &
LISTEN_PID=$!
exec 8>"$TMP/listen.fifo"
echo "LISTEN callbridge_changes;" >&8
for _ in $(seq 1 200); do
	[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cb-listen' AND query LIKE 'LISTEN%' AND state = 'idle'")" = 1 ] && break
	sleep 0.05
done
notes() { # notes N: polls the listener until it printed N notifications (3 s at most)
	for _ in $(seq 1 30); do
		echo "SELECT 1;" >&8
		sleep 0.1
		[ "$(grep -c 'Asynchronous notification' "$TMP/listen.out")" -ge "$1" ] && break
	done
	grep -c 'Asynchronous notification' "$TMP/listen.out"
}
new_call call_notified
is "$CODE" 200 "a delivery commits"
is "$(notes 1)" 1 "LISTEN callbridge_changes: one notification for the transaction"
like "$(grep 'Asynchronous notification' "$TMP/listen.out")" 'notification "callbridge_changes" with payload "calls" received' "payload: the table"
post simz "$TMP/call_notified.json"
is "$CODE $(json_field status)" "200 duplicate" "the same delivery again"
"$BIN" replay --platform simz >/dev/null 2>&1
is "$(notes 2)" 1 "a duplicate or a no-op replay notifies nobody"
exec 8>&-
wait "$LISTEN_PID"

# --- SMS and contacts ------------------------------------------------------------------
for f in contact_created sms_received sms_sent_mms; do post allo "$FIX/allo/$f.json"; done
feed contacts 0
is "$(ids)" "ct_100" "contacts: the contact"
feed sms_messages 0
is "$(ids)" "sms_001,sms_002" "sms_messages: both messages, in commit order"

# --- paging with --limit ----------------------------------------------------------------
for i in $(seq 1 7); do sed "s/$CALL/call_page_$i/" "$FIX/simz/call_completed.json" >"$TMP/page_$i.json"; done
seq 1 7 | xargs -P 7 -I{} curl -s -o /dev/null -X POST --data-binary @"$TMP/page_{}.json" "http://127.0.0.1:$PORT/webhooks/simz"
cursor=0 all= pages=0 fulls=0
while :; do
	feed calls "$cursor" --limit 2
	[ "$RC" = 0 ] || break
	pages=$((pages + 1))
	all="$all${all:+,}$(ids)"
	cursor=$NEXT
	case $LAST in *'"more":true'*) fulls=$((fulls + 1)) ;; *) break ;; esac
done
n=$(sql "SELECT count(*) FROM callbridge.calls")
is "$(printf '%s' "$all" | tr ',' '\n' | sort | uniq -d)" "" "paging by 2: no row twice"
is "$(printf '%s' "$all" | tr ',' '\n' | grep -c .)" "$n" "paging by 2: every call ($n)"
is "$fulls" "$(( n / 2 ))" "full pages say more:true, the last one not"

# --- arguments --------------------------------------------------------------------------
feed nope 0
is "$RC $ERR" "1 callbridge: --table: must be calls, call_audits, sms_messages or contacts, not 'nope'" "unknown table refused"
feed calls "1;DROP TABLE x"
is "$RC $ERR" "1 callbridge: --since: '1;DROP TABLE x' is not a cursor (0, or XID:VERSION as printed by export)" "bad cursor refused"
feed calls 0 --limit 0
is "$RC $ERR" "1 callbridge: --limit: must be a number from 1 to 100000, not '0'" "bad --limit refused"
"$BIN" export --table calls >"$TMP/out" 2>&1
is "$? $(cat "$TMP/out")" "1 callbridge: export needs --since CURSOR (0 the first time)" "--since is required"
feed calls 999999999999:1
is "$RC $ERR" "1 callbridge: --since: cursor 999999999999:1 is ahead of this database's transactions (was it restored from a dump?): export again from 0" "a cursor from another database refused"

# --- normalize_phone ----------------------------------------------------------------------
while IFS='|' read -r in want; do
	is "$(sql "SELECT coalesce(callbridge.normalize_phone(\$q\$$in\$q\$), 'NULL')")" "$want" "normalize_phone('$in')"
done <<'CASES'
+1 (555) 123-4567|+15551234567
555.123.4567|+15551234567
(555) 123 4567|+15551234567
1-555-123-4567|+15551234567
0044 20 7946 0958|+442079460958
+44 (0)20 7946 0958|+442079460958
+33 6 12 34 56 78|+33612345678
020 7946 0958|02079460958
555-1234|5551234
+1 555 123 4567 ext. 89|1555123456789
+0 123 456 789|0123456789
anonymous|NULL
|NULL
CASES
is "$(sql "SELECT callbridge.normalize_phone(NULL) IS NULL")" t "normalize_phone(NULL) is NULL"

# --- contact_activity ---------------------------------------------------------------------
sql "INSERT INTO callbridge.contacts (platform, external_id, first_name, phone_numbers) VALUES ('crm', 'pat', 'Pat', ARRAY['(555) 765-4321', '555.765.4321', '0'])" >/dev/null
is "$(sql "SELECT string_agg(kind || ':' || external_id, ',' ORDER BY external_id) FROM callbridge.contact_activity WHERE contact_external_id = 'ct_100'")" \
	"sms:sms_001,sms:sms_002" "contact_activity: an inbound and an outbound SMS linked to their contact"
is "$(sql "SELECT count(*) FROM callbridge.contact_activity WHERE contact_external_id = 'pat'")" \
	"$(sql "SELECT count(*) FROM callbridge.calls WHERE customer_number = '+15557654321'")" "contact_activity: every call with that customer, once, however the contact wrote the number"
is "$(sql "SELECT DISTINCT phone || ' ' || kind FROM callbridge.contact_activity WHERE contact_external_id = 'pat'")" "+15557654321 call" "linked by the normalised number"

# --- the crm-sync example -------------------------------------------------------------------
SYNC=$ROOT/examples/crm-sync/sync.sh
crm() { CALLBRIDGE=$BIN SYNC_LIMIT=3 sh "$SYNC" calls "$TMP/calls.cursor" "$@"; }
crm sh -c 'cat >>"$1"' sh "$TMP/crm.ndjson"
is "$?" 0 "crm-sync: first run"
is "$(grep -c . "$TMP/crm.ndjson")" "$(sql "SELECT count(*) FROM callbridge.calls")" "crm-sync: every call fed to the command (in pages of 3)"
cur=$(cat "$TMP/calls.cursor")
crm sh -c 'cat >>"$1"' sh "$TMP/crm.ndjson"
is "$? $(grep -c . "$TMP/crm.ndjson") $(cat "$TMP/calls.cursor")" "0 $n $cur" "crm-sync: second run exports nothing new, cursor kept"
new_call call_for_crm
crm false
is "$? $(cat "$TMP/calls.cursor")" "1 $cur" "crm-sync: when the command fails, the cursor stays"
crm sh -c 'cat >>"$1"' sh "$TMP/crm.ndjson"
is "$(tail -n 1 "$TMP/crm.ndjson" | grep -o '"external_id":"[^"]*"')" '"external_id":"call_for_crm"' "crm-sync: the next run sends the new call"
is "$(grep -c . "$TMP/crm.ndjson")" "$((n + 1))" "crm-sync: and only it"

done_testing
