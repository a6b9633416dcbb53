#!/bin/bash
# image/kernel.sh O: builds the guest kernel from Debian's linux-source-6.1
# with guest/kernel.config on top of tinyconfig, into
# $SBX_CACHE/kernel-<hash>/{vmlinux,bzImage,config,System.map}, linked into
# O/images/. The hash covers this script, the config fragment, the
# linux-source package version and the compiler.
#
# The kernel source is unpacked once per version ($SBX_CACHE/src/) and the
# object folder ($SBX_CACHE/work/kernel-<version>/) is kept, so a changed
# config rebuilds only what it affects.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
O=$(realpath -m "${1:-build}")
start=$SECONDS

tarball=/usr/src/linux-source-6.1.tar.xz
srcver=$(pkg_version linux-source-6.1)
[ -f "$tarball" ] && [ -n "$srcver" ] || die "kernel: linux-source-6.1 is not installed (make deps)"
frag=$SBX_SRC/guest/kernel.config
key=$( { echo kernel-1; cat "$SBX_SRC/image/kernel.sh" "$frag"
	echo "$srcver"; gcc --version | head -1; echo "$SOURCE_DATE_EPOCH"; } | key_of)

if cache_begin kernel "$key"; then
	status=cached
else
	status=built
	src=$SBX_CACHE/src/linux-$srcver
	if [ ! -d "$src" ]; then
		mkdir -p "$SBX_CACHE/src"
		rm -rf "$src.tmp"
		mkdir "$src.tmp"
		tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
		mv -T "$src.tmp" "$src"
	fi
	obj=$SBX_CACHE/work/kernel-$srcver
	mkdir -p "$obj"
	export KBUILD_BUILD_TIMESTAMP="@$SOURCE_DATE_EPOCH" KBUILD_BUILD_USER=sbx \
		KBUILD_BUILD_HOST=sbx KBUILD_BUILD_VERSION=1
	kmake() { nice -n 10 make -C "$src" O="$obj" ARCH=x86_64 "$@"; }
	log=$tmp/build.log
	{
		kmake tinyconfig
		"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag"
		kmake olddefconfig
	} >"$log" 2>&1 || { tail -30 "$log" >&2; die "kernel: configuration failed (log: $log)"; }

	# tinyconfig drops options whose dependencies are missing without a
	# word: every line of the fragment must hold in the final .config.
	bad=0
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)= ]]; then
			grep -qxF -- "$line" "$obj/.config" || {
				echo "kernel: wanted $line, got: $(grep -E "^(# )?${BASH_REMATCH[1]}[= ]" "$obj/.config" || echo absent)" >&2
				bad=1; }
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
			! grep -q "^${BASH_REMATCH[1]}=" "$obj/.config" || {
				echo "kernel: wanted ${BASH_REMATCH[1]} off, got: $(grep "^${BASH_REMATCH[1]}=" "$obj/.config")" >&2
				bad=1; }
		fi
	done <"$frag"
	[ "$bad" = 0 ] || die "kernel: guest/kernel.config does not hold after olddefconfig (fix the dependencies)"

	kmake -j"$(nproc)" vmlinux bzImage >>"$log" 2>&1 ||
		{ tail -30 "$log" >&2; die "kernel: build failed (log: $log)"; }
	cp "$obj/vmlinux" "$tmp/vmlinux"
	cp "$obj/arch/x86/boot/bzImage" "$tmp/bzImage"
	cp "$obj/.config" "$tmp/config"
	cp "$obj/System.map" "$tmp/System.map"
	cache_commit
fi

for f in vmlinux bzImage; do
	link_to "$final/$f" "$O/images/$f"
done
link_to "$final/config" "$O/images/kernel.config"
report kernel "$status" "$start" "$final ($(du -h "$final/bzImage" | cut -f1) bzImage, $(du -h "$final/vmlinux" | cut -f1) vmlinux)"
