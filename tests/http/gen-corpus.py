#!/usr/bin/env python3
"""gen-corpus — writes tests/http/corpus/*.http and tests/http/corpus.tsv.

The corpus files are the source of truth for the tests (bytes exactly as sent); this
script is how they were made and how to change them: edit a case here, run
`python3 tests/http/gen-corpus.py`, and review the diff of the corpus.

Every case ends with a complete, valid SimZ delivery (the "tail": POST /webhooks/simz,
Connection: close). Every callId in the corpus says what must become of it:
  stored-<case>-...   must be stored (it is a request the server should process)
  smuggle-<case>-...  must never be stored (it hides behind a refused or closing
                      request, or inside another request's body)
The cases assume the daemon runs with CALLBRIDGE_MAX_BODY_BYTES=4096 and no
CALLBRIDGE_SIMZ_SECRET.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIMIT = 4096
CRLF = b"\r\n"

with open(os.path.join(ROOT, "tests/fixtures/simz/call_completed.json"), encoding="utf-8") as f:
    FIXTURE = json.load(f)


def body(cid):
    doc = dict(FIXTURE)
    doc["callId"] = cid
    return json.dumps(doc, separators=(",", ":")).encode()


def padded(cid, size):
    """A SimZ event of exactly size bytes (spaces before the closing brace)."""
    b = body(cid)
    assert len(b) < size
    return b[:-1] + b" " * (size - len(b)) + b"}"


def msg(start, headers, data=b"", eol=CRLF):
    out = start + eol
    for h in headers:
        out += h + eol
    return out + eol + data


def post(cid_or_body, headers=(), start=b"POST /webhooks/simz HTTP/1.1", host=True, cl=True):
    data = body(cid_or_body) if isinstance(cid_or_body, str) else cid_or_body
    hs = [b"Host: cb"] if host else []
    hs.append(b"Content-Type: application/json")
    if cl:
        hs.append(b"Content-Length: %d" % len(data))
    return msg(start, hs + list(headers), data)


def chunked(data, sizes=None, ext=b"", fmt=b"%x", last=b"0\r\n\r\n"):
    """data in chunks of the given sizes (the rest in one last chunk)."""
    out = b""
    pos = 0
    for n in list(sizes or []) + [len(data)]:
        part = data[pos : pos + n]
        if not part:
            break
        out += (fmt % len(part)) + ext + CRLF + part + CRLF
        pos += len(part)
    return out + last


def tail(cid):
    return post(cid, [b"Connection: close"])


CASES = []


def case(name, data, status, error, close, kind, note, tail_ok=None):
    """tail_ok: whether the tail must be stored; by default when close == keep."""
    if tail_ok is None:
        tail_ok = close == "keep"
    cid = ("stored-%s-tail" if tail_ok else "smuggle-%s-tail") % name
    CASES.append((name, data + tail(cid), status, error, close, kind, note))


def refused(name, data, status=400, error="bad_request", kind="hostile", note=""):
    case(name, data, str(status), error, "close", kind, note)


def S(name, part="first"):
    return "smuggle-%s-%s" % (name, part)


def O(name, part="first"):
    return "stored-%s-%s" % (name, part)


def te_post(name, te_lines, data=None, start=b"POST /webhooks/simz HTTP/1.1", extra=()):
    """A POST framed by the given Transfer-Encoding lines, its body chunked."""
    data = chunked(body(S(name))) if data is None else data
    hs = [b"Host: cb", b"Content-Type: application/json"] + list(te_lines) + list(extra)
    return msg(start, hs, data)


def hdr_post(name, lines, cid=None, start=b"POST /webhooks/simz HTTP/1.1", eol=CRLF):
    """A POST with Content-Length and the given extra header lines."""
    data = body(cid or S(name))
    hs = [b"Host: cb", b"Content-Type: application/json", b"Content-Length: %d" % len(data)]
    return msg(start, hs + list(lines), data, eol)


def inner(name):
    """A complete request hidden in another request's body."""
    return post(S(name, "inner"))


# ---------------------------------------------------------------- accepted, well-formed

n = "ok-cl"
case(n, post(O(n)), "200", "stored", "keep", "valid", "plain POST with Content-Length")
n = "ok-chunked"
case(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(O(n)), [100, 200])),
     "200", "stored", "keep", "valid", "chunked body in three chunks")
