#!/bin/bash
# tests/bench/vm/boot.sh: boot to ready, sbx-vmm beside QEMU's microvm machine,
# the same guest kernel, initramfs and disks, alternating, N boots each.
# "Ready" is sbx-init's ready line on the serial console, the same point for
# both. Also records sbx-vmm's start-up CPU time and its RSS besides guest RAM.
set -uo pipefail
. "$SBX_SRC/tests/bench/lib.sh"
IMG=$SBX_IMAGES N=${SBX_BOOT_N:-20}
[ -w /dev/kvm ] && [ -e "$IMG/vmlinux" ] && [ -e "$IMG/initramfs.cpio" ] || {
	echo "boot bench: no KVM or no guest images" >&2; exit 0; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
truncate -s 1G "$tmp/ws.img" && mkfs.ext4 -q -F "$tmp/ws.img"
root=${SBX_ROOTFS_DEV:-$IMG/rootfs.ext4}

# wait_ready LOG PID: 0 once sbx-init said ready, 1 if the VM died or 60 s passed.
wait_ready() {
	local i
	for i in $(seq 1 6000); do
		grep -qi 'sbx-init.*ready' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

boot_qemu() {
	rm -f "$tmp/q.log"
	local t0
	t0=$(now_ns)
	qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off,rtc=off -enable-kvm -cpu host \
		-m 512 -smp 1 -nodefaults -no-user-config -display none -no-reboot \
		-kernel "$IMG/vmlinux" -initrd "$IMG/initramfs.cpio" \
		-append "console=ttyS0 reboot=t panic=-1 quiet" \
		-drive "id=root,file=$root,format=raw,if=none,readonly=on" -device virtio-blk-device,drive=root \
		-drive "id=ws,file=$tmp/ws.img,format=raw,if=none" -device virtio-blk-device,drive=ws \
		-serial "file:$tmp/q.log" </dev/null >/dev/null 2>&1 &
	pid=$!
	wait_ready "$tmp/q.log" $pid && echo $(( ($(now_ns) - t0) / 1000 )) >>"$tmp/qemu.us"
	kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; pid=
}

boot_sbx() {
	rm -f "$tmp/s.log" "$tmp/v.sock"
	local t0
	t0=$(now_ns)
	"$SBX_BUILD/bin/sbx-vmm" --kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" \
		--rootfs "$root" --disk "$tmp/ws.img" --vsock "$tmp/v.sock" --mem 512 --cpus 1 \
		--console "$tmp/s.log" </dev/null >/dev/null 2>&1 &
	pid=$!
	if wait_ready "$tmp/s.log" $pid; then
		echo $(( ($(now_ns) - t0) / 1000 )) >>"$tmp/sbx.us"
		# RSS besides guest RAM: private memory minus what the guest touched
		# is not separable from outside; report total RSS and let the
		# guest-RAM figure stand beside it.
		awk '/^VmRSS/ { print $2 }' /proc/$pid/status >>"$tmp/sbx-rss.kb"
		awk '{ print ($14 + $15) * 10 }' /proc/$pid/stat >>"$tmp/sbx-cpu.ms"
	fi
	kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; pid=
}

have_sbx=
[ -x "$SBX_BUILD/bin/sbx-vmm" ] && have_sbx=1
for _ in $(seq 1 "$N"); do
	boot_qemu
	[ -n "$have_sbx" ] && boot_sbx
done
[ -s "$tmp/qemu.us" ] && bench_emit boot-to-ready-qemu-microvm us "$tmp/qemu.us"
if [ -s "$tmp/sbx.us" ]; then
	bench_emit boot-to-ready us "$tmp/sbx.us" qemu-microvm "$tmp/qemu.us"
	bench_emit vmm-rss-at-ready KiB "$tmp/sbx-rss.kb"
	bench_emit vmm-cpu-to-ready ms "$tmp/sbx-cpu.ms"
fi
