#!/usr/bin/env bash
# A private PostgreSQL for development and tests, from Debian's postgresql package:
# initdb + pg_ctl on a data directory of our own, its own port and socket directory,
# listening on 127.0.0.1 only, trust authentication (it is reachable from this machine
# only). When run as root, the server runs as the postgres user. The server runs with the
# settings callbridge ships (deploy/postgresql/callbridge.conf).
#
#   scripts/pg.sh start DIR PORT   start (initdb first if DIR is empty); prints DATABASE_URL
#   scripts/pg.sh stop DIR         fast shutdown
#   scripts/pg.sh status DIR
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop|status DIR [PORT]}
dir=${2:?data directory}
port=${3:-54329}

bindir=$(pg_config --bindir 2>/dev/null || true)
if [ ! -x "$bindir/initdb" ]; then
	bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -x "$bindir/initdb" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

data=$dir/data
sock=$dir/sock
log=$dir/postgres.log

case $cmd in
start)
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$dir"
		if ! runuser -u postgres -- test -w "$dir"; then
			echo "pg.sh: the postgres user cannot write $dir (a parent directory is closed to it)" >&2
			exit 1
		fi
	fi
	if [ ! -s "$data/PG_VERSION" ]; then
		as_owner mkdir -p "$data" "$sock"
		as_owner "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			as_owner "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	# The shipped settings (deploy/postgresql/callbridge.conf), copied on every start so
	# that a cluster made earlier follows the file; CALLBRIDGE_PG_SETTINGS=default leaves
	# PostgreSQL's defaults (to measure what the settings do).
	conf=$(cd "$(dirname "$0")/.." && pwd)/deploy/postgresql/callbridge.conf
	if [ "${CALLBRIDGE_PG_SETTINGS:-shipped}" = default ]; then
		as_owner sh -c ': >"$1"' sh "$data/callbridge.conf"
	else
		as_owner sh -c 'cat >"$1"' sh "$data/callbridge.conf" <"$conf"
	fi
	grep -q "^include_if_exists = 'callbridge.conf'" "$data/postgresql.conf" ||
		echo "include_if_exists = 'callbridge.conf'" | as_owner sh -c 'cat >>"$1"' sh "$data/postgresql.conf"
	if ! as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		# setsid: a Ctrl-C meant for the daemon must not reach the server too.
		as_owner setsid -w "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 \
			-o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=${CALLBRIDGE_PG_FSYNC:-on}" \
			start >/dev/null || { tail -n 20 "$log" >&2; exit 1; }
	fi
	url="postgresql://postgres@127.0.0.1:$port/callbridge"
	if ! "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'callbridge'" | grep -q 1; then
		"$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE callbridge" >/dev/null
	fi
	echo "$url"
	;;
stop)
	if [ -s "$data/PG_VERSION" ]; then
		as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	;;
status)
	as_owner "$bindir/pg_ctl" -D "$data" status
	;;
*)
	echo "pg.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
