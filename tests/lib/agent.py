#!/usr/bin/env python3
"""tests/lib/agent.py: the host side of the guest protocol (guest/PROTOCOL.md)
over a raw sbx-vmm's vsock Unix socket, for the tests and benches (stdlib only).

SOCK is a VMM's Unix socket (CONNECT 1024 first, then OK) or vsock:CID (a
guest behind QEMU's vhost-vsock). Importable (dial, recvn, frame, tlv, run)
or run as a command:

  agent.py [--dial S] [--read S] CMD SOCK ARGS...
    hello SOCK TIMEOUT       HELLO until it answers (trying for TIMEOUT s);
                             exits 0 when sbx-init answered OK
    exec SOCK CMD            EXEC CMD, its stdout to ours; exits with CMD's
                             code, 98 on ERROR, 99 when the guest went away
                             mid-command (reboot, poweroff)
    execcount SOCK CMD       the same, printing the count of stdout bytes
    write SOCK PATH N        N zero bytes to PATH (FILE_WRITE); prints the
                             size the agent reports
    hold SOCK N CMD SECONDS  N execs of CMD whose output is never read, held
                             for SECONDS; prints N
    sink SOCK STOPFILE SECONDS  listens on SOCK (a VMM's SOCK_PORT path for
                             guest-initiated streams), accepts and never
                             reads until STOPFILE exists; prints the accepts
    loop SOCK OUT STOPFILE [N]  `true` until STOPFILE exists (or N times):
                             ms per exec to OUT; exits 1 if any failed

  --dial S: how long exec, execcount, write, hold and loop try to connect
  (default 5); --read S: their socket timeout once connected (default 30).
  Every handshake (CONNECT / OK) has 30 s.
"""
import os
import socket
import struct
import sys
import time

HELLO, EXEC, FILE_WRITE = 0x0001, 0x0002, 0x0004
DATA, END, STDOUT, OK, ERROR, EXIT = 0x0100, 0x0101, 0x0104, 0x0200, 0x0201, 0x0203
PT_CMD, PT_PATH, PT_SIZE, PT_EXIT_CODE = 0x01, 0x06, 0x0b, 0x10
DIAL, READ = 5, 30


class AgentError(Exception):
    """The agent answered ERROR (the body is args[0])."""


class Gone(OSError):
    """The connection ended (or timed out) in the middle of a command."""


def dial(path, timeout):
    """A connection to the agent, retried until timeout seconds passed."""
    deadline = time.time() + timeout
    while True:
        s = None
        try:
            if path.startswith("vsock:"):
                s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
                s.settimeout(30)
                s.connect((int(path[6:]), 1024))
                return s
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(30)
            s.connect(path)
            s.sendall(b"CONNECT 1024\n")
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                if not c:
                    raise OSError("closed before OK")
                line += c
            if not line.startswith(b"OK "):
                raise OSError("bad answer %r" % line)
            return s
        except OSError:
            if s:
                s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.02)


def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise OSError("eof")
        b += c
    return b


def frame(s):
    """The next frame: (type, body)."""
    n, t, _ = struct.unpack("<IHH", recvn(s, 8))
    return t, recvn(s, n)


def send(s, ftype, body=b""):
    s.sendall(struct.pack("<IHH", len(body), ftype, 0) + body)


def field(tag, val):
    return struct.pack("<HI", tag, len(val)) + val


def tlv(body):
    """A control frame's fields: {tag: value}, the first of a repeated tag."""
    out, i = {}, 0
    while i + 6 <= len(body):
        tag, n = struct.unpack_from("<HI", body, i)
        out.setdefault(tag, body[i + 6:i + 6 + n])
        i += 6 + n
    return out


def hello(path, timeout):
    s = dial(path, timeout)
    try:
        send(s, HELLO)
        t, body = frame(s)
        return t == OK and b"sbx-init" in body
    finally:
        s.close()


