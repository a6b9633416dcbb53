#!/bin/sh
# boards/appliance/setup.sh: /etc/sbx/appliance-setup in the appliance's
# initramfs, run once per boot by sbx-hostinit (sbx.mode=appliance) after the
# modules are loaded, before sbxd and the console start. busybox sh.
#
# In order: find the partitions by their GPT names; on the first boot create
# the data partition over the rest of the disk (moving the backup GPT to the
# disk's end first, for disks larger than the image); mount the config
# partition and read sbx.conf; set the hostname and bring up the network;
# format (first boot, factory reset) and mount the data partition at
# /var/lib/sbx; mount the rootfs squashfs; seed the first token; find the
# boot entry this version runs from and whether it is on trial (for
# hostinit's watchdog and sbx-health); write sbxd's argv (one per line) to
# /run/sbx/sbxd.argv for hostinit.
# Its log is /run/sbx/setup.log; errors are reported and passed over.
mkdir -p /run/sbx /var/log
exec >>/run/sbx/setup.log 2>&1
PATH=/usr/sbin:/usr/bin:/sbin:/bin
STATE=/var/lib/sbx
CFG=/run/sbx/config
echo "setup: start $(cat /proc/uptime)"

# The block device (sdX2, vda2, nvme0n1p2) of the partition named $1.
part_by_name() {
	for u in /sys/class/block/*/uevent; do
		if grep -qx "PARTNAME=$1" "$u"; then
			basename "$(dirname "$u")"
			return 0
		fi
	done
	return 1
}

# The value of key $1 in sbx.conf, else $2.
conf() {
	v=$(tr -d '\r' <"$CFG/sbx.conf" 2>/dev/null |
		sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" | tail -n 1 |
		sed 's/[[:space:]]*$//')
	echo "${v:-${2:-}}"
}

cfgpart=
for _ in $(seq 1 100); do
	cfgpart=$(part_by_name SBXCONFIG) && break
	sleep 0.1
done
[ -n "$cfgpart" ] || echo "setup: no SBXCONFIG partition"
disk=
[ -n "$cfgpart" ] && disk=$(basename "$(dirname "$(readlink -f "/sys/class/block/$cfgpart")")")

# First boot: the data partition over the rest of the disk.
fresh=0
data=$(part_by_name sbx-data)
if [ -z "$data" ] && [ -n "$disk" ]; then
	echo "setup: creating the data partition on /dev/$disk"
	/usr/sbin/sfdisk -q --relocate gpt-bk-to-end "/dev/$disk"
	echo ',,0FC63DAF-8483-4772-8E79-3D69D8477DE4' |
		/usr/sbin/sfdisk -q --append --no-reread "/dev/$disk"
	n=$(/usr/sbin/sfdisk -d "/dev/$disk" | grep -c '^/dev/')
	/usr/sbin/sfdisk -q --part-label "/dev/$disk" "$n" sbx-data
	blockdev --rereadpt "/dev/$disk" 2>/dev/null
	for _ in $(seq 1 50); do
		data=$(part_by_name sbx-data) && break
		sleep 0.1
	done
	fresh=1
fi

mkdir -p "$CFG"
[ -n "$cfgpart" ] && mount -t vfat -o rw,noatime,fmask=0177,dmask=0077 "/dev/$cfgpart" "$CFG"

if [ -e "$CFG/factory-reset" ]; then
	echo "setup: factory reset requested"
	fresh=1
	rm -f "$CFG/factory-reset"
fi
if [ -n "$data" ]; then
	if [ "$fresh" = 1 ] || ! mount -t ext4 -o noatime "/dev/$data" "$STATE"; then
		echo "setup: formatting /dev/$data"
		/usr/sbin/mke2fs -q -F -t ext4 -L sbx-data "/dev/$data"
		mount -t ext4 -o noatime "/dev/$data" "$STATE"
	fi
else
	echo "setup: no data partition: state in RAM"
fi
chmod 700 "$STATE"
mkdir -p "$STATE/log"

hostname=$(conf hostname sbx)
echo "$hostname" >/proc/sys/kernel/hostname

# The network: the first interface that is not lo.
ifc=
for _ in $(seq 1 50); do
	for n in /sys/class/net/*; do
		[ "${n##*/}" = lo ] || { ifc=${n##*/}; break; }
	done
	[ -n "$ifc" ] && break
	sleep 0.1
