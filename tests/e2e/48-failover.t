#!/usr/bin/env bash
# Failover to a synchronous standby under load: a primary and a streaming standby made
# with pg_basebackup, the daemon given both hosts with target_session_attrs=read-write.
# In the middle of a burst the primary is stopped in immediate mode (a crash) and the
# standby promoted. The daemon, never restarted, answers from the spool meanwhile, finds
# the new primary by itself and drains into it; every acknowledged delivery is there:
# those committed on the old primary because the standby had them before the COMMIT
# returned, the others from the spool.
. "$(dirname "$0")/lib.sh"

if ! command -v pg_basebackup >/dev/null; then
	echo "1..0 # skip pg_basebackup not installed (postgresql-client)"
	exit 0
fi

# ---- the standby (scripts/pg.sh runs the primary) -------------------------------------
PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/pg_ctl" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
SB_DIR=$TMP/standby
SB_PORT=

# as_owner CMD...: as the postgres user when run as root, as scripts/pg.sh runs servers.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# standby_start: a base backup of the primary, streaming from it under the name
# "standby" (the name synchronous_standby_names asks for). pg.sh's servers run with the
# defaults wal_level=replica, max_wal_senders=10 and hot_standby=on, and initdb's
# pg_hba.conf trusts replication connections from 127.0.0.1.
standby_start() {
	SB_PORT=$(free_port)
	mkdir -p "$SB_DIR"
	[ "$(id -u)" != 0 ] || chown postgres: "$SB_DIR"
	as_owner mkdir -p "$SB_DIR/sock"
	as_owner pg_basebackup -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$SB_DIR/data" -R -c fast \
		>"$SB_DIR/basebackup.log" 2>&1 || return 1
	# -R wrote standby.signal and a primary_conninfo; this one names the standby.
	echo "primary_conninfo = 'host=127.0.0.1 port=$PG_PORT user=postgres application_name=standby'" |
		as_owner tee -a "$SB_DIR/data/postgresql.auto.conf" >/dev/null
	as_owner setsid -w "$PGBIN/pg_ctl" -D "$SB_DIR/data" -l "$SB_DIR/postgres.log" -w -t 60 \
		-o "-p $SB_PORT -k $SB_DIR/sock -c listen_addresses=127.0.0.1" start >/dev/null
}
standby_stop() {
	[ -z "$SB_PORT" ] || as_owner "$PGBIN/pg_ctl" -D "$SB_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}
trap 'standby_stop; cleanup' EXIT # cleanup (lib.sh) stops the daemon and the primary

# ---- deliveries that keep their answers -----------------------------------------------
# burst_answers PREFIX N: burst_posts (lines "<i> <code>" in $TMP/PREFIX.codes, for
# acked_ids and lost_acks), keeping each answer's body in $TMP/PREFIX_<i>.body: whether a
# 200 was "stored" (committed) or "spooled" tells where the delivery must be found.
burst_answers() {
	seq 1 "$2" | xargs -P 8 -I{} sh -c "echo {} \$(curl -s -o $TMP/$1_{}.body -w '%{http_code}' -X POST --data-binary @$TMP/$1_{}.json http://127.0.0.1:$PORT/webhooks/simz)" >"$TMP/$1.codes"
}
# committed_ids PREFIX: the calls of the burst answered "200 stored" so far, sorted (one
# grep over the bodies: a process per delivery is too slow while the burst runs).
committed_ids() {
	grep -l '"status":"stored"' "$TMP/$1"_*.body 2>/dev/null | sed 's|.*/||; s|\.body$||' | sort
}
# uncommitted PREFIX: how many of them the database of DATABASE_URL lacks.
uncommitted() {
	comm -23 <(committed_ids "$1") <(sql "SELECT external_id FROM callbridge.calls WHERE external_id LIKE '$1\\_%'" | sort) | grep -c . || true
}

# probe: posts a new call; succeeds when it is answered "200 stored". PROBE_ACKED
# collects every probe answered 200, to be found in the database at the end.
PROBES=0
PROBE_ACKED=()
probe() {
	PROBES=$((PROBES + 1))
	simz_call "probe_$PROBES"
	post simz "$TMP/probe_$PROBES.json"
	[ "$CODE" != 200 ] || PROBE_ACKED+=("probe_$PROBES")
	[ "$CODE $(json_field status)" == "200 stored" ]
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) / 1e6}'; }

