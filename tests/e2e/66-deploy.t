#!/usr/bin/env bash
# The deployment files (docs/deploy.md).
#   docker/docker-compose.yml: docker-compose resolves it with no .env, with one and with
#     the scale profile; every setting of .env.example reaches callbridge or is set on
#     purpose; the environment it gives callbridge starts the daemon with no warning about
#     it; each replica has a spool volume of its own; HAProxy's servers are the replicas.
#   docker/haproxy.cfg: HAProxy run with it (addresses made local) in front of two
#     daemons: round robin, and a replica whose /readyz says 503 (spool full) taken out
#     while its /healthz says 200.
#   deploy/kubernetes: every object valid against the Kubernetes API's schemas, offline
#     (tests/deploy/validate.js, npm kubernetes-models), broken ones refused; the facts of
#     the design (tests/deploy/design.js), and a manifest breaking one caught.
. "$(dirname "$0")/lib.sh"
for tool in docker-compose node; do
	command -v "$tool" >/dev/null || {
		echo "1..0 # skip $tool is not installed"
		exit 0
	}
done
DEPLOY=$ROOT/tests/deploy
SPOOL_PATH=/var/lib/callbridge/spool # the image's CALLBRIDGE_SPOOL_DIR

# distinct_ports N: N free ports, no two the same.
distinct_ports() {
	local got=" " p
	while [ "$(wc -w <<<"$got")" -lt "$1" ]; do
		p=$(free_port) || return 1
		[[ $got == *" $p "* ]] || got="$got$p "
	done
	echo $got
}

# Daemons and HAProxy of this file, stopped before lib.sh's cleanup; the daemons' logs go
# to daemon.log, where done_testing looks for sanitizer reports.
PIDS=()
LOGS=()
stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	for p in "${LOGS[@]}"; do [ ! -e "$p" ] || sed "s|^|[$(basename "$p" .log)] |" "$p" >>"$TMP/daemon.log"; done
	LOGS=()
}
trap 'stop_all; cleanup' EXIT

# ---- 0. the validator's packages -----------------------------------------------------
# Pinned by tests/deploy/package-lock.json; installed again when the lock file is newer
# than what is installed.
if [ ! -e "$DEPLOY/node_modules/.package-lock.json" ] ||
	[ "$DEPLOY/package-lock.json" -nt "$DEPLOY/node_modules/.package-lock.json" ]; then
	if (cd "$DEPLOY" && timeout 300 npm ci --no-audit --no-fund) >"$TMP/npm.log" 2>&1; then
		pass "npm ci: tests/deploy's packages installed"
	else
		fail "npm ci in tests/deploy"
		tail -n 10 "$TMP/npm.log" | sed 's/^/#   /'
	fi
fi

# ---- 1. docker-compose config ----------------------------------------------------------
# A copy of what the compose file reads (docker/, with its .env link, and .env.example),
# so that the test's .env files land in no checkout.
REPO=$TMP/repo
mkdir -p "$REPO"
cp -a "$ROOT/docker" "$ROOT/.env.example" "$REPO/"
rm -f "$REPO/.env"
is "$(readlink "$REPO/docker/.env")" "../.env" "docker/.env links to the repository's .env (Compose reads the project directory's)"

# resolved NAME [ARGS...]: `docker-compose ARGS config` of the copy, in an environment
# holding only PATH, HOME and $CENV (no CALLBRIDGE_* of the caller's), as the lines of
# tests/deploy/compose-lines.js in $TMP/NAME.lines; errors in $TMP/NAME.err.
CENV=()
resolved() {
	local name=$1
	shift
	(cd "$REPO" && env -i PATH="$PATH" HOME="$HOME" "${CENV[@]}" \
		docker-compose -f docker/docker-compose.yml "$@" config) >"$TMP/$name.yml" 2>"$TMP/$name.err" &&
		node "$DEPLOY/compose-lines.js" <"$TMP/$name.yml" >"$TMP/$name.lines"
}
# lines_of NAME KIND SERVICE: the values of that kind of line for SERVICE, sorted, one line.
lines_of() { awk -v k="$2" -v s="$3" '$1 == k && $2 == s {print $3}' "$TMP/$1.lines" | sort | tr '\n' ' '; }
# env_of NAME SERVICE KEY: the value SERVICE's environment gives KEY ("<unset>" if none).
env_of() {
	awk -v s="$2" -v k="$3" 'BEGIN {v = "<unset>"} $1 == "env" && $2 == s && index($3, k "=") == 1 {
		v = substr($0, length("env " s " " k "=") + 1)} END {print v}' "$TMP/$1.lines"
}
CB_SERVICES="callbridge callbridge-1 callbridge-2"

