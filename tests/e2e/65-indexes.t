#!/usr/bin/env bash
# Every index of schema callbridge earns its place (docs/database.md, "Indexes"): a
# realistic state is loaded through the daemon (every fixture of every platform and a
# few dozen generated calls), then everything that reads runs with sequential scans
# disabled, so that the planner takes an index wherever one applies: the reports, the
# change feed, pre-call lookups, replay, prune, forget, a duplicate and a late retry,
# and the queries the docs give operators. pg_stat_user_indexes then says which indexes
# were read. Each index must be in the docs' table; each one the table says is read must
# have been read; the indexes migration 0009 dropped must be gone.
. "$(dirname "$0")/lib.sh"
DOC=$ROOT/docs/database.md
REPORT=$ROOT/scripts/report.sh
TOKEN=CALLBRIDGE_RETELL_PRECALL_TOKEN=rt-token
# What is read is this test's subject, not durability: without fsync the load is faster.
export CALLBRIDGE_PG_FSYNC=off
pg_start
migrate || fail "migrate"
daemon_start "$TOKEN"
wait_ready || fail "daemon ready"

# ---- 1. the state --------------------------------------------------------------------
# post_fixtures: every fixture of every platform with its headers (as 70-fixtures.t
# posts them), 8 at a time; an answer code per line.
post_fixtures() {
	local dir json
	# shellcheck disable=SC2016 # run by sh -c, which expands it
	for dir in "$FIX"/*/; do
		for json in "$dir"*.json; do [ -e "$json" ] && echo "$(basename "$dir") $json"; done
	done | xargs -P 8 -L 1 sh -c '
		slug=$1 json=$2 hdr=${2%.json}.headers
		shift 2
		if [ -f "$hdr" ]; then
			while IFS= read -r line; do [ -n "$line" ] && set -- "$@" -H "$line"; done <"$hdr"
		fi
		curl -s -o /dev/null -w "%{http_code}\n" -X POST -H "Content-Type: application/json" \
			--data-binary @"$json" "$@" "http://127.0.0.1:$0/webhooks/$slug"' "$PORT"
}
codes=$(post_fixtures | sort | uniq -c | awk '{ printf "%s%s:%s", sep, $2, $1; sep = " " }')
like "$codes" '^200:[1-9][0-9]{2} 400:[0-9]+$' "every fixture of every platform delivered: 200, or 400 where its rows say so ($codes)"

# gen_calls N: N SimZ calls with their audits, each its own customer, agent of four,
# campaign of three, day of May, in $TMP/gen_<i>.json and $TMP/gen_<i>_audit.json.
gen_calls() {
	local call audit i
	call=$(<"$FIX/simz/call_completed.json")
	audit=$(<"$FIX/simz/call_audit_completed.json")
	for i in $(seq 1 "$1"); do
		local c=${call//$CALL_ID/gen_$i} a=${audit//$CALL_ID/gen_$i}
		c=${c//+15557654321/+1555020$(printf %04d "$i")}
		c=${c//d5c58cfd-ddb4-47ba-8c85-d68a8f7f36e3/agent-$((i % 4))}
		a=${a//d5c58cfd-ddb4-47ba-8c85-d68a8f7f36e3/agent-$((i % 4))}
		c=${c//2026-05-19T15:00:02/2026-05-$(printf %02d $((i % 28 + 1)))T1$((i % 10)):00:02}
		c=${c//spring-2026/campaign-$((i % 3))}
		c=${c//\"durationSeconds\": 132/\"durationSeconds\": $((i * 7))}
		c=${c//CAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/CA$(printf %032d "$i")}
		printf '%s\n' "$c" >"$TMP/gen_$i.json"
		printf '%s\n' "$a" >"$TMP/gen_${i}_audit.json"
	done
}
GEN=48
gen_calls "$GEN"
gen_codes=$(for i in $(seq 1 "$GEN"); do echo "$TMP/gen_$i.json"; echo "$TMP/gen_${i}_audit.json"; done |
	xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST --data-binary @{} "http://127.0.0.1:$PORT/webhooks/simz" | sort | uniq -c | tr -s ' ')
is "$gen_codes" " $((GEN * 2)) 200" "$GEN generated SimZ calls and their audits delivered"

# Pre-call lookups now, so that their records exist for prune and forget to find.
caller() { curl -s -o "$TMP/resp" -w '%{http_code}' -H 'Authorization: Bearer rt-token' "http://127.0.0.1:$PORT/v1/callers/$1"; }
for n in 15550200001 15550200002 15550200005 %2B33612345678; do caller "$n" >/dev/null; done
wait_for -m "set-up: the pre-call lookups are recorded" prints 4 sql "SELECT count(*) FROM callbridge.precall_lookups"

# Age: the raw events and keys of gen_1..3 as if received 10 days ago, those of gen_4..6
# 5 days ago, and the lookup record of gen_1's customer 10 days ago: with a raw
# retention of 3 days and a key window of 7, prune removes all six calls' raw events,
# the keys of gen_1..3 and the record; gen_4's key stays, so its late retry is a
# duplicate whose raw event is gone.
aged=0
for i in 1 2 3; do aged=$((aged + $(age "gen_$i" '10 days'))); done
for i in 4 5 6; do aged=$((aged + $(age "gen_$i" '5 days'))); done
sql "UPDATE callbridge.precall_lookups SET received_at = received_at - interval '10 days' WHERE phone = '+15550200001'" >/dev/null
is "$aged" 12 "set-up: six calls' events and keys made old (two each)"

# A client role that reads only its sources' rows (docs/sources.md), for the reports.
sql "CREATE ROLE client_acme LOGIN" >/dev/null
sql "SELECT callbridge.grant_source_reader('client_acme', 'default')" >/dev/null

# ---- 2. everything that reads, with sequential scans off -------------------------------
# New sessions take the setting; the daemon is restarted so that its own (the pre-call
# lookup, the duplicate counting) do too.
sql "ALTER DATABASE callbridge SET enable_seqscan = off" >/dev/null
daemon_stop
daemon_start "$TOKEN"
wait_ready || fail "daemon ready again"
is "$(sql "SHOW enable_seqscan")" off "a new session plans without sequential scans"
sql "SELECT pg_stat_reset()" >/dev/null

# Reports, as scripts/report.sh runs them, over every day.
for r in daily_call_volume agent_performance campaign_outcomes sms_activity contact_growth transfer_chains; do
	out=$(REPORT_FORMAT=unaligned "$REPORT" "$r" 2>&1)
	like "$(printf '%s\n' "$out" | grep -c .)" '^([2-9]|[1-9][0-9]+)$' "report $r: rows"
done
out=$(DATABASE_URL=${DATABASE_URL/postgres@/client_acme@} REPORT_FORMAT=unaligned "$REPORT" daily_call_volume 2>&1)
like "$(printf '%s\n' "$out" | grep -c .)" '^([2-9]|[1-9][0-9]+)$' "report daily_call_volume as a client role (row-level security): rows"
out=$(REPORT_FORMAT=unaligned "$REPORT" transcript_search -v query=bonjour 2>&1)
like "$out" $'\nallo\\|' "report transcript_search: a word of the fixtures' transcripts is found"

# The change feed: each table from cursor 0, a page of 20 at a time to the end (100
# pages at most); prints the last cursor line.
export_all() {
	local table=$1 cursor=0 pages=0 last
	while [ "$pages" -lt 100 ]; do
		last=$("$BIN" export --table "$table" --since "$cursor" --limit 20 | tail -n 1)
		pages=$((pages + 1))
		cursor=$(printf '%s' "$last" | sed -n 's/^{"cursor":"\([0-9:]*\)".*/\1/p')
		[[ $last == *'"more":true'* ]] || break
	done
	echo "$last"
}
for t in calls call_audits sms_messages contacts; do
	like "$(export_all "$t")" '"more":false' "export --table $t: paged to the end"
