#!/bin/bash
# tests/bench/api_exec.sh: the API's overhead on a warm exec, natively.
# sbxd with the host backend on a free loopback port; exec `true` over HTTPS
# on one keep-alive connection, alternating with the same exec over the raw
# guest protocol to the very sbx-init (host mode) that sbxd started for the
# sandbox (one Unix-socket connection per exec, as sbxd itself does).
# Rows: api-exec-true-keepalive (peer raw-protocol-exec: ratio = the API's
# overhead factor) and api-exec-overhead (per-pair API minus raw, ms).
set -uo pipefail
. "$SBX_SRC/tests/bench/lib.sh"
. "$SBX_SRC/tests/e2e/lib.sh"
N=${SBX_BENCH_N:-200}
command -v python3 >/dev/null || { echo "api_exec bench: no python3" >&2; exit 0; }
e2e_start || { echo "api_exec bench: sbxd did not start: $(tail -3 "$E2E_DIR/sbxd.log")" >&2; exit 1; }
api PUT /v1/sandboxes/bench -H 'Content-Type: application/json' -d '{}' >/dev/null
api POST /v1/sandboxes/bench/exec -H 'Content-Type: application/json' -d '{"command":"true"}' >/dev/null
sock=
for s in "$E2E_DIR"/state/run/*.sock; do [ -S "$s" ] && sock=$s && break; done
[ -n "$sock" ] || { echo "api_exec bench: no agent socket under $E2E_DIR/state/run" >&2; exit 1; }
python3 "$SBX_SRC/tests/bench/sbxbench.py" exec-pair "$E2E_URL" "$E2E_CA" "$E2E_TOKEN" bench \
	"$sock" "$N" true "$E2E_DIR/api.ms" "$E2E_DIR/raw.ms" || exit 1
paste "$E2E_DIR/api.ms" "$E2E_DIR/raw.ms" | awk '{ printf "%.6f\n", $1 - $2 }' >"$E2E_DIR/diff.ms"
bench_emit api-exec-true-keepalive ms "$E2E_DIR/api.ms" raw-protocol-exec "$E2E_DIR/raw.ms"
bench_emit api-exec-overhead ms "$E2E_DIR/diff.ms"
