#!/usr/bin/env bash
# Every fixture of every platform, end to end: posted over HTTP into an empty database,
# answered as its expected rows say, then posted again (a duplicate that changes
# nothing), and the database compared column by column with <name>.rows — compared in
# SQL with the column's own type, so 132 equals 132.0 and JSON key order is irrelevant.
# A row's "cleared" line names columns that must be NULL. A fixture with a <name>.zone
# is posted to a daemon started with that CALLBRIDGE_<SLUG>_TIMEZONE.
. "$(dirname "$0")/lib.sh"
pg_start
migrate
daemon_start
wait_ready || fail "daemon ready"

TAG='$cb_q$'
q() { printf '%s%s%s' "$TAG" "$1" "$TAG"; } # dollar-quoted SQL literal

declare -A coltype
while IFS='|' read -r t c ty; do
	case $ty in ARRAY) ty='text[]' ;; "timestamp with time zone") ty=timestamptz ;; "character varying") ty=text ;; esac
	coltype[$t.$c]=$ty
done < <(sql "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'callbridge'")

# check_fixture SLUG FILE: writes one SQL script that answers a line per expectation.
check_fixture() {
	local slug=$1 json=$2 rows=${2%.json}.rows hdr=${2%.json}.headers
	local name=$slug/$(basename "$json" .json) args=() status="" line key val c
	[ -f "$rows" ] || { fail "$name: has expected rows"; return; }
	if [ -f "$hdr" ]; then
		while IFS= read -r line; do [ -n "$line" ] && args+=(-H "$line"); done <"$hdr"
	fi
	sql "TRUNCATE callbridge.webhook_events, callbridge.event_keys, callbridge.calls, callbridge.sms_messages, callbridge.contacts CASCADE"
	post "$slug" "$json" "${args[@]}"
	local code1=$CODE word1
	word1=$(json_field status)
	post "$slug" "$json" "${args[@]}"
	local code2=$CODE word2
	word2=$(json_field status)

	local refused
	refused=$(sed -n 's/^refused = \([0-9]*\).*/\1/p' "$rows")
	status=$(sed -n 's/^event.status = //p' "$rows")
	if [ -n "$refused" ]; then
		is "$code1 $code2" "$refused $refused" "$name: refused with $refused, twice"
		is "$(sql "SELECT count(*) FROM callbridge.webhook_events")" 0 "$name: nothing stored"
		return
	fi
	case $status in
	mapped) is "$code1 $word1 / $code2 $word2" "200 stored / 200 duplicate" "$name: stored, then duplicate" ;;
	unmapped) is "$code1 $word1 / $code2 $word2" "200 unmapped / 200 duplicate" "$name: unmapped, then duplicate" ;;
	failed) is "$code1 $code2" "400 400" "$name: 400 unmappable, twice" ;;
	esac

	# Build the checks.
	local script=$TMP/check.sql
	{
		echo "SELECT 'event', (status = $(q "$status") AND delivery_count = 2)::text, status || ' x' || delivery_count FROM callbridge.webhook_events;"
		grep -q '^event.entity_id = ' "$rows" ||
			echo "SELECT 'event.entity_id NULL', (entity_id IS NULL)::text, entity_id FROM callbridge.webhook_events;"
		local call_ext="" audit_kind=""
		while IFS= read -r line; do
			key=${line%% = *}
			val=$(printf '%b' "${line#* = }")
			case $key in
			event.event_type) echo "SELECT $(q "$key"), (event_type = $(q "$val"))::text, event_type FROM callbridge.webhook_events;" ;;
			event.dedupe_key) echo "SELECT $(q "$key"), (dedupe_key = $(q "$val"))::text, dedupe_key FROM callbridge.webhook_events;" ;;
			event.occurred_at) echo "SELECT $(q "$key"), (occurred_at = $(q "$val")::timestamptz)::text, occurred_at::text FROM callbridge.webhook_events;" ;;
			event.error) echo "SELECT $(q "$key"), (error = $(q "$val"))::text, error FROM callbridge.webhook_events;" ;;
			event.entity_id) echo "SELECT $(q "$key"), (entity_id = $(q "$val"))::text, entity_id FROM callbridge.webhook_events;" ;;
			esac
		done <"$rows"
		# Mapped rows: group lines by table[index]; find each row by its key.
		local idx table col
		for idx in $(grep -oE '^[a-z_]+\[[0-9]+\]' "$rows" | sort -u); do
			table=${idx%%[*}
			local where
			case $table in
			calls | sms_messages | contacts)
				key=$(sed -n "s/^$table\[${idx//[^0-9]/}\]\.external_id = //p" "$rows")
				where="FROM callbridge.$table t WHERE t.platform = $(q "$slug") AND t.external_id = $(q "$(printf '%b' "$key")")"
				;;
			call_audits)
				key=$(sed -n "s/^call_audits\[${idx//[^0-9]/}\]\.call_id = //p" "$rows")
				audit_kind=$(sed -n "s/^call_audits\[${idx//[^0-9]/}\]\.kind = //p" "$rows")
				where="FROM callbridge.call_audits t JOIN callbridge.calls c ON c.id = t.call_id WHERE c.platform = $(q "$slug") AND c.external_id = $(q "$(printf '%b' "$key")") AND t.kind = $(q "$audit_kind")"
				;;
			esac
			echo "SELECT $(q "$idx exists"), (count(*) = 1)::text, count(*)::text $where;"
			while IFS= read -r line; do
				key=${line%% = *}
				col=${key#*].}
				[ "$table" = call_audits ] && [ "$col" = call_id ] && continue
				val=$(printf '%b' "${line#* = }")
				if [ "$col" = cleared ]; then
					for c in ${val//,/ }; do
						echo "SELECT $(q "$idx.$c cleared"), (t.$c IS NULL)::text, t.$c::text $where;"
					done
					continue
				fi
				echo "SELECT $(q "$key"), (t.$col IS NOT DISTINCT FROM $(q "$val")::${coltype[$table.$col]})::text, replace(t.$col::text, chr(10), '\\n') $where;"
			done < <(grep -F "$idx." "$rows")
		done
		# Transcript: count and every segment.
		call_ext=$(sed -n 's/^transcript.call = //p' "$rows")
		if [ -n "$call_ext" ]; then
			local n
			n=$(grep -c '^transcript\[' "$rows")
			where="FROM callbridge.transcript_segments s JOIN callbridge.calls c ON c.id = s.call_id WHERE c.platform = $(q "$slug") AND c.external_id = $(q "$(printf '%b' "$call_ext")")"
			echo "SELECT 'transcript count', (count(*) = $n)::text, count(*)::text $where;"
			grep '^transcript\[' "$rows" | while IFS= read -r line; do
				local seq=${line#transcript[}
				seq=${seq%%]*}
				local rest=${line#* = } role speaker at content
				role=${rest%% | *}; rest=${rest#* | }
				speaker=${rest%% | *}; rest=${rest#* | }
				at=${rest%% | *}; content=$(printf '%b' "${rest#* | }")
				[ "$speaker" = - ] && speaker_sql="s.speaker IS NULL" || speaker_sql="s.speaker = $(q "$(printf '%b' "$speaker")")"
				[ "$at" = - ] && at_sql="s.spoken_at IS NULL" || at_sql="s.spoken_at = $(q "$at")::timestamptz"
				echo "SELECT 'transcript[$seq]', (count(*) = 1)::text, count(*)::text $where AND s.seq = $seq AND s.role = $(q "$role") AND $speaker_sql AND $at_sql AND s.content = $(q "$content");"
			done
		fi
	} >"$script"
	local bad
	bad=$(psql -X -q -tA -F ' | ' -v ON_ERROR_STOP=1 "$DATABASE_URL" -f "$script" 2>&1 | grep -v ' | true | ' || true)
	if [ -z "$bad" ]; then
		pass "$name: database holds the expected rows ($(grep -c . "$script") checks)"
	else
		fail "$name: database holds the expected rows"
		printf '%s\n' "$bad" | head -n 10 | sed 's/^/#   /'
	fi
}

zoned=()
for dir in "$FIX"/${FIXTURE_PLATFORM:-*}/; do
	slug=$(basename "$dir")
	for json in "$dir"*.json; do
		[ -e "$json" ] || continue
		if [ -e "${json%.json}.zone" ]; then
			zoned+=("$slug $json")
			continue
		fi
		check_fixture "$slug" "$json"
	done
done
# The fixtures with a zone, each against a daemon started with it.
for z in "${zoned[@]}"; do
	slug=${z%% *} json=${z#* }
	daemon_stop
	daemon_start "CALLBRIDGE_$(printf '%s' "$slug" | tr 'a-z' 'A-Z')_TIMEZONE=$(head -n 1 "${json%.json}.zone")"
	wait_ready || fail "daemon ready with the zone of $json"
	check_fixture "$slug" "$json"
done
done_testing
