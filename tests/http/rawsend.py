#!/usr/bin/env python3
"""rawsend — send raw bytes to an HTTP/1.x server on a plain socket, read every answer
until the server closes (or goes quiet), and summarize them.

Used by tests/e2e/21-framing.t and tests/e2e/24-llhttp-diff.t, as a command or a module.

  rawsend.py send  --port P [--head 0,2] [--show content-length,allow] FILE|-
  rawsend.py batch --port P [--jobs 8] [--only NAME] MANIFEST CORPUS_DIR

A summary has one part per final answer, joined by " ; ", then "| <end>":

  HTTP/1.1 400 bad_request json close ; HTTP/1.1 200 stored json close | eof

  version code word ct conn [name=value...]
    word: the body's JSON "error" (else its "status"); "-" for an empty body, "?" when
          the body is not a JSON object
    ct:   "json" when the media type is application/json, else "ct=<value>" or "ct=none"
    conn: "close" when a Connection header holds the token close, else "keep"
  end: eof (the server closed), rst (connection reset), open (still open when the
       client gave up: nothing for --idle seconds, or nothing for --close-wait seconds
       after the client shut its sending side down once an answer said Connection: close)
  Bytes that do not parse as an answer end the list with "garbage=<first bytes>".
  Interim 1xx answers are left out (the JSON form of send keeps them).

An answer to a HEAD request has no body, whatever its Content-Length says: --head lists
which final answers (0-based) answer HEAD requests; in batch mode the first one does when
the case's bytes (after leading CR/LF) start with "HEAD ".

batch reads the corpus manifest (see tests/http/corpus.tsv) and prints, per case,
"<name>\t<summary>\t<regex the summary must match>".
"""
import argparse
import concurrent.futures
import json
import os
import re
import select
import socket
import sys
import time

MAX_HEAD = 256 * 1024


