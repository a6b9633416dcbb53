#!/bin/sh
# boards/appliance/update.sh: /usr/bin/sbx-update [--sha256 HEX] SOURCE,
# installs a new version of the appliance as the next boot's trial entry.
# SOURCE is a file (sbxd's update hook passes the uploaded one) or an
# http(s):// URL (from the console menu), fetched to the data partition.
# With SBX_UPDATE_REBOOT=1 in the environment it reboots when done.
#
# The image is a UKI as build.sh makes it. It is checked before anything on
# the ESP changes: a PE file with .osrel, .cmdline, .linux and .initrd
# sections; .osrel says ID=sbx, this board, and a version newer than the
# running one; .cmdline boots the appliance with that version. Then every
# entry but the running one is removed (the running one becomes the
# fallback), and the image is copied as EFI/Linux/sbx-NEW+TRIES.efi (TRIES:
# update_tries= in sbx.conf, default 3) under a temporary name first, so a
# half-written file is never a boot entry. The last line printed says what
# happens next (sbxd returns it to the API client). Exit 0 installed,
# 1 refused, 2 usage.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=esp.sh disable=SC1091
. /etc/sbx/esp.sh
STATE=/var/lib/sbx
L=::/EFI/Linux

die() { echo "update refused: $*"; exit 1; }

sha=
if [ "${1:-}" = --sha256 ]; then sha=$2; shift 2; fi
[ $# -eq 1 ] || { echo "usage: sbx-update [--sha256 HEX] FILE|URL"; exit 2; }
src=$1
case $src in
http://* | https://*)
	mkdir -p "$STATE/update"
	f=$STATE/update/download.efi
	echo "downloading $src"
	# No CA store on the box: the certificate is not checked, so give
	# the image's SHA-256 to be sure of what arrived.
	# (busybox 1.35's wget -T crashes: the time limit is timeout's.)
	timeout 1800 wget -q -O "$f" --no-check-certificate "$src" || die "download failed: $src"
	;;
*) f=$src ;;
esac
[ -f "$f" ] || die "no such file: $f"
if [ -n "$sha" ]; then
	[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(echo "$sha" | tr A-F a-f)" ] ||
		die "SHA-256 mismatch"
fi

u16() { od -An -tu2 -j "$2" -N 2 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' '; }
# pe_find FILE NAME: sets SEC_OFF and SEC_SIZE (its virtual size, at most
# its raw size) of the section NAME; fails when there is none.
pe_find() {
	pe=$(u32 "$1" 60)
	[ -n "$pe" ] && [ "$(od -An -tx1 -j "$pe" -N 4 "$1" | tr -d ' ')" = 50450000 ] || return 1
	n=$(u16 "$1" $((pe + 6)))
	tab=$((pe + 24 + $(u16 "$1" $((pe + 20)))))
	i=0
	while [ "$i" -lt "$n" ] && [ "$i" -lt 96 ]; do
		o=$((tab + 40 * i))
		if [ "$(dd if="$1" bs=1 skip="$o" count=8 2>/dev/null | tr -d '\000')" = "$2" ]; then
			SEC_SIZE=$(u32 "$1" $((o + 8)))
			raw=$(u32 "$1" $((o + 16)))
			[ "$raw" -lt "$SEC_SIZE" ] && SEC_SIZE=$raw
			SEC_OFF=$(u32 "$1" $((o + 20)))
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}
# pe_text FILE NAME: a small text section's bytes, NULs dropped.
pe_text() {
	pe_find "$1" "$2" && [ "$SEC_SIZE" -le 65536 ] || return 1
	tail -c +$((SEC_OFF + 1)) "$1" | head -c "$SEC_SIZE" | tr -d '\000'
}

[ "$(head -c 2 "$f")" = MZ ] || die "not an EFI image"
for s in .linux .initrd; do
	pe_find "$f" "$s" && [ "$SEC_SIZE" -gt 0 ] || die "no $s section: not a UKI"
done
osrel=$(pe_text "$f" .osrel) || die "no .osrel section: not a UKI"
cmdline=$(pe_text "$f" .cmdline) || die "no .cmdline section"
val() { echo "$osrel" | sed -n "s/^$1=//p" | tr -d '"' | head -n 1; }
[ "$(val ID)" = sbx ] || die "not an sbx image (ID=$(val ID))"
board=$(cat /etc/sbx/board 2>/dev/null)
nb=$(val SBX_BOARD)
[ -z "$nb" ] || [ "$nb" = "$board" ] || die "image for board $nb, this is $board"
NV=$(val IMAGE_VERSION)
case $NV in
"" | *[!0-9A-Za-z._~]*) die "bad version '$NV'" ;;
esac
case " $cmdline " in
*" sbx.version=$NV "*) ;;
*) die "its command line does not name version $NV" ;;
esac
case " $cmdline " in
*" sbx.mode=appliance "*) ;;
*) die "its command line does not boot the appliance" ;;
esac

V=$(esp_booted_version)
esp_newer "$NV" "$V" || die "version $NV is not newer than the running $V"
dev=$(esp_dev) || die "no EFI system partition found"
cur=$(esp_entry_of "$dev" "$V") || die "the running version $V has no entry on $dev"
[ -z "$(esp_entry_left "$cur")" ] ||
	die "the running version $V is still on trial ($cur): wait until it is healthy"

for e in $(esp_entries "$dev"); do
	[ "$e" = "$cur" ] || mdel -i "$dev" "$L/$e" || die "cannot remove $e"
done
mdel -i "$dev" "$L/sbx-$NV.new" 2>/dev/null
need=$(( $(stat -c %s "$f") + 1048576 ))
free=$(esp_free "$dev")
[ -n "$free" ] && [ "$free" -ge "$need" ] || die "no room on the ESP ($free bytes free, $need needed)"
tries=$(tr -d '\r' </run/sbx/config/sbx.conf 2>/dev/null | sed -n 's/^[[:space:]]*update_tries[[:space:]]*=[[:space:]]*//p' | tail -n 1)
case $tries in "" | *[!0-9]* | 0) tries=3 ;; esac
[ "$tries" -gt 9 ] && tries=9
mcopy -i "$dev" "$f" "$L/sbx-$NV.new" || die "cannot write to the ESP"
mren -i "$dev" "$L/sbx-$NV.new" "$L/sbx-$NV+$tries.efi" || die "cannot name the entry"
sync
echo "installed $NV as EFI/Linux/sbx-$NV+$tries.efi beside $cur" >>/run/sbx/update.log
msg="installed $NV: the next boot tries it (up to $tries boots) and falls back to $V unless it answers /v1/health and boots a sandbox within $(cat /run/sbx/health_timeout 2>/dev/null || echo 300) s"
if [ "${SBX_UPDATE_REBOOT:-0}" = 1 ]; then
	# Later, so the API's answer leaves first.
	setsid sh -c '. /etc/sbx/esp.sh; sleep 3; box_reboot' </dev/null >/dev/null 2>&1 &
	echo "$msg; rebooting now"
else
	echo "$msg; reboot to apply"
fi
