#!/bin/bash
# tests/e2e/stop_async.sh: nothing in a sandbox's lifecycle stalls sbxd's
# event loop: the workspace's mkfs (first boot), the guest's sync before a
# sleep, and a VMM that ignores SIGTERM (it is killed after a grace). Calls
# that arrive during a stop wait and boot the sandbox again; a sandbox
# deleted during a stop answers at once, and one created again under the
# same id starts empty. VM backend with the stand-in VMM (fake_vmm.py).
#
# No clock decides: each "sbxd answered meanwhile" is checked while the
# thing that holds the stop is provably still held (mkfs waiting for a go
# file, the VMM process alive, the sync's CONNECT gate closed). A loop that
# blocked on it would answer only after it was over.
set -u
. "$(dirname "$0")/lib.sh"

e2e_fakevm_require e2e_stop_async
MKFS=$(command -v mkfs.ext4)
E2E_DIR=$(mktemp -d /tmp/sbx-e2e.XXXXXX)
CTL=$E2E_DIR/ctl
BG=
done_all() {
	touch "$CTL/mkfs-go" "$FAKE_VMM_OK_GATE" 2>/dev/null
	rm -f "$CTL/ignore-term"
	for p in $BG; do kill "$p" 2>/dev/null; done
	e2e_cleanup
}
trap done_all EXIT
mkdir -p "$E2E_DIR/images" "$E2E_DIR/bin" "$CTL"
touch "$E2E_DIR/images/vmlinux" "$E2E_DIR/images/rootfs.ext4"
# mkfs.ext4 as sbxd finds it on its PATH: waits for a go-ahead (20 s at most)
cat >"$E2E_DIR/bin/mkfs.ext4" <<EOF
#!/bin/sh
[ -e "$CTL/mkfs-fail" ] && exit 1
touch "$CTL/mkfs-seen"
i=0
while [ ! -e "$CTL/mkfs-go" ] && [ \$i -lt 400 ]; do sleep 0.05; i=\$((i + 1)); done
exec "$MKFS" "\$@"
EOF
chmod +x "$E2E_DIR/bin/mkfs.ext4"
export FAKE_VMM_AGENT=$SBX_BUILD/bin/sbx-init FAKE_VMM_DELAY=0.3 FAKE_VMM_CTL=$CTL
export FAKE_VMM_OK_GATE=$CTL/ok-gate
touch "$FAKE_VMM_OK_GATE"
start_sbxd() { PATH="$E2E_DIR/bin:$PATH" e2e_fakevm_launch; }
start_sbxd
[ -n "$E2E_TOKEN" ] || { fail stop_sbxd_start "$(cat "$E2E_DIR/sbxd.log")"; exit 1; }

