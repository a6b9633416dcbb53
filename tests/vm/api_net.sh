#!/bin/bash
# tests/vm/api_net.sh: sandbox networking through the API, where guests boot
# (inside the host VM). sbxd (vm backend) starts with the operator's host
# alias 10.0.2.100 -> 127.0.0.1:BASE..BASE+9; on this machine's loopback:
# an HTTP server (a file and a tiny pip index), git daemon (a small repo)
# and a one-name DNS server that sbx-vmm's usernet uses as its resolver
# (sbxd runs in its own mount namespace with /etc/resolv.conf bound to
# "nameserver 127.0.0.1").
#
# Cases: the network setting is validated (400s) and shown; from a sandbox:
# curl through the alias, a name resolved by the DNS server, gitCheckout
# over git://, pip install from the index; refused fast: metadata
# 169.254.169.254, 10.0.0.1, the gateway 10.0.2.2 and alias ports outside
# the range (a host server listens there); a sandbox with internet off
# still reaches the alias but no public address; a PATCH persists.
# Traffic: loopback only (public addresses are refused before any socket).
#
# Env: SBX_BUILD, SBX_SRC, SBX_IMAGES.
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"
. "$SBX_SRC/tests/vm/lib.sh"
ALL="net-validate net-show net-curl-alias net-dns net-git-checkout net-pip-install
net-refuse-metadata net-refuse-private net-refuse-gateway net-refuse-alias-port
net-internet-off net-patch-persist"
skip_all() { for n in $ALL; do skip "$n" "$1"; done; exit 0; }
[ -z "$(vm_unmet)" ] || skip_all "$(vm_unmet)"
"$SBX_BUILD/bin/sbx-vmm" --help 2>&1 | grep -q -- --net-rule || skip_all "sbx-vmm without --net"
[ "$(id -u)" = 0 ] && command -v unshare >/dev/null || skip_all "needs root and unshare (resolv.conf, DNS port 53)"
for c in python3 git curl; do command -v $c >/dev/null || skip_all "no $c"; done

vm_lib_init api_net
# a jailed sbx-vmm (its own uid) reads resolv.conf from here
chmod 755 "$D"
BASE=$((20000 + RANDOM % 20000))
HI=$((BASE + 9))
OUTP=$((BASE + 20)) # a host server outside the alias range

