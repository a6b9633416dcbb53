#!/bin/bash
# boards/qemu-x86_64/build.sh O: builds the host VM's kernel and initramfs.
#
# The kernel is Debian's linux-image-amd64, fetched with apt-get download and
# unpacked into $SBX_CACHE/hostkernel-<version>/ with just the modules the
# board needs (their dependency closure, in load order). The initramfs is
# cheap and assembled into O/images/ whenever one of its inputs changes: our
# PID 1 (sbx-hostinit), sbxd and sbx-vmm with the shared libraries they load,
# mke2fs for workspace disks, busybox for a debugging shell, and the guest
# kernel and initramfs (the rootfs is a disk of its own).
set -euo pipefail
O=$(realpath "${1:-build}")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BOARD=$SRC/boards/qemu-x86_64
# shellcheck source=board.conf
. "$BOARD/board.conf"
CACHE=${SBX_CACHE:-/var/cache/sbx}
IMG=$O/images
mkdir -p "$CACHE" "$IMG"

kpkg() {
	apt-cache depends "$KERNEL_PACKAGE" 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
pkg=$(kpkg)
if [ -z "$pkg" ]; then
	apt-get update -q >/dev/null
	pkg=$(kpkg)
fi
[ -n "$pkg" ] || { echo "host kernel: cannot resolve $KERNEL_PACKAGE" >&2; exit 1; }
kver=${pkg#linux-image-}
pver=$(apt-cache show "$pkg" | awk '/^Version:/ { print $2; exit }')
key=$(echo "$pkg $pver $MODULES $(sha256sum "$0" | cut -c1-16)" | sha256sum | cut -c1-16)
KDIR=$CACHE/hostkernel-$key

if [ ! -d "$KDIR" ]; then
	t0=$SECONDS
	tmp=$(mktemp -d "$CACHE/.hostkernel.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1)
	dpkg-deb -x "$tmp"/*.deb "$tmp/root"
	depmod -b "$tmp/root" "$kver"
	mkdir -p "$tmp/out/modules"
	cp "$tmp/root/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
	: >"$tmp/out/modules.order"
	for m in $MODULES; do
		modprobe -d "$tmp/root" -S "$kver" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		base=$(basename "$ko")
		cp "$ko" "$tmp/out/modules/$base"
		echo "/lib/modules/$base" >>"$tmp/out/modules.order"
	done
	echo "$pkg $pver" >"$tmp/out/VERSION"
	mv "$tmp/out" "$KDIR"
	rm -rf "$tmp"
	trap - EXIT
	echo "host kernel: built $pkg $pver in $((SECONDS - t0))s"
else
	echo "host kernel: cached $pkg $pver"
fi
ln -sfn "$KDIR/vmlinuz" "$IMG/host-vmlinuz"

# The initramfs: rebuilt only when one of its inputs changed.
inputs=("$O/bin/sbx-hostinit" "$KDIR/modules.order" "$0")
for f in "$O/bin/sbxd" "$O/bin/sbx-vmm" "$IMG/vmlinux" "$IMG/initramfs.cpio"; do
	[ -e "$f" ] && inputs+=("$f")
done
ikey=$(sha256sum "${inputs[@]}" | sha256sum | cut -c1-16)
if [ -e "$IMG/host-initramfs.key" ] && [ "$(cat "$IMG/host-initramfs.key")" = "$ikey" ] &&
	[ -e "$IMG/host-initramfs.cpio.gz" ]; then
	echo "host initramfs: up to date"
	exit 0
fi

t0=$SECONDS
R=$(mktemp -d "$O/.hostroot.XXXXXX")
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,sbin,etc/sbx,lib/modules,proc,sys,dev,tmp,run,host,var/lib/sbx,sbx/images,root}
cp "$O/bin/sbx-hostinit" "$R/init"
cp "$KDIR"/modules/*.ko "$R/lib/modules/"
cp "$KDIR/modules.order" "$R/etc/sbx/modules"
cp /bin/busybox "$R/bin/busybox"
for t in sh ls cat mount umount ip ps kill dmesg poweroff vi; do
	ln -s busybox "$R/bin/$t"
done

# A dynamic binary and the libraries it loads, at their own paths.
copy_elf() {
	local f=$1 dst=$2 lib
	cp -L "$f" "$R/$dst"
	for lib in $(ldd "$f" 2>/dev/null | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }'); do
		[ -e "$lib" ] || continue
		mkdir -p "$R/$(dirname "$lib")"
		cp -Ln "$lib" "$R/$lib"
	done
}
mkdir -p "$R/usr/bin" "$R/usr/sbin"
copy_elf /sbin/mke2fs usr/sbin/mke2fs
ln -s mke2fs "$R/usr/sbin/mkfs.ext4"
for b in sbxd sbx-vmm; do
	[ -e "$O/bin/$b" ] && copy_elf "$O/bin/$b" "usr/bin/$b"
done
for f in vmlinux initramfs.cpio; do
	[ -e "$IMG/$f" ] && cp -L "$IMG/$f" "$R/sbx/images/$f"
done
# The rootfs is too big for an initramfs: vm.sh attaches it as the first disk.
ln -s /dev/vda "$R/sbx/images/rootfs.ext4"
# QEMU's user networking answers DNS at 10.0.2.3 (sandboxes' usernet
# forwards their queries there).
echo "nameserver 10.0.2.3" >"$R/etc/resolv.conf"
cat >"$R/etc/sbx/run" <<RUN
/usr/bin/sbxd
serve
--state
/var/lib/sbx
--run-dir
/run/sbx
--listen
0.0.0.0:8443
--backend
vm
--images
/sbx/images
--vmm
/usr/bin/sbx-vmm
RUN

(cd "$R" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --reproducible --quiet) | gzip -1 >"$IMG/host-initramfs.cpio.gz.tmp"
mv "$IMG/host-initramfs.cpio.gz.tmp" "$IMG/host-initramfs.cpio.gz"
echo "$ikey" >"$IMG/host-initramfs.key"
echo "host initramfs: built in $((SECONDS - t0))s ($(du -h "$IMG/host-initramfs.cpio.gz" | cut -f1))"
