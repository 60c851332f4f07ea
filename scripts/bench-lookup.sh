# The lookup workload of `make bench` (BENCH_WORKLOADS=lookup), sourced by scripts/bench.sh,
# whose daemon, PostgreSQL and helpers it uses. Seeds a realistic table state
# (scripts/bench-lookup-seed.sql: rows inserted directly, not delivered), then measures
# Simple AI pre-call lookups (POST /precall/simpleai) of known and unknown callers in
# mixed number formats:
#   alone        wrk, BENCH_LOOKUP_CONNECTIONS (4) connections, as fast as answered
#   paced        BENCH_LOOKUP_RATE (200) lookups/s, open loop (scripts/bench-lookup-paced.js)
#   paced+simz   the same paced lookups while wrk posts SimZ events at full speed (the
#                write workload "simz", BENCH_CONNECTIONS connections)
# For each: lookups/s, latency p50/p90/p99/max at the client, and at the bridge (the
# daemon's callbridge_precall_seconds histogram: the share answered within 1, 2.5, 5 and
# 10 ms, and the buckets p99 falls between), the outcomes (known, unknown,
# budget_exceeded, unavailable), CPU.
#   BENCH_LOOKUP_CALLS (80000)  BENCH_LOOKUP_CUSTOMERS (20000)  BENCH_LOOKUP_CONTACTS (12000)
#   BENCH_LOOKUP_SMS (40000)    BENCH_LOOKUP_KNOWN (0.7: the share of lookups of seeded numbers)
#   BENCH_LOOKUP_SETUP_SQL: SQL run after seeding, to try a change on the same data (an
#     index, a setting), e.g. "ALTER FUNCTION callbridge.caller_facts(text, text, text)
#     SET plan_cache_mode = force_generic_plan" (see BENCHMARKS.md)

lookup_conns=${BENCH_LOOKUP_CONNECTIONS:-4}
lookup_rate=${BENCH_LOOKUP_RATE:-200}
export BENCH_PRECALL_TOKEN=bench-precall-token
export BENCH_LOOKUP_CUSTOMERS=${BENCH_LOOKUP_CUSTOMERS:-20000}
export BENCH_LOOKUP_KNOWN=${BENCH_LOOKUP_KNOWN:-0.7}

lookup_metrics() { curl -s "http://127.0.0.1:$port/metrics" | grep -E '^callbridge_precall_(lookups_total\{adapter="simpleai"|seconds_)'; }

# lookup_report BEFORE AFTER SECONDS: outcomes and the bridge's latency histogram between
# two /metrics snapshots.
lookup_report() {
	awk -v s="$3" '
		{ sub(/^callbridge_precall_/, ""); v = $NF; $NF = ""; k = $0; gsub(/ +$/, "", k) }
		FNR == NR { before[k] = v; next }
		{ d[k] = v - before[k] }
		END {
			for (k in d) if (k ~ /^lookups_total/) {
				o = k; sub(/.*outcome="/, "", o); sub(/".*/, "", o); out[o] = d[k]; n += d[k]
			}
			printf "  bridge: lookups=%d lookups/s=%.0f known=%d unknown=%d budget_exceeded=%d unavailable=%d\n",
				n, n / s, out["known"], out["unknown"], out["budget_exceeded"], out["unavailable"]
			t = d["seconds_count"]
			if (t) printf "  bridge: within_1ms=%.1f%% within_2.5ms=%.1f%% within_5ms=%.1f%% within_10ms=%.1f%% mean_ms=%.2f\n",
				100 * d["seconds_bucket{le=\"0.001\"}"] / t, 100 * d["seconds_bucket{le=\"0.0025\"}"] / t,
				100 * d["seconds_bucket{le=\"0.005\"}"] / t, 100 * d["seconds_bucket{le=\"0.01\"}"] / t,
				1000 * d["seconds_sum"] / t
			split("0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 10", le, " ")
			for (i = 1; i <= 12; i++) if (d["seconds_bucket{le=\"" le[i] "\"}"] >= 0.99 * t) break
			if (!t) exit
			if (i > 12) p99 = "> 10 s"
			else if (i == 1) p99 = "<= 1 ms"
			else p99 = sprintf("between %g and %g ms (histogram buckets)", 1000 * le[i - 1], 1000 * le[i])
			printf "  bridge: p99 %s\n", p99
		}' "$1" "$2"
}

# The machine's busy and total ticks (all cores), from /proc/stat.
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

# lookup_cpu C0 C1 P0 P1 SECONDS "M0" "M1" [LOOKUPS]: with LOOKUPS (when nothing else
# ran), PostgreSQL's CPU per lookup too.
lookup_cpu() {
	awk -v d=$(($2 - $1)) -v p=$(($4 - $3)) -v hz="$ticks" -v s="$5" -v m0="$6" -v m1="$7" -v n="${8:-0}" 'BEGIN {
		split(m0, a); split(m1, b)
		printf "  daemon_cpu=%.0f%% postgres_cpu=%.0f%% of one core; machine busy %.0f%% (all cores, load generators and anything else included)\n",
			100 * d / hz / s, 100 * p / hz / s, 100 * (b[1] - a[1]) / (b[2] - a[2])
		if (n) printf "  postgres_cpu_per_lookup_us=%.0f\n", 1e6 * p / hz / n }'
}
lookup_count() { awk '/^callbridge_precall_lookups_total/ {n += (FILENAME == ARGV[1] ? -$NF : $NF)} END {print n}' "$1" "$2"; }

