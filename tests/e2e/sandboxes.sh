#!/bin/bash
# tests/e2e/sandboxes.sh: tokens, tenants and the sandbox table through the
# HTTPS API (sbxd with the host backend): create-or-get, list, get, patch,
# delete, tenant isolation, token CLI, sleepAfter, restart persistence.
set -u
. "$(dirname "$0")/lib.sh"

if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
	skip e2e_sandboxes "sbxd or sbx-init not built"
	exit 0
fi
e2e_start || { fail e2e_start "sbxd did not start: $(tail -5 "$E2E_DIR/sbxd.log")"; exit 1; }
pass e2e_start

# TLS: only TLS >= 1.2 and the pinned certificate
if curl -s --cacert "$E2E_CA" --tls-max 1.1 "$E2E_URL/v1/health" >/dev/null 2>&1; then
	fail tls_refuses_1_1
else
	pass tls_refuses_1_1
fi
fp=$(grep -o 'fingerprint [0-9A-F:]*' "$E2E_DIR/sbxd.log" | head -1 | cut -d' ' -f2)
want=$(openssl x509 -in "$E2E_CA" -noout -fingerprint -sha256 | cut -d= -f2)
[ "$fp" = "$want" ] && pass tls_fingerprint_printed || fail tls_fingerprint_printed "$fp vs $want"

# TLS session resumption (tickets or cache)
echo | openssl s_client -connect "127.0.0.1:$E2E_PORT" -servername localhost -CAfile "$E2E_CA" \
	-sess_out "$E2E_DIR/sess" >/dev/null 2>&1
if echo | openssl s_client -connect "127.0.0.1:$E2E_PORT" -servername localhost -CAfile "$E2E_CA" \
	-sess_in "$E2E_DIR/sess" 2>/dev/null | grep -q '^Reused'; then
	pass tls_resumption
else
	fail tls_resumption
fi
openssl s_client -connect "127.0.0.1:$E2E_PORT" -servername localhost -CAfile "$E2E_CA" </dev/null 2>/dev/null |
	grep -Eq 'Cipher is ECDHE-(ECDSA|RSA)-(AES128-GCM|AES256-GCM|CHACHA20)' && pass tls_aead_suite || fail tls_aead_suite

api GET /v1/sandboxes >/dev/null; expect_status list_empty 200
TOKEN=bad api GET /v1/sandboxes >/dev/null; expect_status bad_token_401 401
curl -s --cacert "$E2E_CA" -o /dev/null -w '%{http_code}' "$E2E_URL/v1/sandboxes" >"$E2E_DIR/status"
expect_status no_token_401 401

api PUT /v1/sandboxes/box-1 -d '{"env":{"GREETING":"hi"},"sleepAfter":"10m"}' >/dev/null
expect_status create_201 201
api PUT /v1/sandboxes/box-1 >/dev/null; expect_status create_again_200 200
[ "$(api GET /v1/sandboxes/box-1 | json sleepAfter)" = 600000 ] && pass get_sleepafter || fail get_sleepafter
api PATCH /v1/sandboxes/box-1 -d '{"env":{"MORE":"x"},"keepAlive":true}' >/dev/null
expect_status patch_200 200
[ "$(api GET /v1/sandboxes/box-1 | json env.MORE)" = x ] && pass patch_env || fail patch_env
api PATCH /v1/sandboxes/box-1 -d '{"sleepAfter":-5}' >/dev/null; expect_status patch_bad_400 400
api PUT /v1/sandboxes/bad.id >/dev/null; expect_status bad_id_400 400
api GET /v1/sandboxes/nope >/dev/null; expect_status unknown_404 404

