#!/bin/bash
# tests/bench/files.sh: file upload and download through the API beside nginx
# serving the same 64 MiB file over TLS 1.2 on loopback (a self-signed P-256
# certificate; uploads by WebDAV PUT). The same client for both (curl, one
# transfer each: a handshake is nothing beside 64 MiB), offering only TLS 1.2
# and one suite, SBX_FILE_CIPHER (default ECDHE-ECDSA-AES128-GCM-SHA256, what
# sbxd prefers; ECDHE-ECDSA-CHACHA20-POLY1305 for the other), so both servers
# use the same cipher. Peers alternate each round. Rows in MiB/s,
# ratio = sbx / nginx (the design's target: >= 0.5 for write+read). Also the
# API beside the raw guest protocol to the sandbox's own sbx-init
# (FILE_WRITE / FILE_READ over its Unix socket), which shows what sbxd itself
# costs. sbx-init fsyncs a written file before it answers; nginx does not.
# The *-cpu rows: the servers' CPU ms per MiB (sbxd: mbedTLS handshake, then
# OpenSSL's EVP for the records, net/tls_record.c), which noise on a shared
# machine does not move.
set -uo pipefail
. "$SBX_SRC/tests/bench/lib.sh"
. "$SBX_SRC/tests/e2e/lib.sh"
R=${SBX_BENCH_N:-5} MIB=${SBX_FILE_MIB:-64}
CIPHER=${SBX_FILE_CIPHER:-ECDHE-ECDSA-AES128-GCM-SHA256}
command -v python3 >/dev/null || { echo "files bench: no python3" >&2; exit 0; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "files bench: no nginx (apt-get install nginx)" >&2; exit 0; }
e2e_start || { echo "files bench: sbxd did not start" >&2; exit 1; }
T=$E2E_DIR/nginx NGX=
stop_all() {
	if [ -n "$NGX" ]; then kill "$NGX" 2>/dev/null; wait "$NGX" 2>/dev/null; fi
	e2e_cleanup
}
trap stop_all EXIT
mkdir -p "$T/www" "$T/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -addext subjectAltName=DNS:localhost \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || exit 1
NPORT=$(e2e_free_port)
cat >"$T/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
user $(id -un) $(id -gn);
pid $T/nginx.pid;
error_log $T/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/tmp;
	proxy_temp_path $T/tmp;
	fastcgi_temp_path $T/tmp;
	uwsgi_temp_path $T/tmp;
	scgi_temp_path $T/tmp;
	sendfile on;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$NPORT ssl;
		ssl_certificate $T/cert.pem;
		ssl_certificate_key $T/key.pem;
		ssl_protocols TLSv1.2;
		ssl_ciphers $CIPHER;
		root $T/www;
		client_max_body_size 0;
		location / { dav_methods PUT; create_full_put_path on; }
	}
}
CONF
"$NGINX" -p "$T" -c "$T/nginx.conf" -e "$T/error.log" 2>"$T/stderr" &
NGX=$!
for _ in $(seq 50); do
	curl -s --cacert "$T/cert.pem" -o /dev/null "https://localhost:$NPORT/" && break
	sleep 0.1
done
kill -0 "$NGX" 2>/dev/null || { echo "files bench: nginx did not start: $(tail -3 "$T/error.log")" >&2; exit 1; }

