#!/bin/bash
# tests/vm/vmm_boot.sh: sbx-vmm boots the real guest (kernel, initramfs with
# sbx-init, Debian rootfs) where KVM boots Linux (inside the host VM here).
#
# Cases: boot to sbx-init and HELLO over vsock (CONNECT 1024), 2 and 4 vCPUs
# (nproc in the guest), a workspace file persists across a VM restart, guest
# reboot and guest poweroff end the VMM with statuses 1 and 0, SIGTERM gives
# 5, kill -9 leaves no process behind and the socket path is reusable, a
# jailed VMM (own uid, chroot, seccomp) still serves the guest, a guest that
# triple-faults gets a crash report and a --crash-dump from a jailed VMM
# (status 4, not death by SIGSYS), and floods
# (the guest writing its console flat out; guest → host vsock streams that
# the host never reads, host- and guest-initiated) leave the VMM's own memory
# within a bound and the agent answering.
#
# Env: SBX_BUILD, SBX_SRC, SBX_IMAGES (vmlinux, initramfs.cpio, rootfs.ext4),
# SBX_ROOTFS_DEV (the rootfs as a block device inside the host VM, optional).
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"
. "$SBX_SRC/tests/lib/vmm.sh"
VMM=$SBX_BUILD/bin/sbx-vmm
IMG=$SBX_IMAGES
ALL="vmm-boot vmm-ready-fd vmm-boot-bzimage vmm-vsock-stream vmm-vsock-upload vmm-smp-2 vmm-smp-4 vmm-workspace-persists vmm-guest-reboot vmm-guest-poweroff vmm-sigterm vmm-kill9 vmm-jail vmm-crash-report vmm-flood-console vmm-flood-vsock"
[ -x "$VMM" ] || skip_all "sbx-vmm not built"
for f in vmlinux initramfs.cpio; do [ -e "$IMG/$f" ] || skip_all "no $IMG/$f"; done
[ -w /dev/kvm ] || skip_all "no usable /dev/kvm"
command -v python3 >/dev/null || skip_all "no python3 for the vsock client"
ROOTFS=${SBX_ROOTFS_DEV:-$IMG/rootfs.ext4}
[ -e "$ROOTFS" ] || skip_all "no rootfs"

tmp=$(mktemp -d /tmp/vmm_boot.XXXXXX)
chmod 755 "$tmp"
pid=
bg= # helper processes of the flood cases
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	for p in $bg; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# The host side of the guest protocol over the VMM's vsock socket.
AGENT=$SBX_SRC/tests/lib/agent.py

# start NAME ARGS...: starts sbx-vmm in the background; $pid, $sock, $log.
start() {
	local name=$1
	shift
	sock=$tmp/$name.sock
	log=$tmp/$name.console
	# On the console too: the host VM has wedged inside this script a few
	# times under load, and its console log is all a post-mortem has.
	echo "vmm_boot: $name" >/dev/console 2>/dev/null
	"$VMM" --kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" --rootfs "$ROOTFS" \
		--vsock "$sock" --console "$log" --mem 512 "$@" 2>"$tmp/$name.stderr" &
	pid=$!
}

# finish: waits for the VMM (up to 60 s) and sets $rc; kills it on timeout.
finish() {
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null # no "Killed" job notice
	rc=$?
	pid=
}

hello() { python3 "$AGENT" hello "$sock" "${1:-120}"; }
gexec() { python3 "$AGENT" exec "$sock" "$1"; }
why() { echo "$1 (console: $(tail -n 3 "$log" 2>/dev/null | tr '\n' '|'); stderr: $(tail -n 2 "$tmp/$2.stderr" 2>/dev/null | tr '\n' '|'))"; }

# sbx-init reaches port 0x440 through ioperm(2): the kernel must have it.
ioperm=
grep -q '^CONFIG_X86_IOPL_IOPERM=y' "$IMG/kernel.config" 2>/dev/null ||
	ioperm="guest kernel lacks CONFIG_X86_IOPL_IOPERM (no port 0x440 from user space)"

