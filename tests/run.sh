#!/bin/bash
# tests/run.sh O: runs every test tier and prints one summary line last:
#   N passed, N failed, N skipped
#
# Tiers: unit (pure code), fuzz (a short smoke run of each target), kvm (tiny
# payloads on this machine's /dev/kvm), hostmode and e2e (sbx-init in host mode,
# sbxd natively), sdk (the JS SDK and the sbx CLI against sbxd), vm (guests
# really boot: natively where this machine's KVM boots Linux, else inside the
# qemu-x86_64 host VM).
#
# Each test prints PASS/FAIL/SKIP lines; a test that dies without printing a
# FAIL, or runs past its time limit, counts as one failure. Logs of every test
# go to O/test-logs/ (the latest run). SBX_TESTS=unit,fuzz,... runs only the tiers named.
set -uo pipefail
O=$(realpath "${1:-build}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
# Each run logs into a folder of its own (runs may overlap); test-logs
# points at the latest.
find "$O" -maxdepth 1 -name 'test-logs.*' -mmin +120 -exec rm -rf {} + 2>/dev/null
LOGS=$(mktemp -d "$O/test-logs.XXXXXX")
ln -sfn "$(basename "$LOGS")" "$O/test-logs"
export SBX_BUILD=$O SBX_SRC=$SRC SBX_IMAGES=$O/images
TIERS=${SBX_TESTS:-unit,fuzz,kvm,hostmode,usernet,e2e,sdk,appliance,vm}
pass=0 fail=0 skip=0

tier_on() { [[ ",$TIERS," == *",$1,"* ]]; }

# count TIER NAME LOG RC: tallies the lines of one test's log.
count() {
	local tier=$1 name=$2 log=$3 rc=$4 p f s
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	s=$(grep -c '^SKIP ' "$log")
	grep -E '^(PASS|FAIL|SKIP) ' "$log" | sed "s/^/[$tier] /"
	if [ "$f" -gt 0 ]; then
		grep -E '^  check failed|^FAIL ' "$log" | head -n 20 | sed "s/^/[$tier]   /" >&2
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		if [ "$rc" -eq 124 ]; then
			echo "[$tier] FAIL $name: timed out"
		else
			echo "[$tier] FAIL $name: exited with status $rc"
		fi
		tail -n 15 "$log" | sed "s/^/[$tier]   /" >&2
		f=$((f + 1))
	elif [ $((p + f + s)) -eq 0 ]; then
		echo "[$tier] FAIL $name: printed no result"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

# run_one TIER TIMEOUT PROG [ARGS]: runs a test program and counts its lines.
run_one() {
	local tier=$1 limit=$2 prog=$3 name log rc
	shift 3
	name=$(basename "$prog")
	log=$LOGS/$tier-$name.log
	timeout -k 10 "$limit" "$prog" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	count "$tier" "$name" "$log" "$rc"
}

if tier_on unit; then
	for t in "$O"/tests/unit/*; do
		[ -x "$t" ] && run_one unit 300 "$t"
	done
fi

if tier_on fuzz; then
	for t in "$O"/fuzz/*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		corpus=$SRC/tests/fuzz/corpus/$name
		work=$(mktemp -d)
		[ -d "$corpus" ] && cp -r "$corpus/." "$work/"
		log=$LOGS/fuzz-$name.log
		timeout -k 10 120 "$t" -max_total_time="${SBX_FUZZ_SECONDS:-15}" \
			-rss_limit_mb=2048 -print_final_stats=1 "$work" >"$log" 2>&1 </dev/null
		rc=$?
		rm -rf "$work"
		if [ $rc -eq 0 ]; then echo "PASS fuzz-smoke-$name" >>"$log"; fi
		count fuzz "$name" "$log" $rc
	done
fi

if tier_on kvm; then
	for t in "$O"/tests/kvm/*; do
		[ -x "$t" ] && run_one kvm 300 "$t"
	done
fi

for tier in hostmode usernet e2e sdk appliance; do
	tier_on $tier || continue
	for t in "$SRC"/tests/$tier/*.sh; do
		[ -e "$t" ] || continue
		# lib.sh is sourced by the others; any other script must run.
		[ "$(basename "$t")" = lib.sh ] && continue
		if [ ! -x "$t" ]; then
			echo "[$tier] FAIL $(basename "$t"): not executable, so it would never run"
			fail=$((fail + 1))
			continue
		fi
		run_one $tier 900 "$t"
	done
done

if tier_on vm; then
	where=$("$SRC/tests/guest-check.sh" "$O")
	log=$LOGS/vm.log
	case $where in
	native)
		timeout -k 10 3600 "$SRC/tests/vm-run.sh" >"$log" 2>&1 </dev/null
		count vm vm-run "$log" $?
		;;
	hostvm)
		# A host VM that stops before its job ends (vm.sh exits 3: the
		# VM wedged, not a test failing) is booted once more, and said so.
		# 1500 s: the tier itself takes ~13 min under TCG, and one script
		# that hits its own 600 s limit must not end the whole VM.
		for try in 1 2; do
			SBX_OUT=$O/vm-out SBX_VM_TIMEOUT=${SBX_VM_TIMEOUT:-1500} \
				SBX_VM_STALL=${SBX_VM_STALL:-$((${SBX_VM_TEST_TIMEOUT:-600} + 120))} timeout -k 10 1800 \
				"$SRC/boards/qemu-x86_64/vm.sh" "$O" exec \
				tests/vm-run.sh >"$log" 2>&1 </dev/null
			rc=$?
			[ $rc -eq 3 ] && [ $try -eq 1 ] || break
			echo "[vm] the host VM stopped before its job ended; booting it again" >&2
			cp "$O/vm-out/console.log" "$LOGS/vm-console-try1.log" 2>/dev/null
		done
		count vm "host-vm" "$log" $rc
		;;
	*)
		echo "SKIP vm-tier: $where" >"$log"
		count vm vm-tier "$log" 0
		;;
	esac
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
