#!/bin/bash
# tests/e2e/make_run.sh: `make run` as the README shows it: boards/run.sh
# starts sbxd (natively or in the host VM), prints a token and a curl line
# that works; the curl example creates a sandbox and runs a command in a
# microVM. Uses its own state folder and port; stops what it started.
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"
where=$("$SBX_SRC/tests/guest-check.sh" "$SBX_BUILD")
case $where in native | hostvm) ;; *) skip make-run "$where"; exit 0 ;; esac

D=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
SBX_STATE=$D/state SBX_PORT=$PORT "$SBX_SRC/boards/run.sh" "$SBX_BUILD" >"$D/out" 2>&1 &
pid=$!
for _ in $(seq 300); do
	grep -q 'Ctrl-C' "$D/out" && break
	kill -0 $pid 2>/dev/null || break
	sleep 1
done
if grep -q "serving https://localhost:$PORT" "$D/out" && grep -q 'token (tenant dev):  sbx_' "$D/out"; then
	pass make-run-banner
else
	fail make-run-banner "$(tail -5 "$D/out")"
	exit 0
fi
TOKEN=$(awk '/token \(tenant dev\)/ { print $NF }' "$D/out")
[ "$TOKEN" = "$(cat "$D/state/dev-token")" ] && pass make-run-token-kept || fail make-run-token-kept
api() { curl -sS --max-time 240 --cacert "$D/state/tls/cert.pem" -H "Authorization: Bearer $TOKEN" "$@"; }
api -X PUT "https://localhost:$PORT/v1/sandboxes/demo" >/dev/null
out=$(api "https://localhost:$PORT/v1/sandboxes/demo/exec" -H 'Content-Type: application/json' \
	-d '{"command": "echo hello from a microVM"}')
if echo "$out" | grep -q '"stdout":"hello from a microVM\\n"'; then
	pass make-run-curl-exec
else
	fail make-run-curl-exec "$out $(tail -5 "$D/state/hostvm-console.log" 2>/dev/null)"
fi
fp=$(openssl x509 -in "$D/state/tls/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
grep -q "certificate SHA-256: $fp" "$D/out" && pass make-run-fingerprint || fail make-run-fingerprint
