#!/bin/bash
# tests/hostmode/guest_ports.sh: WAIT_PORT and PORT_CONNECT of a host-mode
# sbx-init, against a python3 http.server it starts as a background process
# on loopback; a port nobody listens on is refused cleanly.
. "$(dirname "$0")/lib/agent.sh"

if ! agent_start; then
	skip guest_ports "$SKIP_ALL"
	exit 0
fi
if ! command -v python3 >/dev/null; then
	skip guest_ports "no python3"
	exit 0
fi
O=$TDIR/out
PORT=$((20000 + RANDOM % 30000))
FREE=$((PORT + 1))

cli waitport -P "$FREE" -t 300 >"$O"
if grep -q 'code=timeout' "$O"; then pass port_wait_times_out
else fail port_wait_times_out "$(cat "$O")"; fi

echo "hello from the sandbox" >"$WS/hello.txt"
cli pstart -I web "exec python3 -m http.server $PORT --bind 127.0.0.1" >/dev/null
cli waitport -P "$PORT" -t 10000 >"$O"
if grep -q '^OK' "$O"; then pass port_wait_ready
else fail port_wait_ready "$(cat "$O")"; fi

printf 'GET /hello.txt HTTP/1.0\r\nHost: x\r\n\r\n' | cli connect "$PORT" >"$O" 2>"$TDIR/err"
if head -1 "$O" | grep -q '200' && grep -q 'hello from the sandbox' "$O"; then pass port_connect_http
else fail port_connect_http "$(cat "$O" "$TDIR/err")"; fi

# A 2 MiB body through the pipe, both ways intact.
head -c $((2 << 20)) /dev/urandom >"$WS/blob"
printf 'GET /blob HTTP/1.0\r\n\r\n' | cli connect "$PORT" 2>/dev/null >"$O"
if [ "$(sed '1,/^\r$/d' "$O" | sha256sum)" = "$(sha256sum <"$WS/blob")" ]; then pass port_connect_large_body
else fail port_connect_large_body "got $(wc -c <"$O") bytes"; fi

cli connect "$FREE" </dev/null >/dev/null 2>"$O"; rc=$?
if [ $rc = 3 ] && grep -q 'code=connection_refused' "$O"; then pass port_connect_refused
else fail port_connect_refused "rc=$rc $(cat "$O")"; fi

cli pkill -I web >/dev/null
exit $CHECK_FAILED
