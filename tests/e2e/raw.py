#!/usr/bin/env python3
"""tests/e2e/raw.py: sends raw bytes over TLS to sbxd and prints the status
code of the answer (or "closed"). Used for malformed-request cases that curl
refuses to send. Usage: raw.py PORT CAFILE < request-bytes"""
import socket
import ssl
import sys

port, ca = int(sys.argv[1]), sys.argv[2]
data = sys.stdin.buffer.read()
ctx = ssl.create_default_context(cafile=ca)
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    with ctx.wrap_socket(s, server_hostname="localhost") as t:
        try:
            t.sendall(data)
        except OSError:
            pass
        buf = b""
        try:
            while b"\r\n" not in buf:
                chunk = t.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except (OSError, ssl.SSLError):
            pass
        line = buf.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        print(parts[1] if len(parts) > 1 else "closed")
