#!/usr/bin/env python3
"""torch_cpu.py — the PyTorch CPU peer of three quintet suites, timed on the host's cores.

Groups (--groups, comma-separated; default all):
  attention  suites/attention_scaling.c's dense cases: F.scaled_dot_product_attention in fp32
             (PyTorch's own CPU dispatch, i.e. its flash-attention CPU kernel), B=1, H=4,
             T = 256…4096 (--t-max), D 64 and 128, causal and not, data=clustered drawn as the
             suite draws it (M = T/64 centres, q = γ(c + ½ε), k = γ(c + ½ε'), γ² = 5/√D).
             Variant torch-sdpa; counter gflops (useful FLOPs 4·B·H·T²·D, halved causal).
  optim      suites/lr_convergence.c's step_10m (n = 10M, every optimizer PyTorch has: sgd, adam,
             adamw, radam, rmsprop, adagrad), step_large (sgd, adam, adamw at 1M and 16M) and
             step_llc (every optimizer at n = the suite's LLC-derived size, llc_step_n()), f32,
             one torch.optim step with torch's defaults (quintet's qt_optim_config_default) on
             one tensor whose .grad is fixed, U(-1, 1). Variants torch-fused, torch-foreach,
             torch-single (foreach=False); a path PyTorch lacks on the CPU (e.g. fused RMSprop)
             is left out with a message. Counter gbps (qt_optim_work's bytes: each stream of
             parameter, gradient and state read or written counted once).
  sparse     suites/sparsity.c's uniform points M=1,K=16384,N=4096 and M=64,K=4096,N=4096 at
             sp 0.9 and 0.95 (--sp): Y = A·W with draws of A rotating (U(0.1, 1), a fraction
             sp of zeros), as many as the suite draws (patterns(): the same rule, so that the
             W rows one draw touches have left the last-level cache when it comes back), each
             timed iteration making 3 calls on the next draws and keeping the fastest, as the
             suite does; plus the suite's warm twins of the M=1 points (param cache=warm: one
             draw repeated). Variants torch-dense (torch.mm), torch-csr
             (A.to_sparse_csr() then torch.sparse.mm, the conversion timed: activations are
             dynamic, as quintet's sparse paths see them) and torch-csr_pre (conversion outside
             the clock: a lower bound no dynamic workload gets).
--thp runs PyTorch with its CPU allocator's transparent-huge-page option (THP_MEM_ALLOC_ENABLE=1:
allocations from 2 MB on are 2 MB-aligned and advised MADV_HUGEPAGE, as quintet's qt_alloc does
from 8 MiB on; off in PyTorch by default) and names its paths torch-PATH-thp, so one database can
hold PyTorch as shipped and PyTorch with huge pages side by side (peer_ratios.py takes the fastest).
Benchmark names are quintet's own "suite/case/variant/params" (params in the suite's order and
format, e.g. sparsity/csr/torch-csr/M=1,K=16384,N=4096,sp=0.9,structure=uniform), so
`quintet import OUT.json` files them next to quintet's cases of the same suite, case and params.
One entry per repetition (time per call in ns); the context carries quintet.threads, so the
imported run records the thread count (torch.set_num_threads(--threads)).

  python3 suites/peers/torch_cpu.py --out torch_cpu_t16.json --threads 16 [--groups attention,optim]
      [--reps 5] [--min-time 0.05] [--t-max 4096] [--sp 0.9,0.95] [--filter REGEX] [--thp] [--list]

Needs PyTorch (>= 2.4 for the fused CPU optimizers); exits 77 with a message when torch is
missing. A case that fails (memory, a missing kernel) is reported on stderr and written as an
error entry; the others go on. --list prints the benchmark names without timing (no torch needed).
"""
import argparse
import math
import os
import platform
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gbench_json  # noqa: E402

SKIP = 77

# ---------------------------------------------------------------- the cases (no torch needed)


def fmt(x):
    """A parameter value as quintet's qt_params_set_double writes it (%.6g)."""
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def params(pairs):
    return ",".join(f"{k}={fmt(v)}" for k, v in pairs)


def attention_cases(t_max):
    out = []
    for D in (64, 128):
        for causal in (0, 1):
            T = 256
            while T <= t_max:
                p = params([("B", 1), ("H", 4), ("T", T), ("D", D), ("causal", causal), ("data", "clustered")])
                out.append(dict(group="attention", suite="attention_scaling", case="dense", path="sdpa", params=p,
                                B=1, H=4, T=T, D=D, causal=causal))
                T *= 2
    return out