done

# Pre-call lookups for known callers: one by a call, one by calls, SMS and a contact.
for n in 15550200007 %2B33612345678; do
	is "$(caller "$n")|$(sed -n 's/.*"known":\(true\|false\).*/\1/p' "$TMP/resp")" "200|true" "pre-call lookup of ${n/\%2B/+}: known"
done

# A duplicate: counted on its raw event, found through its key.
post simz "$FIX/simz/call_completed.json"
is "$CODE $(json_field status)" "200 duplicate" "a duplicate delivery"

# Replay: all, then the unmapped of one platform, then since a time.
like "$("$BIN" replay 2>/dev/null)" '^replayed [1-9][0-9]* events' "replay"
like "$("$BIN" replay --platform simz 2>/dev/null)" '^replayed [1-9][0-9]* events' "replay --platform simz"
like "$("$BIN" replay --platform allo --status unmapped 2>/dev/null)" '^replayed [1-9][0-9]* events' "replay --platform allo --status unmapped"
like "$("$BIN" replay --since "$(date -u +%Y-%m-%dT00:00:00Z)" 2>/dev/null)" '^replayed [0-9]+ events' "replay --since today"

# Retention: raw events and lookup records older than 3 days, keys older than 7 (tried
# again while the daemon's own maintenance run holds the lock). Then a late retry: its
# raw event is gone, its key kept, so it is a duplicate all the same.
prune_once() { out=$(CALLBRIDGE_RAW_RETENTION_DAYS=3 CALLBRIDGE_DEDUPE_WINDOW_DAYS=7 "$BIN" prune 2>&1) && [[ $out != *"another callbridge is maintaining"* ]]; }
poll 10 prune_once || diag "prune: $out"
like "$out" 'raw events removed: 12 ' "prune: the raw events older than 3 days"
like "$out" 'de-duplication keys removed: 6 ' "prune: the keys older than 7 days"
like "$out" 'pre-call lookup records removed: 1' "prune: the lookup record older than 3 days"
post simz "$TMP/gen_4.json"
is "$CODE $(json_field status)" "200 duplicate" "a late retry, its raw event pruned: duplicate"

