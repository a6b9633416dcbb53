#!/bin/bash
# tests/vm-run.sh: runs every tests/vm/*.sh where guests boot (inside the host
# VM, or natively on hardware KVM) and prints their PASS/FAIL/SKIP lines.
# A test that dies without printing a FAIL counts as one failure.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
for t in "$SRC"/tests/vm/*.sh; do
	name=$(basename "$t")
	[ "$name" = lib.sh ] && continue
	if [ ! -x "$t" ]; then
		echo "FAIL $name: not executable, so it would never run"
		continue
	fi
	# Progress on the console, so a post-mortem shows where a VM stopped.
	echo "vm-run: $name" >/dev/console 2>/dev/null
	log=$(mktemp)
	timeout -k 10 "${SBX_VM_TEST_TIMEOUT:-600}" "$t" >"$log" 2>&1 </dev/null
	rc=$?
	cat "$log"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
		echo "FAIL $name: exited with status $rc"
	fi
	rm -f "$log"
done
