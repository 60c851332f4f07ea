#!/usr/bin/env bash
# Out-of-order arrival across platforms: the merge rules hold whatever the order.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start
wait_ready
F=$FIX

# Allo: the update arrives before the creation (which has no time): the creation only
# fills gaps.
post allo "$F/allo/v2_contact_updated.json"
post allo "$F/allo/v2_contact_created_no_time.json"
is "$(sql "SELECT first_name, last_name, company, emails::text, phone_numbers::text FROM callbridge.contacts WHERE external_id = 'ct_200'")" \
	'Noah|Petit|Petit SARL|{noah@petit.example}|{+33622222222}' "contact: a late creation fills gaps, overwrites nothing"

# Allo v2: completed, then answered, then received (reverse order).
for f in v2_call_completed v2_call_answered v2_call_received; do post allo "$F/allo/$f.json"; done
is "$(sql "SELECT status, successful, started_at AT TIME ZONE 'UTC', answered_at AT TIME ZONE 'UTC', ended_at AT TIME ZONE 'UTC', duration_seconds FROM callbridge.calls WHERE external_id = 'call_v2_1'")" \
	'ANSWERED|t|2026-03-05 09:00:00|2026-03-05 09:00:05|2026-03-05 09:03:00|180' "call events in reverse order: the newest status, every time filled"
is "$(sql "SELECT count(*) FROM callbridge.transcript_segments s JOIN callbridge.calls c ON c.id = s.call_id WHERE c.external_id = 'call_v2_1'")" 2 "its transcript kept"

# Atoms: analytics before the call's own event.
post atoms "$F/atoms/seed_analytics_before_call.json"
is "$CODE" 200 "analytics first: stored"
call=$(sql "SELECT c.external_id FROM callbridge.call_audits a JOIN callbridge.calls c ON c.id = a.call_id WHERE a.kind = 'analytics' LIMIT 1")
like "$call" '.' "a stub call holds the analytics"

# Simple AI transcripts: a longer later one replaces, an older shorter one is ignored,
# no stale tail, no duplicate seq.
t() { # t TIME N: a transcript update at TIME with N turns
	local turns="" i
	for i in $(seq 1 "$2"); do turns="$turns${turns:+,}{\"role\":\"$([ $((i % 2)) = 1 ] && echo agent || echo user)\",\"content\":\"turn $i at $1\"}"; done
	printf '{"event_type":"call.transcript_update","event_id":"e-%s","payload":{"call_id":"c-order","attempt":1,"timestamp":"%s","transcript":[%s]}}' "$1" "$1" "$turns" >"$TMP/t.json"
	post simpleai "$TMP/t.json"
}
segs() { sql "SELECT string_agg(seq || ':' || content, ',' ORDER BY seq) FROM callbridge.transcript_segments s JOIN callbridge.calls c ON c.id = s.call_id WHERE c.external_id = 'c-order'"; }
t 2026-06-01T09:01:00Z 3
t 2026-06-01T09:00:30Z 2
is "$(segs)" "0:turn 1 at 2026-06-01T09:01:00Z,1:turn 2 at 2026-06-01T09:01:00Z,2:turn 3 at 2026-06-01T09:01:00Z" "an older, shorter transcript is ignored"
t 2026-06-01T09:02:00Z 5
is "$(segs)" "0:turn 1 at 2026-06-01T09:02:00Z,1:turn 2 at 2026-06-01T09:02:00Z,2:turn 3 at 2026-06-01T09:02:00Z,3:turn 4 at 2026-06-01T09:02:00Z,4:turn 5 at 2026-06-01T09:02:00Z" "a newer, longer one replaces it"
t 2026-06-01T09:03:00Z 2
is "$(segs)" "0:turn 1 at 2026-06-01T09:03:00Z,1:turn 2 at 2026-06-01T09:03:00Z" "a newer, shorter one leaves no stale tail"
is "$(sql "SELECT transcript_text FROM callbridge.calls WHERE external_id = 'c-order'")" "agent: turn 1 at 2026-06-01T09:03:00Z
user: turn 2 at 2026-06-01T09:03:00Z" "transcript_text follows the newest transcript"

# Every delivery of this test, repeated, changes nothing.
before=$(sql "SELECT md5(string_agg(t::text, '' ORDER BY t::text)) FROM (SELECT c FROM callbridge.calls c UNION ALL SELECT s FROM callbridge.transcript_segments s) t(t)" 2>/dev/null || sql "SELECT count(*) FROM callbridge.calls")
for f in allo/v2_contact_updated allo/v2_contact_created_no_time allo/v2_call_completed allo/v2_call_answered allo/v2_call_received atoms/seed_analytics_before_call; do
	post "${f%%/*}" "$F/$f.json"
done
after=$(sql "SELECT md5(string_agg(t::text, '' ORDER BY t::text)) FROM (SELECT c FROM callbridge.calls c UNION ALL SELECT s FROM callbridge.transcript_segments s) t(t)" 2>/dev/null || sql "SELECT count(*) FROM callbridge.calls")
is "$after" "$before" "repeating every delivery changes no row"
done_testing
