# common.sh — helpers that hold no state of a test file: sourced by lib.sh (the e2e
# tests) and by scripts/docker-check.sh, so that both wait, find ports and read
# /metrics the same way. Whoever sources it defines pass NAME, fail NAME and diag TEXT.

# listening PORT: something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((RANDOM % 12000 + 20000)) # below the ephemeral range
		if ! listening "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# ---- waiting for facts ---------------------------------------------------------------
# A test waits for what it needs to be so (the daemon has seen PostgreSQL go, a row is
# in, a lock is held), never for a fixed time: a sleep is too short on a busy machine
# and wasted on an idle one, and a test that goes on too early passes without testing.

# poll SECONDS CMD...: runs CMD every 50 ms until it succeeds (0), SECONDS at most (1).
# (The helpers' locals start with _: CMD sees them, and must not take them for its own.)
poll() {
	local _end=$((${EPOCHREALTIME/./} + $1 * 1000000))
	shift
	while :; do
		"$@" && return 0
		[ "${EPOCHREALTIME/./}" -lt "$_end" ] || return 1
		sleep 0.05
	done
}

# wait_for [-t SECONDS] [-m WHAT] CMD...: poll (10 s unless told); on timeout, a failed
# test named WHAT (default: the command) with what CMD saw last, and status 1.
wait_for() {
	local _secs=10 _what=
	while :; do
		case $1 in
		-t) _secs=$2 ;;
		-m) _what=$2 ;;
		*) break ;;
		esac
		shift 2
	done
	WAIT_SAW=
	poll "$_secs" "$@" && return 0
	fail "${_what:-$*} (waited ${_secs} s)"
	[ -z "$WAIT_SAW" ] || diag "  last seen: $WAIT_SAW"
	return 1
}

# eventually [-t SECONDS] NAME CMD...: a test NAME that passes once CMD succeeds, and
# fails as wait_for does.
eventually() {
	local _secs=10
	[ "$1" != -t ] || { _secs=$2; shift 2; }
	local _name=$1
	shift
	wait_for -t "$_secs" -m "$_name" "$@" && pass "$_name"
}

# Conditions for wait_for (they note what they saw, for its failure message):
# prints WANT CMD...: CMD prints exactly WANT.
prints() {
	local _want=$1 _got
	shift
	_got=$("$@")
	WAIT_SAW="'$_got', want '$_want'"
	[ "$_got" == "$_want" ]
}
# at_least N CMD...: CMD prints a whole number of N or more.
at_least() {
	local _n=$1 _got
	shift
	_got=$("$@")
	WAIT_SAW="'$_got', want $_n or more"
	[[ $_got =~ ^[0-9]+$ ]] && [ "$_got" -ge "$_n" ]
}

# ---- what the daemon says ------------------------------------------------------------
# metrics: the /metrics page of the daemon on 127.0.0.1:$PORT.
metrics() { curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics"; }
# metric NAME: the value of one sample, NAME with its labels as /metrics writes them.
metric() { metrics | awk -v m="$1" '$1 == m {print $2}'; }