# Token CLI and a second tenant.
T2=$("$SBX_BUILD/bin/sbxd" token create --tenant other --state "$E2E_DIR/state")
[ ${#T2} = 68 ] && pass token_create || fail token_create "$T2"
"$SBX_BUILD/bin/sbxd" token list --state "$E2E_DIR/state" | grep -q ' other ' &&
	pass token_list || fail token_list
grep -q "${T2#sbx_}" "$E2E_DIR/state/tokens.json" && fail token_hashed_only || pass token_hashed_only
TOKEN=$T2 api GET /v1/sandboxes >/dev/null; expect_status token_cli_live 200
TOKEN=$T2 api GET /v1/sandboxes/box-1 >/dev/null; expect_status tenant_isolation_get 404
TOKEN=$T2 api POST /v1/sandboxes/box-1/exec -d '{"command":"true"}' >/dev/null
expect_status tenant_isolation_exec 404
[ "$(TOKEN=$T2 api GET /v1/sandboxes | json sandboxes)" = "[]" ] && pass tenant_isolation_list ||
	fail tenant_isolation_list
TOKEN=$T2 api PUT /v1/sandboxes/box-1 >/dev/null; expect_status tenant_same_id_own_box 201
TOKEN=$T2 api PUT /v1/sandboxes/box-1/files/workspace/t2.txt --data-binary 'two' >/dev/null
api GET /v1/sandboxes/box-1/files/workspace/t2.txt >/dev/null; expect_status tenant_files_separate 404
id2=$("$SBX_BUILD/bin/sbxd" token list --state "$E2E_DIR/state" | awk '$2 == "other" { print $1 }')
"$SBX_BUILD/bin/sbxd" token revoke "$id2" --state "$E2E_DIR/state" && pass token_revoke || fail token_revoke
e2e_restart
TOKEN=$T2 api GET /v1/sandboxes >/dev/null; expect_status revoked_token_401 401

# Files and settings survive an sbxd restart (killed hard).
api PUT /v1/sandboxes/box-1/files/workspace/keep.txt --data-binary 'kept' >/dev/null
kill -9 "$E2E_PID"; wait "$E2E_PID" 2>/dev/null; E2E_PID=
e2e_launch || fail restart_after_kill
[ "$(api GET /v1/sandboxes/box-1/files/workspace/keep.txt)" = kept ] && pass restart_files_intact ||
	fail restart_files_intact
[ "$(api GET /v1/sandboxes/box-1 | json env.GREETING)" = hi ] && pass restart_table_intact ||
	fail restart_table_intact
[ "$(api POST /v1/sandboxes/box-1/exec -d '{"command":"cat keep.txt"}' | json stdout)" = kept ] &&
	pass restart_exec_works || fail restart_exec_works

# sleepAfter: idle sandboxes stop, and wake with files intact.
api PUT /v1/sandboxes/sleepy -d '{"sleepAfter":1000}' >/dev/null
api POST /v1/sandboxes/sleepy/exec -d '{"command":"echo zz > z.txt"}' >/dev/null
[ "$(api GET /v1/sandboxes/sleepy | json status)" = running ] && pass sleep_running || fail sleep_running
sleep 2.5
[ "$(api GET /v1/sandboxes/sleepy | json status)" = stopped ] && pass sleep_after_idle ||
	fail sleep_after_idle "$(cat "$E2E_DIR/body")"
[ "$(api POST /v1/sandboxes/sleepy/exec -d '{"command":"cat z.txt"}' | json stdout)" = zz ] &&
	pass sleep_wake_files_intact || fail sleep_wake_files_intact

# Delete removes the workspace.
ws=$(ls -d "$E2E_DIR"/state/sandboxes/*/ | wc -l)
api DELETE /v1/sandboxes/sleepy >/dev/null; expect_status delete_200 200
api GET /v1/sandboxes/sleepy >/dev/null; expect_status delete_gone_404 404
[ "$(ls -d "$E2E_DIR"/state/sandboxes/*/ | wc -l)" = $((ws - 1)) ] && pass delete_workspace_removed ||
	fail delete_workspace_removed

exit ${CHECK_FAILED:-0}
