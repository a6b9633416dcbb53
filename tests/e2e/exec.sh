#!/bin/bash
# tests/e2e/exec.sh: exec (JSON and SSE), timeouts, background processes and
# their logs, code contexts (the seed guide's first example), git checkout,
# and an agent crash in the middle of a request.
set -u
. "$(dirname "$0")/lib.sh"

if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
	skip e2e_exec "sbxd or sbx-init not built"
	exit 0
fi
e2e_start || { fail e2e_start "sbxd did not start"; exit 1; }
S=/v1/sandboxes/ex
api PUT $S -d '{"env":{"FOO":"bar"}}' >/dev/null

out=$(api POST $S/exec -d '{"command":"echo hi $FOO $X; echo oops >&2; exit 3","env":{"X":"y"}}')
[ "$(echo "$out" | json stdout)" = "hi bar y" ] && pass exec_stdout_env || fail exec_stdout_env "$out"
[ "$(echo "$out" | json stderr)" = "oops" ] && pass exec_stderr || fail exec_stderr "$out"
[ "$(echo "$out" | json exitCode)" = 3 ] && [ "$(echo "$out" | json success)" = false ] &&
	pass exec_exit_code || fail exec_exit_code "$out"
echo "$out" | json timestamp | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' && pass exec_iso_timestamp ||
	fail exec_iso_timestamp
api POST $S/files/workspace/sub?op=mkdir >/dev/null
[ "$(api POST $S/exec -d '{"command":"pwd","cwd":"sub"}' | json stdout | xargs basename)" = sub ] &&
	pass exec_cwd || fail exec_cwd
api POST $S/exec -d '{"command":"sleep 10","timeout":300}' >/dev/null
expect_status exec_timeout_504 504
[ "$(json timedOut <"$E2E_DIR/body")" = true ] && [ "$(json exitCode <"$E2E_DIR/body")" != 0 ] &&
	pass exec_timeout_not_zero || fail exec_timeout_not_zero "$(cat "$E2E_DIR/body")"
api POST $S/exec -d '{"cmd":"x"}' >/dev/null; expect_status exec_missing_command_400 400
[ "$(api POST $S/exec -d '{"command":"printf \"\\377ok\""}' | json stdout)" = $'\ufffdok' ] &&
	pass exec_non_utf8_output || fail exec_non_utf8_output "$(cat "$E2E_DIR/body")"

# SSE: output arrives while the command still runs.
python3 "$SBX_SRC/tests/e2e/sse.py" "$E2E_URL$S/exec" "$E2E_CA" "$E2E_TOKEN" \
	'{"command":"echo first; sleep 2; echo second"}' >"$E2E_DIR/sse" 2>&1
t_first=$(awk '$2 == "stdout" && /first/ { print $1; exit }' "$E2E_DIR/sse")
t_done=$(awk '$2 == "complete" { print $1 }' "$E2E_DIR/sse")
if [ -n "$t_first" ] && [ -n "$t_done" ] && [ $((t_done - t_first)) -ge 1500 ]; then
	pass exec_sse_streams_before_end
else
	fail exec_sse_streams_before_end "$(cat "$E2E_DIR/sse")"
fi
grep -q ' start ' "$E2E_DIR/sse" && grep -q '"exitCode":0' "$E2E_DIR/sse" && pass exec_sse_events ||
	fail exec_sse_events
python3 "$SBX_SRC/tests/e2e/sse.py" "$E2E_URL$S/exec" "$E2E_CA" "$E2E_TOKEN" \
	'{"command":"printf \"\\342\\202\"; sleep 0.3; printf \"\\254\\n\""}' >"$E2E_DIR/sse" 2>&1