# health: does sbxd answer /v1/health (in time for a human)?
health() { curl -sS --max-time 5 --cacert "$E2E_CA" "$E2E_URL/v1/health" >/dev/null 2>&1; }
# wait_for FILE: up to 15 s
wait_for() { for _ in $(seq 300); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
# vmm_of KEY: the pid of the stand-in VMM whose disk is in folder KEY
vmm_of() { pgrep -f "fake_vmm.py.*--disk $E2E_DIR/state/sandboxes/$1/" | head -1; }
# key_of: the folder of the newest sandbox
key_of() { ls -t "$E2E_DIR/state/sandboxes/" | head -1; }
# exec_bg ID COMMAND OUT: an exec in the background
exec_bg() {
	curl -sS --max-time 60 --cacert "$E2E_CA" -H "Authorization: Bearer $E2E_TOKEN" \
		-H 'Content-Type: application/json' -d "{\"command\":\"$2\"}" \
		"$E2E_URL/v1/sandboxes/$1/exec" >"$3" 2>&1 &
	BG="$BG $!"
	LAST_BG=$!
}

# 1. Creation does not format the disk; the first boot does, off the loop.
api PUT /v1/sandboxes/s1 -d '{"sleepAfter":1000}' >/dev/null
expect_status stop_create 201
K1=$(key_of)
[ ! -e "$CTL/mkfs-seen" ] && pass stop_create_no_mkfs ||
	fail stop_create_no_mkfs "mkfs ran at creation"
exec_bg s1 'echo kept > f.txt; echo up' "$E2E_DIR/e1"
if wait_for "$CTL/mkfs-seen" && health && [ ! -e "$CTL/mkfs-go" ]; then
	pass stop_mkfs_does_not_block
else
	fail stop_mkfs_does_not_block "no mkfs at the first boot, or no answer while it ran"
fi
touch "$CTL/mkfs-go"
wait "$LAST_BG"
[ "$(json stdout <"$E2E_DIR/e1")" = up ] && pass stop_boot_after_mkfs ||
	fail stop_boot_after_mkfs "$(cat "$E2E_DIR/e1")"

# 2. The guest's sync before a sleep is held (its CONNECT waits): sbxd
# answers meanwhile, and the VMM gets no signal before the sync ended.
v1=$(vmm_of "$K1")
rm -f "$FAKE_VMM_OK_GATE" "$FAKE_VMM_OK_GATE.seen"
if wait_for "$FAKE_VMM_OK_GATE.seen" && health && kill -0 "$v1" 2>/dev/null; then
	pass stop_sync_does_not_block
else
	fail stop_sync_does_not_block "no sync at the sleep, or no answer while it waited"
fi
touch "$FAKE_VMM_OK_GATE"
for _ in $(seq 100); do kill -0 "$v1" 2>/dev/null || break; sleep 0.05; done
kill -0 "$v1" 2>/dev/null && fail stop_after_sync "VMM $v1 still runs" || pass stop_after_sync

# 3. A VMM that ignores SIGTERM: sbxd answers while it lingers, a call made
# meanwhile waits and boots the sandbox again, SIGKILL ends the old one.
api POST /v1/sandboxes/s1/exec -d '{"command":"true"}' >/dev/null # wake
v1=$(vmm_of "$K1")
touch "$CTL/ignore-term"
if wait_for "$CTL/term-seen.$v1" && health && kill -0 "$v1" 2>/dev/null; then
	pass stop_term_held_does_not_block
else
	fail stop_term_held_does_not_block "no SIGTERM seen, or no answer while the VMM lingered"
fi
exec_bg s1 'cat f.txt' "$E2E_DIR/e2"
for _ in $(seq 200); do kill -0 "$v1" 2>/dev/null || break; sleep 0.05; done
grep -q "s1: still running .* after SIGTERM: SIGKILL" "$E2E_DIR/sbxd.log" && ! kill -0 "$v1" 2>/dev/null &&
	pass stop_term_ignored_killed || fail stop_term_ignored_killed "$(tail -5 "$E2E_DIR/sbxd.log")"
wait "$LAST_BG"
[ "$(json stdout <"$E2E_DIR/e2")" = kept ] && pass stop_call_during_stop_reboots ||
	fail stop_call_during_stop_reboots "$(cat "$E2E_DIR/e2")"
api PATCH /v1/sandboxes/s1 -d '{"keepAlive":true}' >/dev/null

# 4. DELETE while the stop is held answers at once; the same id created
# again starts empty and keeps working once the old VMM is reaped.
api PUT /v1/sandboxes/s2 -d '{"sleepAfter":1000}' >/dev/null
K2=$(key_of)
api POST /v1/sandboxes/s2/exec -d '{"command":"echo old > old.txt"}' >/dev/null
v2=$(vmm_of "$K2")
wait_for "$CTL/term-seen.$v2"
# the old VMM's socket folder (its jail when sbxd runs as root): RUN/KEY/
run2=$(ps -o args= -p "$v2" | sed -n 's|.*--vsock \([^ ]*\)/sock.*|\1|p')
ino2=$(stat -c %i "$run2" 2>/dev/null)
api DELETE /v1/sandboxes/s2 >/dev/null
if [ "$(status)" = 200 ] && kill -0 "$v2" 2>/dev/null; then
	pass stop_delete_during_stop_answers
else
	fail stop_delete_during_stop_answers "status $(status); VMM alive: $(kill -0 "$v2" 2>/dev/null && echo yes || echo no)"
fi
api PUT /v1/sandboxes/s2 -d '{}' >/dev/null
expect_status stop_recreate 201
out=$(api POST /v1/sandboxes/s2/exec -d '{"command":"ls; echo new > new.txt"}')
[ "$(status)" = 200 ] && ! echo "$out" | grep -q old.txt && pass stop_recreate_empty ||
	fail stop_recreate_empty "$out"
# the new VMM has a socket folder of its own, not the old one's
[ -n "$ino2" ] && [ -d "$run2" ] && [ "$(stat -c %i "$run2")" != "$ino2" ] &&
	pass stop_recreate_own_socket_folder ||
	fail stop_recreate_own_socket_folder "folder '$run2' inode $ino2 -> $(stat -c %i "$run2" 2>&1)"
# the old VMM is killed, reaped, and its folder removed from the trash
trash_empty() { [ -d "$E2E_DIR/state/trash" ] && [ -z "$(ls "$E2E_DIR/state/trash")" ]; }
for _ in $(seq 200); do trash_empty && break; sleep 0.05; done
trash_empty && ! kill -0 "$v2" 2>/dev/null && pass stop_trash_emptied ||
	fail stop_trash_emptied "$(ls "$E2E_DIR/state/trash" 2>&1)"
dead=$(ls -d "$run2".dead.* 2>/dev/null)
[ -z "$dead" ] && pass stop_old_socket_folder_removed ||
	fail stop_old_socket_folder_removed "$dead: $(ls -la $dead)"
[ "$(api POST /v1/sandboxes/s2/exec -d '{"command":"cat new.txt"}' | json stdout)" = new ] &&
	pass stop_recreate_survives_old_reap || fail stop_recreate_survives_old_reap "$(cat "$E2E_DIR/body")"
rm -f "$CTL/ignore-term"

# 5. A mkfs that fails: 503, and the next request formats and boots.
touch "$CTL/mkfs-fail"
api PUT /v1/sandboxes/s3 >/dev/null
out=$(api POST /v1/sandboxes/s3/exec -d '{"command":"true"}')
[ "$(status)" = 503 ] && echo "$out" | grep -q 'could not boot: formatting its workspace failed' &&
	pass stop_mkfs_fails_503 ||
	fail stop_mkfs_fails_503 "status $(status): $out"
rm -f "$CTL/mkfs-fail"
[ "$(api POST /v1/sandboxes/s3/exec -d '{"command":"echo fine"}' | json stdout)" = fine ] &&
	pass stop_mkfs_next_boot || fail stop_mkfs_next_boot "$(cat "$E2E_DIR/body")"

# 6. Socket folders an sbxd had no time to remove (it stopped while an old
# VMM was still being reaped) go at the next start.
run=$(dirname "$run2")
mkdir -p "$run/0123456789abcdef.dead.7" && touch "$run/0123456789abcdef.dead.7/sock"
e2e_stop
start_sbxd
[ ! -e "$run/0123456789abcdef.dead.7" ] && [ -d "$run" ] && pass stop_dead_folders_cleared_at_start ||
	fail stop_dead_folders_cleared_at_start "$(ls "$run" 2>&1)"
still_serving stop_still_serving

# 7. sbxd's own stop (SIGTERM) stops its sandboxes in parallel: with three
# VMMs that ignore SIGTERM, all three have been asked while all three still
# run (one after the other, the first would be killed before the third
# was asked), and sbxd exits once they are gone, leaving none behind.
pids=
for i in 1 2 3; do
	api PUT /v1/sandboxes/p$i -d '{"keepAlive":true}' >/dev/null
	api POST /v1/sandboxes/p$i/exec -d '{"command":"true"}' >/dev/null
	pids="$pids $(vmm_of "$(key_of)")"
done
touch "$CTL/ignore-term"
kill -TERM "$E2E_PID"
asked=0
for p in $pids; do wait_for "$CTL/term-seen.$p" && asked=$((asked + 1)); done
alive=0
for p in $pids; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
[ "$asked" = 3 ] && [ "$alive" = 3 ] && pass stop_shutdown_parallel ||
	fail stop_shutdown_parallel "asked $asked of 3 while $alive of 3 ran ($pids)"
wait "$E2E_PID"
E2E_PID=
left=0
for p in $pids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
[ "$left" = 0 ] && grep -q "stopping every sandbox" "$E2E_DIR/sbxd.log" && pass stop_shutdown_all_gone ||
	fail stop_shutdown_all_gone "$left VMMs left: $(tail -3 "$E2E_DIR/sbxd.log")"
rm -f "$CTL/ignore-term"
exit ${CHECK_FAILED:-0}
