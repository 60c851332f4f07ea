#!/bin/sh
# Installs what building, running and testing callbridge need on Debian 12, when it is
# missing: with apt-get when run as root, otherwise prints the command to run.
# `deps.sh test` adds what the test suite meets as real peers: PgBouncer, HAProxy,
# Prometheus' promtool, Chromium, Node.js with npm and docker-compose (its `config`).
set -eu

PACKAGES="build-essential pkg-config libevent-dev libjson-c-dev libpq-dev libssl-dev postgresql postgresql-client curl perl apache2-utils tzdata"

missing=""
for tool in cc make pkg-config curl prove psql ab; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if command -v pkg-config >/dev/null 2>&1; then
	for lib in libevent json-c libpq openssl; do
		pkg-config --exists "$lib" || missing="$missing $lib"
	done
fi
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql-server"
# CALLBRIDGE_<SLUG>_TIMEZONE reads the IANA zones (docs/configuration.md)
[ -e /usr/share/zoneinfo/Europe/Paris ] || missing="$missing tzdata"
if [ "${1:-}" = test ]; then
	# Only what is missing: a machine may have Node.js from elsewhere, with which
	# Debian's npm package would conflict.
	for pair in pgbouncer:pgbouncer haproxy:haproxy promtool:prometheus chromium:chromium \
		node:nodejs npm:npm docker-compose:docker-compose; do
		command -v "${pair%%:*}" >/dev/null 2>&1 && continue
		missing="$missing ${pair%%:*}"
		PACKAGES="$PACKAGES ${pair#*:}"
	done
fi

[ -z "$missing" ] && exit 0

echo "callbridge: missing:$missing" >&2
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
	echo "callbridge: installed build and test dependencies" >&2
else
	echo "callbridge: install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y $PACKAGES" >&2
	exit 1
fi
