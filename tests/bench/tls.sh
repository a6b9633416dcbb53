#!/bin/bash
# tests/bench/tls.sh: TLS handshakes against sbxd, natively: full handshakes
# (no session) and resumed ones (the previous full handshake's session:
# ticket or id), alternating, each timed from TCP connect to handshake done.
# Rows in ms per handshake (handshakes/s = 1000 / p50).
set -uo pipefail
. "$SBX_SRC/tests/bench/lib.sh"
. "$SBX_SRC/tests/e2e/lib.sh"
N=${SBX_BENCH_N:-300}
command -v python3 >/dev/null || { echo "tls bench: no python3" >&2; exit 0; }
e2e_start || { echo "tls bench: sbxd did not start" >&2; exit 1; }
python3 "$SBX_SRC/tests/bench/sbxbench.py" tls 127.0.0.1 "$E2E_PORT" "$E2E_CA" "$N" \
	"$E2E_DIR/full.ms" "$E2E_DIR/resumed.ms" || exit 1
bench_emit tls-handshake-full ms "$E2E_DIR/full.ms"
[ -s "$E2E_DIR/resumed.ms" ] && bench_emit tls-handshake-resumed ms "$E2E_DIR/resumed.ms" \
	tls-handshake-full "$E2E_DIR/full.ms"
true
