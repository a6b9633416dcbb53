#!/usr/bin/env python3
"""tests/e2e/ws.py: a WebSocket echo server (mode "serve PORT", run inside a
sandbox) and client (mode "client URL CAFILE MESSAGE"),
standard library only. The client connects over TLS, upgrades, sends one
text frame and prints the echoed text."""
import base64
import hashlib
import os
import socket
import ssl
import struct
import sys

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def read_frame(s):
    h = recv_exact(s, 2)
    op, ln = h[0] & 0x0F, h[1] & 0x7F
    masked = h[1] & 0x80
    if ln == 126:
        ln = struct.unpack(">H", recv_exact(s, 2))[0]
    elif ln == 127:
        ln = struct.unpack(">Q", recv_exact(s, 8))[0]
    mask = recv_exact(s, 4) if masked else None
    data = recv_exact(s, ln)
    if mask:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return op, data


def frame(data, mask):
    hdr = bytes([0x81])
    ln = len(data)
    m = 0x80 if mask else 0
    if ln < 126:
        hdr += bytes([m | ln])
    else:
        hdr += bytes([m | 126]) + struct.pack(">H", ln)
    if mask:
        k = os.urandom(4)
        return hdr + k + bytes(b ^ k[i % 4] for i, b in enumerate(data))
    return hdr + data


def serve(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    while True:
        c, _ = ls.accept()
        try:
            req = b""
            while b"\r\n\r\n" not in req:
                req += c.recv(4096)
            key = ""
            for line in req.decode().split("\r\n"):
                if line.lower().startswith("sec-websocket-key:"):
                    key = line.split(":", 1)[1].strip()
            acc = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % acc).encode())
            op, data = read_frame(c)
            c.sendall(frame(b"echo:" + data, False))
        except Exception:
            pass
        finally:
            c.close()


def client(url, ca, msg):
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=ca)
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    t = ctx.wrap_socket(s, server_hostname=host)
    key = base64.b64encode(os.urandom(16)).decode()
    t.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host_port, key)).encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        c = t.recv(1)
        if not c:
            print("closed")
            sys.exit(1)
        resp += c
    status = resp.split(b" ", 2)[1].decode()
    if status != "101":
        print("status", status)
        sys.exit(1)
    t.sendall(frame(msg.encode(), True))
    op, data = read_frame(t)
    print(data.decode())


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        client(sys.argv[2], sys.argv[3], sys.argv[4])
