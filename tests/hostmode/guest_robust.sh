#!/bin/bash
# tests/hostmode/guest_robust.sh: a host-mode sbx-init facing bad clients:
# garbage, an oversized length, a frame cut short, an unknown type, a data
# frame as the first frame; it answers bad_request where it can and keeps
# serving. Then 50 concurrent execs all complete.
. "$(dirname "$0")/lib/agent.sh"

if ! agent_start; then
	skip guest_robust "$SKIP_ALL"
	exit 0
fi
if ! command -v python3 >/dev/null; then
	skip guest_robust "no python3"
	exit 0
fi

out=$(python3 - "$SOCK" <<'PY'
import os, socket, struct, sys
def send(data, want_reply=True):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(5)
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError:
        pass
    s.close()
    return got
def err(got):
    return len(got) >= 8 and struct.unpack("<IHH", got[:8])[1] == 0x0201 and b"bad_request" in got
r = []
r.append(err(send(os.urandom(4096))) or True)            # garbage: just survive
r.append(err(send(struct.pack("<IHH", 1 << 30, 2, 0))))  # oversized
send(struct.pack("<IHH", 100, 2, 0) + b"abc")            # cut short
r.append(err(send(struct.pack("<IHH", 0, 0x7777, 0))))   # unknown type
r.append(err(send(struct.pack("<IHH", 3, 0x0104, 0) + b"abc")))  # data first
r.append(err(send(struct.pack("<IHH", 6, 2, 0) + struct.pack("<HI", 1, 99))))  # bad TLV
print(" ".join("1" if x else "0" for x in r))
PY
)
if [ "$out" = "1 1 1 1 1" ]; then pass robust_bad_frames_answered
else fail robust_bad_frames_answered "$out"; fi

if cli hello | grep -q 'OK version=1'; then pass robust_still_serving
else fail robust_still_serving; fi

fds0=$(ls /proc/"$AGENT_PID"/fd | wc -l)
pids=()
for i in $(seq 50); do
	cli exec "echo n$i" >"$TDIR/c$i" 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
ok=0
for i in $(seq 50); do grep -qx "n$i" "$TDIR/c$i" && ok=$((ok + 1)); done
if [ $ok = 50 ]; then pass robust_50_concurrent_execs
else fail robust_50_concurrent_execs "$ok of 50"; fi

for i in $(seq 20); do
	cli read nope >/dev/null 2>&1
	echo x | cli write "f$i" >/dev/null
	cli ls . >/dev/null
	cli pstart 'echo x' >/dev/null
	cli waitport -P 1 -t 1 >/dev/null
done
sleep 0.5
fds1=$(ls /proc/"$AGENT_PID"/fd | wc -l)
if [ "$fds1" -le "$fds0" ]; then pass robust_no_fd_leak
else fail robust_no_fd_leak "$fds0 fds before, $fds1 after"; fi

exit $CHECK_FAILED
