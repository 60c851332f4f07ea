# Retention benchmarks (BENCHMARKS.md, "Retention"). Two measurements:
#
# 1. The write workload beside `callbridge prune` (BENCH_WORKLOADS=retention make bench):
#    sourced by scripts/bench.sh, whose daemon, PostgreSQL and functions it uses. Seeds
#    BENCH_PRUNE_ROWS (1000000) raw events received 31 to 40 days ago, with their
#    de-duplication keys, in two layouts:
#      legacy      in the partition that was the table before migration 0008: the prune
#                  deletes them a batch at a time (CALLBRIDGE_PRUNE_BATCH)
#      partitions  in day partitions, as they are 30 days after the upgrade: the prune
#                  drops them whole
#    and for each, posts SimZ events with wrk for BENCH_SECONDS twice: alone, then with
#    `callbridge prune` (CALLBRIDGE_RAW_RETENTION_DAYS=30) started BENCH_PRUNE_DELAY (5) s
#    in. A prune still running BENCH_PRUNE_MAX_SECONDS (900) after it started is stopped
#    and what it removed by then is reported.
#
# 2. The upgrade's lock (bash scripts/bench-retention.sh upgrade): migrates a throwaway
#    PostgreSQL with the build before migration 0008 (BENCH_UPGRADE_FROM, default the
#    parent of the commit that added it, HEAD before that; built from `git archive`),
#    fills webhook_events with BENCH_UPGRADE_ROWS (1000000) events received over the
#    last 30 days, then runs
#    this build's `callbridge migrate` (BENCH_BIN, default bin/callbridge) while a probe
#    inserts into webhook_events every 10 ms (and rolls back), BENCH_UPGRADE_RUNS (3)
#    times on a fresh copy of the filled cluster. Prints the migration's wall time, the
#    longest probe wait (how long a delivery's INSERT is held), sizes and row counts.

prune_rows=${BENCH_PRUNE_ROWS:-1000000}
prune_delay=${BENCH_PRUNE_DELAY:-5}
prune_max=${BENCH_PRUNE_MAX_SECONDS:-900}

# retention_seed_sql ROWS: raw events received 31 to 40 days ago (a tenth on each day),
# stored and mapped as the daemon stores a SimZ call.completed, and their keys. The
# payload is the fixture with the call's id, plus a notes field: about 1 kB. The
# checkpoint keeps the seed's writes out of the first measured run.
retention_seed_sql() {
	cat <<-EOF
		SET TIME ZONE 'UTC';
		CREATE TEMP TABLE seed AS
		SELECT cid, date_trunc('day', now()) - make_interval(days => 31 + i % 10)
		            + (i % 86399) * interval '1 second' AS r
		  FROM (SELECT i, 'call_' || (1700000000000 + i) || '_' || lpad((i % 100000)::text, 5, '0') AS cid
		          FROM generate_series(1, $1) i) s;
		INSERT INTO callbridge.webhook_events (platform, event_type, dedupe_key, occurred_at,
		       received_at, payload, status, entity_id, last_received_at)
		SELECT 'simz', 'call.completed', 'call.completed:' || cid || ':comp_0005:', r - interval '2 minutes',
		       r, replace(:'tpl', 'call_1777920072301_12514', cid)::jsonb
		          || jsonb_build_object('notes', repeat(md5(cid), 11)), 'mapped', cid, r
		  FROM seed;
		INSERT INTO callbridge.event_keys (platform, source, dedupe_key, received_at)
		SELECT 'simz', 'default', 'call.completed:' || cid || ':comp_0005:', r FROM seed;
		VACUUM ANALYZE callbridge.webhook_events;
		VACUUM ANALYZE callbridge.event_keys;
		CHECKPOINT;
	EOF
}