bench_lookup() {
	local t0 t1 c0 c1 p0 p1 m0 m1 secs paced_secs
	t0=$(date +%s.%N)
	psql -X -q "$DATABASE_URL" -v calls="${BENCH_LOOKUP_CALLS:-80000}" -v customers="$BENCH_LOOKUP_CUSTOMERS" \
		-v contacts="${BENCH_LOOKUP_CONTACTS:-12000}" -v sms="${BENCH_LOOKUP_SMS:-40000}" \
		-f scripts/bench-lookup-seed.sql
	t1=$(date +%s.%N)
	if [ -n "${BENCH_LOOKUP_SETUP_SQL:-}" ]; then
		psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$BENCH_LOOKUP_SETUP_SQL"
	fi
	echo "== workload: lookup"
	psql -X -tA -F' ' "$DATABASE_URL" -c "SELECT count(*), count(DISTINCT callbridge.call_party_phone(customer_number, direction, from_number, to_number)),
		(SELECT count(*) FROM callbridge.call_audits), (SELECT count(*) FROM callbridge.contacts),
		(SELECT count(*) FROM callbridge.sms_messages) FROM callbridge.calls" |
		awk -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}')" \
			'{printf "  seeded in %s s: calls=%d over %d numbers, call_audits=%d, contacts=%d, sms_messages=%d\n", s, $1, $2, $3, $4, $5}'
	echo "  mix: ${BENCH_LOOKUP_KNOWN} of lookups of seeded numbers (skewed to frequent callers), the rest unseen; six number formats"
	[ -z "${BENCH_LOOKUP_SETUP_SQL:-}" ] || echo "  setup: $BENCH_LOOKUP_SETUP_SQL"

	# Warm the lookup connection's plans and the caches; not measured.
	wrk -t1 -c"$lookup_conns" -d3s -s scripts/bench-lookup.lua "http://127.0.0.1:$port/" >/dev/null 2>&1

	echo "-- alone, wrk: 1 thread, $lookup_conns connections, ${seconds} s"
	lookup_metrics >"$tmp/m0"
	c0=$(cpu_ticks) p0=$(pg_ticks) m0=$(machine_ticks)
	wrk -t1 -c"$lookup_conns" -d"${seconds}s" --timeout 10s -s scripts/bench-lookup.lua \
		"http://127.0.0.1:$port/" >"$tmp/lookup.out" 2>&1
	c1=$(cpu_ticks) p1=$(pg_ticks) m1=$(machine_ticks)
	lookup_metrics >"$tmp/m1"
	secs=$(sed -n 's/^LOOKUP .*seconds=\([0-9.]*\).*/\1/p' "$tmp/lookup.out")
	grep '^LOOKUP' "$tmp/lookup.out" | sed 's/^LOOKUP /  client: /'
	lookup_report "$tmp/m0" "$tmp/m1" "$secs"
	lookup_cpu "$c0" "$c1" "$p0" "$p1" "$secs" "$m0" "$m1" "$(lookup_count "$tmp/m0" "$tmp/m1")"

	# The paced runs leave 2 s at each end of the write workload to ramp up and down.
	paced_secs=$((seconds > 8 ? seconds - 4 : 4))
	echo "-- paced, alone: $lookup_rate lookups/s for $paced_secs s"
	lookup_metrics >"$tmp/m0"
	c0=$(cpu_ticks) p0=$(pg_ticks) m0=$(machine_ticks)
	node scripts/bench-lookup-paced.js "http://127.0.0.1:$port/" "$lookup_rate" "$paced_secs" >"$tmp/paced.out"
	c1=$(cpu_ticks) p1=$(pg_ticks) m1=$(machine_ticks)
	lookup_metrics >"$tmp/m1"
	sed 's/^PACED /  client: /' "$tmp/paced.out"
	lookup_report "$tmp/m0" "$tmp/m1" "$paced_secs"
	lookup_cpu "$c0" "$c1" "$p0" "$p1" "$paced_secs" "$m0" "$m1" "$(lookup_count "$tmp/m0" "$tmp/m1")"

	echo "-- paced, beside the write workload: $lookup_rate lookups/s for $paced_secs s while wrk posts SimZ events ($threads threads, $conns connections, ${seconds} s)"
	c0=$(cpu_ticks) p0=$(pg_ticks) m0=$(machine_ticks)
	BENCH_TEMPLATES=simz--call-completed wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s \
		-s bench/load.lua "http://127.0.0.1:$port/" >"$tmp/wrk.out" 2>&1 &
	local writer=$!
	sleep 2
	lookup_metrics >"$tmp/m0"
	node scripts/bench-lookup-paced.js "http://127.0.0.1:$port/" "$lookup_rate" "$paced_secs" >"$tmp/paced.out"
	lookup_metrics >"$tmp/m1"
	wait "$writer"
	c1=$(cpu_ticks) p1=$(pg_ticks) m1=$(machine_ticks)
	sed 's/^PACED /  client: /' "$tmp/paced.out"
	lookup_report "$tmp/m0" "$tmp/m1" "$paced_secs"
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$tmp/wrk.out")
	local ok stored spooled
	ok=$(sed -n 's/^BENCH requests=[0-9]* ok=\([0-9]*\).*/\1/p' "$tmp/wrk.out")
	stored=$(psql -X -tAc "SELECT count(*) FROM callbridge.webhook_events" "$DATABASE_URL")
	spooled=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^callbridge_spool_records/ {print $2}')
	grep '^BENCH' "$tmp/wrk.out" | sed 's/^BENCH /  writes: /'
	awk -v ok="$ok" -v s="$secs" 'BEGIN {printf "  writes: events/s=%.0f\n", ok / s}'
	lookup_cpu "$c0" "$c1" "$p0" "$p1" "$secs" "$m0" "$m1"
	check_writes "$ok" "$stored" "$spooled"
}
