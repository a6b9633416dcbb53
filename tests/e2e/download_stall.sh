#!/bin/bash
# tests/e2e/download_stall.sh: a long file download survives sbxd's own
# stalls. On a loaded host the loop is sometimes not scheduled in the middle
# of a batch of callbacks; loop.c counts such batches (stalled_ms) and
# conn_tick moves every client's clocks by them. A download whose client is
# behind was written to during that very batch, and moving its last-write
# time by the whole stall put it in the future: the "reader stopped reading"
# check (now - last_write_ms, unsigned) then cut the download off, curl's
# "transfer closed with N bytes remaining to read".
#
# Here strace delays some of sbxd's reads of the agent socket by 60 ms (a
# batch longer than LOOP_STALL_MS, the delivered bytes written to the client
# right after) while a slow client, pausing now and then, downloads 50 MiB
# from a sandbox with a short sleepAfter; the body must arrive whole.
set -u
. "$(dirname "$0")/lib.sh"

if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
	skip e2e_download_stall "sbxd or sbx-init not built"
	exit 0
fi
if ! command -v strace >/dev/null; then
	skip e2e_download_stall "strace is not installed (it makes the stalls)"
	exit 0
fi
e2e_start || { fail e2e_start "sbxd did not start"; exit 1; }
S=/v1/sandboxes/stall
F=$S/files/workspace/data
api PUT $S -d '{"sleepAfter":1000}' >/dev/null
expect_status stall_sandbox_created 201

size=$((50 * 1024 * 1024))
head -c $size /dev/urandom >"$E2E_DIR/big"
want="body $size $(sha256sum <"$E2E_DIR/big" | cut -d' ' -f1)"
api PUT "$F/big.bin" -T "$E2E_DIR/big" >/dev/null
expect_status stall_upload 201
rm -f "$E2E_DIR/big"

# recvfrom is sbxd's read of the agent socket (client reads are paused
# while a response is sent); every 3rd one waits 60 ms before it runs.
strace -qq -o /dev/null -p "$E2E_PID" -e trace=recvfrom \
	-e inject=recvfrom:delay_enter=60000:when=3+3 &
tracer=$!
# strace attaches asynchronously: wait until sbxd is traced.
for _ in $(seq 100); do
	[ "$(awk '/^TracerPid:/ {print $2}' "/proc/$E2E_PID/status")" != 0 ] && break
	sleep 0.1
done
if [ "$(awk '/^TracerPid:/ {print $2}' "/proc/$E2E_PID/status")" = 0 ]; then
	kill "$tracer" 2>/dev/null
	wait "$tracer" 2>/dev/null
	skip e2e_download_stall "strace could not attach to sbxd (ptrace not allowed?)"
	exit 0
fi
SLOW_START=1 SLOW_READ=4096 SLOW_EVERY=32 SLOW_PAUSE=0.12 \
	python3 "$SBX_SRC/tests/e2e/slow_reader.py" raw "$E2E_URL$F/big.bin" \
	"$E2E_CA" "$E2E_TOKEN" >"$E2E_DIR/raw" 2>&1
kill "$tracer" 2>/dev/null
wait "$tracer" 2>/dev/null
if [ "$(cat "$E2E_DIR/raw")" = "$want" ]; then
	pass download_survives_loop_stalls
else
	fail download_survives_loop_stalls "$(head -c 300 "$E2E_DIR/raw")"
fi
still_serving download_stall_still_serving
[ -z "${CHECK_FAILED:-}" ]
