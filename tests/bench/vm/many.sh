#!/bin/bash
# tests/bench/vm/many.sh: many sandboxes at once where guests boot (issue
# #5: "50 sandboxes each running 20 execs concurrently with zero errors").
# Inside the host VM absolute times are emulated: read them as relative.
#
# sbxd with the vm backend (tests/vm/lib.sh). One client thread per
# sandbox, all released together, each on its own keep-alive HTTPS
# connection: PUT a fresh sandbox (small guest memory), then EXECS execs of
# `echo I-J`, each checked (status 200, exit 0, its own stdout). Rows:
#   vm-many-errors           requests that failed or answered wrong (n=1;
#                            must be 0; printed loudly otherwise)
#   vm-many-exec             one exec, ms, the warm ones (all but the first
#                            of each sandbox), under the full load
#   vm-many-create-to-first  ms from a sandbox's PUT to its first exec's
#                            result (its VM boots meanwhile), one per sandbox
#   vm-many-wall             ms from the release to the last result (n=1)
#   vm-many-put              ms of each PUT (creates the workspace disk)
# The sandboxes are deleted afterwards (untimed). On errors sbxd's log is
# kept as $SBX_OUT/many-sbxd.log.
#
# Env: SBX_MANY_N (sandboxes, 50), SBX_MANY_EXECS (per sandbox, 20),
# SBX_MANY_MEM (guest MiB, 128), SBX_MANY_DISK (workspace MiB, 256).
set -uo pipefail
. "$SBX_SRC/tests/bench/lib.sh"
. "$SBX_SRC/tests/vm/lib.sh"
say() { echo "vm many bench: $*" >&2; }
why=$(vm_unmet)
[ -z "$why" ] || { say "$why"; exit 0; }
command -v python3 >/dev/null || { say "no python3"; exit 0; }
N=${SBX_MANY_N:-50} E=${SBX_MANY_EXECS:-20} MEM=${SBX_MANY_MEM:-128} DISK=${SBX_MANY_DISK:-256}
vm_lib_init
vm_sbxd_start --disk-mib "$DISK" || { say "sbxd did not start: $(tail -3 "$D/sbxd.log")"; exit 1; }

cat >"$D/many.py" <<'PY'
import http.client, json, ssl, sys, threading, time

url_host, port, ca, token, n, execs, mem, out = sys.argv[1:9]
port, n, execs, mem = int(port), int(n), int(execs), int(mem)
ctx = ssl.create_default_context(cafile=ca)
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
lock = threading.Lock()
exec_ms, first_ms, put_ms, errors = [], [], [], []
start = threading.Barrier(n + 1)


def now():
    return time.perf_counter_ns() / 1e6


class Client:
    def __init__(self):
        self.c = None

    def call(self, method, path, body):
        """(status, parsed body or text); one retry-free request."""
        if self.c is None:
            self.c = http.client.HTTPSConnection(url_host, port, context=ctx, timeout=900)
        try:
            self.c.request(method, path, body=json.dumps(body), headers=hdr)
            r = self.c.getresponse()
            data = r.read()
        except Exception:
            self.c.close()
            self.c = None  # a fresh connection for the next request
            raise
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, data[:200]


def err(i, what):
    with lock:
        errors.append("sandbox %d: %s" % (i, what))


def box(i):
    cl, name = Client(), "/v1/sandboxes/many-%d" % i
    start.wait()
    t0 = now()
    try:
        st, b = cl.call("PUT", name, {"limits": {"memoryMiB": mem}})
        if st not in (200, 201):
            err(i, "PUT %d %s" % (st, b))
            return
        with lock:
            put_ms.append(now() - t0)
    except Exception as e:
        err(i, "PUT %r" % e)
        return
    for j in range(execs):
        t = now()
        want = "%d-%d\n" % (i, j)
        try:
            st, b = cl.call("POST", name + "/exec", {"command": "echo " + want.strip()})
        except Exception as e:
            err(i, "exec %d: %r" % (j, e))
            continue
        ms = now() - t
        if st != 200 or not isinstance(b, dict) or b.get("exitCode") != 0 or b.get("stdout") != want:
            err(i, "exec %d: %d %s" % (j, st, str(b)[:200]))
            continue
        with lock:
            if j == 0:
                first_ms.append(now() - t0)
            else:
                exec_ms.append(ms)


def delete(i):
    try:
        st, b = Client().call("DELETE", "/v1/sandboxes/many-%d" % i, {})
        if st not in (200, 204):
            print("vm many bench: DELETE many-%d: %d %s" % (i, st, b), file=sys.stderr)
    except Exception as e:
        print("vm many bench: DELETE many-%d: %r" % (i, e), file=sys.stderr)


threads = [threading.Thread(target=box, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
start.wait()
t0 = now()
for t in threads:
    t.join()
wall = now() - t0
for name, vals in (("exec.ms", exec_ms), ("first.ms", first_ms), ("wall.ms", [wall]), ("put.ms", put_ms),
                   ("errors", [len(errors)])):
    with open("%s/%s" % (out, name), "w") as f:
        f.write("".join("%.3f\n" % v for v in vals))
for e in errors[:20]:
    print("vm many bench: ERROR " + e, file=sys.stderr)
dels = [threading.Thread(target=delete, args=(i,)) for i in range(n)]
for t in dels:
    t.start()
for t in dels:
    t.join()
print("vm many bench: %d sandboxes x %d execs: %d errors, wall %.0f ms" %
      (n, execs, len(errors), wall), file=sys.stderr)
PY

python3 "$D/many.py" localhost "$PORT" "$CA" "$TOKEN" "$N" "$E" "$MEM" "$D" ||
	say "client failed: $(tail -3 "$D/sbxd.log")"
[ -s "$D/errors" ] || { say "no results"; exit 1; }
nerr=$(cat "$D/errors")
if [ "${nerr%.*}" != 0 ]; then
	say "!!!!!!!! $nerr ERRORS with $N sandboxes x $E execs (see above) !!!!!!!!"
	sed '/first token/,+1d' "$D/sbxd.log" | tail -20 >&2
	[ -d "${SBX_OUT:-}" ] && cp "$D/sbxd.log" "$SBX_OUT/many-sbxd.log"
fi
bench_emit vm-many-errors count "$D/errors"
[ -s "$D/exec.ms" ] && bench_emit vm-many-exec ms "$D/exec.ms"
[ -s "$D/first.ms" ] && bench_emit vm-many-create-to-first ms "$D/first.ms"
bench_emit vm-many-wall ms "$D/wall.ms"
[ -s "$D/put.ms" ] && bench_emit vm-many-put ms "$D/put.ms"
true
