#!/bin/bash
# tests/hostmode/guest_procs.sh: background processes of a host-mode
# sbx-init: lifecycle and status, kill with a signal, logs per stream, from an
# offset, followed live, and the bounded ring with its dropped-bytes count.
. "$(dirname "$0")/lib/agent.sh"

if ! agent_start; then
	skip guest_procs "$SKIP_ALL"
	exit 0
fi
O=$TDIR/out

# wait_status ID STATUS: polls PROC_GET for up to 5 s.
wait_status() {
	for _ in $(seq 50); do
		cli pget -I "$1" | grep -q "status=$2" && return 0
		sleep 0.1
	done
	return 1
}

cli pstart -I job1 'echo start; echo oops >&2; sleep 0.2; echo end' >"$O"
if grep -q 'PROC id=job1 pid=[0-9]* cmd=echo start.* status=running' "$O" && wait_status job1 completed &&
	cli pget -I job1 | grep -q 'exit_code=0'; then pass proc_lifecycle_completed
else fail proc_lifecycle_completed "$(cat "$O"; cli pget -I job1)"; fi

cli plogs -I job1 -s 1 >"$O"
if [ "$(grep -v '^OK\|^END' "$O")" = "$(printf 'start\nend')" ] && grep -q 'out_total=10 err_total=5' "$O"; then
	pass proc_logs_stdout
else fail proc_logs_stdout "$(cat "$O")"; fi
if cli plogs -I job1 -s 2 2>&1 | grep -q '^oops$' && cli plogs -I job1 -s 1 -o 6 | grep -q '^end$' &&
	! cli plogs -I job1 -s 1 -o 6 | grep -q start; then pass proc_logs_stderr_and_offset
else fail proc_logs_stderr_and_offset; fi

cli pstart -I job1 'true' >"$O"; rc=$?
if [ $rc = 3 ] && grep -q 'code=exists' "$O"; then pass proc_duplicate_id
else fail proc_duplicate_id "$(cat "$O")"; fi

cli pstart -I bad 'exit 3' >/dev/null
if wait_status bad failed && cli pget -I bad | grep -q 'exit_code=3'; then pass proc_failed_status
else fail proc_failed_status "$(cli pget -I bad)"; fi

cli pstart -I long 'sleep 34.1' >/dev/null
sleep 0.2
cli pkill -I long >"$O"
if grep -q '^OK' "$O" && wait_status long killed && cli pget -I long | grep -q 'signal=15'; then
	pass proc_kill_sigterm
else fail proc_kill_sigterm "$(cli pget -I long)"; fi

cli pstart -I stubborn "trap '' TERM; sleep 34.2" >/dev/null
sleep 0.2
cli pkill -I stubborn -S 9 >/dev/null
if wait_status stubborn killed && cli pget -I stubborn | grep -q 'signal=9'; then pass proc_kill_signal_9
else fail proc_kill_signal_9 "$(cli pget -I stubborn)"; fi

cli pkill -I nosuch >"$O"
if grep -q 'code=not_found' "$O"; then pass proc_kill_unknown
else fail proc_kill_unknown "$(cat "$O")"; fi

cli pstart -I ticker 'for i in 1 2 3; do echo tick$i; sleep 0.3; done' >/dev/null
cli plogs -I ticker -f >"$O"
if [ "$(grep -c '^tick' "$O")" = 3 ] && grep -q 'EXIT exit_code=0' "$O"; then pass proc_logs_follow
else fail proc_logs_follow "$(cat "$O")"; fi

cli pstart -I flood "head -c 3000000 /dev/zero | tr '\\0' a" >/dev/null
wait_status flood completed
cli plogs -I flood -s 1 >"$O"
if grep -q 'out_dropped=1951424 .*out_total=3000000' "$O" &&
	[ "$(tail -n +2 "$O" | tr -cd a | wc -c)" = 1048576 ]; then pass proc_ring_bounded_dropped
else fail proc_ring_bounded_dropped "$(head -c 300 "$O")"; fi

cli pstart 'sleep 34.3' >/dev/null
cli pstart 'sleep 34.4' >/dev/null
cli pkillall >"$O"
sleep 0.3
if grep -q 'OK count=2' "$O" && ! pgrep -f '^sleep 34.[34]' >/dev/null; then pass proc_kill_all
else fail proc_kill_all "$(cat "$O")"; fi

if [ "$(cli plist | grep -c '^PROC')" = 8 ] && cli plist | grep -q 'END count=8'; then pass proc_list
else fail proc_list "$(cli plist)"; fi

exit $CHECK_FAILED
