#!/bin/bash
# boards/appliance/build.sh O BOARD: the flashable appliance image,
# O/appliance/BOARD.img and BOARD.img.xz.
#
# No loop mounts and no root needed: every partition is built as a file of
# its own and dd'ed into a GPT disk file laid out by sfdisk.
#
#   p1 ESP        FAT32: EFI/BOOT/BOOTX64.EFI = systemd-boot, which boots
#                 the newest good Unified Kernel Image in EFI/Linux/
#                 (sbx-VERSION.efi; updates arrive as sbx-VERSION+TRIES.efi
#                 and fall back to the previous one when they never become
#                 healthy: see README.md, "Updates"). A UKI is systemd's
#                 stub + Debian's kernel + initramfs + cmdline (uki.sh)
#   p2 SBXCONFIG  FAT16, sbx.conf: key=value settings an operator may edit
#                 before the first boot (any OS mounts it: "basic data")
#   p3 sbx-rootfs squashfs holding the guest rootfs.ext4 as a file
#                 (sbx-vmm sizes its disks with fstat, so a file it must be)
#   p4 sbx-data   not in the image: created on first boot to fill the disk,
#                 ext4, mounted at /var/lib/sbx (sbxd's state)
#
# The initramfs is the host VM's (boards/qemu-x86_64/build.sh) followed by a
# second cpio archive with what the appliance adds (modules, the setup,
# console, update and health scripts, sfdisk, mtools, openssl, sbxd and
# sbx-vmm as built now, and the sbx CLI); the kernel unpacks both, the later
# one winning.
#
# The image's version (SBX_VERSION, default from SOURCE_DATE_EPOCH, e.g.
# 2026.01.01.000000) must grow from one release to the next: systemd-boot
# boots the highest version first.
#
# Reproducible: SOURCE_DATE_EPOCH (default: 2026-01-01) for every timestamp,
# fixed disk/partition GUIDs and FAT serials, sorted cpio, gzip -n, xz with a
# fixed thread count. Heavy parts (kernel modules, the rootfs squashfs) are
# cached in $SBX_CACHE keyed by their inputs.
set -euo pipefail
O=$(realpath "${1:-build}")
BOARD=${2:-qemu-x86_64}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
APP=$SRC/boards/appliance
CACHE=${SBX_CACHE:-/var/cache/sbx}
IMG=$O/images
OUT=$O/appliance
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}
export TZ=UTC LC_ALL=C
VERSION=${SBX_VERSION:-$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y.%m.%d.%H%M%S)}
case $VERSION in
"" | *[!0-9A-Za-z._~]*) echo "appliance: bad SBX_VERSION '$VERSION' ([0-9A-Za-z._~])" >&2; exit 2 ;;
esac

conf=$SRC/boards/$BOARD/appliance.conf
[ -e "$conf" ] || conf=$APP/$BOARD.conf
[ -e "$conf" ] || { echo "appliance: no board $BOARD ($conf)" >&2; exit 2; }
# shellcheck disable=SC1090
. "$conf"
# shellcheck disable=SC1090
. "$SRC/boards/$BASE_BOARD/board.conf"
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
for f in "$IMG/host-vmlinuz" "$IMG/host-initramfs.cpio.gz" "$O/bin/sbxd" "$O/bin/sbx" "$STUB" "$SDBOOT"; do
	[ -e "$f" ] || { echo "appliance: $f missing (make images; make deps)" >&2; exit 2; }
done
for t in sfdisk mkfs.fat mcopy mmd objcopy mksquashfs xz cpio faketime python3; do
	command -v "$t" >/dev/null || { echo "appliance: $t missing: make deps" >&2; exit 2; }
done
mkdir -p "$OUT" "$CACHE"
W=$(mktemp -d "$O/.appliance.XXXXXX")
trap 'rm -rf "$W"' EXIT

