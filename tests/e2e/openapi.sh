#!/bin/bash
# tests/e2e/openapi.sh: every path and method of net/openapi.yaml is routed
# by sbxd (never "no such endpoint" nor 405), and undocumented ones are not.
set -u
. "$(dirname "$0")/lib.sh"

if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
	skip e2e_openapi "sbxd or sbx-init not built"
	exit 0
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	skip e2e_openapi "python3-yaml missing"
	exit 0
fi
e2e_start || { fail e2e_start "sbxd did not start"; exit 1; }
api PUT /v1/sandboxes/oa >/dev/null
python3 - "$SBX_SRC/net/openapi.yaml" "$E2E_PORT" "$E2E_CA" "$E2E_TOKEN" <<'PY'
import http.client, json, ssl, sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
port, ca, token = int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
sample = {"id": "oa", "path": "workspace/oa.txt", "pid": "nope", "ctx": "nope", "port": "9"}
ok = True
for path, item in spec["paths"].items():
    url = path
    for k, v in sample.items():
        url = url.replace("{%s}" % k, v)
    for method in ("get", "put", "post", "patch", "delete", "head"):
        if method not in item:
            continue
        c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
        body = None
        headers = {"Authorization": "Bearer " + token}
        if method in ("post", "put", "patch"):
            body = "{}" if "files" not in url else "x"
        q = "?op=mkdir" if ("files" in url and method == "post") else ""
        c.request(method.upper(), url + q, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        name = "openapi_%s_%s" % (method, path.strip("/").replace("/", "_").replace("{", "").replace("}", ""))
        routed = r.status != 405 and b"no such endpoint" not in data
        print(("PASS %s" % name) if routed else ("FAIL %s: %d %s" % (name, r.status, data[:200])))
        ok = ok and routed
PY
api GET /v1/sandboxes/oa/undocumented >/dev/null; expect_status openapi_undocumented_404 404
exit ${CHECK_FAILED:-0}