if resolved plain; then
	pass "docker-compose config with no .env"
else
	fail "docker-compose config with no .env: $(tr '\n' ' ' <"$TMP/plain.err")"
fi
if resolved scale --profile scale; then
	pass "docker-compose --profile scale config with no .env"
else
	fail "docker-compose --profile scale config: $(tr '\n' ' ' <"$TMP/scale.err")"
fi
services() { awk -v p="$2" '$1 == "service" && $3 == p {print $2}' "$TMP/$1.lines" | sort | tr '\n' ' '; }
is "$(services plain -)" "callbridge postgres " "without the profile, up starts postgres and callbridge only"
is "$(services scale scale)" "callbridge-1 callbridge-2 haproxy " "the scale profile adds HAProxy and two replicas"

# The platforms' settings: each one .env.example lists, for every callbridge service, in
# its environment and empty (the daemon then takes it as unset).
slugs=$(sed -n 's/^# CALLBRIDGE_\([A-Z0-9]*\)_SECRET=.*/\1/p' "$ROOT/.env.example")
for s in $CB_SERVICES; do
	for slug in $slugs; do
		for suffix in SECRET SIGNATURE PATH_TOKEN BEARER_TOKEN; do echo "env $s CALLBRIDGE_${slug}_$suffix="; done
	done
done >"$TMP/platform.want"
missing=$(grep -vxF -f "$TMP/scale.lines" "$TMP/platform.want" | cut -d' ' -f2,3 | tr '\n' ' ')
is "$missing" "" "every platform's secret, scheme and tokens ($(wc -w <<<"$slugs") platforms) passed on to each callbridge service, empty with no .env"

# Every setting .env.example lists reaches callbridge from .env (empty here), or is set
# by the compose file on purpose, or is left out on purpose (text settings, where an
# empty value is a value): nothing is dropped by mistake.
FIXED="DATABASE_URL PORT CALLBRIDGE_LISTEN CALLBRIDGE_SHUTDOWN_TIMEOUT_SECONDS"
LEFT_OUT="CALLBRIDGE_SPOOL_DIR CALLBRIDGE_TLS_CERT_FILE CALLBRIDGE_TLS_KEY_FILE CALLBRIDGE_ADMIN_LISTEN"
settings=$(sed -n 's/^# \{0,1\}\(DATABASE_URL\|PORT\|CALLBRIDGE_[A-Z0-9_]*\)=.*/\1/p' "$ROOT/.env.example" |
	grep -v -E "^CALLBRIDGE_($(paste -sd'|' <<<"$slugs"))_SECRET$")
wrong=""
[ -n "$settings" ] || wrong="no settings found in .env.example"
for name in $settings; do
	v=$(env_of plain callbridge "$name")
	if [[ " $FIXED " == *" $name "* ]]; then
		[ -n "$v" ] && [ "$v" != "<unset>" ] || wrong="$wrong $name(not set)"
	elif [[ " $LEFT_OUT " == *" $name "* ]]; then
		[ "$v" = "<unset>" ] || wrong="$wrong $name(set: '$v')"
	else
		[ "$v" = "" ] || wrong="$wrong $name('$v')"
	fi
done
is "$wrong" "" "each of the $(wc -w <<<"$settings") settings of .env.example: passed on from .env, set by the compose file, or left out on purpose"

# Each callbridge service a spool volume of its own at the image's spool path.
spools=""
for s in $CB_SERVICES; do spools="$spools$(lines_of scale volume "$s" | tr ' ' '\n' | grep ":$SPOOL_PATH\$" | cut -d: -f1) "; done
read -r -a spool_list <<<"$spools"
named=$(awk '$1 == "named-volume" {print $2}' "$TMP/scale.lines")
ok=1
for v in "${spool_list[@]}"; do grep -qx "$v" <<<"$named" || ok=0; done
[ "${#spool_list[@]}" = 3 ] && [ "$(printf '%s\n' "${spool_list[@]}" | sort -u | wc -l)" = 3 ] && [ "$ok" = 1 ] &&
	pass "each callbridge service has a named spool volume of its own ($spools)" ||
	fail "spool volumes of $CB_SERVICES: '$spools'"

