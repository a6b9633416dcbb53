#!/bin/bash
# tests/vm/api_vm.sh: the whole stack where guests boot: sbxd over TLS with
# the vm backend, sbx-vmm booting the guest kernel, sbx-init in the guest.
# A user's path through the API: exec, a timeout, the seed guide's python
# example, node, a file round trip, files surviving a VM stop, and a VMM
# killed in the middle of an exec.
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"
. "$SBX_SRC/tests/vm/lib.sh"
why=$(vm_unmet)
[ -z "$why" ] || { skip api-vm "$why"; exit 0; }

vm_lib_init
vm_sbxd_start --disk-mib 2048 || { fail vm-api-sbxd-start "$(tail -3 "$D/sbxd.log")"; exit 1; }

api PUT /v1/sandboxes/box >/dev/null
out=$(jpost /v1/sandboxes/box/exec '{"command":"echo hello from $(uname -r)"}')
if [ "$(echo "$out" | json 'd["stdout"]')" = "hello from $(echo "$out" | json 'd["stdout"].split()[-1]')" ] &&
	echo "$out" | grep -q -- '-sbx' && [ "$(echo "$out" | json 'd["exitCode"]')" = 0 ]; then
	pass vm-api-exec
else
	fail vm-api-exec "$out $(tail -5 "$D/sbxd.log")"
fi

out=$(jpost /v1/sandboxes/box/exec '{"command":"echo out; echo err >&2; exit 3"}')
[ "$(echo "$out" | json '(d["exitCode"], d["success"], d["stdout"], d["stderr"])')" = "(3, False, 'out\n', 'err\n')" ] &&
	pass vm-api-exit-code || fail vm-api-exit-code "$out"

out=$(jpost /v1/sandboxes/box/exec '{"command":"sleep 30","timeout":1000}')
st=$(cat "$D/status")
if [ "$st" = 504 ] && ! echo "$out" | grep -q '"exitCode":0'; then
	pass vm-api-timeout-not-exit-0
else
	fail vm-api-timeout-not-exit-0 "status $st: $out"
fi

out=$(jpost /v1/sandboxes/box/code '{"code":"print(sum([1, 2, 3, 4, 5]))"}')
[ "$(echo "$out" | json 'd["output"]')" = 15 ] && pass vm-api-seed-python || fail vm-api-seed-python "$out"

ctx=$(jpost /v1/sandboxes/box/contexts '{"language":"python"}' | json 'd["id"]')
jpost /v1/sandboxes/box/code "{\"code\":\"x = 20\",\"context\":\"$ctx\"}" >/dev/null
out=$(jpost /v1/sandboxes/box/code "{\"code\":\"x * 2 + 2\",\"context\":\"$ctx\"}")
echo "$out" | grep -q '42' && pass vm-api-context-state || fail vm-api-context-state "$out"

out=$(jpost /v1/sandboxes/box/code '{"code":"import matplotlib\nmatplotlib.use(\"Agg\")\nimport matplotlib.pyplot as plt\nplt.plot([1,2,3])\nplt.show()","timeout":240000}')
echo "$out" | grep -q '"png"' && pass vm-api-matplotlib-png || fail vm-api-matplotlib-png "$(echo "$out" | head -c 600)"

out=$(jpost /v1/sandboxes/box/exec '{"command":"node -e \"console.log([1,2,3].map(x => x * 2).join(\\\",\\\"))\""}')
[ "$(echo "$out" | json 'd["stdout"]')" = "2,4,6" ] && pass vm-api-node || fail vm-api-node "$out"

head -c $((16 << 20)) /dev/urandom >"$D/blob"
api PUT /v1/sandboxes/box/files/workspace/blob.bin --data-binary @"$D/blob" >/dev/null
api GET /v1/sandboxes/box/files/workspace/blob.bin >/dev/null
cp "$D/body" "$D/blob.back"
if cmp -s "$D/blob" "$D/blob.back"; then pass vm-api-file-16m; else fail vm-api-file-16m "differs"; fi
out=$(jpost /v1/sandboxes/box/exec '{"command":"sha256sum /workspace/blob.bin | cut -c1-64"}')
[ "$(echo "$out" | json 'd["stdout"].strip()')" = "$(sha256sum "$D/blob" | cut -c1-64)" ] &&
	pass vm-api-file-hash-in-guest || fail vm-api-file-hash-in-guest "$out"

