#!/bin/bash
# gpu_fusion.sh — one call on a GPU machine (the H200 device kind) for the cuda fusion ops: build
# quintet and the fusion test, run the test (cuda vs ref, training on the device), `verify fusion
# --backend cuda`, the PyTorch peer (suites/peers/torch_fusion.py) and, in the same quintet run,
# fusion_accuracy's cuda train_step cases and the mixed task's experiments on cpu and cuda
# (accuracy of full training runs on both); imports the peer's JSON as variant torch and prints
# the per-step times side by side. Each step has its own time limit (ci/step.sh).
#   cd <tree> && OUT=/tmp/o [STEPS='build tests verify peers run'] [FILTER=REGEX] tests/fusion/gpu_fusion.sh [DEPS_PREFIX]
# STEPS: the steps to take (default all); FILTER: the fusion_accuracy cases `run` takes (default
# the cuda train_step cases and the mixed task's experiments on cpu and cuda).
# Files in $OUT: log.txt (every step's output), h200.db, torch_fusion.json, summary.txt.
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
DEPS=${1:-}
FILTER=${FILTER:-'fusion_accuracy/(train_step/cuda/|[a-z_]+/(cpu|cuda)/task=mixed)'}
. ci/step.sh
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
step build 150 make QT_INNER=1 -j32 ${DEPS:+QT_DEPS_PREFIX=$DEPS} quintet build/tests/fusion/test_fusion
step tests 60 build/tests/fusion/test_fusion
grep -h "vs ref\|training:\|skipped\|wrong\|FAIL\|Test:" /tmp/step.log | head -20
step verify 60 build/quintet verify fusion --backend cuda
grep -i "wrong\|fusion\|fail" /tmp/step.log | tail -8
step peers 60 env PYTHONUNBUFFERED=1 python3 suites/peers/torch_fusion.py --out "$OUT/torch_fusion.json"
grep "^torch" /tmp/step.log
step run 120 build/quintet run fusion_accuracy --db "$OUT/h200.db" --filter "$FILTER"
[ -f "$OUT/torch_fusion.json" ] && build/quintet import "$OUT/torch_fusion.json" --suite fusion_accuracy \
    --variant torch --db "$OUT/h200.db" >> "$OUT/log.txt" 2>&1
python3 - "$OUT/h200.db" <<'EOF' | tee "$OUT/summary.txt"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
q = ("SELECT c.name, c.variant, c.params, s.metric, s.median, s.n, s.min, s.max FROM cases c JOIN case_stats s ON s.case_id = c.id "
     "WHERE c.suite = 'fusion_accuracy' AND s.metric IN ('time_s', 'gflops', 'frac_gpu_sgemm', 'accuracy', 'final_loss') "
     "ORDER BY c.name, c.variant")
rows = con.execute(q).fetchall()
print("train_step (median per step):")
t = {}
for n, v, p, m, med, k, lo, hi in rows:
    if n == "train_step" and m == "time_s":
        key = ",".join(x for x in p.split(",") if x.startswith(("d=", "batch=")))
        t.setdefault(key, {})[v + ("/" + p.split("impl=")[1] if "impl=" in p else "")] = med
for key, d in t.items():
    q = d.get("cuda")
    line = "  %-18s quintet cuda %s" % (key, "%.3f ms" % (q * 1e3) if q else "-")
    for v, med in sorted(d.items()):
        if v.startswith("torch"):
            line += "   %s %.3f ms (torch/quintet %.2f)" % (v, med * 1e3, med / q if q else float("nan"))
    print(line)
for n, v, p, m, med, k, lo, hi in rows:
    if n == "train_step" and v == "cuda" and m in ("gflops", "frac_gpu_sgemm"):
        print("  %-24s cuda %s %.3f" % (p, m, med))
print("mixed task, accuracy (median of seeds) cpu vs cuda:")
acc = {}
for n, v, p, m, med, k, lo, hi in rows:
    if m in ("accuracy", "final_loss") and "task=mixed" in p:
        acc.setdefault(n, {})[(v, m)] = (med, k, lo, hi)
for n, d in acc.items():
    print("  %-13s" % n + "  ".join("%s %s %.4f [%.4f, %.4f] n=%d" % (v, m, med, lo, hi, k)
                                    for (v, m), (med, k, lo, hi) in sorted(d.items())))
EOF
