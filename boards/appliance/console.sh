#!/bin/sh
# boards/appliance/console.sh: /usr/bin/sbx-console, the operator's menu on
# the serial console. sbx-hostinit starts it on ttyS0 (sbx.console=) once
# the setup is done and starts it again whenever it exits.
#
# It prints a banner with the API's URL and the TLS certificate's SHA-256
# fingerprint (waiting for sbxd to have made the certificate), then a
# numbered menu. Actions that need sbxd restarted signal it: hostinit
# restarts it. Changes to sbx.conf take effect on the next boot. Updates
# go through sbx-update (the same as the API's); a roll back marks the
# running entry as having no tries left, so systemd-boot prefers the other.
# shellcheck source=esp.sh disable=SC1091
. /etc/sbx/esp.sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
STATE=/var/lib/sbx
CFG=/run/sbx/config
CERT=$STATE/tls/cert.pem

fingerprint() {
	sed -n '/-----BEGIN/,/-----END/{/-----/d;p}' "$CERT" | base64 -d |
		sha256sum | cut -d' ' -f1 | tr a-f A-F | sed 's/../&:/g; s/:$//'
}

address() {
	ip -4 -o addr show dev "$(cat /run/sbx/ifc 2>/dev/null)" 2>/dev/null |
		awk '{ split($4, a, "/"); print a[1]; exit }'
}

url() {
	a=$(address)
	p=$(cat /run/sbx/port 2>/dev/null)
	[ "$p" = 443 ] && p= || p=":$p"
	echo "https://${a:-<no address yet>}$p"
}

conf() {
	tr -d '\r' <"$CFG/sbx.conf" 2>/dev/null |
		sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" | tail -n 1
}

# Sets key $1 to $2 in sbx.conf (CRLF kept, so any OS can edit it after).
conf_set() {
	f=$CFG/sbx.conf
	tr -d '\r' <"$f" | grep -v "^[[:space:]]*$1[[:space:]]*=" >/run/sbx/conf.new
	echo "$1=$2" >>/run/sbx/conf.new
	sed 's/$/\r/' /run/sbx/conf.new >"$f.tmp" && mv "$f.tmp" "$f"
	rm -f /run/sbx/conf.new
	sync
}

sbxd_restart() {
	pid=$(cat /run/sbx/sbxd.pid 2>/dev/null)
	[ -n "$pid" ] && kill "$pid"
}

banner() {
	for _ in $(seq 1 120); do
		[ -s "$CERT" ] && [ -n "$(address)" ] && break
		sleep 0.5
	done
	echo
	echo "============================================================"
	echo " sbx appliance $(sed -n 's/^IMAGE_VERSION=//p' /etc/os-release) on $(hostname)"
	echo " API:      $(url)"
	echo " domain:   $(conf domain)  (previews: https://PORT-ID-TOKEN.$(conf domain))"
	if [ -s "$CERT" ]; then
		echo " TLS SHA-256: $(fingerprint)"
	else
		echo " TLS: no certificate yet (see the logs)"
	fi
	echo "============================================================"
	echo "sbx appliance ready"
}

status() {
	echo "hostname:  $(hostname)"
	echo "network:   $(cat /run/sbx/net 2>/dev/null) on $(cat /run/sbx/ifc 2>/dev/null)"
	echo "API:       $(url)"
	echo "domain:    $(conf domain)"
	n=0
	[ -d "$STATE/sandboxes" ] && n=$(ls "$STATE/sandboxes" | wc -l)
	echo "sandboxes: $n ($(pidof sbx-vmm | wc -w) running)"
	free -m | awk '/^Mem:/ { printf "memory:    %s MiB used of %s MiB\n", $3, $2 }'
	df -h "$STATE" | awk 'NR == 2 { printf "disk:      %s used of %s (%s)\n", $3, $2, $5 }'
	echo "uptime:    $(uptime)"
	echo "version:   $(esp_booted_version) (entry $(cat /run/sbx/entry 2>/dev/null)$(
		[ -e /run/sbx/trial ] && echo ', on trial')$(
		[ -e /run/sbx/healthy ] && echo ', healthy'))"
	echo "fallback:  $(cat /run/sbx/fallback 2>/dev/null || echo 'not known yet')"
	pid=$(cat /run/sbx/sbxd.pid 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "sbxd:      running (pid $pid)"
	else
		echo "sbxd:      not running"
	fi
}

network() {
	echo "current: network=$(conf network) address=$(conf address) gateway=$(conf gateway) dns=$(conf dns)"
	echo "  now:   $(cat /run/sbx/net 2>/dev/null)"
	printf 'mode (dhcp/static, empty keeps it): '
	read -r m || return
	case $m in
	dhcp) conf_set network dhcp ;;
	static)
		printf 'address (CIDR, e.g. 192.168.1.50/24): '; read -r a || return
		printf 'gateway: '; read -r g || return
		printf 'dns: '; read -r d || return
		conf_set network static
		conf_set address "$a"
		conf_set gateway "$g"
		conf_set dns "$d"
		;;
	"") ;;
	*) echo "unknown mode"; return ;;
	esac
	printf 'hostname (empty keeps %s): ' "$(conf hostname)"; read -r h || return
	[ -n "$h" ] && conf_set hostname "$h"
	printf 'preview domain (empty keeps %s): ' "$(conf domain)"; read -r d || return
	[ -n "$d" ] && conf_set domain "$d"
	echo "saved; takes effect on the next boot (menu: reboot)"
}

