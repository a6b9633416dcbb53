#!/bin/bash
# tests/e2e/system_update.sh: POST /v1/system/update natively, with a
# stand-in update hook (the appliance tier runs the real one in a booted
# box). Operator tokens only; the image is streamed to the hook, whose last
# line is the answer: 202 when it succeeds, 422 when it fails, and 422 when
# it runs past --update-hook-timeout, killed with the children it started.
# A non-EFI body is 400, and sbxd keeps serving and takes the next update.
set -u
. "$(dirname "$0")/lib.sh"

[ -x "$SBX_BUILD/bin/sbxd" ] || { skip e2e_system_update "sbxd not built"; exit 0; }
W=$(mktemp -d /tmp/sbx-upd.XXXXXX)
done_all() {
	# the hook's child, should the test have failed while it ran
	[ -s "$W/child.pid" ] && kill -KILL "$(cat "$W/child.pid")" 2>/dev/null
	e2e_cleanup
	rm -rf "$W"
}
trap done_all EXIT
# The hook: what it does is read from $W/mode at each run.
cat >"$W/hook.sh" <<EOF
#!/bin/sh
sum=\$(sha256sum "\$1" | cut -c1-16)
case "\$(cat "$W/mode")" in
ok) echo "checked"; echo "staged image \$sum" ;;
fail) echo "signature does not verify"; exit 3 ;;
hang) echo "writing the ESP"; sleep 600 & echo \$! >"$W/child.pid"; wait ;;
esac
EOF
chmod +x "$W/hook.sh"
e2e_start --update-hook "$W/hook.sh" --update-hook-timeout 2 ||
	{ fail e2e_start "$(tail -5 "$E2E_DIR/sbxd.log")"; exit 1; }
trap done_all EXIT # e2e_start set its own
OP=$("$SBX_BUILD/bin/sbxd" token create --tenant ops --operator --state "$E2E_DIR/state")
printf 'MZ fake boot image\n' >"$W/image.efi"
head -c 100000 /dev/urandom >>"$W/image.efi"
want=$(sha256sum "$W/image.efi" | cut -c1-16)
update() { curl -sS --max-time 60 --cacert "$E2E_CA" -o "$E2E_DIR/body" -w '%{http_code}' \
	-H "Authorization: Bearer $1" --data-binary @"$2" "$E2E_URL/v1/system/update"; }

echo ok >"$W/mode"
[ "$(update "$E2E_TOKEN" "$W/image.efi")" = 403 ] && pass update_tenant_forbidden ||
	fail update_tenant_forbidden "$(cat "$E2E_DIR/body")"
code=$(update "$OP" "$W/image.efi")
[ "$code" = 202 ] && grep -q "staged image $want" "$E2E_DIR/body" && pass update_hook_ok ||
	fail update_hook_ok "$code $(cat "$E2E_DIR/body")"

echo fail >"$W/mode"
code=$(update "$OP" "$W/image.efi")
[ "$code" = 422 ] && grep -q "signature does not verify" "$E2E_DIR/body" &&
	pass update_hook_fails_422 || fail update_hook_fails_422 "$code $(cat "$E2E_DIR/body")"

echo hang >"$W/mode"
code=$(update "$OP" "$W/image.efi")
[ "$code" = 422 ] && grep -q "did not finish within 2 s.*writing the ESP" "$E2E_DIR/body" &&
	pass update_hook_timeout_422 || fail update_hook_timeout_422 "$code $(cat "$E2E_DIR/body")"
child=$(cat "$W/child.pid" 2>/dev/null)
for _ in $(seq 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
[ -n "$child" ] && ! kill -0 "$child" 2>/dev/null && pass update_hook_children_killed ||
	fail update_hook_children_killed "its child '$child' still runs"

echo ok >"$W/mode"
printf 'ELF not an EFI image' >"$W/bad.bin"
[ "$(update "$OP" "$W/bad.bin")" = 400 ] && pass update_not_efi_400 ||
	fail update_not_efi_400 "$(cat "$E2E_DIR/body")"
code=$(update "$OP" "$W/image.efi")
[ "$code" = 202 ] && pass update_after_timeout_accepted ||
	fail update_after_timeout_accepted "$code $(cat "$E2E_DIR/body")"
still_serving update_still_serving
exit ${CHECK_FAILED:-0}
