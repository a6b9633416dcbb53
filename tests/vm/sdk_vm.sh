#!/bin/bash
# tests/vm/sdk_vm.sh: the client test suites (tests/sdk/js.sh and
# examples.sh; cli.sh on request) against sbxd with the vm backend, where
# guests boot: every SDK call and seed example then reaches a real microVM
# through sbx-vmm and sbx-init. Each suite starts its own sbxd (tests/sdk/lib.sh with
# SBX_SDK_BACKEND=vm); the suites run side by side (guests boot slowly under
# emulation, mostly on one CPU each) and their result lines get a "vm-"
# prefix so they do not collide with the native run of the same suites. In
# this run a few checks SKIP that would each boot one more VM to check what
# does not depend on the backend (the native run does them). At the end,
# no sbx-vmm of these suites may be left running.
#
# Env: SBX_SDK_VM_SUITES (default "js examples") picks the suites. cli.sh
# passes here too but makes the run about half again as long (past the vm
# tier's 600 s per script on a loaded machine): "js examples cli" adds it.
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"

for f in vmlinux initramfs.cpio rootfs.ext4; do
	[ -e "$SBX_IMAGES/$f" ] || { skip vm-sdk "no $SBX_IMAGES/$f"; exit 0; }
done
[ -w /dev/kvm ] || { skip vm-sdk "no usable /dev/kvm"; exit 0; }
[ -x "$SBX_BUILD/bin/sbx-vmm" ] || { skip vm-sdk "$SBX_BUILD/bin/sbx-vmm not built"; exit 0; }

export SBX_SDK_BACKEND=vm SBX_IMAGES SBX_BUILD SBX_SRC

# vmm_pids: the sbx-vmm processes started from the suites' state folders
# (tests/sdk/lib.sh makes them as /tmp/sbx-sdk.*), by pid.
vmm_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = sbx-vmm ] || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q '/tmp/sbx-sdk\.' && echo "${p#/proc/}"
	done
}

D=$(mktemp -d /tmp/sdk-vm.XXXXXX)
SUITES=${SBX_SDK_VM_SUITES:-js examples}
PIDS=()
declare -A NAME=() TOOK=()

# report: each suite's lines, result names prefixed; the details of
# failures (indented) pass as they are.
report() {
	local suite
	for suite in $SUITES; do
		[ -e "$D/$suite.log" ] || continue
		sed -E 's/^(PASS|FAIL|SKIP) /\1 vm-/' "$D/$suite.log"
		echo "    sdk_vm: $suite ended after ${TOOK[$suite]:-?} s"
	done
}

# stop_suites: TERM to each suite still running (its own trap stops its
# sbxd and node), then waits for them.
stop_suites() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}

# Stopped by a time limit: what ran so far still counts, and the stop fails.
on_term() {
	local running=${NAME[*]}
	stop_suites
	report
	fail vm-sdk "stopped by a signal while these suites ran: $running"
	exit 1
}
trap 'stop_suites; rm -rf "$D"' EXIT
trap on_term TERM

t0=$(date +%s)
for suite in $SUITES; do
	"$SBX_SRC/tests/sdk/$suite.sh" >"$D/$suite.log" 2>&1 &
	PIDS+=($!)
	NAME[$!]=$suite
done
# wait -n -p: as each suite ends, when (for the report; not a check).
for _ in "${PIDS[@]}"; do
	wait -n -p done_pid
	TOOK[${NAME[$done_pid]}]=$(($(date +%s) - t0))
	unset "NAME[$done_pid]"
done
PIDS=()
report

left=$(vmm_pids | tr '\n' ' ')
if [ -z "$left" ]; then
	pass vm-sdk-no-vmm-left
else
	fail vm-sdk-no-vmm-left "sbx-vmm still running: pids $left"
fi
