#!/bin/bash
# tests/vm/vmm_net.sh: sbx-vmm --net boots the real guest with virtio-net
# behind usernet, where KVM boots Linux (inside the host VM here).
#
# Cases: eth0 has the device's MAC and 10.0.2.15 (kernel ip=); sbx-init
# wrote resolv.conf from /proc/net/pnp and has the host name once in
# /etc/hosts; the guest fetches a small and an 8 MiB file from a host HTTP
# server on 127.0.0.1 through the alias 10.0.2.100 and uploads 8 MiB (with
# seccomp: usernet's syscalls are allowed); a refused address gets a RST;
# a jailed VMM (own uid, chroot, seccomp) still carries traffic; without
# --net there is no eth0. Traffic: loopback only ("internet off"; the guest
# resolves no names).
#
# Env: SBX_BUILD, SBX_SRC, SBX_IMAGES (vmlinux, initramfs.cpio, rootfs.ext4),
# SBX_ROOTFS_DEV (the rootfs as a block device inside the host VM, optional).
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"
. "$SBX_SRC/tests/lib/vmm.sh"
VMM=$SBX_BUILD/bin/sbx-vmm
IMG=$SBX_IMAGES
ALL="net-boot net-eth0 net-resolv net-http-small net-http-8m net-upload-8m net-refused net-jail net-none"
vmm_need_net

tmp=$(mktemp -d /tmp/vmm_net.XXXXXX)
chmod 755 "$tmp"
pid= http=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$http" ] && kill "$http" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The host side: files to fetch, and a server that also takes uploads.
mkdir "$tmp/www"
echo "hello over usernet" >"$tmp/www/hi.txt"
head -c $((8 << 20)) /dev/urandom >"$tmp/www/big"
sum=$(sha256sum <"$tmp/www/big" | cut -d' ' -f1)
cat >"$tmp/srv.py" <<'PY'
import hashlib, http.server, os, sys
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_PUT(self):
        n, h = int(self.headers["Content-Length"]), hashlib.sha256()
        while n:
            b = self.rfile.read(min(n, 65536))
            if not b: break
            h.update(b); n -= len(b)
        out = h.hexdigest().encode() + b"\n"
        self.send_response(200); self.send_header("Content-Length", str(len(out)))
        self.end_headers(); self.wfile.write(out)
os.chdir(sys.argv[1])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), H).serve_forever()
PY
echo "nameserver 127.0.0.1" >"$tmp/resolv.conf"
port=$((8000 + RANDOM % 900))
python3 "$tmp/srv.py" "$tmp/www" "$port" &
http=$!

# The guest protocol over the VMM's vsock socket: hello, exec.
AGENT=$SBX_SRC/tests/lib/agent.py

start() {
	local name=$1
	shift
	sock=$tmp/$name.sock
	log=$tmp/$name.console
	# usernet reads the host's resolvers from /etc/resolv.conf and needs a
	# route to them: give it 127.0.0.1 (the guest looks up no names here)
	unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$tmp/resolv.conf" \
		"$VMM" --kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" --rootfs "$ROOTFS" \
		--vsock "$sock" --console "$log" --mem 512 "$@" 2>"$tmp/$name.stderr" &
	pid=$!
}
stop() {
	kill -TERM "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	pid=
}
hello() { python3 "$AGENT" hello "$sock" "${1:-120}"; }
gexec() { python3 "$AGENT" exec "$sock" "$1"; }
why() { echo "$1 (console: $(tail -n 3 "$log" 2>/dev/null | tr '\n' '|'); stderr: $(tail -n 2 "$tmp/$2.stderr" 2>/dev/null | tr '\n' '|'))"; }

start net --net --net-rule "internet off" --net-rule "alias 10.0.2.100 127.0.0.1 8000-8999"
if ! hello; then
	fail net-boot "$(why "no HELLO answer" net)"
	for n in ${ALL#net-boot }; do skip "$n" "no boot"; done
	exit 0
fi
pass net-boot

out=$(gexec "cat /sys/class/net/eth0/address; grep -c '10.0.2.15' /proc/net/fib_trie")
[ "$(echo "$out" | head -n 1)" = 52:54:00:12:34:56 ] && [ "$(echo "$out" | tail -n 1)" -gt 0 ] 2>/dev/null &&
	pass net-eth0 || fail net-eth0 "got '$(echo "$out" | tr '\n' ' ')'"

out=$(gexec "cat /etc/resolv.conf; grep -cw sandbox /etc/hosts; hostname")
echo "$out" | grep -qx "nameserver 10.0.2.3" && [ "$(echo "$out" | tail -n 2 | tr '\n' ' ')" = "1 sandbox " ] &&
	pass net-resolv || fail net-resolv "resolv.conf, hosts, hostname: $(echo "$out" | tr '\n' '|')"

out=$(gexec "curl -sS --max-time 30 http://10.0.2.100:$port/hi.txt")
[ "$out" = "hello over usernet" ] && pass net-http-small || fail net-http-small "got '$out' $(why "" net)"

t0=$(date +%s%N)
out=$(gexec "curl -sS --max-time 300 http://10.0.2.100:$port/big | sha256sum | cut -d' ' -f1")
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$out" = "$sum" ] && { pass net-http-8m; echo "  8 MiB down in $ms ms"; } || fail net-http-8m "sha256 '$out' $(why "" net)"

t0=$(date +%s%N)
out=$(gexec "head -c 8388608 /dev/zero >/tmp/up && curl -sS --max-time 300 -T /tmp/up http://10.0.2.100:$port/up")
ms=$((($(date +%s%N) - t0) / 1000000))
want=$(head -c 8388608 /dev/zero | sha256sum | cut -d' ' -f1)
[ "$out" = "$want" ] && { pass net-upload-8m; echo "  8 MiB up in $ms ms"; } || fail net-upload-8m "got '$out'"

# internet off: usernet answers the SYN with a RST (not silence, not an
# unreachable gateway)
out=$(gexec "python3 -c '
import socket
s = socket.socket()
s.settimeout(15)
try:
    s.connect((\"192.0.2.1\", 80))
    print(\"connected\")
except ConnectionRefusedError:
    print(\"refused\")
except Exception as e:
    print(type(e).__name__)
'")
[ "$out" = refused ] && pass net-refused || fail net-refused "got '$out'"
stop

mkdir -p "$tmp/jail"
chmod 777 "$tmp/jail"
start jail --net --net-rule "internet off" --net-rule "alias 10.0.2.100 127.0.0.1 8000-8999" \
	--jail-uid 65534 --jail-gid 65534 --jail-dir "$tmp/jail"
if hello; then
	out=$(gexec "curl -sS --max-time 30 http://10.0.2.100:$port/hi.txt")
	sec=$(awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")
	[ "$out" = "hello over usernet" ] && [ "$sec" = 2 ] && pass net-jail ||
		fail net-jail "got '$out', seccomp $sec $(why "" jail)"
else
	fail net-jail "$(why "no HELLO answer" jail)"
fi
stop

start none
if hello; then
	out=$(gexec "test -e /sys/class/net/eth0 && echo eth0; grep -c sbx-init /etc/resolv.conf")
	[ "$(echo "$out" | head -n 1)" != eth0 ] && pass net-none || fail net-none "got '$(echo "$out" | tr '\n' ' ')'"
else
	fail net-none "$(why "no HELLO answer" none)"
fi
stop
