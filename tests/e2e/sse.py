#!/usr/bin/env python3
"""tests/e2e/sse.py: POSTs JSON to an SSE endpoint of sbxd and prints one
line per event: "<ms since request> <event> <data>". Standard library only.
Usage: sse.py URL CAFILE TOKEN [JSON-BODY] (GET when no body)."""
import http.client
import ssl
import sys
import time
import urllib.parse

url, ca, token = sys.argv[1], sys.argv[2], sys.argv[3]
body = sys.argv[4] if len(sys.argv) > 4 else None
u = urllib.parse.urlsplit(url)
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
t0 = time.monotonic()
path = u.path + ("?" + u.query if u.query else "")
headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
if body is not None:
    headers["Content-Type"] = "application/json"
conn.request("POST" if body is not None else "GET", path, body=body, headers=headers)
r = conn.getresponse()
print("status", r.status, flush=True)
event = None
while True:
    line = r.readline()
    if not line:
        break
    line = line.decode().rstrip("\n")
    if line.startswith("event: "):
        event = line[7:]
    elif line.startswith("data: "):
        ms = int((time.monotonic() - t0) * 1000)
        print(ms, event, line[6:], flush=True)
