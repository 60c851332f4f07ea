#!/usr/bin/env bash
# A 2xx is a row, always: every body of the corpus is posted twice, with PostgreSQL up
# and with it stopped (answered "200 spooled", then drained when it is back), and every
# 2xx of either way must end as exactly one row of callbridge.webhook_events. The
# corpus: tests/bad-input/ (each answer as its .expect says) and edge cases made here
# from the fixtures: every string field of each platform's events (once per platform,
# event and path; event types, ids, numbers, names, header ids included) as 6000 random
# characters (random: a repeated text would be compressed in an index and fit), and
# every time field as instants that an offset carries out of years 1..9999.
# Then the last line of defence: a spooled delivery the database refuses is stored raw as
# 'failed' (a dead letter, replayable), and one refused even so is kept in quarantine.
. "$(dirname "$0")/lib.sh"
CORPUS=$TMP/corpus
mkdir -p "$CORPUS"
pg_start
migrate
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
wait_ready

# The corpus: $CORPUS/<n>.json (and <n>.headers: "Name: value" lines), and a manifest of
# lines "<n> <slug> <kind> <what>" (tab-separated).
perl - "$FIX" "$ROOT/tests/bad-input" "$CORPUS" >"$TMP/manifest" <<'PL'
use strict; use warnings; use JSON::PP;
my ($fix, $bad, $out) = @ARGV;
my $json = JSON::PP->new->canonical;
my ($n, %seen) = (0);
srand(23);
my @alnum = ('a' .. 'z', 'A' .. 'Z', '0' .. '9');
sub long_text { join '', map { $alnum[rand @alnum] } 1 .. 6000 }
sub slurp { local $/; open my $f, '<', $_[0] or die "$_[0]: $!"; my $s = <$f>; $s }
sub emit {
	my ($slug, $kind, $what, $body, $headers) = @_;
	$n++;
	open my $f, '>', "$out/$n.json" or die; print $f $body; close $f;
	if (length($headers // '')) { open my $h, '>', "$out/$n.headers" or die; print $h $headers; close $h }
	print join("\t", $n, $slug, $kind, $what), "\n";
}
sub leaves {
	my ($x, $path, $acc) = @_;
	if (ref $x eq 'HASH') { leaves($x->{$_}, [@$path, $_], $acc) for sort keys %$x }
	elsif (ref $x eq 'ARRAY') { leaves($x->[$_], [@$path, $_], $acc) for 0 .. $#$x }
	elsif (defined $x && !ref $x) { push @$acc, [$path, $x] }
}
sub set_at {
	my ($x, $path, $v) = @_;
	$x = ref $x eq 'HASH' ? $x->{$_} : $x->[$_] for @$path[0 .. $#$path - 1];
	if (ref $x eq 'HASH') { $x->{$path->[-1]} = $v } else { $x->[$path->[-1]] = $v }
}
for my $b (sort glob "$bad/*.json") {
	my ($name) = $b =~ m{([^/]+)\.json$};
	emit('simz', 'bad-input', $name, slurp($b));
}
for my $file (sort glob "$fix/*/*.json") {
	my ($slug, $name) = $file =~ m{([^/]+)/([^/]+)\.json$};
	my $text = slurp($file);
	my $doc = eval { $json->decode($text) };
	next unless ref $doc eq 'HASH';
	my $headers = -e "$fix/$slug/$name.headers" ? slurp("$fix/$slug/$name.headers") : '';
	my $event = $doc->{event} // $doc->{event_type} // $doc->{topic} // '';
	$event = '' if ref $event;
	my @acc;
	leaves($doc, [], \@acc);
	next if @acc > 200; # a long transcript: the same few paths again and again
	for my $leaf (@acc) {
		my ($path, $v) = @$leaf;
		my $where = join('.', map { /^\d+$/ ? '[]' : $_ } @$path);
		next if $seen{"$slug $event $where"}++;
		my $timeish = $where =~ /time|date|_at$|At$/i || $v =~ /^\d{4}-\d\d-\d\d/;
		my @variants;
		push @variants, ['long', long_text()] unless $v =~ /^-?[\d.]+$/ && !$timeish;
		push @variants, ['ts-min', '0001-01-01T00:00:00+23:59'],
		  ['ts-max', '9999-12-31T23:59:59-23:59'] if $timeish;
		push @variants, ['ts-ms', 253402300800000] if $timeish && $v =~ /^\d{9,}(\.\d+)?$/;
		for my $var (@variants) {
			my $copy = $json->decode($text);
			set_at($copy, $path, $var->[1]);
			emit($slug, $var->[0], "$name:$where", $json->encode($copy), $headers);
		}
	}
	for my $line (split /\n/, $headers) { # header ids become de-duplication keys
		my ($h) = $line =~ /^([^:]+):/ or next;
		next if $seen{"$slug header $h"}++;
		(my $long = $headers) =~ s/^\Q$h\E:.*$/"$h: " . long_text()/me;
		emit($slug, 'long-header', "$name:$h", $text, $long);
	}
}
PL
size=$(grep -c . "$TMP/manifest")
like "$size" '^[1-9][0-9]{2,}$' "the corpus holds $size bodies"

# post_all RUN: posts every body of the manifest; lines "<n> <slug> <code> <word> <hex
# of the answer's dedupe_key>" (tab-separated) in $TMP/RUN.answers. One process: a
# curl per body would take longer than the test.
post_all() {
	perl - "$TMP/manifest" "$CORPUS" "http://127.0.0.1:$PORT" >"$TMP/$1.answers" <<'PL'
use strict; use warnings; use HTTP::Tiny; use JSON::PP;
my ($manifest, $dir, $base) = @ARGV;
my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
open my $m, '<', $manifest or die;
while (<$m>) {
	chomp;
	my ($n, $slug) = split /\t/;
	my $body = do { local $/; open my $f, '<', "$dir/$n.json" or die; <$f> };
	my %h = ('Content-Type' => 'application/json');
	if (open my $f, '<', "$dir/$n.headers") {
		while (<$f>) { chomp; $h{$1} = $2 if /^([^:]+):\s*(.*)$/ }
	}
	my $r = $http->post("$base/webhooks/$slug", { headers => \%h, content => $body });
	my $a = eval { JSON::PP->new->decode($r->{content}) } // {};
	my $word = $a->{status} // $a->{error} // '-';
	print join("\t", $n, $slug, $r->{status}, $word, unpack('H*', $a->{dedupe_key} // '')), "\n";
}
PL
}

# without_row RUN: how many 2xx answers of the run are not exactly one row of
# webhook_events (by platform and the answer's dedupe key).
without_row() {
	awk -F'\t' '$3 ~ /^2/ {print $1 "\t" $2 "\t" $5}' "$TMP/$1.answers" >"$TMP/$1.acked"
	psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" <<SQL
CREATE TEMP TABLE acked (n int, platform text, key_hex text);
\copy acked FROM '$TMP/$1.acked'
SELECT count(*) FROM acked a
 WHERE (SELECT count(*) FROM callbridge.webhook_events e
         WHERE e.platform = a.platform
           AND e.dedupe_key = convert_from(decode(a.key_hex, 'hex'), 'UTF8')) <> 1;
SQL
}
count_2xx() { awk -F'\t' '$3 ~ /^2/' "$TMP/$1.answers" | grep -c . || true; }

# Each bad-input case answers as its .expect says; with PostgreSQL away, a case that
# would be stored is spooled instead.
check_expect() {
	local run=$1 bad=0 name status want stored got
	while IFS=$'\t' read -r n _ kind name; do
		[ "$kind" = bad-input ] || continue
		read -r status want stored <"$ROOT/tests/bad-input/$name.expect"
		[ "$run" = spool ] && [ "$stored" = 1 ] && [ "$status" = 200 ] && want=spooled # an unmappable one: 400 both ways
		got=$(awk -F'\t' -v n="$n" '$1 == n {print $3 " " $4}' "$TMP/$run.answers")
		[ "$got" = "$status $want" ] || { bad=$((bad + 1)); diag "$name: got $got, want $status $want"; }
	done <"$TMP/manifest"
	is "$bad" 0 "$run: every bad-input case answers as its .expect says"
}
# Codes that are neither a 2xx nor a refusal of the body: the database (or the spool)
# failed a delivery that should have been stored.
refusals() {
	awk -F'\t' 'NR == FNR {kind[$1] = $3; next}
		kind[$1] != "bad-input" && ($3 !~ /^[24]/ || $4 == "unstorable") {print $1 " " $3 " " $4}' \
		"$TMP/manifest" "$TMP/$1.answers"
}

# ---- with PostgreSQL up ----
post_all up
is "$(grep -c . "$TMP/up.answers")" "$size" "up: every body answered"
check_expect up
is "$(refusals up | head -n 5)" "" "up: no edge case is refused by the database (no 5xx, no unstorable)"
up_lost=$(without_row up)
is "$up_lost" 0 "up: every 2xx is exactly one row"

# ---- through the spool ----
sql "TRUNCATE callbridge.webhook_events, callbridge.event_keys, callbridge.calls, callbridge.sms_messages, callbridge.contacts CASCADE" >/dev/null
pg_stop
post_all spool
is "$(grep -c . "$TMP/spool.answers")" "$size" "spool: every body answered"
is "$(awk -F'\t' '$3 ~ /^2/ && $4 != "spooled"' "$TMP/spool.answers" | head -n 3)" "" "spool: every 2xx is 'spooled'"
check_expect spool
is "$(refusals spool | head -n 5)" "" "spool: no edge case is refused (no 5xx, no unstorable)"
pg_start
spool_lost=$(count_2xx spool)
for _ in $(seq 1 600); do # until the facts hold (at most a minute)
	spool_lost=$(without_row spool)
	[ "$spool_lost" = 0 ] && metrics | grep -qx 'callbridge_spool_records 0' && break
	sleep 0.1
done
is "$spool_lost" 0 "spool: every 2xx is exactly one row once the spool is drained"
like "$(metrics)" 'callbridge_spool_records 0' "spool: drained"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE error LIKE 'the database refused it%'")" 0 \
	"spool: no delivery needed a dead letter (the checks before the 2xx caught everything)"
is "$(grep -c 'refused a spooled event' "$TMP/daemon.log")" 0 "spool: the database refused no spooled event"
diag "corpus: $size bodies, each posted both ways; 2xx: $(count_2xx up) with the database up, $(count_2xx spool) through the spool; 2xx without a row: $up_lost up, $spool_lost through the spool"

# ---- the last line of defence ----
# A trigger stands in for any refusal the checks could miss: events carrying "poison"
# are refused unless stored raw as failed; those carrying "quarantine" always are.
sql "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.payload ? 'quarantine' OR (NEW.payload ? 'poison' AND NEW.status <> 'failed') THEN
        RAISE EXCEPTION 'refused by the test trigger' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER refuse BEFORE INSERT ON callbridge.webhook_events
    FOR EACH ROW EXECUTE FUNCTION test_refuse()" >/dev/null
for c in dl_ok dl_poison dl_quarantine; do
	sed "s/call_1777920072301_12514/$c/" "$FIX/simz/call_completed.json" >"$TMP/$c.json"
done
sed -i 's/^{/{"poison": true,/' "$TMP/dl_poison.json"
sed -i 's/^{/{"quarantine": true,/' "$TMP/dl_quarantine.json"
pg_stop
for c in dl_ok dl_poison dl_quarantine; do
	post simz "$TMP/$c.json"
	is "$CODE $(json_field status)" "200 spooled" "$c: spooled while the database is away"
done
pg_start
quarantined() { ls "$TMP/spool" | grep -c '^quarantine-' || true; }
for _ in $(seq 1 300); do
	[ "$(quarantined)" = 1 ] && [ "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:dl\\_%'")" = 2 ] && break
	sleep 0.1
done
is "$(sql "SELECT status FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:dl_ok:%'")" mapped "a spooled event beside them is stored as usual"
is "$(sql "SELECT status || ' ' || coalesce(event_type, 'null') FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:dl_poison:%'")" "failed null" \
	"a spooled event the database refuses is stored raw as failed (a dead letter)"
like "$(sql "SELECT error FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:dl_poison:%'")" \
	'^the database refused it when the spool was drained: refused by the test trigger' "with the database's error"
is "$(quarantined)" 1 "an event refused even as a dead letter keeps its segment, in quarantine"
is "$(segments)" 0 "no segment is left to drain"
like "$(cat "$TMP/daemon.log")" 'segment kept in quarantine' "the quarantine is logged"
sql "DROP TRIGGER refuse ON callbridge.webhook_events" >/dev/null
"$BIN" replay --status failed >"$TMP/replay.out" 2>&1
is "$?" 0 "replay of the failed events runs"
is "$(sql "SELECT status FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:dl_poison:%'")" mapped "the dead letter, replayed, is mapped"
is "$(sql "SELECT count(*) FROM callbridge.calls WHERE external_id = 'dl_poison'")" 1 "with its rows"
daemon_stop
q=$(ls "$TMP/spool" | grep -m 1 '^quarantine-')
[ -n "$q" ] && mv "$TMP/spool/$q" "$TMP/spool/spool-${q#quarantine-}"
daemon_start CALLBRIDGE_DB_RECONNECT_MAX_SECONDS=1
for _ in $(seq 1 300); do
	[ "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:dl_quarantine:%'")" = 1 ] && break
	sleep 0.1
done
is "$(sql "SELECT status FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:dl_quarantine:%'")" mapped \
	"a quarantined segment renamed back is drained at the next start"
wait_for -m "the segment renamed back is drained whole and deleted" prints 0 segments
is "$(sql "SELECT delivery_count FROM callbridge.webhook_events WHERE dedupe_key LIKE '%:dl_ok:%'")" 1 \
	"its records stored before come back as duplicates of themselves, not counted again"
done_testing
