#!/bin/bash
# tests/usernet/tap.sh: usernet end to end without the VMM. A network
# namespace with a TAP device plays the guest (Linux's own stack, curl,
# python); build/bin/usernet-tap pumps its frames through usernet; the host
# side is servers.py on 127.0.0.1 (HTTP, a fake DNS resolver, UDP echo),
# reached through the host alias 10.0.2.100. Refused destinations must fail
# at once (RST), and nothing is dialled for them. Traffic stays on loopback
# and in the namespace this test makes. Needs root.
# Env: SBX_BUILD (build dir), SBX_SRC (repo root).
set -u
SRC=${SBX_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${SBX_BUILD:-$SRC/build}
. "$SRC/tests/lib/check.sh"
CHECK_FAILED=0

for tool in ip curl python3 sha256sum; do
	command -v $tool >/dev/null || { skip usernet-tap "$tool is missing"; exit 0; }
done
[ "$(id -u)" = 0 ] || { skip usernet-tap "needs root (netns, TAP)"; exit 0; }
[ -c /dev/net/tun ] || { skip usernet-tap "no /dev/net/tun"; exit 0; }
[ -x "$B/bin/usernet-tap" ] || { skip usernet-tap "no $B/bin/usernet-tap (lwIP not built yet?)"; exit 0; }

NS=sbxun$$
TAP=sbxun$$
tmp=$(mktemp -d)
srv_pid= tap_pid=
cleanup() {
	[ -n "$tap_pid" ] && kill "$tap_pid" 2>/dev/null && wait "$tap_pid" 2>/dev/null
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "/etc/netns/$NS" "$tmp"
}
trap cleanup EXIT

# wait_line FILE: waits up to 10 s for a first line in FILE.
wait_line() {
	for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
	return 1
}

python3 "$SRC/tests/usernet/servers.py" >"$tmp/servers" 2>"$tmp/servers.err" &
srv_pid=$!
wait_line "$tmp/servers" || { fail usernet-tap "servers.py did not start"; exit 1; }
read -r _ HTTP DNS ECHO <"$tmp/servers"

"$B/bin/usernet-tap" "$TAP" --resolver "127.0.0.1:$DNS" \
	--rule "alias 10.0.2.100 127.0.0.1 1024-65535" --rule "deny *.evil.test" \
	>"$tmp/tap" 2>"${USERNET_TAP_ERR:-$tmp/tap.err}" &
tap_pid=$!
wait_line "$tmp/tap" || { fail usernet-tap "usernet-tap did not start: $(cat "$tmp/tap.err")"; exit 1; }

ip netns add "$NS" && ip link set "$TAP" netns "$NS" || { fail usernet-tap "netns setup"; exit 1; }
in_ns() { ip netns exec "$NS" "$@"; }
in_ns sh -ec "
	sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
	ip link set lo up
	ip link set $TAP address 52:54:00:12:34:56
	ip addr add 10.0.2.15/24 dev $TAP
	ip link set $TAP up
	ip route add default via 10.0.2.2" || { fail usernet-tap "guest addressing"; exit 1; }
mkdir -p "/etc/netns/$NS"
echo "nameserver 10.0.2.3" >"/etc/netns/$NS/resolv.conf"

# through the alias by address
out=$(in_ns curl -sS --max-time 10 "http://10.0.2.100:$HTTP/hello" 2>&1)
[ "$out" = hello ] && pass usernet-alias-http || fail usernet-alias-http "got: $out"

# a name answered by the host's resolver (servers.py) through usernet's DNS
out=$(in_ns curl -sS --max-time 10 "http://www.mirror.test:$HTTP/hello" 2>&1)
[ "$out" = hello ] && pass usernet-dns-http || fail usernet-dns-http "got: $out"

# DNS over TCP to 10.0.2.3:53 (the fallback for truncated answers)
got=$(in_ns python3 -c "
import socket,struct
q=struct.pack('>HHHHHH',7,0x100,1,0,0,0)+b'\x03www\x06mirror\x04test\x00'+struct.pack('>HH',1,1)
s=socket.create_connection(('10.0.2.3',53),timeout=5); s.sendall(struct.pack('>H',len(q))+q)
n=struct.unpack('>H',s.recv(2,socket.MSG_WAITALL))[0]; a=s.recv(n,socket.MSG_WAITALL)
print('.'.join(map(str,a[-4:])))" 2>&1)
[ "$got" = 10.0.2.100 ] && pass usernet-dns-tcp || fail usernet-dns-tcp "got: $got"

# many connections at once to one destination (one shared listener)
ok=$(in_ns sh -c "seq 100 | xargs -P 20 -I{} curl -s --max-time 20 http://10.0.2.100:$HTTP/hello -o /dev/null -w '%{http_code}\n'" | grep -c '^200$')
[ "$ok" = 100 ] && pass usernet-parallel-100 || fail usernet-parallel-100 "$ok of 100 answered"

# bulk both ways: backpressure, no loss
n=$((32 * 1024 * 1024))
want=$(python3 -c "
import hashlib,sys
b=bytes(range(256))*256; n=$n; h=hashlib.sha256()
while n>0:
    c=b[:min(n,len(b))]; h.update(c); n-=len(c)
print(h.hexdigest())")
got=$(in_ns curl -sS --max-time 120 "http://10.0.2.100:$HTTP/big?n=$n" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && pass usernet-download-32m || fail usernet-download-32m "sha256 $got"

head -c $((16 * 1024 * 1024)) /dev/urandom >"$tmp/up"
want="$((16 * 1024 * 1024)) $(sha256sum <"$tmp/up" | cut -d' ' -f1)"
got=$(in_ns curl -sS --max-time 120 -H 'Expect:' --data-binary "@$tmp/up" "http://10.0.2.100:$HTTP/upload" 2>&1)
[ "$got" = "$want" ] && pass usernet-upload-16m || fail usernet-upload-16m "got: $got"

# UDP through the alias
got=$(in_ns python3 -c "
import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b'echo-me',('10.0.2.100',$ECHO)); print(s.recvfrom(100)[0].decode())" 2>&1)
[ "$got" = echo-me ] && pass usernet-udp-echo || fail usernet-udp-echo "got: $got"

# refused: a RST at once (curl exit 7), well before the 5 s connect timeout
refused() {
	local name=$1 url=$2 t0 t1 rc
	t0=$(date +%s%N)
	in_ns curl -sS --connect-timeout 5 --max-time 6 "$url" >/dev/null 2>"$tmp/err"
	rc=$?
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	if [ $rc = 7 ] && [ $ms -lt 2000 ]; then
		pass "$name"
	else
		fail "$name" "curl exit $rc after ${ms} ms: $(head -c 200 "$tmp/err")"
	fi
}
refused usernet-refuse-private "http://10.0.0.1/"
refused usernet-refuse-metadata "http://169.254.169.254/latest/meta-data/"
refused usernet-refuse-gateway "http://10.0.2.2:22/"
refused usernet-refuse-cgnat "http://100.64.0.1/"
refused usernet-refuse-alias-port "http://10.0.2.100:80/"
refused usernet-refuse-domain "http://www.evil.test/"

# UDP to a refused address: ICMP prohibited, the socket errs at once
got=$(in_ns python3 -c "
import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3)
s.connect(('169.254.169.254',53)); s.send(b'x')
try:
    s.recv(100); print('answered')
except socket.timeout:
    print('timeout')
except OSError as e:
    print('refused')" 2>&1)
[ "$got" = refused ] && pass usernet-refuse-udp || fail usernet-refuse-udp "got: $got"

# the counters: seven refusals by policy, nothing dialled for them
kill "$tap_pid"
wait "$tap_pid"
tap_pid=
stats=$(cat "$tmp/tap")
case "$stats" in
*refused_policy=7\ *connect_failed=0\ *) pass usernet-tap-counters ;;
*) fail usernet-tap-counters "$stats" ;;
esac
grep -q 'udp_opened=1 ' <<<"$stats" && pass usernet-udp-flow || fail usernet-udp-flow "$stats"
exit $CHECK_FAILED
