#!/bin/bash
# tests/bench/vm/net.sh: usernet beside QEMU's user-mode networking (slirp),
# both guests booting the same kernel, initramfs and rootfs in the same run
# (inside the host VM here: only the ratios mean something).
#
#   net-tcp-guest-to-host   iperf3 from the guest to a host loopback server,
#                           MiB/s per 1 s interval; peer qemu-slirp, ratio
#                           sbx/QEMU (above 1: usernet is faster)
#   net-tcp-host-to-guest   the same with iperf3 -R
#   net-tcp-connect         ms per connect() from the guest to a host
#                           loopback listener (many short connections)
#   net-flood-neighbour-exec  a neighbour's exec `true` while another
#                           sandbox floods usernet (tests/vm/net_flood.sh),
#                           peer: the same neighbour before the flood
#   net-flood-vmm-rss       the flooder's sbx-vmm RSS besides guest RAM, KiB
#
# sbx reaches the host through the alias 10.0.2.100 -> 127.0.0.1, slirp
# through 10.0.2.2; the QEMU guest gets the same ip= argument sbx-vmm gives
# and is driven over vhost-vsock. Runs alternate between the two guests.
# Env: SBX_NET_ROUNDS (3), SBX_NET_SECONDS (iperf3 -t, 5), SBX_NET_CONNECTS
# (per round, 100), SBX_NET_FLOOD (0 skips the flood rows).
set -uo pipefail
. "$SBX_SRC/tests/bench/lib.sh"
IMG=$SBX_IMAGES
R=${SBX_NET_ROUNDS:-3} T=${SBX_NET_SECONDS:-5} NC=${SBX_NET_CONNECTS:-100}
say() { echo "net bench: $*" >&2; }
for f in vmlinux initramfs.cpio; do [ -e "$IMG/$f" ] || { say "no $IMG/$f"; exit 0; }; done
[ -w /dev/kvm ] || { say "no usable /dev/kvm"; exit 0; }
[ -e /dev/vhost-vsock ] || { say "no /dev/vhost-vsock for the QEMU guest"; exit 0; }
command -v iperf3 >/dev/null || { say "no iperf3 on the host (tests/packages.txt)"; exit 0; }
VMM=$SBX_BUILD/bin/sbx-vmm
ROOTFS=${SBX_ROOTFS_DEV:-$IMG/rootfs.ext4}
D=$(mktemp -d /tmp/net_bench.XXXXXX)
spid='' qpid='' ipid='' lpid=''
cleanup() {
	local p
	for p in $spid $qpid $ipid $lpid; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

# The guest protocol client (Unix socket or vsock), as tests/vm/net_flood.sh
# uses it: 10 s to connect, 900 s per read.
agent() { python3 "$SBX_SRC/tests/lib/agent.py" --dial 10 --read 900 "$@"; }

base=$((5200 + RANDOM % 700))
IPERF=$base LISTEN=$((base + 1))
iperf3 -s -B 127.0.0.1 -p "$IPERF" >"$D/iperf3.log" 2>&1 &
ipid=$!
# The connect target: accepts and closes at once.
python3 -c '
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1]))); l.listen(1024)
while True:
    c, _ = l.accept(); c.close()
' "$LISTEN" &
lpid=$!
echo "nameserver 127.0.0.1" >"$D/resolv.conf"
for n in s q; do truncate -s 256M "$D/$n.ws" && mkfs.ext4 -q -F "$D/$n.ws"; done

# sbx-vmm with usernet (resolv.conf as tests/vm/vmm_net.sh gives it)
unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$D/resolv.conf" \
	"$VMM" --kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" --rootfs "$ROOTFS" \
	--disk "$D/s.ws" --vsock "$D/s.sock" --console "$D/s.console" --mem 512 --cpus 1 \
	--net --net-rule "internet off" --net-rule "alias 10.0.2.100 127.0.0.1 $IPERF-$LISTEN" \
	2>"$D/s.stderr" &
