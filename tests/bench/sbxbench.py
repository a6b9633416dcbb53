#!/usr/bin/env python3
"""tests/bench/sbxbench.py: client side of the API benchmarks (stdlib only).

Every mode writes one sample per line to its output file(s), for bench_emit.

  exec-pair URL CA TOKEN BOX SOCK N CMD API_OUT RAW_OUT [--vsock]
      warm exec of CMD, alternating: over the API (one keep-alive HTTPS
      connection) and over the raw guest protocol (one Unix-socket connection
      per exec, as sbxd does; --vsock: the VMM's socket, CONNECT 1024 first).
      Samples in ms.
  raw-exec SOCK N CMD OUT [--vsock]       the raw half alone (ms)
  api-exec URL CA TOKEN BOX N CMD OUT     the API half alone (ms)
  tls HOST PORT CA N FULL_OUT RESUMED_OUT
      TLS handshakes (TCP connect + handshake, ms), full (no session) and
      resumed (the session of the previous full handshake), alternating.
  xfer URL CA TOKEN METHOD PATH FILE N OUT
      N uploads (PUT FILE) or downloads (GET, body discarded, size checked)
      over one keep-alive connection; samples in MiB/s, appended to OUT.
      TOKEN "-" sends none. SBX_XFER_WARM (default 1) untimed runs first.
  raw-xfer SOCK METHOD PATH FILE N OUT [--vsock]
      the same over the raw guest protocol (FILE_WRITE / FILE_READ), MiB/s.
  create-exec URL CA TOKEN PREFIX N OUT
      fresh sandbox each time: PUT /v1/sandboxes/PREFIXi then exec echo;
      ms from the PUT to the exec's result (then DELETE, untimed).
  first-code URL CA TOKEN BOX N OUT CREATE_OUT
      N times: create a python context (CREATE_OUT, ms) and time its first
      runCode (OUT, ms); the context is deleted after.
"""
import http.client
import json
import os
import socket
import ssl
import struct
import sys
import time
import urllib.parse

EXEC, FILE_READ, FILE_WRITE = 0x0002, 0x0003, 0x0004
DATA, END, OK, ERROR, EXIT = 0x0100, 0x0101, 0x0200, 0x0201, 0x0203
PT_CMD, PT_PATH = 0x01, 0x06


def ms_since(t0):
    return (time.perf_counter_ns() - t0) / 1e6