class Answer:
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(lower-case name, value)]
        self.body = body

    @property
    def interim(self):
        return 100 <= self.status < 200

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def values(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    @property
    def word(self):
        if not self.body:
            return "-"
        try:
            doc = json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return "?"
        if not isinstance(doc, dict):
            return "?"
        w = doc.get("error", doc.get("status"))
        return w if isinstance(w, str) and w else "?"

    @property
    def ct(self):
        v = self.header("content-type")
        if v is None:
            return "ct=none"
        if v.split(";")[0].strip().lower() == "application/json":
            return "json"
        return "ct=" + v.replace(" ", "")

    @property
    def conn(self):
        for v in self.values("connection"):
            if "close" in [t.strip().lower() for t in v.split(",")]:
                return "close"
        return "keep"

    def to_json(self):
        return {
            "version": self.version,
            "status": self.status,
            "reason": self.reason,
            "headers": self.headers,
            "body": self.body.decode("latin-1"),
        }


class Parser:
    """Incremental parser of a server's answers (strict: CRLF line ends)."""

    def __init__(self, head=()):
        self.buf = b""
        self.answers = []
        self.finals = 0
        self.head = set(head)
        self.garbage = None

    def feed(self, data):
        self.buf += data
        self._run(False)

    def finish(self):
        self._run(True)
        if self.buf and self.garbage is None:
            self.garbage = self.buf[:40]

    def _bad(self):
        self.garbage = self.buf[:40]
        return None

    def _run(self, eof):
        while self.garbage is None and self.buf:
            a = self._one(eof)
            if a is None:
                return
            self.answers.append(a)
            if not a.interim:
                self.finals += 1

    def _one(self, eof):
        buf = self.buf
        if not b"HTTP/".startswith(buf[:5]):
            return self._bad()
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return self._bad() if eof or len(buf) > MAX_HEAD else None
        lines = buf[:end].decode("latin-1").split("\r\n")
        m = re.fullmatch(r"(HTTP/\d\.\d) (\d{3})(?: (.*))?", lines[0])
        if not m:
            return self._bad()
        headers = []
        for line in lines[1:]:
            hm = re.fullmatch(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*", line)
            if not hm:
                return self._bad()
            headers.append((hm.group(1).lower(), hm.group(2)))
        status = int(m.group(2))
        a = Answer(m.group(1), status, m.group(3) or "", headers, b"")
        pos = end + 4
        if a.interim or status in (204, 304) or self.finals in self.head:
            body = b""
        elif "chunked" in (a.header("transfer-encoding") or "").lower():
            body, pos = self._chunked(pos, eof)
            if body is None:
                return None
        elif a.header("content-length") is not None:
            try:
                n = int(a.header("content-length"))
            except ValueError:
                return self._bad()
            if len(buf) - pos < n:
                return self._bad() if eof else None
            body = buf[pos : pos + n]
            pos += n
        else:  # read until close
            if not eof:
                return None
            body = buf[pos:]
            pos = len(buf)
        a.body = body
        self.buf = buf[pos:]
        return a

    def _chunked(self, pos, eof):
        buf = self.buf
        body = b""
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                return (self._bad() if eof else None), pos
            try:
                n = int(buf[pos:nl].split(b";")[0], 16)
            except ValueError:
                return self._bad(), pos
            pos = nl + 2
            if n == 0:
                end = buf.find(b"\r\n\r\n", pos - 2)
                if end < 0:
                    return (self._bad() if eof else None), pos
                return body, end + 4
            if len(buf) < pos + n + 2:
                return (self._bad() if eof else None), pos
            body += buf[pos : pos + n]
            pos += n + 2


def exchange(port, data, host="127.0.0.1", head=(), idle=3.0, close_wait=3.0, total=20.0,
             source=None):
    """Sends data (all of it, as fast as the server reads), reads answers meanwhile.
    Once a final answer says Connection: close, stops sending and shuts its sending side
    down, then waits for the server to close. Returns a dict: answers, end, garbage,
    sent, send_error."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if source:
        s.bind((source, 0))
    s.settimeout(5)
    s.connect((host, port))
    s.setblocking(False)
    p = Parser(head)
    view = memoryview(data)
    sent = 0
    send_error = None
    shut_at = None
    end = None
    start = last = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            limit = (shut_at + close_wait) if shut_at is not None else (last + idle)
            limit = min(limit, start + total)
            if now >= limit:
                end = "open"
                break
            sending = sent < len(data) and send_error is None and shut_at is None
            r, w, _ = select.select([s], [s] if sending else [], [], limit - now)
            if w:
                try:
                    sent += s.send(view[sent : sent + 65536])
                    last = time.monotonic()
                except BlockingIOError:
                    pass
                except OSError as e:
                    send_error = type(e).__name__
            if r:
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    end = "rst"
                    break
                if not chunk:
                    end = "eof"
                    break
                last = time.monotonic()
                p.feed(chunk)
                if shut_at is None and any(a.conn == "close" for a in p.answers if not a.interim):
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    shut_at = time.monotonic()
    finally:
        s.close()
    if end == "eof":
        p.finish()
    return {"answers": p.answers, "end": end, "garbage": p.garbage, "sent": sent,
            "send_error": send_error}


class Conn:
    """One connection driven step by step: send, then wait for one answer at a time."""

    def __init__(self, port, host="127.0.0.1"):
        self.s = socket.create_connection((host, port), timeout=5)
        self.p = Parser()
        self.taken = 0
        self.eof = False

    def send(self, data):
        """Sends all of data; returns None, or the name of the error that stopped it."""
        try:
            self.s.sendall(data)
            return None
        except OSError as e:
            return type(e).__name__

    def _recv(self, timeout):
        self.s.settimeout(max(timeout, 0.001))
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            self.p.finish()
            return False
        self.p.feed(chunk)
        return True

    def answer(self, head=False, timeout=3.0):
        """The next answer (1xx included), or None if none came within timeout."""
        if head:
            self.p.head.add(self.p.finals)
        deadline = time.monotonic() + timeout
        while len(self.p.answers) <= self.taken and not self.eof and self.p.garbage is None:
            if not self._recv(deadline - time.monotonic()) and time.monotonic() >= deadline:
                break
        if len(self.p.answers) <= self.taken:
            return None
        self.taken += 1
        return self.p.answers[self.taken - 1]

    def closed(self, timeout):
        """Whether the server closes the connection within timeout (False if it sends
        anything or stays open)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._recv(left):
                return False
        return True

    def shut(self):
        try:
            self.s.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.s.close()


def summarize(res, show=(), interim=False):
    parts = []
    for a in res["answers"]:
        if a.interim and not interim:
            continue
        tok = [a.version, str(a.status), a.word, a.ct, a.conn]
        for h in show:
            tok.append("%s=%s" % (h, a.header(h)))
        parts.append(" ".join(tok))
    if res["garbage"] is not None:
        parts.append("garbage=%r" % res["garbage"])
    return (" ; ".join(parts) or "no-answer") + " | " + res["end"]


def starts_with_head(data):
    return data.lstrip(b"\r\n").startswith(b"HEAD ")


# ---- the corpus manifest ----


def read_manifest(path):
    """Rows of tests/http/corpus.tsv as dicts: file, name, status, error, close, kind,
    note."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) < 5:
                raise SystemExit("%s: bad line: %r" % (path, line))
            file, status, error, close, kind = cols[:5]
            rows.append({"file": file, "name": file[: -len(".http")], "status": status,
                         "error": error, "close": close, "kind": kind,
                         "note": cols[5] if len(cols) > 5 else ""})
    return rows


def _alt(x):
    return "(%s)" % x if "|" in x else x


def want_regex(row):
    """The regex a case's summary must match (see corpus.tsv's header)."""
    statuses = row["status"].split(",")
    words = row["error"].split(",")
    if len(statuses) != len(words):
        raise SystemExit("%s: status and error lists differ in length" % row["file"])
    parts = []
    for i, (st, w) in enumerate(zip(statuses, words)):
        last = i == len(statuses) - 1
        if row["close"] == "keep" or not last:
            conn = "keep"
        elif row["close"] == "close":
            conn = "close"
        elif row["close"] == "eof":
            conn = "(close|keep)"
        else:
            raise SystemExit("%s: close is keep, close or eof" % row["file"])
        parts.append(r"HTTP/1\.1 %s %s json %s" % (_alt(st), _alt(re.sub(r"\.", r"\\.", w)), conn))
    if row["close"] == "keep":
        parts.append(r"HTTP/1\.1 200 stored json close")
    return "^" + " ; ".join(parts) + r" \| eof$"


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("send", "batch"):
        sp = sub.add_parser(name)
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--idle", type=float, default=3.0)
        sp.add_argument("--close-wait", type=float, default=3.0)
    sp = sub.choices["send"]
    sp.add_argument("--head", default="")
    sp.add_argument("--show", default="")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("file")
    sp = sub.choices["batch"]
    sp.add_argument("--jobs", type=int, default=8)
    sp.add_argument("--only", action="append", default=[])
    sp.add_argument("manifest")
    sp.add_argument("corpus")
    args = ap.parse_args()

    if args.cmd == "send":
        data = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
        head = [int(x) for x in args.head.split(",") if x]
        res = exchange(args.port, data, host=args.host, head=head, idle=args.idle,
                       close_wait=args.close_wait)
        if args.json:
            print(json.dumps({"answers": [a.to_json() for a in res["answers"]],
                              "end": res["end"], "garbage": None if res["garbage"] is None
                              else res["garbage"].decode("latin-1"),
                              "sent": res["sent"], "send_error": res["send_error"]}))
        else:
            print(summarize(res, [h for h in args.show.split(",") if h]))
        return

    rows = read_manifest(args.manifest)
    if args.only:
        rows = [r for r in rows if r["name"] in args.only]

    def run(row):
        data = open(os.path.join(args.corpus, row["file"]), "rb").read()
        res = exchange(args.port, data, host=args.host,
                       head=(0,) if starts_with_head(data) else (), idle=args.idle,
                       close_wait=args.close_wait)
        return summarize(res)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        for row, got in zip(rows, ex.map(run, rows)):
            print("%s\t%s\t%s" % (row["name"], got, want_regex(row)), flush=True)


if __name__ == "__main__":
    main()
