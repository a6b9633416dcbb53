#!/bin/bash
# image/initramfs.sh O: builds the guest initramfs, a newc cpio holding
# /init (O/bin/sbx-init), /sbx/runners/ (guest/runners/), the empty mount
# points /dev /proc /sys /tmp /sysroot and /dev/console, into
# $SBX_CACHE/initramfs-<hash>/initramfs.cpio, linked as O/images/initramfs.cpio.
# The hash covers sbx-init, the runners (names, modes and contents) and this
# script, so it is rebuilt whenever one of them changes. Needs root (mknod).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
O=$(realpath -m "${1:-build}")
start=$SECONDS

init=$O/bin/sbx-init
runners=$SBX_SRC/guest/runners
[ -x "$init" ] || die "initramfs: $init does not exist yet: build it first (make all)"
[ "$(id -u)" = 0 ] || die "initramfs: must run as root (it makes /dev/console)"

key=$( { echo initramfs-1; cat "$SBX_SRC/image/initramfs.sh"
	echo "$SOURCE_DATE_EPOCH"; sha256sum <"$init"
	if [ -d "$runners" ]; then
		(cd "$runners" && find . \( -type f -o -type l \) -printf '%p %m\n' | sort &&
			find . -type f -print0 | sort -z | xargs -0r sha256sum)
	fi; } | key_of)

if cache_begin initramfs "$key"; then
	status=cached
else
	status=built
	r=$tmp/root
	mkdir -p "$r"/{dev,proc,sys,tmp,sysroot,sbx/runners}
	chmod 1777 "$r/tmp"
	mknod -m 600 "$r/dev/console" c 5 1
	install -m 755 "$init" "$r/init"
	if [ -d "$runners" ]; then
		cp -a "$runners/." "$r/sbx/runners/"
	fi
	chown -R 0:0 "$r"
	find "$r" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	(cd "$r" && find . -mindepth 1 | sort |
		cpio --quiet -o -H newc --reproducible -R 0:0) >"$tmp/initramfs.cpio"
	rm -rf "$r"
	cache_commit
fi

link_to "$final/initramfs.cpio" "$O/images/initramfs.cpio"
report initramfs "$status" "$start" "$final ($(du -h "$final/initramfs.cpio" | cut -f1))"
