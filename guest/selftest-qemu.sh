#!/bin/bash
# guest/selftest-qemu.sh O: boots the guest (O/images/vmlinux, rootfs.ext4)
# with the current O/bin/sbx-init as PID 1 under QEMU microvm with TCG (no
# KVM, no vsock device needed), twice on one workspace disk, with
# "sbx.selftest" on the command line (guest/selftest.c), and prints the
# agent's selftest lines. The second boot must see the file the first wrote
# (the overlay's upper layer lives on the workspace disk). Slow (~1 min per
# boot on these machines); for checking PID 1 mode by hand.
set -euo pipefail
O=$(realpath "${1:-build}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/sbx-selftest.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T"/root/{dev,proc,sys,tmp,sysroot,sbx/runners}
cp "$O/bin/sbx-init" "$T/root/init"
cp -a "$SRC/guest/runners/." "$T/root/sbx/runners/"
mknod -m 600 "$T/root/dev/console" c 5 1
(cd "$T/root" && find . | cpio --quiet -o -H newc -R 0:0) >"$T/initrd.cpio"
truncate -s 64M "$T/ws.img"
mkfs.ext4 -q "$T/ws.img"

boot() {
	timeout 240 qemu-system-x86_64 -M microvm,acpi=off -accel tcg -m 768 \
		-nographic -no-reboot -kernel "$O/images/vmlinux" -initrd "$T/initrd.cpio" \
		-append "console=ttyS0 panic=-1 quiet sbx.selftest" \
		-drive id=ro,file="$O/images/rootfs.ext4",format=raw,if=none,snapshot=on \
		-device virtio-blk-device,drive=ro \
		-drive id=ws,file="$T/ws.img",format=raw,if=none \
		-device virtio-blk-device,drive=ws >"$T/console.log" 2>&1 &
	local q=$!
	for _ in $(seq 240); do
		grep -q 'selftest done' "$T/console.log" && break
		sleep 1
	done
	kill "$q" 2>/dev/null; wait "$q" 2>/dev/null || true
	tr -d '\r' <"$T/console.log" | grep -v '^\[ *[0-9]' || true
}

echo "== first boot"
boot
echo "== second boot"
boot | tee "$T/second"
if grep -q 'written by the selftest' "$T/second"; then
	echo "PASS selftest_workspace_persists"
else
	echo "FAIL selftest_workspace_persists"
fi
