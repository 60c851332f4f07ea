#!/usr/bin/env bash
# CI check of the container image on a Debian 12 machine without Docker or registry
# access. Run as root from the repository: bash scripts/docker-check.sh
#
#   1. compose   docker/docker-compose.yml passes Debian's `docker-compose config` and
#                still has its design (services, health check, dependency, settings
#                from .env by interpolation, volumes, consistent DATABASE_URL and port).
#   2. base      a Debian 12 base made with debootstrap (cached), imported under the
#                name(s) the Dockerfile's FROM lines use; nothing comes from a registry.
#   3. build     docker/Dockerfile builds unchanged with podman; user, HEALTHCHECK, size,
#                no build tools in the runtime stage, build context after .dockerignore.
#   4. run       the image on the host network against a throwaway PostgreSQL
#                (scripts/pg.sh): migrate + serve, /healthz, a SimZ webhook stored and its
#                row in PostgreSQL, non-root, HEALTHCHECK passes (HTTP and HTTPS), clean
#                exit on SIGTERM.
#   5. topology  the compose file's topology with podman: a private network where
#                PostgreSQL is reached by its service name, the compose file's environment
#                and .env, the named spool volume and the published port; a delivery
#                spooled while PostgreSQL is down survives replacing the container.
#                PostgreSQL there is a stand-in (Debian's postgresql-15 on the same base)
#                for the official postgres image, which needs a registry.
# Not run: `docker compose up` itself (no registry for postgres:16, and podman's
# periodic health checks need systemd, so `service_healthy` would never be reached).
#
# Time on 2 cores: cold (packages, debootstrap, every image built) about 5 minutes; warm
# (cached base and layers) about 30 seconds, plus the compile when src/ changed. No file
# of the host is changed but for the packages installed: podman gets a containers.conf
# of this run's own (CONTAINERS_CONF, see "tools"). Settings:
#   CALLBRIDGE_DOCKER_CACHE          /var/tmp/callbridge-docker (the base tarball)
#   CALLBRIDGE_DOCKER_BASE_MAX_DAYS  30: an older tarball is made again (Debian updates)
#   CALLBRIDGE_DOCKER_IMAGE          localhost/callbridge:check
#   CALLBRIDGE_DOCKER_MIRROR         default: the Debian mirror apt uses here
# shellcheck disable=SC2015,SC2317 # pass/fail always succeed; cleanup runs from a trap
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${CALLBRIDGE_DOCKER_CACHE:-/var/tmp/callbridge-docker}
BASE_MAX_DAYS=${CALLBRIDGE_DOCKER_BASE_MAX_DAYS:-30}
IMAGE=${CALLBRIDGE_DOCKER_IMAGE:-localhost/callbridge:check}
PG_IMAGE=localhost/callbridge-check-postgres:15
SUITE=bookworm
FIXTURE=tests/fixtures/simz/call_completed.json
CALL_ID=call_1777920072301_12514
FIXTURE2=tests/fixtures/simz/call_completed_minimal.json
CALL_ID2=call_min
tag=callbridge-check-$$ # this run's containers, network and volume

passed=0 failed=0 skipped=0
t_all=$SECONDS t_step=$SECONDS step_name=""

say() { printf 'docker-check: %s\n' "$*"; }
pass() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }
diag() { printf '        %s\n' "$*"; }
skip() { skipped=$((skipped + 1)); printf '  skipped: %s\n' "$*"; }
step_end() {
	[ -z "$step_name" ] || say "$step_name: $((SECONDS - t_step))s"
	step_name=""
}
step() {
	step_end
	step_name=$1 t_step=$SECONDS
	say "== $1"
}

[ "$(id -u)" = 0 ] || { say "run as root (installs packages, runs podman)"; exit 2; }
[ -f docker/Dockerfile ] && [ -f docker/docker-compose.yml ] || { say "run from the repository"; exit 2; }

