#!/usr/bin/env bash
# The docs cannot drift from the settings table: every row `callbridge config` prints is
# in docs/configuration.md's settings table verbatim, every setting is in .env.example
# with its default, and every platform's secret variable is documented. Nor from the
# platform table: the lists of platforms in README.md, docs/http.md and
# docs/configuration.md are those `callbridge platforms` prints (62-platforms.t checks the
# rest of what a platform needs). Nor from the source: every error code the daemon sends
# is in docs/http.md's error table. Nor from themselves: every relative link in README.md
# and docs/*.md leads somewhere, and the README links every page of docs/.
. "$(dirname "$0")/lib.sh"
CONFIG=$ROOT/docs/configuration.md # the settings table, per-platform variables, <SLUG>
HTTPDOC=$ROOT/docs/http.md         # the error table, Slugs:
DOCS=("$ROOT/README.md" "$ROOT"/docs/*.md)

# The settings table: the rows under "## Settings", up to the next heading.
awk '/^## / { on = ($0 == "## Settings"); next } on && /^\|/' "$CONFIG" >"$TMP/settings-rows"
like "$(grep -c . "$TMP/settings-rows")" '^[1-9]' "docs/configuration.md has a settings table"

"$BIN" config >"$TMP/table"
is "$?" 0 "callbridge config prints the table"
while IFS= read -r row; do
	name=$(printf '%s' "$row" | sed -n 's/^| `\([A-Z_]*\)`.*/\1/p')
	if grep -qxF -- "$row" "$TMP/settings-rows"; then pass "the settings table has the row of $name"; else
		fail "the settings table has the row of $name"
		diag "missing row: $row"
	fi
	def=$(printf '%s' "$row" | awk -F' [|] ' '{print $2}' | tr -d '`')
	if [ "$def" = unset ]; then
		like "$(grep -E "^#? ?$name=" "$ROOT/.env.example")" "^#? ?$name=" ".env.example lists $name"
	else
		like "$(grep -E "^#? ?$name=" "$ROOT/.env.example")" "^#? ?$name=$def\$" ".env.example lists $name=$def"
	fi
done <"$TMP/table"
"$BIN" platforms >"$TMP/platforms"
is "$?" 0 "callbridge platforms prints the platform table"
like "$(grep -c . "$TMP/platforms")" '^[1-9]' "the platform table has platforms"
for slug in $(cut -f1 "$TMP/platforms" | tr 'a-z' 'A-Z'); do
	like "$(grep -c "CALLBRIDGE_${slug}_SECRET" "$ROOT/.env.example")" '^[1-9]' ".env.example names CALLBRIDGE_${slug}_SECRET"
done
like "$(grep -c '^| `CALLBRIDGE_<SLUG>_SECRET` |' "$CONFIG")" '^[1-9]' "docs/configuration.md documents the secret pattern"
# The docs name the platforms in three sentences of prose; each must list the table, in
# its order: the names in the README's introduction, the slugs above docs/http.md's error
# table, the upper-case slugs of the variables under docs/configuration.md's settings.
doc_list() { # doc_list FILE PERL-REGEX: the `quoted` words, or the names, it captures
	perl -0777 -ne 'if (/'"$2"'/s) { my $l = $1; $l =~ s/\s+/ /g;
		my @w = $l =~ /`/ ? $l =~ /`([^`]+)`/g : split /, /, $l; print join(",", @w), "\n" }' \
		"$1"
}
is "$(doc_list "$ROOT/README.md" 'telephony platforms \((.*?)\)')" "$(cut -f2 "$TMP/platforms" | paste -sd,)" \
	"README's introduction names every platform"
is "$(doc_list "$HTTPDOC" '\nSlugs: (.*?)\. ')" "$(cut -f1 "$TMP/platforms" | paste -sd,)" \
	"docs/http.md lists every slug"
is "$(doc_list "$CONFIG" '`<SLUG>` is the platform slug in upper case: (.*?)\.\n')" \
	"$(cut -f1 "$TMP/platforms" | tr 'a-z' 'A-Z' | paste -sd,)" "docs/configuration.md lists every <SLUG>"
# No table row in any page names a setting the daemon does not have.
documented=$(cat "${DOCS[@]}" | grep -oE '^\| `[A-Z_]+`' | tr -d '|` ' | grep -E '^(PORT|DATABASE_URL|CALLBRIDGE_)' | sort -u)
known=$(cut -d'`' -f2 "$TMP/table" | sort -u)
is "$(comm -23 <(echo "$documented") <(echo "$known") | tr '\n' ' ')" "" "the docs document no setting the daemon does not have"

# Every error code the daemon can send is in docs/http.md's error table (a row "| <4xx or
# 5xx> | ... `code` ... |"). Codes are found in src/*.c, not listed here, so that a new
# one cannot be forgotten. The pattern, which code that sends an error keeps to: an HTTP
# status 4xx or 5xx written as a number, as an argument or table entry, followed in the
# same statement by the code, a snake_case string literal — the first string literal
# after the status (reply_error(s, req, 405, "method_not_allowed", ...), or a table entry
# {"name", 431, "headers_too_large", ...}); or, when the argument right after the status
# is a call, every literal that function returns (refuse(err, 401,
# verify_result_name(v), ...)), or, when it is a variable, every literal assigned to a
# variable of that name in the file (*code = "unstorable"); and, when the statement has
# no literal but passes on a parameter of the function it is in, every literal that
# function's callers pass in that parameter (unavailable(d, "overloaded", ...) around
# finish(d, 503, OUT_UNAVAILABLE, NULL, code, detail)). "ok", the name of a good
# signature, is never sent.
perl - "$ROOT"/src/*.c >"$TMP/codes" <<'PL'
use strict; use warnings;
my (%codes, %src);
for my $f (@ARGV) { local $/; open my $h, '<', $f or die "$f: $!"; ($src{$f} = <$h>) =~ s{/\*.*?\*/}{}gs }
my $code = qr/[a-z][a-z0-9]*(?:_[a-z0-9]+)*/;
for my $file (@ARGV) {
	my $s = $src{$file};
	my @sites;
	push @sites, [$1, $-[0]] while $s =~ /[({,]\s*[45]\d\d\s*,(?=\s*([^;]*?);)/gs;
	for my $site (@sites) {
		my ($rest, $at) = @$site;
		if ($rest !~ /"/) { # the code comes in a parameter of the enclosing function?
			my ($before, $fn, @params) = (substr($s, 0, $at));
			($fn, @params) = ($1, map { /(\w+)\s*$/ ? $1 : '' } split /,/, $2)
				while $before =~ /^\w[^\n;]*?\b(\w+)\s*\(([^;{)]*)\)\s*\{/mg;
			my %index = map { $params[$_] => $_ } 0 .. $#params;
			my ($k) = map { /^\s*(\w+)\s*\)?\s*$/ && exists $index{$1} ? $index{$1} : () }
				split /,/, $rest;
			if ($fn && defined $k) {
				for my $t (values %src) {
					$codes{$1}++ while $t =~ /\b\Q$fn\E\s*\((?:[^,"();]*,){$k}\s*"($code)"/g;
				}
			}
		}
		if ($rest =~ /^(\w+)\s*\(/) {
			my $fn = $1;
			for my $body (map { /^\w[^\n;]*\b\Q$fn\E\s*\([^;{]*\)\s*\{(.*?)^\}/ms ? $1 : () } values %src) {
				$codes{$_}++ for $body =~ /return\s+"($code)"\s*;/g;
			}
		} elsif ($rest =~ /^([\w.>-]+)\s*,/ && $1 ne 'NULL') {
			(my $var = $1) =~ s/.*(?:\.|->)//;
			$codes{$_}++ for $s =~ /(?<![\w"])\Q$var\E\s*=\s*"($code)"/g;
		}
		$codes{$1}++ if $rest =~ /^[^"]*"($code)"/;
	}
}
delete $codes{ok};
print "$_\n" for sort keys %codes;
PL
like "$(grep -c . "$TMP/codes")" '^[1-9][0-9]+$' "error codes found in the source: $(grep -c . "$TMP/codes")"
grep -E '^\| [45][0-9][0-9] \|' "$HTTPDOC" >"$TMP/error-rows"
like "$(grep -c . "$TMP/error-rows")" '^[1-9]' "docs/http.md has an error table"
missing=
while read -r code; do
	grep -q "\`$code\`" "$TMP/error-rows" || missing="$missing $code"
done <"$TMP/codes"
is "$missing" "" "docs/http.md's error table has every error code the daemon sends"
for code in method_not_allowed token_invalid unstorable overloaded out_of_memory not_ready; do
	grep -qx "$code" "$TMP/codes" && pass "the search finds $code" || fail "the search finds $code"
done

# Every relative link in README.md and docs/*.md, [text](path) or [text](path#anchor),
# leads to a file that exists, relative to the page, and an anchor to a heading of it (as
# GitHub names headings: lower case, punctuation dropped, spaces to hyphens, -1, -2 for
# repeats). Links with a scheme (https:, mailto:) are not followed; code is not read.
perl - "${DOCS[@]}" >"$TMP/links" <<'PL'
use strict; use warnings;
use File::Basename qw(dirname);
sub prose { # a page without its fenced code blocks
	my $f = shift; open my $h, '<', $f or return ''; local $/; my $t = <$h>;
	$t =~ s/^```.*?^```[^\n]*$//msg; $t }
my %anchors;
sub anchors { my $f = shift; $anchors{$f} //= do {
	my (%a, %n);
	for (split /\n/, prose($f)) {
		next unless /^#{1,6}\s+(.*?)\s*#*\s*$/;
		(my $s = lc $1) =~ s/\[([^\]]*)\]\([^)]*\)/$1/g;
		$s =~ s/[^a-z0-9 _-]//g; $s =~ tr/ /-/;
		$a{ $n{$s}++ ? "$s-" . ($n{$s} - 1) : $s } = 1;
	}
	\%a } }
my ($n, @bad) = (0);
for my $page (@ARGV) {
	(my $t = prose($page)) =~ s/`[^`\n]*`//g;
	while ($t =~ /\]\(([^)\s]+)\)/g) {
		my $link = $1;
		next if $link =~ /^[a-z][a-z0-9+.-]*:/i;
		$n++;
		my ($path, $anchor) = $link =~ /^([^#]*)(?:#(.*))?$/;
		my $file = $path eq '' ? $page : dirname($page) . "/$path";
		if (!-e $file) { push @bad, "$page: $link (no such file)"; next }
		push @bad, "$page: $link (no such heading)"
			if defined $anchor && ($file !~ /\.md$/ || !anchors($file)->{$anchor});
	}
}
print "$n\n", map { "$_\n" } @bad;
PL
like "$(head -n 1 "$TMP/links")" '^[1-9][0-9]*$' "relative links found in README.md and docs/*.md: $(head -n 1 "$TMP/links")"
is "$(tail -n +2 "$TMP/links" | sed "s|$ROOT/||")" "" "every relative link leads to a file (and heading) that exists"
# The README is the landing page: it links every page of docs/.
for page in "$ROOT"/docs/*.md; do
	page=docs/${page##*/}
	like "$(grep -cF "]($page" "$ROOT/README.md")" '^[1-9]' "README links $page"
done
done_testing
