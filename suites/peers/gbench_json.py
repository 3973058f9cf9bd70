"""gbench_json.py — what quintet's PyTorch peer scripts share (torch_optim.py, torch_sparse.py,
torch_cpu.py):
timing a callable on the GPU with CUDA events and writing Google Benchmark JSON that
`quintet import` reads (one entry per repetition, real_time in ms as manual time, the case's
parameters in "label" as key=value,..., extra counters as numbers).

Not run on its own; imported by the scripts beside it (python3 suites/peers/torch_*.py ...).
"""
import json
import os
import platform
import socket
import statistics
import sys
import time


def time_cuda(torch, fn, reps, warmup=2):
    """Milliseconds of `reps` calls of fn, each between two CUDA events, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        fn()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    return times


def copy_gbps(torch, nbytes=2 << 30, reps=10):
    """Device-to-device copy rate, bytes read plus written per second / 1e9 (the frac_copy ceiling)."""
    a = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda").uniform_()
    b = torch.empty_like(a)
    t = statistics.median(time_cuda(torch, lambda: b.copy_(a), reps))
    del a, b
    return 2.0 * nbytes / (t * 1e-3) / 1e9


def entries(name, times, label, **counters):
    """Google Benchmark entries, one per repetition; counters given per repetition as callables
    of the time in ms, or as constants."""
    out = []
    for i, t in enumerate(times):
        e = dict(name=name + "/manual_time", run_name=name, run_type="iteration", repetitions=len(times),
                 repetition_index=i, threads=1, iterations=1, real_time=t, cpu_time=t, time_unit="ms", label=label)
        for k, v in counters.items():
            e[k] = v(t) if callable(v) else v
        out.append(e)
    return out


def write(torch, path, benches, context=None):
    """The JSON file: Google Benchmark's context (with the peer's versions, the GPU where there is
    one, and the keys of `context`) and the entries; written to a temporary file and renamed, so
    a script stopped from outside leaves the last complete file."""
    ctx = dict(date=time.strftime("%Y-%m-%dT%H:%M:%S%z"), host_name=socket.gethostname(), executable=sys.argv[0],
               library_build_type="release", peer="torch", torch=torch.__version__, cuda=torch.version.cuda,
               python=platform.python_version())
    if torch.cuda.is_available():
        ctx["gpu"] = torch.cuda.get_device_name(0)
    ctx.update(context or {})
    with open(path + ".tmp", "w") as f:
        json.dump(dict(context=ctx, benchmarks=benches), f, indent=1)
    os.replace(path + ".tmp", path)