# --- the host side ---------------------------------------------------------
mkdir -p "$D/www/simple/tinypkg" "$D/git"
printf 'net bytes %s\n' "$BASE" >"$D/www/file"
python3 - "$D/www" <<'PY'
import base64, hashlib, sys, zipfile
www = sys.argv[1]
name = "tinypkg-0.1-py3-none-any.whl"
files = {
    "tinypkg/__init__.py": b"ANSWER = 42\n",
    "tinypkg-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\n",
    "tinypkg-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: api_net.sh\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
rec = ""
for p, b in files.items():
    h = base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
    rec += f"{p},sha256={h},{len(b)}\n"
rec += "tinypkg-0.1.dist-info/RECORD,,\n"
files["tinypkg-0.1.dist-info/RECORD"] = rec.encode()
with zipfile.ZipFile(f"{www}/{name}", "w") as z:
    for p, b in files.items():
        z.writestr(p, b)
with open(f"{www}/simple/tinypkg/index.html", "w") as f:
    f.write(f'<html><body><a href="../../{name}">{name}</a></body></html>\n')
with open(f"{www}/simple/index.html", "w") as f:
    f.write('<html><body><a href="tinypkg/">tinypkg</a></body></html>\n')
PY
(cd "$D/www" && exec python3 -m http.server --bind 127.0.0.1 "$BASE") >/dev/null 2>&1 &
VM_PIDS="$VM_PIDS $!"
(cd "$D/www" && exec python3 -m http.server --bind 127.0.0.1 "$OUTP") >/dev/null 2>&1 &
VM_PIDS="$VM_PIDS $!"

git init -q "$D/src" && (cd "$D/src" && echo "repo content $BASE" >README &&
	git -c user.name=t -c user.email=t@t add README &&
	git -c user.name=t -c user.email=t@t commit -qm init) &&
	git clone -q --bare "$D/src" "$D/git/repo.git"
git daemon --base-path="$D/git" --export-all --reuseaddr --listen=127.0.0.1 \
	--port=$((BASE + 1)) "$D/git" >/dev/null 2>&1 &
VM_PIDS="$VM_PIDS $!"

# A DNS server answering mirror.sbx.test A 10.0.2.100; NXDOMAIN otherwise.
cat >"$D/dns.py" <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12: continue
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace")); i += 1 + q[i]
    qend = i + 5
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    name = ".".join(labels).lower()
    hit = name == "mirror.sbx.test"
    ans = b""
    if hit and qtype == 1:
        ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("10.0.2.100")
    flags = 0x8180 if hit else 0x8183
    hdr = q[:2] + struct.pack(">HHHHH", flags, 1, 1 if ans else 0, 0, 0)
    s.sendto(hdr + q[12:qend] + ans, peer)
PY
python3 "$D/dns.py" 2>"$D/dns.err" &
VM_PIDS="$VM_PIDS $!"
echo "nameserver 127.0.0.1" >"$D/resolv.conf"
sleep 0.5

# --- sbxd ------------------------------------------------------------------
ALIAS="10.0.2.100=127.0.0.1:$BASE-$HI"
VM_SBXD_WRAP=(unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$D/resolv.conf")
vm_sbxd_start --disk-mib 1024 --net-alias "$ALIAS" ||
	{ fail net-sbxd-start "$(tail -3 "$D/sbxd.log")"; exit 1; }

# --- validation (no VM needed) ---------------------------------------------
bad=
long=$(python3 -c 'import json; print(json.dumps(["h%d.example.com" % i for i in range(33)]))')
for b in '"yes"' '{"internet":"on"}' '{"allow":["not a domain!"]}' '{"bogus":1}' \
	'{"allow":["10.0.0.0/33"]}' '{"deny":"example.com"}' '{"allow":[7]}' \
	'{"deny":["a b"]}' '{"allow":["-x.com"]}' "{\"deny\":$long}"; do
	jput /v1/sandboxes/badnet "{\"network\":$b}" >/dev/null
	[ "$(st)" = 400 ] || bad="$bad $b->$(st)"
done
api GET /v1/sandboxes/badnet >/dev/null
[ "$(st)" = 404 ] || bad="$bad created-anyway"
[ -z "$bad" ] && pass net-validate || fail net-validate "$bad"

jput /v1/sandboxes/box '{}' >/dev/null
jput /v1/sandboxes/off '{"network":{"internet":false,"deny":["*.example.com","203.0.113.0/24"]}}' >/dev/null
a=$(api GET /v1/sandboxes/box | json 'd["network"]')
b=$(api GET /v1/sandboxes/off | json 'd["network"]')
[ "$a" = "{'internet': True, 'allow': [], 'deny': []}" ] &&
	[ "$b" = "{'internet': False, 'allow': [], 'deny': ['*.example.com', '203.0.113.0/24']}" ] &&
	pass net-show || fail net-show "box $a; off $b"

# --- from inside a sandbox -------------------------------------------------
out=$(gx box "curl -sS --max-time 20 http://10.0.2.100:$BASE/file")
[ "$out" = "net bytes $BASE
0" ] && pass net-curl-alias || fail net-curl-alias "got '$out' $(tail -3 "$D/sbxd.log" | tr '\n' '|')"

out=$(gx box "getent hosts mirror.sbx.test; curl -sS --max-time 20 http://mirror.sbx.test:$BASE/file")
echo "$out" | grep -q "^10.0.2.100 .*mirror.sbx.test" && echo "$out" | grep -qx "net bytes $BASE" &&
	pass net-dns || fail net-dns "got '$(echo "$out" | tr '\n' '|')' dns: $(tail -2 "$D/dns.err")"

out=$(jpost /v1/sandboxes/box/git/checkout "{\"repoUrl\":\"git://10.0.2.100:$((BASE + 1))/repo.git\",\"targetDir\":\"/workspace/repo\",\"timeout\":120000}")
got=$(gx box "cat /workspace/repo/README")
[ "$got" = "repo content $BASE
0" ] && pass net-git-checkout || fail net-git-checkout "$(st) $out; README: $got"

out=$(gx box "PIP_BREAK_SYSTEM_PACKAGES=1 pip3 install -q --no-cache-dir --disable-pip-version-check \
--target /workspace/pylib --index-url http://10.0.2.100:$BASE/simple --trusted-host 10.0.2.100 tinypkg >/tmp/pip.log 2>&1 ||
tail -5 /tmp/pip.log; PYTHONPATH=/workspace/pylib python3 -c 'import tinypkg; print(tinypkg.ANSWER)'")
[ "$out" = "42
0" ] && pass net-pip-install || fail net-pip-install "$(echo "$out" | tr '\n' '|')"

# refused: fast (a RST), not a hang. Told by curl's own exit code, not by
# a clock (the emulated host VM's speed varies with the machine's load):
# 28 is curl's "timed out" (its --max-time), so a silently dropped SYN
# fails the check; any other non-zero code is a refusal.
refused_rc() { # OUT: true when OUT's rc=N is neither 0 nor 28
	local rc
	rc=$(echo "$1" | sed -n 's/.*rc=\([0-9][0-9]*\).*/\1/p')
	[ -n "$rc" ] && [ "$rc" != 0 ] && [ "$rc" != 28 ]
}
refused() { # NAME URL [BOX]
	local out
	out=$(gx "${3:-box}" "curl -sS --max-time 25 -o /dev/null $2 2>&1; echo rc=\$?" | head -n 2 | tr '\n' ' ')
	if refused_rc "$out"; then
		pass "$1"
	else
		fail "$1" "$out"
	fi
}
refused net-refuse-metadata http://169.254.169.254/latest/meta-data/
refused net-refuse-private http://10.0.0.1/
refused net-refuse-gateway "http://10.0.2.2:$OUTP/file"
refused net-refuse-alias-port "http://10.0.2.100:$OUTP/file"

# internet off: the alias still answers, a public address does not (the
# policy refuses it before any host socket exists)
out=$(gx off "curl -sS --max-time 20 http://10.0.2.100:$BASE/file")
pub=$(gx off "curl -sS --max-time 25 -o /dev/null http://1.1.1.1/ 2>&1; echo rc=\$?" | tr '\n' ' ')
[ "$out" = "net bytes $BASE
0" ] && refused_rc "$pub" &&
	pass net-internet-off || fail net-internet-off "alias '$out'; public: $pub"

api PATCH /v1/sandboxes/off -H 'Content-Type: application/json' -d '{"network":{"allow":["mirror.sbx.test"]}}' >/dev/null
a=$(st)
b=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([s.get("network") for s in d["sandboxes"] if s["id"]=="off"][0])' "$D/state/sandboxes.json")
[ "$a" = 200 ] && [ "$b" = "{'internet': False, 'allow': ['mirror.sbx.test'], 'deny': ['*.example.com', '203.0.113.0/24']}" ] &&
	pass net-patch-persist || fail net-patch-persist "status $a; saved $b"
