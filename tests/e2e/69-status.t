#!/usr/bin/env bash
# The admin listener and the status page: with CALLBRIDGE_ADMIN_LISTEN the public port
# serves /healthz only, the admin port /healthz, /readyz, /metrics and /status; the page,
# as a real browser (headless Chromium) renders it, shows the traffic that was sent,
# the database going away and coming back, and the spool filling and draining; a
# screenshot of it is made (and, with CB_UPDATE_SCREENSHOT=1, kept as docs/status.png).
. "$(dirname "$0")/lib.sh"
CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
	echo "1..0 # skip chromium is not installed (scripts/deps.sh test installs it)"
	exit 0
fi

# ---- the page -------------------------------------------------------------------------
# The flags keep Chromium from reaching anything but the page (no updates, sync, QUIC)
# and let it run as root in a container.
CHROME_FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync)

# browser ARGS...: Chromium with a fresh profile; 60 s at most, for it starts slowly on
# a busy machine.
browser() {
	local dir
	dir=$(mktemp -d "$TMP/chrome.XXXXXX")
	timeout 60 "$CHROMIUM" "${CHROME_FLAGS[@]}" --user-data-dir="$dir" "$@" 2>>"$TMP/chromium.log"
}

# page_ids: reads an HTML page on stdin and prints "<id><TAB><text>" for each element
# with an id (its text, spaces squeezed), and "<id>@<attr><TAB><value>" for its data-*
# attributes.
page_ids() {
	python3 -c '
import sys
from html.parser import HTMLParser
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
class Page(HTMLParser):
	def __init__(self):
		super().__init__()
		self.open, self.text, self.attrs = [], {}, []
	def handle_starttag(self, tag, attrs):
		a = dict(attrs)
		if "id" in a:
			self.text.setdefault(a["id"], [])
			self.attrs += [(a["id"] + "@" + k, v) for k, v in attrs if k.startswith("data-")]
		if tag not in VOID:
			self.open.append((tag, a.get("id")))
	def handle_endtag(self, tag):
		for i in range(len(self.open) - 1, -1, -1):
			if self.open[i][0] == tag:
				del self.open[i:]
				break
	def handle_data(self, data):
		for _, i in self.open:
			if i is not None:
				self.text[i].append(data)
p = Page()
p.feed(sys.stdin.read())
for i, t in p.text.items():
	print(i + "\t" + " ".join("".join(t).split()))
for k, v in p.attrs:
	print(k + "\t" + (v or ""))
'
}

# served: the page as the admin port serves it, its ids in $TMP/page.ids.
served() { curl -s --max-time 10 "$ADMIN_URL/status" | page_ids >"$TMP/page.ids"; }
# rendered: the page's DOM after Chromium loaded it, its ids in $TMP/page.ids.
rendered() {
	rm -f "$TMP/page.ids"
	browser --dump-dom "$ADMIN_URL/status" >"$TMP/dom.html" && page_ids <"$TMP/dom.html" >"$TMP/page.ids"
}
# shows ID: what the last page read holds under ID.
shows() { awk -F'\t' -v k="$1" '$1 == k {print $2}' "$TMP/page.ids" 2>/dev/null; }
# on_page ID: reads the served page again, then shows ID (for wait_for).
on_page() { served && shows "$1"; }

# admin_request PATH: GET on the admin listener; sets CODE and BODY.
admin_request() {
	CODE=$(curl -s --max-time 10 -o "$TMP/resp" -D "$TMP/resp.headers" -w '%{http_code}' "$ADMIN_URL$1")
	BODY=$(cat "$TMP/resp")
}

# png_size FILE: "<width>x<height>" of a PNG (from its IHDR chunk); "not a PNG" otherwise.
png_size() {
	python3 -c '
import struct, sys
b = open(sys.argv[1], "rb").read(24)
if b[:8] != b"\x89PNG\r\n\x1a\n" or b[12:16] != b"IHDR":
	print("not a PNG")
else:
	print("%dx%d" % struct.unpack(">II", b[16:24]))
' "$1"
}

# ---- traffic --------------------------------------------------------------------------
pg_start
migrate
ADMIN_PORT=$(free_port)
ADMIN_URL=http://127.0.0.1:$ADMIN_PORT
# Atoms has a secret, so that refused signatures can be sent to it; SimZ has none.
daemon_start CALLBRIDGE_ADMIN_LISTEN="127.0.0.1:$ADMIN_PORT" CALLBRIDGE_ATOMS_SECRET=atoms-key
wait_for -m "the admin port answers /readyz 200" prints 200 \
	curl -s -o /dev/null -w '%{http_code}' "$ADMIN_URL/readyz"

simz_calls st 7
codes=
for i in 1 2 3 4 5 6 7; do
	post simz "$TMP/st_$i.json"
	codes+="$CODE $(json_field status),"
done
is "$codes" "$(printf '200 stored,%.0s' 1 2 3 4 5 6 7)" "7 SimZ deliveries stored"
post simz "$TMP/st_1.json"
dup="$CODE $(json_field status)"
post simz "$TMP/st_2.json"
is "$dup, $CODE $(json_field status)" "200 duplicate, 200 duplicate" "2 of them again: duplicates"
printf '{"event":' >"$TMP/truncated.json"
post simz "$TMP/truncated.json"
is "$CODE $(json_field error)" "400 invalid_json" "a truncated body: 400 invalid_json"
printf '{"event":"call.end","call_id":"sig-1","agent_id":"a","timestamp":"2026-05-19T15:02:14Z"}' >"$TMP/atoms.json"
codes=
for _ in 1 2 3; do
	post atoms "$TMP/atoms.json" -H "X-Signature: $(printf '0%.0s' {1..64})"
	codes+="$CODE $(json_field error),"