n = "ok-chunk-bytewise"
case(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(O(n)), [1] * 700)),
     "200", "stored", "keep", "valid", "one-byte chunks")
n = "ok-chunk-ext"
case(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(O(n)), [0x35], b";a=b")),
     "200", "stored", "keep", "valid", "chunk extension 35;a=b ignored")
n = "ok-chunk-ext-quoted"
case(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(O(n)), [0x35], b';name="quoted"')),
     "200", "stored", "keep", "valid", 'chunk extension with a quoted value')
n = "ok-chunk-ext-multi"
case(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(O(n)), [0x80], b';a=b;flag;c="x y"')),
     "200", "stored", "keep", "valid", "several chunk extensions, one without a value")
n = "ok-chunk-upper-hex"
case(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(O(n)), [0xAB, 0xCD], fmt=b"%X")),
     "200", "stored", "keep", "valid", "upper-case hex chunk sizes")
n = "ok-chunk-leading-zero"
case(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(O(n)), [0x40], fmt=b"00%x")),
     "200", "stored", "keep", "valid", "chunk sizes with leading zeros (few digits)")
n = "ok-trailers"
case(n, te_post(n, [b"Transfer-Encoding: chunked"],
                chunked(body(O(n)), last=b"0\r\nX-Trailer: a\r\nX-Checksum: 1234\r\n\r\n")),
     "200", "stored", "keep", "valid", "trailer fields after the last chunk, ignored")
n = "ok-leading-crlf"
case(n, CRLF + post(O(n)), "200", "stored", "keep", "valid", "one empty line before the request line")
n = "ok-leading-crlf2"
case(n, CRLF + CRLF + post(O(n)), "200", "stored", "keep", "valid", "two empty lines before the request line")
n = "ok-expect-100"
case(n, post(O(n), [b"Expect: 100-continue"]), "200", "stored", "keep", "valid",
     "Expect: 100-continue, body sent at once (a 100 may precede the answer)")
n = "ok-http10-keepalive"
case(n, post(O(n), [b"Connection: keep-alive"], start=b"POST /webhooks/simz HTTP/1.0", host=False),
     "200", "stored", "keep", "valid", "HTTP/1.0 with keep-alive and no Host: answered HTTP/1.1, kept open")
n = "ok-http10-close"
case(n, post(O(n), start=b"POST /webhooks/simz HTTP/1.0", host=False),
     "200", "stored", "eof", "valid", "HTTP/1.0 without keep-alive: answered, then closed; the tail is not read")
n = "ok-http11-close"
case(n, post(O(n), [b"Connection: close"]), "200", "stored", "close", "valid",
     "Connection: close: the answer closes, the tail is never read")
n = "ok-header-case"
d = body(O(n))
case(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"host: cb", b"CONTENT-TYPE: application/json",
                                              b"cOnTeNt-LeNgTh: %d" % len(d)], d),
     "200", "stored", "keep", "valid", "header names in any case")
n = "ok-pipeline"
case(n, msg(b"GET /healthz HTTP/1.1", [b"Host: cb"]) + post(O(n)) +
     msg(b"GET /readyz HTTP/1.1", [b"Host: cb"]) + te_post(n, [b"Transfer-Encoding: chunked"],
                                                             chunked(body(O(n, "second")), [64])),
     "200,200,200,200", "ok,stored,ready,stored", "keep", "valid",
     "four pipelined requests, then the tail, all sent at once")
n = "ok-head-healthz"
case(n, msg(b"HEAD /healthz HTTP/1.1", [b"Host: cb"]), "200", "-", "keep", "valid",
     "HEAD /healthz: no body, then the tail is read")
n = "ok-head-readyz"
case(n, msg(b"HEAD /readyz HTTP/1.1", [b"Host: cb"]), "200", "-", "keep", "valid", "HEAD /readyz: no body")
n = "ok-head-webhook"
case(n, msg(b"HEAD /webhooks/simz HTTP/1.1", [b"Host: cb"]), "405", "-", "keep", "valid",
     "HEAD on a webhook route: 405, no body")
n = "ok-put-healthz"
case(n, msg(b"PUT /healthz HTTP/1.1", [b"Host: cb", b"Content-Length: 2"], b"{}"),
     "405", "method_not_allowed", "keep", "valid", "known method, wrong route: 405; its body is read")
