#!/usr/bin/env bash
# `make bench`: a throwaway PostgreSQL (default settings: fsync on, synchronous_commit on),
# the daemon, and wrk posting distinct, realistic events. For each workload it prints
# events/s, latency p50/p99/max, the daemon's peak RSS and CPU, and checks that the number
# of 2xx answers equals the events stored.
#   BENCH_SECONDS (30)  BENCH_CONNECTIONS (64)  BENCH_THREADS (2)  BENCH_WORKLOADS ("simz mixed")
#   BENCH_BIN (bin/callbridge: another build to compare)
#   BENCH_POOLER=pgbouncer: the daemon reaches PostgreSQL through Debian's PgBouncer in
#     transaction mode (pool of 4), with CALLBRIDGE_DB_POOLER=transaction
#   BENCH_WORKLOADS=lookup: pre-call lookups on a seeded table state, alone and beside the
#     SimZ workload (scripts/bench-lookup.sh, its settings there; needs node)
#   BENCH_WORKLOADS=retention: the SimZ workload beside `callbridge prune` removing a
#     seeded BENCH_PRUNE_ROWS (1000000) old events (scripts/bench-retention.sh, its settings there)
#   BENCH_WORKLOADS=peer: the yardstick: the same SimZ load against callbridge and then
#     against the receiver a team would write instead, Express + node-postgres
#     (bench/peers/express-pg), and the ratio of their events/s (scripts/bench-peer.sh;
#     needs node and npm)
#   BENCH_WORKLOADS=paced: the latency tail at BENCH_RATE (3000) events/s, open loop,
#     settled, then after a full-speed burst, with what PostgreSQL did meanwhile
#     (scripts/bench-paced.sh, its settings there; needs node)
# Extra CALLBRIDGE_* settings in the environment reach the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-30}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
workloads=${BENCH_WORKLOADS:-simz mixed}
bin=${BENCH_BIN:-bin/callbridge}

command -v wrk >/dev/null || {
	if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	else echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; fi
}

tmp=$(mktemp -d /tmp/callbridge-bench.XXXXXX)
chmod 755 "$tmp"
pgport=$((RANDOM % 10000 + 20000))
port=$((pgport + 1))
daemon= pgb=
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	[ -n "$pgb" ] && kill "$pgb" 2>/dev/null && wait "$pgb" 2>/dev/null
	bash scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

export DATABASE_URL
DATABASE_URL=$(bash scripts/pg.sh start "$tmp/pg" "$pgport")
"$bin" migrate 2>/dev/null
daemon_url=$DATABASE_URL
if [ "${BENCH_POOLER:-}" = pgbouncer ]; then
	mkdir -p "$tmp/pgb"
	echo '"postgres" ""' >"$tmp/pgb/users.txt"
	cat >"$tmp/pgb/pgbouncer.ini" <<-EOF
		[databases]
		callbridge = host=127.0.0.1 port=$pgport dbname=callbridge
		[pgbouncer]
		listen_addr = 127.0.0.1
		listen_port = $((port + 1))
		unix_socket_dir =
		auth_type = trust
		auth_file = $tmp/pgb/users.txt
		pool_mode = transaction
		default_pool_size = 4
		max_client_conn = 100
		logfile = $tmp/pgb/pgbouncer.log
	EOF
	as=()
	[ "$(id -u)" = 0 ] && { chown -R postgres: "$tmp/pgb"; as=(-u postgres); }
	pgbouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
	"$pgbouncer" "${as[@]}" "$tmp/pgb/pgbouncer.ini" 2>>"$tmp/pgb/stderr" &
	pgb=$!
	daemon_url="postgresql://postgres@127.0.0.1:$((port + 1))/callbridge"
	export CALLBRIDGE_DB_POOLER=transaction
	for _ in $(seq 1 100); do psql -X -tAc 'SELECT 1' "$daemon_url" >/dev/null 2>&1 && break; sleep 0.05; done
fi
case " $workloads " in *" lookup "*)
	command -v node >/dev/null || { echo "bench: the lookup workload needs node (apt-get install nodejs)" >&2; exit 1; }
	. scripts/bench-lookup.sh
	export CALLBRIDGE_SIMPLEAI_PRECALL_TOKEN=$BENCH_PRECALL_TOKEN ;;
