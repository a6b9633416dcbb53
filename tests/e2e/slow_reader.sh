#!/bin/bash
# tests/e2e/slow_reader.sh: responses read by a slow client stay byte-exact.
# Under back-pressure sbxd's queue fills, the agent call pauses, and TLS
# writes meet a full socket (mbedtls_ssl_write WANT_WRITE) again and again;
# the chunked framing of a streamed exec and the body of a file download
# must still reassemble to exactly the bytes produced.
set -u
. "$(dirname "$0")/lib.sh"

if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
	skip e2e_slow_reader "sbxd or sbx-init not built"
	exit 0
fi
e2e_start || { fail e2e_start "sbxd did not start"; exit 1; }
S=/v1/sandboxes/slow
F=$S/files/workspace
api PUT $S -d '{}' >/dev/null
SLOW="$SBX_SRC/tests/e2e/slow_reader.py"

# SSE exec: 40 MB of base64 lines (the CLI's exec_slow_reader_all_bytes).
cmd='head -c 30000000 /dev/zero | base64 -w 100'
want="stdout $(bash -c "$cmd" | wc -c) $(bash -c "$cmd" | sha256sum | cut -d' ' -f1)"
python3 "$SLOW" sse "$E2E_URL$S/exec" "$E2E_CA" "$E2E_TOKEN" \
	"{\"command\":\"$cmd\",\"timeout\":120000}" >"$E2E_DIR/sse" 2>&1
if [ "$(sed -n 1p "$E2E_DIR/sse")" = "$want" ] && [ "$(sed -n 2p "$E2E_DIR/sse")" = "last complete" ]; then
	pass slow_reader_sse_exec_exact
else
	fail slow_reader_sse_exec_exact "$(head -c 300 "$E2E_DIR/sse")"
fi

# A 40 MB file download (Content-Length, 64 KiB frames from the agent,
# which is paused while the client's queue is full).
head -c 40000000 /dev/urandom >"$E2E_DIR/big"
want="body 40000000 $(sha256sum <"$E2E_DIR/big" | cut -d' ' -f1)"
api PUT $F/big.bin -T "$E2E_DIR/big" >/dev/null
rm -f "$E2E_DIR/big"
python3 "$SLOW" raw "$E2E_URL$F/big.bin" "$E2E_CA" "$E2E_TOKEN" >"$E2E_DIR/raw" 2>&1
if [ "$(cat "$E2E_DIR/raw")" = "$want" ]; then
	pass slow_reader_download_exact
else
	fail slow_reader_download_exact "$(head -c 300 "$E2E_DIR/raw")"
fi

# 1000 downloads of a 20000-byte file pipelined on one connection, read at
# about the rate they are produced: each response ends in a TLS record
# shorter than a full one, which often meets a full socket just before the
# next response is queued behind it.
head -c 20000 /dev/urandom >"$E2E_DIR/small"
want1="body 20000 $(sha256sum <"$E2E_DIR/small" | cut -d' ' -f1)"
api PUT $F/small.bin -T "$E2E_DIR/small" >/dev/null
ok=1
for pace in "4096 4 0.001" "16384 4 0.001" "1024 16 0.001"; do
	read -r rd every pause <<<"$pace"
	SLOW_START=0 SLOW_READ=$rd SLOW_EVERY=$every SLOW_PAUSE=$pause \
		python3 "$SLOW" raw "$E2E_URL$F/small.bin" "$E2E_CA" "$E2E_TOKEN" 1000 >"$E2E_DIR/raw" 2>&1
	n=$(grep -cxF "$want1" "$E2E_DIR/raw")
	if [ "$n" != 1000 ]; then
		ok=0
		why="pace $pace: $n of 1000 exact; $(grep -vxF "$want1" "$E2E_DIR/raw" | head -c 200)"
		break
	fi
done
[ $ok = 1 ] && pass slow_reader_pipelined_downloads_exact ||
	fail slow_reader_pipelined_downloads_exact "$why"
still_serving slow_reader_still_serving
[ -z "${CHECK_FAILED:-}" ]
