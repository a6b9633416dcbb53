#!/bin/bash
# boards/run.sh O: `make run`. Starts sbxd serving https://localhost:$SBX_PORT
# (default 8443): natively where this machine's KVM boots guests, else inside
# the qemu-x86_64 host VM with the port forwarded to this machine's loopback.
#
# State lives in $SBX_STATE (default /var/lib/sbx): tokens (hashed), the
# sandbox table, workspace disks, the TLS key. A developer token for tenant
# "dev" is created on the first run and kept in $SBX_STATE/dev-token (mode
# 600, the one place its clear text lives) so every run prints the same one.
set -euo pipefail
O=$(realpath "${1:-build}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SBX_STATE:-/var/lib/sbx}
PORT=${SBX_PORT:-8443}
mkdir -p "$STATE"
chmod 700 "$STATE"

if [ ! -s "$STATE/dev-token" ]; then
	(umask 077 && "$O/bin/sbxd" token create --tenant dev --state "$STATE" >"$STATE/dev-token.tmp")
	mv "$STATE/dev-token.tmp" "$STATE/dev-token"
fi
TOKEN=$(cat "$STATE/dev-token")

where=$("$SRC/tests/guest-check.sh" "$O")
pid=
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; }
trap stop EXIT INT TERM
case $where in
native)
	"$O/bin/sbxd" serve --state "$STATE" --listen "127.0.0.1:$PORT" --backend vm \
		--images "$O/images" --vmm "$O/bin/sbx-vmm" &
	pid=$!
	;;
hostvm)
	echo "sbx: this machine's KVM cannot boot guests; starting the host VM" \
		"(console: $STATE/hostvm-console.log)"
	SBX_STATE=$STATE SBX_PORT=$PORT "$SRC/boards/qemu-x86_64/vm.sh" "$O" run \
		>"$STATE/hostvm-console.log" 2>&1 </dev/null &
	pid=$!
	;;
*)
	echo "sbx: cannot run: $where" >&2
	exit 1
	;;
esac

# Ready when the API answers; the certificate exists by then.
for _ in $(seq 1 600); do
	kill -0 "$pid" 2>/dev/null || { echo "sbx: sbxd stopped; see above" >&2; exit 1; }
	curl -sk -o /dev/null "https://127.0.0.1:$PORT/v1/health" && break
	sleep 0.5
done
fp=$(openssl x509 -in "$STATE/tls/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
cat <<MSG

sbx is serving https://localhost:$PORT ($where)
  certificate SHA-256: $fp
  token (tenant dev):  $TOKEN

Try it:
  curl --cacert $STATE/tls/cert.pem -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{"command": "echo hello from a microVM"}' \\
       https://localhost:$PORT/v1/sandboxes/demo/exec

Ctrl-C stops it.
MSG
wait "$pid"