# 1. Boot to sbx-init and HELLO over vsock; readiness reaches --ready-fd
#    (boot-timer port, or the VMM's vsock probe when the port is unreachable).
t0=$(date +%s%N)
start boot --ready-fd 3 3>"$tmp/boot.ready"
if hello; then
	echo "  sbx-vmm start to HELLO answered: $((($(date +%s%N) - t0) / 1000000)) ms"
	pass vmm-boot
	for ((i = 0; i < 30; i++)); do # the probe may answer just after HELLO
		grep -q '^ready [0-9]*$' "$tmp/boot.ready" && break
		sleep 0.1
	done
	if grep -q '^ready [0-9]*$' "$tmp/boot.ready"; then
		pass vmm-ready-fd
		echo "  $(grep -o 'guest ready after .*' "$tmp/boot.stderr" | head -n 1)"
	else
		fail vmm-ready-fd "nothing on --ready-fd: '$(cat "$tmp/boot.ready")'"
	fi
else
	fail vmm-boot "$(why "no HELLO answer" boot)"
	fail vmm-ready-fd "no boot"
fi
kill -TERM "$pid"
finish
[ "$rc" = 5 ] && pass vmm-sigterm || fail vmm-sigterm "exit status $rc, want 5"

# 1b. The same kernel as a bzImage (64-bit entry of the protected-mode part).
if [ -e "$IMG/bzImage" ]; then
	sock=$tmp/bz.sock
	log=$tmp/bz.console
	"$VMM" --kernel "$IMG/bzImage" --initrd "$IMG/initramfs.cpio" --rootfs "$ROOTFS" \
		--vsock "$sock" --console "$log" --mem 512 2>"$tmp/bz.stderr" &
	pid=$!
	if hello; then pass vmm-boot-bzimage; else fail vmm-boot-bzimage "$(why "no HELLO answer" bz)"; fi
	kill -TERM "$pid"
	finish
else
	skip vmm-boot-bzimage "no $IMG/bzImage"
fi

# 1c. A stream through vsock credit flow control: 32 MiB of guest stdout.
start stream
t0=$(date +%s%N)
out=$(hello && python3 "$AGENT" execcount "$sock" "head -c 33554432 /dev/zero")
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$out" = 33554432 ]; then
	pass vmm-vsock-stream
	echo "  32 MiB guest to host in $ms ms (with boot)"
else
	fail vmm-vsock-stream "$(why "got '$out' bytes" stream)"
fi
# and 16 MiB host to guest (FILE_WRITE), read back by size
out=$(python3 "$AGENT" write "$sock" /tmp/sbx-upload 16777216 &&
	gexec "wc -c < /tmp/sbx-upload")