# Erasure, then the feed's tombstones.
out=$("$BIN" forget --phone 15550200008 --reference index-test 2>&1)
like "$out" 'calls: 1' "forget --phone: the person's call erased"
for t in calls call_audits; do
	like "$(export_all "$t")" '"more":false' "export --table $t after forget: paged to the end"
done

# The queries the docs give operators (docs/database.md, precall.md, operations.md,
# sources.md, change-feed.md).
doc_queries() {
	psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" <<'SQL'
SELECT e.event_type, e.payload -> 'data' -> 'transfer_to'
  FROM callbridge.calls c
  JOIN callbridge.webhook_events e ON e.platform = c.platform AND e.entity_id = c.external_id
 WHERE c.platform = 'allo' AND c.external_id = 'call_tr_2';
SELECT date_trunc('day', received_at) AS day, adapter, outcome, count(*)
  FROM callbridge.precall_lookups GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT source, platform, count(*) FROM callbridge.calls GROUP BY 1, 2;
SELECT count(*) AS events, avg(octet_length(payload::text))::int AS body_bytes
  FROM callbridge.webhook_events;
SELECT * FROM callbridge.contact_activity WHERE contact_external_id = 'ct_100';
SQL
}
like "$(doc_queries 2>&1)" '^CALL_RECEIVED\|\{' "the operators' queries of the docs run"

# ---- 3. what was read ------------------------------------------------------------------
# Every session that read has ended: a backend writes out its statistics before it
# leaves pg_stat_activity, so after that pg_stat_user_indexes holds all the reads.
daemon_stop
others() { sql "SELECT count(*) FROM pg_stat_activity WHERE datname = 'callbridge' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"; }
wait_for -m "every session that read has ended" prints 0 others

