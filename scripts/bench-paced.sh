# The paced workload of `make bench` (BENCH_WORKLOADS=paced), sourced by scripts/bench.sh,
# whose daemon, PostgreSQL and functions it uses. The latency tail at a realistic rate rather
# than at saturation: distinct SimZ call.completed deliveries (as bench/load.lua makes
# them) sent at a fixed rate, open loop (scripts/bench-paced.js: latency from each
# request's scheduled time), in three phases:
#   settled      BENCH_RATE (3000) events/s for BENCH_PACED_SECONDS (30) on the emptied
#                tables, after a CHECKPOINT
#   burst        wrk at full speed, as the simz workload (BENCH_THREADS, BENCH_CONNECTIONS,
#                BENCH_SECONDS)
#   after burst  at once the same rate again for BENCH_AFTER_SECONDS (60): the minute in
#                which PostgreSQL catches up on what the burst left (checkpoints,
#                autovacuum and autoanalyze of the grown tables)
# over BENCH_PACED_CONNECTIONS (40) keep-alive connections. Before the first phase,
# BENCH_PACED_WARM_WAL_MB (2048) of WAL is written and checkpointed away, so that the
# phases reuse WAL segments as a server that has been running does: a fresh cluster
# creates and zero-fills a new 16 MB segment every few seconds at this rate, and commits
# wait while it does (0: measure the fresh cluster). For each phase: requests, 2xx,
# p50/p99/p99.9/max and the p99 of each second (a start-up transient or a stall shows
# there), CPU, and what PostgreSQL did meanwhile (checkpoints started and the
# buffers they wrote, WAL written, autovacuum and autoanalyze runs finished on callbridge
# tables, and whether a checkpoint or an autovacuum was running at either end). At the
# end: every 2xx of the three phases a stored event, and the two paced p99s side by side.
# Needs node.

command -v node >/dev/null || { echo "bench: the paced workload needs node (apt-get install nodejs)" >&2; exit 1; }

paced_rate=${BENCH_RATE:-3000}
paced_secs=${BENCH_PACED_SECONDS:-30}
paced_after=${BENCH_AFTER_SECONDS:-60}
paced_warm_mb=${BENCH_PACED_WARM_WAL_MB:-2048}
export BENCH_PACED_CONNECTIONS=${BENCH_PACED_CONNECTIONS:-40}

# PostgreSQL 17 moved the checkpoint counters from pg_stat_bgwriter to pg_stat_checkpointer.
paced_checkpoint_sql() {
	if [ "$(psql -X -tAc "SELECT to_regclass('pg_catalog.pg_stat_checkpointer') IS NOT NULL" "$DATABASE_URL")" = t ]; then
		echo "SELECT num_timed, num_requested, buffers_written FROM pg_stat_checkpointer"
	else
		echo "SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint FROM pg_stat_bgwriter"
	fi
}

# paced_pg_snapshot FILE: one line of cluster counters (checkpoints timed and requested,
# buffers written by checkpoints, WAL position in bytes, whether the checkpointer is busy
# with a checkpoint, autovacuums running on callbridge tables), then one line per
# callbridge table: name, autovacuum_count, autoanalyze_count.
paced_pg_snapshot() {
	psql -X -tA -F' ' "$DATABASE_URL" >"$1" <<-EOF
		SELECT c.*, pg_current_wal_lsn() - '0/0',
		       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'checkpointer'
		               AND wait_event IS DISTINCT FROM 'CheckpointerMain'),
		       (SELECT count(*) FROM pg_stat_progress_vacuum v JOIN pg_class r ON r.oid = v.relid
		               JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = 'callbridge')
		  FROM ($paced_checkpoints) c;
		SELECT relname, autovacuum_count, autoanalyze_count FROM pg_stat_user_tables
		 WHERE schemaname = 'callbridge' ORDER BY relname;
	EOF
}

# paced_pg_report BEFORE AFTER: what PostgreSQL did between two snapshots.
paced_pg_report() {
	awk 'FNR == 1 { if (FNR == NR) split($0, a); else split($0, b); next }
		FNR == NR { v[$1] = $2; an[$1] = $3; next }
		{ dv = $2 - v[$1]; da = $3 - an[$1]; sv += dv; sa += da
		  if (dv || da) tables = tables sprintf(" %s(%d, %d)", $1, dv, da) }
		END {
			printf "  postgres: checkpoints started=%d (timed %d, requested %d), buffers written by checkpoints=%d, WAL written=%.0f MB\n",
				b[1] - a[1] + b[2] - a[2], b[1] - a[1], b[2] - a[2], b[3] - a[3], (b[4] - a[4]) / 1048576
			printf "  postgres: autovacuum runs=%d, autoanalyze runs=%d on callbridge tables%s\n", sv, sa,
				tables == "" ? "" : " (vacuum, analyze):" tables
			printf "  postgres: checkpoint in progress at start/end: %s/%s; autovacuums running on callbridge tables at start/end: %d/%d\n",
				a[5] ? "yes" : "no", b[5] ? "yes" : "no", a[6], b[6]
		}' "$1" "$2"
}

# paced_cpu C0 C1 P0 P1 SECONDS EVENTS
paced_cpu() {
	awk -v d=$(($2 - $1)) -v p=$(($4 - $3)) -v hz="$ticks" -v s="$5" -v n="$6" 'BEGIN {
		printf "  daemon_cpu=%.0f%% postgres_cpu=%.0f%% of one core, postgres_cpu_per_event_us=%.0f\n",
			100 * d / hz / s, 100 * p / hz / s, n ? 1e6 * p / hz / n : 0 }'
}

