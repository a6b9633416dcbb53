# guest/runners/python_runner.py: the python code-context runner.
#
# sbx-init starts one per context and talks to it (guest/contexts.c):
#   fd 0   requests: "RUN <n>\n" then n bytes of UTF-8 code
#   fd 1,2 the user code's own output, unbuffered, streamed live
#   fd 3   control lines: "ready", "result <json>", "error <json>", "done"
# State (one globals dict) lives as long as the process. The value of a
# trailing expression becomes a result with text/html/png/json forms where
# the value offers them; matplotlib figures left open become png results.
# SIGINT (a timeout or a cancel) interrupts the run as KeyboardInterrupt.
import ast
import base64
import io
import json
import os
import sys
import traceback

requests = os.fdopen(os.dup(0), "rb", buffering=0)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.set_inheritable(3, False)
control = os.fdopen(3, "w", buffering=1, encoding="utf-8")
user_globals = {"__name__": "__main__", "__builtins__": __builtins__}


def emit(kind, obj=None):
    sys.stdout.flush()
    sys.stderr.flush()
    line = kind if obj is None else kind + " " + json.dumps(obj)
    control.write(line + "\n")
    control.flush()


def rich(value):
    out = {"text": repr(value)}
    for method, key in (("_repr_html_", "html"), ("_repr_png_", "png"),
                        ("_repr_json_", "json"), ("_repr_markdown_", "markdown"),
                        ("_repr_svg_", "svg")):
        fn = getattr(value, method, None)
        if not callable(fn):
            continue
        try:
            data = fn()
        except Exception:
            continue
        if data is None:
            continue
        if key == "png" and isinstance(data, bytes):
            data = base64.b64encode(data).decode("ascii")
        out[key] = data
    if isinstance(value, (dict, list)) and "json" not in out:
        try:
            json.dumps(value)
            out["json"] = value
        except (TypeError, ValueError):
            pass
    return out


def figures():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    for num in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(num).savefig(buf, format="png")
        emit("result", {"png": base64.b64encode(buf.getvalue()).decode("ascii"),
                        "text": "<Figure %d>" % num})
    plt.close("all")


def run(code):
    tree = ast.parse(code, "<cell>", "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<cell>", "exec"), user_globals)
    if last is not None:
        value = eval(compile(last, "<cell>", "eval"), user_globals)
        if value is not None:
            user_globals["_"] = value
            emit("result", rich(value))
    figures()


def report(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next  # the runner's own frames are noise to the user
    tb = "".join(traceback.format_exception(type(exc), exc, tb))
    emit("error", {"name": type(exc).__name__, "message": str(exc),
                   "traceback": tb})


def read_request():
    line = b""
    while not line.endswith(b"\n"):
        ch = requests.read(1)
        if not ch:
            return None
        line += ch
    n = int(line.split()[1])
    data = b""
    while len(data) < n:
        chunk = requests.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data.decode("utf-8", "replace")


def main():
    os.environ.setdefault("MPLBACKEND", "Agg")
    emit("ready")
    while True:
        try:
            code = read_request()
        except KeyboardInterrupt:
            continue
        if code is None:
            return
        try:
            run(code)
        except BaseException as exc:  # noqa: B902 - user code may raise anything
            if isinstance(exc, SystemExit) and not exc.code:
                pass
            else:
                report(exc)
        emit("done")


main()