# --- clean-up --------------------------------------------------------------------------
# Leftovers of runs that were killed: names carry the PID of their run.
stale() {
	local n p
	while read -r n; do
		p=${n#*-check[.-]}
		p=${p%%[.-]*}
		[[ $p =~ ^[0-9]+$ ]] && ! kill -0 "$p" 2>/dev/null && printf '%s\n' "$n"
	done
	return 0
}
for d in $(for f in /var/tmp/callbridge-docker-check.*; do [ ! -e "$f" ] || echo "$f"; done | stale); do
	[ -d "$d/pg" ] && bash scripts/pg.sh stop "$d/pg" >/dev/null 2>&1
	rm -rf "$d"
done
if command -v podman >/dev/null; then
	podman ps -a --format '{{.Names}}' | grep '^callbridge-check-' | stale | xargs -r podman rm -f -t 0 >/dev/null 2>&1 || true
	podman volume ls --format '{{.Name}}' | grep '^callbridge-check-' | stale | xargs -r podman volume rm -f >/dev/null 2>&1 || true
	podman network ls --format '{{.Name}}' | grep '^callbridge-check-' | stale | xargs -r podman network rm -f >/dev/null 2>&1 || true
fi
tmp=$(mktemp -d "/var/tmp/callbridge-docker-check.$$.XXXX")
chmod 755 "$tmp" # scripts/pg.sh runs PostgreSQL as the postgres user under it
pgdir=""
cleanup() {
	set +e
	if command -v podman >/dev/null; then
		podman ps -a --format '{{.Names}}' | grep -E "^$tag(-|\$)" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
		podman volume rm -f "$tag-spool" >/dev/null 2>&1
		podman network rm -f "$tag" >/dev/null 2>&1
	fi
	[ -z "$pgdir" ] || bash scripts/pg.sh stop "$pgdir" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# Waiting, free ports and /metrics as the e2e tests have them (poll, wait_for,
# eventually, prints, free_port, metric: they call pass, fail and diag above).
# shellcheck source=tests/e2e/common.sh
. tests/e2e/common.sh

# podman without systemd logs an error for every health-check timer it cannot create
# (the check itself still works with `podman healthcheck run`): keep that noise aside.
pm() { podman "$@" 2>>"$tmp/podman.err"; }
http_code() { curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true; }
# post_json URL FILE: the answer's body (or curl's error).
post_json() { curl -sS --max-time 10 -X POST "$1" -H 'Content-Type: application/json' --data-binary @"$2" 2>&1 || true; }
running() { [ "$(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
# until_ok CONTAINER SECONDS CMD...: 0 once CMD succeeds; 1 on timeout or once CONTAINER
# stopped (no use waiting for it then)
until_ok() {
	local ctr=$1 secs=$2
	shift 2
	poll "$secs" ok_or_stopped "$ctr" "$@" && running "$ctr"
}
ok_or_stopped() {
	local ctr=$1
	shift
	"$@" || ! running "$ctr"
}
healthy() { pm healthcheck run "$1" >/dev/null; }
# wait_200 URL SECONDS CONTAINER: until URL answers 200
wait_200() { until_ok "$3" "$2" prints 200 http_code "$1"; }
# wait_healthy CONTAINER SECONDS: run its health check until it passes
wait_healthy() { until_ok "$1" "$2" healthy "$1"; }

# --- 0. tools --------------------------------------------------------------------------
step "tools"
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v psql >/dev/null || need+=(postgresql-client)
command -v python3 >/dev/null && python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
[ -x /usr/lib/cni/dnsname ] || need+=(golang-github-containernetworking-plugin-dnsname)
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >"$tmp/apt.log" 2>&1 ||
		{ tail -n 20 "$tmp/apt.log"; say "apt-get install failed"; exit 1; }
fi
# Debian's podman here: containers start only with default_ulimits = [] (else podman
# raises RLIMIT_NOFILE to 1048576, above this machine's hard limit, and runc's "error
# setting rlimit type 7" stops them), and with runc (crun fails on these cgroups). The
# setting goes into a containers.conf of this run's own, a copy of the host's with that
# one change: with CONTAINERS_CONF set, podman reads that file instead of the system's,
# so no file of the host is changed.
conf=$tmp/containers.conf
for f in /etc/containers/containers.conf /usr/share/containers/containers.conf; do
	[ -f "$f" ] && { cp "$f" "$conf"; break; }
done
touch "$conf"
# an existing setting (possibly a multi-line array) is replaced, else one is added
perl -0pi -e 's/^[ \t]*default_ulimits[ \t]*=[ \t]*\[.*?\]/default_ulimits = []/ms' "$conf"
if ! grep -Eq '^[[:space:]]*default_ulimits' "$conf"; then
	if grep -Eq '^[[:space:]]*\[containers\]' "$conf"; then
		perl -pi -e 's/^([ \t]*\[containers\][^\n]*\n)/$1default_ulimits = []\n/' "$conf"
	else
		printf '\n[containers]\ndefault_ulimits = []\n' >>"$conf"
	fi
fi
export CONTAINERS_CONF=$conf
say "podman reads $conf (CONTAINERS_CONF): the host's settings with default_ulimits = []"
say "$(podman --version), runc $(runc --version | sed -n '1s/^runc version //p'), docker-compose $(docker-compose version --short 2>/dev/null || echo '?')"

# --- 1. compose file -------------------------------------------------------------------
step "compose"
# Validate a copy of the file next to a throwaway .env made from .env.example (read
# through the docker/.env link), so that nothing is written into the repository.
mkdir -p "$tmp/compose/docker"
cp -P docker/docker-compose.yml docker/haproxy.cfg docker/.env "$tmp/compose/docker/"
cp .env.example "$tmp/compose/.env"
compose_ok=0
pg_env=() cb_env=() pg_user="" pg_db="" pg_health="" cb_spool="" cb_port="" # set from the compose file
if docker-compose -f "$tmp/compose/docker/docker-compose.yml" config >"$tmp/compose.yml" 2>"$tmp/compose.err"; then
	pass "docker-compose config accepts docker/docker-compose.yml"
	# The resolved file must still say what the design says. Prints pass/fail lines and
	# the settings step 5 uses, as shell code.
	if python3 - "$tmp/compose.yml" docker/docker-compose.yml "$tmp/compose" >"$tmp/compose.sh" 2>"$tmp/compose.err" <<-'EOF'; then
		import shlex, sys, yaml
		from urllib.parse import urlsplit
		cfg = yaml.safe_load(open(sys.argv[1]))
		src = yaml.safe_load(open(sys.argv[2]))
		out = []
		def check(ok, what):
		    out.append(("pass " if ok else "fail ") + shlex.quote(what))
		def var(name, value):
		    if isinstance(value, list):
		        out.append("%s=(%s)" % (name, " ".join(shlex.quote(str(v)) for v in value)))
		    else:
		        out.append("%s=%s" % (name, shlex.quote(str(value))))
		sv = cfg.get("services", {})
		pg, cb = sv.get("postgres", {}), sv.get("callbridge", {})
		check(bool(pg) and bool(cb), "services postgres and callbridge")
		check(str(pg.get("image", "")).startswith("postgres:"), "postgres: official image (%s)" % pg.get("image"))
		test = (pg.get("healthcheck") or {}).get("test") or []
		test = test if isinstance(test, list) else ["CMD-SHELL", test]
		check(len(test) == 2 and test[0] == "CMD-SHELL" and "pg_isready" in test[1], "postgres: healthcheck with pg_isready")
		check(any(v.startswith("pgdata:/var/lib/postgresql/data") for v in pg.get("volumes", [])), "postgres: data on the pgdata volume")
		build = cb.get("build") or {}
		check(build.get("dockerfile") == "docker/Dockerfile" and build.get("context") == sys.argv[3],
		      "callbridge: built from docker/Dockerfile, context the repository root")
		check(((cb.get("depends_on") or {}).get("postgres") or {}).get("condition") == "service_healthy",
		      "callbridge: starts once postgres is healthy")
		check("env_file" not in src["services"]["callbridge"] and "CALLBRIDGE_SIMZ_SECRET" in (cb.get("environment") or {}),
		      "callbridge: settings and secrets from .env by interpolation, no env_file to require")
		env = cb.get("environment") or {}
		pgenv = pg.get("environment") or {}
		url = urlsplit(str(env.get("DATABASE_URL", "")))
		check(url.hostname == "postgres" and url.username == pgenv.get("POSTGRES_USER")
		      and url.password == pgenv.get("POSTGRES_PASSWORD") and url.path == "/" + str(pgenv.get("POSTGRES_DB")),
		      "callbridge: DATABASE_URL names the postgres service and its user, password, database")
		spool = [v.split(":")[1] for v in cb.get("volumes", []) if v.startswith("spool:")]
		check(len(spool) == 1, "callbridge: spool on the spool volume")
		ports = cb.get("ports") or []
		target = ports[0].get("target") if ports and isinstance(ports[0], dict) else None
		check(target is not None and str(target) == str(env.get("PORT", 8080)), "callbridge: the published port is the one it listens on (%s)" % target)
		gp = str(cb.get("stop_grace_period", "10s"))
		secs = float(gp[:-1]) * (60 if gp.endswith("m") else 1) if gp[-1:] in "sm" else 0
		check(secs > 30, "callbridge: stop_grace_period (%s) longer than the 30 s shutdown timeout" % gp)
		check({"pgdata", "spool"} <= set((cfg.get("volumes") or {}).keys()), "named volumes pgdata and spool")
		var("pg_env", ["%s=%s" % kv for kv in pgenv.items()])
		var("pg_user", pgenv.get("POSTGRES_USER", "postgres"))
		var("pg_db", pgenv.get("POSTGRES_DB", pgenv.get("POSTGRES_USER", "postgres")))
		var("pg_health", test[1] if len(test) == 2 else "")
		var("cb_env", ["%s=%s" % kv for kv in env.items()])
		var("cb_spool", spool[0] if spool else "")
		var("cb_port", target or "")
		print("\n".join(out))
	EOF
		# shellcheck disable=SC1090,SC1091
		source "$tmp/compose.sh"
		compose_ok=1
	else
		fail "reading the resolved compose file: $(tail -n 3 "$tmp/compose.err")"
	fi
else
	fail "docker-compose config: $(tr '\n' ' ' <"$tmp/compose.err")"
fi

# --- 2. base image ---------------------------------------------------------------------
step "base"
# The images the FROM lines name (not earlier stages), e.g. debian:12-slim.
mapfile -t bases < <(awk 'toupper($1) == "FROM" {
		name = $2; for (i = 3; i <= NF; i++) if (toupper($i) == "AS") stage[$(i + 1)] = 1
		if (!(name in stage) && !(name in seen)) { seen[name] = 1; print name } }' docker/Dockerfile)
base_ok=1
for b in "${bases[@]}"; do
	case ${b#docker.io/library/} in
	debian:12 | debian:12-* | debian:bookworm | debian:bookworm-*) ;;
	*) fail "FROM $b: only Debian 12 bases can be made here"; base_ok=0 ;;
	esac
done
# The Debian mirror this machine's apt uses (its first .../debian URL).
mirror=${CALLBRIDGE_DOCKER_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null | grep -Eo 'https?://[^[:space:]]*/debian/?([[:space:]]|$)' |
	awk 'NR == 1 { print $1 }' || true)}
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}
security=${mirror%/debian}/debian-security
tarball=$CACHE/debian-$SUITE-minbase.tar
mkdir -p "$CACHE"
if [ -s "$tarball" ] && [ -n "$(find "$tarball" -mtime +"$BASE_MAX_DAYS")" ]; then
	say "$tarball is older than $BASE_MAX_DAYS days: making it again"
	rm -f "$tarball"
fi
if [ "$base_ok" = 1 ] && [ ! -s "$tarball" ]; then
	say "debootstrap --variant=minbase $SUITE from $mirror"
	root=$CACHE/rootfs.tmp
	rm -rf "$root"
	if timeout 1200 debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
		# Made like Debian's own slim images: apt sources with the updates and security
		# suites, debuerreotype's apt settings, no documentation, man pages or translations.
		rm -f "$root/etc/apt/sources.list"
		cat >"$root/etc/apt/sources.list.d/debian.sources" <<-EOF
			Types: deb
			URIs: $mirror
			Suites: $SUITE $SUITE-updates
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

			Types: deb
			URIs: $security
			Suites: $SUITE-security
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		cat >"$root/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
			DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
			APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
			Dir::Cache::pkgcache "";
			Dir::Cache::srcpkgcache "";
		EOF
		printf 'Acquire::GzipIndexes "true";\n' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
		printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
		printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
		cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<-'EOF'
			path-exclude /usr/share/doc/*
			path-include /usr/share/doc/*/copyright
			path-exclude /usr/share/man/*
			path-exclude /usr/share/groff/*
			path-exclude /usr/share/info/*
			path-exclude /usr/share/lintian/*
			path-exclude /usr/share/linda/*
			path-exclude /usr/share/locale/*
			path-include /usr/share/locale/locale.alias
		EOF
		find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
		find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
		find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
		rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/groff/* "$root"/usr/share/lintian/*
		rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
		rm -f "$root"/var/log/*.log "$root"/var/log/apt/* "$root/etc/hostname" "$root/etc/resolv.conf"
		: >"$root/etc/machine-id"
		tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
		rm -rf "$root"
		pass "debootstrap $SUITE minbase: $tarball ($(du -h "$tarball" | cut -f1))"
	else
		tail -n 20 "$CACHE/debootstrap.log"
		fail "debootstrap failed (log: $CACHE/debootstrap.log)"
		rm -rf "$root"
		base_ok=0
	fi
elif [ "$base_ok" = 1 ]; then
	say "reusing $tarball (made $(date -r "$tarball" '+%F %T'))"
fi
if [ "$base_ok" = 1 ]; then
	# Imported again only when the tarball changed (its date is a label of the image).
	stamp=$(date -r "$tarball" +%s)
	for b in "${bases[@]}"; do
		have=$(podman image inspect --format '{{index .Labels "callbridge.base.stamp"}}' "$b" 2>/dev/null || true)
		if [ "$have" = "$stamp" ]; then
			pass "base image $b present"
		elif podman import -q --change 'CMD ["bash"]' --change "LABEL callbridge.base.stamp=$stamp" \
			--change 'LABEL callbridge.base=debootstrap-minbase-bookworm' "$tarball" "$b" >/dev/null; then
			pass "base image $b imported"
		else
			fail "podman import $b"
			base_ok=0
		fi
	done
fi

# --- 3. build ------------------------------------------------------------------------
step "build"
built=0
if [ "$base_ok" = 1 ]; then
	# --pull=never: the base comes from step 2, never from a registry. --network host:
	# apt-get in the build needs no container network. --format docker: the OCI format
	# has no HEALTHCHECK (podman would drop it); Docker always writes this format.
	if timeout 1800 podman build --runtime runc --format docker --network host --pull=never \
		-f docker/Dockerfile -t "$IMAGE" . >"$tmp/build.log" 2>&1; then
		pass "podman build -f docker/Dockerfile"
		built=1
		# Tag the build stage too (from the cache: a second) so that its layers stay as the
		# cache, then drop what earlier builds left untagged (descendants of our base only).
		podman build --runtime runc --format docker --network host --pull=never -q --target build \
			-f docker/Dockerfile -t "$IMAGE-build" . >/dev/null 2>&1 || true
		podman image prune -f --filter label=callbridge.base >/dev/null 2>&1 || true
	else
		tail -n 40 "$tmp/build.log"
		fail "podman build -f docker/Dockerfile"
	fi
else
	skip "build: no base image"
fi
if [ "$built" = 1 ]; then
	size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
	bsize=$(podman image inspect --format '{{.Size}}' "${bases[-1]}")
	say "image $IMAGE: $((size / 1000000)) MB (base ${bases[-1]} $((bsize / 1000000)) MB + $(((size - bsize) / 1000000)) MB)"
	user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
	case ${user%%:*} in
	"" | 0 | root) fail "image USER is root ('$user')" ;;
	*) pass "image USER $user" ;;
	esac
	hc=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE" 2>/dev/null || true)
	case $hc in
	*/healthz*) pass "image HEALTHCHECK on /healthz" ;;
	*) fail "no HEALTHCHECK on /healthz in the image ($hc)" ;;
	esac
	# the runtime stage has no compiler, make or headers, and every library resolves
	if pm run --rm --runtime runc --network none --no-healthcheck --entrypoint /bin/sh "$IMAGE" -c \
		'! command -v cc && ! command -v make && ! command -v pkg-config && [ ! -e /usr/include/libpq-fe.h ]' >/dev/null; then
		pass "runtime stage: no compiler, make or headers"
	else
		fail "runtime stage carries build tools"
	fi
	if missing=$(pm run --rm --runtime runc --network none --no-healthcheck --entrypoint /bin/sh "$IMAGE" -c \
		'ldd /usr/local/bin/callbridge | grep "not found" || true') && [ -z "$missing" ]; then
		pass "runtime stage: every shared library of callbridge present"
	else
		fail "runtime stage: missing libraries: $missing"
	fi
	# What the engine sends as build context, after /.dockerignore.
	printf 'FROM %s\nCOPY . /ctx\n' "${bases[-1]}" >"$tmp/probe.Containerfile"
	if podman build --runtime runc --network none --pull=never -q -f "$tmp/probe.Containerfile" \
		-t "localhost/$tag-context" . >/dev/null 2>"$tmp/probe.err" &&
		pm run --rm --runtime runc --network none "localhost/$tag-context" \
			sh -c 'cd /ctx && find . -mindepth 1 -maxdepth 1 | sort && du -sk . | cut -f1' >"$tmp/ctx.txt"; then
		leaked=$(grep -Ex '\./(\.git|\.env|bin|build|var|tests|build-.*|bin-.*)' "$tmp/ctx.txt" | tr '\n' ' ' || true)
		if [ -z "$leaked" ] && grep -qx './src' "$tmp/ctx.txt" && grep -qx './sql' "$tmp/ctx.txt"; then
			pass "build context: $(grep -c '^\./' "$tmp/ctx.txt") entries, $(tail -n 1 "$tmp/ctx.txt") KB (no .git, .env, builds, var/)"
		else
			fail "build context holds ${leaked:-too little}"
		fi
	else
		fail "build context probe: $(tail -n 3 "$tmp/probe.err")"
	fi
	podman rmi -f "localhost/$tag-context" >/dev/null 2>&1 || true
