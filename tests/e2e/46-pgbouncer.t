#!/usr/bin/env bash
# Through PgBouncer in transaction pooling mode (the pooler hands each transaction to any
# of its two server connections): `callbridge migrate` run twice at once, then three
# instances taking the same deliveries, with CALLBRIDGE_DB_POOLER=transaction and with
# it left to `auto`. PgBouncer before 1.21 does not carry named prepared statements from
# one server connection to another, so a daemon that prepares them at connect meets
# "already exists" or "does not exist" and would live on its spool.
. "$(dirname "$0")/lib.sh"
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer) # sbin: not on every PATH
[ -x "$PGBOUNCER" ] || {
	echo "1..0 # skip pgbouncer is not installed"
	exit 0
}
STORED='callbridge_deliveries_total{platform="simz",outcome="stored"}'
N=300 # calls per part, each posted to every instance

# ---- the pooler -------------------------------------------------------------------------
PGB_DIR=$TMP/pgbouncer
PGB_PID=
# pgbouncer_start: PgBouncer on a free port in front of the test's PostgreSQL, transaction
# mode, two server connections for the whole test; PGB_URL is the daemon's DATABASE_URL.
pgbouncer_start() {
	PGB_PORT=$(free_port)
	mkdir -p "$PGB_DIR"
	local pg=${DATABASE_URL#*@} as=()
	pg=${pg%%/*}
	# trust still wants the user in the auth file. Both server connections open from the
	# start (min_pool_size) and taken in turn (server_round_robin), so that a client's
	# transactions land on either: the sharing that named statements do not survive.
	# options: lib.sh's PGOPTIONS, which PgBouncer would refuse as an unsupported startup
	# parameter.
	echo '"postgres" ""' >"$PGB_DIR/users.txt"
	cat >"$PGB_DIR/pgbouncer.ini" <<-EOF
		[databases]
		callbridge = host=${pg%:*} port=${pg##*:} dbname=callbridge
		[pgbouncer]
		listen_addr = 127.0.0.1
		listen_port = $PGB_PORT
		unix_socket_dir =
		auth_type = trust
		auth_file = $PGB_DIR/users.txt
		admin_users = postgres
		pool_mode = transaction
		default_pool_size = 2
		min_pool_size = 2
		server_round_robin = 1
		reserve_pool_size = 0
		max_client_conn = 100
		ignore_startup_parameters = extra_float_digits,options
		logfile = $PGB_DIR/pgbouncer.log
		pidfile = $PGB_DIR/pgbouncer.pid
	EOF
	if [ "$(id -u)" = 0 ]; then # PgBouncer will not run as root
		chown -R postgres: "$PGB_DIR"
		as=(-u postgres)
	fi
	"$PGBOUNCER" "${as[@]}" "$PGB_DIR/pgbouncer.ini" >>"$PGB_DIR/stderr" 2>&1 &
	PGB_PID=$!
	PGB_URL="postgresql://postgres@127.0.0.1:$PGB_PORT/callbridge"
}
pgbouncer_stop() {
	[ -n "$PGB_PID" ] || return 0
	kill -TERM "$PGB_PID" 2>/dev/null # immediate shutdown
	wait "$PGB_PID" 2>/dev/null
	PGB_PID=
}
# via SQL: SQL through the pooler. admin COMMAND: PgBouncer's console.
via() { psql -X -q -tA -v ON_ERROR_STOP=1 "$PGB_URL" -c "$1" 2>/dev/null; }
admin() { psql -X -q -tA -F ' ' "postgresql://postgres@127.0.0.1:$PGB_PORT/pgbouncer" -c "$1"; }

# ---- several daemons --------------------------------------------------------------------
# lib.sh's daemon_start runs one daemon; here each instance has its own port, spool and
# log ($TMP/dI.log), and is reached with `on I CMD...` (lib.sh's helpers read $PORT).
PORTS=()
PIDS=()
SET=0 # which set of instances: their logs go into daemon.log with this prefix
# instances_start N [VAR=value ...]: N daemons on the pooler, each up (/healthz) before
# the next takes a port.
instances_start() {
	local n=$1 i p
	shift
	SET=$((SET + 1))
	for i in $(seq 1 "$n"); do
		p=$(free_port)
		env PORT="$p" CALLBRIDGE_LISTEN=127.0.0.1 CALLBRIDGE_SPOOL_DIR="$TMP/spool$SET.$i" \
			DATABASE_URL="$PGB_URL" CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1 "$@" \
			"$BIN" serve >"$TMP/d$i.log" 2>&1 &
		PIDS[i]=$!
		PORTS[i]=$p
		poll 10 curl -s -o /dev/null "http://127.0.0.1:$p/healthz" && continue
		echo "Bail out! instance $i did not start"
		sed 's/^/# /' "$TMP/d$i.log"
		exit 1
	done
}
# instances_stop: SIGTERM to each; their exit codes in STOP_RCS. Their logs go to
# daemon.log, where done_testing looks for sanitizer reports and cleanup shows the tail.
instances_stop() {
	local i
	STOP_RCS=
	for i in "${!PIDS[@]}"; do
		kill -TERM "${PIDS[i]}" 2>/dev/null
		wait "${PIDS[i]}" 2>/dev/null
		STOP_RCS="$STOP_RCS $?"
		sed "s/^/[set $SET instance $i] /" "$TMP/d$i.log" >>"$TMP/daemon.log"
	done
	STOP_RCS=${STOP_RCS# }
	PIDS=()
}
on() {
	local PORT=${PORTS[$1]}
	shift
	"$@"
}
readyz() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz"; }
# per_instance NAME: each instance's sample NAME, space-separated.
per_instance() {
	local i out=
	for i in "${!PORTS[@]}"; do out="$out $(on "$i" metric "$1")"; done
	echo "${out# }"
}
sum() { local s=0 v; for v in "$@"; do s=$((s + ${v:-0})); done; echo "$s"; }
all_positive() { local v; for v in "$@"; do [[ $v =~ ^[1-9][0-9]*$ ]] || return 1; done; }

# calls PREFIX N: what lib.sh's simz_calls writes, without a sed per file (on a busy
# machine, 300 processes take longer than the deliveries).
calls() {
	local body i
	body=$(<"$FIX/simz/call_completed.json")
	for i in $(seq 1 "$2"); do printf '%s\n' "${body//$CALL_ID/$1_$i}" >"$TMP/$1_$i.json"; done
}

# fan_out PREFIX N: posts $TMP/PREFIX_1..N.json to every instance, 12 at a time, the
# copies of a call side by side so that they race each other through the pooler; a line
# "<i> <port> <code>" per answer in $TMP/PREFIX.codes. One curl for all (a process per
# request would make the machine, not the daemons, the bottleneck).
fan_out() {
	local i p sep=
	for i in $(seq 1 "$2"); do
		for p in "${PORTS[@]}"; do
			printf '%surl = "http://127.0.0.1:%s/webhooks/simz"\ndata-binary = "@%s"\n' "$sep" "$p" "$TMP/$1_$i.json"
			printf 'output = "/dev/null"\nwrite-out = "%s %s %%{http_code}\\n"\n' "$i" "$p"
			sep=$'next\n'
		done
	done >"$TMP/$1.curl"
	# (its progress meter shows up in parallel mode whatever it is told: stderr apart)
	curl -s --parallel --parallel-max 12 -K "$TMP/$1.curl" >"$TMP/$1.codes" 2>"$TMP/$1.curl.err"
}

# rows PREFIX: "<calls> <distinct calls> <events> <events with delivery_count other than
# the number of instances>" of the calls PREFIX_*.
rows() {
	sql "SELECT (SELECT count(*) FROM callbridge.calls WHERE external_id LIKE '$1\\_%'),
		(SELECT count(DISTINCT external_id) FROM callbridge.calls WHERE external_id LIKE '$1\\_%'),
		(SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:$1\\_%'),
		(SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:$1\\_%'
			AND delivery_count <> ${#PORTS[@]})" | tr '|' ' '
}

# part PREFIX WHAT: the deliveries of one set of three instances, and what they must show.
part() {
	local prefix=$1 what=$2 i
	for i in "${!PORTS[@]}"; do
		wait_for -m "$what: instance $i ready through the pooler" prints 200 on "$i" readyz
	done
	calls "$prefix" "$N"
	fan_out "$prefix" "$N"
	is "$(grep -c . "$TMP/$prefix.codes") $(awk '$3 != 200' "$TMP/$prefix.codes" | wc -l)" "$((N * 3)) 0" \
		"$what: all $((N * 3)) deliveries answered 200"
	is "$(rows "$prefix")" "$N $N $N 0" "$what: one call row and one event per call, delivery_count 3 on each"
	# A delivery spooled and drained later is not counted as stored: the sum is exact only
	# if every one went straight to the database.
	local stored
	read -ra stored <<<"$(per_instance "$STORED")"
	is "$(sum "${stored[@]}")" "$N" "$what: the instances stored $N between them (${stored[*]})"
	all_positive "${stored[@]}" && pass "$what: each instance stored some" ||
		fail "$what: each instance stored some (${stored[*]})"
	is "$(per_instance callbridge_spool_records)" "0 0 0" "$what: nothing left on a spool"
}

# ready_at_end WHAT: /readyz and the database gauges of every instance.
ready_at_end() {
	local codes='' i
	for i in "${!PORTS[@]}"; do codes="$codes $(on "$i" readyz)"; done
	is "${codes# }" "200 200 200" "$1: every /readyz 200 at the end"
	is "$(per_instance callbridge_database_up)" "1 1 1" "$1: callbridge_database_up 1 on each"
	local down
	down=$(per_instance callbridge_database_down_seconds)
	[[ $down =~ ^0(\.0*)?\ 0(\.0*)?\ 0(\.0*)?$ ]] && pass "$1: callbridge_database_down_seconds 0 on each" ||
		fail "$1: callbridge_database_down_seconds 0 on each ($down)"
}

trap 'instances_stop; pgbouncer_stop; cleanup' EXIT

CALLBRIDGE_DB_POOLER=sometimes DATABASE_URL=x "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" "^1 callbridge: CALLBRIDGE_DB_POOLER: unknown value 'sometimes'" "a bad CALLBRIDGE_DB_POOLER names the variable"

# ---- 1. PgBouncer in front of PostgreSQL -----------------------------------------------
pg_start
pgbouncer_start
if ! eventually "PgBouncer answers SELECT 1 (transaction mode, pool of 2)" prints 1 via "SELECT 1"; then
	sed 's/^/#   /' "$PGB_DIR/stderr" "$PGB_DIR/pgbouncer.log" 2>/dev/null | tail -n 20
	echo "Bail out! PgBouncer did not start"
	exit 1
fi

# ---- 2. migrate through the pooler, twice at once --------------------------------------
# Session advisory locks do not survive the pooler: the unlock may reach another server
# connection, and the lock stays held by one the pooler keeps open.
DATABASE_URL=$PGB_URL timeout 30 "$BIN" migrate >"$TMP/m1" 2>&1 &
m1=$!
DATABASE_URL=$PGB_URL timeout 30 "$BIN" migrate >"$TMP/m2" 2>&1 &
m2=$!
wait "$m1"
rc1=$?
wait "$m2"
rc2=$?
is "$rc1 $rc2" "0 0" "two migrates at once through the pooler: both exit 0"
[ "$rc1 $rc2" == "0 0" ] || sed 's/^/#   /' "$TMP/m1" "$TMP/m2" | tail -n 10
nmig=$(ls "$ROOT"/sql/migrations/*.sql | wc -l)
is "$(sql "SELECT count(*) FROM callbridge.schema_migrations") $(cat "$TMP/m1" "$TMP/m2" | grep -c 'migration applied')" \
	"$nmig $nmig" "every migration applied once, by one or the other"
is "$(sql "SELECT to_regclass('callbridge.calls') IS NOT NULL AND to_regclass('callbridge.webhook_events') IS NOT NULL")" t \
	"the schema is there"
is "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" 0 "no advisory lock left held (pg_locks on PostgreSQL)"
DATABASE_URL=$PGB_URL timeout 30 "$BIN" migrate >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" 'migrations done applied=0' "migrate again through the pooler: nothing to do, exit 0"

# ---- 3. three instances, CALLBRIDGE_DB_POOLER=transaction -------------------------------
instances_start 3 CALLBRIDGE_DB_POOLER=transaction
part tx "pooler=transaction"
is "$(per_instance callbridge_database_unnamed_statements)" "1 1 1" "pooler=transaction: every instance reports unnamed statements"
# The point of the test: more clients than server connections, sharing them.
clients=$(admin "SHOW CLIENTS" | awk '$2 == "postgres" && $3 == "callbridge"' | wc -l)
servers=$(admin "SHOW SERVERS" | awk '$2 == "postgres" && $3 == "callbridge"' | wc -l)
[ "$clients" -ge 3 ] && [ "$servers" -le 2 ] &&
	pass "$clients daemon connections shared $servers server connections" ||
	fail "$clients daemon connections shared $servers server connections (want 3 or more on 2 or fewer)"
ready_at_end "pooler=transaction"
instances_stop
is "$STOP_RCS" "0 0 0" "pooler=transaction: SIGTERM, every instance exits 0"

# ---- 4. three instances, CALLBRIDGE_DB_POOLER left to auto ------------------------------
# One connection each: an instance's statements are then prepared on one of the two
# server connections only, and the pooler soon hands it the other. (With two, each could
# happen to prepare on both, and the sharing would go unseen.)
instances_start 3 CALLBRIDGE_DB_CONNECTIONS=1
part auto "pooler=auto"
unnamed=$(per_instance callbridge_database_unnamed_statements)
if [[ " $unnamed " == *" 1 "* ]]; then
	# each instance that switched said so
	read -ra u <<<"$unnamed"
	silent=
	for i in "${!PORTS[@]}"; do
		[ "${u[i - 1]}" != 1 ] || grep -q 'warn .*pooler' "$TMP/d$i.log" || silent="$silent $i"
	done
	is "$silent" "" "pooler=auto: instances switched to unnamed statements ($unnamed), each with a warning naming the pooler"
	grep -h 'warn .*pooler' "$TMP"/d[123].log | head -n 1 | sed 's/^/#   /'
else
	like "$unnamed" '^0 0 0$' "pooler=auto: callbridge_database_unnamed_statements reported by every instance"
	diag "pooler=auto: no instance needed to switch to unnamed statements ($unnamed)"
fi

# ---- 5. all ready at the end -----------------------------------------------------------
ready_at_end "pooler=auto"
instances_stop
is "$STOP_RCS" "0 0 0" "pooler=auto: SIGTERM, every instance exits 0"
done_testing