# --- Kernel modules: the host VM's list plus the board's, closed over deps.
KDIR=$(dirname "$(readlink -f "$IMG/host-vmlinuz")")
read -r kpkg kpver <"$KDIR/VERSION"
kver=${kpkg#linux-image-}
mkey=$(echo "$kpkg $kpver $MODULES $APPLIANCE_MODULES" | sha256sum | cut -c1-16)
MDIR=$CACHE/appliance-modules-$mkey
if [ ! -d "$MDIR" ]; then
	t=$(mktemp -d "$CACHE/.appmod.XXXXXX")
	(cd "$t" && apt-get download "$kpkg=$kpver" >/dev/null 2>&1)
	dpkg-deb -x "$t"/*.deb "$t/root"
	depmod -b "$t/root" "$kver"
	mkdir -p "$t/out/modules"
	: >"$t/out/modules.order"
	for m in $MODULES $APPLIANCE_MODULES; do
		modprobe -d "$t/root" -S "$kver" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" { print $2 }' || echo "appliance: no module $m" >&2
	done | awk '!seen[$0]++' | while read -r ko; do
		cp "$ko" "$t/out/modules/"
		echo "/lib/modules/$(basename "$ko")" >>"$t/out/modules.order"
	done
	rm -rf "$t/root" "$t"/*.deb
	mv "$t/out" "$MDIR"
	rmdir "$t"
fi

# --- The guest rootfs as a squashfs (cached: ~1 GB in, a few minutes).
SQ=
if [ -e "$IMG/rootfs.ext4" ]; then
	rfs=$(readlink -f "$IMG/rootfs.ext4")
	skey=$(echo "$rfs $(stat -c '%s %Y' "$rfs") $SOURCE_DATE_EPOCH v1" | sha256sum | cut -c1-16)
	SQ=$CACHE/appliance-rootfs-$skey.sqfs
	if [ ! -e "$SQ" ]; then
		echo "appliance: squashing the guest rootfs (once per rootfs)"
		mkdir "$W/sq"
		ln "$rfs" "$W/sq/rootfs.ext4" 2>/dev/null || cp "$rfs" "$W/sq/rootfs.ext4"
		env -u SOURCE_DATE_EPOCH nice mksquashfs "$W/sq" "$SQ.tmp" -comp zstd -b 128K -noappend -all-root \
			-mkfs-time "$SOURCE_DATE_EPOCH" -all-time "$SOURCE_DATE_EPOCH" \
			-no-progress -quiet >/dev/null
		mv "$SQ.tmp" "$SQ"
		rm -rf "$W/sq"
		# Older rootfs images' squashfs are of no more use.
		find "$CACHE" -maxdepth 1 -name 'appliance-rootfs-*.sqfs' ! -name "${SQ##*/}" -delete
	fi
else
	echo "appliance: no $IMG/rootfs.ext4: sandboxes get the initramfs only" >&2
fi

