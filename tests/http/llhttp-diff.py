#!/usr/bin/env python3
"""llhttp-diff — sends every corpus case to Node's HTTP server (llhttp, strict; started
here from tests/http/llhttp-server.js) and to callbridge, and prints per case how many
requests each dispatched:

  <name>\t<kind>\t<callbridge>\t<node>\t<node's clientError or ->\t<callbridge's summary>

node: requests llhttp parsed to their end and handed to the application (from the
server's own per-connection record). callbridge: its final answers that are not framing
refusals (JSON errors bad_request, headers_too_large, not_implemented,
http_version_not_supported, body_too_large, expectation_failed, and any error answer
that is not JSON at all, such as a library's own error page).

  llhttp-diff.py --port CALLBRIDGE_PORT [--jobs 8] [--only NAME] MANIFEST CORPUS_DIR

Each connection to node comes from its own loopback address (127.1.x.y), so its record
is found by address.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawsend  # noqa: E402

FRAMING = {"bad_request", "headers_too_large", "not_implemented", "http_version_not_supported",
           "body_too_large", "expectation_failed"}


def dispatched(res):
    n = 0
    for a in res["answers"]:
        if a.interim or a.word in FRAMING or (a.status >= 400 and a.word == "?"):
            continue
        n += 1
    return n


class Node:
    def __init__(self, script):
        self.proc = subprocess.Popen(["node", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        first = self.proc.stdout.readline()
        if not first:
            raise SystemExit("llhttp-server.js did not start")
        self.port = json.loads(first)["listening"]
        self.records = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            rec = json.loads(line)
            with self.cond:
                self.records[rec["addr"]] = rec
                self.cond.notify_all()

    def record(self, addr, timeout=5.0):
        with self.cond:
            self.cond.wait_for(lambda: addr in self.records, timeout)
            return self.records.pop(addr, None)

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--idle", type=float, default=3.0)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("manifest")
    ap.add_argument("corpus")
    args = ap.parse_args()

    rows = rawsend.read_manifest(args.manifest)
    if args.only:
        rows = [r for r in rows if r["name"] in args.only]
    node = Node(os.path.join(os.path.dirname(os.path.abspath(__file__)), "llhttp-server.js"))

    def run(item):
        i, row = item
        data = open(os.path.join(args.corpus, row["file"]), "rb").read()
        head = (0,) if rawsend.starts_with_head(data) else ()
        src = "127.1.%d.%d" % (i // 250, i % 250 + 1)
        rawsend.exchange(node.port, data, head=head, idle=args.idle, source=src)
        rec = node.record(src)
        cb = rawsend.exchange(args.port, data, head=head, idle=args.idle)
        if rec is None:
            return (row, dispatched(cb), "?", "no-record", rawsend.summarize(cb))
        return (row, dispatched(cb), rec["complete"], rec["error"] or "-", rawsend.summarize(cb))

    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            for row, cb, nd, err, summary in ex.map(run, enumerate(rows)):
                print("\t".join([row["name"], row["kind"], str(cb), str(nd), err, summary]), flush=True)
    finally:
        node.stop()


if __name__ == "__main__":
    main()
