#!/bin/bash
# tests/bench/vm/exec.sh: the API where guests boot (inside the host VM here:
# absolute times are emulated, only ratios to a peer in the same run count).
# sbxd with the vm backend, started by tests/vm/lib.sh.
#   api-create-to-first-exec   PUT a fresh sandbox, then exec `echo hi`, ms
#                              from the PUT to the result (N=SBX_CREATE_N, 5)
#   vm-api-exec-true           warm exec `true` over one keep-alive HTTPS
#                              connection, alternating with the same exec over
#                              the raw guest protocol through the VMM's vsock
#                              socket (CONNECT 1024, then EXEC); peer
#                              raw-vsock-exec, ratio = the API's overhead factor
#   vm-api-exec-overhead       per-pair API minus raw, ms
#   vm-file-{upload,download}-16m  MiB/s through the API, peer the raw protocol
#                              (FILE_WRITE / FILE_READ over vsock), alternating
#   vm-code-first-run          first runCode in a fresh python context, ms
#                              (vm-code-context-create: creating it)
set -uo pipefail
. "$SBX_SRC/tests/bench/lib.sh"
. "$SBX_SRC/tests/vm/lib.sh"
why=$(vm_unmet)
[ -z "$why" ] || { echo "vm exec bench: $why" >&2; exit 0; }
command -v python3 >/dev/null || { echo "vm exec bench: no python3" >&2; exit 0; }
NC=${SBX_CREATE_N:-5} NX=${SBX_EXEC_N:-30} NF=${SBX_FILE_N:-3} NK=${SBX_CODE_N:-3}
vm_lib_init
vm_sbxd_start --disk-mib 2048 || { echo "vm exec bench: sbxd did not start: $(tail -3 "$D/sbxd.log")" >&2; exit 1; }
B="python3 $SBX_SRC/tests/bench/sbxbench.py"
say() { echo "vm exec bench: $*" >&2; }

# Fresh sandboxes first, while nothing else runs.
$B create-exec "$URL" "$CA" "$TOKEN" fresh "$NC" "$D/create.ms" || say "create-exec failed: $(tail -3 "$D/sbxd.log")"

# One sandbox for the rest; its VMM's vsock socket is the only one left.
VM_API_MAX_TIME=600 api PUT /v1/sandboxes/box -d '{}' >/dev/null
VM_API_MAX_TIME=600 jpost /v1/sandboxes/box/exec '{"command":"true"}' >/dev/null
sock=
for s in "$D"/state/run/*/sock; do [ -S "$s" ] && sock=$s; done
if [ -n "$sock" ]; then
	$B exec-pair "$URL" "$CA" "$TOKEN" box "$sock" "$NX" true "$D/api.ms" "$D/raw.ms" --vsock ||
		say "exec-pair failed"
else
	say "no VMM socket under $D/state/run"
	$B api-exec "$URL" "$CA" "$TOKEN" box "$NX" true "$D/api.ms" || say "api-exec failed"
fi

head -c $((16 << 20)) /dev/urandom >"$D/blob"
FP=/v1/sandboxes/box/files/workspace/blob.bin
for r in $(seq "$NF"); do
	w=0; [ "$r" = 1 ] && w=1
	export SBX_XFER_WARM=$w
	$B xfer "$URL" "$CA" "$TOKEN" PUT "$FP" "$D/blob" 1 "$D/up" || { say "upload failed"; break; }
	$B xfer "$URL" "$CA" "$TOKEN" GET "$FP" "$D/blob" 1 "$D/down" || { say "download failed"; break; }
	[ -n "$sock" ] || continue
	$B raw-xfer "$sock" PUT /workspace/raw.bin "$D/blob" 1 "$D/rup" --vsock || say "raw upload failed"
	$B raw-xfer "$sock" GET /workspace/raw.bin "$D/blob" 1 "$D/rdown" --vsock || say "raw download failed"
done
unset SBX_XFER_WARM

$B first-code "$URL" "$CA" "$TOKEN" box "$NK" "$D/code.ms" "$D/ctx.ms" || say "first-code failed"

[ -s "$D/create.ms" ] && bench_emit api-create-to-first-exec ms "$D/create.ms"
if [ -s "$D/raw.ms" ]; then
	bench_emit vm-api-exec-true ms "$D/api.ms" raw-vsock-exec "$D/raw.ms"
	paste "$D/api.ms" "$D/raw.ms" | awk '{ printf "%.6f\n", $1 - $2 }' >"$D/diff.ms"
	bench_emit vm-api-exec-overhead ms "$D/diff.ms"
elif [ -s "$D/api.ms" ]; then
	bench_emit vm-api-exec-true ms "$D/api.ms"
fi
if [ -s "$D/rup" ]; then
	bench_emit vm-file-upload-16m MiB/s "$D/up" raw-vsock-file-write "$D/rup"
	bench_emit vm-file-download-16m MiB/s "$D/down" raw-vsock-file-read "$D/rdown"
else
	[ -s "$D/up" ] && bench_emit vm-file-upload-16m MiB/s "$D/up"
	[ -s "$D/down" ] && bench_emit vm-file-download-16m MiB/s "$D/down"
fi
[ -s "$D/code.ms" ] && bench_emit vm-code-first-run ms "$D/code.ms"
[ -s "$D/ctx.ms" ] && bench_emit vm-code-context-create ms "$D/ctx.ms"
true