# Each index under the name the docs use: a partition's index under its parent's; the
# id index of each day partition as webhook_events_YYYYMMDD_id. idx_scan summed.
sql "WITH idx AS (
         SELECT ic.oid, ic.relname AS index, tc.oid AS table_oid, tc.relname AS tbl
           FROM pg_index x
           JOIN pg_class ic ON ic.oid = x.indexrelid
           JOIN pg_class tc ON tc.oid = x.indrelid
          WHERE ic.relnamespace = 'callbridge'::regnamespace)
     SELECT coalesce((SELECT p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
                       WHERE h.inhrelid = i.table_oid), i.tbl),
            coalesce((SELECT p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
                       WHERE h.inhrelid = i.oid),
                     regexp_replace(i.index, '^webhook_events_[0-9]{8}_id\$', 'webhook_events_YYYYMMDD_id')),
            coalesce(sum(s.idx_scan), 0)
       FROM idx i LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.oid
      GROUP BY 1, 2 ORDER BY 1, 2" >"$TMP/scans"

# The docs' table: "| `table` | `index`[, `index`...] | columns | why |". A row may name
# several indexes (the id index of each partition): one family, whose scans are summed.
# $TMP/doc: a line "index|row|why" per name.
awk '/^## Indexes/ { on = 1; next } on && /^## / { exit } on && /^\| `/' "$DOC" |
	while IFS='|' read -r _ _ names _ why _; do
		row=$((${row:-0} + 1))
		why=$(echo "$why" | sed 's/^ *//; s/ *$//')
		# shellcheck disable=SC2016 # backquotes, not an expansion
		for n in $(printf '%s' "$names" | grep -o '`[a-zA-Z0-9_]*`' | tr -d '`'); do echo "$n|$row|$why"; done
	done >"$TMP/doc"
like "$(grep -c . "$TMP/doc")" '^[1-9][0-9]$' "docs/database.md has the Indexes table ($(grep -c . "$TMP/doc") names)"

diag "table | index | idx_scan | why (docs/database.md)"
declare -A ROW_SCANS ROW_WHY ROW_NAMES
missing=
while IFS='|' read -r tbl name scans; do
	IFS='|' read -r _ row why < <(awk -F'|' -v n="$name" '$1 == n { print; exit }' "$TMP/doc")
	diag "$tbl | $name | $scans | ${why:-(not in the docs)}"
	if [ -z "$why" ]; then
		missing="$missing $name"
		continue
	fi
	ROW_SCANS[$row]=$((${ROW_SCANS[$row]:-0} + scans))
	ROW_WHY[$row]=$why
	ROW_NAMES[$row]="${ROW_NAMES[$row]:-}${ROW_NAMES[$row]:+,}$name"
done <"$TMP/scans"
is "${missing:-none}" none "every index of schema callbridge is in docs/database.md's Indexes table"

# What the table says of an index, by the start of its reason: a key (its scans are
# uniqueness checks, or reads as well: either way it stays); read by nothing, or kept
# for the contract (then nothing may have read it, or the reason should name the
# reader); else the readers it names (then one of them must have read it).
unread='' read_anyway=''
for row in "${!ROW_WHY[@]}"; do
	case ${ROW_WHY[$row]} in
	'Primary key'* | 'Unique key'*) ;;
	'Read by nothing'* | 'Kept for the contract'*) [ "${ROW_SCANS[$row]}" -eq 0 ] || read_anyway="$read_anyway ${ROW_NAMES[$row]}" ;;
	*) [ "${ROW_SCANS[$row]}" -gt 0 ] || unread="$unread ${ROW_NAMES[$row]}" ;;
	esac
done
is "${unread:-none}" none "every index the table says is read was read (idx_scan > 0; a family summed)"
is "${read_anyway:-none}" none "no index the table says nothing reads (or kept for the contract) was read"
is "$(sql "SELECT count(*) FROM pg_class WHERE relnamespace = 'callbridge'::regnamespace AND relname IN ('calls_updated_at', 'calls_customer_number', 'calls_started_at', 'calls_agent', 'call_audits_platform_time', 'sms_messages_sent_at', 'contacts_phone_numbers', 'precall_lookups_phone', 'webhook_events_platform_type', 'webhook_events_legacy_platform_source_dedupe_key')")" 0 \
	"the ten indexes 0009 dropped do not exist"
done_testing