spid=$!
# QEMU microvm with slirp, the same guest and the same addresses
qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off,rtc=off -enable-kvm -cpu host \
	-m 512 -smp 1 -nodefaults -no-user-config -display none -no-reboot \
	-kernel "$IMG/vmlinux" -initrd "$IMG/initramfs.cpio" \
	-append "console=ttyS0 reboot=t panic=-1 quiet ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.3" \
	-drive "id=root,file=$ROOTFS,format=raw,if=none,readonly=on" -device virtio-blk-device,drive=root \
	-drive "id=ws,file=$D/q.ws,format=raw,if=none" -device virtio-blk-device,drive=ws \
	-netdev user,id=n0 -device virtio-net-device,netdev=n0 \
	-device vhost-vsock-device,guest-cid=3 \
	-serial "file:$D/q.console" </dev/null >"$D/q.log" 2>&1 &
qpid=$!
S=$D/s.sock Q=vsock:3
agent hello "$S" 300 || { say "sbx guest did not answer: $(tail -n 3 "$D/s.stderr")"; exit 1; }
agent hello "$Q" 300 || { say "QEMU guest did not answer: $(tail -n 3 "$D/q.log" "$D/q.console")"; exit 1; }
if ! agent exec "$S" "command -v iperf3" >/dev/null; then
	say "no iperf3 in the guest rootfs (guest/rootfs/packages.txt; make images)"
	exit 0
fi

# iperf GUEST HOST OUT [-R]: MiB/s per interval, appended to OUT
iperf() {
	local g=$1 h=$2 out=$3
	shift 3
	agent exec "$g" "iperf3 -c $h -p $IPERF -t $T -J $*" >"$D/iperf.json" 2>/dev/null
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
for i in j.get("intervals", [])[1:]:  # the first second is slow start
    print("%.3f" % (i["sum"]["bits_per_second"] / 8 / 1048576))
' "$D/iperf.json" >>"$out" 2>/dev/null || say "iperf3 $* from $g failed: $(head -c 300 "$D/iperf.json")"
}
# connects GUEST HOST OUT: ms per connect(), appended to OUT
connects() {
	agent exec "$1" "python3 -c '
import socket, time
for _ in range($NC):
    s = socket.socket()
    t0 = time.monotonic()
    s.connect((\"$2\", $LISTEN))
    print(\"%.3f\" % ((time.monotonic() - t0) * 1000))
    s.close()
'" >>"$3" 2>/dev/null || say "connects from $1 failed"
}

for _ in $(seq 1 "$R"); do
	iperf "$S" 10.0.2.100 "$D/s.up"
	iperf "$Q" 10.0.2.2 "$D/q.up"
	iperf "$S" 10.0.2.100 "$D/s.down" -R
	iperf "$Q" 10.0.2.2 "$D/q.down" -R
	connects "$S" 10.0.2.100 "$D/s.conn"
	connects "$Q" 10.0.2.2 "$D/q.conn"
done
kill -TERM "$spid" 2>/dev/null
kill -9 "$qpid" 2>/dev/null
wait "$spid" "$qpid" 2>/dev/null
spid='' qpid=''
say "$(grep 'usernet: flows' "$D/s.stderr")"

[ -s "$D/s.up" ] && [ -s "$D/q.up" ] && bench_emit net-tcp-guest-to-host MiB/s "$D/s.up" qemu-slirp "$D/q.up"
[ -s "$D/s.down" ] && [ -s "$D/q.down" ] && bench_emit net-tcp-host-to-guest MiB/s "$D/s.down" qemu-slirp "$D/q.down"
[ -s "$D/s.conn" ] && [ -s "$D/q.conn" ] && bench_emit net-tcp-connect ms "$D/s.conn" qemu-slirp "$D/q.conn"

# A neighbour's exec latency while another sandbox floods usernet.
if [ "${SBX_NET_FLOOD:-1}" != 0 ]; then
	mkdir -p "$D/lat"
	SBX_FLOOD_LAT=$D/lat SBX_FLOOD_N=${SBX_FLOOD_N:-500} "$SBX_SRC/tests/vm/net_flood.sh" >"$D/flood.out" 2>&1
	grep -q '^FAIL' "$D/flood.out" && say "net_flood.sh: $(grep '^FAIL' "$D/flood.out" | tr '\n' ' ')"
	[ -s "$D/lat/flood.ms" ] && [ -s "$D/lat/quiet.ms" ] &&
		bench_emit net-flood-neighbour-exec ms "$D/lat/flood.ms" quiet-neighbour-exec "$D/lat/quiet.ms"
	[ -s "$D/lat/rss.kb" ] && bench_emit net-flood-vmm-rss KiB "$D/lat/rss.kb"
fi
true
