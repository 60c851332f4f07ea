#!/usr/bin/env bash
# A rolling upgrade: the build before the newest migration keeps writing while the new
# build applies that migration, then both serve side by side, and the old one restarts
# after the migration (a pod rescheduled mid-rollout). Nothing acknowledged is lost,
# every delivery is stored exactly once. The rules for migrations that make this safe are
# in docs/operations.md ("Rolling upgrades").
. "$(dirname "$0")/lib.sh"

newest=$(cd "$ROOT/sql/migrations" && ls -- *.sql | tail -n 1)
added=$(git -C "$ROOT" log --diff-filter=A --format=%H -1 -- "sql/migrations/$newest" 2>/dev/null)
if [ -z "$added" ] && git -C "$ROOT" rev-parse -q --verify HEAD >/dev/null 2>&1; then
	added=WORKTREE # the newest migration is not committed yet: HEAD is the older build
fi
if [ -z "$added" ]; then
	echo "1..0 # skip no git history to build the older release from"
	exit 0
fi
old_rev=$([ "$added" = WORKTREE ] && git -C "$ROOT" rev-parse HEAD || git -C "$ROOT" rev-parse "$added^" 2>/dev/null)
if [ -z "$old_rev" ]; then
	echo "1..0 # skip the history is too shallow for the build before $newest"
	exit 0
fi

# The older build, from git, built the way its own Makefile says.
mkdir -p "$TMP/old"
git -C "$ROOT" archive "$old_rev" | tar -x -C "$TMP/old"
if make -C "$TMP/old" -s -j2 OPT=-O1 all >"$TMP/old-build.log" 2>&1; then
	pass "the build before $newest ($(git -C "$ROOT" rev-parse --short "$old_rev")) compiles"
else
	fail "the build before $newest compiles"
	sed 's/^/# /' "$TMP/old-build.log" | tail -n 20
	done_testing
	exit 1
fi
OLD=$TMP/old/bin/callbridge
known_old=$(ls "$TMP/old/sql/migrations" | grep -c '\.sql$')
known_new=$(ls "$ROOT/sql/migrations" | grep -c '\.sql$')

OLD_PID= NEW_PID=
trap 'kill -9 $OLD_PID $NEW_PID 2>/dev/null; cleanup' EXIT
pg_start
"$OLD" migrate >>"$TMP/migrate.log" 2>&1
is "$(sql 'SELECT count(*) FROM callbridge.schema_migrations')" "$known_old" "the older build migrates to its own schema ($known_old migrations)"