def run(path, cmd, out=None, dial_timeout=DIAL, timeout=READ):
    """EXEC cmd; stdout bytes go to out.write (or are dropped). Returns the
    exit code (0-255); raises AgentError on ERROR, Gone when the guest went
    away mid-command, OSError when no connection came up."""
    s = dial(path, dial_timeout)
    try:
        s.settimeout(timeout)
        send(s, EXEC, field(PT_CMD, cmd.encode()))
        while True:
            try:
                t, body = frame(s)
            except OSError as e:
                raise Gone(str(e)) from e
            if t == STDOUT and out:
                out.write(body)
                out.flush()
            elif t == EXIT:
                return struct.unpack("<i", tlv(body).get(PT_EXIT_CODE, b"\0\0\0\0"))[0] & 255
            elif t == ERROR:
                raise AgentError(body)
    finally:
        s.close()


class _Count:
    n = 0

    def write(self, b):
        self.n += len(b)

    def flush(self):
        pass


def _exec(path, cmd, count, dial_timeout, timeout):
    out = _Count() if count else sys.stdout.buffer
    try:
        code = run(path, cmd, out, dial_timeout, timeout)
    except AgentError as e:
        sys.stderr.write("ERROR %r\n" % e.args[0])
        return 98
    except Gone:
        return 99
    if count:
        print(out.n)
    return code


def _write(path, gpath, n, dial_timeout, timeout):
    s = dial(path, dial_timeout)
    s.settimeout(timeout)
    send(s, FILE_WRITE, field(PT_PATH, gpath.encode()))
    chunk = bytes(65536)
    left = n
    while left:
        k = min(left, len(chunk))
        send(s, DATA, chunk[:k])
        left -= k
    send(s, END)
    t, body = frame(s)
    size = struct.unpack("<Q", tlv(body).get(PT_SIZE, bytes(8)))[0]
    print(size if t == OK else "error %r" % body)
    return 0


def _hold(path, n, cmd, seconds, dial_timeout):
    conns = []
    body = field(PT_CMD, cmd.encode())
    for _ in range(n):
        s = dial(path, dial_timeout)
        send(s, EXEC, body)
        conns.append(s)
    time.sleep(seconds)
    print(len(conns))
    return 0


def _sink(path, stop, seconds):
    l = socket.socket(socket.AF_UNIX)
    l.bind(path)
    l.listen(8)
    l.settimeout(0.5)
    held, deadline = [], time.time() + seconds
    while time.time() < deadline and not os.path.exists(stop):
        try:
            held.append(l.accept()[0])
        except socket.timeout:
            pass
    print(len(held))
    return 0


def _loop(path, out, stop, n, dial_timeout, timeout):
    bad = done = 0
    with open(out, "w") as f:
        while not (n and done >= n) and not (not n and os.path.exists(stop)):
            t0 = time.monotonic()
            try:
                ok = run(path, "true", None, dial_timeout, timeout) == 0
            except AgentError as e:
                sys.stderr.write("ERROR %r\n" % e.args[0])
                ok = False
            except OSError as e:
                sys.stderr.write("exec failed after %.1f s: %s\n" % (time.monotonic() - t0, e))
                ok = False
            if ok:
                f.write("%.3f\n" % ((time.monotonic() - t0) * 1000))
                f.flush()
            bad += not ok
            done += 1
    print("execs %d failed %d" % (done, bad))
    return 1 if bad else 0


def main(argv):
    dial_timeout, timeout = DIAL, READ
    while argv and argv[0] in ("--dial", "--read"):
        if argv[0] == "--dial":
            dial_timeout = float(argv[1])
        else:
            timeout = float(argv[1])
        argv = argv[2:]
    op, path, a = argv[0], argv[1], argv[2:]
    if op == "hello":
        return 0 if hello(path, float(a[0])) else 1
    if op in ("exec", "execcount"):
        return _exec(path, a[0], op == "execcount", dial_timeout, timeout)
    if op == "write":
        return _write(path, a[0], int(a[1]), dial_timeout, timeout)
    if op == "hold":
        return _hold(path, int(a[0]), a[1], float(a[2]), dial_timeout)
    if op == "sink":
        return _sink(path, a[0], float(a[1]))
    if op == "loop":
        return _loop(path, a[0], a[1], int(a[2]) if len(a) > 2 else 0, dial_timeout, timeout)
    sys.exit("agent.py: unknown command %r" % op)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