done
is "$codes" "$(printf '401 signature_invalid,%.0s' 1 2 3)" "3 wrong Atoms signatures: 401"

# ---- who serves what ------------------------------------------------------------------
for path in /metrics /readyz /status; do
	request GET "$path"
	is "$CODE $(json_field error)" "404 not_found" "public port: $path is 404 (JSON)"
done
request GET /healthz
is "$CODE" 200 "public port: /healthz is 200"
for path in /healthz /readyz /metrics /status; do
	admin_request "$path"
	is "$CODE" 200 "admin port: $path is 200"
done
like "$(header Content-Type)" '^text/html' "admin port: /status is HTML"
like "$BODY" '<meta http-equiv="refresh" content="[0-9]+">' "the page refreshes itself"
if [[ $BODY == *"<script"* ]]; then fail "the page has no script"; else pass "the page has no script"; fi
admin_request /metrics
like "$BODY" 'callbridge_deliveries_total\{platform="simz",outcome="stored"\} 7' "admin port: /metrics counts the traffic"

# ---- the page, rendered ---------------------------------------------------------------
# The change feed's version is read by a thread of the daemon's: re-read the page until
# it has caught up with the sequence, then render it in the browser.
version=$(sql "SELECT last_value FROM callbridge.sync_version_seq")
wait_for -t 30 -m "the page reads the change feed's version ($version)" prints "$version" on_page feed-version
if rendered; then pass "Chromium renders /status"; else fail "Chromium renders /status (see chromium.log)"; fi
got=
for id in simz-stored simz-duplicate simz-unmapped simz-spooled simz-failures atoms-signature \
	atoms-stored chart-simz@data-hour-total chart-atoms@data-hour-total db-state spool-records \
	spool-drained feed-version; do
	got+="$id=$(shows "$id") "
done
is "$got" "simz-stored=7 simz-duplicate=2 simz-unmapped=0 simz-spooled=0 simz-failures=1 atoms-signature=3 atoms-stored=0 chart-simz@data-hour-total=10 chart-atoms@data-hour-total=3 db-state=up spool-records=0 spool-drained=0 feed-version=$version " \
	"the rendered page shows the traffic"
like "$(shows simz-error)" '^invalid_json: ' "the last SimZ error names the 400's code"
like "$(shows atoms-error)" '^signature_invalid: ' "the last Atoms error names the refusal"
like "$(shows simz-last)" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "the last SimZ delivery's time"
like "$(shows simz-age)" '^[0-9]+ s$' "its age in seconds"
is "$(shows replicer-last) $(shows replicer-age)" "never -" "a platform without traffic: never"
like "$(shows db-commit)" '^mean [0-9.]+ ms' "commit times shown"

browser --screenshot="$TMP/status.png" --window-size=1200,900 "$ADMIN_URL/status" >/dev/null
bytes=$(stat -c %s "$TMP/status.png" 2>/dev/null || echo 0)
is "$(png_size "$TMP/status.png") $((bytes > 10240))" "1200x900 1" "a 1200x900 screenshot of more than 10 kB ($bytes bytes)"
if [ "${CB_UPDATE_SCREENSHOT:-}" = 1 ] && [ "$bytes" -gt 10240 ]; then
	cp "$TMP/status.png" "$ROOT/docs/status.png"
	diag "docs/status.png updated"
fi

# ---- the database away ----------------------------------------------------------------
pg_stop
wait_for -m "the page says the database is down" prints down on_page db-state
post simz "$FIX/simz/call_audit_completed.json"
is "$CODE $(json_field status)" "200 spooled" "a delivery meanwhile: spooled"
wait_for -m "the page counts the spooled record" prints 1 on_page spool-records
rendered
is "$(shows db-state) $(shows spool-records) $(shows simz-spooled) $(shows chart-simz@data-hour-total)" \
	"down 1 1 11" "rendered: database down, 1 record spooled, counted for SimZ"
like "$(shows db-down)" '^[0-9]+ s$' "rendered: how long the database has been down"
like "$(shows spool-backlog)" '^[0-9]+ s$' "rendered: how long the spool has not been empty"
pg_start
eventually -t 30 "database back: the spool drains (spool-records 0)" prints 0 on_page spool-records
is "$(shows db-state) $(shows spool-drained) $(shows spool-backlog)" "up 1 -" "the page says up, 1 record drained, no backlog"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events")" 8 "the drained delivery is in the database"

# ---- without an admin listener ----------------------------------------------------------
daemon_stop
daemon_start
request GET /status
is "$CODE $(json_field error)" "404 not_found" "no admin listener: /status is served nowhere"
request GET /metrics
is "$CODE" 200 "no admin listener: /metrics on the public port"
request GET /readyz
is "$CODE" 200 "no admin listener: /readyz on the public port"

# ---- bad settings ---------------------------------------------------------------------
CALLBRIDGE_ADMIN_LISTEN=nonsense PORT=$(free_port) timeout 30 "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" "^1 callbridge: CALLBRIDGE_ADMIN_LISTEN: expected HOST:PORT .*got 'nonsense'" "CALLBRIDGE_ADMIN_LISTEN=nonsense: start-up fails, naming it"
taken=$PORT # the running daemon's port
CALLBRIDGE_ADMIN_LISTEN="127.0.0.1:$taken" PORT=$(free_port) CALLBRIDGE_SPOOL_DIR="$TMP/spool2" \
	timeout 30 "$BIN" serve >"$TMP/out" 2>&1
like "$? $(cat "$TMP/out")" '^1 .*cannot listen on 127\.0\.0\.1:[0-9]+ \(CALLBRIDGE_ADMIN_LISTEN\)' "an admin port already taken: start-up fails, naming it"
done_testing
