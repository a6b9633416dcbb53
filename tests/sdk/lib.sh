# shellcheck shell=bash
# tests/sdk/lib.sh: a private sbxd for the client tests (source it).
# Needs SBX_BUILD (absolute build dir) and SBX_SRC (repo root).
#
#   sdk_start   temp folder, free loopback port, a token made with
#               `sbxd token create`, sbxd serving with the host backend;
#               sets SDK_DIR, SDK_PORT, SBX_URL, SBX_TOKEN, SBX_FINGERPRINT,
#               SBX_CA (exported, so node and sbx pick them up), and
#               SDK_HOST_ADDR + SDK_ALIAS_PORT: the address and the one port
#               at which a sandbox reaches a server the test runs on the
#               host's loopback (a git daemon): 127.0.0.1 in host mode, an
#               sbxd --net-alias address in VM sandboxes, whose egress never
#               reaches the host's loopback otherwise
#   SBX_SDK_BACKEND=vm  the same tests against real microVMs (tests/vm/sdk_vm.sh
#               sets it in the host VM); SBX_SDK_TIME_SCALE (exported, default
#               1, 10 with vm) stretches the tests' waits for emulated guests
#   The trap set by sdk_start stops sbxd and every process the test
#   registered with sdk_track PID, and removes the folder.

SBX_SRC=${SBX_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SBX_BUILD=${SBX_BUILD:-$SBX_SRC/build}
export SBX_SRC SBX_BUILD
# shellcheck source=../lib/check.sh
. "$SBX_SRC/tests/lib/check.sh"

SDK_PID=
SDK_TRACKED=()

sdk_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

sdk_track() { SDK_TRACKED+=("$1"); }

sdk_cleanup() {
	local p
	for p in "${SDK_TRACKED[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$SDK_PID" ]; then
		kill "$SDK_PID" 2>/dev/null
		wait "$SDK_PID" 2>/dev/null
		SDK_PID=
	fi
	[ -n "${SDK_DIR:-}" ] && rm -rf "$SDK_DIR"
}

# sdk_need NAME: SKIP NAME and exit 0 when the binaries are not built.
sdk_need() {
	local name=$1 b
	shift
	for b in sbxd sbx-init "$@"; do
		if [ ! -x "$SBX_BUILD/bin/$b" ]; then
			skip "$name" "$SBX_BUILD/bin/$b not built"
			exit 0
		fi
	done
}

sdk_start() {
	SDK_DIR=$(mktemp -d /tmp/sbx-sdk.XXXXXX)
	# A test killed by a time limit cleans up too (bash runs no EXIT trap
	# for a signal it does not catch).
	trap sdk_cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	SDK_PORT=$(sdk_free_port)
	mkdir -p "$SDK_DIR/state" "$SDK_DIR/home"
	# Host-mode sandboxes inherit sbxd's environment: keep npm on loopback
	# (a closed port as its registry) and its cache in the temp folder.
	export HOME=$SDK_DIR/home npm_config_cache=$SDK_DIR/npm-cache
	export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
	if [ -z "${SBX_SDK_NETWORK:-}" ]; then
		export npm_config_registry=http://127.0.0.1:9/ npm_config_fetch_retries=0 \
			npm_config_fetch_timeout=5000
	fi
	SBX_TOKEN=$("$SBX_BUILD/bin/sbxd" token create --tenant sdk --state "$SDK_DIR/state" 2>>"$SDK_DIR/sbxd.log" | tail -1)
	[ -n "$SBX_TOKEN" ] || return 1
	# SBX_SDK_BACKEND=vm (with SBX_IMAGES) runs the same tests on real
	# microVMs, where guests boot (the vm tier); the default is host mode.
	local backend=(--backend host --agent "$SBX_BUILD/bin/sbx-init") tries=100
	SDK_ALIAS_PORT=$(sdk_free_port)
	SDK_HOST_ADDR=127.0.0.1
	if [ "${SBX_SDK_BACKEND:-host}" = vm ]; then
		SDK_HOST_ADDR=10.0.2.100
		backend=(--backend vm --vmm "$SBX_BUILD/bin/sbx-vmm" --images "${SBX_IMAGES:-$SBX_BUILD/images}"
			--disk-mib 1024 --net-alias "$SDK_HOST_ADDR=127.0.0.1:$SDK_ALIAS_PORT")
		export SBX_SDK_TIME_SCALE=${SBX_SDK_TIME_SCALE:-10}
		tries=600
	fi
	export SBX_SDK_TIME_SCALE=${SBX_SDK_TIME_SCALE:-1} SDK_HOST_ADDR SDK_ALIAS_PORT
	"$SBX_BUILD/bin/sbxd" serve --state "$SDK_DIR/state" --listen "127.0.0.1:$SDK_PORT" \
		"${backend[@]}" >>"$SDK_DIR/sbxd.log" 2>&1 &
	SDK_PID=$!
	SBX_CA=$SDK_DIR/state/tls/cert.pem
	SBX_URL=https://127.0.0.1:$SDK_PORT
	for _ in $(seq "$tries"); do
		if [ -s "$SBX_CA" ] && curl -s --cacert "$SBX_CA" "https://localhost:$SDK_PORT/v1/health" >/dev/null 2>&1; then
			break
		fi
		kill -0 "$SDK_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	SBX_FINGERPRINT=$(openssl x509 -in "$SBX_CA" -noout -fingerprint -sha256 | cut -d= -f2)
	[ -n "$SBX_FINGERPRINT" ] || return 1
	# The CLI's config goes to the test's own folder, never the user's.
	export SBX_CONFIG=$SDK_DIR/home/sbx.conf
	export SBX_URL SBX_TOKEN SBX_FINGERPRINT SBX_CA SDK_DIR SDK_PORT SDK_PID
}

# sdk_node_test TAP_FILE FILES...: node --test in the background (so a
# signal to the test reaches its trap at once), tracked, waited for.
sdk_node_test() {
	local tap=$1
	shift
	node --test --test-reporter=tap "$@" >"$tap" 2>&1 &
	sdk_track $!
	wait $!
}

# sdk_log: the tail of sbxd's log, for FAIL messages.
sdk_log() { tail -n 5 "$SDK_DIR/sbxd.log" | tr '\n' ' '; }

# sdk_tap NAME_PREFIX < TAP: turns node --test's TAP lines into PASS/FAIL/SKIP,
# then lists the five slowest tests (indented: information, not results).
sdk_tap() {
	python3 -c '
import re, sys
prefix = sys.argv[1]
seen = 0
times = []
name = None
for line in sys.stdin:
    d = re.match(r"^  duration_ms: ([0-9.]+)", line)
    if d and name:
        times.append((float(d.group(1)), name))
        name = None
    m = re.match(r"^(not ok|ok) \d+ - (.*?)(?:\s+#\s+(SKIP|TODO)\b\s*(.*))?$", line.rstrip("\n"))
    if not m:
        continue
    seen += 1
    name = prefix + re.sub(r"\W+", "_", m.group(2)).strip("_")
    if m.group(3):
        print("SKIP %s: %s" % (name, m.group(4) or "skipped"))
    elif m.group(1) == "ok":
        print("PASS " + name)
    else:
        print("FAIL " + name)
if not seen:
    print("FAIL %sno_results" % prefix)
for ms, n in sorted(times, reverse=True)[:5]:
    print("    slowest: %s %.1f s" % (n, ms / 1000))
' "$1"
}
