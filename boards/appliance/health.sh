#!/bin/sh
# boards/appliance/health.sh: /usr/bin/sbx-health, started once per boot by
# sbx-hostinit after the setup. Waits until sbxd answers GET /v1/health over
# HTTPS on loopback (busybox wget, through openssl s_client). When the
# running version is on trial (/run/sbx/trial: a new version, which
# hostinit's watchdog reboots unless /run/sbx/healthy appears in time), that
# is not enough: a version whose sbxd serves but whose sbx-vmm or guest
# kernel is broken must not stay. So it then boots a sandbox and runs a
# command in it the way a client does: a throwaway token of tenant
# sbx-health (`sbxd token create`; sbxd rereads its token file), the sbx CLI
# on https://localhost trusting sbxd's own certificate, `sbx exec sbx-health
# -- echo ok`, then the sandbox removed and the token revoked; every few
# seconds again until it works (the watchdog bounds the tries). Ordinary
# boots skip that and stay cheap.
#
# Then, when the running entry still has a boot counter, it blesses it:
# renames EFI/Linux/sbx-V+LEFT-DONE.efi to sbx-V.efi, so systemd-boot keeps
# booting it. Then prunes the ESP to two versions (this one and the newest
# good older one, the fallback), drops entries that used up their tries,
# and writes /run/sbx/healthy, which stops hostinit's watchdog.
# Log: /run/sbx/health.log (each failed try and why).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec >>/run/sbx/health.log 2>&1 </dev/null
# shellcheck source=esp.sh disable=SC1091
. /etc/sbx/esp.sh
L=::/EFI/Linux
STATE=/var/lib/sbx
# The sandbox check's tenant and sandbox: a name kept for it.
H=sbx-health

port=$(cat /run/sbx/port 2>/dev/null)
port=${port:-443}
V=$(esp_booted_version)
up() { cut -d' ' -f1 /proc/uptime; }
# (busybox 1.35's wget -T crashes: the time limit is timeout's.)
until timeout 20 wget -q -O /dev/null --no-check-certificate "https://127.0.0.1:$port/v1/health"; do
	sleep 2
done
echo "health: sbxd answered at $(up) s of uptime"

# hsbx SECONDS ARGS...: the sbx CLI against this box as tenant $H (token
# $tok), within SECONDS. It trusts sbxd's own certificate as its CA (its
# names include localhost, which libcurl resolves itself), and no config
# file: the box has no CA store, which a pinned fingerprint would need.
hsbx() {
	t=$1
	shift
	SBX_CONFIG=/dev/null SBX_URL="https://localhost:$port" SBX_TOKEN=$tok \
		SBX_CA=$STATE/tls/cert.pem timeout "$t" sbx "$@"
}

# Revokes every token of tenant $H: this check's, and any left by a boot
# that ended during the check.
revoke() {
	for id in $(sbxd token list --state "$STATE" | awk -v t="$H" '$2 == t { print $1 }'); do
		sbxd token revoke "$id" --state "$STATE" || echo "health: could not revoke token $id"
	done
}

# One try of the sandbox check; 0 when the sandbox printed ok. The CLI's
# own errors go to the log.
sandbox_check() {
	revoke
	tok=$(sbxd token create --tenant "$H" --state "$STATE") || {
		echo "health: could not create a token"
		return 1
	}
	hsbx 120 rm "$H" >/dev/null 2>&1 # left by a boot that ended during the check
	out=$(hsbx 600 exec "$H" -- echo ok)
	rc=$?
	hsbx 120 rm "$H" >/dev/null || echo "health: could not remove sandbox $H"
	revoke
	tok=
	[ "$rc" = 0 ] && [ "$out" = ok ] && return 0
	echo "health: sandbox check failed at $(up) s of uptime (exit $rc, output '$out')"
	return 1
}

if [ -e /run/sbx/trial ]; then
	try=1
	until sandbox_check; do
		try=$((try + 1))
		sleep 5
	done
	echo "health: a sandbox booted and ran a command at $(up) s of uptime (try $try)"
fi

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
