#!/usr/bin/env python3
"""peer_ratios.py — quintet against a peer (PyTorch) per case, from one quintet database.

Reads the median time_s of every case (table case_stats) of the runs given (quintet's own runs
and the peer's imported Google Benchmark runs, see torch_cpu.py), groups rows by thread count
(runs.threads) and by suite, case family and params, and prints one table per suite and thread
count: quintet's time, the peer's fastest path and its time, and the ratio peer / quintet
(> 1: quintet is faster) next to the issue's target (issue 18):
  attention_scaling  dense cpu vs torch-sdpa                         target >= 1.2
  lr_convergence     step cases cpu vs the fastest torch-* path       target >= 1.0 (rmsprop >= 4)
  sparsity           auto cpu vs the faster of torch-dense/-csr       target >= 2.0; also quintet's
                     own dense / auto (target >= 5 at sp 0.9, M=1, 16 threads) and auto / best
                     quintet path (the dispatcher's overhead, target <= 1.1: two cases' medians,
                     so case-to-case drift enters), the suite's own drift-free measure of it
                     (`paired`: the auto case's paired_ratio, auto's fastest call over the best
                     path's timed interleaved in the same iterations; the DISPATCH>1.1 flag uses
                     it where the run has it), and torch-csr_pre (CSR built outside the clock: a
                     bound, not a peer) for reference. The warm twins (cache=warm: one draw of A
                     repeated, its rows of W cache-resident) have no target: issue 18's sparse
                     targets are for rotating draws; their rows say "warm" instead of ok/MISS
Rounds: where the runs hold several quintet runs and several peer runs of one thread count (e.g.
ci/h200-cpu-peers.sh with QT_PEER_ROUNDS=N runs the two sides alternately, N times), the k-th
quintet run is paired with the k-th peer run in run-id order (a side with fewer runs repeats its
last one), each round gives its own ratio, and a row reports the median ratio over the rounds,
its range and in how many rounds the target was met: host drift between calls then moves both
sides of a round alike, and one slow moment of one side shows as one outlying round, not as the
answer. Times in a row are the medians over the rounds.
--stat min takes each case's fastest repetition instead of its median (both sides alike): on a host
whose other tenants slow a core in bursts of seconds (the H200 host, NOTES_cpu.md "Session 10"), the
noise only ever adds time, so the minimum is the better estimate of what each side does undisturbed;
the median (default) is what every earlier table used.
Writes the tables as text to stdout and, with --csv F, as one CSV (long form).

  python3 suites/peers/peer_ratios.py --db OUT/cpu-peers.db [--runs 3,4,5,6] [--stat min] [--csv OUT/ratios.csv]

Needs only Python's sqlite3 module (no quintet build, no sqlite3 program, no torch). Runs without
a peer give the quintet columns and '-' for the peer.
"""
import argparse
import csv
import sqlite3
import statistics
import sys
from collections import Counter, defaultdict

PEER_PREFIX = "torch-"