# --- The appliance's cpio archive, appended to the host initramfs.
R=$W/root
mkdir -p "$R"/{bin,usr/bin,usr/sbin,etc/sbx,lib/modules,usr/share/udhcpc,var/log,mnt}
cp "$O/bin/sbx-hostinit" "$R/init"
cp "$MDIR"/modules/*.ko "$R/lib/modules/"
cp "$MDIR/modules.order" "$R/etc/sbx/modules"
install -m 755 "$APP/setup.sh" "$R/etc/sbx/appliance-setup"
install -m 755 "$APP/console.sh" "$R/usr/bin/sbx-console"
install -m 755 "$APP/update.sh" "$R/usr/bin/sbx-update"
install -m 755 "$APP/health.sh" "$R/usr/bin/sbx-health"
install -m 644 "$APP/esp.sh" "$R/etc/sbx/esp.sh"
install -m 755 "$APP/udhcpc.script" "$R/usr/share/udhcpc/default.script"
# busybox applets the scripts call (the host initramfs links only a few).
for a in awk sed grep cut tr head tail wc sort sleep date hostname ifconfig route \
	udhcpc mkdir rm mv cp ln chmod touch df free uptime sync reboot clear stty \
	base64 sha256sum mdev readlink basename dirname find xargs printf seq less \
	nslookup ping setsid stat cmp blockdev sed expr hexdump od tee dd wget \
	timeout; do
	[[ " sh ls cat mount umount ip ps kill dmesg poweroff vi " == *" $a "* ]] ||
		ln -sf busybox "$R/bin/$a"
done
copy_elf() {
	local f=$1 dst=$2 lib
	cp -L "$f" "$R/$dst"
	for lib in $(ldd "$f" 2>/dev/null | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }'); do
		[ -e "$lib" ] || continue
		mkdir -p "$R/$(dirname "$lib")"
		cp -Ln "$lib" "$R/$lib"
	done
}
copy_elf /sbin/sfdisk usr/sbin/sfdisk
# mtools: the ESP is never mounted; entries are renamed and copied on the
# raw partition (update, bless, roll back).
copy_elf /usr/bin/mtools usr/bin/mtools
for t in mdir mren mcopy mdel mtype minfo; do ln -sf mtools "$R/usr/bin/$t"; done
# mtools converts long names with iconv from code page 850: glibc loads
# that converter as a module, from the folder compiled into it (under
# /usr/lib: in the initramfs /lib is no link to it).
G=$(ls -d /usr/lib/*-linux-gnu/gconv | head -n 1)
mkdir -p "$R/$G"
cp "$G/IBM850.so" "$G/gconv-modules.cache" "$R/$G/"
# busybox wget's own TLS cannot talk to sbxd (its ECDHE-ECDSA suites and
# signature algorithms do not meet); with openssl present it runs
# `openssl s_client` instead: for sbx-health's HTTPS probe and https URLs.
copy_elf /usr/bin/openssl usr/bin/openssl
# The daemons as built now: the host initramfs may predate them (it is
# rebuilt by `make images`, not by `make`), and this archive wins.
copy_elf "$O/bin/sbxd" usr/bin/sbxd
copy_elf "$O/bin/sbx-vmm" usr/bin/sbx-vmm
# The CLI (libcurl and its libraries): sbx-health boots a sandbox with it
# through the API before it blesses a new version; an operator may use it
# from the maintenance shell too.
copy_elf "$O/bin/sbx" usr/bin/sbx
build_id=$(cd "$SRC" && git describe --always --dirty 2>/dev/null || echo dev)
# systemd-boot sorts type #2 entries by IMAGE_VERSION, newest first.
cat >"$R/etc/os-release" <<REL
NAME="sbx"
ID=sbx
PRETTY_NAME="sbx appliance $VERSION ($BOARD)"
VERSION_ID=$VERSION
IMAGE_VERSION=$VERSION
BUILD_ID=$build_id
SBX_BOARD=$BOARD
REL
echo "$BOARD" >"$R/etc/sbx/board"
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$R" && find . ! -name . -print0 | sort -z |
	cpio --null -o -H newc --reproducible --quiet -R 0:0) | gzip -9 -n >"$W/appliance.cpio.gz"
cat "$IMG/host-initramfs.cpio.gz" "$W/appliance.cpio.gz" >"$W/initrd"

# --- The Unified Kernel Image. Its command line names its version, so the
# booted system finds its own entry on the ESP (sbx.version=).
echo "$APPLIANCE_CMDLINE sbx.version=$VERSION" >"$W/cmdline"
"$APP/uki.sh" "$W/sbx.efi" "$R/etc/os-release" "$W/cmdline" "$IMG/host-vmlinuz" "$W/initrd"

# --- Partition contents.
mib() { echo $(( ($1 + 1048575) / 1048576 )); }
ESP_MIB=$(( $(mib "$(stat -c %s "$W/sbx.efi")") * 2 + 32 ))
[ "$ESP_MIB" -lt 64 ] && ESP_MIB=64
CFG_MIB=16
export MTOOLS_SKIP_CHECK=1
# mtools stamps directory entries with the clock (no SOURCE_DATE_EPOCH in
# bookworm's 4.0.33): run the FAT tools with the clock stopped at it.
FT_TIME=$(date -u -d "@$SOURCE_DATE_EPOCH" '+%Y-%m-%d %H:%M:%S')
ft() { faketime "$FT_TIME" "$@"; }
ft mkfs.fat -C -F 32 -i 5B580001 -n SBXBOOT "$W/esp.img" $((ESP_MIB * 1024)) >/dev/null
ft mmd -i "$W/esp.img" ::EFI ::EFI/BOOT ::EFI/Linux ::loader
ft mcopy -i "$W/esp.img" - ::EFI/BOOT/BOOTX64.EFI <"$SDBOOT"
# No menu (a key held at power-on shows it), no editing of the command
# line, no entries but ours.
printf 'timeout 0\neditor no\nauto-entries no\nauto-firmware no\n' >"$W/loader.conf"
touch -d "@$SOURCE_DATE_EPOCH" "$W/loader.conf"
ft mcopy -i "$W/esp.img" - ::loader/loader.conf <"$W/loader.conf"
# The factory image is known good: no boot counter on it.
ft mcopy -i "$W/esp.img" - "::EFI/Linux/sbx-$VERSION.efi" <"$W/sbx.efi"

ft mkfs.fat -C -F 16 -i 5B580002 -n SBXCONFIG "$W/cfg.img" $((CFG_MIB * 1024)) >/dev/null
for f in sbx.conf README.txt; do
	sed 's/$/\r/' "$APP/config/$f" >"$W/$f"
	touch -d "@$SOURCE_DATE_EPOCH" "$W/$f"
	ft mcopy -i "$W/cfg.img" - "::$f" <"$W/$f"
done

ROOT_MIB=0
[ -n "$SQ" ] && ROOT_MIB=$(( $(mib "$(stat -c %s "$SQ")") + 1 ))

# --- The disk: 1 MiB for the GPT, the partitions, 1 MiB for its backup.
TOTAL_MIB=$((1 + ESP_MIB + CFG_MIB + ROOT_MIB + 1))
disk=$W/disk.img
truncate -s "${TOTAL_MIB}M" "$disk"
{
	echo "label: gpt"
	echo "label-id: 5B580000-0000-4000-8000-000000000000"
	echo "unit: sectors"
	echo "first-lba: 2048"
	echo "start=2048, size=$((ESP_MIB * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=5B580000-0000-4000-8000-000000000001, name=\"EFI system\""
	echo "size=$((CFG_MIB * 2048)), type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, uuid=5B580000-0000-4000-8000-000000000002, name=\"SBXCONFIG\""
	[ "$ROOT_MIB" -gt 0 ] &&
		echo "size=$((ROOT_MIB * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=5B580000-0000-4000-8000-000000000003, name=\"sbx-rootfs\", attrs=\"GUID:60\""
} | sfdisk -q --no-reread --no-tell-kernel "$disk" >/dev/null
off=1
dd if="$W/esp.img" of="$disk" bs=1M seek=$off conv=notrunc,sparse status=none
off=$((off + ESP_MIB))
dd if="$W/cfg.img" of="$disk" bs=1M seek=$off conv=notrunc,sparse status=none
off=$((off + CFG_MIB))
[ -n "$SQ" ] && dd if="$SQ" of="$disk" bs=1M seek=$off conv=notrunc,sparse status=none

mv "$disk" "$OUT/$BOARD.img.tmp"
mv "$OUT/$BOARD.img.tmp" "$OUT/$BOARD.img"
if [ "${SBX_APPLIANCE_XZ:-1}" = 1 ]; then
	nice xz -T2 -1 -c "$OUT/$BOARD.img" >"$OUT/$BOARD.img.xz.tmp"
	mv "$OUT/$BOARD.img.xz.tmp" "$OUT/$BOARD.img.xz"
fi
cp "$W/sbx.efi" "$OUT/$BOARD.efi"
echo "appliance: $OUT/$BOARD.img ($TOTAL_MIB MiB; ESP $ESP_MIB, config $CFG_MIB, rootfs $ROOT_MIB), version $VERSION"
