# tests/hostmode/lib/agent.sh: starts a host-mode sbx-init for a test (source it).
#
# agent_start: a fresh workspace in $WS, the agent on $SOCK, its pid in
# $AGENT_PID; everything is removed on exit (trap). `cli ARGS` runs
# sbx-agent-client against it. Sets SKIP_ALL when the binaries are missing.
SBX_SRC=${SBX_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
SBX_BUILD=${SBX_BUILD:-$SBX_SRC/build}
# shellcheck source=../../lib/check.sh
. "$SBX_SRC/tests/lib/check.sh"

AGENT=$SBX_BUILD/bin/sbx-init
CLIENT=$SBX_BUILD/bin/sbx-agent-client
CHECK_FAILED=0

agent_cleanup() {
	[ -n "${AGENT_PID:-}" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	[ -s "${TDIR:-/nonexistent}/agent.log" ] && sed 's/^/agent: /' "$TDIR/agent.log" >&2
	[ -n "${TDIR:-}" ] && rm -rf "$TDIR"
}

agent_start() {
	if [ ! -x "$AGENT" ] || [ ! -x "$CLIENT" ]; then
		SKIP_ALL="sbx-init or sbx-agent-client not built"
		return 1
	fi
	TDIR=$(mktemp -d /tmp/sbx-hostmode.XXXXXX)
	WS=$TDIR/ws
	SOCK=$TDIR/agent.sock
	mkdir -p "$WS"
	trap agent_cleanup EXIT
	"$AGENT" --host --listen "$SOCK" --root "$WS" --runners "$SBX_SRC/guest/runners" \
		2>"$TDIR/agent.log" &
	AGENT_PID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && return 0
		sleep 0.05
	done
	SKIP_ALL="agent did not start"
	return 1
}

cli() { "$CLIENT" "$SOCK" "$@"; }

# rss_kb PID: the resident set of a process, in KiB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
