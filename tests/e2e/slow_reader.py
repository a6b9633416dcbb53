#!/usr/bin/env python3
"""tests/e2e/slow_reader.py: one HTTPS request to sbxd read by a slow client,
with the HTTP/1.1 framing (chunked or Content-Length) checked strictly.
Standard library only.

Usage: slow_reader.py sse|raw URL CAFILE TOKEN [JSON-BODY | COUNT]
  sse: POSTs JSON with "Accept: text/event-stream"; prints
       "stdout LEN SHA256" of the concatenated stdout event data and
       "last EVENT" (the final event's name).
  raw: GETs URL COUNT times (default 1), pipelined on one connection, so
       each later response starts behind the queued rest of the one before;
       prints "body LEN SHA256" per response.
On a framing error prints "ERROR why" and exits 1.

The client makes the server hit back-pressure often: a small receive
buffer, a pause before reading anything (SLOW_START seconds, default 2), then
reads of SLOW_READ bytes (4096) with a pause of SLOW_PAUSE seconds (0.002)
after every SLOW_EVERY (16) of them.
"""
import hashlib
import json
import os
import socket
import ssl
import sys
import time
import urllib.parse

mode, url, ca, token = sys.argv[1:5]
body = sys.argv[5].encode() if len(sys.argv) > 5 and mode == "sse" else None
count = int(sys.argv[5]) if len(sys.argv) > 5 and mode == "raw" else 1
u = urllib.parse.urlsplit(url)
ctx = ssl.create_default_context(cafile=ca)
raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
raw.settimeout(120)
raw.connect((u.hostname if u.hostname != "localhost" else "127.0.0.1", u.port))
s = ctx.wrap_socket(raw, server_hostname=u.hostname)
path = u.path + ("?" + u.query if u.query else "")
reqs = b""
for i in range(count):
    req = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n" % (
        "POST" if body is not None else "GET", path, u.hostname, u.port, token)
    if body is not None:
        req += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    if mode == "sse":
        req += "Accept: text/event-stream\r\n"
    if i == count - 1:
        req += "Connection: close\r\n"
    reqs += (req + "\r\n").encode() + (body or b"")
s.sendall(reqs)

READ = int(os.environ.get("SLOW_READ", "4096"))
EVERY = int(os.environ.get("SLOW_EVERY", "16"))
PAUSE = float(os.environ.get("SLOW_PAUSE", "0.002"))
time.sleep(float(os.environ.get("SLOW_START", "2")))  # let sbxd's queue fill




class Reader:
    def __init__(self, sock):
        self.s = sock
        self.buf = bytearray()
        self.reads = 0

    def more(self):
        d = self.s.recv(READ)
        if not d:
            raise EOFError("connection closed")
        self.reads += 1
        if self.reads % EVERY == 0:
            time.sleep(PAUSE)
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return ln
            if len(self.buf) > 1024:
                raise ValueError("line too long: %r" % bytes(self.buf[:40]))
            self.more()

    def exact(self, n):
        while len(self.buf) < n:
            self.more()
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d


def die(why):
    print("ERROR", why, flush=True)
    sys.exit(1)


r = Reader(s)


def response():
    status = r.line()
    if b" 200 " not in status + b" ":
        die("status %r" % status)
    headers = {}
    while True:
        ln = r.line()
        if not ln:
            break
        k, _, v = ln.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    payload = bytearray()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            ln = r.line()
            try:
                n = int(ln.split(b";")[0], 16)
            except ValueError:
                die("bad chunk size line %r after %d bytes" % (ln[:40], len(payload)))
            if n == 0:
                if r.line() != b"":
                    die("no CRLF after the last chunk")
                break
            payload += r.exact(n)
            if r.exact(2) != b"\r\n":
                die("chunk of %d not followed by CRLF after %d bytes" % (n, len(payload)))
    elif "content-length" in headers:
        payload = r.exact(int(headers["content-length"]))
    else:
        die("neither chunked nor Content-Length")
    return payload


try:
    payloads = [response() for _ in range(count)]
except (EOFError, ValueError, OSError) as e:
    die("%s" % e)
payload = payloads[-1]

if mode == "raw":
    for p in payloads:
        print("body", len(p), hashlib.sha256(p).hexdigest(), flush=True)
    sys.exit(0)

out = hashlib.sha256()
nout = 0
last = None
event = None
for ln in bytes(payload).split(b"\n"):
    if ln.startswith(b"event: "):
        event = ln[7:].decode()
    elif ln.startswith(b"data: "):
        last = event
        if event == "stdout":
            d = json.loads(ln[6:])["data"].encode("utf-8", "surrogateescape")
            out.update(d)
            nout += len(d)
print("stdout", nout, out.hexdigest(), flush=True)
print("last", last, flush=True)
