#!/bin/bash
# tests/e2e/abuse.sh: hostile requests: malformed JSON, huge headers, a huge
# request line, conflicting and duplicate lengths, a NUL in the path, an
# over-limit body, a bad TLS client, a slow client. Each must get its 4xx
# (or be closed) and sbxd must keep serving.
set -u
. "$(dirname "$0")/lib.sh"

if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
	skip e2e_abuse "sbxd or sbx-init not built"
	exit 0
fi
e2e_start || { fail e2e_start "sbxd did not start"; exit 1; }
S=/v1/sandboxes/ab
api PUT $S >/dev/null
AUTH="Authorization: Bearer $E2E_TOKEN"
raw() { python3 "$SBX_SRC/tests/e2e/raw.py" "$E2E_PORT" "$E2E_CA"; }

api POST $S/exec -d '{"command": "x",' >/dev/null; expect_status malformed_json_400 400
still_serving malformed_json_still_serving
[ "$(json error.code <"$E2E_DIR/body")" = bad_request ] && pass error_shape || fail error_shape
api POST $S/exec -d '[1,2]' >/dev/null; expect_status json_not_object_400 400
api POST $S/exec -d '{"command":"a","command":"b"}' >/dev/null; expect_status json_duplicate_key_400 400

big=$(head -c 20000 /dev/zero | tr '\0' a)
api GET /v1/sandboxes -H "X-Big: $big" >/dev/null; expect_status huge_header_431 431
still_serving huge_header_still_serving
[ "$(printf 'GET /v1/%s HTTP/1.1\r\nHost: x\r\n\r\n' "$(head -c 9000 /dev/zero | tr '\0' a)" | raw)" = 414 ] &&
	pass huge_request_line_414 || fail huge_request_line_414
[ "$(printf 'POST %s/exec HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' "$S" "$AUTH" | raw)" = 400 ] &&
	pass cl_with_te_400 || fail cl_with_te_400
[ "$(printf 'POST %s/exec HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x' "$S" "$AUTH" | raw)" = 400 ] &&
	pass duplicate_cl_400 || fail duplicate_cl_400
[ "$(printf 'GET /v1/sand\0boxes HTTP/1.1\r\nHost: x\r\n\r\n' | raw)" = 400 ] &&
	pass raw_nul_in_path_400 || fail raw_nul_in_path_400
api GET "$S/files/workspace/a%00b" >/dev/null; expect_status escaped_nul_in_path_400 400
still_serving smuggling_still_serving

head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$E2E_DIR/huge.json"
api POST $S/exec --data-binary @"$E2E_DIR/huge.json" >/dev/null; expect_status over_limit_body_413 413
api POST $S/exec -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_DIR/huge.json" >/dev/null
expect_status over_limit_chunked_413 413
still_serving over_limit_still_serving

# Not TLS at all, then a truncated handshake.
printf 'GET / HTTP/1.1\r\n\r\n' | timeout 5 python3 -c '
import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); s.settimeout(5)
try: s.recv(100)
except Exception: pass' "$E2E_PORT"
still_serving plaintext_still_serving

# A slow client that never finishes its head is cut off (head deadline),
# while others are served meanwhile.
python3 - "$E2E_PORT" "$E2E_CA" <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
s.sendall(b"GET /v1/health HTTP/1.1\r\n")
time.sleep(3)
PY
slow=$!
still_serving slow_client_does_not_block
wait $slow

# Keep-alive: several requests on one connection, and pipelining.
n=$(curl -s --cacert "$E2E_CA" -H "$AUTH" -w '%{num_connects}\n' -o /dev/null -o /dev/null -o /dev/null \
	"$E2E_URL/v1/health" "$E2E_URL/v1/sandboxes" "$E2E_URL$S" | paste -sd+ | bc)
[ "$n" = 1 ] && pass keep_alive_one_connection || fail keep_alive_one_connection "$n connects"
got=$(printf 'GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	python3 -c '
import socket,ssl,sys
ctx=ssl.create_default_context(cafile=sys.argv[2])
t=ctx.wrap_socket(socket.create_connection(("127.0.0.1",int(sys.argv[1]))),server_hostname="localhost")
t.sendall(sys.stdin.buffer.read()); b=b""
while True:
    c=t.recv(65536)
    if not c: break
    b+=c
print(b.count(b"HTTP/1.1 200"))' "$E2E_PORT" "$E2E_CA")
[ "$got" = 2 ] && pass pipelined_requests || fail pipelined_requests "$got"
api GET /v1/nothing >/dev/null; expect_status unknown_route_404 404
api DELETE /v1/sandboxes >/dev/null; expect_status wrong_method_405 405
still_serving end_still_serving

exit ${CHECK_FAILED:-0}
