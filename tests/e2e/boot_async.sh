#!/bin/bash
# tests/e2e/boot_async.sh: a sandbox whose agent is slow to come up does not
# stall sbxd, and one whose agent dies at start is answered with a clear 503.
#
# sbxd's --agent is a wrapper that marks that it ran, then waits for the
# test's go-ahead before it becomes sbx-init. While it waits, sbxd must
# still answer /v1/health (an event loop blocked in the boot would not).
# No clock decides: the go-ahead comes only after health answered.
set -uo pipefail
. "$SBX_SRC/tests/e2e/lib.sh"
W=$(mktemp -d /tmp/sbx-bootasync.XXXXXX)
CPID=
done_all() {
	[ -n "$CPID" ] && kill "$CPID" 2>/dev/null
	touch "$W/go" # let a waiting wrapper go so sbxd's stop is quick
	e2e_cleanup
	rm -rf "$W"
}
cat >"$W/agent.sh" <<EOF
#!/bin/sh
# Wrapper around sbx-init for this test: in mode "die" it exits at once.
touch "$W/ran"
case "\$(cat "$W/mode" 2>/dev/null)" in die) exit 3 ;; esac
while [ ! -e "$W/go" ]; do sleep 0.05; done
exec "$SBX_BUILD/bin/sbx-init" "\$@"
EOF
chmod +x "$W/agent.sh"
e2e_start --agent "$W/agent.sh" || { fail boot_async_start "sbxd did not start"; rm -rf "$W"; exit 1; }
trap done_all EXIT

api PUT /v1/sandboxes/slow -H 'Content-Type: application/json' -d '{}' >/dev/null
curl -sS --max-time 60 --cacert "$E2E_CA" -H "Authorization: Bearer $E2E_TOKEN" \
	-H 'Content-Type: application/json' -d '{"command":"echo booted"}' \
	"$E2E_URL/v1/sandboxes/slow/exec" >"$W/exec.out" 2>&1 &
CPID=$!
for _ in $(seq 200); do [ -e "$W/ran" ] && break; sleep 0.05; done
if [ ! -e "$W/ran" ]; then
	fail boot_async_serves_while_booting "the agent was never started"
elif curl -sS --max-time 4 --cacert "$E2E_CA" "$E2E_URL/v1/health" >/dev/null 2>&1; then
	pass boot_async_serves_while_booting
else
	fail boot_async_serves_while_booting "no answer to /v1/health while a sandbox booted"
fi
touch "$W/go"
wait "$CPID"
CPID=
grep -q '"stdout":"booted\\n"' "$W/exec.out" && pass boot_async_exec_after_boot ||
	fail boot_async_exec_after_boot "$(head -c 300 "$W/exec.out")"

# An agent that exits before it listens: 503, said plainly, and sbxd serves on.
echo die >"$W/mode"
rm -f "$W/ran"
api PUT /v1/sandboxes/dies -H 'Content-Type: application/json' -d '{}' >/dev/null
out=$(api POST /v1/sandboxes/dies/exec -H 'Content-Type: application/json' -d '{"command":"true"}')
if [ "$(status)" = 503 ] && echo "$out" | grep -q 'could not'; then
	pass boot_async_agent_dies_503
else
	fail boot_async_agent_dies_503 "status $(status): $out"
fi
rm -f "$W/mode"
out=$(api POST /v1/sandboxes/slow/exec -H 'Content-Type: application/json' -d '{"command":"echo still"}')
echo "$out" | grep -q '"stdout":"still\\n"' && pass boot_async_still_serving ||
	fail boot_async_still_serving "$out"