# HAProxy: its configuration mounted, and its servers are the replicas, on their port.
like "$(lines_of scale volume haproxy)" "/docker/haproxy\.cfg:/usr/local/etc/haproxy/haproxy\.cfg " \
	"HAProxy reads docker/haproxy.cfg"
servers=$(awk '$1 == "server" {print $3}' "$ROOT/docker/haproxy.cfg" | sort | tr '\n' ' ')
want=""
for s in $(services scale scale); do
	[ "$s" = haproxy ] || want="$want$s:$(env_of scale "$s" PORT) "
done
is "$servers" "$want" "haproxy.cfg's servers are the scale profile's replicas, on the port they listen on"
is "$(lines_of scale depends haproxy)" "callbridge-1 callbridge-2 " "HAProxy starts after the replicas"

# The environment the compose file gives callbridge, with no .env, starts the daemon: no
# setting refused, none unknown. Only the database (none here: deliveries would be
# spooled), the port and the spool directory are made local.
daemon_env=()
while IFS= read -r kv; do
	case $kv in DATABASE_URL=* | PORT=* | CALLBRIDGE_LISTEN=*) ;; *) daemon_env+=("$kv") ;; esac
done < <(awk '$1 == "env" && $2 == "callbridge" {print substr($0, length("env callbridge ") + 1)}' "$TMP/plain.lines")
unset_env=()
while IFS= read -r n; do unset_env+=(-u "$n"); done < <(compgen -e | grep '^CALLBRIDGE_' || true)
read -r CPORT DEAD HA_PORT STATS_PORT P1 P2 <<<"$(distinct_ports 6)"
env "${unset_env[@]}" "${daemon_env[@]}" DATABASE_URL="postgresql://callbridge@127.0.0.1:$DEAD/callbridge" \
	PORT="$CPORT" CALLBRIDGE_LISTEN=127.0.0.1 CALLBRIDGE_SPOOL_DIR="$TMP/spool-compose" \
	"$BIN" serve >"$TMP/compose-env.log" 2>&1 &
PIDS+=($!)
LOGS+=("$TMP/compose-env.log")
if PORT=$CPORT wait_ready; then
	pass "callbridge starts with the compose file's environment (${#daemon_env[@]} variables) and is ready"
else
	fail "callbridge with the compose file's environment: $(tail -n 3 "$TMP/compose-env.log" | tr '\n' ' ')"
fi
is "$(grep -o 'unknown setting.*' "$TMP/compose-env.log" | tr '\n' ' ')" "" "no variable of the compose file unknown to callbridge"

# With a .env in the repository's root: its values reach every callbridge service
# (through docker/.env); the environment wins over it; what the compose file fixes stays.
printf '%s\n' 'CALLBRIDGE_SIMZ_SECRET=from-dotenv' 'CALLBRIDGE_ATOMS_SECRET=from-dotenv' \
	'CALLBRIDGE_LOG_LEVEL=debug' 'DATABASE_URL=postgresql://elsewhere/db' >"$REPO/.env"
CENV=(CALLBRIDGE_ATOMS_SECRET=from-environment)
if resolved dotenv --profile scale; then
	pass "docker-compose config with a .env"
else
	fail "docker-compose config with a .env: $(tr '\n' ' ' <"$TMP/dotenv.err")"
fi
CENV=()
got=""
for s in $CB_SERVICES; do got="$got$(env_of dotenv "$s" CALLBRIDGE_SIMZ_SECRET) "; done
is "$got" "from-dotenv from-dotenv from-dotenv " ".env's CALLBRIDGE_SIMZ_SECRET reaches every callbridge service"
is "$(env_of dotenv callbridge CALLBRIDGE_LOG_LEVEL)" debug ".env's settings reach callbridge too (CALLBRIDGE_LOG_LEVEL)"
is "$(env_of dotenv callbridge CALLBRIDGE_ATOMS_SECRET)" from-environment "the environment wins over .env"
like "$(env_of dotenv callbridge DATABASE_URL)" "@postgres:5432/" "DATABASE_URL stays the postgres service's whatever .env says"

