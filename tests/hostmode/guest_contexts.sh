#!/bin/bash
# tests/hostmode/guest_contexts.sh: code contexts of a host-mode sbx-init:
# python keeps state across runs and returns the last expression, reports
# errors with name/message/traceback; javascript supports top-level await
# and keeps state; list and delete.
. "$(dirname "$0")/lib/agent.sh"

if ! agent_start; then
	skip guest_contexts "$SKIP_ALL"
	exit 0
fi
O=$TDIR/out

# ctx_id LANG: creates a context and prints its id.
ctx_id() { cli ctx-create -l "$1" | sed -n 's/^CTX id=\([^ ]*\) .*/\1/p'; }

if command -v python3 >/dev/null; then
	PY=$(ctx_id python)
	cli ctx-run -I "$PY" -c 'x = 20
print("side", flush=True)
x + 1' >"$O" 2>/dev/null
	cli ctx-run -I "$PY" -c 'x * 2' >>"$O" 2>/dev/null
	if grep -q '^side$' "$O" && grep -q 'RESULT {"text": "21"}' "$O" && grep -q 'RESULT {"text": "40"}' "$O"; then
		pass ctx_python_state_and_result
	else fail ctx_python_state_and_result "$(cat "$O")"; fi

	cli ctx-run -I "$PY" -c 'def f():
    raise ValueError("bad value")
f()' >"$O" 2>/dev/null
	if grep -q 'CTX_ERROR {"name": "ValueError", "message": "bad value", "traceback": "Traceback.*line 2, in f' "$O" &&
		! grep -q python_runner "$O"; then pass ctx_python_error_traceback
	else fail ctx_python_error_traceback "$(cat "$O")"; fi

	cli ctx-run -I "$PY" -c '{"a": [1, 2]}' >"$O" 2>/dev/null
	if grep -q '"json": {"a": \[1, 2\]}' "$O"; then pass ctx_python_json_result
	else fail ctx_python_json_result "$(cat "$O")"; fi

	cli ctx-run -I "$PY" -t 500 -c 'import time
time.sleep(30)' >"$O" 2>&1; rc=$?
	cli ctx-run -I "$PY" -c 'x' >>"$O" 2>/dev/null
	if [ $rc = 3 ] && grep -q 'code=timeout' "$O" && grep -q 'RESULT {"text": "20"}' "$O"; then
		pass ctx_python_timeout_keeps_context
	else fail ctx_python_timeout_keeps_context "rc=$rc $(cat "$O")"; fi

	# Output streams while the code runs, not at its end.
	cli ctx-run -I "$PY" -c 'import time
print("a")
time.sleep(1.2)
print("b")' 2>/dev/null | while IFS= read -r l; do echo "$(date +%s%N) $l"; done >"$O"
	ta=$(awk '$2 == "a" { print $1 }' "$O"); tb=$(awk '$2 == "b" { print $1 }' "$O")
	if [ -n "$ta" ] && [ -n "$tb" ] && [ $(((tb - ta) / 1000000)) -ge 900 ]; then
		pass ctx_python_output_streams_live
	else fail ctx_python_output_streams_live "$(cat "$O")"; fi

	# Rich results: _repr_html_, and figures through a stand-in matplotlib
	# (the real one is not needed to test the runner's side).
	mkdir -p "$TDIR/py/matplotlib"
	touch "$TDIR/py/matplotlib/__init__.py"
	cat >"$TDIR/py/matplotlib/pyplot.py" <<'PY'
_figs = {}
class _Fig:
    def savefig(self, buf, format=None):
        buf.write(b"\x89PNG fake")
def figure(num=None):
    num = num or len(_figs) + 1
    return _figs.setdefault(num, _Fig())
def get_fignums():
    return sorted(_figs)
def close(which=None):
    _figs.clear()
PY
	PY2=$(cli ctx-create -l python -e "PYTHONPATH=$TDIR/py" | sed -n 's/^CTX id=\([^ ]*\) .*/\1/p')
	cli ctx-run -I "$PY2" -c 'import matplotlib.pyplot as plt
plt.figure()
class H:
    def _repr_html_(self):
        return "<b>hi</b>"
H()' >"$O" 2>/dev/null
	if grep -q '"html": "<b>hi</b>"' "$O" && grep -q '"png": "iVBORyBmYWtl"' "$O"; then
		pass ctx_python_rich_html_png
	else fail ctx_python_rich_html_png "$(cat "$O")"; fi
else
	skip ctx_python "no python3"
fi

if command -v node >/dev/null; then
	JS=$(ctx_id javascript)
	cli ctx-run -I "$JS" -c 'const v = await new Promise(r => setTimeout(() => r(7), 50));
console.log("got", v);
v * 6' >"$O" 2>/dev/null
	cli ctx-run -I "$JS" -c 'v + 1' >>"$O" 2>/dev/null
	if grep -q '^got 7$' "$O" && grep -q 'RESULT {"text":"42"}' "$O" && grep -q 'RESULT {"text":"8"}' "$O"; then
		pass ctx_js_top_level_await_state
	else fail ctx_js_top_level_await_state "$(cat "$O")"; fi

	cli ctx-run -I "$JS" -c 'null.x' >"$O" 2>/dev/null
	if grep -q 'CTX_ERROR {"name":"TypeError"' "$O"; then pass ctx_js_error
	else fail ctx_js_error "$(cat "$O")"; fi
else
	skip ctx_js "no node"
fi

n=$(cli ctx-list | grep -c '^CTX ')
if [ -n "${PY:-}" ] && cli ctx-delete -I "$PY" | grep -q '^OK' &&
	[ "$(cli ctx-list | grep -c '^CTX ')" = $((n - 1)) ] &&
	cli ctx-run -I "$PY" -c '1' 2>&1 | grep -q 'code=not_found'; then pass ctx_list_delete
else fail ctx_list_delete "n=$n"; fi

cli ctx-create -l cobol >"$O"
if grep -q 'code=unsupported' "$O"; then pass ctx_unknown_language
else fail ctx_unknown_language "$(cat "$O")"; fi

exit $CHECK_FAILED