# quintet's defaults (impl/optim/optim.c qt_optim_config_default), as torch.optim keyword arguments,
# and qt_optim_work's state streams per element (read + write counted once each).
OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=1e-3), 0),
    "adam": ("Adam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), 2),
    "adamw": ("AdamW", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2), 2),
    "radam": ("RAdam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), 2),
    "rmsprop": ("RMSprop", dict(lr=1e-2, alpha=0.99, eps=1e-8), 1),
    "adagrad": ("Adagrad", dict(lr=1e-2, eps=1e-10), 1),
}
PATHS = ("fused", "foreach", "single")


def optim_cases():
    out = []
    cases = [("step_10m", k, 10000000) for k in OPTIMIZERS]
    cases += [("step_large", k, n) for n in (1 << 20, 1 << 24) for k in ("sgd", "adam", "adamw")]
    cases += [("step_llc", k, llc_step_n()) for k in OPTIMIZERS]
    for case, opt, n in cases:
        for path in PATHS:
            p = params([("optimizer", opt), ("dtype", "f32"), ("n", n)])
            out.append(dict(group="optim", suite="lr_convergence", case=case, path=path, params=p, opt=opt, n=n))
    return out


def llc_bytes():
    """Last-level cache of CPU 0 as sysfs reports it, else 32 MiB (sparsity.c's llc_bytes)."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as f:
            t = f.read().strip()
        mult = {"K": 1024, "M": 1 << 20}.get(t[-1:], 1)
        v = float(t.rstrip("KM")) * mult
        if v > 0:
            return v
    except (OSError, ValueError):
        pass
    return 32.0 * (1 << 20)


def llc_step_n():
    """step_llc's n (lr_convergence.c's lrc_llc_n): parameters + gradient, 8 bytes per element,
    cover twice the LLC, in whole multiples of 2^20 elements, at least 2^20."""
    return max(1 << 20, int(math.ceil(2.0 * llc_bytes() / 8.0 / (1 << 20))) << 20)


def patterns(M, K, N, sp, structured=False, es=4):
    """Draws of A to rotate (sparsity.c's sparse_patterns): between two uses of one draw the
    others touch at least min(2·LLC, 0.95·|W|) bytes of W's rows; 8 … 256, within 64 MiB."""
    wbytes = float(K) * N * es
    f = (1.0 - sp) if structured else 1.0 - sp ** M
    target = min(2.0 * llc_bytes(), 0.95 * wbytes)
    n = 8
    while n < 256 and f > 0 and wbytes * (1.0 - (1.0 - f) ** (n - 1)) < target:
        n += 1
    return max(1, min(n, (64 << 20) // (M * K * es)))


def sparse_cases(sps):
    out = []
    points = [(M, K, N, sp, False) for M, K, N in ((1, 16384, 4096), (64, 4096, 4096)) for sp in sps]
    points += [(1, 16384, 4096, sp, True) for sp in sps]  # the suite's warm twins (cache=warm)
    for M, K, N, sp, warm in points:
        for path, case in (("dense", "dense"), ("csr", "csr"), ("csr_pre", "csr")):
            pp = [("M", M), ("K", K), ("N", N), ("sp", sp), ("structure", "uniform")] + ([("cache", "warm")] if warm else [])
            out.append(dict(group="sparse", suite="sparsity", case=case, path=path, params=params(pp), M=M, K=K, N=N,
                            sp=sp, nv=1 if warm else patterns(M, K, N, sp)))
    return out


PATH_SUFFIX = ""  # "-thp" under --thp


def name_of(c):
    return f"{c['suite']}/{c['case']}/torch-{c['path']}{PATH_SUFFIX}/{c['params']}"


# ---------------------------------------------------------------- timing


def timed_reps(call, reps, min_time):
    """Google Benchmark's way: per repetition, as many iterations as fill min_time (from a
    probe call), the mean seconds per iteration. call() returns its own seconds (so a call can
    time only part of its work, as manual time does)."""
    probe = max(call(), 1e-7)
    iters = max(1, min(100000, int(math.ceil(min_time / probe))))
    out = []
    for _ in range(reps):
        tot = 0.0
        for _ in range(iters):
            tot += call()
        out.append((tot / iters, iters))
    return out


def wall(fn):
    def call():
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    return call


# ---------------------------------------------------------------- the groups (need torch)


class Unavailable(Exception):
    """A path this PyTorch does not have: left out of the file, with a message."""


def attention_setup(torch, c):
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(1)
    B, H, T, D = c["B"], c["H"], c["T"], c["D"]
    gamma = math.sqrt(5.0 / math.sqrt(D))
    centres = torch.randn(B, H, max(1, T // 64), D, generator=g)
    which = torch.randint(0, centres.shape[2], (B, H, T), generator=g)
    c_t = torch.gather(centres, 2, which.unsqueeze(-1).expand(B, H, T, D))
    q = (gamma * (c_t + 0.5 * torch.randn(B, H, T, D, generator=g))).contiguous()
    k = (gamma * (c_t + 0.5 * torch.randn(B, H, T, D, generator=g))).contiguous()
    v = torch.randn(B, H, T, D, generator=g)
    causal = bool(c["causal"])
    fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    fn()
    flops = 4.0 * B * H * T * T * D * (0.5 if causal else 1.0)
    return wall(fn), dict(gflops=flops), dict(useful_flops=flops)


def optim_setup(torch, c):
    cls_name, kw, state_streams = OPTIMIZERS[c["opt"]]
    n = c["n"]
    g = torch.Generator().manual_seed(1)
    p = torch.nn.Parameter(torch.rand(n, generator=g) * 2 - 1)
    p.grad = torch.rand(n, generator=g) * 2 - 1
    path = c["path"]
    extra = dict(fused=True) if path == "fused" else dict(foreach=(path == "foreach"))
    try:  # the first step allocates and touches the state outside the clock, as the suite's setup does
        opt = getattr(torch.optim, cls_name)([p], **kw, **extra)
        opt.step()
    except (TypeError, RuntimeError, ValueError) as ex:  # e.g. no fused RMSprop on the CPU
        raise Unavailable(f"torch.optim.{cls_name}({', '.join(f'{k}={v}' for k, v in extra.items())}): {ex}")
    streams = 3 + 2 * state_streams  # p read + written, g read, each state read + written
    nbytes = 4.0 * n * streams
    return wall(opt.step), dict(gbps=nbytes), dict(bytes=nbytes)


def sparse_setup(torch, c):
    M, K, N, sp = c["M"], c["K"], c["N"], c["sp"]
    g = torch.Generator().manual_seed(1)
    if _W.get("shape") != (K, N):  # one W per shape, shared by its cases (as the suite shares it)
        _W.clear()
        _W.update(shape=(K, N), W=torch.rand(K, N, generator=g) * 2 - 1)
    W = _W["W"]
    draws = []
    for _ in range(c["nv"]):
        a = torch.rand(M, K, generator=g) * 0.9 + 0.1
        a[torch.rand(M, K, generator=g) < sp] = 0.0
        draws.append(a)
    Y = torch.empty(M, N)
    zeros = sum(float(a.eq(0).sum()) for a in draws) / (len(draws) * M * K)
    path = c["path"]
    if path == "csr_pre":
        draws = [a.to_sparse_csr() for a in draws]
    state = dict(next=0)

    def one(a):
        t0 = time.perf_counter()
        if path == "dense":
            torch.mm(a, W, out=Y)
        elif path == "csr":
            torch.sparse.mm(a.to_sparse_csr(), W)
        else:
            torch.sparse.mm(a, W)
        return time.perf_counter() - t0

    def call():  # the fastest of 3 calls on the next draws (sparsity.c's kern_iterate)
        best = math.inf
        for _ in range(3):
            best = min(best, one(draws[state["next"]]))
            state["next"] = (state["next"] + 1) % len(draws)
        return best

    call()
    return call, {}, dict(sparsity_measured=zeros, patterns=len(draws))


_W = {}
UNITS = dict(gflops="GFLOP/s", useful_flops="FLOP", gbps="GB/s", bytes="bytes", sparsity_measured="fraction",
             patterns="count")
SETUP = dict(attention=attention_setup, optim=optim_setup, sparse=sparse_setup)


def run_case(torch, c, args):
    call, rates, values = SETUP[c["group"]](torch, c)  # rates: work per call, per second as counters
    reps = timed_reps(call, args.reps, args.min_time)
    entries = []
    for i, (t, iters) in enumerate(reps):
        e = dict(name=name_of(c), run_name=name_of(c), run_type="iteration", repetitions=len(reps),
                 repetition_index=i, threads=1, iterations=iters, real_time=t * 1e9, cpu_time=t * 1e9,
                 time_unit="ns")
        e.update({k: v / t / 1e9 for k, v in rates.items()}, **values)
        entries.append(e)
    return entries


def error_entry(c, msg):
    return dict(name=name_of(c), run_name=name_of(c), run_type="iteration", repetitions=0, repetition_index=0,
                threads=1, iterations=0, real_time=0, cpu_time=0, time_unit="ns", error_occurred=True,
                error_message=msg[:500])


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def thp_mode():
    """The kernel's transparent-huge-page mode, e.g. 'always [madvise] never' -> 'madvise'."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            m = re.search(r"\[(\w+)\]", f.read())
            return m.group(1) if m else "unknown"
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--groups", default="attention,optim,sparse", help="comma-separated, run in this order")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.05, help="seconds per repetition (at least one call)")
    ap.add_argument("--t-max", type=int, default=4096)
    ap.add_argument("--sp", default="0.9,0.95")
    ap.add_argument("--filter", default="", help="regex: only the benchmarks whose name it matches (re.search)")
    ap.add_argument("--thp", action="store_true",
                    help="PyTorch's allocator asks for transparent huge pages (THP_MEM_ALLOC_ENABLE=1); paths torch-*-thp")
    ap.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    args = ap.parse_args()
    if args.thp:
        global PATH_SUFFIX
        PATH_SUFFIX = "-thp"
        os.environ["THP_MEM_ALLOC_ENABLE"] = "1"  # read by c10's CPU allocator: set before torch is imported
    groups = [g for g in args.groups.split(",") if g]
    bad = [g for g in groups if g not in SETUP]
    if bad:
        ap.error(f"unknown group(s) {bad}: attention, optim, sparse")
    cases = []  # in the order --groups names them (a run stopped by a time limit keeps the first)
    for g in groups:
        if g == "attention":
            cases += attention_cases(args.t_max)
        elif g == "optim":
            cases += optim_cases()
        else:
            cases += sparse_cases([float(s) for s in args.sp.split(",")])
    if args.filter:
        cases = [c for c in cases if re.search(args.filter, name_of(c))]
    if args.list:
        print("\n".join(name_of(c) for c in cases))
        return 0
    if not args.out:
        ap.error("--out is required (unless --list)")
    try:
        import torch
    except ImportError as ex:
        print(f"torch_cpu: skipped: PyTorch is not importable here ({ex})", file=sys.stderr)
        return SKIP
    torch.set_num_threads(args.threads)
    ctx = {"num_cpus": os.cpu_count(), "quintet.threads": str(args.threads), "quintet.profile": "peer",
           "quintet.cpu_model": cpu_model(), "quintet.command_line": " ".join(sys.argv),
           "torch_threads": torch.get_num_threads(),
           "torch_thp_alloc": str(int(args.thp)), "thp_mode": thp_mode(),
           "quintet.units": {suite: UNITS for suite in ("attention_scaling", "lr_convergence", "sparsity")}}
    benches = []
    dump = lambda: gbench_json.write(torch, args.out, benches, ctx)  # after every case

    t_all = time.perf_counter()
    for c in cases:
        t0 = time.perf_counter()
        try:
            es = run_case(torch, c, args)
        except Unavailable as ex:
            print(f"torch_cpu: {name_of(c)}: left out: {ex}", file=sys.stderr, flush=True)
            continue
        except Exception as ex:  # one case's failure is not the run's
            msg = f"{type(ex).__name__}: {ex}".splitlines()[0]
            print(f"torch_cpu: {name_of(c)}: {msg}", file=sys.stderr, flush=True)
            benches.append(error_entry(c, msg))
            dump()
            continue
        benches += es
        dump()
        med = sorted(e["real_time"] for e in es)[len(es) // 2] * 1e-6
        print(f"torch t={args.threads:<2d} {name_of(c):90s} {med:10.4f} ms  ({time.perf_counter() - t0:.1f} s)",
              flush=True)
    print(f"torch_cpu: {len(cases)} cases in {time.perf_counter() - t_all:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