if [ "$out" = "16777216
16777216" ]; then
	pass vmm-vsock-upload
else
	fail vmm-vsock-upload "$(why "got '$out'" stream)"
fi
kill -TERM "$pid"
finish

# 2. SMP: the guest sees every vCPU.
for n in 2 4; do
	start smp$n --cpus "$n"
	out=$(hello && gexec nproc)
	if [ "$out" = "$n" ]; then pass "vmm-smp-$n"; else fail "vmm-smp-$n" "$(why "nproc said '$out'" smp$n)"; fi
	kill -TERM "$pid"
	finish
done

# 3. A workspace file persists across a VM restart.
truncate -s 256M "$tmp/ws.img" && mkfs.ext4 -q -F "$tmp/ws.img"
word=persist-$RANDOM$RANDOM
start ws1 --disk "$tmp/ws.img"
out1=$(hello && gexec "echo $word > /root/sbx-persist.txt && sync && echo done")
kill -TERM "$pid"
finish
start ws2 --disk "$tmp/ws.img"
out2=$(hello && gexec "cat /root/sbx-persist.txt")
kill -TERM "$pid"
finish
if [ "$out1" = done ] && [ "$out2" = "$word" ]; then
	pass vmm-workspace-persists
else
	fail vmm-workspace-persists "$(why "wrote '$out1', read back '$out2'" ws2)"
fi

# 4. Guest reboot (reboot(2), kernel reboot=k → i8042 reset) ends the VMM with 1.
start reboot
hello && gexec "python3 -c 'import ctypes; ctypes.CDLL(None).sync(); ctypes.CDLL(None).reboot(0x01234567)'" >/dev/null
finish
[ "$rc" = 1 ] && pass vmm-guest-reboot || fail vmm-guest-reboot "$(why "exit status $rc, want 1" reboot)"

# 5. Guest poweroff: 0x02 to the boot-timer port 0x440 ends the VMM with 0.
#    (sbx-init's job at shutdown; done here by hand with ioperm + an out insn.)
if [ -n "$ioperm" ]; then
	skip vmm-guest-poweroff "$ioperm"
else
start poweroff
hello && gexec "python3 -c '
import ctypes, mmap
libc = ctypes.CDLL(None)
libc.sync()
assert libc.ioperm(0x440, 1, 1) == 0
code = bytes([0x66, 0xba, 0x40, 0x04, 0xb0, 0x02, 0xee, 0xc3])  # mov dx,0x440; mov al,2; out dx,al; ret
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
ctypes.CFUNCTYPE(None)(addr)()
'" >/dev/null
finish
[ "$rc" = 0 ] && pass vmm-guest-poweroff || fail vmm-guest-poweroff "$(why "exit status $rc, want 0" poweroff)"
fi

# 6. kill -9 leaves nothing behind; the socket path can be used again.
start kill9
if hello; then
	vpid=$pid
	{ kill -9 "$vpid"; finish; sleep 0.2; } 2>/dev/null # no "Killed" job notice
	if [ -e "/proc/$vpid" ]; then
		fail vmm-kill9 "process $vpid still there"
	else
		start kill9
		if hello; then pass vmm-kill9; else fail vmm-kill9 "$(why "no restart on the same socket" kill9)"; fi
		kill -TERM "$pid"
		finish
	fi
else
	fail vmm-kill9 "$(why "no HELLO answer" kill9)"
	kill -9 "$pid"
	finish
fi

# 7. Jailed: own uid, chroot into a folder holding the socket, seccomp.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$tmp/jail"
	chmod 777 "$tmp/jail"
	sock=$tmp/jail/v.sock
	log=$tmp/jail.console
	"$VMM" --kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" --rootfs "$ROOTFS" \
		--vsock "$sock" --console "$log" --mem 512 \
		--jail-uid 65534 --jail-gid 65534 --jail-dir "$tmp/jail" 2>"$tmp/jail.stderr" &
	pid=$!
	if hello; then
		uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
		sec=$(awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")
		# vCPU threads stack a second, stricter filter on themselves
		vf=$(cat /proc/"$pid"/task/*/status | awk '/^Seccomp_filters:/ { print $2 }' | sort -n | tail -n 1)
		if [ "$uid" = 65534 ] && [ "$sec" = 2 ] && [ "${vf:-2}" = 2 ]; then
			pass vmm-jail
		else
			fail vmm-jail "uid $uid seccomp $sec vcpu filters $vf"
		fi
	else
		fail vmm-jail "$(why "no HELLO answer" jail)"
	fi
	kill -TERM "$pid"
	finish
else
	skip vmm-jail "needs root"
fi

# 7b. A guest that triple-faults (a payload that loads an empty IDT and
#     traps): status 4, the crash report on stderr (registers, the console
#     tail) and guest RAM in --crash-dump, from a jailed VMM whose seccomp
#     lists must allow the report's KVM_GET_* ioctls. On AMD, KVM resets the
#     vCPU on a triple fault, so the registers shown are the reset state.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$tmp/cjail"
	chmod 777 "$tmp/cjail"
	python3 - "$tmp/crash.elf" <<'PY'
import struct, sys
# mov $0x3f8,%dx; mov $'T',%al; out; mov $'F',%al; out; lidt idt0(%rip); int3; hlt; idt0: 0
code = bytes.fromhex("66baf803" "b054ee" "b046ee" "0f011d02000000" "cc" "f4") + bytes(10)
eh = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1,
                 0x100000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
ph = struct.pack("<IIQQQQQQ", 1, 7, 120, 0xffffffff80100000, 0x100000,
                 len(code), 0x1000, 0x1000)
open(sys.argv[1], "wb").write(eh + ph + code)
PY
	"$VMM" --kernel "$tmp/crash.elf" --vsock "$tmp/cjail/v.sock" --mem 64 \
		--console "$tmp/crash.console" --crash-dump "$tmp/crash.mem" \
		--jail-uid 65534 --jail-gid 65534 --jail-dir "$tmp/cjail" 2>"$tmp/crash.stderr" &
	pid=$!
	finish
	err=$(cat "$tmp/crash.stderr")
	code=$(dd if="$tmp/crash.mem" bs=1 skip=$((0x100000)) count=4 2>/dev/null | od -An -tx1 | tr -d ' ')
	if [ "$rc" != 4 ]; then
		fail vmm-crash-report "exit status $rc, want 4 (stderr: $(tail -n 3 "$tmp/crash.stderr" | tr '\n' '|'))"
	elif ! grep -Eq 'vcpu 0: (triple fault|KVM internal error)' <<<"$err" ||
	     ! grep -q 'vcpu 0: rip [0-9a-f]* rsp' <<<"$err" ||
	     ! grep -q 'vcpu 0: cr0 [0-9a-f]* cr2' <<<"$err" ||
	     ! grep -q 'console tail: "TF"' <<<"$err"; then
		fail vmm-crash-report "report incomplete: $(tr '\n' '|' <<<"$err")"
	elif [ "$(stat -c %s "$tmp/crash.mem" 2>/dev/null)" != $((64 << 20)) ] || [ "$code" != 66baf803 ]; then
		fail vmm-crash-report "crash dump: size $(stat -c %s "$tmp/crash.mem" 2>/dev/null), payload bytes '$code'"
	else
		pass vmm-crash-report
		echo "  $(grep -m1 -E 'vcpu 0: (triple|KVM)' <<<"$err"); $(grep -m1 -o 'rip [0-9a-f]* ' <<<"$err")"
	fi
else
	skip vmm-crash-report "needs root"
fi

# 8. Floods. The VMM's memory besides guest RAM must stay within a bound
#    while the guest floods it: the console goes straight to the log fd (no
#    queue), and guest → host vsock data waits in at most one VSOCK_BUF_ALLOC
#    (256 KiB) buffer per connection, the credit the VMM grants, so the 8 + 1
#    unread streams below hold about 2.3 MiB. 16 MiB over the pre-flood value
#    leaves room for allocator slack and is still far below what a queue
#    without a bound fills in seconds. Guest-touched RAM is not counted (it
#    grows with whatever the guest runs, by design, up to --mem): own_kb sums
#    the Rss of every mapping but guest RAM (/proc/PID/smaps).
FLOOD_BOUND_KB=$((16 * 1024))
# bg_drop PID: PID was reaped; its number may belong to someone else now.
bg_drop() {
	local p out=
	for p in $bg; do [ "$p" = "$1" ] || out+=" $p"; done
	bg=$out
}
own_kb() { vmm_own_kb "$1" 512; }
# sample PID STOPFILE OUT: the largest own_kb of PID until STOPFILE exists.
sample() {
	local max=0 v
	while [ ! -e "$2" ]; do
		v=$(own_kb "$1" 2>/dev/null) || break
		[ "$v" -gt "$max" ] && max=$v
		sleep 0.2
	done
	echo "$max" >"$3"
}
# flood NAME CMD...: runs CMD while sampling; sets $base, $peak, $alive.
flood() {
	local name=$1 spid
	shift
	base=$(own_kb "$pid")
	rm -f "$tmp/stop"
	sample "$pid" "$tmp/stop" "$tmp/$name.peak" &
	spid=$!
	bg="$bg $spid"
	"$@"
	touch "$tmp/stop"
	wait "$spid"
	bg_drop "$spid"
	peak=$(cat "$tmp/$name.peak")
	alive=$(kill -0 "$pid" 2>/dev/null && hello 30 && gexec "echo alive")
}
# judge NAME: PASS when the VMM lived, the agent answered and peak is bounded.
judge() {
	echo "  $1: own memory ${base:-?} KiB before, ${peak:-?} KiB peak (bound +$FLOOD_BOUND_KB KiB)"
	if [ "$alive" != alive ]; then
		fail "$1" "$(why "agent did not answer after the flood" flood)"
	elif [ -z "$base" ] || [ "${peak:-0}" -le 0 ]; then
		fail "$1" "no memory samples (base '$base', peak '$peak')"
	elif [ "$peak" -gt $((base + FLOOD_BOUND_KB)) ]; then
		fail "$1" "own memory grew from $base to $peak KiB"
	else
		pass "$1"
	fi
}
# Host-initiated: 8 execs whose output the host never reads. Guest-initiated:
# a stream to host port 5000, whose listener (sink) never reads.
vsock_flood() {
	local hold
	python3 "$AGENT" hold "$sock" 8 "timeout 20 yes 0123456789abcdef" 10 >/dev/null &
	hold=$!
	bg="$bg $hold"
	# Connecting may take long on a loaded emulated machine (a python that
	# was cut by its time limit before it connected failed this check
	# once): 30 s to connect, then 8 s of sending into the unread stream.
	python3 "$AGENT" --read 90 exec "$sock" "timeout 60 python3 -c '
import socket, time
end = time.time() + 30
while True:
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    try:
        s.connect((2, 5000))
        break
    except OSError:
        s.close()
        if time.time() > end:
            raise
        time.sleep(0.1)
s.settimeout(1)
b = b\"x\" * 65536
end = time.time() + 8
while time.time() < end:
    try:
        s.send(b)
    except socket.timeout:
        pass
'; echo" >/dev/null
	wait "$hold"
	bg_drop "$hold"
}

start flood
if hello && gexec true >/dev/null; then
	c0=$(stat -c %s "$log")
	flood vmm-flood-console gexec "timeout 8 sh -c 'yes 0123456789abcdef >/dev/console'; echo" >/dev/null
	echo "  console flood: $((($(stat -c %s "$log") - c0) / 1024)) KiB logged"
	judge vmm-flood-console
	python3 "$AGENT" sink "${sock}_5000" "$tmp/sink.stop" 120 >"$tmp/sink.out" &
	sink=$!
	bg="$bg $sink"
	# the guest connects once: the sink must be listening first
	for ((i = 0; i < 300; i++)); do [ -S "${sock}_5000" ] && break; sleep 0.1; done
	flood vmm-flood-vsock vsock_flood
	touch "$tmp/sink.stop"
	wait "$sink"
	bg_drop "$sink"
	if [ "$(cat "$tmp/sink.out")" != 1 ]; then
		fail vmm-flood-vsock "the guest's stream to host port 5000 got $(cat "$tmp/sink.out") connections, want 1"
	else
		judge vmm-flood-vsock
	fi
else
	fail vmm-flood-console "$(why "no HELLO answer" flood)"
	fail vmm-flood-vsock "no boot"
fi
kill -TERM "$pid"
finish