n = "ok-get-webhook"
case(n, msg(b"GET /webhooks/simz HTTP/1.1", [b"Host: cb"]), "405", "method_not_allowed", "keep", "valid",
     "GET on a webhook route: 405")
n = "ok-patch-healthz"
case(n, msg(b"PATCH /healthz HTTP/1.1", [b"Host: cb", b"Content-Length: 17"], b'{"op":"replace"} '),
     "405", "method_not_allowed", "keep", "valid", "PATCH with a body on /healthz: 405, body read")
n = "ok-get-unknown"
case(n, msg(b"GET /nope HTTP/1.1", [b"Host: cb"]), "404", "not_found", "keep", "valid", "unknown path: 404")
n = "ok-post-unknown-path"
case(n, post(S(n), start=b"POST /nope HTTP/1.1"), "404", "not_found", "keep", "valid",
     "POST to an unknown path: 404, its body read and not stored")
n = "ok-get-with-body"
inn = inner(n)
case(n, msg(b"GET /healthz HTTP/1.1", [b"Host: cb", b"Content-Length: %d" % len(inn)], inn),
     "200", "ok", "keep", "valid", "GET with a Content-Length body holding a request: the body is skipped, never parsed")
n = "ok-cl-leading-zeros"
d = body(O(n))
case(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: 000%d" % len(d)], d),
     "200", "stored", "keep", "valid", "Content-Length with leading zeros is still 1*DIGIT")
n = "ok-cl-trailing-space"
case(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: %d " % len(body(O(n)))], body(O(n))),
     "200", "stored", "keep", "valid", "Content-Length: 5 (trailing OWS is not part of the value)")
n = "ok-cl-tab-ows"
case(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length:\t%d" % len(body(O(n)))], body(O(n))),
     "200", "stored", "keep", "valid", "HTAB before the Content-Length value (OWS)")
n = "ok-te-uppercase"
case(n, te_post(n, [b"Transfer-Encoding: CHUNKED"], chunked(body(O(n)))), "200", "stored", "keep", "valid",
     "transfer coding names are case-insensitive")
n = "ok-te-tab"
case(n, te_post(n, [b"Transfer-Encoding:\tchunked"], chunked(body(O(n)))), "200", "stored", "keep", "valid",
     "HTAB before the coding is OWS")
n = "ok-empty-chunked"
case(n, te_post(n, [b"Transfer-Encoding: chunked"], b"0\r\n\r\n"), "400", "invalid_json", "keep", "valid",
     "empty chunked body: refused for its content, the connection goes on")
n = "ok-at-limit-cl"
case(n, post(padded(O(n), LIMIT)), "200", "stored", "keep", "valid", "a body of exactly the limit")
n = "ok-at-limit-chunked"
case(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(padded(O(n), LIMIT), [1000, 1000, 1000])),
     "200", "stored", "keep", "valid", "a chunked body of exactly the limit")
n = "ok-100-fields"
case(n, post(O(n), [b"X-Field-%d: %d" % (i, i) for i in range(97)]), "200", "stored", "keep", "valid",
     "exactly 100 header fields")
n = "ok-head-60k"
case(n, post(O(n), [b"X-Pad: " + b"a" * 60000]), "200", "stored", "keep", "valid", "a 60 KB head")
n = "ok-obs-text-value"
case(n, post(O(n), [b"X-Name: caf\xe9 \xc3\xa9t\xc3\xa9"]), "200", "stored", "keep", "valid",
     "obs-text (bytes 0x80-0xFF) in a field value")

# ---------------------------------------------------------------- Content-Length

n = "cl-space-before-colon"
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length : %d" % len(body(S(n)))], body(S(n))),
        note="whitespace between field name and colon")
n = "cl-tab-before-colon"
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length\t: %d" % len(body(S(n)))], body(S(n))),
        note="HTAB between field name and colon")
n = "cl-duplicate-same"
refused(n, hdr_post(n, [b"Content-Length: %d" % len(body(S(n)))]), note="two identical Content-Length headers")
n = "cl-duplicate-diff"
inn = inner(n)
d = body(S(n)) + inn
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: %d" % len(body(S(n))),
                                                 b"Content-Length: %d" % len(d)], d),
        note="CL.CL: two different Content-Length values, the longer hiding a request")
n = "cl-duplicate-case"
refused(n, hdr_post(n, [b"content-length: %d" % len(body(S(n)))]), note="Content-Length and content-length")
n = "cl-list-same"
d = body(S(n))
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: %d, %d" % (len(d), len(d))], d),
        note="Content-Length: 5, 5")
