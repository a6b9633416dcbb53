#!/bin/bash
# tests/e2e/preview.sh: exposed ports and preview URLs: an HTTP server and a
# WebSocket echo server in the sandbox, reached through sbxd by Host name
# verified against sbxd's certificate (for a single-label domain such as
# localhost, sbxd issues a certificate per preview host name by SNI), plus
# wrong token, unexposed port and unexpose.
set -u
. "$(dirname "$0")/lib.sh"

if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
	skip e2e_preview "sbxd or sbx-init not built"
	exit 0
fi
e2e_start || { fail e2e_start "sbxd did not start"; exit 1; }
S=/v1/sandboxes/web
api PUT $S >/dev/null
hp=$(e2e_free_port)
wp=$(e2e_free_port)
while [ "$wp" = "$hp" ]; do wp=$(e2e_free_port); done
api PUT $S/files/workspace/www/index.html --data-binary 'preview works' >/dev/null
api POST $S/processes -d "{\"command\":\"cd www && exec python3 -m http.server $hp --bind 127.0.0.1\",\"processId\":\"http\"}" >/dev/null
api PUT $S/files/workspace/ws.py --data-binary @"$SBX_SRC/tests/e2e/ws.py" >/dev/null
api POST $S/processes -d "{\"command\":\"exec python3 ws.py serve $wp\",\"processId\":\"ws\"}" >/dev/null
sleep 1

url=$(api POST $S/ports -d "{\"port\":$hp,\"name\":\"site\"}" | json url)
expect_status expose_201 201
echo "$url" | grep -Eq "^https://$hp-web-[0-9a-f]{16}\.localhost:$E2E_PORT/$" && pass expose_url_form ||
	fail expose_url_form "$url"
api GET $S/ports | grep -q "\"port\":$hp" && pass ports_list || fail ports_list
body=$(curl -sS --cacert "$E2E_CA" "${url}index.html")
[ "$body" = "preview works" ] && pass preview_http || fail preview_http "$body"
# a POST with a body passes through (the app answers 501 to POST: still its answer)
code=$(curl -s --cacert "$E2E_CA" -o /dev/null -w '%{http_code}' -d 'x=1' "$url")
[ "$code" = 501 ] && pass preview_post_passthrough || fail preview_post_passthrough "$code"
bad=$(echo "$url" | sed -E 's/-[0-9a-f]{16}\./-0000000000000000./')
code=$(curl -s --cacert "$E2E_CA" -o /dev/null -w '%{http_code}' "$bad")
[ "$code" = 404 ] && pass preview_wrong_token_404 || fail preview_wrong_token_404 "$code"
other=$(echo "$url" | sed -E "s/^https:\/\/$hp-/https:\/\/$wp-/")
code=$(curl -s --cacert "$E2E_CA" -o /dev/null -w '%{http_code}' "$other")
[ "$code" = 404 ] && pass preview_unexposed_port_404 || fail preview_unexposed_port_404 "$code"

wurl=$(api POST $S/ports -d "{\"port\":$wp}" | json url)
got=$(python3 "$SBX_SRC/tests/e2e/ws.py" client "$wurl" "$E2E_CA" hello 2>&1)
[ "$got" = "echo:hello" ] && pass preview_websocket || fail preview_websocket "$got"

api DELETE $S/ports/$hp >/dev/null; expect_status unexpose_200 200
code=$(curl -s --cacert "$E2E_CA" -o /dev/null -w '%{http_code}' "$url")
[ "$code" = 404 ] && pass preview_after_unexpose_404 || fail preview_after_unexpose_404 "$code"
api POST $S/ports -d '{"port":0}' >/dev/null; expect_status expose_bad_port_400 400
api DELETE $S/processes >/dev/null

exit ${CHECK_FAILED:-0}
