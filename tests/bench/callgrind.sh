#!/bin/bash
# tests/bench/callgrind.sh: instructions sbxd executes for one exec request,
# under valgrind --tool=callgrind (repeatable anywhere, unlike times).
# sbxd (host backend) is run twice under callgrind on the same state, each
# time: start, one warm-up exec on a keep-alive HTTPS connection (TLS
# handshake, agent start), then K more exec requests (`true`) on that
# connection, then a clean shutdown by SIGTERM. K=0 and K=10: (Ir(10) -
# Ir(0)) / 10 is the cost of one warm exec request, start-up and shut-down
# cancelling out. TLS handshakes are left out of the count
# (--toggle-collect=mbedtls_ssl_handshake_step): their ECC blinding is random
# and made the difference vary by +-50k. sbxd's 250 ms ticks follow wall time,
# so the pair is repeated R=5 times and the median quoted. A first native run makes the state (certificate, token,
# sandbox) so neither measured run generates keys. The agent (sbx-init) is
# not traced. Rows: sbxd-ir-per-exec (instructions), and
# sbxd-ir-total-per-exec (total Ir of the K=10 run / 10, start-up included,
# handshakes not).
set -uo pipefail
. "$SBX_SRC/tests/bench/lib.sh"
K=${SBX_CALLGRIND_K:-10} R=${SBX_CALLGRIND_R:-5}
command -v valgrind >/dev/null || { echo "callgrind bench: SKIP: no valgrind" >&2; exit 0; }
command -v python3 >/dev/null || { echo "callgrind bench: SKIP: no python3" >&2; exit 0; }
D=$(mktemp -d /tmp/sbx-cg.XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
	rm -rf "$D"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=https://localhost:$PORT CA=$D/state/tls/cert.pem

# launch [valgrind args...]: sbxd in the background, PID set, waits for health.
launch() {
	"$@" "$SBX_BUILD/bin/sbxd" serve --state "$D/state" --listen "127.0.0.1:$PORT" \
		--backend host --agent "$SBX_BUILD/bin/sbx-init" >>"$D/sbxd.log" 2>&1 &
	PID=$!
	for _ in $(seq 600); do
		curl -s --cacert "$CA" "$URL/v1/health" >/dev/null 2>&1 && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop() {
	kill -TERM "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}

launch || { echo "callgrind bench: sbxd did not start: $(tail -3 "$D/sbxd.log")" >&2; exit 1; }
TOKEN=$(grep -A1 'first token' "$D/sbxd.log" | tail -1)
curl -s --cacert "$CA" -H "Authorization: Bearer $TOKEN" -X PUT -d '{}' "$URL/v1/sandboxes/cg" >/dev/null
stop

# run K: prints the total Ir of sbxd's callgrind output.
run() {
	local k=$1 out=$D/cg.$1
	launch valgrind --tool=callgrind --callgrind-out-file="$out.%p" --trace-children=no \
		--toggle-collect=mbedtls_ssl_handshake_step --collect-atstart=yes || {
		echo "callgrind bench: sbxd did not start under callgrind" >&2; return 1; }
	local pid=$PID
	python3 "$SBX_SRC/tests/bench/sbxbench.py" api-exec "$URL" "$CA" "$TOKEN" cg "$k" true "$D/ms.$k" || return 1
	stop
	awk '/^(summary|totals):/ { print $2; exit }' "$out.$pid"
}
for _ in $(seq "$R"); do
	ir0=$(run 0) && irk=$(run "$K") || exit 1
	[ -n "$ir0" ] && [ -n "$irk" ] || { echo "callgrind bench: no totals in callgrind output" >&2; exit 1; }
	echo $(( (irk - ir0) / K )) >>"$D/per"
	echo $(( irk / K )) >>"$D/total"
done
bench_emit sbxd-ir-per-exec instructions "$D/per"
bench_emit sbxd-ir-total-per-exec instructions "$D/total"