logs() {
	echo "--- sbxd (last 30 lines of $STATE/log/sbxd.log)"
	tail -n 30 "$STATE/log/sbxd.log" 2>/dev/null
	echo "--- setup"
	tail -n 10 /run/sbx/setup.log
	echo "--- kernel"
	dmesg | tail -n 10
}

token_create() {
	printf 'tenant name: '
	read -r t || return
	case $t in
	"" | *[!A-Za-z0-9_.-]*) echo "tenant: letters, digits, . _ - only"; return ;;
	esac
	printf 'operator token (may update the box through the API)? [y/N] '
	read -r op || return
	role=
	[ "$op" = y ] && role=--operator
	tok=$(sbxd token create --tenant "$t" $role --state "$STATE" 2>&1) || { echo "failed: $tok"; return; }
	echo "token for $t: $tok"
	echo "(shown once; only its hash is kept)"
}

token_revoke() {
	sbxd token list --state "$STATE"
	printf 'token id to revoke: '
	read -r id || return
	[ -n "$id" ] && sbxd token revoke "$id" --state "$STATE" && echo "revoked $id"
}

cert_regen() {
	printf 'regenerate the TLS certificate (clients must trust the new one)? [y/N] '
	read -r a || return
	[ "$a" = y ] || return
	rm -rf "$STATE/tls"
	sbxd_restart
	for _ in $(seq 1 60); do
		[ -s "$CERT" ] && break
		sleep 0.5
	done
	echo "new TLS SHA-256: $(fingerprint)"
}

update() {
	echo "a new image: an http(s):// URL reachable from the box, or a file on"
	echo "the data partition (e.g. $STATE/update/sbx.efi, copied with the shell)"
	printf 'URL or path: '
	read -r src || return
	[ -n "$src" ] || return
	printf 'its SHA-256 (empty: do not check): '
	read -r sum || return
	if [ -n "$sum" ]; then
		sbx-update --sha256 "$sum" "$src"
	else
		sbx-update "$src"
	fi || return
	printf 'reboot into it now? [y/N] '
	read -r a || return
	[ "$a" = y ] && { echo "rebooting (sandboxes stop first)"; box_reboot; }
}

rollback() {
	dev=$(esp_dev) || { echo "no EFI system partition"; return; }
	V=$(esp_booted_version)
	cur=$(esp_entry_of "$dev" "$V") || { echo "no entry for $V"; return; }
	prev=
	for e in $(esp_entries "$dev"); do
		[ "$e" = "$cur" ] || [ "$(esp_entry_left "$e")" = 0 ] || prev=$e
	done
	[ -n "$prev" ] || { echo "nothing to roll back to: $cur is the only bootable entry"; return; }
	echo "running $V ($cur); the other entry: $prev"
	printf 'mark %s bad and reboot into %s? [y/N] ' "$V" "$(esp_entry_version "$prev")"
	read -r a || return
	[ "$a" = y ] || return
	mren -i "$dev" "::/EFI/Linux/$cur" "::/EFI/Linux/sbx-$V+0.efi" || { echo "rename failed"; return; }
	sync
	echo "rebooting into $(esp_entry_version "$prev") (sandboxes stop first)"
	box_reboot
}

factory_reset() {
	printf 'factory reset: erase all sandboxes, tokens and the certificate? [y/N] '
	read -r a || return
	[ "$a" = y ] || return
	printf 'really? type ERASE to confirm: '
	read -r a || return
	[ "$a" = ERASE ] || { echo "cancelled"; return; }
	: >"$CFG/factory-reset"
	sync
	echo "rebooting to erase the data partition"
	reboot -f
}

stty sane 2>/dev/null
banner
while :; do
	echo
	echo " 1) status   2) network settings   3) show logs   4) create token"
	echo " 5) revoke token   6) regenerate certificate   7) reboot   8) factory reset"
	echo " 9) banner   10) update   11) roll back   0) maintenance shell"
	printf 'sbx> '
	read -r c || exit 0
	case $c in
	1) status ;;
	2) network ;;
	3) logs ;;
	4) token_create ;;
	5) token_revoke ;;
	6) cert_regen ;;
	7) echo "rebooting (sandboxes stop first)"; box_reboot ;;
	8) factory_reset ;;
	9) banner ;;
	10) update ;;
	11) rollback ;;
	0) echo "busybox sh; exit returns to the menu"; /bin/sh -l ;;
	"") ;;
	*) echo "choose 0-11" ;;
	esac
done
