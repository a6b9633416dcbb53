#!/bin/bash
# image/rootfs.sh O: builds the sandbox rootfs, a read-only ext4 image of
# Debian bookworm (debootstrap minbase from the system's mirror) with the
# packages of guest/rootfs/packages.txt, into
# $SBX_CACHE/rootfs-<hash>/rootfs.ext4, linked as O/images/rootfs.ext4.
# guest/rootfs/files/ is copied over the tree at the end (etc/hosts,
# etc/resolv.conf). The hash covers this script, guest/rootfs/ (package list
# and files), the mirror, the Date of the system's apt lists and the candidate
# versions of the listed packages. Needs root (debootstrap, chroot).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
O=$(realpath -m "${1:-build}")
start=$SECONDS
suite=bookworm

[ "$(id -u)" = 0 ] || die "rootfs: must run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "rootfs: debootstrap is not installed (make deps)"
mirror=$(debian_mirror)
pkgs=$(sed 's/#.*//' "$SBX_SRC/guest/rootfs/packages.txt" | xargs)
[ -n "$pkgs" ] || die "rootfs: guest/rootfs/packages.txt is empty"

# shellcheck disable=SC2086
key=$( { echo rootfs-1; cat "$SBX_SRC/image/rootfs.sh"
	(cd "$SBX_SRC/guest/rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
	echo "$mirror $suite $SOURCE_DATE_EPOCH"; apt_lists_date
	apt-cache policy $pkgs 2>/dev/null | grep -E '^[^ ]|Candidate'
	pkg_version debootstrap; pkg_version e2fsprogs; } | key_of)

if cache_begin rootfs "$key"; then
	status=cached
else
	status=built
	root=$tmp/root
	log=$tmp/build.log
	mounted=()
	cleanup() {
		local m
		for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
		mounted=()
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP
	fail() { cleanup; tail -30 "$log" >&2; die "rootfs: $* (log: $log)"; }

	t0=$SECONDS
	debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$log" 2>&1 ||
		fail "debootstrap failed"
	t_debootstrap=$((SECONDS - t0))

	# The sandbox's apt uses the same sources as this system (mirror and
	# security updates).
	rm -f "$root/etc/apt/sources.list"
	if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
		cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/"
	else
		echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
	fi
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	mount -t proc proc "$root/proc" && mounted+=("$root/proc")
	mount -t sysfs sysfs "$root/sys" && mounted+=("$root/sys")
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" && mounted+=("$root/dev/pts")
	in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@"; }

	t0=$SECONDS
	{
		in_root apt-get update -q
		# shellcheck disable=SC2086
		in_root apt-get install -y -q --no-install-recommends $pkgs ||
			{ in_root dpkg --configure -a && in_root apt-get install -y -q -f; }
		in_root dpkg --configure -a
	} >>"$log" 2>&1 || fail "apt-get install failed"
	t_install=$((SECONDS - t0))

	# Check the result before it is published.
	for b in python3 node npm git curl pip3 ipython3; do
		in_root sh -c "command -v $b" >/dev/null || fail "$b is missing from the rootfs"
	done
	# Importing pyplot also builds matplotlib's font cache in /root/.cache,
	# which is kept: the first plot in a sandbox is seconds faster.
	in_root env MPLBACKEND=Agg python3 -c 'import matplotlib.pyplot, numpy' >>"$log" 2>&1 ||
		fail "python3 cannot import matplotlib"
	in_root npm --version >>"$log" 2>&1 || fail "npm does not run"
	in_root node -e 'process.exit(0)' >>"$log" 2>&1 || fail "node does not run"

	in_root apt-get clean >>"$log" 2>&1
	cleanup
	trap - EXIT
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
		"$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
		"$root"/usr/share/man/* "$root"/usr/share/info/* \
		"$root"/tmp/* "$root"/var/tmp/* "$root"/root/.npm \
		"$root/usr/sbin/policy-rc.d"
	find "$root/var/log" -type f -delete
	find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
	: >"$root/etc/machine-id"
	echo sandbox >"$root/etc/hostname"
	# No host resolv.conf in the image: guest/rootfs/files/etc/ has the
	# sandbox's resolv.conf and hosts (files/ is copied over the tree last).
	rm -f "$root/etc/resolv.conf"
	: >"$root/etc/resolv.conf"
	mkdir -p "$root/workspace" "$root/opt/sbx"
	if [ -d "$SBX_SRC/guest/rootfs/files" ]; then
		cp -a "$SBX_SRC/guest/rootfs/files/." "$root/"
	fi
	# Installed versions, for the record.
	chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' >"$tmp/packages.list"

	# ext4 with an inode per 8 KiB (the default ratio leaves almost no free
	# inodes), no journal (read-only at run time), 15% + 64 MiB of headroom.
	used_kib=$(du -sk "$root" | cut -f1)
	size_mib=$(( (used_kib * 115 / 100 / 1024) + 64 ))
	t0=$SECONDS
	E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -L sbx-rootfs \
		-U 5b3f0c1e-5b5a-4f0e-9d6a-7362782d7266 -E hash_seed=5b3f0c1e-5b5a-4f0e-9d6a-7362782d7266,root_owner=0:0 \
		-O ^has_journal -m 0 -i 8192 -d "$root" "$tmp/rootfs.ext4" "${size_mib}M" >>"$log" 2>&1 ||
		fail "mkfs.ext4 failed"
	t_mkfs=$((SECONDS - t0))
	echo "debootstrap ${t_debootstrap}s install ${t_install}s mkfs ${t_mkfs}s tree ${used_kib}KiB image ${size_mib}MiB" \
		>"$tmp/build.times"
	rm -rf "$root"
	cache_commit
fi

link_to "$final/rootfs.ext4" "$O/images/rootfs.ext4"
report rootfs "$status" "$start" "$final ($(du -h --apparent-size "$final/rootfs.ext4" | cut -f1), $(du -h "$final/rootfs.ext4" | cut -f1) on disk)"