got=$(awk '$2 == "stdout"' "$E2E_DIR/sse" | cut -d' ' -f3- | python3 -c '
import json, sys
print("".join(json.loads(l)["data"] for l in sys.stdin), end="")')
[ "$got" = "€" ] && pass exec_sse_utf8_split_across_frames || fail exec_sse_utf8_split_across_frames "$(cat "$E2E_DIR/sse")"
python3 "$SBX_SRC/tests/e2e/sse.py" "$E2E_URL$S/exec" "$E2E_CA" "$E2E_TOKEN" \
	'{"command":"sleep 5","timeout":300}' >"$E2E_DIR/sse" 2>&1
grep -q ' error .*"timedOut":true' "$E2E_DIR/sse" && ! grep -q complete "$E2E_DIR/sse" &&
	pass exec_sse_timeout_is_error || fail exec_sse_timeout_is_error "$(cat "$E2E_DIR/sse")"

# Background processes.
api POST $S/processes -d '{"command":"echo started; sleep 30","processId":"bg"}' >/dev/null
expect_status proc_start 201
api POST $S/processes -d '{"command":"sleep 1","processId":"bg"}' >/dev/null
expect_status proc_duplicate_409 409
api GET $S/processes | grep -q '"id":"bg"' && pass proc_list || fail proc_list
[ "$(api GET $S/processes/bg | json status)" = running ] && pass proc_get || fail proc_get
sleep 0.3
[ "$(api GET $S/processes/bg/logs | json stdout)" = started ] && pass proc_logs || fail proc_logs
api POST $S/processes -d '{"command":"for i in 1 2 3; do echo tick$i; sleep 0.5; done","processId":"ticker"}' >/dev/null
python3 "$SBX_SRC/tests/e2e/sse.py" "$E2E_URL$S/processes/ticker/logs" "$E2E_CA" "$E2E_TOKEN" \
	>"$E2E_DIR/sse" 2>&1
grep -q tick3 "$E2E_DIR/sse" && grep -q ' exit ' "$E2E_DIR/sse" && pass proc_logs_follow_sse ||
	fail proc_logs_follow_sse "$(cat "$E2E_DIR/sse")"
api DELETE "$S/processes/bg?signal=SIGKILL" >/dev/null; expect_status proc_kill 200
sleep 0.2
[ "$(api GET $S/processes/bg | json signal)" = 9 ] && pass proc_killed_status || fail proc_killed_status "$(cat "$E2E_DIR/body")"
api POST $S/processes -d '{"command":"sleep 30"}' >/dev/null
api DELETE $S/processes >/dev/null; expect_status proc_kill_all 200
api GET $S/processes/nope >/dev/null; expect_status proc_unknown_404 404

# Code contexts: the seed guide's first example, state between runs, streaming.
out=$(api POST $S/code -d '{"code":"print(sum([1, 2, 3, 4, 5]))","language":"python"}')
if [ "$(echo "$out" | python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["output"]))')" = "'15\\n'" ]; then
	pass code_seed_example_15
elif echo "$out" | grep -q unsupported; then
	skip code_seed_example_15 "no python runner: $out"
else
	fail code_seed_example_15 "$out"
fi
ctx=$(api POST $S/contexts -d '{"language":"python"}' | json id)
[ "$(status)" = 201 ] && pass ctx_create || fail ctx_create "$(cat "$E2E_DIR/body")"
api POST $S/code -d "{\"code\":\"x = 41\",\"context\":\"$ctx\"}" >/dev/null
[ "$(api POST $S/code -d "{\"code\":\"print(x + 1)\",\"context\":\"$ctx\"}" | json output)" = 42 ] &&
	pass ctx_state_kept || fail ctx_state_kept "$(cat "$E2E_DIR/body")"
api POST $S/code -d "{\"code\":\"1/0\",\"context\":\"$ctx\"}" | grep -q ZeroDivisionError &&
	pass code_error_reported || fail code_error_reported "$(cat "$E2E_DIR/body")"
python3 "$SBX_SRC/tests/e2e/sse.py" "$E2E_URL$S/code" "$E2E_CA" "$E2E_TOKEN" \
	"{\"code\":\"import time\\nprint('a', flush=True)\\ntime.sleep(1.5)\\nprint('b')\",\"context\":\"$ctx\"}" >"$E2E_DIR/sse"
t_a=$(awk '$2 == "stdout" && /"a/ { print $1; exit }' "$E2E_DIR/sse")
t_c=$(awk '$2 == "complete" { print $1 }' "$E2E_DIR/sse")
[ -n "$t_a" ] && [ -n "$t_c" ] && [ $((t_c - t_a)) -ge 1000 ] && pass code_sse_streams ||
	fail code_sse_streams "$(cat "$E2E_DIR/sse")"
api GET $S/contexts | grep -q "\"$ctx\"" && pass ctx_list || fail ctx_list
api DELETE $S/contexts/$ctx >/dev/null; expect_status ctx_delete 200
api POST $S/code -d "{\"code\":\"1\",\"context\":\"$ctx\"}" >/dev/null; expect_status ctx_deleted_404 404

# git checkout from a local repository.
if command -v git >/dev/null; then
	repo="$E2E_DIR/repo"
	git init -q "$repo" && echo readme >"$repo/README" &&
		git -C "$repo" -c user.email=t@t -c user.name=t add README &&
		git -C "$repo" -c user.email=t@t -c user.name=t commit -qm init
	api POST $S/git/checkout -d "{\"repoUrl\":\"file://$repo\",\"targetDir\":\"cloned\"}" >/dev/null
	expect_status git_checkout 200
	[ "$(api GET $S/files/workspace/cloned/README)" = readme ] && pass git_checkout_files ||
		fail git_checkout_files
else
	skip git_checkout "no git"
fi

# The sandbox runtime dies during a request: 503 (or SSE error), then it boots again.
python3 "$SBX_SRC/tests/e2e/sse.py" "$E2E_URL$S/exec" "$E2E_CA" "$E2E_TOKEN" \
	'{"command":"echo before; sleep 20"}' >"$E2E_DIR/sse" 2>&1 &
ssepid=$!
sleep 1
agent=$(pgrep -f "sbx-init --host --listen $E2E_DIR/" | head -1)
[ -n "$agent" ] && kill -9 "$agent"
wait $ssepid
grep -q ' error .*unavailable' "$E2E_DIR/sse" && pass crash_sse_error ||
	fail crash_sse_error "$(cat "$E2E_DIR/sse")"
[ "$(api POST $S/exec -d '{"command":"echo back"}' | json stdout)" = back ] && pass crash_next_boots ||
	fail crash_next_boots "$(cat "$E2E_DIR/body")"

exit ${CHECK_FAILED:-0}
