#!/bin/bash
# tests/sdk/cli.sh: the `sbx` command line driven from a shell against a
# private sbxd (host backend): help and usage exits, login and its config
# file, the pin, exit codes, streaming, cp of 50 MiB compared by sha256,
# --json parsed by python3, processes, ports and preview URLs, tokens.
# With SBX_SDK_BACKEND=vm (tests/vm/sdk_vm.sh) the checks that need a VM of
# their own besides the test's sandbox SKIP: each boot is slow under
# emulation, and what they check does not depend on the backend.
set -u
. "$(dirname "$0")/lib.sh"

sdk_need cli sbx
sdk_start || { fail cli_start "sbxd did not start: $(sdk_log)"; exit 1; }
SBX=$SBX_BUILD/bin/sbx
D=$SDK_DIR
ID=cli-$$

# ok NAME CMD...: PASS when CMD exits 0.
# (A failure quotes the tail of sbxd's log too.)
ok() { local n=$1; shift; if "$@" >"$D/out" 2>"$D/err"; then pass "$n"; else fail "$n" "exit $?: $(head -c 300 "$D/err"); sbxd: $(sdk_log)"; fi; }
# rc_is NAME WANT CMD...: PASS when CMD exits WANT.
rc_is() {
	local n=$1 want=$2 rc
	shift 2
	"$@" >"$D/out" 2>"$D/err"
	rc=$?
	if [ "$rc" = "$want" ]; then pass "$n"; else fail "$n" "exit $rc, want $want: $(head -c 300 "$D/err")"; fi
}
# has NAME FILE TEXT: PASS when FILE holds TEXT.
has() { if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "no '$3' in: $(head -c 300 "$2")"; fi; }
one_line_error() {
	if [ "$(wc -l <"$D/err")" = 1 ] && grep -q '^sbx: ' "$D/err"; then pass "$1"; else fail "$1" "stderr: $(head -c 300 "$D/err")"; fi
}
is_json() { if python3 -m json.tool "$2" >/dev/null 2>&1; then pass "$1"; else fail "$1" "not JSON: $(head -c 300 "$2")"; fi; }

# --- help and usage -------------------------------------------------------
ok help "$SBX" --help
bad=
for c in login ls create rm exec run cp start ps logs kill ports token; do
	"$SBX" "$c" --help >"$D/out" 2>&1 && grep -q "^usage: sbx $c" "$D/out" || bad="$bad $c"
done
[ -z "$bad" ] && pass help_every_command || fail help_every_command "no help for:$bad"
rc_is unknown_command_2 2 "$SBX" frobnicate
rc_is bad_usage_2 2 "$SBX" exec
rc_is ports_bad_usage_2 2 "$SBX" ports a b

