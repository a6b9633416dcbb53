#!/usr/bin/env python3
"""tests/usernet/servers.py: the host side of usernet's TAP test, all on
127.0.0.1: an HTTP server (GET /hello, GET /big?n=BYTES, POST /upload ->
"LEN SHA256"), a DNS server on UDP and TCP (A records: *.mirror.test -> 10.0.2.100,
*.evil.test -> 1.2.3.4; anything else NXDOMAIN) and a UDP echo server.
Prints "ready HTTP_PORT DNS_PORT ECHO_PORT" once listening; runs until
killed."""
import hashlib
import http.server
import socket
import socketserver
import struct
import sys
import threading


def pattern(n):
    block = bytes(range(256)) * 256
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body, ctype="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/hello":
            self.reply(b"hello")
        elif self.path.startswith("/big?n="):
            self.reply(pattern(int(self.path[7:])), "application/octet-stream")
        else:
            self.send_error(404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        left = n
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        self.reply(("%d %s" % (n - left, h.hexdigest())).encode())


class HTTP(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def dns_answer(q):
    if len(q) < 12:
        return None
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    if qd != 1:
        return None
    off, labels = 12, []
    while off < len(q) and q[off]:
        labels.append(q[off + 1:off + 1 + q[off]].decode("ascii", "replace").lower())
        off += 1 + q[off]
    off += 1
    qtype, = struct.unpack(">H", q[off:off + 2])
    question = q[12:off + 4]
    name = ".".join(labels)
    addr = None
    if name.endswith(".mirror.test") or name == "mirror.test":
        addr = bytes([10, 0, 2, 100])
    elif name.endswith(".evil.test"):
        addr = bytes([1, 2, 3, 4])
    if addr is None:
        return struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
    if qtype != 1:
        return struct.pack(">HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question
    rr = struct.pack(">HHHIH", 0xC00C, 1, 1, 30, 4) + addr
    return struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr


def serve_udp(sock, fn):
    while True:
        data, peer = sock.recvfrom(65536)
        out = fn(data)
        if out is not None:
            sock.sendto(out, peer)


def serve_dns_tcp(lsock):
    while True:
        c, _ = lsock.accept()
        with c:
            c.settimeout(5)
            try:
                hdr = c.recv(2, socket.MSG_WAITALL)
                q = c.recv(struct.unpack(">H", hdr)[0], socket.MSG_WAITALL)
                out = dns_answer(q)
                if out is not None:
                    c.sendall(struct.pack(">H", len(out)) + out)
            except (OSError, struct.error):
                pass


def main():
    httpd = HTTP(("127.0.0.1", 0), Handler)
    # DNS on one port number for both UDP and TCP (the guest's fallback)
    while True:
        dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dns.bind(("127.0.0.1", 0))
        dns_tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            dns_tcp.bind(("127.0.0.1", dns.getsockname()[1]))
            break
        except OSError:
            dns.close()
            dns_tcp.close()
    dns_tcp.listen(8)
    threading.Thread(target=serve_dns_tcp, args=(dns_tcp,), daemon=True).start()
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    threading.Thread(target=serve_udp, args=(dns, dns_answer), daemon=True).start()
    threading.Thread(target=serve_udp, args=(echo, lambda d: d), daemon=True).start()
    print("ready %d %d %d" % (httpd.server_address[1], dns.getsockname()[1],
                              echo.getsockname()[1]), flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
