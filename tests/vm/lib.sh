# shellcheck shell=bash
# tests/vm/lib.sh: what the scripts that drive sbxd where guests boot share
# (tests/vm/*.sh, tests/bench/vm/*.sh). Source it; tests/vm-run.sh skips it.
#
#   why=$(vm_unmet)        why guests cannot boot here (no image, no
#                          /dev/kvm), or nothing
#   vm_lib_init [PREFIX]   makes $D (mktemp -d, PREFIX.XXXXXX when given),
#                          picks a free loopback $PORT, sets URL and CA, and
#                          installs the EXIT trap vm_cleanup
#   vm_sbxd_start [ARGS]   sbxd serve with the vm backend on $PORT, state in
#                          $D/state, log $D/sbxd.log; ARGS go to serve (e.g.
#                          --disk-mib 2048). Run under the command prefix in
#                          the array VM_SBXD_WRAP when set. Waits for
#                          /v1/health, sets SBXD (pid) and TOKEN (the first
#                          token); returns 1 when sbxd gave none.
#   api METHOD PATH [curl args]   body on stdout, HTTP status in $D/status
#   jpost/jput PATH JSON, st (last status), json EXPR (python on stdin's d),
#   gx BOX CMD             CMD's stdout+stderr in BOX, its exit code last
#
# vm_cleanup kills sbxd and every pid in VM_PIDS (processes the caller
# started: servers on loopback), by pid, then removes $D.
#
# Env: SBX_BUILD, SBX_IMAGES (exported by vm.sh and run.sh);
# VM_API_MAX_TIME (s, default 300) bounds each api call.

vm_unmet() {
	local f
	for f in vmlinux initramfs.cpio rootfs.ext4; do
		[ -e "$SBX_IMAGES/$f" ] || { echo "no $SBX_IMAGES/$f"; return 0; }
	done
	[ -w /dev/kvm ] || echo "no usable /dev/kvm"
	return 0
}

# vm_free_port: a TCP port free on 127.0.0.1 right now.
vm_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

vm_lib_init() {
	if [ -n "${1:-}" ]; then D=$(mktemp -d "/tmp/$1.XXXXXX"); else D=$(mktemp -d); fi
	PORT=$(vm_free_port)
	URL=https://localhost:$PORT
	CA=$D/state/tls/cert.pem
	SBXD='' TOKEN='' VM_PIDS=${VM_PIDS:-}
	trap vm_cleanup EXIT
}

vm_cleanup() {
	local p
	if [ -n "${SBXD:-}" ]; then kill "$SBXD" 2>/dev/null && wait "$SBXD" 2>/dev/null; fi
	for p in ${VM_PIDS:-}; do kill "$p" 2>/dev/null; done
	[ -n "${VM_PIDS:-}" ] && wait 2>/dev/null
	[ -n "${D:-}" ] && rm -rf "$D"
	return 0
}

vm_sbxd_start() {
	local wrap=() i
	[ -n "${VM_SBXD_WRAP+x}" ] && wrap=("${VM_SBXD_WRAP[@]}")
	"${wrap[@]}" "$SBX_BUILD/bin/sbxd" serve --state "$D/state" --listen "127.0.0.1:$PORT" \
		--backend vm --images "$SBX_IMAGES" --vmm "$SBX_BUILD/bin/sbx-vmm" "$@" >"$D/sbxd.log" 2>&1 &
	SBXD=$!
	# Up to 30 s (an emulated host VM is slow), less if sbxd died.
	for i in $(seq 300); do
		curl -s --cacert "$CA" "$URL/v1/health" >/dev/null 2>&1 && break
		kill -0 "$SBXD" 2>/dev/null || break
		sleep 0.1
	done
	TOKEN=$(grep -A1 'first token' "$D/sbxd.log" | tail -1)
	[ -n "$TOKEN" ]
}

api() {
	local m=$1 p=$2
	shift 2
	curl -sS --max-time "${VM_API_MAX_TIME:-300}" --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
		-X "$m" -w '%{http_code}' -o "$D/body" "$@" "$URL$p" >"$D/status" 2>>"$D/curl.err"
	cat "$D/body"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
jpost() { api POST "$1" -H 'Content-Type: application/json' -d "$2"; }
jput() { api PUT "$1" -H 'Content-Type: application/json' -d "$2"; }
st() { cat "$D/status"; }

gx() {
	local body
	body=$(python3 -c 'import json,sys; print(json.dumps({"command": sys.argv[1], "timeout": 120000}))' "$2")
	jpost "/v1/sandboxes/$1/exec" "$body" | python3 -c 'import json,sys
d = json.load(sys.stdin); print(d.get("stdout", "") + d.get("stderr", ""), end=""); print(d.get("exitCode"))' 2>/dev/null
}
