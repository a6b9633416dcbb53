# shellcheck shell=bash
# tests/bench/lib.sh: helpers for benchmarks (source it).
#
# A benchmark collects one sample per line in a file, then calls
#   bench_emit NAME UNIT SAMPLES [PEER_NAME PEER_SAMPLES]
# which appends one JSON object per line to $SBX_BENCH_OUT:
#   {"name", "unit", "n", "p50", "p99"[, "peer", "peer_p50", "peer_p99", "ratio"]}
# ratio = p50 / peer p50: for times and sizes below 1 is better than the
# peer; for rates (MiB/s, per second) above 1 is better.

bench_emit() {
	python3 - "$@" <<'PY' >>"${SBX_BENCH_OUT:?}"
import json, sys

def load(path):
    with open(path) as f:
        return sorted(float(x) for x in f.read().split())

def pct(v, p):
    if not v:
        return None
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]

name, unit, path = sys.argv[1:4]
s = load(path)
row = {"name": name, "unit": unit, "n": len(s), "p50": pct(s, 50), "p99": pct(s, 99)}
if len(sys.argv) > 5:
    peer = load(sys.argv[5])
    row["peer"] = sys.argv[4]
    row["peer_p50"], row["peer_p99"] = pct(peer, 50), pct(peer, 99)
    if peer and row["peer_p50"]:
        row["ratio"] = round(row["p50"] / row["peer_p50"], 3)
print(json.dumps(row))
PY
}

now_ns() { date +%s%N; }