fi

# --- 4. run on the host network ----------------------------------------------------------
step "run"
up=0
if [ "$built" = 1 ]; then
	pgdir=$tmp/pg
	if url=$(bash scripts/pg.sh start "$pgdir" "$(free_port)"); then
		say "throwaway PostgreSQL on the host: $url"
		port=$(free_port)
		ctr=$tag-host
		# The container reaches the host's PostgreSQL on 127.0.0.1, and we reach it there.
		# No --user: the image's USER applies.
		if pm run -d --runtime runc --name "$ctr" --network host -e DATABASE_URL="$url" \
			-e PORT="$port" -e CALLBRIDGE_LISTEN=127.0.0.1 "$IMAGE" >/dev/null &&
			wait_200 "http://127.0.0.1:$port/healthz" 60 "$ctr"; then
			pass "GET /healthz 200 after $((SECONDS - t_step))s (migrate, then serve)"
			up=1
		else
			fail "GET /healthz: no 200 within 60s ($(podman inspect --format '{{.State.Status}} exit {{.State.ExitCode}}' "$ctr" 2>&1))"
			podman logs "$ctr" 2>&1 | tail -n 20
		fi
	else
		fail "scripts/pg.sh start: no PostgreSQL"
	fi
else
	skip "run: no image"
fi
if [ "$up" = 1 ]; then
	# /healthz answers at once; deliveries before the connection would be spooled, not stored
	PORT=$port eventually -t 30 "database connection ready (/metrics: callbridge_database_up)" \
		at_least 1 metric callbridge_database_up || true
	body=$(post_json "http://127.0.0.1:$port/webhooks/simz" "$FIXTURE")
	case $body in *'"status":"stored"'*) pass "POST /webhooks/simz: stored" ;; *) fail "POST /webhooks/simz: $body" ;; esac
	body=$(post_json "http://127.0.0.1:$port/webhooks/simz" "$FIXTURE")
	case $body in *'"status":"duplicate"'*) pass "the same delivery again: duplicate" ;; *) fail "the same delivery again: $body" ;; esac
	row=$(psql "$url" -X -qtA -F '|' -c "SELECT platform, direction, customer_number, duration_seconds
		FROM callbridge.calls WHERE external_id = '$CALL_ID'" 2>&1 || true)
	[ "$row" = "simz|outbound|+15557654321|132" ] && pass "row in callbridge.calls: $row" || fail "row in callbridge.calls: '$row'"
	podman logs "$ctr" >"$tmp/host.log" 2>&1 || true
	grep -q 'migration applied' "$tmp/host.log" &&
		pass "entrypoint applied the migrations: $(grep -c 'migration applied' "$tmp/host.log") logged" ||
		fail "no 'migration applied' in the container's log"

	uid=$(pm exec "$ctr" id -u || true)
	case $uid in
	'' | 0 | *[!0-9]*) fail "process runs as uid '$uid'" ;;
	*) pass "runs as non-root (podman exec id -u: $uid)" ;;
	esac
	pid1=$(pm exec "$ctr" cat /proc/1/cmdline | tr '\0' ' ' || true)
	case $pid1 in
	'callbridge serve '*) pass "PID 1 is callbridge serve (SIGTERM reaches it)" ;;
	*) fail "PID 1 is '$pid1', not callbridge serve" ;;
	esac
	# The image's own HEALTHCHECK command, run in the container on demand (no systemd
	# here to run it periodically).
	hs=$(pm healthcheck run "$ctr") && pass "HEALTHCHECK passes in the container (${hs:-healthy})" ||
		fail "HEALTHCHECK: ${hs:-unhealthy}"
	t_stop=$SECONDS
	pm stop -t 40 "$ctr" >/dev/null || true
	ec=$(podman inspect --format '{{.State.ExitCode}}' "$ctr" 2>/dev/null || echo '?')
	[ "$ec" = 0 ] && pass "SIGTERM: exit 0 after $((SECONDS - t_stop))s" || fail "SIGTERM: exit $ec after $((SECONDS - t_stop))s"

	# With a certificate it serves HTTPS, and the HEALTHCHECK follows.
	mkdir -p "$tmp/tls"
	if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-keyout "$tmp/tls/key.pem" -out "$tmp/tls/cert.pem" >/dev/null 2>&1; then
		chmod 644 "$tmp/tls/key.pem"
		tport=$(free_port)
		if pm run -d --runtime runc --name "$tag-tls" --network host -v "$tmp/tls:/tls:ro" \
			-e CALLBRIDGE_TLS_CERT_FILE=/tls/cert.pem -e CALLBRIDGE_TLS_KEY_FILE=/tls/key.pem \
			-e DATABASE_URL="$url" -e PORT="$tport" -e CALLBRIDGE_LISTEN=127.0.0.1 "$IMAGE" >/dev/null &&
			wait_200 "https://127.0.0.1:$tport/healthz" 30 "$tag-tls" && pm healthcheck run "$tag-tls" >/dev/null; then
			pass "TLS: serves HTTPS and the HEALTHCHECK passes over it"
		else
			fail "TLS: no HTTPS /healthz or HEALTHCHECK failing"
			podman logs "$tag-tls" 2>&1 | tail -n 5
		fi
		pm rm -f -t 0 "$tag-tls" >/dev/null || true
	else
		skip "TLS: openssl could not make a certificate"
	fi