esac
case " $workloads " in *" retention "*) . scripts/bench-retention.sh ;; esac
case " $workloads " in *" peer "*) . scripts/bench-peer.sh ;; esac
case " $workloads " in *" paced "*) . scripts/bench-paced.sh ;; esac
DATABASE_URL=$daemon_url PORT=$port CALLBRIDGE_LISTEN=127.0.0.1 CALLBRIDGE_LOG_LEVEL=${CALLBRIDGE_LOG_LEVEL:-warn} \
	CALLBRIDGE_SPOOL_DIR="$tmp/spool" "$bin" serve 2>"$tmp/daemon.log" &
daemon=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.05; done

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$daemon/stat"; }
pg_ticks() { # CPU of the whole PostgreSQL cluster: the postmaster and its children
	local pm
	pm=$(head -n 1 "$tmp/pg/data/postmaster.pid")
	for p in "$pm" $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk '{s += $1} END {print s}'
}

# check_writes OK STORED SPOOLED: wrk stops counting at the deadline: requests then in
# flight (at most one per connection) are committed but not counted. So: every 2xx
# stored, and no more than one extra event per connection.
check_writes() {
	if [ "$2" -ge "$1" ] && [ "$2" -le $(($1 + conns)) ] && [ "${3:-0}" = 0 ]; then
		echo "  check: $1 2xx answers, $2 events stored ($(($2 - $1)) were in flight when wrk stopped)"
	else
		echo "  check FAILED: $1 2xx answers but $2 events stored (spool: ${3:-0} records)"
		exit 1
	fi
}

echo "callbridge $("$bin" --version | cut -d' ' -f2) on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "PostgreSQL $(psql -X -tAc 'SHOW server_version' "$DATABASE_URL") on the same machine: fsync=$(psql -X -tAc 'SHOW fsync' "$DATABASE_URL"), synchronous_commit=$(psql -X -tAc 'SHOW synchronous_commit' "$DATABASE_URL")"
echo "wrk: $threads threads, $conns connections, $seconds s per workload"
[ -z "$pgb" ] || echo "through PgBouncer $("$pgbouncer" --version 2>/dev/null | head -n 1 | awk '{print $2}') in transaction mode, pool of 4; CALLBRIDGE_DB_POOLER=transaction"
echo

for w in $workloads; do
	psql -X -q "$DATABASE_URL" -c "TRUNCATE callbridge.webhook_events, callbridge.event_keys, callbridge.calls, callbridge.sms_messages, callbridge.contacts CASCADE" 2>/dev/null
	if [ "$w" = lookup ]; then
		bench_lookup
		continue
	fi
	if [ "$w" = retention ]; then
		bench_retention
		continue
	fi
	if [ "$w" = peer ]; then
		bench_peer
		continue
	fi
	if [ "$w" = paced ]; then
		bench_paced
		continue
	fi
	c0=$(cpu_ticks)
	p0=$(pg_ticks)
	case $w in simz) pattern=simz--call-completed ;; *) pattern='*' ;; esac
	BENCH_TEMPLATES=$pattern wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s \
		-s bench/load.lua "http://127.0.0.1:$port/" >"$tmp/wrk.out" 2>&1
	c1=$(cpu_ticks)
	p1=$(pg_ticks)
	ok=$(sed -n 's/^BENCH requests=[0-9]* ok=\([0-9]*\).*/\1/p' "$tmp/wrk.out")
	stored=$(psql -X -tAc "SELECT count(*) FROM callbridge.webhook_events" "$DATABASE_URL")
	spooled=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^callbridge_spool_records/ {print $2}')
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$tmp/wrk.out")
	echo "== workload: $w"
	grep '^BENCH' "$tmp/wrk.out" | sed 's/^BENCH /  /'
	awk -v ok="$ok" -v s="$secs" 'BEGIN {printf "  events/s=%.0f\n", ok / s}'
	awk -v t=$((c1 - c0)) -v hz="$ticks" -v s="$secs" 'BEGIN {printf "  daemon_cpu=%.0f%% of one core\n", 100 * t / hz / s}'
	awk -v t=$((p1 - p0)) -v hz="$ticks" -v ok="$ok" 'BEGIN {printf "  postgres_cpu_per_event_us=%.0f\n", 1e6 * t / hz / ok}'
	echo "  daemon_peak_rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$daemon/status")"
	curl -s "http://127.0.0.1:$port/metrics" | awk '/^callbridge_batch_size_sum/ {s = $2}
		/^callbridge_batch_size_count/ {n = $2} END {if (n) printf "  batch_mean=%.1f (since start)\n", s / n}'
	check_writes "$ok" "$stored" "$spooled"
done
