#!/bin/bash
# tests/sdk/js.sh: the JavaScript SDK (net/js) against a private sbxd with the
# host backend (microVMs with SBX_SDK_BACKEND=vm, see tests/vm/sdk_vm.sh):
# node --test runs tests/sdk/js/*.test.mjs; each top-level test becomes one
# PASS/FAIL/SKIP line named js_*.
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v node >/dev/null; then
	skip js_sdk "node is not installed"
	exit 0
fi
sdk_need js_sdk
sdk_start || { fail js_sdk_start "sbxd did not start: $(sdk_log)"; exit 1; }

sdk_node_test "$SDK_DIR/tap" "$SBX_SRC"/tests/sdk/js/*.test.mjs
sdk_tap js_ <"$SDK_DIR/tap"
# The details of failures, indented so the harness does not count them.
if grep -q '^not ok' "$SDK_DIR/tap"; then
	sed 's/^/    /' "$SDK_DIR/tap" | grep -v '^    ok' | head -n 200
fi
