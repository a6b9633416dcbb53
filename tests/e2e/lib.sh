# tests/e2e/lib.sh: starts sbxd natively with the host backend for e2e tests
# (source it). Needs SBX_BUILD (absolute build dir) and SBX_SRC.
#
#   e2e_start            temp state dir, free loopback port, sbxd running;
#                        sets E2E_DIR, E2E_PORT, E2E_TOKEN, E2E_URL, E2E_CA
#   e2e_stop / e2e_restart
#   api METHOD PATH [curl args...]   curl with the token, body to stdout,
#                        status in $E2E_DIR/status
#   The trap set by e2e_start stops sbxd and removes the folder.

SBX_BUILD=${SBX_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
SBX_SRC=${SBX_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=../lib/check.sh
. "$SBX_SRC/tests/lib/check.sh"

E2E_PID=

e2e_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

e2e_launch() {
	"$SBX_BUILD/bin/sbxd" serve --state "$E2E_DIR/state" \
		--listen "127.0.0.1:$E2E_PORT" --backend host \
		--agent "$SBX_BUILD/bin/sbx-init" "$@" >>"$E2E_DIR/sbxd.log" 2>&1 &
	E2E_PID=$!
	for _ in $(seq 100); do
		if curl -s --cacert "$E2E_DIR/state/tls/cert.pem" "$E2E_URL/v1/health" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

e2e_stop() {
	if [ -n "$E2E_PID" ]; then
		kill "$E2E_PID" 2>/dev/null
		wait "$E2E_PID" 2>/dev/null
		E2E_PID=
	fi
}

e2e_cleanup() {
	e2e_stop
	[ -n "$E2E_DIR" ] && rm -rf "$E2E_DIR"
}

e2e_start() {
	E2E_DIR=$(mktemp -d /tmp/sbx-e2e.XXXXXX)
	trap e2e_cleanup EXIT
	E2E_PORT=$(e2e_free_port)
	E2E_URL="https://localhost:$E2E_PORT"
	E2E_CA="$E2E_DIR/state/tls/cert.pem"
	e2e_launch "$@" || return 1
	E2E_TOKEN=$(grep -A1 'first token' "$E2E_DIR/sbxd.log" | tail -1)
	[ -n "$E2E_TOKEN" ]
}

e2e_restart() {
	e2e_stop
	e2e_launch "$@"
}

# e2e_fakevm_require NAME: skips test NAME (and exits the script) where the
# VM backend cannot be tried with the stand-in VMM.
e2e_fakevm_require() {
	local why
	why=$(e2e_fakevm_unmet)
	[ -z "$why" ] || { skip "$1" "$why"; exit 0; }
}

# e2e_fakevm_unmet: why the VM backend cannot be tried here, or nothing.
e2e_fakevm_unmet() {
	if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
		echo "sbxd or sbx-init not built"
	elif ! command -v mkfs.ext4 >/dev/null; then
		echo "mkfs.ext4 missing"
	fi
}

# e2e_fakevm_launch [ARGS]: sbxd with the VM backend, tests/e2e/fake_vmm.py
# standing in for sbx-vmm (FAKE_VMM_* from the environment), in the existing
# E2E_DIR, on E2E_PORT (picked the first time); ARGS go to sbxd. Again after
# e2e_stop, it restarts on the same state. 0 once /v1/health answers and
# E2E_TOKEN (the first start's token) is known.
e2e_fakevm_launch() {
	mkdir -p "$E2E_DIR/images"
	touch "$E2E_DIR/images/vmlinux" "$E2E_DIR/images/rootfs.ext4"
	[ -n "${E2E_PORT:-}" ] || E2E_PORT=$(e2e_free_port)
	E2E_URL="https://localhost:$E2E_PORT"
	E2E_CA="$E2E_DIR/state/tls/cert.pem"
	"$SBX_BUILD/bin/sbxd" serve --state "$E2E_DIR/state" --listen "127.0.0.1:$E2E_PORT" \
		--backend vm --images "$E2E_DIR/images" --vmm "$SBX_SRC/tests/e2e/fake_vmm.py" \
		--disk-mib 64 "$@" >>"$E2E_DIR/sbxd.log" 2>&1 &
	E2E_PID=$!
	for _ in $(seq 100); do
		curl -s --cacert "$E2E_CA" "$E2E_URL/v1/health" >/dev/null 2>&1 && break
		sleep 0.1
	done
	E2E_TOKEN=$(grep -A1 'first token' "$E2E_DIR/sbxd.log" | head -2 | tail -1)
	[ -n "$E2E_TOKEN" ] && curl -s --cacert "$E2E_CA" "$E2E_URL/v1/health" >/dev/null 2>&1
}

# api METHOD PATH [curl args]: prints the body; the status goes to $E2E_DIR/status.
api() {
	local m=$1 p=$2
	shift 2
	curl -sS --cacert "$E2E_CA" -X "$m" -H "Authorization: Bearer ${TOKEN:-$E2E_TOKEN}" \
		-o "$E2E_DIR/body" -w '%{http_code}' "$@" "$E2E_URL$p" >"$E2E_DIR/status" 2>/dev/null
	cat "$E2E_DIR/body"
}

status() { cat "$E2E_DIR/status"; }

# jq-free JSON field: json FIELD < body (python3)
json() {
	python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v[int(k)] if isinstance(v,list) else v.get(k)
print(v if not isinstance(v,(dict,list,bool)) else json.dumps(v))' "$1"
}

# expect NAME WANT_STATUS: PASS when the last api call answered that status.
expect_status() {
	if [ "$(status)" = "$2" ]; then pass "$1"; else fail "$1" "status $(status), want $2: $(head -c 300 "$E2E_DIR/body")"; fi
}

# still_serving NAME: sbxd answers health after an abuse case.
still_serving() {
	local code
	code=$(curl -s --cacert "$E2E_CA" -o /dev/null -w '%{http_code}' "$E2E_URL/v1/health")
	if [ "$code" = 200 ]; then pass "$1"; else fail "$1" "health answered $code"; fi
}
