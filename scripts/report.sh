#!/usr/bin/env bash
# report.sh — runs one SQL report of sql/reports against DATABASE_URL and prints it.
#
#   scripts/report.sh NAME [psql args...]
#   scripts/report.sh daily_call_volume -v from=2026-05-01 -v to=2026-05-31
#
# The parameters of a report are psql variables, listed in the header of its file.
# DATABASE_URL comes from the environment, else from .env in the working directory (as
# for the daemon), else it is the local database `make run` starts (while it runs). REPORT_FORMAT picks the output: aligned (default, for people),
# unaligned (a header line, then one line per row, fields separated by '|', NULL as
# empty, no row-count footer: for scripts and tests) or csv.
set -euo pipefail

reports=$(cd "$(dirname "$0")/../sql/reports" && pwd)

available() {
	local f names=()
	for f in "$reports"/*.sql; do
		[ -e "$f" ] && names+=("$(basename "$f" .sql)")
	done
	echo "reports: ${names[*]}"
}
usage() {
	echo "usage: scripts/report.sh NAME [psql args, e.g. -v from=YYYY-MM-DD]"
	available
}

name=${1:-}
case $name in
-h | --help)
	usage
	exit 0
	;;
'')
	usage >&2
	exit 2
	;;
esac
shift
if [[ ! $name =~ ^[A-Za-z0-9_]+$ ]] || [ ! -f "$reports/$name.sql" ]; then
	echo "report.sh: unknown report '$name'" >&2
	available >&2
	exit 2
fi

if [ -z "${DATABASE_URL:-}" ] && [ -f .env ]; then
	DATABASE_URL=$(sed -n 's/^[[:space:]]*\(export[[:space:]]\+\)\?DATABASE_URL=//p' .env | tail -n 1 | tr -d "\"'")
fi
if [ -z "${DATABASE_URL:-}" ]; then
	# The local database of `make run` (it must be running).
	DATABASE_URL="postgresql://postgres@127.0.0.1:${CALLBRIDGE_PG_PORT:-54329}/callbridge"
fi

case ${REPORT_FORMAT:-aligned} in
aligned) format=() ;;
unaligned) format=(-A -F '|' -P footer=off) ;;
csv) format=(--csv) ;;
*)
	echo "report.sh: REPORT_FORMAT must be aligned, unaligned or csv, not '$REPORT_FORMAT'" >&2
	exit 2
	;;
esac

exec psql -X -q -v ON_ERROR_STOP=1 "${format[@]}" "$@" "$DATABASE_URL" -f "$reports/$name.sql"