# Day partitions for the seeded days (31 to 40 days ago), made as
# ensure_event_partitions makes them; the legacy partition, empty, dropped (as the prune
# drops it once it is older than the retention).
retention_partitions_sql() {
	cat <<-'EOF'
		DROP TABLE callbridge.webhook_events_legacy;
		SELECT callbridge.ensure_event_partitions(7);
		DO $$
		DECLARE
		    day  date;
		    name text;
		BEGIN
		    FOR day IN SELECT (now() AT TIME ZONE 'UTC')::date - d FROM generate_series(31, 40) d LOOP
		        name := callbridge.event_partition_name(day);
		        EXECUTE format('CREATE TABLE callbridge.%I (LIKE callbridge.webhook_events '
		                       'INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
		        EXECUTE format('ALTER TABLE callbridge.%I ADD CONSTRAINT %I CHECK '
		                       '(received_at >= %L AND received_at < %L)', name, name || '_bound',
		                       day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
		        EXECUTE format('CREATE INDEX %I ON callbridge.%I (id)', name || '_id', name);
		        EXECUTE format('ALTER TABLE callbridge.webhook_events ATTACH PARTITION callbridge.%I '
		                       'FOR VALUES FROM (%L) TO (%L)', name,
		                       day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
		    END LOOP;
		END
		$$;
	EOF
}

# retention_load LABEL PRUNE: wrk posting SimZ events for BENCH_SECONDS; with PRUNE=1,
# `callbridge prune` started prune_delay s in.
retention_load() {
	local since ok stored spooled secs pr= p0 p1 w1 old0 old1 keys0 keys1 status
	since=$(psql -X -tAc "SELECT now()" "$DATABASE_URL")
	old0=$(psql -X -tAc "SELECT count(*) FROM callbridge.webhook_events WHERE received_at < now() - interval '30 days'" "$DATABASE_URL")
	keys0=$(psql -X -tAc "SELECT count(*) FROM callbridge.event_keys WHERE received_at < now() - interval '30 days'" "$DATABASE_URL")
	BENCH_TEMPLATES=simz--call-completed wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s \
		-s bench/load.lua "http://127.0.0.1:$port/" >"$tmp/wrk.out" 2>&1 &
	local writer=$!
	if [ "$2" = 1 ]; then
		sleep "$prune_delay"
		p0=$(date +%s.%N)
		(
			s=0
			CALLBRIDGE_RAW_RETENTION_DAYS=30 timeout "$prune_max" "$bin" prune >"$tmp/prune.out" 2>&1 || s=$?
			echo "$s $(date +%s.%N)" >"$tmp/prune.end"
		) &
		pr=$!
		# Progress from the statistics (cheap: no scan): rows deleted so far from the
		# raw events' partitions and from event_keys, once a second while it runs.
		(
			while kill -0 "$pr" 2>/dev/null; do
				psql -X -tA -F' ' "$DATABASE_URL" -c "SELECT extract(epoch FROM clock_timestamp()),
					coalesce(sum(n_tup_del) FILTER (WHERE relname LIKE 'webhook_events%'), 0),
					coalesce(sum(n_tup_del) FILTER (WHERE relname = 'event_keys'), 0)
					FROM pg_stat_user_tables WHERE schemaname = 'callbridge'"
				sleep 1
			done
		) >"$tmp/progress" 2>/dev/null &
	fi
	wait "$writer"
	w1=$(date +%s.%N)
	if [ -n "$pr" ]; then
		wait "$pr"
		read -r status p1 <"$tmp/prune.end"
	fi
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$tmp/wrk.out")
	ok=$(sed -n 's/^BENCH requests=[0-9]* ok=\([0-9]*\).*/\1/p' "$tmp/wrk.out")
	stored=$(psql -X -tAc "SELECT count(*) FROM callbridge.webhook_events WHERE received_at >= '$since'" "$DATABASE_URL")
	spooled=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^callbridge_spool_records/ {print $2}')
	echo "-- $1"
	grep '^BENCH' "$tmp/wrk.out" | sed 's/^BENCH /  /'
	awk -v ok="$ok" -v s="$secs" 'BEGIN {printf "  events/s=%.0f\n", ok / s}'
	if [ -n "$pr" ]; then
		old1=$(psql -X -tAc "SELECT count(*) FROM callbridge.webhook_events WHERE received_at < now() - interval '30 days'" "$DATABASE_URL")
		keys1=$(psql -X -tAc "SELECT count(*) FROM callbridge.event_keys WHERE received_at < now() - interval '30 days'" "$DATABASE_URL")
		sed 's/^/  prune: /' "$tmp/prune.out"
		[ "$status" = 124 ] && echo "  prune: stopped after $prune_max s (BENCH_PRUNE_MAX_SECONDS), unfinished"
		[ "$status" = 0 ] || [ "$status" = 124 ] || echo "  prune FAILED: exit status $status"
		awk -v a="$p0" -v b="$p1" -v w="$w1" -v e=$((old0 - old1)) -v k=$((keys0 - keys1)) -v left="$old1" 'BEGIN {
			printf "  prune: wall=%.1f s, raw events removed=%d (%.0f/s), keys removed=%d, raw events left=%d\n",
				b - a, e, e / (b - a), k, left
			printf "  prune: %s\n", b <= w ? "ended before the load" : sprintf("ran %.1f s past the end of the load", b - w) }'
		retention_progress "$tmp/progress" "$p0"
		[ "$status" = 0 ] || [ "$status" = 124 ] || exit 1
	fi
	check_writes "$ok" "$stored" "$spooled"
}

# retention_progress FILE START: from the once-a-second samples (time, raw rows deleted,
# keys deleted), when the prune turned from raw events to keys, and the rate of row-by-row
# raw deletes in the first and the last fifth of them (a batch that scans more as the
# table empties shows as a lower rate at the end).
retention_progress() {
	awk -v t0="$2" 'NR == 1 {r0 = $2; k0 = $3}
		{t[NR] = $1; r[NR] = $2 - r0; k[NR] = $3 - k0}
		END {
			if (NR < 2) exit
			for (i = 1; i <= NR && k[i] == 0; i++) ;
			if (i <= NR) printf "  prune: keys from %.0f s after its start (raw events before that)\n", t[i] - t0
			n = r[NR]
			if (n < 10000) exit
			for (a = 1; r[a] < 0.05 * n; a++) ; for (b = a; r[b] < 0.2 * n; b++) ;
			for (c = b; r[c] < 0.8 * n; c++) ; for (d = c; r[d] < 0.95 * n; d++) ;
			if (t[b] > t[a] && t[d] > t[c])
				printf "  prune: raw events deleted row by row: %d, %.0f/s from 5%% to 20%% of them, %.0f/s from 80%% to 95%%\n",
					n, (r[b] - r[a]) / (t[b] - t[a]), (r[d] - r[c]) / (t[d] - t[c])
		}' "$1"
}

bench_retention() {
	local t0 t1 layout
	local tpl
	tpl=$(cat tests/fixtures/simz/call_completed.json)
	echo "== workload: retention ($prune_rows raw events older than 30 days; prune batch ${CALLBRIDGE_PRUNE_BATCH:-2000}, lock timeout ${CALLBRIDGE_PRUNE_LOCK_TIMEOUT_MS:-200} ms)"
	for layout in legacy partitions; do
		psql -X -q "$DATABASE_URL" -c "TRUNCATE callbridge.webhook_events, callbridge.event_keys, callbridge.calls CASCADE" 2>/dev/null
		[ "$layout" = legacy ] || psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -f <(retention_partitions_sql) >/dev/null
		t0=$(date +%s.%N)
		psql -X -q -v ON_ERROR_STOP=1 -v tpl="$tpl" "$DATABASE_URL" -f <(retention_seed_sql "$prune_rows")
		t1=$(date +%s.%N)
		echo "-- layout: $layout, seeded in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s:"
		psql -X -tA -F' ' "$DATABASE_URL" -c "SELECT c.relname, count(*) FILTER (WHERE e.received_at < now() - interval '30 days'),
			pg_size_pretty(pg_total_relation_size(c.oid))
			FROM callbridge.webhook_events e JOIN pg_class c ON c.oid = e.tableoid GROUP BY c.relname, c.oid ORDER BY 1" |
			awk '{printf "  %s: %d old rows, %s %s\n", $1, $2, $3, $4}'
		retention_load "$layout, without prune" 0
		retention_load "$layout, prune started ${prune_delay} s in" 1
	done
}

# ---- the upgrade's lock: bash scripts/bench-retention.sh upgrade -------------------------

upgrade_main() {
	set -euo pipefail
	cd "$(dirname "$0")/.."
	local rows=${BENCH_UPGRADE_ROWS:-1000000} runs=${BENCH_UPGRADE_RUNS:-3}
	local bin=${BENCH_BIN:-bin/callbridge} from=${BENCH_UPGRADE_FROM:-}
	if [ -z "$from" ]; then
		from=$(git log --diff-filter=A --format=%H -- sql/migrations/0008_retention.sql | tail -n 1)
		from=${from:+$from^}
		from=${from:-HEAD}
	fi
	tmp=$(mktemp -d /tmp/callbridge-upgrade.XXXXXX)
	chmod 755 "$tmp"
	local pgport=$((RANDOM % 10000 + 20000)) probe=
	trap 'bash scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
	cp "$bin" "$tmp/new"
	mkdir "$tmp/old"
	git archive "$from" | tar -x -C "$tmp/old"
	make -C "$tmp/old" -s all >/dev/null

	local url
	url=$(bash scripts/pg.sh start "$tmp/seed" "$pgport")
	DATABASE_URL=$url "$tmp/old/bin/callbridge" migrate 2>/dev/null
	local t0 t1
	t0=$(date +%s.%N)
	psql -X -q -v ON_ERROR_STOP=1 -v tpl="$(cat tests/fixtures/simz/call_completed.json)" "$url" <<-EOF
		INSERT INTO callbridge.webhook_events (platform, event_type, dedupe_key, occurred_at,
		       received_at, payload, status, entity_id, last_received_at)
		SELECT 'simz', 'call.completed', 'call.completed:' || cid || ':comp_0005:', r - interval '2 minutes',
		       r, replace(:'tpl', 'call_1777920072301_12514', cid)::jsonb
		          || jsonb_build_object('notes', repeat(md5(cid), 11)), 'mapped', cid, r
		  FROM (SELECT 'call_' || (1700000000000 + i) || '_' || lpad((i % 100000)::text, 5, '0') AS cid,
		               now() - interval '30 days' * (($rows - i)::float8 / $rows) AS r
		          FROM generate_series(1, $rows) i) s;
		VACUUM ANALYZE callbridge.webhook_events;
		CHECKPOINT;
	EOF
	t1=$(date +%s.%N)
	echo "callbridge $("$tmp/new" --version | cut -d' ' -f2) (migrate) from $(git rev-parse --short "$from") (filled with it) on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo "PostgreSQL $(psql -X -tAc 'SHOW server_version' "$url"), fsync=$(psql -X -tAc 'SHOW fsync' "$url"), shared_buffers=$(psql -X -tAc 'SHOW shared_buffers' "$url")"
	psql -X -tA -F' ' "$url" -c "SELECT count(*), round(avg(pg_column_size(payload))),
		pg_size_pretty(pg_total_relation_size('callbridge.webhook_events')),
		pg_total_relation_size('callbridge.webhook_events') FROM callbridge.webhook_events" |
		awk -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}')" \
			'{printf "filled in %s s: %d events, payload %d bytes on average; webhook_events with its indexes %s %s (%d bytes)\n", s, $1, $2, $3, $4, $5}'
	bash scripts/pg.sh stop "$tmp/seed"

	local i wall wait n sizes
	for i in $(seq 1 "$runs"); do
		rm -rf "$tmp/pg"
		cp -a "$tmp/seed" "$tmp/pg"
		sync # the copy's writes are not the migration's
		url=$(bash scripts/pg.sh start "$tmp/pg" "$pgport")
		psql -X -q "$url" -c "SELECT count(*) FROM callbridge.webhook_events" >/dev/null # warm, as a live table is
		# The probe: a delivery-like INSERT every 10 ms, rolled back, on one connection;
		# the server's clock around each INSERT.
		rm -f "$tmp/stop"
		(
			while [ ! -e "$tmp/stop" ]; do
				printf '%s\n' "BEGIN;" "SELECT clock_timestamp() AS t0 \\gset" \
					"INSERT INTO callbridge.webhook_events (platform, event_type, dedupe_key, payload, status) VALUES ('probe', 'probe', md5(random()::text), '{}', 'mapped');" \
					"SELECT extract(epoch FROM :'t0'::timestamptz), 1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz); ROLLBACK;"
				sleep 0.01
			done
		) | psql -X -q -tA -F' ' "$url" >"$tmp/probe.out" 2>&1 &
		probe=$!
		sleep 1
		t0=$(date +%s.%N)
		DATABASE_URL=$url "$tmp/new" migrate 2>"$tmp/migrate.log" || { cat "$tmp/migrate.log" >&2; exit 1; }
		t1=$(date +%s.%N)
		sleep 1
		touch "$tmp/stop"
		wait "$probe"
		grep -q 'migration applied version=0008' "$tmp/migrate.log" || { echo "0008 was not applied" >&2; exit 1; }
		if grep -qv '^[0-9.]* [0-9.]*$' "$tmp/probe.out"; then echo "probe failed:" >&2; grep -v '^[0-9.]* [0-9.]*$' "$tmp/probe.out" | head -n 5 >&2; exit 1; fi
		wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
		read -r wait n < <(awk '$2 > m {m = $2} END {printf "%.0f %d\n", m, NR}' "$tmp/probe.out")
		sizes=$(psql -X -tA -F' ' "$url" -c "SELECT (SELECT count(*) FROM callbridge.webhook_events),
			(SELECT count(*) FROM callbridge.webhook_events_legacy), (SELECT count(*) FROM callbridge.event_keys),
			(SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('callbridge.webhook_events')),
			pg_total_relation_size('callbridge.event_keys')")
		echo "$sizes" | awk -v i="$i" -v w="$wall" -v p="$wait" -v n="$n" -v rows="$rows" '{
			printf "run %d: migrate wall=%s s, longest probe wait=%s ms (%d probes); webhook_events=%d (legacy partition %d), event_keys=%d; sizes: webhook_events %.0f MiB, event_keys %.0f MiB\n",
				i, w, p, n, $1, $2, $3, $4 / 1048576, $5 / 1048576
			if ($1 != rows || $3 != rows || $2 != rows) { print "  counts FAILED"; exit 1 } }'
		echo "$wall $wait" >>"$tmp/runs"
		bash scripts/pg.sh stop "$tmp/pg"
	done
	sort -n -k1 "$tmp/runs" | awk '{w[NR] = $1} END {printf "migrate wall: median %.2f s, range %.2f-%.2f s\n", w[int((NR + 1) / 2)], w[1], w[NR]}'
	sort -n -k2 "$tmp/runs" | awk '{p[NR] = $2} END {printf "longest probe wait: median %.0f ms, range %.0f-%.0f ms\n", p[int((NR + 1) / 2)], p[1], p[NR]}'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	upgrade) upgrade_main ;;
	*) echo "usage: bash scripts/bench-retention.sh upgrade (the prune runs: BENCH_WORKLOADS=retention make bench)" >&2; exit 2 ;;
	esac
fi
