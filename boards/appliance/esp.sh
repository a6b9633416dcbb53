# boards/appliance/esp.sh: /etc/sbx/esp.sh, shell functions (busybox sh)
# over the EFI system partition's boot entries, sourced by sbx-health,
# sbx-update and sbx-console. The ESP is never mounted: mtools works on the
# raw partition, so a crash mid-way cannot leave a dirty mount behind.
#
# Entries are Boot Loader Specification type #2 files EFI/Linux/sbx-V.efi
# (a good version) and sbx-V+LEFT[-DONE].efi (on trial: systemd-boot takes
# one from LEFT and adds one to DONE on every boot, renaming the file, and
# sorts entries with LEFT = 0 after every other). The running version is
# sbx.version= on the kernel command line, which the image's own UKI carries.
export MTOOLS_SKIP_CHECK=1

# The running version.
esp_booted_version() {
	tr ' ' '\n' </proc/cmdline | sed -n 's/^sbx\.version=//p' | tail -n 1
}

# The ESP's block device (/dev/vda1, /dev/nvme0n1p1, ...), by its GPT name.
esp_dev() {
	for u in /sys/class/block/*/uevent; do
		if grep -qx 'PARTNAME=EFI system' "$u"; then
			echo "/dev/$(basename "$(dirname "$u")")"
			return 0
		fi
	done
	return 1
}

# The entry files' names, one per line.
esp_entries() {
	mdir -b -i "$1" ::/EFI/Linux 2>/dev/null | sed -n 's|^.*/||; /^sbx-.*\.efi$/p'
}

# An entry file's version, and its tries left ("" when it is a good one).
esp_entry_version() {
	n=${1#sbx-}
	n=${n%.efi}
	echo "${n%%+*}"
}
esp_entry_left() {
	case $1 in
	*+*) n=${1##*+}; n=${n%.efi}; echo "${n%%-*}" ;;
	*) echo "" ;;
	esac
}

# The entry file of version $2 on ESP $1.
esp_entry_of() {
	for e in $(esp_entries "$1"); do
		[ "$(esp_entry_version "$e")" = "$2" ] && { echo "$e"; return 0; }
	done
	return 1
}

# True when version $1 sorts after $2 (the order systemd-boot boots in).
esp_newer() {
	[ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" = "$1" ]
}

# Free bytes on ESP $1.
esp_free() {
	mdir -i "$1" ::/ 2>/dev/null | sed -n 's/^ *\([0-9 ]*\) bytes free.*/\1/p' | tr -d ' '
}

# Reboots the box, sbxd first: on SIGTERM it stops every sandbox at once,
# each guest syncing its workspace, so files written just before an update
# or a reboot from the console are kept. Bounded: after 20 s it reboots
# anyway.
box_reboot() {
	pid=$(cat /run/sbx/sbxd.pid 2>/dev/null)
	if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 200 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	fi
	sync
	reboot -f
}
