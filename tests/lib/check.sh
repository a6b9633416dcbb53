# tests/lib/check.sh: the shell side of the test helper (source it).
# Prints the lines the harness counts: PASS name | FAIL name | SKIP name: reason.

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; CHECK_FAILED=1; }
skip() { echo "SKIP $1: $2"; }

# check NAME CMD...: runs CMD, PASS when it exits 0.
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}
