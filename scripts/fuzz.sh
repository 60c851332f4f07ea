#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets in fuzz/ with AddressSanitizer and UBSan and
# runs each for FUZZ_SECONDS (default 60) on a corpus seeded from the test fixtures.
# Prints each target's executions; a crash, leak or sanitizer report fails the run and
# leaves its reproducer in build-fuzz/<target>/.  Usage: scripts/fuzz.sh [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."

# fuzz_intake's seeds, written into directory $1: each platform's fixtures and every
# hostile body, behind the byte that picks the platform (its index in platforms[]). The
# platforms come on stdin in the table's order, one a line, slug first (as
# `callbridge platforms` prints them), so no order is kept here by hand to drift from
# platform.c. A platform without a fixture fails: it would be fuzzed from nothing valid.
seed_intake() {
	local i=0 slug _ f n
	while IFS=$'\t' read -r slug _; do
		n=0
		printf "\\$(printf '%03o' $i)" >"$1/.byte"
		for f in tests/fixtures/"$slug"/*.json tests/bad-input/*.json; do
			[ -e "$f" ] || continue
			case $f in tests/fixtures/*) n=$((n + 1)) ;; esac
			cat "$1/.byte" "$f" >"$1/$slug-${f##*/}"
		done
		rm -f "$1/.byte"
		if [ "$n" = 0 ]; then
			echo "fuzz: platform $slug has no tests/fixtures/$slug/*.json to seed from" >&2
			return 1
		fi
		i=$((i + 1))
	done
	if [ "$i" = 0 ]; then
		echo "fuzz: no platforms to seed (the table came empty)" >&2
		return 1
	fi
}
# `scripts/fuzz.sh --seed-intake DIR` only writes those seeds (tests/e2e/62-platforms.t
# checks every platform gets some): `callbridge platforms | scripts/fuzz.sh --seed-intake DIR`.
if [ "${1:-}" = --seed-intake ]; then
	mkdir -p "$2"
	seed_intake "$2"
	exit
fi

seconds=${FUZZ_SECONDS:-60}
targets=${*:-intake verify ts transcript http}
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
     src/ts.c src/tz.c src/sources.c src/transcript.c $(ls src/map_*.c | tr '\n' ' ')"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -Isrc"
libs="$(pkg-config --cflags --libs json-c openssl) -lm"
# fuzz_http runs the real server: the event loop, evhttp, and a database writer too —
# every module but the command line and its commands (migrate, replay, export), so a new
# module needs no edit here; and the migrations' table, whose newest version the writer
# checks for.
make -s build/migrations.c
http_src="$(ls src/*.c | grep -Ev '^src/(main|migrate|replay|export)\.c$' | tr '\n' ' ') build/migrations.c"
http_libs="$(pkg-config --cflags --libs libevent libevent_openssl json-c libpq openssl) -lpthread -lm"