head -c $((MIB << 20)) /dev/urandom >"$E2E_DIR/blob"
cp "$E2E_DIR/blob" "$T/www/blob.bin"
api PUT /v1/sandboxes/bench -H 'Content-Type: application/json' -d '{}' >/dev/null
XR="python3 $SBX_SRC/tests/bench/sbxbench.py raw-xfer"
sock=
SURL=$E2E_URL NURL=https://localhost:$NPORT
# cpu_ms PID...: CPU time (user + system) the processes and their children
# (sbxd's agent, nginx's worker) have used so far, in ms.
cpu_ms() {
	local p t=0 hz
	hz=$(getconf CLK_TCK)
	for p in "$@" $(for q in "$@"; do pgrep -P "$q"; done); do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
	done
	echo $((t * 1000 / hz))
}
# cx OUT CA [curl args]: one transfer by curl, its MiB/s appended to OUT and
# the server side's CPU ms per MiB to OUT.cpu (servers: $SRV, pids).
cx() {
	local out=$1 ca=$2 v c0
	shift 2
	c0=$(cpu_ms $SRV)
	v=$(curl -sS --fail --tlsv1.2 --tls-max 1.2 --ciphers "$CIPHER" --cacert "$ca" -o /dev/null \
		-w '%{speed_upload} %{speed_download}' "$@") || return 1
	echo "$v" | awk '{ printf "%.6f\n", ($1 > $2 ? $1 : $2) / 1048576 }' >>"$out"
	echo "$(cpu_ms $SRV) $c0 $MIB" | awk '{ printf "%.6f\n", ($1 - $2) / $3 }' >>"$out.cpu"
}
sx() { SRV=$E2E_PID cx "$@"; }
nx() { SRV=$NGX cx "$@"; }
AUTH="Authorization: Bearer $E2E_TOKEN"
SF=$SURL/v1/sandboxes/bench/files/workspace/blob.bin
# warm-up: one of each, not counted
sx "$E2E_DIR/warm" "$E2E_CA" -H "$AUTH" -T "$E2E_DIR/blob" "$SF" &&
	nx "$E2E_DIR/warm" "$T/cert.pem" -T "$E2E_DIR/blob" "$NURL/up.bin" || exit 1
for _ in $(seq "$R"); do
	sx "$E2E_DIR/sbx-up" "$E2E_CA" -H "$AUTH" -T "$E2E_DIR/blob" "$SF" || exit 1
	nx "$E2E_DIR/ngx-up" "$T/cert.pem" -T "$E2E_DIR/blob" "$NURL/up.bin" || exit 1
	sx "$E2E_DIR/sbx-down" "$E2E_CA" -H "$AUTH" "$SF" || exit 1
	nx "$E2E_DIR/ngx-down" "$T/cert.pem" "$NURL/blob.bin" || exit 1
	# the agent starts on first use: its socket exists after the first upload
	for s in "$E2E_DIR"/state/run/*.sock; do [ -S "$s" ] && sock=$s && break; done
	[ -n "$sock" ] || continue
	SBX_XFER_WARM=0 $XR "$sock" PUT /workspace/raw.bin "$E2E_DIR/blob" 1 "$E2E_DIR/raw-up" || exit 1
	SBX_XFER_WARM=0 $XR "$sock" GET /workspace/raw.bin "$E2E_DIR/blob" 1 "$E2E_DIR/raw-down" || exit 1
done
cmp -s "$E2E_DIR/blob" "$E2E_DIR/state/sandboxes/"*/workspace/blob.bin ||
	echo "files bench: the uploaded file differs" >&2
# write+read: one upload then one download of the file, per round
paste "$E2E_DIR/sbx-up" "$E2E_DIR/sbx-down" | awk '{ printf "%.6f\n", 2 / (1 / $1 + 1 / $2) }' >"$E2E_DIR/sbx-rt"
paste "$E2E_DIR/ngx-up" "$E2E_DIR/ngx-down" | awk '{ printf "%.6f\n", 2 / (1 / $1 + 1 / $2) }' >"$E2E_DIR/ngx-rt"
bench_emit file-upload-${MIB}m MiB/s "$E2E_DIR/sbx-up" nginx-put-tls12 "$E2E_DIR/ngx-up"
bench_emit file-download-${MIB}m MiB/s "$E2E_DIR/sbx-down" nginx-get-tls12 "$E2E_DIR/ngx-down"
bench_emit file-write-read-${MIB}m MiB/s "$E2E_DIR/sbx-rt" nginx-tls12 "$E2E_DIR/ngx-rt"
# server CPU per MiB moved (sbxd + its agent; nginx master + worker): lower
# is better, and unlike MiB/s it holds when the machine is busy
bench_emit file-upload-${MIB}m-cpu ms/MiB "$E2E_DIR/sbx-up.cpu" nginx-put-tls12 "$E2E_DIR/ngx-up.cpu"
bench_emit file-download-${MIB}m-cpu ms/MiB "$E2E_DIR/sbx-down.cpu" nginx-get-tls12 "$E2E_DIR/ngx-down.cpu"
if [ -s "$E2E_DIR/raw-up" ]; then
	bench_emit file-upload-${MIB}m-api-vs-raw MiB/s "$E2E_DIR/sbx-up" raw-protocol-file-write "$E2E_DIR/raw-up"
	bench_emit file-download-${MIB}m-api-vs-raw MiB/s "$E2E_DIR/sbx-down" raw-protocol-file-read "$E2E_DIR/raw-down"
fi
