#!/usr/bin/env bash
# `make run`: start a local PostgreSQL unless DATABASE_URL is set (in the environment or
# .env), apply migrations, serve. The local PostgreSQL lives in var/pg (or, when that
# directory is closed to the postgres user, in /var/tmp) and stops when the server does.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DATABASE_URL:-}" ] && [ -f .env ]; then
	DATABASE_URL=$(sed -n 's/^[[:space:]]*\(export[[:space:]]\+\)\?DATABASE_URL=//p' .env | tail -n 1 | tr -d "\"'")
fi
if [ -z "${DATABASE_URL:-}" ]; then
	dir=$PWD/var/pg
	if [ "$(id -u)" = 0 ]; then
		# As root the server runs as postgres: it must reach var/pg through every parent.
		mkdir -p "$dir" && chown postgres: "$dir"
		if ! runuser -u postgres -- test -w "$dir" 2>/dev/null; then
			dir=/var/tmp/callbridge-$(printf '%s' "$PWD" | cksum | cut -d' ' -f1)/pg
		fi
	fi
	port=${CALLBRIDGE_PG_PORT:-54329}
	DATABASE_URL=$(bash scripts/pg.sh start "$dir" "$port")
	trap 'bash scripts/pg.sh stop "$dir"' EXIT
	echo "callbridge: local PostgreSQL in $dir on port $port" >&2
fi
export DATABASE_URL

# The status page and metrics on a loopback admin port, unless configured otherwise.
if [ -z "${CALLBRIDGE_ADMIN_LISTEN+set}" ] && ! grep -qs '^[[:space:]]*\(export[[:space:]]\+\)\?CALLBRIDGE_ADMIN_LISTEN=' .env; then
	export CALLBRIDGE_ADMIN_LISTEN=127.0.0.1:9091
	echo "callbridge: status page at http://127.0.0.1:9091/status" >&2
fi

bin/callbridge migrate
bin/callbridge serve
