#!/bin/bash
# tests/e2e/vm_backend.sh: sbxd's VM backend (net/backend_vm.c and the
# supervisor in hv/) with a stand-in VMM (fake_vmm.py: sbx-init in host
# mode behind the vsock handshake), so it runs where guests cannot boot:
# workspace disk made at creation, asynchronous boot (other requests are
# served meanwhile), mkfs at the first boot and never again, sleep and wake
# with files intact, a VMM crash in the
# middle of a stream (503 / SSE error, next request boots again), and a VMM
# that fails to boot (503).
set -u
. "$(dirname "$0")/lib.sh"

e2e_fakevm_require e2e_vm_backend
E2E_DIR=$(mktemp -d /tmp/sbx-e2e.XXXXXX)
trap e2e_cleanup EXIT
export FAKE_VMM_AGENT=$SBX_BUILD/bin/sbx-init FAKE_VMM_DELAY=1.5
export FAKE_VMM_OK_GATE=$E2E_DIR/ok-gate # open, but for the dial case below
touch "$FAKE_VMM_OK_GATE"
e2e_fakevm_launch
[ -n "$E2E_TOKEN" ] && pass vm_sbxd_start || { fail vm_sbxd_start "$(cat "$E2E_DIR/sbxd.log")"; exit 1; }

S=/v1/sandboxes/vm1
api PUT $S -d '{"sleepAfter":2000}' >/dev/null; expect_status vm_create 201
# Creation makes a sparse disk, marked new; the first boot formats it.
disk=$(ls "$E2E_DIR"/state/sandboxes/*/disk.img 2>/dev/null | head -1)
if [ -n "$disk" ] && [ "$(stat -c %s "$disk")" = $((64 << 20)) ] &&
	[ "$(stat -c %b "$disk")" -lt $((64 << 11)) ] && [ -e "$(dirname "$disk")/disk.new" ]; then
	pass vm_workspace_disk_sparse_new
else
	fail vm_workspace_disk_sparse_new "$disk"
fi
# the file system's UUID (superblock 1024 + 104): a second mkfs would change it
fs_uuid() { od -An -tx1 -j1128 -N16 "$disk" | tr -d ' \n'; }

# First use boots; meanwhile sbxd keeps answering.
api POST $S/exec -d '{"command":"echo booted > f.txt; cat f.txt"}' >"$E2E_DIR/first" &
bootpid=$!
sleep 0.3
t0=$(date +%s%N)
still_serving vm_serves_during_boot
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt 1000 ] && pass vm_boot_does_not_block || fail vm_boot_does_not_block
wait $bootpid
[ "$(json stdout <"$E2E_DIR/first")" = booted ] && pass vm_exec_after_boot ||
	fail vm_exec_after_boot "$(cat "$E2E_DIR/first")"
[ "$(api GET $S | json status)" = running ] && pass vm_running || fail vm_running
if od -An -tx1 -j1080 -N2 "$disk" | grep -q '53 ef' && [ ! -e "$(dirname "$disk")/disk.new" ]; then
	pass vm_first_boot_formats
else
	fail vm_first_boot_formats "$(ls "$(dirname "$disk")")"
fi
uuid=$(fs_uuid)

# Sleep after idle, wake with files intact.
sleep 3.5
[ "$(api GET $S | json status)" = stopped ] && pass vm_sleeps || fail vm_sleeps "$(cat "$E2E_DIR/body")"
[ "$(api POST $S/exec -d '{"command":"cat f.txt"}' | json stdout)" = booted ] &&
	pass vm_wake_files_intact || fail vm_wake_files_intact "$(cat "$E2E_DIR/body")"
[ -n "$uuid" ] && [ "$(fs_uuid)" = "$uuid" ] && pass vm_wake_no_mkfs ||
	fail vm_wake_no_mkfs "file system UUID $uuid became $(fs_uuid)"

# VMM crash during a stream.
api PATCH $S -d '{"keepAlive":true}' >/dev/null
python3 "$SBX_SRC/tests/e2e/sse.py" "$E2E_URL$S/exec" "$E2E_CA" "$E2E_TOKEN" \
	'{"command":"echo before; sleep 20"}' >"$E2E_DIR/sse" 2>&1 &
ssepid=$!
sleep 1
vmm=$(pgrep -f "fake_vmm.py.*--vsock $E2E_DIR/" | head -1)
[ -n "$vmm" ] && kill -9 "$vmm"
wait $ssepid
grep -q ' error .*unavailable' "$E2E_DIR/sse" && pass vm_crash_sse_error ||
	fail vm_crash_sse_error "$(cat "$E2E_DIR/sse")"
sleep 0.3
[ "$(api POST $S/exec -d '{"command":"cat f.txt"}' | json stdout)" = booted ] &&
	pass vm_crash_next_boots || fail vm_crash_next_boots "$(cat "$E2E_DIR/body")"

# A VMM slow to answer CONNECT: sbxd serves others while the dial waits
# (no clock: the answer is let through only after /v1/health answered; a
# dial that blocked the loop would have given up by then).
rm -f "$FAKE_VMM_OK_GATE" "$FAKE_VMM_OK_GATE.seen"
api POST $S/exec -d '{"command":"echo dialed"}' >"$E2E_DIR/dial" &
dialpid=$!
for _ in $(seq 200); do [ -e "$FAKE_VMM_OK_GATE.seen" ] && break; sleep 0.05; done
if [ -e "$FAKE_VMM_OK_GATE.seen" ] &&
	curl -sS --max-time 20 --cacert "$E2E_CA" "$E2E_URL/v1/health" >/dev/null 2>&1; then
	touch "$FAKE_VMM_OK_GATE"
	wait $dialpid
	[ "$(json stdout <"$E2E_DIR/dial")" = dialed ] && pass vm_dial_does_not_block ||
		fail vm_dial_does_not_block "exec: $(cat "$E2E_DIR/dial")"
else
	touch "$FAKE_VMM_OK_GATE"
	wait $dialpid
	fail vm_dial_does_not_block "no CONNECT seen, or no answer to /v1/health meanwhile"
fi

api DELETE $S >/dev/null; expect_status vm_delete 200
[ -z "$(ls "$E2E_DIR"/state/sandboxes/ 2>/dev/null)" ] && pass vm_delete_removes_disk ||
	fail vm_delete_removes_disk

# A VMM that cannot boot.
e2e_stop
FAKE_VMM_FAIL=1 e2e_fakevm_launch
api PUT /v1/sandboxes/bad >/dev/null
api POST /v1/sandboxes/bad/exec -d '{"command":"true"}' >/dev/null; expect_status vm_boot_failure_503 503
still_serving vm_boot_failure_still_serving

exit ${CHECK_FAILED:-0}
