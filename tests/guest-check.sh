#!/bin/bash
# tests/guest-check.sh O: prints where Linux guests boot on this machine:
#   native   this machine's /dev/kvm boots the guest kernel to sbx-init
#   hostvm   it does not (a software nested hypervisor, say): use the host VM
#   <reason> neither is possible
# The quick boot check starts sbx-vmm on the guest images with a short time
# limit and waits for sbx-init's ready line on the console. The answer is kept
# in the cache, keyed by the host kernel, the VMM and the guest images.
# SBX_WHERE=native|hostvm overrides the check.
set -uo pipefail
O=$(realpath "${1:-build}")
IMG=$O/images
if [ -n "${SBX_WHERE:-}" ]; then echo "$SBX_WHERE"; exit 0; fi

hostvm_or_reason() {
	if ! command -v qemu-system-x86_64 >/dev/null; then
		echo "no qemu-system-x86_64 for the host VM"
	elif [ ! -e "$IMG/host-initramfs.cpio.gz" ]; then
		echo "no host VM image (make images)"
	else
		echo hostvm
	fi
}

if [ ! -w /dev/kvm ] || [ ! -x "$O/bin/sbx-vmm" ] || [ ! -e "$IMG/vmlinux" ] ||
	[ ! -e "$IMG/initramfs.cpio" ]; then
	hostvm_or_reason
	exit 0
fi
CACHE=${SBX_CACHE:-/var/cache/sbx}
key=$( (uname -r; cat /sys/module/kvm*/srcversion 2>/dev/null; sha256sum "$O/bin/sbx-vmm" \
	"$IMG/vmlinux" "$IMG/initramfs.cpio") | sha256sum | cut -c1-16)
memo=$CACHE/guest-check-$key
if [ -e "$memo" ]; then
	cat "$memo"
	exit 0
fi
tmp=$(mktemp -d)
ws=$tmp/ws.img
truncate -s 256M "$ws" && mkfs.ext4 -q -F "$ws"
rootfs=()
[ -e "$IMG/rootfs.ext4" ] && rootfs=(--rootfs "$IMG/rootfs.ext4")
timeout 20 "$O/bin/sbx-vmm" --kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" \
	"${rootfs[@]}" --disk "$ws" --vsock "$tmp/v.sock" \
	--console "$tmp/console.log" --mem 512 >/dev/null 2>&1 &
pid=$!
result=hostvm
for _ in $(seq 1 200); do
	if grep -qi 'sbx-init.*ready' "$tmp/console.log" 2>/dev/null; then
		result=native
		break
	fi
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
rm -rf "$tmp"
[ "$result" = hostvm ] && result=$(hostvm_or_reason)
mkdir -p "$CACHE" && echo "$result" >"$memo"
echo "$result"
