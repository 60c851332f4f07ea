#!/usr/bin/env bash
# Logical replication (sql/migrations/0004_publication.sql, docs/change-feed.md, "Logical
# replication (CDC)"): the publication callbridge_cdc holds exactly the mapped tables,
# each with a primary key as its replica identity; a role that may not create it still
# migrates, and is told the statement that creates it. Then a real consumer: a
# subscription in a second database of the same cluster copies the rows already there
# and receives what the daemon writes afterwards (inserts, an update, deletes), until
# every published table is the same on both sides.
. "$(dirname "$0")/lib.sh"
command -v pg_dump >/dev/null || {
	echo "1..0 # skip pg_dump is not installed (postgresql-client)"
	exit 0
}
TABLES=(call_audits calls contacts sms_messages transcript_segments) # sorted: compared in order
MAPPED="${TABLES[*]/#/callbridge.}"

pg_start
migrate || {
	echo "Bail out! migrate failed"
	sed 's/^/# /' "$TMP/migrate.log"
	exit 1
}
is "$(grep -c -e WARNING -e 'the database says' "$TMP/migrate.log")" 0 "migrating (wal_level replica) warns about nothing"

# published: the tables of callbridge_cdc, sorted, one line.
published() {
	sql "SELECT coalesce(string_agg(schemaname || '.' || tablename, ' ' ORDER BY tablename), '-')
	       FROM pg_publication_tables WHERE pubname = 'callbridge_cdc'"
}
is "$(published)" "$MAPPED" "callbridge_cdc publishes exactly the mapped tables"
is "$(sql "SELECT pubinsert AND pubupdate AND pubdelete FROM pg_publication WHERE pubname = 'callbridge_cdc'")" t \
	"inserts, updates and deletes are published"
# UPDATE and DELETE need a replica identity: the default one is the primary key.
is "$(sql "SELECT string_agg(c.relname, ' ' ORDER BY c.relname)
             FROM pg_publication_tables p
             JOIN pg_class c ON c.oid = format('%I.%I', p.schemaname, p.tablename)::regclass
            WHERE p.pubname = 'callbridge_cdc' AND c.relreplident = 'd'
              AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)")" \
	"${TABLES[*]}" "every published table has a primary key as its replica identity"

# ---- a role that may not create the publication -----------------------------------------
# The tables' owner lacking CREATE on the database: the migration's SQL as that role, in a
# transaction rolled back (callbridge migrate itself needs CREATE on the database for its
# CREATE SCHEMA IF NOT EXISTS, so it cannot be that role).
{
	echo "BEGIN;"
	echo "DROP PUBLICATION callbridge_cdc;"
	echo "CREATE ROLE cb_owner;"
	for t in "${TABLES[@]}"; do echo "ALTER TABLE callbridge.$t OWNER TO cb_owner;"; done
	echo "SET ROLE cb_owner;"
	cat "$ROOT/sql/migrations/0004_publication.sql"
	echo "RESET ROLE;"
	echo "SELECT 'publications=' || count(*) FROM pg_publication WHERE pubname = 'callbridge_cdc';"
	echo "ROLLBACK;"
} >"$TMP/owner.sql"
out=$(psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -f "$TMP/owner.sql" 2>&1)
like "$? $out" '^0 .*publications=0' "the tables' owner without CREATE on the database: the migration succeeds, no publication"
like "$out" 'WARNING: +publication callbridge_cdc not created: role cb_owner lacks CREATE on the database'$'\n' \
	"... and a WARNING says why"

# A role with CREATE on the database that does not own the tables, through callbridge
# migrate (0004 unrecorded and its publication dropped, as if it were still to come).
sql "DELETE FROM callbridge.schema_migrations WHERE version = '0004_publication';
     DROP PUBLICATION callbridge_cdc;
     CREATE ROLE cb_app LOGIN;
     GRANT CREATE ON DATABASE callbridge TO cb_app;
     GRANT USAGE, CREATE ON SCHEMA callbridge TO cb_app;
     GRANT SELECT, INSERT ON callbridge.schema_migrations TO cb_app"
DATABASE_URL=${DATABASE_URL/postgres@/cb_app@} "$BIN" migrate >"$TMP/app.out" 2>&1
like "$? $(cat "$TMP/app.out")" '^0 .*migrations done applied=1' "a role that does not own the tables: migrate applies 0004, exit 0"
like "$(cat "$TMP/app.out")" 'warn +the database says message="publication callbridge_cdc not created: role cb_app lacks ownership of the tables"' \
	"... warns that the publication was not created, and why"
is "$(published)" - "... and there is none"
stmt=$(sed -n 's/.* hint=".* can run: \(.*\)"$/\1/p' "$TMP/app.out")
like "$stmt" '^CREATE PUBLICATION callbridge_cdc FOR TABLE ' "the warning's hint holds the statement"
sql "$stmt" >/dev/null 2>"$TMP/stmt.err" || sed 's/^/# /' "$TMP/stmt.err" # it warns: wal_level is replica
is "$(published)" "$MAPPED" "an administrator running it makes the same publication"
[ "$(published)" != - ] || {
	echo "Bail out! no publication to subscribe to"
	exit 1
}

# ---- wal_level = logical --------------------------------------------------------------
# scripts/pg.sh starts PostgreSQL with its defaults (wal_level replica); a restart takes the
# setting, as it does for anyone turning CDC on later.
sql "ALTER SYSTEM SET wal_level = logical"
pg_stop
pg_start
is "$(sql "SHOW wal_level")" logical "PostgreSQL restarted with wal_level = logical"

