#!/bin/bash
# tests/hostmode/guest_exec.sh: EXEC against a host-mode sbx-init: separate
# streams, exit codes, signals, bytes that are not UTF-8, stdin, timeouts that
# kill whole trees (also a child ignoring SIGTERM), cancel on disconnect, and
# a 1 GiB stream to a slow reader with the agent's memory staying bounded.
. "$(dirname "$0")/lib/agent.sh"

if ! agent_start; then
	skip guest_exec "$SKIP_ALL"
	exit 0
fi
O=$TDIR/out E=$TDIR/err

cli exec 'echo out; echo err >&2' >"$O" 2>"$E"
if [ "$(cat "$O")" = out ] && grep -q '^err$' "$E"; then pass exec_streams_separate
else fail exec_streams_separate "$(cat "$O" "$E")"; fi

cli exec 'exit 42' >/dev/null 2>"$E"; rc=$?
if [ $rc = 42 ] && grep -q 'exit_code=42 signal=0 timed_out=0' "$E"; then pass exec_exit_code
else fail exec_exit_code "rc=$rc $(cat "$E")"; fi

cli exec 'kill -TERM $$' >/dev/null 2>"$E"; rc=$?
if [ $rc = 143 ] && grep -q 'signal=15 timed_out=0' "$E"; then pass exec_signal_exit
else fail exec_signal_exit "rc=$rc $(cat "$E")"; fi

cli exec "printf '\\377\\376\\000abc\\200'" >"$O" 2>/dev/null
if [ "$(od -An -tx1 "$O" | tr -d ' \n')" = fffe0061626380 ]; then pass exec_non_utf8_bytes
else fail exec_non_utf8_bytes "$(od -An -tx1 "$O")"; fi

start=$(date +%s%N)
cli exec -t 300 'sleep 10' >/dev/null 2>"$E"; rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [ $rc = 124 ] && grep -q 'timed_out=1' "$E" && [ $ms -lt 5000 ]; then pass exec_timeout_reported
else fail exec_timeout_reported "rc=$rc ms=$ms $(cat "$E")"; fi

cli exec -t 300 "trap '' TERM; sleep 31.7; echo survived" >"$O" 2>"$E"; rc=$?
if [ $rc = 124 ] && ! grep -q survived "$O" && ! pgrep -f 'sleep 31.7' >/dev/null; then
	pass exec_timeout_ignoring_sigterm
else fail exec_timeout_ignoring_sigterm "rc=$rc"; fi

cli exec -t 300 'sleep 32.3 & sleep 32.4; wait' >/dev/null 2>&1
sleep 0.2
if ! pgrep -f 'sleep 32.[34]' >/dev/null; then pass exec_timeout_kills_tree
else fail exec_timeout_kills_tree "sleeps left: $(pgrep -af 'sleep 32')"; fi

head -c 300000 /dev/urandom >"$TDIR/in"
cli exec -i 'cat; echo tail' <"$TDIR/in" >"$O" 2>/dev/null
if [ "$(head -c 300000 "$O" | sha256sum)" = "$(sha256sum <"$TDIR/in")" ] &&
	[ "$(tail -c 5 "$O")" = tail ]; then pass exec_stdin
else fail exec_stdin "size $(wc -c <"$O")"; fi

cli exec -a printf '%s|' 'a b' "c'd" >"$O" 2>/dev/null
if [ "$(cat "$O")" = "a b|c'd|" ]; then pass exec_argv
else fail exec_argv "$(cat "$O")"; fi

mkdir -p "$WS/sub"
cli exec -e FOO=bar -C sub 'echo $FOO; pwd' >"$O" 2>/dev/null
if [ "$(head -1 "$O")" = bar ] && [ "$(tail -1 "$O")" = "$WS/sub" ]; then pass exec_env_cwd
else fail exec_env_cwd "$(cat "$O")"; fi

cli exec -C nope 'true' >/dev/null 2>"$E"; rc=$?
if [ $rc = 3 ] && grep -q 'code=not_found' "$E"; then pass exec_bad_cwd_error
else fail exec_bad_cwd_error "rc=$rc $(cat "$E")"; fi

cli exec -a /no/such/program >/dev/null 2>"$E"; rc=$?
if [ $rc = 3 ] && grep -q 'code=not_found' "$E"; then pass exec_missing_program
else fail exec_missing_program "rc=$rc $(cat "$E")"; fi

"$CLIENT" "$SOCK" exec 'sleep 33.3' >/dev/null 2>&1 &
cpid=$!
sleep 0.3
kill "$cpid"; wait "$cpid" 2>/dev/null
sleep 0.3
if ! pgrep -f '^sleep 33.3' >/dev/null; then pass exec_disconnect_kills
else fail exec_disconnect_kills "still running"; fi

# 1 GiB to a reader that stalls first: the agent's RSS must stay small.
rss0=$(rss_kb "$AGENT_PID")
cli exec 'head -c 1073741824 /dev/zero' 2>/dev/null | { sleep 2; wc -c; } >"$O" &
rpid=$!
max=0
while kill -0 "$rpid" 2>/dev/null; do
	r=$(rss_kb "$AGENT_PID"); [ "${r:-0}" -gt "$max" ] && max=$r
	sleep 0.1
done
wait "$rpid"
if [ "$(cat "$O")" = 1073741824 ] && [ "$max" -lt $((rss0 + 16384)) ]; then
	pass exec_1gib_slow_reader_bounded
else fail exec_1gib_slow_reader_bounded "bytes=$(cat "$O") rss0=${rss0}k max=${max}k"; fi

exit $CHECK_FAILED
