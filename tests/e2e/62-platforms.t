#!/usr/bin/env bash
# src/platform.c is the only list of platforms; everything else a platform needs is
# checked against it here (`callbridge platforms`), so that a platform added there and
# not elsewhere fails, with the file it lacks named. Each platform has fixtures with their
# expected rows, fuzz seeds, a row in the README's platform table, an .env.example line
# for its secret and a mapper file; and nothing is kept for a platform the table lacks.
# docs/platforms.md walks through the same files.
. "$(dirname "$0")/lib.sh"

"$BIN" platforms >"$TMP/platforms"
is "$?" 0 "callbridge platforms prints the table"
like "$(grep -c . "$TMP/platforms")" '^[1-9]' "the table has platforms"
is "$(awk -F'\t' 'NF < 3 || NF > 4 || $1 !~ /^[a-z0-9]+$/' "$TMP/platforms")" "" \
	"every line is slug, name, scheme and maybe a header, tab-separated"
is "$(cut -f1 "$TMP/platforms" | sort | uniq -d)" "" "no slug twice"

# --json says the same, read by a parser that owes nothing to ours.
"$BIN" platforms --json | perl -MJSON::PP -e '
	for my $p (@{ decode_json(join "", <STDIN>) }) {
		print join("\t", map { defined $p->{$_} ? $p->{$_} : () }
			   qw(slug name scheme signature_header)), "\n";
	}' >"$TMP/platforms.json.tsv"
is "$(cat "$TMP/platforms.json.tsv")" "$(cat "$TMP/platforms")" "platforms --json says the same"
"$BIN" platforms --bogus 2>/dev/null
is "$?" 1 "platforms refuses an unknown option"

# The fuzz seeds, written as scripts/fuzz.sh writes them (from the table, in its order).
"$BIN" platforms | bash "$ROOT/scripts/fuzz.sh" --seed-intake "$TMP/seeds" 2>"$TMP/seed.err"
rc=$?
is "$rc" 0 "scripts/fuzz.sh seeds fuzz_intake from the table"
[ "$rc" = 0 ] || sed 's/^/#   /' "$TMP/seed.err"

# The README's platform table: the rows between "## Platforms" and the table's end.
awk '/^## Platforms/ { on = 1; next } on && /^\| `/ { print; next } on && /^\|/ { next }
     on && NF { exit }' "$ROOT/README.md" >"$TMP/readme-rows"

i=0
while IFS=$'\t' read -r slug name scheme hdr; do
	upper=$(printf '%s' "$slug" | tr 'a-z' 'A-Z')
	dir=$ROOT/tests/fixtures/$slug

	# fixtures: at least one <name>.json, each with its <name>.rows
	n=0 norows=
	for f in "$dir"/*.json; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		[ -e "${f%.json}.rows" ] || norows="$norows $(basename "$f")"
	done
	like "$n" '^[1-9]' "$slug: fixtures in tests/fixtures/$slug/ ($n)"
	is "$norows" "" "$slug: each fixture has its .rows"

	# fuzz seeds: each fixture behind the byte that picks this platform, its index
	n=0 bad=
	printf "\\$(printf '%03o' $i)" >"$TMP/byte"
	for f in "$dir"/*.json; do
		[ -e "$f" ] || continue
		s=$TMP/seeds/$slug-${f##*/}
		if cat "$TMP/byte" "$f" | cmp -s - "$s"; then
			n=$((n + 1))
		else
			bad="$bad ${s##*/}"
		fi
	done
	like "$n" '^[1-9]' "$slug: fuzz seeds for fuzz_intake ($n, first byte $i)"
	is "$bad" "" "$slug: every fixture is a seed"

	# the README's platform table: slug, name, then the default scheme as
	# CALLBRIDGE_<SLUG>_SIGNATURE spells it
	want="| \`$slug\` | $name | \`$scheme${hdr:+:$hdr}\`"
	row=$(grep -F "| \`$slug\` |" "$TMP/readme-rows")
	if [[ $row == "$want"* ]]; then pass "$slug: README's platform table has its row"; else
		fail "$slug: README's platform table has its row"
		diag "  want a row starting: $want"
		diag "  got: ${row:-no row}"
	fi

	like "$(grep -E "^#? ?CALLBRIDGE_${upper}_SECRET=" "$ROOT/.env.example")" . \
		"$slug: .env.example has CALLBRIDGE_${upper}_SECRET="

	# the mapper: its own file, defining the function the table line names
	if grep -q "^void map_$slug(const struct map_input \*" "$ROOT/src/map_$slug.c" 2>/dev/null; then
		pass "$slug: src/map_$slug.c defines map_$slug"
	else
		fail "$slug: src/map_$slug.c defines map_$slug"
	fi
	i=$((i + 1))
done <"$TMP/platforms"

# Nothing for a platform the table lacks: a renamed or removed platform leaves no
# fixtures, mapper, README row or secret line behind.
slugs=$(cut -f1 "$TMP/platforms" | sort)
others() { comm -13 <(echo "$slugs") <(sort -u) | tr '\n' ' '; }
is "$(ls "$ROOT/tests/fixtures" | others)" "" "every tests/fixtures/ directory is a platform's"
is "$(cd "$ROOT/src" && ls map_*.c | sed 's/^map_//; s/\.c$//' | others)" "" \
	"every src/map_*.c is a platform's"
is "$(sed -n 's/^| `\([^`]*\)` |.*/\1/p' "$TMP/readme-rows" | others)" "" \
	"every row of the README's platform table is a platform's"
is "$(sed -nE 's/^#? ?CALLBRIDGE_([A-Z0-9]+)_SECRET=.*/\1/p' "$ROOT/.env.example" | tr 'A-Z' 'a-z' | others)" "" \
	"every secret in .env.example is a platform's"
done_testing
