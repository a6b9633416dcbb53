#!/bin/bash
# tests/vm/api_jail.sh: sbxd (as root) jails every VMM it starts. Two
# sandboxes run at once; for each sbx-vmm child of sbxd, /proc shows a uid
# that is not root and not the other's, a root that is the sandbox's own jail
# folder (holding only its vsock socket), seccomp in filter mode and
# no-new-privs; one VMM's uid cannot signal the other VMM. After a sleep the
# jail folder is gone, and the next exec boots a jailed VMM again with the
# workspace files still there.
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"
. "$SBX_SRC/tests/vm/lib.sh"
why=$(vm_unmet)
[ -z "$why" ] || { skip api-jail "$why"; exit 0; }
[ "$(id -u)" = 0 ] || { skip api-jail "sbxd jails VMMs only as root"; exit 0; }

vm_lib_init
vm_sbxd_start --disk-mib 1024 || { fail jail-sbxd-start "$(tail -3 "$D/sbxd.log")"; exit 1; }

# vmm_pids: the sbx-vmm children of sbxd (no /dev/fd in the host VM: no <(...)).
vmm_pids() { pgrep -P "$SBXD" -x sbx-vmm; }
# arg PID OPT: the value after OPT on PID's command line.
arg() { tr '\0' '\n' <"/proc/$1/cmdline" | sed -n "/^$2\$/{n;p;q}"; }
field() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status"; }

for b in ja jb; do
	api PUT "/v1/sandboxes/$b" >/dev/null
	out=$(gx "$b" "echo hi from $b; echo $b > /workspace/mark")
	[ "$out" = "hi from $b
0" ] && pass "jail-exec-$b" || fail "jail-exec-$b" "$out $(tail -3 "$D/sbxd.log")"
done

# check_vmm PID: prints nothing when PID is jailed as it should be, else why.
check_vmm() {
	local p=$1 dir sock uid
	dir=$(arg "$p" --jail-dir)
	sock=$(arg "$p" --vsock)
	uid=$(field "$p" Uid)
	[ -n "$dir" ] || { echo "pid $p has no --jail-dir"; return; }
	[ "$uid" != 0 ] || echo "pid $p runs as root"
	[ "$(field "$p" Gid)" != 0 ] || echo "pid $p has gid 0"
	[ "$(field "$p" Seccomp)" = 2 ] || echo "pid $p Seccomp $(field "$p" Seccomp)"
	[ "$(field "$p" NoNewPrivs)" = 1 ] || echo "pid $p NoNewPrivs $(field "$p" NoNewPrivs)"
	[ "$(stat -L -c %d:%i "/proc/$p/root/")" = "$(stat -c %d:%i "$dir")" ] ||
		echo "pid $p root $(readlink "/proc/$p/root") is not $dir"
	[ "$(dirname "$sock")" = "$dir" ] || echo "socket $sock outside $dir"
	[ "$(ls -A "$dir")" = "$(basename "$sock")" ] || echo "$dir holds: $(ls -A "$dir" | tr '\n' ' ')"
	[ "$(stat -c %u:%a "$dir")" = 0:711 ] || echo "$dir is $(stat -c %u:%a "$dir")"
}

read -r -a pids <<<"$(vmm_pids | tr "\n" " ")"
if [ "${#pids[@]}" -ne 2 ]; then
	fail jail-two-vmms "${#pids[@]} sbx-vmm children of sbxd: ${pids[*]}"
else
	pass jail-two-vmms
	bad="$(check_vmm "${pids[0]}")$(check_vmm "${pids[1]}")"
	[ -z "$bad" ] && pass jail-proc-checks || fail jail-proc-checks "$bad"
	u0=$(field "${pids[0]}" Uid) u1=$(field "${pids[1]}" Uid)
	[ "$u0" != "$u1" ] && pass jail-distinct-uids || fail jail-distinct-uids "both uid $u0"
	# What the distinct uids are for: one VMM's user cannot signal the other.
	if setpriv --reuid="$u0" --regid="$u0" --clear-groups kill -0 "${pids[1]}" 2>/dev/null; then
		fail jail-no-cross-signal "uid $u0 could signal pid ${pids[1]} (uid $u1)"
	else
		pass jail-no-cross-signal
	fi
fi

# Sleep ja: its VMM stops, its uid slot and jail folder go; the next exec
# boots it jailed again, with its workspace file.
# sbxd names a sandbox's folders by the first 16 hex digits of
# sha256("TENANT/ID"); the first token's tenant is "default".
jail_a=$D/state/run/$(printf default/ja | sha256sum | cut -c1-16)
[ -d "$jail_a" ] && pass jail-folder-named || fail jail-folder-named "no $jail_a: $(ls "$D/state/run")"
jpost /v1/sandboxes/ja/exec '{"command":"sync"}' >/dev/null
api PATCH /v1/sandboxes/ja -H 'Content-Type: application/json' -d '{"sleepAfter":1000}' >/dev/null
for _ in $(seq 120); do
	api GET /v1/sandboxes/ja | grep -q '"status":"stopped"' && break
	sleep 0.5
done
status=$(api GET /v1/sandboxes/ja | json 'd["status"]')
read -r -a left <<<"$(vmm_pids | tr "\n" " ")"
if [ "$status" = stopped ] && [ "${#left[@]}" = 1 ] && [ ! -e "$jail_a" ]; then
	pass jail-sleep-stops-one
else
	fail jail-sleep-stops-one "status $status, ${#left[@]} VMMs left, $(ls -d "$jail_a" 2>&1)"
fi
api PATCH /v1/sandboxes/ja -H 'Content-Type: application/json' -d '{"sleepAfter":600000}' >/dev/null
out=$(gx ja "cat /workspace/mark")
[ "$out" = "ja
0" ] && pass jail-wake-exec-files || fail jail-wake-exec-files "$out $(tail -3 "$D/sbxd.log")"
read -r -a pids <<<"$(vmm_pids | tr "\n" " ")"
bad=
for p in "${pids[@]}"; do bad+=$(check_vmm "$p"); done
if [ "${#pids[@]}" = 2 ] && [ -z "$bad" ] &&
	[ "$(field "${pids[0]}" Uid)" != "$(field "${pids[1]}" Uid)" ]; then
	pass jail-after-wake
else
	fail jail-after-wake "${#pids[@]} VMMs; $bad"
fi
