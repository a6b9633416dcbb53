#!/bin/sh
# boards/appliance/health.sh: /usr/bin/sbx-health, started once per boot by
# sbx-hostinit after the setup. Waits until sbxd answers GET /v1/health over
# HTTPS on loopback (busybox wget, through openssl s_client), then, when the
# running version is on trial (its entry still has a boot counter), blesses
# it: renames EFI/Linux/sbx-V+LEFT-DONE.efi to sbx-V.efi, so systemd-boot
# keeps booting it. Then prunes the ESP to two versions (this one and the
# newest good older one, the fallback), drops entries that used up their
# tries, and writes /run/sbx/healthy, which stops hostinit's watchdog.
# Log: /run/sbx/health.log.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec >>/run/sbx/health.log 2>&1 </dev/null
# shellcheck source=esp.sh disable=SC1091
. /etc/sbx/esp.sh
L=::/EFI/Linux

port=$(cat /run/sbx/port 2>/dev/null)
V=$(esp_booted_version)
# (busybox 1.35's wget -T crashes: the time limit is timeout's.)
until timeout 20 wget -q -O /dev/null --no-check-certificate "https://127.0.0.1:${port:-443}/v1/health"; do
	sleep 2
done
echo "health: sbxd answered at $(cut -d' ' -f1 /proc/uptime) s of uptime"

dev=$(esp_dev) || { echo "health: no ESP: nothing to bless"; : >/run/sbx/healthy; exit 0; }
cur=$(esp_entry_of "$dev" "$V")
if [ -z "$cur" ]; then
	echo "health: no entry of version $V on $dev"
elif [ -n "$(esp_entry_left "$cur")" ]; then
	if mren -i "$dev" "$L/$cur" "$L/sbx-$V.efi"; then
		sync
		echo "health: blessed $cur as sbx-$V.efi"
		echo "sbx-$V.efi" >/run/sbx/entry
	else
		echo "health: could not rename $cur"
	fi
fi

# Keep this version and one fallback: the newest good entry older than it.
keep=
for e in $(esp_entries "$dev"); do
	ev=$(esp_entry_version "$e")
	left=$(esp_entry_left "$e")
	[ "$ev" = "$V" ] && continue
	if [ "$left" = 0 ]; then
		mdel -i "$dev" "$L/$e" && echo "health: removed $e (no tries left)"
	elif [ -z "$left" ] && esp_newer "$V" "$ev"; then
		if [ -z "$keep" ]; then
			keep=$e
		elif esp_newer "$ev" "$(esp_entry_version "$keep")"; then
			mdel -i "$dev" "$L/$keep" && echo "health: removed $keep (older)"
			keep=$e
		else
			mdel -i "$dev" "$L/$e" && echo "health: removed $e (older)"
		fi
	fi
done
sync
echo "${keep:-none}" >/run/sbx/fallback
: >/run/sbx/healthy
echo "health: healthy; fallback ${keep:-none}"