done
ip link set lo up
echo "$ifc" >/run/sbx/ifc
if [ -z "$ifc" ]; then
	echo "setup: no network interface"
elif [ "$(conf network dhcp)" = static ]; then
	ip link set "$ifc" up
	ip addr add "$(conf address)" dev "$ifc"
	gw=$(conf gateway)
	[ -n "$gw" ] && ip route add default via "$gw"
	: >/etc/resolv.conf
	for d in $(conf dns | tr ',' ' '); do echo "nameserver $d" >>/etc/resolv.conf; done
	echo "$(conf address) via ${gw:-none} (static)" >/run/sbx/net
else
	ip link set "$ifc" up
	udhcpc -i "$ifc" -t 8 -T 2 -b -S -x "hostname:$hostname" \
		-s /usr/share/udhcpc/default.script -p /run/sbx/udhcpc.pid
fi

# The guest images: kernel and initramfs from the initramfs, rootfs from
# its squashfs partition.
mkdir -p /run/sbx/images /run/sbx/rootfs
ln -sf /sbx/images/vmlinux /run/sbx/images/vmlinux
ln -sf /sbx/images/initramfs.cpio /run/sbx/images/initramfs.cpio
root=$(part_by_name sbx-rootfs) &&
	mount -t squashfs -o ro "/dev/$root" /run/sbx/rootfs &&
	ln -sf /run/sbx/rootfs/rootfs.ext4 /run/sbx/images/rootfs.ext4

# The first token, from sbx.conf, when there is none yet.
if [ ! -e "$STATE/tokens.json" ]; then
	h=$(conf token_sha256)
	t=$(conf token)
	[ -z "$h" ] && [ -n "$t" ] && h=$(printf %s "$t" | sha256sum | cut -d' ' -f1)
	if [ -n "$h" ]; then
		tenant=$(conf token_tenant admin)
		now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
		# The box's first token is its operator's unless sbx.conf
		# says token_operator=no.
		op=true
		[ "$(conf token_operator yes)" = no ] && op=false
		printf '{"tokens": [{"id": "initial", "tenant": "%s", "sha256": "%s", "created": "%s", "operator": %s}]}\n' \
			"$tenant" "$h" "$now" "$op" >"$STATE/tokens.json"
		chmod 600 "$STATE/tokens.json"
		echo "setup: initial token for tenant $tenant from sbx.conf"
	fi
fi

# The boot entry: EFI/Linux/sbx-V.efi is a good version; sbx-V+LEFT-DONE.efi
# is on trial, and hostinit reboots it unless sbx-health finds sbxd
# answering and a sandbox booting within health_timeout seconds. An entry with no tries left is
# not rebooted when no other could take over (that would only loop).
# shellcheck source=esp.sh disable=SC1091
. /etc/sbx/esp.sh
V=$(esp_booted_version)
esp=$(esp_dev) && entry=$(esp_entry_of "$esp" "$V")
echo "${entry:-unknown}" >/run/sbx/entry
left=$(esp_entry_left "${entry:-}")
if [ -n "$left" ]; then
	other=0
	for e in $(esp_entries "$esp"); do
		[ "$e" != "$entry" ] && [ "$(esp_entry_left "$e")" != 0 ] && other=1
	done
	if [ "$left" != 0 ] || [ "$other" = 1 ]; then
		: >/run/sbx/trial
	fi
fi
ht=$(conf health_timeout 300)
case $ht in "" | *[!0-9]*) ht=300 ;; esac
echo "$ht" >/run/sbx/health_timeout
echo "setup: version $V, entry ${entry:-unknown}$([ -e /run/sbx/trial ] && echo ", on trial for $ht s")"

port=$(conf port 443)
domain=$(conf domain localhost)
{
	printf '%s\n' /usr/bin/sbxd serve --state "$STATE" --listen "0.0.0.0:$port" \
		--backend vm --images /run/sbx/images --vmm /usr/bin/sbx-vmm --domain "$domain" \
		--update-hook /usr/bin/sbx-update
	pp=$(conf public_port)
	[ -n "$pp" ] && printf '%s\n' --public-port "$pp"
} >/run/sbx/sbxd.argv
echo "$port" >/run/sbx/port
echo "setup: done $(cat /proc/uptime)"
