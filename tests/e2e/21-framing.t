#!/usr/bin/env bash
# HTTP/1.1 framing: the raw-request corpus (tests/http/corpus, manifest corpus.tsv) sent
# byte for byte on plain sockets, each case followed on its connection by a valid SimZ
# delivery that must never be stored when the case is refused (request smuggling); HEAD,
# keep-alive and 100-continue on live connections; and 413 answers that real clients,
# which send their whole body before reading, can read.
. "$(dirname "$0")/lib.sh"
HTTP=$ROOT/tests/http
CORPUS=$HTTP/corpus
MANIFEST=$HTTP/corpus.tsv
export PYTHONPATH=$HTTP PYTHONDONTWRITEBYTECODE=1
pg_start
migrate
daemon_start CALLBRIDGE_MAX_BODY_BYTES=4096 # what the corpus assumes; no SimZ secret
wait_ready || fail "daemon ready"

# ---- the corpus

listed=$(grep -v '^#' "$MANIFEST" | cut -f1 | LC_ALL=C sort)
present=$(cd "$CORPUS" && ls -- *.http | LC_ALL=C sort)
is "$listed" "$present" "corpus.tsv lists every corpus file, and only those"
cases=$(printf '%s\n' "$listed" | grep -c .)
diag "corpus: $cases cases"
declare -A NOTE
while IFS=$'\t' read -r file _ _ _ _ note; do
	NOTE[${file%.http}]=$note
done < <(grep -v '^#' "$MANIFEST")

# Each summary: one part per answer (HTTP version, code, JSON error or status word,
# json when Content-Type is application/json, close/keep from Connection), then how the
# connection ended (eof: the server closed it). See tests/http/rawsend.py.
python3 "$HTTP/rawsend.py" batch --port "$PORT" "$MANIFEST" "$CORPUS" >"$TMP/corpus.out"
while IFS=$'\t' read -r name got want; do
	like "$got" "$want" "$name: ${NOTE[$name]}"
done <"$TMP/corpus.out"
is "$(grep -c . "$TMP/corpus.out")" "$cases" "every corpus case ran"

# ---- HEAD: same status and headers as GET, no body (the next answer on the connection
# parses only if none was sent)

head_vs_get() {
	python3 - "$PORT" "$1" <<'PY'
import sys, rawsend
port, path = int(sys.argv[1]), sys.argv[2].encode()
data = (b"GET %s HTTP/1.1\r\nHost: cb\r\n\r\n" % path + b"HEAD %s HTTP/1.1\r\nHost: cb\r\n\r\n" % path
        + b"GET /healthz HTTP/1.1\r\nHost: cb\r\nConnection: close\r\n\r\n")
res = rawsend.exchange(port, data, head=(1,))
a = [x for x in res["answers"] if not x.interim]
if len(a) != 3 or res["garbage"] is not None:
    print("answers:", rawsend.summarize(res))
    sys.exit()
get, head, nxt = a
strip = lambda h: [(k, v) for k, v in h if k != "date"]
if path == b"/metrics":  # its body (and so its length) changes from one request to the next
    same = [k for k, _ in strip(get.headers)] == [k for k, _ in strip(head.headers)] and \
        get.header("content-type") == head.header("content-type") and \
        int(head.header("content-length") or 0) > 0
else:
    same = strip(get.headers) == strip(head.headers) and \
        head.header("content-length") == str(len(get.body))
print(get.status, head.status, "same-headers" if same else "headers: GET %r HEAD %r" % (get.headers, head.headers),
      nxt.status, nxt.word, "|", res["end"])
PY
}
is "$(head_vs_get /healthz)" "200 200 same-headers 200 ok | eof" "HEAD /healthz: GET's status and headers (Content-Length included), no body"
is "$(head_vs_get /readyz)" "200 200 same-headers 200 ok | eof" "HEAD /readyz: GET's status and headers, no body"
is "$(head_vs_get /metrics)" "200 200 same-headers 200 ok | eof" "HEAD /metrics: GET's headers, a Content-Length, no body"
got=$(printf 'HEAD /webhooks/simz HTTP/1.1\r\nHost: cb\r\n\r\nGET /healthz HTTP/1.1\r\nHost: cb\r\nConnection: close\r\n\r\n' |
	python3 "$HTTP/rawsend.py" send --port "$PORT" --head 0 --show allow -)
is "$got" "HTTP/1.1 405 - json keep allow=POST ; HTTP/1.1 200 ok json close allow=None | eof" \
	"HEAD on a webhook route: 405, Allow: POST, no body"

# ---- 405 names the allowed methods; a known method on an unknown path is 404

