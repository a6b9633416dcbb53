#!/bin/bash
# tests/e2e/stop_host.sh: the host backend stops sandboxes from the event
# loop too. An agent that ignores SIGTERM (a wrapper that outlives the
# sbx-init it started) holds a sleep; sbxd answers while it lingers (checked
# while the wrapper provably still runs: no clock decides), kills it after
# the grace, and a call made meanwhile boots the sandbox again.
set -uo pipefail
. "$SBX_SRC/tests/e2e/lib.sh"
W=$(mktemp -d /tmp/sbx-stophost.XXXXXX)
done_all() {
	rm -f "$W/ignore"
	e2e_cleanup
	rm -rf "$W"
}
cat >"$W/agent.sh" <<EOF
#!/bin/bash
# sbx-init as a child; with $W/ignore present, SIGTERM (sent to the whole
# process group: sbx-init goes) leaves this wrapper running, marked.
echo \$\$ >"$W/pid"
trap 'if [ -e "$W/ignore" ]; then touch "$W/term-seen.\$\$"; else exit 0; fi' TERM
"$SBX_BUILD/bin/sbx-init" "\$@" &
while :; do wait; sleep 0.05; done
EOF
chmod +x "$W/agent.sh"
e2e_start --agent "$W/agent.sh" || { fail stop_host_start "sbxd did not start"; rm -rf "$W"; exit 1; }
trap done_all EXIT

api PUT /v1/sandboxes/h1 -H 'Content-Type: application/json' -d '{"sleepAfter":1000}' >/dev/null
api POST /v1/sandboxes/h1/exec -d '{"command":"echo kept > f.txt"}' >/dev/null
expect_status stop_host_exec 200
pid=$(cat "$W/pid")
touch "$W/ignore"
for _ in $(seq 300); do [ -e "$W/term-seen.$pid" ] && break; sleep 0.05; done
if [ -e "$W/term-seen.$pid" ] &&
	curl -sS --max-time 5 --cacert "$E2E_CA" "$E2E_URL/v1/health" >/dev/null 2>&1 &&
	kill -0 "$pid" 2>/dev/null; then
	pass stop_host_held_does_not_block
else
	fail stop_host_held_does_not_block "no SIGTERM seen, or no answer while the agent lingered"
fi
rm -f "$W/ignore"
out=$(api POST /v1/sandboxes/h1/exec -d '{"command":"cat f.txt"}')
[ "$(status)" = 200 ] && [ "$(echo "$out" | json stdout)" = kept ] &&
	pass stop_host_call_during_stop_reboots || fail stop_host_call_during_stop_reboots "$out"
kill -0 "$pid" 2>/dev/null && fail stop_host_killed "agent $pid still runs" ||
	pass stop_host_killed
grep -q "h1: still running .* after SIGTERM: SIGKILL" "$E2E_DIR/sbxd.log" &&
	pass stop_host_sigkill_logged || fail stop_host_sigkill_logged "$(tail -3 "$E2E_DIR/sbxd.log")"
exit ${CHECK_FAILED:-0}