# --- login and the config file -------------------------------------------
SAVE_URL=$SBX_URL SAVE_TOKEN=$SBX_TOKEN SAVE_FP=$SBX_FINGERPRINT
unset SBX_URL SBX_TOKEN SBX_FINGERPRINT SBX_CA
rc_is no_config_1 1 "$SBX" ls
one_line_error no_config_one_line
rc_is login_bad_token 1 "$SBX" login "$SAVE_URL" --token sbx_nope --fingerprint "$SAVE_FP"
has login_bad_token_says_why "$D/err" unauthorized
[ ! -e "$SBX_CONFIG" ] && pass login_bad_token_no_config || fail login_bad_token_no_config
wrong_fp=$(echo "$SAVE_FP" | sed 's/^../00/')
[ "$wrong_fp" = "$SAVE_FP" ] && wrong_fp=$(echo "$SAVE_FP" | sed 's/^../11/')
rc_is login_wrong_pin_refused 1 "$SBX" login "$SAVE_URL" --token "$SAVE_TOKEN" --fingerprint "$wrong_fp"
has login_wrong_pin_says_why "$D/err" fingerprint
rc_is login_untrusted_refused 1 "$SBX" login "https://localhost:$SDK_PORT" --token "$SAVE_TOKEN"
ok login_with_ca "$SBX" login "https://localhost:$SDK_PORT" --token "$SAVE_TOKEN" --ca "$SDK_DIR/state/tls/cert.pem"
ok ls_with_ca "$SBX" ls
ok login "$SBX" login "$SAVE_URL" --token "$SAVE_TOKEN" --fingerprint "$SAVE_FP"
[ "$(stat -c %a "$SBX_CONFIG")" = 600 ] && pass config_mode_600 || fail config_mode_600 "$(stat -c %a "$SBX_CONFIG")"
has config_has_pin "$SBX_CONFIG" "fingerprint = $(echo "$SAVE_FP" | tr -d : | tr A-F a-f)"
mkdir -p "$D/h2"
if env -u SBX_CONFIG -u XDG_CONFIG_HOME HOME="$D/h2" "$SBX" login "$SAVE_URL" --token "$SAVE_TOKEN" --fingerprint "$SAVE_FP" >/dev/null 2>&1 &&
	[ "$(stat -c %a "$D/h2/.config/sbx/config")" = 600 ] && [ "$(stat -c %a "$D/h2/.config/sbx")" = 700 ] &&
	env -u SBX_CONFIG -u XDG_CONFIG_HOME HOME="$D/h2" "$SBX" ls >/dev/null 2>&1; then
	pass login_default_path
else
	fail login_default_path "$(ls -la "$D/h2/.config/sbx" 2>&1)"
fi
# The pin needs no CA store: a box without /etc/ssl (the appliance) works.
if unshare -m true 2>/dev/null; then
	ok pin_without_ca_store unshare -m sh -c 'mount -t tmpfs none /etc/ssl && exec "$@"' sh "$SBX" ls
else
	skip pin_without_ca_store "unshare -m is not allowed here"
fi
# A preview-style host name gets a leaf signed by the pinned certificate.
SBX_URL="https://pin-check.localhost:$SDK_PORT" ok pin_by_signing_cert "$SBX" ls

# --- sandboxes --------------------------------------------------------------
ok create "$SBX" create "$ID" --env GREETING=hello
has create_says_created "$D/out" created
ok ls "$SBX" ls
has ls_lists "$D/out" "$ID"
ok ls_json "$SBX" ls --json
is_json ls_json_valid "$D/out"
python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); assert any(s["id"]==sys.argv[2] for s in l)' "$D/out" "$ID" &&
	pass ls_json_has_id || fail ls_json_has_id

# --- exec ------------------------------------------------------------------
rc_is exec_exit_code 3 "$SBX" exec "$ID" -- 'echo out; echo err >&2; exit 3'
[ "$(cat "$D/out")" = out ] && [ "$(cat "$D/err")" = err ] && pass exec_streams_split ||
	fail exec_streams_split "out=$(cat "$D/out") err=$(cat "$D/err")"
ok exec_env_from_create "$SBX" exec "$ID" -- 'echo $GREETING'
[ "$(cat "$D/out")" = hello ] && pass exec_env_value || fail exec_env_value "$(cat "$D/out")"
ok exec_opts "$SBX" exec "$ID" --env A=1 --cwd /workspace -- 'echo $A'
[ "$(cat "$D/out")" = 1 ] && pass exec_opts_value || fail exec_opts_value "$(cat "$D/out")"
ok exec_argv_quoting "$SBX" exec "$ID" -- printf '%s|' "a b" "it's" '$HOME'
[ "$(cat "$D/out")" = 'a b|it'"'"'s|$HOME|' ] && pass exec_argv_value || fail exec_argv_value "$(cat "$D/out")"
rc_is exec_timeout_124 124 "$SBX" exec "$ID" --timeout 300 -- sleep 5
one_line_error exec_timeout_one_line
rc_is exec_signal_exit 137 "$SBX" exec "$ID" -- 'kill -9 $$'
# Streaming: the first line arrives while the command still runs.
"$SBX" exec "$ID" -- 'echo first; sleep 2; echo second' 2>/dev/null |
	while IFS= read -r line; do echo "$(date +%s%N) $line"; done >"$D/timed"
