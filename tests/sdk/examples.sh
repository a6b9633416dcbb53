#!/bin/bash
# tests/sdk/examples.sh: the seed guide's examples as ported in
# net/js/examples/, against a private sbxd with the host backend, or
# microVMs with SBX_SDK_BACKEND=vm (tests/sdk/examples/*.test.mjs under node
# --test; one line per test, named ex_*).
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v node >/dev/null; then
	skip examples "node is not installed"
	exit 0
fi
sdk_need examples
sdk_start || { fail examples_start "sbxd did not start: $(sdk_log)"; exit 1; }

sdk_node_test "$SDK_DIR/tap" "$SBX_SRC"/tests/sdk/examples/*.test.mjs
sdk_tap ex_ <"$SDK_DIR/tap"
if grep -q '^not ok' "$SDK_DIR/tap"; then
	sed 's/^/    /' "$SDK_DIR/tap" | grep -v '^    ok' | head -n 200
fi