# paced_phase LABEL SECONDS: the paced generator for SECONDS, and its figures. Adds its
# 2xx to paced_ok, its unanswered requests and socket errors (which may or may not have
# been stored) to paced_unknown; sets paced_p99.
paced_phase() {
	local c0 c1 p0 p1 ok unknown
	c0=$(cpu_ticks) p0=$(pg_ticks)
	paced_pg_snapshot "$tmp/pg0"
	node scripts/bench-paced.js "http://127.0.0.1:$port/" "$paced_rate" "$2" >"$tmp/paced.out"
	paced_pg_snapshot "$tmp/pg1"
	c1=$(cpu_ticks) p1=$(pg_ticks)
	ok=$(sed -n 's/^PACED .* ok=\([0-9]*\).*/\1/p' "$tmp/paced.out")
	unknown=$(sed -n 's/^PACED .* errors=\([0-9]*\) unanswered=\([0-9]*\).*/\1 \2/p' "$tmp/paced.out" | awk '{print $1 + $2}')
	paced_ok=$((paced_ok + ok))
	paced_unknown=$((paced_unknown + unknown))
	paced_p99=$(sed -n 's/^PACED .*p99_ms=\([0-9.]*\) .*/\1/p' "$tmp/paced.out")
	echo "-- $1: $paced_rate events/s for $2 s over $BENCH_PACED_CONNECTIONS connections"
	sed 's/^PACED /  /' "$tmp/paced.out"
	paced_cpu "$c0" "$c1" "$p0" "$p1" "$2" "$ok"
	paced_pg_report "$tmp/pg0" "$tmp/pg1"
}

bench_paced() {
	local c0 c1 p0 p1 ok secs settled_p99 stored spooled
	paced_ok=0 paced_unknown=0
	paced_checkpoints=$(paced_checkpoint_sql)
	echo "== workload: paced (SimZ call.completed, open loop, latency from each request's scheduled time)"
	# WAL segments to recycle (see above): rows of 1 kB written and dropped, then the
	# checkpoint that turns their segments into the next ones.
	if [ "$paced_warm_mb" -gt 0 ]; then
		psql -X -q "$DATABASE_URL" -c "CREATE TABLE public.bench_warm_wal AS
			SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, $paced_warm_mb * 1000) g" \
			-c "DROP TABLE public.bench_warm_wal" -c "CHECKPOINT"
		sync # the warm-up's writes reach the disk before the first phase, not during it
		echo "  ($paced_warm_mb MB of WAL written and checkpointed first: segments to recycle)"
	fi
	# The settled phase starts from a clean cluster, whatever ran before it.
	psql -X -q "$DATABASE_URL" -c "CHECKPOINT"
	paced_phase settled "$paced_secs"
	settled_p99=$paced_p99

	# The burst, and straight after it the paced minute: the burst's figures are printed
	# after that minute, so nothing stands between the two but one snapshot.
	c0=$(cpu_ticks) p0=$(pg_ticks)
	paced_pg_snapshot "$tmp/burst0"
	BENCH_TEMPLATES=simz--call-completed wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s \
		-s bench/load.lua "http://127.0.0.1:$port/" >"$tmp/wrk.out" 2>&1
	c1=$(cpu_ticks) p1=$(pg_ticks)
	mv "$tmp/wrk.out" "$tmp/burst.out"
	paced_phase "after burst" "$paced_after" >"$tmp/after.txt"

	ok=$(sed -n 's/^BENCH requests=[0-9]* ok=\([0-9]*\).*/\1/p' "$tmp/burst.out")
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$tmp/burst.out")
	paced_ok=$((paced_ok + ok))
	echo "-- burst: wrk, $threads threads, $conns connections, ${seconds} s"
	grep '^BENCH' "$tmp/burst.out" | sed 's/^BENCH /  /'
	awk -v ok="$ok" -v s="$secs" 'BEGIN {printf "  events/s=%.0f\n", ok / s}'
	paced_cpu "$c0" "$c1" "$p0" "$p1" "$secs" "$ok"
	paced_pg_report "$tmp/burst0" "$tmp/pg0" # pg0: the start of "after burst"
	cat "$tmp/after.txt"

	# Every 2xx stored: wrk does not count the requests in flight at its deadline (at most
	# one per connection), and a paced request unanswered or cut off may have been stored.
	stored=$(psql -X -tAc "SELECT count(*) FROM callbridge.webhook_events" "$DATABASE_URL")
	spooled=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^callbridge_spool_records/ {print $2}')
	if [ "$stored" -ge "$paced_ok" ] && [ "$stored" -le $((paced_ok + conns + paced_unknown)) ] && [ "${spooled:-0}" = 0 ]; then
		echo "  check: $paced_ok 2xx answers over the three phases, $stored events stored ($((stored - paced_ok)) were in flight when wrk stopped or unanswered)"
	else
		echo "  check FAILED: $paced_ok 2xx answers over the three phases but $stored events stored (spool: ${spooled:-0} records)"
		exit 1
	fi
	echo "paced p99: settled $settled_p99 ms, after burst $paced_p99 ms (target 10 ms)"
}
