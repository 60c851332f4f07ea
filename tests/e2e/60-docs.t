#!/usr/bin/env bash
# The docs cannot drift from the settings table: every row `callbridge config` prints is
# in README.md verbatim, every setting is in .env.example with its default, and every
# platform's secret variable is documented.
. "$(dirname "$0")/lib.sh"

"$BIN" config >"$TMP/table"
is "$?" 0 "callbridge config prints the table"
while IFS= read -r row; do
	name=$(printf '%s' "$row" | sed -n 's/^| `\([A-Z_]*\)`.*/\1/p')
	if grep -qxF -- "$row" "$ROOT/README.md"; then pass "README has the row of $name"; else
		fail "README has the row of $name"
		diag "missing row: $row"
	fi
	def=$(printf '%s' "$row" | awk -F' [|] ' '{print $2}' | tr -d '`')
	if [ "$def" = unset ]; then
		like "$(grep -E "^#? ?$name=" "$ROOT/.env.example")" "^#? ?$name=" ".env.example lists $name"
	else
		like "$(grep -E "^#? ?$name=" "$ROOT/.env.example")" "^#? ?$name=$def\$" ".env.example lists $name=$def"
	fi
done <"$TMP/table"
for slug in SIMZ SIMPLEAI ATOMS REPLICER ALLO; do
	like "$(grep -c "CALLBRIDGE_${slug}_SECRET" "$ROOT/.env.example")" '^[1-9]' ".env.example names CALLBRIDGE_${slug}_SECRET"
done
like "$(grep -c 'CALLBRIDGE_<SLUG>_SECRET' "$ROOT/README.md")" '^[1-9]' "README documents the secret pattern"
documented=$(grep -oE '^\| `[A-Z_]+`' "$ROOT/README.md" | tr -d '|` ' | grep -E '^(PORT|DATABASE_URL|CALLBRIDGE_)' | sort -u)
known=$(cut -d'`' -f2 "$TMP/table" | sort -u)
is "$(comm -23 <(echo "$documented") <(echo "$known") | tr '\n' ' ')" "" "README documents no setting the daemon does not have"
done_testing