request PUT /healthz -d '{}'
is "$CODE $(json_field error) $(header Allow)" "405 method_not_allowed GET, HEAD" "PUT /healthz: 405, Allow: GET, HEAD"
request DELETE /metrics
is "$CODE $(json_field error) $(header Allow)" "405 method_not_allowed GET, HEAD" "DELETE /metrics: 405, Allow: GET, HEAD"
request GET /webhooks/simz
is "$CODE $(json_field error) $(header Allow)" "405 method_not_allowed POST" "GET /webhooks/simz: 405, Allow: POST"
request PATCH /webhooks/simz -d '{}'
is "$CODE $(header Allow)" "405 POST" "PATCH /webhooks/simz: 405, Allow: POST"
request DELETE /nope
is "$CODE $(json_field error)" "404 not_found" "DELETE on an unknown path: 404"
request GET /metrics
is "$CODE $(header Content-Type | cut -d';' -f1)" "200 text/plain" "GET /metrics: Prometheus text"

# ---- keep-alive, 100-continue, and what follows a refusal on a live connection

out=$(python3 - "$PORT" "$FIX/simz/call_completed.json" <<'PY'
import json, sys, rawsend
port = int(sys.argv[1])
fixture = json.load(open(sys.argv[2]))
def body(cid):
    d = dict(fixture); d["callId"] = cid
    return json.dumps(d).encode()
def post(cid, extra=b"", version=b"HTTP/1.1"):
    b = body(cid)
    return b"POST /webhooks/simz %s\r\nHost: cb\r\nContent-Length: %d\r\n%s\r\n" % (version, len(b), extra) + b
def show(a):
    return "none" if a is None else "%s %d %s %s" % (a.version, a.status, a.word, a.conn)

# one connection, requests sent one after the other's answer
c = rawsend.Conn(port)
c.send(b"GET /healthz HTTP/1.1\r\nHost: cb\r\n\r\n")
r = [show(c.answer()), "open" if not c.closed(0.3) else "closed"]
c.send(post("t21-keepalive-1"))
r.append(show(c.answer()))
c.send(post("t21-keepalive-2"))
r.append(show(c.answer()))
print("keepalive:", " / ".join(r) + (" / open" if not c.closed(0.3) else " / closed"))
c.close()

# HTTP/1.0: kept open only when asked
c = rawsend.Conn(port)
c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
a = c.answer()
print("http10-keepalive:", show(a), "open" if not c.closed(0.3) else "closed")
c.close()
c = rawsend.Conn(port)
c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
a = c.answer()
print("http10:", show(a), "closed" if c.closed(3) else "open")
c.close()

# Expect: 100-continue: 100 first, then the body, then the answer
c = rawsend.Conn(port)
b = body("t21-continue")
c.send(b"POST /webhooks/simz HTTP/1.1\r\nHost: cb\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(b))
first = c.answer(timeout=3)
if first is not None and first.status == 100:
    c.send(b)
    print("continue:", show(first), "/", show(c.answer()))
else:
    print("continue:", show(first))
c.close()

# Expect: 100-continue with a declared body over the limit: 413 at once, never a 100
c = rawsend.Conn(port)
c.send(b"POST /webhooks/simz HTTP/1.1\r\nHost: cb\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n")
a = c.answer(timeout=3)
c.shut()
print("continue-too-large:", show(a), "closed" if c.closed(3) else "open")
c.close()

# a refusal, then a valid delivery sent after its answer: never processed
c = rawsend.Conn(port)
b = body("smuggle-t21-late-1")
c.send(b"POST /webhooks/simz HTTP/1.1\r\nHost: cb\r\nContent-Length : %d\r\n\r\n" % len(b) + b)
a = c.answer()
c.send(post("smuggle-t21-late-2"))
late = c.answer(timeout=1)
c.shut()
print("after-refusal:", show(a), "/", show(late), "/", "closed" if c.closed(3) else "open")
c.close()

# a client that sends 2 MB after a bad head before reading anything still reads the 400
c = rawsend.Conn(port)
err = c.send(b"POST /webhooks/simz HTTP/1.1\r\nHost: cb\r\nTransfer-Encoding: xchunked\r\n\r\n" + b"7\r\nabcdefg\r\n" * 200000)
a = c.answer(timeout=5)
print("refusal-readable:", show(a), "# send:", ("stopped by " + err) if err else "all 2 MB sent")
c.close()
PY
)
diag "the client sending 2 MB after a refused head: $(printf '%s\n' "$out" | sed -n 's/^refusal-readable: .*# send: //p')"
field() { printf '%s\n' "$out" | grep "^$1: " | cut -d' ' -f2- | sed 's/ # send:.*//'; }
is "$(field keepalive)" "HTTP/1.1 200 ok keep / open / HTTP/1.1 200 stored keep / HTTP/1.1 200 stored keep / open" \
	"keep-alive: three requests one after the other on one connection"
like "$(field http10-keepalive)" '^HTTP/1\.1 200 ok keep open$' "HTTP/1.0 with Connection: keep-alive: answered HTTP/1.1, kept open"
like "$(field http10)" '^HTTP/1\.1 200 ok (keep|close) closed$' "HTTP/1.0 without keep-alive: answered HTTP/1.1, then closed"
is "$(field continue)" "HTTP/1.1 100 - keep / HTTP/1.1 200 stored keep" "Expect: 100-continue: 100 Continue, then the answer"
is "$(field continue-too-large)" "HTTP/1.1 413 body_too_large close closed" "Expect: 100-continue over the limit: 413 at once, then closed"
is "$(field after-refusal)" "HTTP/1.1 400 bad_request close / none / closed" "after a refusal, a request sent later on the connection is not answered"
is "$(field refusal-readable)" "HTTP/1.1 400 bad_request close" "a client sending 2 MB after a refused head still reads the 400"
is "$(sql "SELECT count(*) FROM callbridge.webhook_events WHERE payload->>'callId' IN ('t21-keepalive-1', 't21-keepalive-2', 't21-continue')")" 3 \
	"the keep-alive and 100-continue deliveries were stored"

# ---- what was stored

smuggled=$(sql "SELECT coalesce(string_agg(payload->>'callId', ' ' ORDER BY id), '') FROM callbridge.webhook_events WHERE payload->>'callId' LIKE 'smuggle-%'")
is "$smuggled" "" "no smuggled delivery reached callbridge.webhook_events"
want=$(cat "$CORPUS"/*.http | grep -ao '"callId":"stored-[^"]*"' | cut -d'"' -f4 | LC_ALL=C sort -u)
got=$(sql "SELECT payload->>'callId' FROM callbridge.webhook_events WHERE payload->>'callId' LIKE 'stored-%'" | LC_ALL=C sort -u)
is "$(LC_ALL=C comm -23 <(printf '%s\n' "$want") <(printf '%s\n' "$got") | tr '\n' ' ')" "" \
	"every corpus delivery that must be processed was stored: none of the $(printf '%s\n' "$want" | grep -c .) stored-* callIds is missing"

# ---- 413 that real clients read: bodies 3-10x CALLBRIDGE_MAX_BODY_BYTES, sent whole

daemon_stop
daemon_start CALLBRIDGE_MAX_BODY_BYTES=1048576
URL="http://127.0.0.1:$PORT/webhooks/simz"
too_large() { curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^callbridge_http_refused_total{reason="body_too_large"} \([0-9]*\).*/\1/p'; }
before=$(too_large)
MiB=1048576
for c in "http.client $((3 * MiB))" "http.client $((10 * MiB))" "http.client-chunked $((4 * MiB))" "requests $((5 * MiB))" "httpx $((5 * MiB))"; do
	set -- $c
	got=$(timeout 20 python3 "$HTTP/client-post.py" "$1" "$URL" "$2")
	rc=$?
	if [ "$rc" = 2 ]; then
		pass "python $1: 413 readable # skip $1 is not importable"
	else
		is "$got" "413 body_too_large" "python $1, $(($2 / MiB)) MiB body: reads the 413 JSON"
	fi
done
is "$(timeout 20 node "$HTTP/fetch-post.js" "$URL" $((10 * MiB)))" "413 body_too_large" "node fetch (undici), 10 MiB body: reads the 413 JSON"
head -c $((4 * MiB)) /dev/zero | tr '\0' ' ' >"$TMP/big.json"
post simz "$TMP/big.json" -H 'Expect:' --max-time 20
is "$CODE $(json_field error)" "413 body_too_large" "curl without Expect, 4 MiB body: reads the 413 JSON"
post simz "$TMP/big.json" --max-time 20
is "$CODE $(json_field error)" "413 body_too_large" "curl with Expect: 100-continue, 4 MiB body: 413 JSON"
after=$(too_large)
[ "${after:-0}" -gt "${before:-0}" ] && pass "metrics: callbridge_http_refused_total{reason=\"body_too_large\"} grew (${before:-none} -> ${after:-none})" ||
	fail "metrics: callbridge_http_refused_total{reason=\"body_too_large\"} grew (${before:-none} -> ${after:-none})"
request GET /healthz
is "$CODE" 200 "the daemon serves on"

kill -0 "$DAEMON_PID" && pass "daemon still running" || fail "daemon still running"
done_testing
