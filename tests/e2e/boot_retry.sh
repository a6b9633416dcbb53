#!/bin/bash
# tests/e2e/boot_retry.sh: a VM that dies before it was ever ready (a guest
# triple fault under load: sbx-vmm's "crash" status) is booted once more,
# unseen by the client; one that dies twice in a row is answered 503, said
# plainly, and the next request boots it afresh. VM backend with the
# stand-in VMM (fake_vmm.py), told how often to crash through FAKE_VMM_CTL.
set -u
. "$(dirname "$0")/lib.sh"

e2e_fakevm_require e2e_boot_retry
E2E_DIR=$(mktemp -d /tmp/sbx-e2e.XXXXXX)
trap e2e_cleanup EXIT
CTL=$E2E_DIR/ctl
mkdir -p "$CTL"
export FAKE_VMM_AGENT=$SBX_BUILD/bin/sbx-init FAKE_VMM_DELAY=0.3 FAKE_VMM_CTL=$CTL
e2e_fakevm_launch || { fail retry_sbxd_start "$(cat "$E2E_DIR/sbxd.log")"; exit 1; }

# Crashes once before ready: the exec still succeeds, and the log says why.
echo 1 >"$CTL/crashes"
api PUT /v1/sandboxes/r1 >/dev/null
out=$(api POST /v1/sandboxes/r1/exec -d '{"command":"echo survived"}')
[ "$(status)" = 200 ] && [ "$(echo "$out" | json stdout)" = survived ] &&
	pass retry_crash_once_unseen || fail retry_crash_once_unseen "status $(status): $out"
grep -q "r1: its VM exited before it was ready (crash 4): booting it again" "$E2E_DIR/sbxd.log" &&
	pass retry_crash_once_logged || fail retry_crash_once_logged "$(tail -3 "$E2E_DIR/sbxd.log")"
[ "$(cat "$CTL/crashes")" = 0 ] && pass retry_crash_once_booted_twice ||
	fail retry_crash_once_booted_twice "crashes left: $(cat "$CTL/crashes")"

# Crashes twice: one retry only, then 503 with a plain reason.
echo 2 >"$CTL/crashes"
api PUT /v1/sandboxes/r2 >/dev/null
out=$(api POST /v1/sandboxes/r2/exec -d '{"command":"true"}')
[ "$(status)" = 503 ] &&
	echo "$out" | grep -q 'could not boot: its VM exited before it was ready (crash 4), twice' &&
	pass retry_crash_twice_503 || fail retry_crash_twice_503 "status $(status): $out"
grep -q "r2: its VM exited before it was ready (crash 4), the second time: giving up" \
	"$E2E_DIR/sbxd.log" && pass retry_crash_twice_logged ||
	fail retry_crash_twice_logged "$(tail -3 "$E2E_DIR/sbxd.log")"
[ "$(cat "$CTL/crashes")" = 0 ] && pass retry_crash_twice_no_loop ||
	fail retry_crash_twice_no_loop "crashes left: $(cat "$CTL/crashes")"

# The next request is a new boot attempt, with its own retry.
echo 1 >"$CTL/crashes"
[ "$(api POST /v1/sandboxes/r2/exec -d '{"command":"echo again"}' | json stdout)" = again ] &&
	pass retry_next_request_boots || fail retry_next_request_boots "$(cat "$E2E_DIR/body")"
still_serving retry_still_serving
exit ${CHECK_FAILED:-0}