# A migration that changes what older builds' statements name (a natural key) says so in
# a line "-- upgrade: stop older builds first", and the upgrade is then the one
# docs/operations.md describes for it: the older build stops (its spool kept), the new
# build migrates and starts on the same spool, and everything the older build
# acknowledged — committed or spooled — is in the new schema exactly once.
breaking=
for f in "$ROOT"/sql/migrations/*.sql; do
	[ -e "$TMP/old/sql/migrations/$(basename "$f")" ] && continue
	grep -q '^-- upgrade: stop older builds first' "$f" && breaking="$breaking $(basename "$f")"
done
if [ -n "$breaking" ]; then
	diag "stop-first migrations since the older build:$breaking"
	BIN_NEW=$BIN
	BIN=$OLD
	daemon_start
	OLD_PID=$DAEMON_PID
	BIN=$BIN_NEW
	simz_calls up 300
	burst_posts up 300 8
	is "$(awk '$2 != 200' "$TMP/up.codes" | wc -l)" 0 "300 deliveries through the older build: all 200"
	pg_stop
	simz_calls sp 40
	burst_posts sp 40 4
	is "$(awk '$2 != 200' "$TMP/sp.codes" | wc -l)" 0 "40 more with PostgreSQL away: all 200 (spooled by the older build)"
	kill -TERM "$OLD_PID"
	wait "$OLD_PID"
	is "$?" 0 "the older build stops cleanly, its spool kept"
	OLD_PID=
	pg_start
	# The new build starts before the migration, on the older build's spool directory
	# ($TMP/spool): its writer waits for the schema it needs, so deliveries meanwhile
	# are spooled and acknowledged, and nothing is written to the older schema.
	daemon_start
	NEW_PID=$DAEMON_PID
	simz_calls mg 40
	burst_posts mg 40 4
	is "$(awk '$2 != 200' "$TMP/mg.codes" | wc -l)" 0 "40 more through the new build before the migration: all 200"
	is "$(count_calls mg)" 0 "... kept in its spool, not written to the older schema"
	"$BIN" migrate >>"$TMP/migrate.log" 2>&1
	is "$?" 0 "the new build applies$breaking once the older build is stopped"
	is "$(sql 'SELECT count(*) FROM callbridge.schema_migrations')" "$known_new" "all $known_new migrations recorded"
	eventually -t 30 "the new build drains what the older one spooled" prints 0 lost_acks sp
	eventually -t 30 "and what it spooled itself before the migration" prints 0 lost_acks mg
	is "$(lost_acks up)" 0 "every delivery the older build committed is still there"
	burst_posts up 300 8
	is "$(awk '$2 != 200' "$TMP/up.codes" | wc -l)" 0 "the same 300 again through the new build: all 200"
	is "$(count_calls up)" 300 "... stored once (the old rows are the default source's under the new key)"
	is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:up\_%' AND delivery_count <> 2")" 0 \
		"... and counted as duplicates of the older build's"
	NEW_PID=
	done_testing
	exit
fi

# The older build serves; a burst through it is under way when the new build migrates.
BIN_NEW=$BIN
BIN=$OLD
daemon_start
OLD_PID=$DAEMON_PID OLD_PORT=$PORT
BIN=$BIN_NEW
simz_calls up 300
burst_posts up 300 8 &
burst=$!
wait_for -t 30 -m "the burst through the older build is under way" at_least 50 codes_in up
start=${EPOCHREALTIME/./}
"$BIN" migrate >>"$TMP/migrate.log" 2>&1
rc=$?
took=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
is "$rc" 0 "the new build applies $newest while the older one writes (${took} ms)"
is "$(sql 'SELECT count(*) FROM callbridge.schema_migrations')" "$known_new" "all $known_new migrations recorded"
wait "$burst"
is "$(awk '$2 != 200' "$TMP/up.codes" | wc -l)" 0 "every delivery through the older build during the migration: 200"
is "$(lost_acks up)" 0 "every one is stored"

# Both builds side by side on the new schema: the same deliveries through each.
daemon_start CALLBRIDGE_SPOOL_DIR="$TMP/spool-new"
NEW_PID=$DAEMON_PID NEW_PORT=$PORT
simz_calls both 100
PORT=$OLD_PORT burst_posts both 100 8
cp "$TMP/both.codes" "$TMP/both-old.codes"
PORT=$NEW_PORT burst_posts both 100 8
is "$(cat "$TMP/both-old.codes" "$TMP/both.codes" | awk '$2 != 200' | wc -l)" 0 "100 deliveries through each build: all 200"
is "$(count_calls both)" 100 "each stored once"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:both\_%' AND delivery_count <> 2")" 0 \
	"and counted twice, once per build"

# The older build restarted after the migration (a rescheduled instance) still starts,
# serves and stops cleanly.
kill -TERM "$OLD_PID"
wait "$OLD_PID"
is "$?" 0 "the older build stops cleanly"
BIN=$OLD
daemon_start
OLD_PID=$DAEMON_PID
BIN=$BIN_NEW
simz_call late_1
post simz "$TMP/late_1.json"
is "$CODE $(json_field status)" "200 stored" "the older build restarted on the new schema stores"
kill -TERM "$OLD_PID"
wait "$OLD_PID"
is "$?" 0 "and stops cleanly again"
OLD_PID=
DAEMON_PID=$NEW_PID PORT=$NEW_PORT
done_testing
