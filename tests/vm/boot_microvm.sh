#!/bin/bash
# tests/vm/boot_microvm.sh: the guest kernel and sbx-init boot under QEMU's
# microvm machine with KVM, where guests boot (the host VM here). This is the
# peer that sbx-vmm is measured against, and proof that the images are sound.
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"
IMG=$SBX_IMAGES
for f in vmlinux initramfs.cpio; do
	if [ ! -e "$IMG/$f" ]; then skip boot-microvm "no $IMG/$f"; exit 0; fi
done
if [ ! -w /dev/kvm ]; then skip boot-microvm "no usable /dev/kvm"; exit 0; fi
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

truncate -s 1G "$tmp/ws.img" && mkfs.ext4 -q -F "$tmp/ws.img"
rootdev=${SBX_ROOTFS_DEV:-$IMG/rootfs.ext4}
disks=()
[ -e "$rootdev" ] && disks+=(-drive "id=root,file=$rootdev,format=raw,if=none,readonly=on"
	-device virtio-blk-device,drive=root)
disks+=(-drive "id=ws,file=$tmp/ws.img,format=raw,if=none" -device virtio-blk-device,drive=ws)
vsock=()
[ -e /dev/vhost-vsock ] && vsock=(-device vhost-vsock-device,guest-cid=3)

t0=$(date +%s%N)
qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off,rtc=off -enable-kvm -cpu host \
	-m 512 -smp 1 -nodefaults -no-user-config -display none -no-reboot \
	-kernel "$IMG/vmlinux" -initrd "$IMG/initramfs.cpio" \
	-append "console=ttyS0 reboot=t panic=-1 quiet" \
	"${disks[@]}" "${vsock[@]}" -serial "file:$tmp/console.log" </dev/null >"$tmp/qemu.log" 2>&1 &
pid=$!
ready=
for _ in $(seq 1 1200); do
	if grep -qi 'sbx-init.*ready' "$tmp/console.log" 2>/dev/null; then ready=1; break; fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
t1=$(date +%s%N)
if [ -n "$ready" ]; then
	pass boot-microvm
	echo "boot-microvm: ready after $(( (t1 - t0) / 1000000 )) ms"
else
	fail boot-microvm "sbx-init never said ready"
	tail -n 30 "$tmp/console.log" "$tmp/qemu.log"
fi