# ---- a primary and its synchronous standby --------------------------------------------
pg_start
migrate || {
	echo "Bail out! migrate failed"
	sed 's/^/# /' "$TMP/migrate.log"
	exit 1
}
PRIMARY_URL=$DATABASE_URL
standby_start || {
	echo "Bail out! cannot start the standby"
	cat "$SB_DIR"/*.log | tail -n 20 | sed 's/^/# /'
	exit 1
}
STANDBY_URL=${PRIMARY_URL/127.0.0.1:$PG_PORT/127.0.0.1:$SB_PORT}
# Set on the primary only, after the base backup copied its configuration: the promoted
# standby, having no standby of its own, must not wait for one at every COMMIT.
sql "ALTER SYSTEM SET synchronous_standby_names = 'standby'"
sql "SELECT pg_reload_conf()" >/dev/null
eventually -t 20 "the standby streams and is synchronous" prints "streaming sync" \
	sql "SELECT state || ' ' || sync_state FROM pg_stat_replication WHERE application_name = 'standby'"

# Both hosts: libpq tries them in order and keeps the first that accepts writes.
HA_URL="${PRIMARY_URL/127.0.0.1:$PG_PORT/127.0.0.1:$PG_PORT,127.0.0.1:$SB_PORT}"
[[ $HA_URL == *\?* ]] && HA_URL+="&" || HA_URL+="?"
HA_URL+="target_session_attrs=read-write"
daemon_start DATABASE_URL="$HA_URL"
wait_ready || fail "daemon ready"
pid=$DAEMON_PID # the daemon for the whole test: never restarted
post simz "$FIX/simz/call_completed.json"
is "$CODE $(json_field status)" "200 stored" "stored through the two-host URL"
eventually "the daemon's two connections are on the primary" prints 2 \
	sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'callbridge'"

# ---- the primary crashes under load, the standby is promoted --------------------------
N=400
SPOOLED='callbridge_deliveries_total{platform="simz",outcome="spooled"}'
simz_calls ha "$N"
burst_answers ha "$N" &
burst=$!
wait_for -t 30 -m "the burst is under way (100 answers)" at_least 100 codes_in ha
spooled=$(metric "$SPOOLED")
as_owner "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null
t_stop=${EPOCHREALTIME/./}
wait_for -m "the primary is down (pg_isready says no)" pg_refuses
# Until the promotion, no host takes writes: the burst goes on into the spool.
wait_for -t 20 -m "the daemon sees the primary gone (callbridge_database_up 0)" prints 0 metric callbridge_database_up
wait_for -t 20 -m "deliveries spooled while no host takes writes" at_least $((spooled + 20)) metric "$SPOOLED"
# The standby, still read-only, already holds every delivery answered "stored": each
# COMMIT returned only once the standby had flushed its WAL (it may lag in replaying it).
DATABASE_URL=$STANDBY_URL
committed=$(committed_ids ha | grep -c . || true)
[ "$committed" -gt 0 ] || fail "deliveries were committed on the primary before it stopped"
eventually "before its promotion the standby holds all $committed deliveries committed on the primary" \
	prints 0 uncommitted ha
before=$(codes_in ha)
t_promote=${EPOCHREALTIME/./}
as_owner "$PGBIN/pg_ctl" -D "$SB_DIR/data" -w -t 60 promote >/dev/null
is "$(sql "SELECT pg_is_in_recovery()")" f "the standby is promoted"
[ "$before" -lt "$N" ] && pass "the burst was still under way at the promotion ($before of $N answered)" ||
	fail "the burst was still under way at the promotion ($before of $N answered)"

# Recovery: from the promotion to the first new delivery stored (not spooled).
if poll 30 probe; then
	t_back=${EPOCHREALTIME/./}
	diag "failover: primary down $(elapsed "$t_stop" "$t_promote") s before the promotion; first delivery stored $(elapsed "$t_promote" "$t_back") s after it ($PROBES probes)"
	awk -v t="$(elapsed "$t_promote" "$t_back")" 'BEGIN {exit !(t < 15)}' &&
		pass "the daemon stores into the new primary within 15 s of the promotion" ||
		fail "the daemon stores into the new primary within 15 s of the promotion"
else
	fail "the daemon stores into the new primary after the promotion (30 s, $PROBES probes)"
fi
is "$(sql "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'callbridge'")" t \
	"the daemon is connected to the promoted standby"

# ---- afterwards ----------------------------------------------------------------------
wait "$burst"
# (kill -0 would succeed on a daemon that died and awaits its wait, a zombie)
stat=$(ps -o stat= -p "$pid")
[ -n "$stat" ] && [[ $stat != Z* ]] && pass "the daemon ran throughout (same pid $pid)" ||
	fail "the daemon ran throughout (same pid $pid; ps says '$stat')"
is "$(grep -c listening "$TMP/daemon.log")" 1 "the daemon started once"
is "$(awk '$2 != 200' "$TMP/ha.codes" | wc -l)" 0 "every delivery of the burst answered 200"
acked=$(acked_ids ha | grep -c . || true)
eventually -t 30 "all $acked acknowledged deliveries are in the promoted standby" prints 0 lost_acks ha
eventually "the spool drained (callbridge_spool_records 0)" prints 0 metric callbridge_spool_records
is "$(count_calls ha)" "$acked" "rows = acknowledged deliveries"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:ha\\_%' AND delivery_count <> 1")" 0 \
	"each stored once (delivery_count 1), those in flight at the crash too"
now=$(metric "$SPOOLED")
diag "answered from the spool during the failover: $((${now:-0} - spooled)) deliveries"
probes_in() { sql "SELECT count(*) FROM callbridge.calls WHERE external_id LIKE 'probe\\_%'"; }
is "$(probes_in)" "${#PROBE_ACKED[@]}" "every acknowledged probe is in the promoted standby"

done_testing
