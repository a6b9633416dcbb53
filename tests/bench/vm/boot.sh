#!/bin/bash
# tests/bench/vm/boot.sh: boot to ready, sbx-vmm beside QEMU's microvm machine,
# the same guest kernel, initramfs and disks, alternating, N boots each.
#
# Ready point: sbx-init's console line "sbx-init: ready on vsock port 1024",
# the same for both VMMs. QEMU gets a vhost-vsock device where
# /dev/vhost-vsock exists (the host VM has it), so both guests have the same
# devices; sbx-init says ready without one too.
#
# Why it used to look stuck: the wait was 6000 rounds of grep + kill + a
# forked sleep 0.01, meant as 60 s. Inside the loaded, emulated host VM a
# round costs about half a second (200 rounds measured 110 s), so a boot
# that never got ready could hold the run for close to an hour, and every
# sample was quantized to that half second. Now the wait is bounded by the
# wall clock and polls without forking (bash builtins only).
#
# Every boot is bounded by SBX_BOOT_TIMEOUT seconds of wall-clock time
# (default 60), then killed and reaped; a boot that does not reach ready is
# counted as a failure (printed) and left out of the samples.
#
# Also, per boot of either, at ready: CPU time (user + system), total RSS,
# and the memory overhead besides guest RAM: the Rss of every mapping of the
# process except guest RAM (/proc/PID/smaps; guest RAM is the run of adjacent
# mappings, MEM MiB long, holding the largest one: one anonymous mapping
# with the kernel and initramfs file pages mapped over parts of it). This
# counts the binary, libraries, heap, stacks and device buffers, and none of
# the pages the guest touched. And sbx-vmm's own start-up until its first
# KVM_RUN ("set up in N us" on its stderr), as vmm-setup.
set -uo pipefail
. "$SBX_SRC/tests/bench/lib.sh"
. "$SBX_SRC/tests/lib/vmm.sh"
IMG=$SBX_IMAGES N=${SBX_BOOT_N:-20} LIMIT=${SBX_BOOT_TIMEOUT:-60} MEM=512
[ -w /dev/kvm ] && [ -e "$IMG/vmlinux" ] && [ -e "$IMG/initramfs.cpio" ] || {
	echo "boot bench: no KVM or no guest images" >&2; exit 0; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null && wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
truncate -s 1G "$tmp/ws.img" && mkfs.ext4 -q -F "$tmp/ws.img"
root=${SBX_ROOTFS_DEV:-$IMG/rootfs.ext4}
READY='sbx-init: ready on vsock'
TICK=$(getconf CLK_TCK)

mkfifo "$tmp/tick" && exec 9<>"$tmp/tick" # read -t on it: a sleep without fork

# wait_ready LOG PID T0: 0 once the ready line is in LOG, 1 if the VM died
# or LIMIT seconds of wall-clock time passed since T0. Builtins only.
wait_ready() {
	local deadline=$(($3 + LIMIT * 1000000)) txt now
	while now=${EPOCHREALTIME/[.,]/}; [ "$now" -lt $deadline ]; do
		txt=
		[ -e "$1" ] && IFS= read -r -d '' txt <"$1"
		[[ $txt == *"$READY"* ]] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		read -r -t 0.005 -u 9
	done
	return 1
}

# reap: kill the VM of this boot and wait for it, so none outlives its turn.
reap() {
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}

# failed NAME LOG: one line on stderr about a boot that never got ready.
failed() {
	echo "boot bench: $1 boot not ready within ${LIMIT}s: $(tail -c 300 "$2" 2>/dev/null | tr '\n' ' ')" >&2
}

qemu_vsock=()
[ -w /dev/vhost-vsock ] && qemu_vsock=(-device "vhost-vsock-device,guest-cid=3")

boot_qemu() {
	local t0 t1
	rm -f "$tmp/q.log"
	t0=${EPOCHREALTIME/[.,]/}
	qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off,rtc=off -enable-kvm -cpu host \
		-m $MEM -smp 1 -nodefaults -no-user-config -display none -no-reboot \
		-kernel "$IMG/vmlinux" -initrd "$IMG/initramfs.cpio" \
		-append "console=ttyS0 reboot=t panic=-1 quiet" \
		-drive "id=root,file=$root,format=raw,if=none,readonly=on" -device virtio-blk-device,drive=root \
		-drive "id=ws,file=$tmp/ws.img,format=raw,if=none" -device virtio-blk-device,drive=ws \
		"${qemu_vsock[@]}" -serial "file:$tmp/q.log" </dev/null >/dev/null 2>&1 &
	pid=$!
	if wait_ready "$tmp/q.log" $pid "$t0"; then
		t1=${EPOCHREALTIME/[.,]/}
		echo $((t1 - t0)) >>"$tmp/qemu.us"
		at_ready qemu
	else
		failed qemu "$tmp/q.log"
	fi
	reap
}

# at_ready NAME: samples the VM process $pid at ready: total RSS, RSS
# outside guest RAM, CPU time (user + system of every thread, the vCPUs'
# guest time included: it is mostly the guest's boot, the same for both).
at_ready() {
	local rss
	awk '/^VmRSS/ { print $2 }' /proc/$pid/status >>"$tmp/$1-rss.kb"
	rss=$(vmm_own_kb $pid $MEM) && echo "$rss" >>"$tmp/$1-own.kb"
	awk -v t="$TICK" '{ print ($14 + $15) * 1000 / t }' /proc/$pid/stat >>"$tmp/$1-cpu.ms"
}

boot_sbx() {
	local t0 t1
	rm -f "$tmp/s.log" "$tmp/v.sock"
	t0=${EPOCHREALTIME/[.,]/}
	"$SBX_BUILD/bin/sbx-vmm" --kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" \
		--rootfs "$root" --disk "$tmp/ws.img" --vsock "$tmp/v.sock" --mem $MEM --cpus 1 \
		--console "$tmp/s.log" </dev/null >/dev/null 2>"$tmp/s.err" &
	pid=$!
	if wait_ready "$tmp/s.log" $pid "$t0"; then
		t1=${EPOCHREALTIME/[.,]/}
		echo $((t1 - t0)) >>"$tmp/sbx.us"
		at_ready sbx
		sed -n 's/^sbx-vmm: set up in \([0-9]*\) us$/\1/p' "$tmp/s.err" >>"$tmp/sbx-setup.us"
	else
		failed sbx-vmm "$tmp/s.log"
	fi
	reap
}

have_sbx=
[ -x "$SBX_BUILD/bin/sbx-vmm" ] && have_sbx=1
for _ in $(seq 1 "$N"); do
	boot_qemu
	[ -n "$have_sbx" ] && boot_sbx
done
# emit NAME UNIT FILE: with QEMU's samples of the same kind as the peer.
emit() {
	[ -s "$tmp/sbx$3" ] || return 0
	if [ -s "$tmp/qemu$3" ]; then
		bench_emit "$1" "$2" "$tmp/sbx$3" qemu-microvm "$tmp/qemu$3"
	else
		bench_emit "$1" "$2" "$tmp/sbx$3"
	fi
}
[ -s "$tmp/qemu.us" ] && bench_emit boot-to-ready-qemu-microvm us "$tmp/qemu.us"
emit boot-to-ready us .us
emit vmm-rss-at-ready KiB -rss.kb
emit vmm-own-rss-at-ready KiB -own.kb
emit vmm-cpu-to-ready ms -cpu.ms
[ -s "$tmp/sbx-setup.us" ] && bench_emit vmm-setup us "$tmp/sbx-setup.us"
exit 0