def load(db, runs, stat="median"):
    """Per round (see the module comment): {(threads, suite, params): {(case, variant): time_s}}, the
    median or (stat "min") the fastest repetition, with the auto case's median paired ratio under
    (case, "paired"); a list, round 0 first."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    col = {"median": "s.median", "min": "s.min"}[stat]
    q = ("SELECT r.id, COALESCE(r.threads, 0), c.suite, c.name, c.variant, c.params, s.metric, "
         f"CASE WHEN s.metric = 'time_s' THEN {col} ELSE s.median END "
         "FROM runs r JOIN cases c ON c.run_id = r.id JOIN case_stats s ON s.case_id = c.id "
         "WHERE s.metric IN ('time_s', 'paired_ratio') AND c.status = 'ok' AND s.median > 0")
    rows = con.execute(q).fetchall()
    con.close()
    if runs:
        rows = [r for r in rows if r[0] in runs]
    # each run is a quintet run or a peer's import (its variants torch-*); per thread count the
    # k-th of each kind makes round k
    side, threads_of = {}, {}
    for rid, threads, _, _, variant, _, _, _ in rows:
        side[rid] = side.get(rid, False) or variant.startswith(PEER_PREFIX)
        threads_of[rid] = threads
    order = defaultdict(lambda: ([], []))  # threads -> (quintet run ids, peer run ids)
    for rid in sorted(side):
        order[threads_of[rid]][side[rid]].append(rid)
    n_rounds = max((max(len(a), len(b)) for a, b in order.values()), default=0)
    rounds = [defaultdict(dict) for _ in range(n_rounds)]
    for rid, threads, suite, name, variant, params, metric, med in sorted(rows):
        ids = order[threads][side[rid]]
        k = ids.index(rid)
        # this run serves its own round and, when it is its side's last, every later round
        for r in range(k, n_rounds if k == len(ids) - 1 else k + 1):
            rounds[r][(threads, suite, params)][(name, variant) if metric == "time_s" else (name, "paired")] = med
    return rounds


def best(d, pred):
    """(key, time) of the fastest entry of d whose key passes pred, or (None, None)."""
    items = [(v, k) for k, v in d.items() if pred(k)]
    return (min(items)[1], min(items)[0]) if items else (None, None)


def ms(x):
    return f"{x * 1e3:10.4f}" if x else f"{'-':>10s}"


def ratio(a, b):
    return a / b if a and b else None


def rs(x):
    return f"{x:6.2f}" if x else f"{'-':>6s}"


def params_key(params):
    """Sort key of "k=v,...": numbers as numbers, so T=256 comes before T=1024."""
    key = []
    for kv in params.split(","):
        v = kv.partition("=")[2]
        try:
            key.append((0, float(v), ""))
        except ValueError:
            key.append((1, 0.0, v))
    return key


def rows_for(t):
    """One output row per (threads, suite, case family, params)."""
    out = []
    for (threads, suite, params), d in sorted(t.items(), key=lambda kv: (kv[0][1], kv[0][0], params_key(kv[0][2]))):
        peer = lambda k: k[1].startswith(PEER_PREFIX)
        if suite == "attention_scaling":
            q = d.get(("dense", "cpu"))
            pk, pt = best(d, lambda k: k[0] == "dense" and peer(k))
            if q or pt:
                out.append(dict(threads=threads, suite=suite, case="dense", params=params, quintet_s=q,
                                quintet_path="cpu", peer_s=pt, peer_path=pk and pk[1], target=1.2))
        elif suite == "lr_convergence":
            for case in sorted({k[0] for k in d if k[0].startswith("step")}):
                q = d.get((case, "cpu"))
                pk, pt = best(d, lambda k: k[0] == case and peer(k))
                tgt = 4.0 if "optimizer=rmsprop" in params else 1.0
                out.append(dict(threads=threads, suite=suite, case=case, params=params, quintet_s=q,
                                quintet_path="cpu", peer_s=pt, peer_path=pk and pk[1], target=tgt))
        elif suite == "sparsity":
            q = d.get(("auto", "cpu"))
            qk, qb = best(d, lambda k: k[1] == "cpu" and k[0] != "auto")
            paired = d.get(("auto", "paired"))
            pk, pt = best(d, lambda k: peer(k) and not k[1].startswith(PEER_PREFIX + "csr_pre"))
            if q or pt:
                warm = "cache=warm" in params.split(",")
                out.append(dict(threads=threads, suite=suite, case="spmm", params=params, quintet_s=q,
                                quintet_path="auto", peer_s=pt, peer_path=pk and pk[1],
                                target=None if warm else 2.0,
                                quintet_dense_s=d.get(("dense", "cpu")), quintet_best_s=qb,
                                quintet_best_path=qk and qk[0], paired=paired,
                                peer_csr_pre_s=best(d, lambda k: k[0] == "csr" and k[1].startswith(PEER_PREFIX + "csr_pre"))[1]))
    for r in out:
        r["ratio"] = ratio(r["peer_s"], r["quintet_s"])
    return out


def median(xs):
    """statistics.median of the values that are not None; None when there are none."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def most_common(xs):
    """The most frequent of the values that are not None (ties: the first seen); None when there are none."""
    c = Counter(x for x in xs if x)
    return c.most_common(1)[0][0] if c else None


NUMERIC = ("quintet_s", "peer_s", "quintet_dense_s", "quintet_best_s", "paired", "peer_csr_pre_s")


