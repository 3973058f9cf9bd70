#!/usr/bin/env python3
"""torch_attention.py — the PyTorch peer of suites/attention_scaling.c on a CUDA GPU.

Times PyTorch's scaled_dot_product_attention (dense, causal or not) and flex_attention
(sliding window, causal and bidirectional, optional dilation, as a block-sparse mask) on the
same shapes, dtypes and key sets as quintet's attention cases (quintet/attention.h: window
{i + m*dilation : -w_left <= m <= w_right}, w_right = 0 when causal), and writes Google
Benchmark JSON: one entry per repetition, name "attention_scaling/<variant>/torch/<params>", the case's
parameters in "label" (quintet's key=value,... form), real_time in ms (CUDA events, manual
time), counters gflops (useful FLOPs per second, qt_attn_useful_flops's convention) and
useful_flops. `quintet import` puts such a file in the database as variant `torch`.

  python3 suites/peers/torch_attention.py --out torch_attention.json [--cases issue|targets|scaling]
      [--reps 10] [--dtype bf16]

Cases: issue = the issue's shapes (H 16); targets = the two the issue sets targets on (dense
B1 H16 T16384 D128, causal window W1024 T65536 D64); scaling = the GPU sweep of
attention_scaling (B 1, H 8, D 64: dense up to T 32768, causal window W1024 up to 131072).
Needs PyTorch >= 2.5 with a CUDA device (quintet itself does not). Inputs are standard
normals; each case is warmed up twice (flex_attention compiles on first use) and timed
`reps` times, each timing one call between two CUDA events.
"""
import argparse
import json
import os
import platform
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gbench_json  # noqa: E402  (timing with CUDA events, shared with the other peers)


def useful_flops(c):
    bhtd4 = 4.0 * c["B"] * c["H"] * c["T"] * c["D"]
    if c["variant"] == "dense":
        return bhtd4 * c["T"] * (0.5 if c["causal"] else 1.0)
    w = c["w_left"] + (0 if c["causal"] else c["w_right"]) + 1
    return bhtd4 * w


def label(c):
    keys = ["B", "H", "T", "D", "causal", "dtype"]
    if c["variant"] == "window":
        keys += ["w_left", "w_right", "dilation"]
    return ",".join(f"{k}={c[k]}" for k in keys)


def issue_cases(dtype):
    out = []
    for D in (64, 128):
        for causal in (0, 1):
            out.append(dict(variant="dense", B=1, H=16, T=16384, D=D, causal=causal, dtype=dtype))
    for wl, wr, causal, dil in ((1024, 0, 1, 1), (256, 0, 1, 1), (512, 512, 0, 1), (1024, 0, 1, 2)):
        out.append(dict(variant="window", B=1, H=16, T=65536, D=64, causal=causal, w_left=wl, w_right=wr,
                        dilation=dil, dtype=dtype))
    return out


def targets_cases(dtype):
    return [dict(variant="dense", B=1, H=16, T=16384, D=128, causal=0, dtype=dtype),
            dict(variant="window", B=1, H=16, T=65536, D=64, causal=1, w_left=1024, w_right=0, dilation=1,
                 dtype=dtype)]


def scaling_cases(dtype):
    out = []
    for T in (4096, 8192, 16384, 32768, 65536, 131072):
        if T <= 32768:
            out.append(dict(variant="dense", B=1, H=8, T=T, D=64, causal=0, dtype=dtype))
        out.append(dict(variant="window", B=1, H=8, T=T, D=64, causal=1, w_left=1024, w_right=0, dilation=1,
                        dtype=dtype))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", default="issue", choices=["issue", "targets", "scaling"])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f16", "f32"])
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    if not torch.cuda.is_available():
        print("torch_attention: skipped: no CUDA device", file=sys.stderr)
        return 77
    dt = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}[args.dtype]
    flex = torch.compile(flex_attention, dynamic=False)
    cases = dict(issue=issue_cases, targets=targets_cases, scaling=scaling_cases)[args.cases](args.dtype)
    dev = torch.device("cuda")
    benches = []
    for c in cases:
        g = torch.Generator(device=dev).manual_seed(1)
        shape = (c["B"], c["H"], c["T"], c["D"])
        q, k, v = (torch.randn(shape, device=dev, dtype=dt, generator=g) for _ in range(3))
        if c["variant"] == "dense":
            fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=bool(c["causal"]))
        else:
            wl, wr, dil = c["w_left"], (0 if c["causal"] else c["w_right"]), c["dilation"]

            def mask_mod(b, h, qi, kj, wl=wl, wr=wr, dil=dil):
                diff = kj - qi
                m = (diff >= -wl * dil) & (diff <= wr * dil)
                if dil > 1:
                    m = m & (diff % dil == 0)
                return m

            bm = create_block_mask(mask_mod, B=None, H=None, Q_LEN=c["T"], KV_LEN=c["T"], device="cuda")
            fn = lambda: flex(q, k, v, block_mask=bm)
        try:
            times = gbench_json.time_cuda(torch, fn, args.reps)
        except Exception as ex:  # report and go on: one case's failure is not the run's
            print(f"torch_attention: {c['variant']} {label(c)}: {ex}", file=sys.stderr)
            continue
        fl = useful_flops(c)
        med = statistics.median(times)
        print(f"torch {c['variant']:6s} {label(c):70s} {med:9.3f} ms {fl / med / 1e9:8.1f} TFLOP/s", flush=True)
        name = f"attention_scaling/{c['variant']}/torch/{label(c)}"  # quintet's suite/case/variant/params: import files it beside the suite's cases
        for i, t in enumerate(times):
            benches.append(dict(name=name + "/manual_time", run_name=name, run_type="iteration",
                                repetitions=len(times), repetition_index=i, threads=1, iterations=1,
                                real_time=t, cpu_time=t, time_unit="ms", label=label(c),
                                gflops=fl / (t * 1e-3) / 1e9, useful_flops=fl))
        del q, k, v
        torch.cuda.empty_cache()
    ctx = dict(date=time.strftime("%Y-%m-%dT%H:%M:%S%z"), host_name=socket.gethostname(),
               executable=sys.argv[0], library_build_type="release", peer="torch", torch=torch.__version__,
               cuda=torch.version.cuda, gpu=torch.cuda.get_device_name(0), python=platform.python_version())
    with open(args.out, "w") as f:
        json.dump(dict(context=ctx, benchmarks=benches), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
