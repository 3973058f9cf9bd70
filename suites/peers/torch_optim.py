#!/usr/bin/env python3
"""torch_optim.py — the PyTorch peer of suites/lr_convergence.c's step_100m cases on a CUDA GPU.

One optimizer step (torch defaults) over n = 100M f32 parameters, as one tensor and as 64
(the same split as quintet's `tensors` = 64), for every torch.optim optimizer quintet also has
(sgd, adam, adamw, radam, rmsprop, adagrad) in each implementation torch offers on CUDA
(fused where torch has it, foreach), gradients fixed. Writes Google Benchmark JSON: entries
"lr_convergence/step_100m/torch", label optimizer=..,dtype=f32,n=..,tensors=..,impl=fused|foreach,
real_time in ms (CUDA events), counters gbps (the bytes quintet's qt_optim_work counts for the
same optimizer: each stream of parameter, gradient and state read or written once) and frac_copy
(gbps over this run's device-to-device copy rate, read + write). `quintet import` reads it.

  python3 suites/peers/torch_optim.py --out torch_optim.json [--n 100000000] [--reps 20]
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gbench_json  # noqa: E402

# streams read + written per element at torch defaults (quintet's qt_optim_work)
STREAMS = {"sgd": 3, "adam": 7, "adamw": 7, "radam": 7, "rmsprop": 5, "adagrad": 5}
FUSED = {"sgd", "adam", "adamw", "adagrad"}  # torch 2.x: fused=True on CUDA


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=100_000_000)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("torch_optim: skipped: no CUDA device", file=sys.stderr)
        return 77
    ceiling = gbench_json.copy_gbps(torch)
    print(f"torch copy: {ceiling:.0f} GB/s (read + write)", flush=True)
    benches = []
    classes = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
               "radam": torch.optim.RAdam, "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}
    for name, cls in classes.items():
        for tensors in (1, 64):
            for impl in (["fused"] if name in FUSED else []) + ["foreach"]:
                g = torch.Generator(device="cuda").manual_seed(1)
                flat = torch.empty(args.n, device="cuda").uniform_(-1, 1, generator=g)
                gflat = torch.empty(args.n, device="cuda").uniform_(-1, 1, generator=g)
                step = args.n // tensors // 16 * 16
                cuts = [step * i for i in range(tensors)] + [args.n]
                params = []
                for i in range(tensors):
                    p = torch.nn.Parameter(flat[cuts[i]:cuts[i + 1]])
                    p.grad = gflat[cuts[i]:cuts[i + 1]]
                    params.append(p)
                kw = {"fused": True} if impl == "fused" else {"foreach": True}
                opt = cls(params, **({"lr": 1e-3} if name == "sgd" else {}), **kw)
                try:
                    times = gbench_json.time_cuda(torch, opt.step, args.reps)
                except Exception as ex:  # one case's failure is not the run's
                    print(f"torch_optim: {name} {impl}: {ex}", file=sys.stderr)
                    continue
                nbytes = STREAMS[name] * 4.0 * args.n
                label = f"optimizer={name},dtype=f32,n={args.n},tensors={tensors},impl={impl}"
                med = statistics.median(times)
                print(f"torch {label:70s} {med:8.3f} ms {nbytes / med / 1e6:7.0f} GB/s "
                      f"frac_copy {nbytes / med / 1e6 / ceiling:.2f}", flush=True)
                benches += gbench_json.entries("lr_convergence/step_100m/torch", times, label,
                                               gbps=lambda t: nbytes / (t * 1e-3) / 1e9,
                                               frac_copy=lambda t: nbytes / (t * 1e-3) / 1e9 / ceiling)
                del opt, params, flat, gflat
                torch.cuda.empty_cache()
    gbench_json.write(torch, args.out, benches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
