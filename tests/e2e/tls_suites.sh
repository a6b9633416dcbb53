#!/bin/bash
# tests/e2e/tls_suites.sh: each TLS 1.2 suite sbxd offers, forced from the
# client side (curl, built on OpenSSL), carries an upload and a download of
# a file compared by hash: the application data records are net/tls_record.c
# on OpenSSL's EVP after mbedTLS's handshake. Also a resumed session
# (openssl s_client -sess_out / -sess_in, "Reused") that still carries
# data, a suite sbxd does not offer refused, and a renegotiation refused.
set -u
. "$(dirname "$0")/lib.sh"

if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
	skip e2e_tls_suites "sbxd or sbx-init not built"
	exit 0
fi
command -v openssl >/dev/null || { skip e2e_tls_suites "no openssl"; exit 0; }
e2e_start || { fail e2e_start "sbxd did not start"; exit 1; }
S=/v1/sandboxes/tls
api PUT $S >/dev/null
AUTH="Authorization: Bearer $E2E_TOKEN"
# odd size: many full records and a short last one
head -c $((5 * 1024 * 1024 + 12345)) /dev/urandom >"$E2E_DIR/blob"
want=$(sha256sum <"$E2E_DIR/blob" | cut -d' ' -f1)

for suite in ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256 \
	ECDHE-ECDSA-AES256-GCM-SHA384; do
	F=$E2E_URL$S/files/workspace/$suite.bin
	st=$(curl -sS --tlsv1.2 --tls-max 1.2 --ciphers "$suite" --cacert "$E2E_CA" \
		-H "$AUTH" -T "$E2E_DIR/blob" -o /dev/null -w '%{http_code}' "$F")
	[ "$st" = 201 ] && pass "upload_$suite" || fail "upload_$suite" "status $st"
	got=$(curl -sS --tlsv1.2 --tls-max 1.2 --ciphers "$suite" --cacert "$E2E_CA" \
		-H "$AUTH" "$F" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && pass "download_hash_$suite" || fail "download_hash_$suite"
	# the suite really was the one asked for
	out=$(openssl s_client -connect "127.0.0.1:$E2E_PORT" -tls1_2 -cipher "$suite" \
		-CAfile "$E2E_CA" -servername localhost </dev/null 2>/dev/null)
	echo "$out" | grep -q "Cipher is $suite" && pass "negotiated_$suite" ||
		fail "negotiated_$suite" "$(echo "$out" | grep -m1 Cipher)"
done

# Resumption: a ticket from a first connection, then an abbreviated
# handshake whose records carry a request and its answer.
req="GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
printf "$req" | openssl s_client -connect "127.0.0.1:$E2E_PORT" -tls1_2 -CAfile "$E2E_CA" \
	-servername localhost -ign_eof -sess_out "$E2E_DIR/sess" >"$E2E_DIR/s1" 2>&1
grep -q '^New, ' "$E2E_DIR/s1" && grep -q 'HTTP/1.1 200' "$E2E_DIR/s1" &&
	pass full_handshake_data || fail full_handshake_data "$(grep -m3 -E 'New|Reused|HTTP' "$E2E_DIR/s1")"
for suite in ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256; do
	printf "$req" | openssl s_client -connect "127.0.0.1:$E2E_PORT" -tls1_2 -cipher "$suite" \
		-CAfile "$E2E_CA" -servername localhost -ign_eof -sess_out "$E2E_DIR/sess.$suite" \
		>/dev/null 2>&1
	printf "$req" | openssl s_client -connect "127.0.0.1:$E2E_PORT" -tls1_2 -cipher "$suite" \
		-CAfile "$E2E_CA" -servername localhost -ign_eof -sess_in "$E2E_DIR/sess.$suite" \
		>"$E2E_DIR/s2" 2>&1
	if grep -q '^Reused, ' "$E2E_DIR/s2" && grep -q 'HTTP/1.1 200' "$E2E_DIR/s2"; then
		pass "resumed_data_$suite"
	else
		fail "resumed_data_$suite" "$(grep -m3 -E 'New|Reused|HTTP|error' "$E2E_DIR/s2")"
	fi
done

# A suite not offered is refused (no fallback to something weaker).
if openssl s_client -connect "127.0.0.1:$E2E_PORT" -tls1_2 -cipher AES128-SHA \
	-servername localhost </dev/null >"$E2E_DIR/s3" 2>&1; then
	fail cbc_suite_refused "$(grep -m1 Cipher "$E2E_DIR/s3")"
else
	pass cbc_suite_refused
fi

# Renegotiation (a handshake record after the handshake) ends the
# connection; sbxd carries on serving others.
(printf 'R\n'; sleep 1) | openssl s_client -connect "127.0.0.1:$E2E_PORT" -tls1_2 \
	-CAfile "$E2E_CA" -servername localhost >"$E2E_DIR/s4" 2>&1
grep -q 'alert unexpected message' "$E2E_DIR/s4" && pass renegotiation_refused ||
	fail renegotiation_refused "$(tail -2 "$E2E_DIR/s4")"
api GET /v1/health >/dev/null; expect_status still_serving 200
