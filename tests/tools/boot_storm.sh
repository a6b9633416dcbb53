#!/bin/bash
# tests/tools/boot_storm.sh: boots many sbx-vmm guests at once, round after
# round, the way sbxd starts sandboxes (1 vCPU, small memory, rootfs and
# workspace disk, usernet, jailed when root), and keeps the evidence of every
# guest that did not make it: its stderr (sbx-vmm's crash report), console
# log and, when sbx-vmm has --crash-dump, its guest memory. Not a pass/fail
# test: a tool to reproduce boot failures that show up only under load.
#
# A guest counts as ok when it reported ready (--ready-fd), answered an exec
# and ended with status 5 on SIGTERM. Everything else is kept in
# $SBX_OUT/storm/rROUND-gI/ and counted by its exit status.
#
# Env: SBX_STORM_N (guests at once, 16), SBX_STORM_ROUNDS (4),
# SBX_STORM_MEM (MiB, 128), SBX_STORM_LIMIT (s per boot, 240),
# SBX_STORM_VMM (sbx-vmm binary, $SBX_BUILD/bin/sbx-vmm), SBX_STORM_CMDLINE
# (appended to the guest command line, e.g. loglevel=7), SBX_STORM_NET (1),
# SBX_STORM_JAIL (1), SBX_STORM_DUMP (1: --crash-dump when available),
# SBX_STORM_TRACE (0; 1: trace KVM's HLT and shutdown exits, injected
# interrupts and exceptions in the host kernel's ftrace ring, and keep the
# ring of a crash: on AMD a triple-faulted vCPU is reset before sbx-vmm can
# read it, so the guest RIPs of its last exits are the best evidence).
# SBX_BUILD, SBX_SRC, SBX_IMAGES, SBX_OUT as vm.sh exports them. Run it in
# the host VM: SBX_OUT=/tmp/storm boards/qemu-x86_64/vm.sh build exec
# tests/tools/boot_storm.sh (not part of make test: it takes minutes).
set -uo pipefail
N=${SBX_STORM_N:-16} ROUNDS=${SBX_STORM_ROUNDS:-4} MEM=${SBX_STORM_MEM:-128}
LIMIT=${SBX_STORM_LIMIT:-240} VMM=${SBX_STORM_VMM:-$SBX_BUILD/bin/sbx-vmm}
NET=${SBX_STORM_NET:-1} JAIL=${SBX_STORM_JAIL:-1} DUMP=${SBX_STORM_DUMP:-1}
TRACE=${SBX_STORM_TRACE:-0} T=/sys/kernel/tracing
IMG=$SBX_IMAGES
ROOTFS=${SBX_ROOTFS_DEV:-$IMG/rootfs.ext4}
AGENT=$SBX_SRC/tests/lib/agent.py
OUT=${SBX_OUT:-/tmp}/storm
say() { echo "boot storm: $*"; }
[ -x "$VMM" ] && [ -w /dev/kvm ] && [ -e "$IMG/vmlinux" ] || { say "no sbx-vmm, KVM or images"; exit 2; }
mkdir -p "$OUT"
tmp=$(mktemp -d /tmp/storm.XXXXXX)
chmod 755 "$tmp"
cleanup() {
	local p
	[ "$TRACE" = 1 ] && [ -e $T/tracing_on ] && echo 0 >$T/tracing_on && echo 0 >$T/events/enable
	for p in $(jobs -p) $(cat "$tmp"/*/pid 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ "$T" = "$tmp/tracing" ] && umount $T
	rm -rf "$tmp"
}
trap cleanup EXIT
echo "nameserver 127.0.0.1" >"$tmp/resolv.conf"
extra=()
[ "$NET" = 1 ] && extra+=(--net)
[ -n "${SBX_STORM_CMDLINE:-}" ] && extra+=(--cmdline "$SBX_STORM_CMDLINE")
dump=0
[ "$DUMP" = 1 ] && "$VMM" --help 2>&1 | grep -q -- --crash-dump && dump=1
if [ "$TRACE" = 1 ]; then
	[ -e $T/trace ] || mount -t tracefs nodev $T 2>/dev/null ||
		{ T=$tmp/tracing && mkdir -p $T && mount -t tracefs nodev $T; }
	if [ -w $T/trace ]; then
		echo 0 >$T/tracing_on
		echo 16384 >$T/buffer_size_kb
		# every event is slow under TCG: of the exits, HLT (0x78) and
		# SHUTDOWN (0x7f) on SVM, VMX's HLT (12) and triple fault (2)
		echo 'exit_reason == 120 || exit_reason == 127 || exit_reason == 12 || exit_reason == 2' \
			>$T/events/kvm/kvm_exit/filter
		for e in kvm_exit kvm_inj_exception kvm_inj_virq; do
			echo 1 >$T/events/kvm/$e/enable
		done
		echo >$T/trace
		echo 1 >$T/tracing_on
	else
		say "no tracefs: tracing off"
		TRACE=0
	fi
fi
for ((i = 0; i < N; i++)); do # one workspace disk per slot, reused each round
	truncate -s 64M "$tmp/ws$i.img" && mkfs.ext4 -q -F "$tmp/ws$i.img"
done

# one ROUND I: boots guest I of round ROUND; prints "ROUND I STATUS WHAT MS".
one() {
	local r=$1 i=$2 d=$tmp/r$1-g$2 args rc what=ok t0 ms j pid
	mkdir -p "$d/jail" && chmod 777 "$d/jail"
	args=(--kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" --rootfs "$ROOTFS"
		--disk "$tmp/ws$i.img" --vsock "$d/jail/sock" --console "$d/console.log"
		--mem "$MEM" --cpus 1 --ready-fd 3 "${extra[@]}")
	[ "$dump" = 1 ] && args+=(--crash-dump "$d/guest.mem")
	[ "$JAIL" = 1 ] && [ "$(id -u)" = 0 ] &&
		args+=(--jail-uid $((300000 + i)) --jail-gid $((300000 + i)) --jail-dir "$d/jail")
	t0=${EPOCHREALTIME/[.,]/}
	if [ "$NET" = 1 ]; then
		unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$tmp/resolv.conf" \
			"$VMM" "${args[@]}" 3>"$d/ready" 2>"$d/stderr" &
	else
		"$VMM" "${args[@]}" 3>"$d/ready" 2>"$d/stderr" &
	fi
	pid=$!
	echo "$pid" >"$d/pid"
	for ((j = 0; j < LIMIT * 10; j++)); do
		grep -q '^ready' "$d/ready" 2>/dev/null && break
		# the vCPU thread ids, to find this VM in the trace
		[ $((j % 10)) = 5 ] && [ ! -s "$d/tids" ] &&
			grep -l '^vcpu' /proc/"$pid"/task/*/comm 2>/dev/null | cut -d/ -f5 >"$d/tids"
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
	if ! grep -q '^ready' "$d/ready" 2>/dev/null; then
		kill -0 "$pid" 2>/dev/null && what=timeout || what=died
	elif [ "$(python3 "$AGENT" exec "$d/jail/sock" "echo storm-$r-$i" 2>/dev/null)" != "storm-$r-$i" ]; then
		what=noexec
	fi
	kill -TERM "$pid" 2>/dev/null
	for ((j = 0; j < 100; j++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	[ "$what" = ok ] && [ "$rc" != 5 ] && what=badexit
	echo "$r $i $rc $what $ms"
	if [ "$what" != ok ]; then
		mkdir -p "$OUT/r$r-g$i"
		if [ "$TRACE" = 1 ] && [ "$rc" = 4 ]; then # keep the ring before it wraps
			echo 0 >$T/tracing_on
			zstd -q -1 $T/trace -o "$OUT/r$r-g$i/trace.zst" 2>/dev/null
			echo 1 >$T/tracing_on
		fi
		cp "$d/stderr" "$d/console.log" "$d/tids" "$OUT/r$r-g$i/" 2>/dev/null
		[ -s "$d/guest.mem" ] && zstd -q -1 "$d/guest.mem" -o "$OUT/r$r-g$i/guest.mem.zst" 2>/dev/null
	fi
	rm -rf "$d"
}

say "$N guests x $ROUNDS rounds, ${MEM} MiB, net $NET, jail $JAIL, crash dump $dump, vmm $VMM"
for ((r = 0; r < ROUNDS; r++)); do
	t0=$SECONDS
	for ((i = 0; i < N; i++)); do one "$r" "$i" >"$tmp/res-$r-$i" & done
	wait
	cat "$tmp"/res-"$r"-* >>"$OUT/results.txt"
	say "round $r: $(cat "$tmp"/res-"$r"-* | awk '{print $4 "/" $3}' | sort | uniq -c | tr '\n' ' ')in $((SECONDS - t0)) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
say "total: $(awk '{print $4 "/" $3}' "$OUT/results.txt" | sort | uniq -c | tr '\n' ' ')"
grep -h . "$OUT"/r*/stderr 2>/dev/null | sort | uniq -c | sort -rn | head -n 20
exit 0 # a tool: what it found is in its output and $SBX_OUT/storm