t1=$(awk '$2=="first"{print $1}' "$D/timed"); t2=$(awk '$2=="second"{print $1}' "$D/timed")
if [ -n "$t1" ] && [ -n "$t2" ] && [ $(((t2 - t1) / 1000000)) -ge 1500 ]; then
	pass exec_streams_live
else
	fail exec_streams_live "$(cat "$D/timed")"
fi
# vm_skip NAME...: SKIP (true) in the vm run: the check needs another VM.
vm_skip() {
	[ "${SBX_SDK_BACKEND:-host}" = vm ] || return 1
	local n
	for n in "$@"; do skip "$n" "needs another VM boot; checked by the native run"; done
}
if ! vm_skip exec_creates_sandbox rm_auto; then
	ok exec_creates_sandbox "$SBX" exec "$ID-auto" -- true
	ok rm_auto "$SBX" rm "$ID-auto"
fi

# --- run --------------------------------------------------------------------
printf 'print(sum([1, 2, 3, 4, 5]))\n' >"$D/code.py"
ok run_python "$SBX" run "$ID" --lang python "$D/code.py"
[ "$(cat "$D/out")" = 15 ] && pass run_python_15 || fail run_python_15 "$(cat "$D/out")"
echo 'x = 6 * 7
x' | "$SBX" run "$ID" --lang python - >"$D/out" 2>"$D/err" && [ "$(cat "$D/out")" = 42 ] &&
	pass run_stdin_result || fail run_stdin_result "$(cat "$D/out" "$D/err")"
echo 'console.log([1, 2, 3].map((x) => x * 2).join(","))' | "$SBX" run "$ID" --lang javascript - >"$D/out" 2>"$D/err" &&
	[ "$(cat "$D/out")" = 2,4,6 ] && pass run_javascript || fail run_javascript "$(cat "$D/out" "$D/err")"
echo 'print(1)' | rc_is run_bad_lang_1 1 "$SBX" run "$ID" --lang cobol -
one_line_error run_bad_lang_one_line
echo '1/0' >"$D/bad.py"
rc_is run_error_exit_1 1 "$SBX" run "$ID" "$D/bad.py"
has run_error_traceback "$D/err" ZeroDivisionError

echo 'import time
time.sleep(5)' >"$D/slow.py"
rc_is run_timeout_124 124 "$SBX" run "$ID" --timeout 300 "$D/slow.py"
[ "$(grep -c '^sbx: ' "$D/err")" = 1 ] && tail -1 "$D/err" | grep -q '(timeout)' && pass run_timeout_says_so ||
	fail run_timeout_says_so "$(head -c 300 "$D/err")"

# --- cp ---------------------------------------------------------------------
head -c $((50 * 1024 * 1024)) /dev/urandom >"$D/big"
ok cp_upload_50mib "$SBX" cp "$D/big" "$ID:/workspace/data/big.bin"
[ ! -s "$D/err" ] && pass cp_no_progress_without_tty || fail cp_no_progress_without_tty "$(head -c 200 "$D/err")"
ok cp_download_50mib "$SBX" cp "$ID:/workspace/data/big.bin" "$D/big.back"
a=$(sha256sum <"$D/big" | cut -d' ' -f1); b=$(sha256sum <"$D/big.back" | cut -d' ' -f1)
[ "$a" = "$b" ] && pass cp_sha256_equal || fail cp_sha256_equal "$a vs $b"
mkdir -p "$D/dir"
ok cp_into_dir "$SBX" cp "$ID:/workspace/data/big.bin" "$D/dir"
[ -f "$D/dir/big.bin" ] && pass cp_into_dir_name || fail cp_into_dir_name
echo "from stdin" | "$SBX" cp - "$ID:/workspace/stdin.txt" && "$SBX" cp "$ID:/workspace/stdin.txt" - >"$D/out" &&
	[ "$(cat "$D/out")" = "from stdin" ] && pass cp_stdin_stdout || fail cp_stdin_stdout "$(cat "$D/out")"