daemon_start
wait_ready || fail "daemon ready"
simz_calls pre 20
burst_posts pre 20
is "$(grep -c ' 200$' "$TMP/pre.codes")" 20 "20 calls delivered before the subscription"

# ---- the consumer: a subscription in a second database -----------------------------------
REPLICA_URL=${DATABASE_URL%/*}/cb_replica
rsql() { psql -X -q -tA -v ON_ERROR_STOP=1 "$REPLICA_URL" -c "$1"; }
sql "CREATE DATABASE cb_replica" >/dev/null
pg_dump -s -n callbridge --no-publications --no-subscriptions -d "$DATABASE_URL" >"$TMP/schema.sql" &&
	psql -X -q -v ON_ERROR_STOP=1 "$REPLICA_URL" -f "$TMP/schema.sql" >/dev/null
is "$?" 0 "the replica has the schema (pg_dump -s)"
# CREATE SUBSCRIPTION cannot make its slot in its own cluster (making a logical slot waits
# for every running transaction to end, its own included): the slot comes first.
is "$(sql "SELECT slot_name FROM pg_create_logical_replication_slot('cb_sub', 'pgoutput')")" cb_sub "slot cb_sub created"
rsql "CREATE SUBSCRIPTION cb_sub
        CONNECTION 'host=127.0.0.1 port=$PG_PORT user=postgres dbname=callbridge'
        PUBLICATION callbridge_cdc WITH (create_slot = false, slot_name = 'cb_sub', copy_data = true)"
is "$?" 0 "subscription cb_sub created"

# fingerprint URL TABLE: the table's row count and a digest of all its rows, every column.
fingerprint() {
	psql -X -q -tA -v ON_ERROR_STOP=1 "$1" -c \
		"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM callbridge.$2 t"
}
# replicated TABLE: the replica's copy of TABLE is the published one, row for row.
replicated() {
	local want
	want=$(fingerprint "$DATABASE_URL" "$1")
	prints "$want" fingerprint "$REPLICA_URL" "$1"
}
# same_calls WHAT: eventually, the replica's calls are the published ones; diag the
# difference in external_id when they are not.
same_calls() {
	eventually -t 30 "$1" replicated calls && return 0
	diff <(sql "SELECT external_id FROM callbridge.calls ORDER BY 1") \
		<(rsql "SELECT external_id FROM callbridge.calls ORDER BY 1") | head -n 10 | sed 's/^/#   /'
}
same_calls "the initial copy brings the 20 calls already there (copy_data)"
is "$(rsql "SELECT count(*) FROM callbridge.calls")" 20 "... all 20 of them"

simz_calls post 30
burst_posts post 30
is "$(grep -c ' 200$' "$TMP/post.codes")" 30 "30 calls delivered after the subscription"
same_calls "the calls delivered afterwards stream in"
is "$(rsql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE 'post\\_%'")" 30 "... all 30 of them"

# An update: a later event of a call changes its metadata (newer wins) and adds its audit.
simz call_audit_completed.json post_7 | sed 's/spring-2026/summer-2026/' >"$TMP/audit.json"
post simz "$TMP/audit.json"
is "$CODE $(json_field status)" "200 stored" "an audit of call post_7 delivered"
is "$(sql "SELECT metadata->>'campaignTag' FROM callbridge.calls WHERE external_id = 'post_7'")" summer-2026 \
	"it changed the call's metadata"
eventually "the update of the call arrives" prints summer-2026 \
	rsql "SELECT metadata->>'campaignTag' FROM callbridge.calls WHERE external_id = 'post_7'"
same_calls "... and the replica's calls are the published ones again"
eventually "the audit arrives" replicated call_audits

# Deletes: a newer, shorter transcript removes the tail segments of the first.
post simpleai "$FIX/simpleai/transcript_update_rich.json"
is "$CODE" 200 "a transcript delivered"
like "$(sql "SELECT count(*) FROM callbridge.transcript_segments")" '^[2-9]$' "... of several segments"
eventually "its segments arrive" replicated transcript_segments
call=$(sed -n 's/.*"call_id":"\([^"]*\)".*/\1/p' "$FIX/simpleai/transcript_update_rich.json")
printf '{"event_type":"call.transcript_update","event_id":"evt_cdc_short","payload":{"call_id":"%s","timestamp":"2026-06-01T09:02:00Z","transcript":[{"speaker":"agent","text":"Goodbye."}]}}' \
	"$call" >"$TMP/short.json"
post simpleai "$TMP/short.json"
is "$CODE $(sql "SELECT count(*) FROM callbridge.transcript_segments")" "200 1" "a shorter transcript leaves one segment"
eventually "the deleted segments go from the replica too" replicated transcript_segments

post allo "$FIX/allo/sms_received.json"
is "$CODE" 200 "an SMS delivered"
post allo "$FIX/allo/contact_created.json"
is "$CODE" 200 "a contact delivered"
eventually "the SMS arrives" replicated sms_messages
eventually "the contact arrives" replicated contacts
for t in "${TABLES[@]}"; do
	is "$(sql "SELECT count(*) > 0 FROM callbridge.$t") $(replicated "$t" && echo same)" "t same" \
		"$t: not empty, and the same on both sides"
done

# ---- teardown: the slot must go with the subscription --------------------------------------
timeout 30 psql -X -q -v ON_ERROR_STOP=1 "$REPLICA_URL" -c "DROP SUBSCRIPTION cb_sub"
is "$?" 0 "DROP SUBSCRIPTION"
is "$(sql "SELECT count(*) FROM pg_replication_slots")" 0 "no replication slot left to hold WAL"
done_testing
