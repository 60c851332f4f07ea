# The peer workload of `make bench` (BENCH_WORKLOADS=peer), sourced by scripts/bench.sh,
# whose daemon, PostgreSQL and functions it uses. The yardstick: the receiver a team would
# write instead of callbridge (bench/peers/express-pg: Express 5 + node-postgres, one
# transaction per delivery, answered after COMMIT), driven by exactly the same wrk load
# as callbridge (the SimZ call.completed events of bench/load.lua, BENCH_THREADS threads,
# BENCH_CONNECTIONS connections, BENCH_SECONDS), in the same run, against the same
# PostgreSQL. For each receiver: events/s, latency p50/p99/max, PostgreSQL CPU per event,
# the receiver's own CPU and peak RSS, and its writes checked (2xx answers against rows
# stored); then the ratio of their events/s.
#
# callbridge runs first, then the peer. The order matters less than what each finds when
# it starts, so each starts from a quiet cluster: VACUUM ANALYZE and a CHECKPOINT before
# it, so that neither pays (in its latency, or in PostgreSQL CPU counted against it) for
# the autovacuum or the dirty pages the other's writes left behind. Alternating several
# short runs would not be fairer than that, only longer.
#
# Needs node and npm: `npm ci` installs the peer's locked dependencies (from the npm
# registry, or npm's cache) into the bench's temporary directory. The peer listens on its
# own port and reaches PostgreSQL directly (never through BENCH_POOLER), with its own
# pool of 10 connections, as it would be deployed.

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "bench: the peer workload needs node and npm, and $(command -v node >/dev/null && echo npm || echo node) is missing (apt-get install nodejs npm)" >&2
	exit 1
fi

peer_port=$((port + 2))
peer_dir=$tmp/peer
peer=

peer_stop() {
	if [ -n "$peer" ]; then
		kill "$peer" 2>/dev/null || true
		wait "$peer" 2>/dev/null || true
		peer=
	fi
}
# bench.sh's cleanup knows nothing of the peer: stop it first, while PostgreSQL still runs.
trap 'peer_stop; cleanup' EXIT

# The peer's files and node_modules in the bench's temporary directory: the repository
# stays as it is, and `npm ci` installs exactly the locked versions.
peer_install() {
	mkdir -p "$peer_dir"
	cp bench/peers/express-pg/server.js bench/peers/express-pg/schema.sql \
		bench/peers/express-pg/package.json bench/peers/express-pg/package-lock.json "$peer_dir/"
	if ! (cd "$peer_dir" && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/peer-npm.log" 2>&1; then
		echo "bench: npm ci failed for the peer (bench/peers/express-pg):" >&2
		tail -n 20 "$tmp/peer-npm.log" >&2
		exit 1
	fi
}

# Its tables (schema.sql drops and creates them) beside callbridge's, then the server,
# polled until it answers (any HTTP answer: it has no health route).
peer_start() {
	local i
	PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -f "$peer_dir/schema.sql" "$DATABASE_URL"
	(cd "$peer_dir" && DATABASE_URL=$DATABASE_URL PORT=$peer_port exec node server.js) >"$tmp/peer.log" 2>&1 &
	peer=$!
	for i in $(seq 1 200); do
		curl -s -o /dev/null "http://127.0.0.1:$peer_port/" && return 0
		kill -0 "$peer" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench: the peer did not answer on port $peer_port after $i tries:" >&2
	tail -n 20 "$tmp/peer.log" >&2
	exit 1
}

# A quiet cluster for the next receiver (see the header).
peer_settle() {
	psql -X -q "$DATABASE_URL" -c "VACUUM (ANALYZE)" -c "CHECKPOINT"
}

proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# peer_run LABEL PID PATH_URL: the wrk load against one receiver, and its figures. Sets
# peer_ok (2xx answers) and peer_rate (events/s).
peer_run() {
	local c0 c1 p0 p1 secs hwm="peak"
	# Peak RSS from here on, not since the process started (writing 5 to clear_refs
	# resets VmHWM; Linux 4.0 and later).
	echo 5 2>/dev/null >"/proc/$2/clear_refs" || hwm="peak since start"
	c0=$(proc_ticks "$2") p0=$(pg_ticks)
	BENCH_TEMPLATES=simz--call-completed wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s \
		-s bench/load.lua "$3" >"$tmp/wrk.out" 2>&1
	c1=$(proc_ticks "$2") p1=$(pg_ticks)
	peer_ok=$(sed -n 's/^BENCH requests=[0-9]* ok=\([0-9]*\).*/\1/p' "$tmp/wrk.out")
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$tmp/wrk.out")
	peer_rate=$(awk -v ok="$peer_ok" -v s="$secs" 'BEGIN {printf "%.0f", ok / s}')
	echo "-- $1"
	grep '^BENCH' "$tmp/wrk.out" | sed 's/^BENCH /  /'
	echo "  events/s=$peer_rate"
	awk -v t=$((p1 - p0)) -v hz="$ticks" -v ok="$peer_ok" 'BEGIN {printf "  postgres_cpu_per_event_us=%.0f\n", 1e6 * t / hz / ok}'
	awk -v t=$((c1 - c0)) -v hz="$ticks" -v s="$secs" -v rss="$(awk '/VmHWM/ {print $2}' "/proc/$2/status")" -v h="$hwm" \
		'BEGIN {printf "  receiver_cpu=%.0f%% of one core, receiver_%s_rss_kb=%d\n", 100 * t / hz / s, (h == "peak" ? "peak" : "peak_since_start"), rss}'
}

bench_peer() {
	local cb_rate spooled
	peer_install
	peer_start
	echo "== workload: peer (the same wrk load against callbridge, then against the peer: SimZ call.completed, $threads threads, $conns connections, ${seconds} s each)"
	echo "  peer: bench/peers/express-pg, Express $(node -p "require('$peer_dir/node_modules/express/package.json').version") + node-postgres $(node -p "require('$peer_dir/node_modules/pg/package.json').version") on node $(node --version), pool of 10 connections, straight to PostgreSQL"

	peer_settle
	peer_run "callbridge${pgb:+ (through PgBouncer)}" "$daemon" "http://127.0.0.1:$port/"
	cb_rate=$peer_rate
	spooled=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^callbridge_spool_records/ {print $2}')
	check_writes "$peer_ok" "$(psql -X -tAc "SELECT count(*) FROM callbridge.webhook_events" "$DATABASE_URL")" "$spooled"

	psql -X -q "$DATABASE_URL" -c "TRUNCATE peer_events, peer_calls"
	peer_settle
	peer_run "peer: express-pg" "$peer" "http://127.0.0.1:$peer_port/"
	# The peer has no spool: what it answered 2xx is in peer_events or lost.
	check_writes "$peer_ok" "$(psql -X -tAc "SELECT count(*) FROM peer_events" "$DATABASE_URL")" 0
	peer_stop

	awk -v a="$cb_rate" -v b="$peer_rate" 'BEGIN {printf "ratio: callbridge/peer events/s = %.1fx\n", b ? a / b : 0}'
}
