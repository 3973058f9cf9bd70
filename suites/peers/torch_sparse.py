#!/usr/bin/env python3
"""torch_sparse.py — the PyTorch peer of suites/sparsity.c's bf16 target points on a CUDA GPU.

Y = A·W with A carrying 90% zeros, bf16, as quintet's sparsity cases draw them (A uniform in
(0.1, 1) with zeros; W uniform in (-1, 1)):
  M=K=N=8192, whole columns of A zero ("structured"): dense torch.mm, and the compact path
  (the nonzero columns found with A.ne(0).any(0).nonzero(), A[:, kept] and W[kept] gathered,
  one mm: PyTorch's best plain-ops column-skipping product);
  M=1 K=16384 N=4096, zeros anywhere ("uniform"): dense mm (cuBLAS GEMV-shaped), and the
  gather path (a.nonzero(), W[idx], one GEMV on the touched rows).
Writes Google Benchmark JSON: entries "sparsity/<path>/torch" (path dense, colskip or gather,
quintet's names), label M=..,K=..,N=..,sp=0.9,structure=..,dtype=bf16, real_time in ms per call
(CUDA events around 8 calls back to back / 8, as the suite times device paths), counter
speedup_vs_dense. `quintet import` reads it.

  python3 suites/peers/torch_sparse.py --out torch_sparse.json [--reps 20]
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gbench_json  # noqa: E402


BATCH = 8  # calls per timing, back to back, as suites/sparsity.c times device paths (DEV_BATCH)


def batched(torch, fn, reps):
    """Milliseconds per call: CUDA events around BATCH calls back to back, divided by BATCH."""
    def run():
        for _ in range(BATCH):
            fn()
    return [t / BATCH for t in gbench_json.time_cuda(torch, run, reps)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("torch_sparse: skipped: no CUDA device", file=sys.stderr)
        return 77
    dev, bf = "cuda", torch.bfloat16
    g = torch.Generator(device=dev).manual_seed(1)
    benches = []
    for M, K, N, structure in ((8192, 8192, 8192, "structured"), (1, 16384, 4096, "uniform")):
        A = torch.empty(M, K, device=dev).uniform_(0.1, 1.0, generator=g)
        if structure == "structured":
            A[:, torch.rand(K, device=dev, generator=g) < 0.9] = 0
        else:
            A[torch.rand(M, K, device=dev, generator=g) < 0.9] = 0
        A = A.to(bf)
        W = torch.empty(K, N, device=dev).uniform_(-1, 1, generator=g).to(bf)

        def colskip():
            kept = A.ne(0).any(0).nonzero().squeeze(1)
            return A.index_select(1, kept) @ W.index_select(0, kept)

        def gather():
            idx = A[0].nonzero().squeeze(1)
            return A[:, idx] @ W.index_select(0, idx)

        sparse_name, sparse_fn = ("colskip", colskip) if structure == "structured" else ("gather", gather)
        ref = (A.float() @ W.float())
        err = ((sparse_fn().float() - ref).norm() / ref.norm()).item()
        label = f"M={M},K={K},N={N},sp=0.9,structure={structure},dtype=bf16"
        t_dense = batched(torch, lambda: A @ W, args.reps)
        t_sparse = batched(torch, sparse_fn, args.reps)
        md = statistics.median(t_dense)
        for name, times in (("dense", t_dense), (sparse_name, t_sparse)):
            med = statistics.median(times)
            print(f"torch {name:8s} {label:55s} {med:9.4f} ms  speedup vs dense {md / med:5.2f}"
                  + (f"  rel err {err:.1e}" if name != "dense" else ""), flush=True)
            benches += gbench_json.entries(f"sparsity/{name}/torch", times, label,
                                           speedup_vs_dense=lambda t: md / t)
        del A, W, ref
        torch.cuda.empty_cache()
    gbench_json.write(torch, args.out, benches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