n = "cl-trailing-comma"
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: %d," % len(body(S(n)))], body(S(n))),
        note="Content-Length: 5,")
for n, val, note in [
    ("cl-plus", b"+%d", "Content-Length: +5"),
    ("cl-minus", b"-%d", "Content-Length: -5"),
    ("cl-hex", b"0x%x", "Content-Length: 0x5"),
    ("cl-inner-space", b"1 %d", "digits split by a space"),
    ("cl-vtab", b"\x0b%d", "vertical tab before the value (not OWS)"),
    ("cl-nbsp", b"\xa0%d", "no-break space (0xA0) before the value"),
    ("cl-nul-after", b"%d\x00", "NUL after the digits"),
]:
    refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: " + (val % len(body(S(n))))],
                   body(S(n))), note=note)
n = "cl-trailing-tab"
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: %d\t" % len(body(S(n)))], body(S(n))),
        note="HTAB after the value: OWS to RFC 9110, but llhttp refuses it, so must callbridge")
n = "cl-empty"
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length:"], body(S(n))),
        note="an empty Content-Length")
n = "cl-huge"
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: 99999999999999999999999"], body(S(n))),
        status="400|413", error="bad_request|body_too_large", note="a Content-Length past 64 bits")
n = "cl-over-limit"
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: 5000000"], body(S(n))),
        status=413, error="body_too_large", kind="limit",
        note="declared Content-Length over the limit: refused before the body arrives")
n = "cl-over-limit-by-one"
refused(n, post(padded(S(n), LIMIT + 1)), status=413, error="body_too_large", kind="limit",
        note="a body one byte over the limit, all of it sent")

# ---------------------------------------------------------------- Transfer-Encoding

n = "te-cl"
d = b"0\r\n\r\n" + inner(n)
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: %d" % len(d),
                                                 b"Transfer-Encoding: chunked"], d),
        note="CL.TE: Content-Length covers a request that chunked framing would expose")
n = "te-cl-reversed"
inn = inner(n)
d = b"%x\r\n" % len(inn) + inn + b"\r\n0\r\n\r\n"
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Transfer-Encoding: chunked",
                                                 b"Content-Length: 4"], d),
        note="TE.CL: Transfer-Encoding first, a short Content-Length exposing the chunk data")
for n, lines, status, error, note in [
    ("te-xchunked", [b"Transfer-Encoding: xchunked"], 400, "bad_request", "unknown coding xchunked"),
    ("te-chunked-gzip", [b"Transfer-Encoding: chunked, gzip"], 400, "bad_request", "chunked is not the last coding"),
    ("te-identity", [b"Transfer-Encoding: identity"], 400, "bad_request", "identity (removed from HTTP/1.1)"),
    ("te-chunked-identity", [b"Transfer-Encoding: chunked", b"Transfer-Encoding: identity"], 400, "bad_request",
     "TE.TE: a second Transfer-Encoding header makes identity the last coding"),
    ("te-gzip-chunked", [b"Transfer-Encoding: gzip, chunked"], 501, "not_implemented", "gzip before chunked"),
    ("te-gzip-chunked-two-headers", [b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"], 501,
     "not_implemented", "gzip then chunked, in two header lines"),
    ("te-chunked-chunked", [b"Transfer-Encoding: chunked, chunked"], 400, "bad_request", "chunked applied twice"),
    ("te-chunked-twice", [b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"], 400, "bad_request",
     "Transfer-Encoding: chunked twice"),
    ("te-space-before-colon", [b"Transfer-Encoding : chunked"], 400, "bad_request",
     "whitespace between field name and colon"),
    ("te-obs-fold", [b"Transfer-Encoding:", b" chunked"], 400, "bad_request", "the value on an obs-fold line"),
    ("te-obs-fold-tab", [b"X-Foo: bar", b"\tTransfer-Encoding: chunked"], 400, "bad_request",
     "a tab-folded line that reads as Transfer-Encoding if unfolded wrong"),
    ("te-vtab", [b"Transfer-Encoding:\x0bchunked"], 400, "bad_request", "vertical tab before chunked"),
    ("te-nul", [b"Transfer-Encoding: chunked\x00"], 400, "bad_request", "NUL after chunked"),
    ("te-bare-cr", [b"Transfer-Encoding: chunked\rX-Other: x"], 400, "bad_request", "a bare CR inside the line"),
]:
    refused(n, te_post(n, lines), status=status, error=error, note=note)
n = "te-leading-space-line"
d = chunked(body(S(n)))
refused(n, b"POST /webhooks/simz HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: cb\r\n"
        b"Content-Type: application/json\r\n\r\n" + d, note="the first header line starts with SP")
n = "te-http10"
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], start=b"POST /webhooks/simz HTTP/1.0"),
        note="Transfer-Encoding in an HTTP/1.0 request")