fi
if [ -n "$pgdir" ]; then
	bash scripts/pg.sh stop "$pgdir" || true
	pgdir=""
fi

# --- 5. the compose topology with podman -----------------------------------------------------
step "topology"
why=""
[ "$built" = 1 ] || why="no image"
[ -n "$why" ] || [ "$compose_ok" = 1 ] || why="the compose file could not be read"
[ -n "$why" ] || { [ -n "$pg_health" ] && [ -n "$cb_spool" ] && [ -n "$cb_port" ]; } ||
	why="the compose file lacks the postgres health check, the spool volume or the port"
[ -n "$why" ] || [ -x /usr/lib/cni/dnsname ] || why="no dnsname CNI plugin (service names would not resolve)"
if [ -z "$why" ]; then
	# Stand-in for the official postgres image (no registry here): Debian's PostgreSQL on
	# the same base, honouring POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB, password
	# authentication over the network, data in /var/lib/postgresql/data.
	mkdir -p "$tmp/pgimage"
	cat >"$tmp/pgimage/Containerfile" <<-EOF
		FROM ${bases[-1]}
		RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 \\
		 && apt-get clean && rm -rf /var/lib/apt/lists/*
		COPY entry.sh /entry.sh
		CMD ["sh", "/entry.sh"]
	EOF
	cat >"$tmp/pgimage/entry.sh" <<-'EOF'
		set -eu
		D=/var/lib/postgresql/data B=/usr/lib/postgresql/15/bin
		mkdir -p "$D" /run/postgresql && chown postgres: "$D" /run/postgresql && chmod 700 "$D"
		if [ ! -s "$D/PG_VERSION" ]; then
			printf '%s\n' "$POSTGRES_PASSWORD" >/run/postgresql/pw && chown postgres /run/postgresql/pw
			runuser -u postgres -- "$B/initdb" -D "$D" -U "$POSTGRES_USER" --pwfile=/run/postgresql/pw \
				--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
			rm /run/postgresql/pw
			echo 'host all all all scram-sha-256' >>"$D/pg_hba.conf"
			runuser -u postgres -- "$B/pg_ctl" -D "$D" -o '-c listen_addresses=' -w start >/dev/null
			runuser -u postgres -- "$B/psql" -X -q -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
			runuser -u postgres -- "$B/pg_ctl" -D "$D" -w stop >/dev/null
		fi
		exec runuser -u postgres -- "$B/postgres" -D "$D" -c listen_addresses='*'
	EOF
	if ! timeout 900 podman build --runtime runc --network host --pull=never -q -t "$PG_IMAGE" \
		"$tmp/pgimage" >/dev/null 2>"$tmp/pgimage.err"; then
		tail -n 20 "$tmp/pgimage.err"
		why="the PostgreSQL stand-in image did not build"
		fail "$why"
	fi
fi
if [ -z "$why" ]; then
	pgc=$tag-postgres cbc=$tag-callbridge vol=$tag-spool
	pm network create "$tag" >/dev/null
	pm volume create "$vol" >/dev/null
	pg_args=() cb_args=()
	for e in "${pg_env[@]}"; do pg_args+=(-e "$e"); done
	for e in "${cb_env[@]}"; do cb_args+=(-e "$e"); done # environment wins over .env
	port2=$(free_port)
	# the postgres service: reachable as "postgres" on the network, the compose health check
	pm run -d --runtime runc --name "$pgc" --network "$tag:alias=postgres" "${pg_args[@]}" \
		--health-cmd "$pg_health" "$PG_IMAGE" >/dev/null
	start_callbridge() {
		pm run -d --runtime runc --name "$cbc" --network "$tag" --env-file "$tmp/compose/.env" "${cb_args[@]}" \
			-v "$vol:$cb_spool" -p "127.0.0.1:$port2:$cb_port" "$IMAGE" >/dev/null &&
			wait_200 "http://127.0.0.1:$port2/healthz" 60 "$cbc"
	}
	psql_in() { pm exec "$pgc" psql -X -qtA -U "$pg_user" -d "$pg_db" -c "$1" 2>&1 || true; }
	if wait_healthy "$pgc" 60; then
		pass "postgres stand-in healthy by the compose health check ($pg_health)"
	else
		fail "postgres stand-in not healthy"
		podman logs "$pgc" 2>&1 | tail -n 10
	fi
	# depends_on: service_healthy — callbridge starts only now
	if start_callbridge; then
		pass "callbridge up on the compose network, published port $port2 -> $cb_port"
		PORT=$port2 eventually -t 30 "database connection to the postgres service by its name" \
			at_least 1 metric callbridge_database_up || true
		body=$(post_json "http://127.0.0.1:$port2/webhooks/simz" "$FIXTURE")
		case $body in *'"status":"stored"'*) pass "POST through the published port: stored" ;; *) fail "POST through the published port: $body" ;; esac
		row=$(psql_in "SELECT platform FROM callbridge.calls WHERE external_id = '$CALL_ID'")
		[ "$row" = simz ] && pass "row in the postgres service's database" || fail "row in the postgres service: '$row'"
		hs=$(pm healthcheck run "$cbc") && pass "HEALTHCHECK passes on the compose network" || fail "HEALTHCHECK: ${hs:-unhealthy}"
		owner=$(pm exec "$cbc" stat -c '%u %a' "$cb_spool" || true)
		if [ "$owner" = "$(pm exec "$cbc" id -u) 700" ] && pm exec "$cbc" test -w "$cb_spool"; then
			pass "named spool volume at $cb_spool: owned by the image's user, mode 700"
		else
			fail "spool volume at $cb_spool: owner and mode '$owner'"
		fi
		spool_env=$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed -n 's/^CALLBRIDGE_SPOOL_DIR=//p')
		[ "$spool_env" = "$cb_spool" ] && pass "the image's CALLBRIDGE_SPOOL_DIR is the volume's path" ||
			fail "CALLBRIDGE_SPOOL_DIR '$spool_env' is not the volume's path $cb_spool"

		# PostgreSQL goes away: the delivery is spooled on the volume and acknowledged; the
		# container is replaced; PostgreSQL comes back: the new container drains the spool.
		pm stop -t 10 "$pgc" >/dev/null
		PORT=$port2 wait_for -m "callbridge sees the postgres service gone" prints 0 metric callbridge_database_up || true
		body=$(post_json "http://127.0.0.1:$port2/webhooks/simz" "$FIXTURE2")
		files=$(pm exec "$cbc" sh -c "ls '$cb_spool' | wc -l" || echo 0)
		case $body in
		*'"status":"spooled"'*) [ "$files" -gt 0 ] && pass "postgres stopped: delivery spooled on the volume" ||
			fail "spooled, but the volume is empty" ;;
		*) fail "postgres stopped: $body" ;;
		esac
		pm stop -t 40 "$cbc" >/dev/null
		pm rm -f "$cbc" >/dev/null
		pm start "$pgc" >/dev/null
		if wait_healthy "$pgc" 60 && start_callbridge; then
			eventually -t 20 "new container drained the spooled delivery into PostgreSQL" prints simz \
				psql_in "SELECT platform FROM callbridge.calls WHERE external_id = '$CALL_ID2'" || true
		else
			fail "restart after postgres came back"
			podman logs "$cbc" 2>&1 | tail -n 10
		fi
	else
		fail "callbridge not up on the compose network"
		podman logs "$cbc" 2>&1 | tail -n 20
	fi
else
	skip "compose topology: $why"
fi
skip "docker compose up: no registry for the official postgres image, and podman's periodic health checks need systemd (absent), so service_healthy would never be reached"

step_end
say "total $((SECONDS - t_all))s"
say "$passed passed, $failed failed, $skipped skipped"
exit $((failed > 0 ? 1 : 0))