# ---- 2. docker/haproxy.cfg, run ------------------------------------------------------------
if command -v haproxy >/dev/null; then
	haproxy -c -q -f "$ROOT/docker/haproxy.cfg" >"$TMP/haproxy-c.out" 2>&1 &&
		pass "haproxy -c accepts docker/haproxy.cfg" ||
		fail "haproxy -c docker/haproxy.cfg: $(tr '\n' ' ' <"$TMP/haproxy-c.out")"

	# The shipped configuration with local addresses: its frontend, its stats page and its
	# two servers, looked up by no DNS.
	sed -e "s/^\([[:space:]]*bind \):8080\$/\1127.0.0.1:$HA_PORT/" \
		-e "s/^\([[:space:]]*bind \):8404\$/\1127.0.0.1:$STATS_PORT/" \
		-e "s/ callbridge-1:8080\$/ 127.0.0.1:$P1/" -e "s/ callbridge-2:8080\$/ 127.0.0.1:$P2/" \
		-e 's/ resolvers docker//' "$ROOT/docker/haproxy.cfg" >"$TMP/haproxy.cfg"
	is "$(grep -c "127\.0\.0\.1:" "$TMP/haproxy.cfg")" 4 "haproxy.cfg made local: frontend, stats and two servers"

	# replica I [VAR=value...]: a daemon on port P<I> with a spool of its own and no
	# database (its deliveries are spooled and answered 200).
	replica() {
		local i=$1 port
		shift
		port=$([ "$i" = 1 ] && echo "$P1" || echo "$P2")
		env DATABASE_URL="postgresql://callbridge@127.0.0.1:$DEAD/callbridge" PORT="$port" \
			CALLBRIDGE_LISTEN=127.0.0.1 CALLBRIDGE_SPOOL_DIR="$TMP/spool-r$i" "$@" "$BIN" serve >>"$TMP/replica$i.log" 2>&1 &
		PIDS+=($!)
		LOGS+=("$TMP/replica$i.log")
		PORT=$port wait_ready || fail "replica $i ready"
	}
	# Replica 2's spool holds at most 1 MiB (the least there is): one large delivery fills
	# it, and its /readyz turns 503.
	replica 1
	replica 2 CALLBRIDGE_SPOOL_MAX_BYTES=1048576
	haproxy -f "$TMP/haproxy.cfg" -db >>"$TMP/haproxy.log" 2>&1 &
	PIDS+=($!)
	server_status() {
		curl -s --max-time 5 "http://127.0.0.1:$STATS_PORT/stats;csv" |
			awk -F, -v s="$1" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "status") c = i} $1 == "callbridge" && $2 == s {print $c}'
	}
	both_up() { [ "$(server_status callbridge-1) $(server_status callbridge-2)" = "UP UP" ]; }
	eventually -t 20 "HAProxy: both replicas UP by their /readyz" both_up ||
		diag "haproxy: $(tail -n 5 "$TMP/haproxy.log" | tr '\n' ' ')"

	SPOOLED='callbridge_deliveries_total{platform="simz",outcome="spooled"}'
	spooled() { PORT=$1 metric "$SPOOLED"; }
	via_haproxy() {
		local i codes=""
		simz_calls "$1" "$2"
		for i in $(seq 1 "$2"); do
			codes="$codes$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
				--data-binary @"$TMP/$1_$i.json" "http://127.0.0.1:$HA_PORT/webhooks/simz") "
		done
		echo "$codes"
	}
	is "$(via_haproxy rr 4)" "200 200 200 200 " "four deliveries through HAProxy: all 200"
	is "$(spooled "$P1") $(spooled "$P2")" "2 2" "round robin: two on each replica"

	# One large delivery straight to replica 2 fills its spool: /readyz 503, /healthz 200.
	{
		printf '{"padding":"%s",' "$(head -c 1046000 /dev/zero | tr '\0' x)"
		simz call_completed.json big_1 | tail -c +2
	} >"$TMP/big.json"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary @"$TMP/big.json" "http://127.0.0.1:$P2/webhooks/simz")
	is "$code" 200 "a 1 MB delivery to replica 2: 200 (spooled)"
	probe() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P2/$1"; }
	is "$(probe readyz) $(probe healthz)" "503 200" "replica 2, its spool full: /readyz 503, /healthz 200"
	eventually -t 20 "HAProxy takes replica 2 out (DOWN) by its /readyz" prints DOWN server_status callbridge-2
	is "$(via_haproxy after 4)" "200 200 200 200 " "four more deliveries through HAProxy: all 200"
	is "$(spooled "$P1") $(spooled "$P2")" "6 3" "all four on replica 1"
