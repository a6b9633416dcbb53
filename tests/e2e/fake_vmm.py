#!/usr/bin/env python3
"""tests/e2e/fake_vmm.py: stands in for sbx-vmm in tests of sbxd's VM
backend on machines where guests cannot boot. Takes sbx-vmm's command line
(--vsock PATH --disk IMG --ready-fd 3 ...), runs `sbx-init --host` on a
folder beside the disk, answers Firecracker's "CONNECT <port>" handshake on
the vsock socket and pipes each connection to the agent, and writes
"ready <usec>" to the ready fd after FAKE_VMM_DELAY seconds (default 1).
FAKE_VMM_FAIL=1 exits before ready. FAKE_VMM_OK_GATE=PATH: a CONNECT is
answered only once PATH exists (PATH.seen is made while one waits), so a
test can hold a dial open. FAKE_VMM_CTL=DIR: files there steer it while
sbxd runs: DIR/crashes holds a count; while it is above 0 a boot takes one
and exits with status 4 (sbx-vmm's "crash", a guest triple fault) before
ready. With DIR/ignore-term present, SIGTERM is ignored (only SIGKILL
ends it) and DIR/term-seen.PID is made. Standard library only."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

args = sys.argv[1:]
opt = {}
i = 0
while i < len(args):
    if args[i].startswith("--") and i + 1 < len(args):
        opt[args[i][2:]] = args[i + 1]
        i += 2
    else:
        i += 1
if os.environ.get("FAKE_VMM_FAIL") == "1":
    sys.exit(2)
ctl = os.environ.get("FAKE_VMM_CTL")
if ctl:
    try:
        with open(os.path.join(ctl, "crashes")) as f:
            n = int(f.read().strip() or "0")
    except (FileNotFoundError, ValueError):
        n = 0
    if n > 0:
        with open(os.path.join(ctl, "crashes"), "w") as f:
            f.write("%d\n" % (n - 1))
        time.sleep(0.1)
        sys.exit(4)
vsock = opt["vsock"]
disk = opt.get("disk", vsock + ".disk")
root = disk + ".ws"
os.makedirs(root, exist_ok=True)
# beside the disk, not in the socket folder: a real VMM leaves nothing there
agent_sock = disk + ".agent"


def die_with_parent():
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


agent = subprocess.Popen([os.environ["FAKE_VMM_AGENT"], "--host", "--listen", agent_sock,
                          "--root", root], preexec_fn=die_with_parent)


def stop(*_):
    if ctl and os.path.exists(os.path.join(ctl, "ignore-term")):
        open(os.path.join(ctl, "term-seen.%d" % os.getpid()), "w").close()
        return
    agent.kill()
    agent.wait()
    os._exit(5)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
for _ in range(500):
    if os.path.exists(agent_sock):
        break
    time.sleep(0.01)
try:
    os.unlink(vsock)
except FileNotFoundError:
    pass
ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(vsock)
ls.listen(64)


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(c):
    line = b""
    while not line.endswith(b"\n"):
        ch = c.recv(1)
        if not ch:
            c.close()
            return
        line += ch
    if not line.startswith(b"CONNECT 1024"):
        c.close()
        return
    gate = os.environ.get("FAKE_VMM_OK_GATE")
    while gate and not os.path.exists(gate):
        open(gate + ".seen", "w").close()
        time.sleep(0.05)
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.connect(agent_sock)
    c.sendall(b"OK 1\n")
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()


time.sleep(float(os.environ.get("FAKE_VMM_DELAY", "1")))
ready_fd = int(opt.get("ready-fd", "3"))
os.write(ready_fd, b"ready 1000\n")
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