n = "te-underscore-name"
case(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Host: cb", b"Content-Length: 0", b"Transfer_Encoding: chunked"],
            b"0\r\n\r\n"), "400,400", "invalid_json,bad_request", "close", "hostile",
     "Transfer_Encoding is just another field: the empty body is refused, then 0 CRLF is a bad request line")

# ---------------------------------------------------------------- line ends

n = "lf-request-line"
refused(n, b"POST /webhooks/simz HTTP/1.1\n" + hdr_post(n, [])[len(b"POST /webhooks/simz HTTP/1.1\r\n"):],
        note="bare LF after the request line")
n = "lf-header-line"
d = body(S(n))
refused(n, b"POST /webhooks/simz HTTP/1.1\r\nHost: cb\nContent-Length: %d\r\n\r\n" % len(d) + d,
        note="bare LF after a header line")
n = "lf-end-of-head"
d = body(S(n))
refused(n, b"POST /webhooks/simz HTTP/1.1\r\nHost: cb\r\nContent-Length: %d\r\n\n" % len(d) + body(S(n)),
        note="head ended by CRLF LF")
n = "lf-leading-empty-line"
refused(n, b"\n" + hdr_post(n, []), note="a bare LF before the request line")
n = "cr-bare-in-value"
refused(n, hdr_post(n, [b"X-A: a\rb"]), note="a bare CR inside a field value")
n = "cr-line-end"
d = body(S(n))
refused(n, b"POST /webhooks/simz HTTP/1.1\r\nHost: cb\rContent-Length: %d\r\n\r\n" % len(d) + d,
        note="a header line ended by a bare CR")
n = "chunk-lf-size-line"
refused(n, te_post(n, [b"Transfer-Encoding: chunked"],
                   chunked(body(S(n))).replace(b"\r\n", b"\n", 1)), note="a chunk size line ended by LF")
n = "chunk-lf-after-data"
bd = body(S(n))
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], b"%x\r\n" % len(bd) + bd + b"\n0\r\n\r\n"),
        note="chunk data followed by a bare LF")
n = "chunk-lf-last"
bd = body(S(n))
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], b"%x\r\n" % len(bd) + bd + b"\r\n0\n\n"),
        note="last chunk 0 LF LF")
n = "chunk-cr-size-line"
bd = body(S(n))
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], b"%x\r" % len(bd) + bd + b"\r\n0\r\n\r\n"),
        note="a chunk size line ended by a bare CR")
n = "chunk-trailer-lf"
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(S(n)), last=b"0\r\nX-T: y\n\r\n")),
        note="a trailer line ended by a bare LF")
n = "trailer-content-length"
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(S(n)), last=b"0\r\nContent-Length: 999\r\n\r\n")),
        note="Content-Length in the trailer section: llhttp refuses it, so must callbridge")
n = "trailer-transfer-encoding"
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(body(S(n)), last=b"0\r\nTransfer-Encoding: chunked\r\n\r\n")),
        note="Transfer-Encoding in the trailer section: llhttp refuses it, so must callbridge")
n = "chunk-ext-lf"
bd = body(S(n))
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], b"%x;a\nb\r\n" % len(bd) + bd + b"\r\n0\r\n\r\n"),
        note="a bare LF inside a chunk extension")

# ---------------------------------------------------------------- control characters, names

for n, line, note in [
    ("ctl-nul-value", b"X-A: a\x00b", "NUL in a field value"),
    ("ctl-del-value", b"X-A: a\x7fb", "DEL in a field value"),
    ("ctl-nul-name", b"X\x00A: b", "NUL in a field name"),
    ("name-at", b"X@A: b", "@ in a field name"),
    ("name-space-inside", b"X A: b", "a space inside a field name"),
    ("name-empty", b": b", "an empty field name"),
    ("name-no-colon", b"X-No-Colon", "a header line without a colon"),
]:
    refused(n, hdr_post(n, [line]), note=note)
