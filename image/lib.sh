# shellcheck shell=bash disable=SC2034
# image/lib.sh: helpers shared by the image scripts (sourced, not run).
#
# Every artifact lives in its own folder in the cache, named by a hash of its
# inputs: $SBX_CACHE/<name>-<hash>/. It is built in a temporary folder beside
# it ($SBX_CACHE/.tmp-<name>-<hash>.XXXX) and renamed into place only when
# complete, so an interrupted build never leaves a folder that looks done.
# Builds of the same artifact are serialised by a lock file.

SBX_CACHE=${SBX_CACHE:-/var/cache/sbx}
# A fixed timestamp for reproducible outputs (kernel banner, cpio and ext4
# mtimes) unless the caller chooses one.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export LC_ALL=C
SBX_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "images: $*" >&2; exit 1; }

# The key: the first 16 hex digits of the sha256 of stdin.
key_of() { sha256sum | cut -c1-16; }

# The version of an installed Debian package (empty when absent).
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

# The Debian mirror the system uses (the first URIs of a deb822 source, or the
# first deb line of a one-line source), never hard-coded here.
debian_mirror() {
	local uri
	uri=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [ -z "$uri" ]; then
		uri=$(awk '$1 == "deb" && $0 !~ /security/ {
			for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
	fi
	[ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*"
	echo "$uri"
}

# The Date: lines of the apt lists the system last fetched: they change when
# the mirror publishes new package versions.
apt_lists_date() {
	grep -h '^Date:' /var/lib/apt/lists/*Release 2>/dev/null | sort | sha256sum | cut -c1-16
}

# cache_begin NAME KEY: sets $final (the cache folder). Returns 0 when it is
# already there (cached), 1 when it must be built; in that case it holds the
# artifact's lock and sets $tmp, a fresh temporary folder to build into.
cache_begin() {
	final=$SBX_CACHE/$1-$2
	[ -d "$final" ] && return 0
	mkdir -p "$SBX_CACHE"
	exec {lockfd}>"$SBX_CACHE/.lock-$1"
	flock "$lockfd"
	[ -d "$final" ] && return 0
	# A build killed hard may have left mounts in its temporary folder.
	local m
	for m in $(awk -v p="$SBX_CACHE/.tmp-$1-" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount -l "$m" || true
	done
	rm -rf --one-file-system "$SBX_CACHE/.tmp-$1-"*
	tmp=$(mktemp -d "$SBX_CACHE/.tmp-$1-$2.XXXX")
	chmod 755 "$tmp"
	return 1
}

# cache_commit: renames $tmp to $final (atomic) and drops the lock.
cache_commit() {
	sync -f "$tmp" 2>/dev/null || true
	mv -T "$tmp" "$final"
	flock -u "$lockfd"
}

# link_to TARGET LINK: points LINK at TARGET, replacing it atomically.
link_to() {
	mkdir -p "$(dirname "$2")"
	ln -sfn "$1" "$2.tmp.$$"
	mv -T "$2.tmp.$$" "$2"
}

# report NAME STATUS START_SECONDS DETAIL
report() {
	local t=$((SECONDS - $3))
	printf 'images: %-10s %-6s %4d s  %s\n' "$1" "$2" "$t" "$4"
}
