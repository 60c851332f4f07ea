#!/usr/bin/env python3
"""client-post — POSTs a large JSON body with a real Python HTTP client, the way senders
do it (no Expect: 100-continue: the whole body is sent before the answer is read), and
prints "<status> <JSON error or status>" or "ERR <exception>: <message>".

  client-post.py http.client|http.client-chunked|requests|httpx URL SIZE

Exit status 2 when the client library is not importable (the test skips it).
"""
import json
import sys
from urllib.parse import urlsplit

client, url, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = b'{"pad":"' + b"x" * max(0, size - 10) + b'"}'
headers = {"Content-Type": "application/json"}


def word(raw):
    try:
        doc = json.loads(raw)
        return doc.get("error") or doc.get("status") or "?"
    except (ValueError, AttributeError):
        return "?"


try:
    if client.startswith("http.client"):
        import http.client
        u = urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        if client == "http.client-chunked":
            blocks = (body[i : i + 65536] for i in range(0, len(body), 65536))
            conn.request("POST", u.path, body=blocks, headers=headers, encode_chunked=True)
        else:
            conn.request("POST", u.path, body=body, headers=headers)
        r = conn.getresponse()
        print(r.status, word(r.read()))
    elif client == "requests":
        try:
            import requests
        except ImportError:
            sys.exit(2)
        r = requests.post(url, data=body, headers=headers, timeout=30)
        print(r.status_code, word(r.content))
    elif client == "httpx":
        try:
            import httpx
        except ImportError:
            sys.exit(2)
        r = httpx.post(url, content=body, headers=headers, timeout=30)
        print(r.status_code, word(r.content))
    else:
        sys.exit("unknown client " + client)
except Exception as e:  # the test shows what the client saw
    print("ERR %s: %s" % (type(e).__name__, str(e).replace("\n", " ")[:200]))