rc_is cp_missing_1 1 "$SBX" cp "$ID:/workspace/nope" "$D/nope"
one_line_error cp_missing_one_line
[ ! -e "$D/nope" ] && [ ! -e "$D/nope.sbx-part" ] && pass cp_missing_leaves_nothing || fail cp_missing_leaves_nothing
if command -v script >/dev/null; then
	# A smaller file does: the bar is drawn as the bytes go, and ends at 100%.
	head -c $((4 * 1024 * 1024)) "$D/big" >"$D/tty.bin"
	script -qec "$SBX cp $D/tty.bin $ID:/workspace/tty.bin" /dev/null >"$D/tty" 2>&1
	if grep -q '100%' "$D/tty"; then pass cp_progress_on_tty; else fail cp_progress_on_tty "$(head -c 200 "$D/tty")"; fi
else
	skip cp_progress_on_tty "no script(1) to make a terminal"
fi

# --- processes --------------------------------------------------------------
ok start "$SBX" start "$ID" --id ticker -- 'for i in 1 2 3; do echo tick$i; sleep 0.3; done; exit 6'
[ "$(cat "$D/out")" = ticker ] && pass start_prints_id || fail start_prints_id "$(cat "$D/out")"
ok ps "$SBX" ps "$ID"
has ps_lists "$D/out" ticker
ok ps_json "$SBX" ps "$ID" --json
is_json ps_json_valid "$D/out"
rc_is logs_follow_exit 6 "$SBX" logs -f "$ID" ticker
[ "$(cat "$D/out")" = "$(printf 'tick1\ntick2\ntick3')" ] && pass logs_follow_output || fail logs_follow_output "$(cat "$D/out")"
ok logs "$SBX" logs "$ID" ticker
has logs_output "$D/out" tick3
ok logs_json "$SBX" logs "$ID" ticker --json
is_json logs_json_valid "$D/out"
ok start_sleeper "$SBX" start "$ID" --id sleeper -- sleep 60
ok kill "$SBX" kill "$ID" sleeper
sleep 0.3
"$SBX" ps "$ID" --json >"$D/out" 2>/dev/null
python3 -c 'import json,sys; p=[x for x in json.load(open(sys.argv[1])) if x["id"]=="sleeper"][0]; assert p["status"]!="running", p' "$D/out" &&
	pass kill_stopped || fail kill_stopped "$(cat "$D/out")"
ok start_sleeper2 "$SBX" start "$ID" --id sleeper2 -- sleep 60
ok kill_signal "$SBX" kill -s KILL "$ID" sleeper2
sleep 0.3
"$SBX" ps "$ID" --json >"$D/out" 2>/dev/null
python3 -c 'import json,sys; p=[x for x in json.load(open(sys.argv[1])) if x["id"]=="sleeper2"][0]; assert p.get("signal")==9, p' "$D/out" &&
	pass kill_signal_9 || fail kill_signal_9 "$(cat "$D/out")"
rc_is kill_bad_signal 1 "$SBX" kill -s NOPE "$ID" sleeper2
rc_is logs_unknown_1 1 "$SBX" logs "$ID" no-such
one_line_error logs_unknown_one_line

# --- ports ------------------------------------------------------------------
PPORT=$(sdk_free_port)
ok start_web "$SBX" start "$ID" --id web -- python3 -m http.server "$PPORT" --bind 127.0.0.1
for _ in $(seq 50); do
	"$SBX" exec "$ID" -- "bash -c '</dev/tcp/127.0.0.1/$PPORT'" >/dev/null 2>&1 && break
	sleep 0.1
done
ok ports_expose "$SBX" ports "$ID" expose "$PPORT"
URL=$(cat "$D/out")
case $URL in
https://"$PPORT"-"$ID"-*.localhost:"$SDK_PORT"/) pass ports_expose_url ;;
*) fail ports_expose_url "$URL" ;;
esac
"$SBX" cp - "$ID:/workspace/hello.html" <<<"hello preview" >/dev/null 2>&1
if curl -s --cacert "$SDK_DIR/state/tls/cert.pem" "${URL}hello.html" >"$D/page" 2>"$D/err" && grep -q 'hello preview' "$D/page"; then
	pass preview_url_serves
