#!/usr/bin/env python3
"""fusion_perf_summary.py — the table gpu_fusion_perf.sh prints last: fusion_accuracy train_step
medians (ms) of quintet cuda version 2 (q.db, with the torch peer's rows imported as variant torch),
version 1 (q1.db: QT_CUDA_FUSION_V=1), PyTorch matmul and sdpa, all from one call; torch/v2 is the
best torch median over quintet's (above 1: quintet faster); frac_sgemm is quintet's FLOP rate over
the same run's cuBLAS FP32 SGEMM 8192^3.
  python3 tests/fusion/fusion_perf_summary.py q.db q1.db"""
import sqlite3, sys
def rows(db):
    out = {}
    try:
        con = sqlite3.connect(db)
        q = ("SELECT c.variant, c.params, s.metric, s.median, s.n, s.min, s.max FROM cases c JOIN case_stats s ON s.case_id = c.id "
             "WHERE c.suite = 'fusion_accuracy' AND c.name = 'train_step' AND s.metric IN ('time_s', 'frac_gpu_sgemm', 'gflops')")
        for v, p, m, med, n, lo, hi in con.execute(q):
            key = ",".join(x for x in p.split(",") if x.startswith(("d=", "batch=")))
            if "impl=" in p: v += "/" + p.split("impl=")[1].split(",")[0]
            out.setdefault(key, {})[(v, m)] = (med, n, lo, hi)
    except Exception as e:
        print("summary: %s: %s" % (db, e))
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
print("%-16s %22s %20s %12s %12s %10s %9s" % ("size", "quintet v2 ms [min,max]", "v1 ms", "torch matmul", "torch sdpa", "torch/v2", "frac_sgemm"))
for key in sorted(a, key=lambda k: int(k.split(",")[0][2:])):
    d = a[key]; q = d.get(("cuda", "time_s")); q1 = b.get(key, {}).get(("cuda", "time_s"))
    tm = d.get(("torch/matmul", "time_s")); ts = d.get(("torch/sdpa", "time_s")); fr = d.get(("cuda", "frac_gpu_sgemm"))
    best = min([t[0] for t in (tm, ts) if t] or [float("nan")])
    f = lambda t: "%.3f" % (t[0] * 1e3) if t else "-"
    print("%-16s %9s [%.3f,%.3f] %20s %12s %12s %10s %9s" % (key, f(q), q[2] * 1e3 if q else 0, q[3] * 1e3 if q else 0, f(q1), f(tm), f(ts),
          "%.3f" % (best / q[0]) if q else "-", "%.3f" % fr[0] if fr else "-"))