def merge_rounds(per_round):
    """One row per (threads, suite, case, params) from the rows of every round: times and the
    sparse columns as medians over the rounds, ratio = the median of the rounds' ratios, with
    ratio_lo / ratio_hi (range), met (rounds at or above target) and rounds (rounds with a ratio)."""
    merged = {}
    for rows in per_round:
        for r in rows:
            merged.setdefault((r["threads"], r["suite"], r["case"], r["params"]), []).append(r)
    out = []
    for group in merged.values():
        row = dict(group[-1])
        for k in NUMERIC:
            row[k] = median(r.get(k) for r in group)
        row["peer_path"] = most_common(r["peer_path"] for r in group)
        row["quintet_best_path"] = most_common(r.get("quintet_best_path") for r in group)
        ratios = [r["ratio"] for r in group if r["ratio"] is not None]
        row["ratio"] = median(ratios)
        row["ratio_lo"] = min(ratios) if ratios else None
        row["ratio_hi"] = max(ratios) if ratios else None
        row["met"] = None if row["target"] is None else sum(x >= row["target"] for x in ratios)
        row["rounds"] = len(ratios)
        out.append(row)
    return out


def print_tables(out, f):
    groups = defaultdict(list)
    for r in out:
        groups[(r["suite"], r["threads"])].append(r)
    for (suite, threads), rows in sorted(groups.items()):
        multi = max(r["rounds"] for r in rows) > 1
        print(f"\n## {suite}, {threads} thread(s): time per call in ms (median); ratio = peer / quintet "
              f"(> 1: quintet faster)" + ("; over rounds: median ratio, range, rounds met" if multi else ""), file=f)
        sparse = suite == "sparsity"
        head = f"{'case':11s} {'params':58s} {'quintet':>10s} {'peer':>10s} {'peer path':15s} {'ratio':>6s} {'target':>6s}"
        if multi:
            head += f" {'range':>11s} {'met':>5s}"
        if sparse:
            head += f" {'dense/auto':>10s} {'auto/best':>9s} {'paired':>6s} {'best':7s} {'csr_pre':>10s}"
        print(head, file=f)
        for r in rows:
            tgt = r["target"]
            ok = ("" if r["ratio"] is None else "  warm" if tgt is None
                  else "  ok" if r["ratio"] >= tgt else "  MISS")
            line = (f"{r['case']:11s} {r['params'][:58]:58s} {ms(r['quintet_s'])} {ms(r['peer_s'])} "
                    f"{(r['peer_path'] or '-'):15s} {rs(r['ratio'])} {'-' if tgt is None else f'{tgt:.1f}':>6s}")
            if multi:
                rng = f"{r['ratio_lo']:.2f}-{r['ratio_hi']:.2f}" if r["rounds"] else "-"
                met = "-" if r["met"] is None else f"{r['met']}/{r['rounds']}"
                line += f" {rng:>11s} {met:>5s}"
            if sparse:
                line += (f" {rs(ratio(r['quintet_dense_s'], r['quintet_s'])):>10s}"
                         f" {rs(ratio(r['quintet_s'], r['quintet_best_s'])):>9s} {rs(r['paired'])}"
                         f" {r['quintet_best_path'] or '-':7s}"
                         f" {ms(r['peer_csr_pre_s'])}")
            # the dispatcher more than 10% behind quintet's best path: by the drift-free paired
            # ratio where the run measured it, else by the two cases' medians
            disp = sparse and (r["paired"] or ratio(r["quintet_s"], r["quintet_best_s"]))
            if disp and disp > 1.1:
                ok += "  DISPATCH>1.1"
            print(line + ok, file=f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs", default="", help="comma-separated run ids (default: every run)")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="each case's time: the median of its repetitions (default) or the fastest")
    ap.add_argument("--csv")
    args = ap.parse_args()
    runs = {int(x) for x in args.runs.split(",") if x}
    out = merge_rounds([rows_for(t) for t in load(args.db, runs, args.stat)])
    if not out:
        print(f"peer_ratios: no timed cases of attention_scaling, lr_convergence or sparsity in {args.db}",
              file=sys.stderr)
        return 1
    print_tables(out, sys.stdout)
    if args.csv:
        keys = ["suite", "threads", "case", "params", "quintet_path", "quintet_s", "peer_path", "peer_s", "ratio",
                "target", "ratio_lo", "ratio_hi", "met", "rounds", "quintet_dense_s", "quintet_best_s", "quintet_best_path", "paired", "peer_csr_pre_s"]
        with open(args.csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
            w.writeheader()
            w.writerows(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