else
	fail preview_url_serves "$(head -c 200 "$D/page" "$D/err")"
fi
ok ports_list "$SBX" ports "$ID"
has ports_list_url "$D/out" "$URL"
ok ports_json "$SBX" ports "$ID" --json
is_json ports_json_valid "$D/out"
ok ports_unexpose "$SBX" ports "$ID" unexpose "$PPORT"
ok kill_all "$SBX" kill "$ID" --all

# --- tokens (operators, on the box) ---------------------------------------
ok token_create "$SBX" token create other --state "$SDK_DIR/state"
OTHER=$(tail -1 "$D/out")
case $OTHER in sbx_*) pass token_printed ;; *) fail token_printed "$OTHER" ;; esac
SBX_TOKEN=$OTHER ok other_tenant_ls "$SBX" ls --json
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))==[]' "$D/out" && pass tenant_isolated || fail tenant_isolated "$(cat "$D/out")"
SBX_TOKEN=$OTHER rc_is other_tenant_404 1 "$SBX" rm "$ID"
has other_tenant_not_found "$D/err" not_found
ok token_list "$SBX" token list --state "$SDK_DIR/state"
has token_list_tenant "$D/out" other
ok token_create_flag "$SBX" token create --tenant third --operator --state "$SDK_DIR/state"
ok token_list_json "$SBX" token list --json --state "$SDK_DIR/state"
python3 -c 'import json,sys
l = json.load(open(sys.argv[1]))
roles = {t["tenant"]: t["role"] for t in l}
assert roles["other"] == "tenant" and roles["third"] == "operator", roles
assert all(set(t) == {"id", "tenant", "created", "role"} for t in l), l' "$D/out" &&
	pass token_list_json_parsed || fail token_list_json_parsed "$(head -c 300 "$D/out")"
rc_is token_list_no_store_1 1 "$SBX" token list --json --state "$D/no-such-state"
one_line_error token_list_no_store_one_line

# --- rm -----------------------------------------------------------------------
ok rm "$SBX" rm "$ID"
"$SBX" ls >"$D/out" 2>&1
if grep -q "$ID" "$D/out"; then fail rm_gone "$(cat "$D/out")"; else pass rm_gone; fi
rc_is rm_unknown_1 1 "$SBX" rm "$ID"
one_line_error rm_unknown_one_line

# --- a slow reader of a large streamed output gets every byte ---------------
# (sbxd holds the command back while the client's queue is full)
if ! vm_skip exec_slow_reader_all_bytes; then
	want=$(head -c 30000000 /dev/zero | base64 -w 100 | wc -c)
	got=$("$SBX" exec "$ID-big" -- 'head -c 30000000 /dev/zero | base64 -w 100' 2>"$D/err" | (sleep 2; wc -c))
	if [ "$got" = "$want" ] && [ ! -s "$D/err" ]; then pass exec_slow_reader_all_bytes; else fail exec_slow_reader_all_bytes "got $got of $want bytes: $(head -c 200 "$D/err")"; fi
fi

# --- a server that goes away mid-command is an error, never exit 0 ---------
vm_skip exec_server_gone_not_0 && exit 0
"$SBX" exec "$ID-last" -- 'echo started; sleep 20' >"$D/out" 2>"$D/err" &
exec_pid=$!
sdk_track "$exec_pid"
for _ in $(seq 50); do grep -q started "$D/out" && break; sleep 0.1; done
kill "$SDK_PID"
wait "$SDK_PID" 2>/dev/null
SDK_PID=
wait "$exec_pid"
rc=$?
if [ "$rc" != 0 ] && grep -q '^sbx: ' "$D/err"; then pass exec_server_gone_not_0; else fail exec_server_gone_not_0 "exit $rc: $(cat "$D/err")"; fi