else
	echo "ok $((T_COUNT += 1)) # skip haproxy is not installed"
fi

# ---- 3. deploy/kubernetes ------------------------------------------------------------------
# validate FILE...: tests/deploy/validate.js, run from the repository's root (paths as
# given); its lines in $TMP/validate.out, its status in VRC.
validate() {
	(cd "$ROOT" && node tests/deploy/validate.js "$@") >"$TMP/validate.out" 2>&1
	VRC=$?
}
validate deploy/kubernetes/*.yaml
objects=0
while read -r verdict rest; do
	case $verdict in
	valid) pass "kubernetes: $rest valid against the API's schemas" ;;
	*) fail "kubernetes: $verdict $rest" ;;
	esac
	objects=$((objects + 1))
done <"$TMP/validate.out"
is "$VRC $(cut -d' ' -f3 "$TMP/validate.out" | cut -d/ -f1 | sort -u | tr '\n' ' ')" \
	"0 PodDisruptionBudget Service StatefulSet " "validate.js: exit 0; a StatefulSet, Services, a PodDisruptionBudget ($objects objects)"

# Broken copies of the StatefulSet are refused: a misspelt field (which the schemas alone
# let through, and kubectl refuses), a wrong type, a field missing.
mkdir -p "$TMP/k8s"
broken() { sed "$2" "$ROOT/deploy/kubernetes/statefulset.yaml" >"$TMP/k8s/$1.yaml"; }
broken misspelt 's/^\( *\)readinessProbe:/\1readinesProbe:/'
broken type 's/^\( *\)replicas: 2$/\1replicas: two/'
broken missing '/^  selector:/,/^      app.kubernetes.io\/name: callbridge$/d'
for f in misspelt type missing; do
	cmp -s "$ROOT/deploy/kubernetes/statefulset.yaml" "$TMP/k8s/$f.yaml" && fail "the '$f' copy differs from the StatefulSet"
done
validate "$TMP"/k8s/{misspelt,type,missing}.yaml
is "$VRC" 1 "validate.js exits 1 on them"
refused() { grep "^invalid $TMP/k8s/$1\.yaml " "$TMP/validate.out"; }
like "$(refused misspelt)" "unknown field spec\.template\.spec\.containers\[0\]\.readinesProbe" \
	"a misspelt field (readinesProbe) is refused"
like "$(refused type)" "spec/replicas must be integer" "replicas: two is refused"
like "$(refused missing)" "required property '?selector" "a StatefulSet without its selector is refused"

# The facts of the design, and a manifest that breaks one: a grace period shorter than
# the daemon's shutdown.
(cd "$ROOT" && node tests/deploy/design.js deploy/kubernetes) >"$TMP/design.out" 2>&1
DRC=$?
while IFS= read -r line; do
	case $line in
	"ok "*) pass "kubernetes: ${line#ok }" ;;
	*) fail "kubernetes: $line" ;;
	esac
done <"$TMP/design.out"
is "$DRC" 0 "design.js: exit 0"
mkdir -p "$TMP/k8s-short"
cp "$ROOT"/deploy/kubernetes/*.yaml "$TMP/k8s-short/"
sed -i 's/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 30/' "$TMP/k8s-short/statefulset.yaml"
node "$DEPLOY/design.js" "$TMP/k8s-short" >"$TMP/design-short.out" 2>&1
like "$? $(grep '^not ok' "$TMP/design-short.out")" "^1 not ok terminationGracePeriodSeconds \(30\)" \
	"a grace period of 30 s (no longer than preStop + shutdown) is caught"

stop_all # before done_testing reads daemon.log
done_testing