status=0
for t in $targets; do
	dir=$out/$t
	mkdir -p "$dir/corpus"
	t_src=$src t_libs=$libs args=
	if [ "$t" = http ]; then t_src=$http_src t_libs=$http_libs; fi
	# shellcheck disable=SC2086
	clang $flags -o "$dir/fuzz_$t" "fuzz/fuzz_$t.c" $t_src $t_libs
	case $t in
	intake)
		# The table from the binary just built, so the seeds' first bytes pick the
		# platforms they came from in this build.
		FUZZ_INTAKE_PLATFORMS=1 "$dir/fuzz_intake" | seed_intake "$dir/corpus" ;;
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
	http)
		# The first byte is where the rest is cut in two writes (0: all in the second).
		# shellcheck disable=SC2059 # the request is the format: its escapes are the point
		seed() { printf "$2" >"$dir/corpus/$1"; }
		h='Host: a\r\n'
		seed get '\200GET /healthz HTTP/1.1\r\n'"$h"'\r\n'
		seed absolute '\200GET http://a:8080/healthz?x#y HTTP/1.1\r\n'"$h"'\r\n'
		seed pipeline '\100GET /readyz HTTP/1.1\r\n'"$h"'\r\nHEAD /metrics HTTP/1.1\r\n'"$h"'\r\nDELETE /x HTTP/1.1\r\n'"$h"'Content-Length: 3\r\n\r\nabcGET /metrics HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\n'"$h"'\r\n'
		seed keepalive '\060GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nOPTIONS * HTTP/1.1\r\n'"$h"'Connection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n'
		seed webhook '\020POST /webhooks/simz HTTP/1.1\r\n'"$h"'Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"type":"x"}\n'
		seed chunked '\040POST /webhooks/allo HTTP/1.1\r\n'"$h"'Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /healthz HTTP/1.9\r\n'"$h"'\r\n'
		seed smuggle '\300POST / HTTP/1.1\r\n'"$h"'Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n'"$h"'\r\n'
		seed get-body '\177GET / HTTP/1.1\r\n'"$h"'Content-Length: 32\r\n\r\nGET /admin HTTP/1.1\r\n'"$h"'\r\nHEAD / HTTP/1.1\r\n'"$h"'\r\n'
		seed obs-fold '\210GET / HTTP/1.1\r\n'"$h"'X: a\r\n b\r\n\r\n'
		seed space-colon '\030GET / HTTP/1.1\r\nHost : a\r\n\r\n'
		seed bare-lf '\240GET / HTTP/1.1\n'"$h"'\n'
		seed marker '\000POST / HTTP/1.1\r\n'"$h"'Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nCallbridge-Refusal: host\r\n\r\n'
		seed te-gzip '\111POST / HTTP/1.1\r\n'"$h"'Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
		seed h2 '\001PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
		seed http09 '\005GET /\r\n'
		seed methods '\150TRACE / HTTP/1.1\r\n'"$h"'\r\nCONNECT a:443 HTTP/1.1\r\n'"$h"'\r\n'
		seed too-large '\070PUT / HTTP/1.1\r\n'"$h"'Content-Length: 1025\r\n\r\nx'
		seed expect '\070POST / HTTP/1.1\r\n'"$h"'Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx'
		# at the limits: a chunked body of 1024 bytes (fuzz_http's limit); a head one byte
		# short of 64 KiB, as -max_len counts the first byte
		printf '\100POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3ff\r\n%s\r\n1\r\nx\r\n0\r\n\r\n' \
			"$(head -c 1023 /dev/zero | tr '\0' b)" >"$dir/corpus/body-limit"
		printf '\200GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n' "$(head -c 65503 /dev/zero | tr '\0' v)" \
			>"$dir/corpus/head-limit"
		# the words of requests, for the fuzzer to splice in
		for w in 'HTTP/1.1' 'HTTP/1.0' '\x0d\x0a' 'Host: ' 'Content-Length: ' 'Transfer-Encoding: ' \
			'chunked' 'Connection: ' 'close' 'keep-alive' 'Expect: ' '100-continue' \
			'Callbridge-Refusal: ' 'GET ' 'HEAD ' 'POST ' 'PUT ' 'PATCH ' 'DELETE ' 'OPTIONS ' \
			'CONNECT ' 'http://' 'https://' '//' '@' '[' ']' '%' '#' '?' ';' \
			'/webhooks/' '/healthz' '/readyz' '/metrics'; do
			printf '"%s"\n' "$w"
		done >"$dir/http.dict"
		args=-dict=http.dict ;;
	esac
	echo "== fuzz_$t: ${seconds}s"
	# shellcheck disable=SC2086
	if (cd "$dir" && ./"fuzz_$t" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
		-artifact_prefix=./ $args corpus >fuzz.log 2>&1); then
		grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$dir/fuzz.log" | sed 's/^/   /'
		echo "   corpus: $(ls "$dir/corpus" | wc -l) inputs; no crash, leak or sanitizer report"
	else
		status=1
		echo "   FINDING: see $dir/fuzz.log and the reproducer beside it:"
		grep -E 'ERROR|runtime error|SUMMARY|artifact' "$dir/fuzz.log" | head -8 | sed 's/^/   /'
	fi
done
exit $status
