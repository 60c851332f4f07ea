#!/bin/sh
# crm-sync — feeds one callbridge table's changed rows to a command, page by page,
# keeping the change-feed cursor in a file (see README.md here and docs/change-feed.md).
#
#   sync.sh TABLE CURSOR_FILE COMMAND [ARG...]
#
# Each page (NDJSON: one JSON object per row) goes to COMMAND's standard input; a page
# with no rows is not sent. The cursor is saved (atomically: temp file + rename) only
# after COMMAND has succeeded, so a failure or a crash sends the page again next time:
# delivery is at least once, and COMMAND must upsert by the row's key.
# Environment: DATABASE_URL (required by callbridge), CALLBRIDGE (the binary; default
# `callbridge` from PATH), SYNC_LIMIT (rows per page; default 500).
set -eu

if [ $# -lt 3 ]; then
	echo "usage: sync.sh TABLE CURSOR_FILE COMMAND [ARG...]" >&2
	exit 2
fi
table=$1
state=$2
shift 2
cb=${CALLBRIDGE:-callbridge}
page=$(mktemp)
trap 'rm -f "$page" "$state.tmp"' EXIT

cursor=0
if [ -s "$state" ]; then
	cursor=$(cat "$state")
fi
while :; do
	"$cb" export --table "$table" --since "$cursor" --limit "${SYNC_LIMIT:-500}" >"$page"
	last=$(tail -n 1 "$page")
	case $last in
	'{"cursor":"'*) ;;
	*)
		echo "sync.sh: export printed no cursor line" >&2
		exit 1
		;;
	esac
	case $last in
	*'"rows":0,'*) ;;
	*) sed '$d' "$page" | "$@" ;;
	esac
	cursor=$(printf '%s\n' "$last" | sed 's/^{"cursor":"\([0-9:]*\)".*/\1/')
	printf '%s\n' "$cursor" >"$state.tmp"
	mv "$state.tmp" "$state"
	case $last in
	*'"more":true'*) ;;
	*) break ;;
	esac
done