def tls_ctx(ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


class Api:
    def __init__(self, url, ca, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = tls_ctx(ca)
        self.hdr = {}
        if token and token != "-":
            self.hdr["Authorization"] = "Bearer " + token
        self.conn = None

    def connect(self):
        self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                timeout=600)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def req(self, method, path, body=None, ctype="application/json", sink=False):
        if self.conn is None:
            self.connect()
        h = dict(self.hdr)
        if body is not None:
            h["Content-Type"] = ctype
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        if sink:
            n = 0
            while True:
                b = r.read(1 << 20)
                if not b:
                    break
                n += len(b)
            return r.status, n
        data = r.read()
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return r.status, data

    def json(self, method, path, body=None):
        st, data = self.req(method, path, body)
        try:
            return st, json.loads(data or b"null")
        except ValueError:
            return st, data


def frame(ftype, body):
    return struct.pack("<IHH", len(body), ftype, 0) + body


def tlv(tag, val):
    return struct.pack("<HI", tag, len(val)) + val


def raw_exec(sock_path, cmd, vsock=False):
    """One exec over the guest protocol; returns the exit code."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)  # a wedged guest fails the run instead of hanging it
    s.connect(sock_path)
    try:
        f = s.makefile("rb")
        if vsock:
            s.sendall(b"CONNECT 1024\n")
            line = f.readline()
            if not line.startswith(b"OK"):
                raise RuntimeError("vsock handshake: %r" % line)
        s.sendall(frame(EXEC, tlv(PT_CMD, cmd.encode())))
        while True:
            h = f.read(8)
            if len(h) < 8:
                raise RuntimeError("agent closed before EXIT")
            n, t, _ = struct.unpack("<IHH", h)
            body = f.read(n)
            if t == ERROR:
                raise RuntimeError("agent ERROR %r" % body)
            if t == EXIT:
                return body
    finally:
        s.close()


def raw_open(sock_path, vsock):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)  # a wedged guest fails the run instead of hanging it
    s.connect(sock_path)
    f = s.makefile("rb")
    if vsock:
        s.sendall(b"CONNECT 1024\n")
        line = f.readline()
        if not line.startswith(b"OK"):
            raise RuntimeError("vsock handshake: %r" % line)
    return s, f


def raw_frame(f):
    h = f.read(8)
    if len(h) < 8:
        raise RuntimeError("agent closed early")
    n, t, _ = struct.unpack("<IHH", h)
    body = f.read(n)
    if t == ERROR:
        raise RuntimeError("agent ERROR %r" % body)
    return t, body


def raw_file(sock_path, method, path, data, vsock):
    """FILE_WRITE data to path, or FILE_READ it; returns bytes moved."""
    s, f = raw_open(sock_path, vsock)
    try:
        if method == "PUT":
            s.sendall(frame(FILE_WRITE, tlv(PT_PATH, path.encode())))
            mv = memoryview(data)
            for i in range(0, len(data), 65536):
                s.sendall(frame(DATA, mv[i:i + 65536].tobytes()))
            s.sendall(frame(END, b""))
            while raw_frame(f)[0] != OK:
                pass
            return len(data)
        s.sendall(frame(FILE_READ, tlv(PT_PATH, path.encode())))
        n = 0
        while True:
            t, body = raw_frame(f)
            if t == DATA:
                n += len(body)
            elif t == END:
                return n
    finally:
        s.close()


def mode_raw_xfer(a):
    sock, method, path, fname, n, out = a[:6]
    vsock = "--vsock" in a[6:]
    data = open(fname, "rb").read()
    warm = int(os.environ.get("SBX_XFER_WARM", "1"))
    s = []
    for i in range(int(n) + warm):
        t0 = time.perf_counter_ns()
        got = raw_file(sock, method, path, data if method == "PUT" else None, vsock)
        dt = ms_since(t0)
        if got != len(data):
            raise RuntimeError("raw %s %s: %d bytes" % (method, path, got))
        if i >= warm:
            s.append(len(data) / (1 << 20) / (dt / 1000.0))
    with open(out, "a") as f:
        for v in s:
            f.write("%.6f\n" % v)


def api_exec(api, box, cmd):
    st, d = api.json("POST", "/v1/sandboxes/%s/exec" % box, {"command": cmd})
    if st != 200 or d.get("exitCode") != 0:
        raise RuntimeError("exec answered %s: %r" % (st, d))


def write(path, samples):
    with open(path, "w") as f:
        for v in samples:
            f.write("%.6f\n" % v)


def mode_exec_pair(a):
    url, ca, token, box, sock, n, cmd, api_out, raw_out = a[:9]
    vsock = "--vsock" in a[9:]
    n = int(n)
    api = Api(url, ca, token)
    for _ in range(5):  # warm: connection, TLS session, agent, page cache
        api_exec(api, box, cmd)
        raw_exec(sock, cmd, vsock)
    sa, sr = [], []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        api_exec(api, box, cmd)
        sa.append(ms_since(t0))
        t0 = time.perf_counter_ns()
        raw_exec(sock, cmd, vsock)
        sr.append(ms_since(t0))
    write(api_out, sa)
    write(raw_out, sr)


def mode_raw_exec(a):
    sock, n, cmd, out = a[:4]
    vsock = "--vsock" in a[4:]
    raw_exec(sock, cmd, vsock)
    s = []
    for _ in range(int(n)):
        t0 = time.perf_counter_ns()
        raw_exec(sock, cmd, vsock)
        s.append(ms_since(t0))
    write(out, s)


def mode_api_exec(a):
    url, ca, token, box, n, cmd, out = a[:7]
    api = Api(url, ca, token)
    api_exec(api, box, cmd)
    s = []
    for _ in range(int(n)):
        t0 = time.perf_counter_ns()
        api_exec(api, box, cmd)
        s.append(ms_since(t0))
    write(out, s)


def mode_tls(a):
    host, port, ca, n, full_out, res_out = a[:6]
    port, n = int(port), int(n)
    ctx = tls_ctx(ca)

    def hs(session):
        t0 = time.perf_counter_ns()
        raw = socket.create_connection((host, port))
        s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        dt = ms_since(t0)
        reused = s.session_reused
        sess = s.session
        s.close()
        return dt, sess, reused

    _, sess, _ = hs(None)
    full, res = [], []
    notreused = 0
    for _ in range(n):
        dt, sess, _ = hs(None)
        full.append(dt)
        dt, _, reused = hs(sess)
        if reused:
            res.append(dt)
        else:
            notreused += 1
    if notreused:
        print("tls: %d of %d resumptions were not resumed" % (notreused, n), file=sys.stderr)
    write(full_out, full)
    write(res_out, res)


def mode_xfer(a):
    url, ca, token, method, path, fname, n, out = a[:8]
    size = os.path.getsize(fname)
    api = Api(url, ca, token)
    s = []
    data = open(fname, "rb").read() if method == "PUT" else None
    warm = int(os.environ.get("SBX_XFER_WARM", "1"))
    for i in range(int(n) + warm):  # the first WARM are warm-ups
        t0 = time.perf_counter_ns()
        if method == "PUT":
            st, _ = api.req("PUT", path, body=data, ctype="application/octet-stream")
            got = size
        else:
            st, got = api.req("GET", path, sink=True)
        dt = ms_since(t0)
        if st // 100 != 2 or got != size:
            raise RuntimeError("%s %s: status %s, %d bytes" % (method, path, st, got))
        if i >= warm:
            s.append(size / (1 << 20) / (dt / 1000.0))
    with open(out, "a") as f:  # appends: callers interleave peers
        for v in s:
            f.write("%.6f\n" % v)


def mode_create_exec(a):
    url, ca, token, prefix, n, out = a[:6]
    api = Api(url, ca, token)
    s = []
    for i in range(int(n)):
        box = "%s%d" % (prefix, i)
        t0 = time.perf_counter_ns()
        st, d = api.json("PUT", "/v1/sandboxes/" + box, {})
        if st not in (200, 201):
            raise RuntimeError("PUT answered %s %r" % (st, d))
        st, d = api.json("POST", "/v1/sandboxes/%s/exec" % box, {"command": "echo hi"})
        dt = ms_since(t0)
        if st != 200 or d.get("stdout") != "hi\n":
            raise RuntimeError("exec answered %s %r" % (st, d))
        s.append(dt)
        api.json("DELETE", "/v1/sandboxes/" + box)
    write(out, s)


def mode_first_code(a):
    url, ca, token, box, n, out, create_out = a[:7]
    api = Api(url, ca, token)
    s, c = [], []
    for _ in range(int(n)):
        t0 = time.perf_counter_ns()
        st, d = api.json("POST", "/v1/sandboxes/%s/contexts" % box, {"language": "python"})
        c.append(ms_since(t0))
        if st not in (200, 201):
            raise RuntimeError("context create answered %s %r" % (st, d))
        ctx = d["id"]
        t0 = time.perf_counter_ns()
        st, d = api.json("POST", "/v1/sandboxes/%s/code" % box,
                         {"code": "print(sum([1, 2, 3, 4, 5]))", "context": ctx})
        s.append(ms_since(t0))
        if st != 200 or "15" not in json.dumps(d):
            raise RuntimeError("runCode answered %s %r" % (st, d))
        api.json("DELETE", "/v1/sandboxes/%s/contexts/%s" % (box, ctx))
    write(out, s)
    write(create_out, c)


MODES = {
    "exec-pair": mode_exec_pair, "raw-exec": mode_raw_exec, "api-exec": mode_api_exec,
    "tls": mode_tls, "xfer": mode_xfer, "create-exec": mode_create_exec,
    "first-code": mode_first_code, "raw-xfer": mode_raw_xfer,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        sys.exit(__doc__)
    MODES[sys.argv[1]](sys.argv[2:])