for n, target, note in [
    ("ctl-nul-target", b"/webhooks/simz\x00x", "NUL in the request target"),
    ("ctl-tab-target", b"/web\thooks/simz", "HTAB in the request target"),
]:
    refused(n, hdr_post(n, [], start=b"POST " + target + b" HTTP/1.1"), note=note)

# ---------------------------------------------------------------- request line, version

for n, start, status, error, note in [
    ("rl-two-spaces", b"POST  /webhooks/simz HTTP/1.1", 400, "bad_request", "two spaces after the method"),
    ("rl-missing-target", b"POST HTTP/1.1", 400, "bad_request", "no request target"),
    ("rl-trailing-space", b"POST /webhooks/simz HTTP/1.1 ", 400, "bad_request", "a space after the version"),
    ("rl-tab-separators", b"POST\t/webhooks/simz\tHTTP/1.1", 400, "bad_request", "HTAB as separators"),
    ("rl-space-in-target", b"POST /web hooks/simz HTTP/1.1", 400, "bad_request", "a space inside the target"),
    ("rl-lower-version", b"POST /webhooks/simz http/1.1", "400|505", "bad_request|http_version_not_supported",
     "http/1.1 in lower case"),
    ("rl-version-junk", b"POST /webhooks/simz HTTP/1.1x", "400|505", "bad_request|http_version_not_supported",
     "junk after the version"),
    ("ver-2.0", b"POST /webhooks/simz HTTP/2.0", 505, "http_version_not_supported", "HTTP/2.0 in an HTTP/1 request line"),
    ("ver-3.0", b"POST /webhooks/simz HTTP/3.0", 505, "http_version_not_supported", "HTTP/3.0"),
    ("ver-0.9-explicit", b"GET /healthz HTTP/0.9", 505, "http_version_not_supported", "HTTP/0.9 spelled out"),
]:
    refused(n, hdr_post(n, [], start=start), status=status, error=error, note=note)
n = "ver-h2-preface"
refused(n, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status=505, error="http_version_not_supported",
        note="the HTTP/2 prior-knowledge preface")
n = "ver-0.9"
refused(n, b"GET /\r\n", status=505, error="http_version_not_supported", note="HTTP/0.9: GET / with no version")
n = "ver-1.9"
refused(n, msg(b"GET /healthz HTTP/1.9", [b"Host: cb"]), status="400|505",
        error="bad_request|http_version_not_supported",
        note="HTTP/1.9: llhttp refuses it, so callbridge may not accept it; its answer is still HTTP/1.1")

# ---------------------------------------------------------------- Host, reserved field

n = "host-missing"
d = body(S(n))
refused(n, msg(b"POST /webhooks/simz HTTP/1.1", [b"Content-Length: %d" % len(d)], d), note="HTTP/1.1 without Host")
n = "host-twice"
refused(n, hdr_post(n, [b"Host: evil"]), note="two Host headers")
n = "host-twice-same"
refused(n, hdr_post(n, [b"Host: cb"]), note="two identical Host headers")
n = "reserved-field"
refused(n, hdr_post(n, [b"Callbridge-Refusal: none"]), note="the reserved field Callbridge-Refusal")
n = "reserved-field-lower"
refused(n, hdr_post(n, [b"callbridge-refusal: x"]), note="the reserved field, lower case")

# ---------------------------------------------------------------- methods

for n, start, note in [
    ("m-trace", b"TRACE /healthz HTTP/1.1", "TRACE"),
    ("m-connect", b"CONNECT cb:443 HTTP/1.1", "CONNECT"),
    ("m-foo", b"FOO /webhooks/simz HTTP/1.1", "an unknown method token"),
    ("m-propfind", b"PROPFIND /webhooks/simz HTTP/1.1", "a WebDAV method"),
    ("m-lower-post", b"post /webhooks/simz HTTP/1.1", "methods are case-sensitive: post is unknown"),
]:
    refused(n, hdr_post(n, [], start=start), status=501, error="not_implemented", note=note)

# ---------------------------------------------------------------- chunk sizes and data

