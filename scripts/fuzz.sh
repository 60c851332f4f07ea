#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets in fuzz/ with AddressSanitizer and UBSan and
# runs each for FUZZ_SECONDS (default 60) on a corpus seeded from the test fixtures.
# Prints each target's executions; a crash, leak or sanitizer report fails the run and
# leaves its reproducer in build-fuzz/<target>/.  Usage: scripts/fuzz.sh [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
targets=${*:-intake verify ts transcript}
out=build-fuzz
mkdir -p "$out"

probe=$out/probe.c
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$probe"
if ! clang -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y -qq clang libclang-rt-14-dev >/dev/null 2>&1 ||
			{ apt-get update -qq && apt-get install -y -qq clang libclang-rt-14-dev >/dev/null; }
	else
		echo "fuzz: clang with libFuzzer is missing (apt-get install clang libclang-rt-14-dev)" >&2
		exit 1
	fi
fi

# The modules between bytes and rows: no event loop, no database.
src="src/intake.c src/platform.c src/verify.c src/config.c src/log.c src/field.c src/rows.c
     src/ts.c src/transcript.c $(ls src/map_*.c | tr '\n' ' ')"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -Isrc"
libs="$(pkg-config --cflags --libs json-c openssl) -lm"

status=0
for t in $targets; do
	dir=$out/$t
	mkdir -p "$dir/corpus"
	# shellcheck disable=SC2086
	clang $flags -o "$dir/fuzz_$t" "fuzz/fuzz_$t.c" $src $libs
	case $t in
	intake)
		i=0
		for slug in simz simpleai atoms replicer allo; do
			for f in tests/fixtures/$slug/*.json tests/bad-input/*.json; do
				{ printf "\\$(printf '%03o' $i)"; cat "$f"; } >"$dir/corpus/$slug-$(basename "$f")"
			done
			i=$((i + 1))
		done ;;
	verify)
		printf 'msg_1\n1614265330\nv1,Zm9vYmFy v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=\n{"a":1}' >"$dir/corpus/standard"
		printf 'x\n1614265330\nt=1614265330,v1=00ff,v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843\nbody' >"$dir/corpus/stripe"
		printf 'x\n1614265330\nsha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843\nbody' >"$dir/corpus/simz" ;;
	ts)
		for v in 2026-05-19T15:02:14.781Z "2026-05-19 15:02:14+02:00" 2026-05-19 2024-02-29T23:59:60-0130 ...; do
			printf '%s' "$v" >"$dir/corpus/$(printf '%s' "$v" | md5sum | cut -c1-8)"
		done ;;
	transcript)
		cp tests/fixtures/replicer/*.json "$dir/corpus/" 2>/dev/null || true
		printf 'Agent: hi\n  more\nJohn: 10:30 ok\n\r\nNarrator:\n' >"$dir/corpus/seed" ;;
	esac
	echo "== fuzz_$t: ${seconds}s"
	if (cd "$dir" && ./"fuzz_$t" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
		-artifact_prefix=./ corpus >fuzz.log 2>&1); then
		grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$dir/fuzz.log" | sed 's/^/   /'
		echo "   corpus: $(ls "$dir/corpus" | wc -l) inputs; no crash, leak or sanitizer report"
	else
		status=1
		echo "   FINDING: see $dir/fuzz.log and the reproducer beside it:"
		grep -E 'ERROR|runtime error|SUMMARY|artifact' "$dir/fuzz.log" | head -8 | sed 's/^/   /'
	fi
done
exit $status
