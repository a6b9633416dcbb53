#!/bin/bash
# tests/bench/run.sh O: runs the benchmarks and writes O/bench/results.json,
# a JSON array of {name, unit, n, p50, p99, peer, ratio}.
#
# tests/bench/*.sh run natively (the API layer against sbx-init in host mode,
# instruction counts). tests/bench/vm/*.sh run where guests boot: natively on
# hardware KVM, else inside the host VM, where absolute times are emulated and
# only the ratios to the peer measured in the same run mean something.
set -uo pipefail
O=$(realpath "${1:-build}")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$O/bench
mkdir -p "$OUT"
rows=$OUT/rows.jsonl
: >"$rows"
export SBX_BUILD=$O SBX_SRC=$SRC SBX_IMAGES=$O/images

for b in "$SRC"/tests/bench/*.sh; do
	case $(basename "$b") in run.sh | lib.sh) continue ;; esac
	[ -x "$b" ] || continue
	echo "bench: $(basename "$b")"
	SBX_BENCH_OUT=$rows "$b" || echo "bench: $(basename "$b") failed" >&2
done

where=$("$SRC/tests/guest-check.sh" "$O")
vmjob='for b in tests/bench/vm/*.sh; do [ -x "$b" ] && SBX_BENCH_OUT=$SBX_OUT/rows.jsonl "$b"; done; true'
case $where in
native)
	SBX_OUT=$OUT bash -c "$vmjob"
	;;
hostvm)
	rm -f "$OUT/vm/rows.jsonl"
	SBX_OUT=$OUT/vm "$SRC/boards/qemu-x86_64/vm.sh" "$O" exec "$vmjob"
	[ -e "$OUT/vm/rows.jsonl" ] && cat "$OUT/vm/rows.jsonl" >>"$rows"
	;;
*)
	echo "bench: guest benchmarks skipped: $where" >&2
	;;
esac

python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump(rows, open(sys.argv[2], "w"), indent=1)
for r in rows:
    extra = " peer %s p50 %s ratio %s" % (r["peer"], r["peer_p50"], r.get("ratio")) if "peer" in r else ""
    print("%-40s n=%-4d p50=%-10.4g p99=%-10.4g %s%s" % (r["name"], r["n"], r["p50"] or 0, r["p99"] or 0, r["unit"], extra))
' "$rows" "$OUT/results.json"
echo "bench: wrote $OUT/results.json"