for n, data, note in [
    ("chunk-nonhex", b"zz\r\n", "a non-hex chunk size"),
    ("chunk-empty-size", b"\r\n", "an empty chunk size"),
    ("chunk-overflow-16", b"ffffffffffffffff\r\n", "16 hex digits"),
    ("chunk-overflow-17", b"10000000000000000\r\n", "17 hex digits (2^64)"),
    ("chunk-overflow-wrap", b"1000000000000002a\r\n", "a size that wraps to 42 in 64 bits"),
    ("chunk-0x", b"0x2a\r\n", "0x before the size"),
]:
    bd = body(S(n))
    refused(n, te_post(n, [b"Transfer-Encoding: chunked"], data + bd[:42] + b"\r\n0\r\n\r\n"), note=note)
n = "chunk-data-too-long"
bd = body(S(n))
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], b"%x\r\n" % (len(bd) - 10) + bd + b"\r\n0\r\n\r\n"),
        note="more data than the chunk size: no CRLF where it must be")
n = "chunk-data-short"
bd = body(S(n))
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], b"%x\r\n" % (len(bd) + 5) + bd + b"\r\n0\r\n\r\n"),
        note="a chunk size 5 larger than the data: the tail lands where a chunk size must be")
n = "chunk-missing-last"
bd = body(S(n))
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], b"%x\r\n" % len(bd) + bd + b"\r\n"),
        note="no last chunk: the tail's request line is read as a chunk size")
n = "chunk-over-limit"
refused(n, te_post(n, [b"Transfer-Encoding: chunked"], chunked(padded(S(n), LIMIT + 2048), [2048, 2048])),
        status=413, error="body_too_large", kind="limit", note="a chunked body passing the limit")

# ---------------------------------------------------------------- head size, Expect

n = "hdr-over-64k"
refused(n, hdr_post(n, [b"X-Pad: " + b"a" * 70000]), status=431, error="headers_too_large", kind="limit",
        note="a head over 64 KiB")
n = "hdr-101-fields"
refused(n, hdr_post(n, [b"X-Field-%d: %d" % (i, i) for i in range(98)]), status=431, error="headers_too_large",
        kind="limit", note="101 header fields")
n = "expect-unknown"
refused(n, hdr_post(n, [b"Expect: something-else"]), status=417, error="expectation_failed",
        note="an Expect other than 100-continue")


def main():
    cdir = os.path.join(HERE, "corpus")
    os.makedirs(cdir, exist_ok=True)
    for f in os.listdir(cdir):
        if f.endswith(".http"):
            os.unlink(os.path.join(cdir, f))
    names = set()
    with open(os.path.join(HERE, "corpus.tsv"), "w", encoding="utf-8") as m:
        m.write(
            "# The raw-request corpus (tests/http/corpus/<file>), made by tests/http/gen-corpus.py.\n"
            "# Assumes CALLBRIDGE_MAX_BODY_BYTES=4096 and no CALLBRIDGE_SIMZ_SECRET.\n"
            "# Columns (tab-separated):\n"
            "#   file    the case's bytes, sent at once on one connection\n"
            "#   status  the answers' status codes, comma-separated, before the tail's answer\n"
            "#           (\"a|b\": either is right)\n"
            "#   error   each answer's JSON error (or status word for a 2xx), \"-\" for no body\n"
            "#   close   close: the last answer says Connection: close and the server then closes;\n"
            "#           nothing after it is answered or stored\n"
            "#           eof: the server closes after the last answer (Connection header not checked)\n"
            "#           keep: the connection stays open, the tail is answered 200 stored (with\n"
            "#           Connection: close, as it asks) and the server closes\n"
            "#   kind    valid: well-formed HTTP/1.1 (llhttp and callbridge must dispatch as many\n"
            "#           requests); limit: well-formed but over a size limit; hostile: malformed or\n"
            "#           ambiguous framing (callbridge may refuse more than llhttp, never less)\n"
            "#   note    what the case is\n"
            "# Every case ends with a SimZ delivery (the tail). callIds stored-* must be stored,\n"
            "# smuggle-* never.\n"
            "#file\tstatus\terror\tclose\tkind\tnote\n")
        for name, data, status, error, close, kind, note in CASES:
            assert name not in names, name
            names.add(name)
            with open(os.path.join(cdir, name + ".http"), "wb") as f:
                f.write(data)
            m.write("\t".join([name + ".http", status, error, close, kind, note]) + "\n")
    print("%d cases" % len(CASES))


if __name__ == "__main__":
    main()