# Untrusted code may fork-bomb or eat memory: the sandbox's user cgroup
# takes it (pids.max, memory.max, the timeout's cgroup.kill), the agent stays.
out=$(jpost /v1/sandboxes/box/exec '{"command":"b() { b | b & }; b; sleep 30","timeout":8000}')
st=$(cat "$D/status")
out2=$(jpost /v1/sandboxes/box/exec '{"command":"echo alive; ps -e --no-headers | wc -l"}')
if [ "$st" = 504 ] && [ "$(echo "$out2" | json 'd["stdout"].split()[0]')" = alive ] &&
	[ "$(echo "$out2" | json 'int(d["stdout"].split()[1])')" -lt 100 ]; then
	pass vm-api-fork-bomb-contained
else
	fail vm-api-fork-bomb-contained "status $st: $(echo "$out" | head -c 300) / $out2"
fi
out=$(jpost /v1/sandboxes/box/exec '{"command":"python3 -c \"a = []\nwhile True: a.append(b\\\"x\\\" * (32 << 20))\"","timeout":120000}')
out2=$(jpost /v1/sandboxes/box/exec '{"command":"echo alive"}')
if [ "$(echo "$out" | json 'd["exitCode"] != 0')" = True ] && [ "$(echo "$out2" | json 'd["stdout"]')" = alive ]; then
	pass vm-api-oom-contained
else
	fail vm-api-oom-contained "$out / $out2"
fi

# Files survive the VM stopping (sleepAfter) and booting again.
jpost /v1/sandboxes/box/exec '{"command":"echo kept > /workspace/kept.txt; mkdir -p /root/x; echo too > /root/x/y"}' >/dev/null
api PATCH /v1/sandboxes/box -H 'Content-Type: application/json' -d '{"sleepAfter":1000}' >/dev/null
for _ in $(seq 120); do
	api GET /v1/sandboxes/box | grep -q '"status":"stopped"' && break
	sleep 0.5
done
stopped=$(api GET /v1/sandboxes/box | json 'd["status"]')
out=$(jpost /v1/sandboxes/box/exec '{"command":"cat /workspace/kept.txt /root/x/y"}')
if [ "$stopped" = stopped ] && [ "$(echo "$out" | json 'd["stdout"]')" = "kept
too" ]; then
	pass vm-api-files-survive-stop
else
	fail vm-api-files-survive-stop "status $stopped: $out"
fi
api PATCH /v1/sandboxes/box -H 'Content-Type: application/json' -d '{"sleepAfter":600000}' >/dev/null

# The VMM killed in the middle of an exec: a clear error, and the next
# request boots the sandbox again.
jpost /v1/sandboxes/box/exec '{"command":"sleep 60"}' >"$D/killed.out" &
cpid=$!
sleep 3
vmm=$(pgrep -P "$SBXD" -f sbx-vmm | head -1)
if [ -n "$vmm" ]; then
	kill -9 "$vmm"
	wait $cpid
	st=$(cat "$D/status")
	if [ "$st" = 503 ] && grep -q '"error"' "$D/killed.out"; then
		pass vm-api-vmm-killed-503
	else
		fail vm-api-vmm-killed-503 "status $st: $(cat "$D/killed.out")"
	fi
	out=$(jpost /v1/sandboxes/box/exec '{"command":"cat /workspace/kept.txt"}')
	[ "$(echo "$out" | json 'd["stdout"]')" = kept ] && pass vm-api-reboots-after-kill ||
		fail vm-api-reboots-after-kill "$out"
else
	wait $cpid
	fail vm-api-vmm-killed-503 "no sbx-vmm child of sbxd found"
fi

api DELETE /v1/sandboxes/box >/dev/null
[ "$(cat "$D/status")" = 200 ] || [ "$(cat "$D/status")" = 204 ] && pass vm-api-delete || fail vm-api-delete "$(cat "$D/status")"
sleep 1
pgrep -P "$SBXD" -f sbx-vmm >/dev/null && fail vm-api-no-stray-vmm "a VMM outlived its sandbox" || pass vm-api-no-stray-vmm
