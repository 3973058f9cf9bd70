#!/usr/bin/env python3
"""make_torch_trajectories.py — reference optimizer trajectories from PyTorch for
tests/optim/test_optim.c.

Runs torch.optim's optimizers (float64, CPU, single-tensor path: foreach=False) on the
problems of impl/testing/optim_problems.c and prints, for every configuration, the trajectory
every N steps. The gradients are computed here exactly as problems.c computes them:
  - Rosenbrock (2-d and n-d): plain Python floats, the same operations in the same order,
    so both sides feed bit-identical gradients to the optimizer;
  - quadratic_deep: H is rebuilt here bit for bit (Philox4x32-10 from quintet/rng.h,
    modified Gram-Schmidt in the same order), gradient H @ x by torch.mv (BLAS: the
    summation order may differ from C in the last bit).
Configurations with maximize=True minimise f by handing the optimizer the gradient of -f
(objective=neg in the config line); test_optim.c does the same.

Usage (PyTorch 2.x; no GPU needed):
    python3 make_torch_trajectories.py > torch_trajectories.txt
    python3 make_torch_trajectories.py --check-h   # print H only (no torch needed)

Output format (text):
    # comment lines (versions, date, this script)
    config NAME optimizer=KIND problem=P dim=D steps=S every=E [objective=neg]
           [schedule=KIND sched_key=value ...] torch_option=value ...
    STEP LR LOSS X0 X1 ...        (rows at step 0, every E steps; LR = lr of the next step)
    end
Options use torch's names; betas as "b1,b2"; booleans true/false; floats repr() (round-trip).
"""
import datetime
import inspect
import math
import platform
import sys

M32 = 0xFFFFFFFF
TWO_PI = 6.283185307179586476925286766559


def philox4x32_10(ctr, key):
    """Philox4x32-10 as quintet/rng.h (Random123)."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        hi0, lo0 = p0 >> 32, p0 & M32
        hi1, lo1 = p1 >> 32, p1 & M32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + 0x9E3779B9) & M32
        k1 = (k1 + 0xBB67AE85) & M32
    return c0, c1, c2, c3


def rng_block(seed, stream, block):
    ctr = (block & M32, (block >> 32) & M32, stream & M32, (stream >> 32) & M32)
    return philox4x32_10(ctr, (seed & M32, (seed >> 32) & M32))


def rng_uniform_f64(seed, stream, index):
    w = rng_block(seed, stream, index >> 1)
    hi, lo = w[2 * (index & 1)], w[2 * (index & 1) + 1]
    bits = (hi << 21) ^ (lo >> 11)
    return (float(bits) + 0.5) * (1.0 / 9007199254740992.0)


def rng_normal(seed, stream, index):
    w = rng_block(seed, stream, index >> 1)
    a = (w[0] << 21) ^ (w[1] >> 11)
    b = (w[2] << 21) ^ (w[3] >> 11)
    u1 = (float(a) + 0.5) * (1.0 / 9007199254740992.0)
    u2 = (float(b) + 0.5) * (1.0 / 9007199254740992.0)
    r = math.sqrt(-2.0 * math.log(u1))
    return r * math.sin(TWO_PI * u2) if (index & 1) else r * math.cos(TWO_PI * u2)


def quadratic_deep_h(d=100, seed=42):
    """H = Q diag(lam) Q^T exactly as quad_build() in impl/testing/optim_problems.c."""
    n_small = d * 9 // 10
    lam = []
    for i in range(d):
        u = rng_uniform_f64(seed, 1, i)
        lam.append(u if i < n_small else 30.0 + 30.0 * u)
    # A[i*d + j] = normal(seed, 2, i*d + j); keep columns: col[j][i]
    col = [[0.0] * d for _ in range(d)]
    for i in range(d):
        for j in range(d):
            col[j][i] = 0.0 + 1.0 * rng_normal(seed, 2, i * d + j)
    for j in range(d):
        cj = col[j]
        for k in range(j):
            ck = col[k]
            r = 0.0
            for i in range(d):
                r += ck[i] * cj[i]
            for i in range(d):
                cj[i] -= r * ck[i]
        nrm = 0.0
        for i in range(d):
            nrm += cj[i] * cj[i]
        nrm = math.sqrt(nrm)
        for i in range(d):
            cj[i] /= nrm
    H = [[0.0] * d for _ in range(d)]
    for i in range(d):
        for j in range(i, d):
            s = 0.0
            for k in range(d):
                s += col[k][i] * lam[k] * col[k][j]
            H[i][j] = s
            H[j][i] = s
    return H


def rosenbrock(x):
    """Loss and gradient in the order of rosen() in impl/testing/optim_problems.c."""
    n = len(x)
    g = [0.0] * n
    f = 0.0
    for i in range(n - 1):
        a = 1 - x[i]
        b = x[i + 1] - x[i] * x[i]
        f = f + (100 * b * b + a * a)
        g[i] = g[i] + (-400 * x[i] * b - 2 * a)
        g[i + 1] = g[i + 1] + 200 * b
    return f, g


def fmt(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return ",".join(repr(float(b)) for b in v)
    return repr(float(v))


# (name, optimizer, torch kwargs, problem, dim, steps, every, maximize-objective, schedule)
ROS, QUAD = "rosenbrock", "quadratic_deep"
CONFIGS = [
    ("sgd_plain", "sgd", dict(lr=1e-3), ROS, 2, 4000, 100, None),
    ("sgd_momentum", "sgd", dict(lr=2e-4, momentum=0.9), ROS, 2, 4000, 100, None),
    ("sgd_nesterov", "sgd", dict(lr=2e-4, momentum=0.9, nesterov=True), ROS, 2, 4000, 100, None),
    ("sgd_damp_wd", "sgd", dict(lr=5e-4, momentum=0.5, dampening=0.3, weight_decay=1e-3), ROS, 2, 2500, 100, None),
    ("sgd_maximize", "sgd", dict(lr=1e-3, maximize=True), ROS, 2, 3000, 100, None),
    ("adam_default", "adam", dict(lr=1e-2), ROS, 2, 4000, 100, None),
    ("adam_amsgrad", "adam", dict(lr=1e-2, amsgrad=True), ROS, 2, 4000, 100, None),
    ("adam_wd_betas", "adam", dict(lr=2e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2), ROS, 2, 1500, 100, None),
    ("adam_maximize", "adam", dict(lr=1e-2, maximize=True), ROS, 2, 3000, 100, None),
    ("adamw_wd", "adamw", dict(lr=5e-3, weight_decay=0.1), ROS, 2, 3000, 100, None),
    ("adamw_amsgrad", "adamw", dict(lr=3e-3, amsgrad=True), ROS, 2, 3000, 100, None),
    ("radam_default", "radam", dict(lr=1e-3), ROS, 2, 4000, 100, None),
    ("radam_decoupled", "radam", dict(lr=2e-3, weight_decay=1e-2, decoupled_weight_decay=True), ROS, 2, 4000, 100,
     None),
    ("radam_l2_betas", "radam", dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=1e-3), ROS, 2, 2000, 100, None),
    ("rmsprop_default", "rmsprop", dict(lr=3e-4), ROS, 2, 2000, 100, None),
    ("rmsprop_centered", "rmsprop", dict(lr=3e-4, centered=True), ROS, 2, 2000, 100, None),
    ("rmsprop_momentum", "rmsprop", dict(lr=3e-5, momentum=0.9), ROS, 2, 2000, 100, None),
    ("rmsprop_all", "rmsprop", dict(lr=1e-4, eps=1e-6, weight_decay=1e-3, momentum=0.5, centered=True),
     ROS, 2, 2000, 100, None),
    ("rmsprop_alpha", "rmsprop", dict(lr=1e-4, alpha=0.9, eps=1e-6, weight_decay=1e-3, momentum=0.5, centered=True),
     ROS, 2, 400, 20, None),
    ("adagrad_default", "adagrad", dict(lr=0.1), ROS, 2, 4000, 100, None),
    ("adagrad_all", "adagrad", dict(lr=0.5, lr_decay=1e-3, weight_decay=1e-4, initial_accumulator_value=0.1, eps=1e-8),
     ROS, 2, 4000, 100, None),
    ("adagrad_maximize", "adagrad", dict(lr=0.1, maximize=True), ROS, 2, 2000, 100, None),
    ("rmsprop_maximize", "rmsprop", dict(lr=3e-4, maximize=True), ROS, 2, 2000, 100, None),
    ("radam_maximize", "radam", dict(lr=1e-3, maximize=True), ROS, 2, 2000, 100, None),
    ("adam_rosen6", "adam", dict(lr=1e-2), ROS, 6, 4000, 200, None),
    ("sgd_momentum_rosen6", "sgd", dict(lr=2e-4, momentum=0.9), ROS, 6, 4000, 200, None),
    ("rmsprop_centered_rosen6", "rmsprop", dict(lr=2e-4, centered=True, momentum=0.3), ROS, 6, 2000, 200, None),
    ("sgd_quad", "sgd", dict(lr=0.02), QUAD, 100, 2000, 250, None),
    ("sgd_nesterov_quad", "sgd", dict(lr=0.01, momentum=0.9, nesterov=True), QUAD, 100, 2000, 250, None),
    ("adam_quad", "adam", dict(lr=0.05), QUAD, 100, 2000, 250, None),
    ("adam_amsgrad_quad", "adam", dict(lr=0.05, amsgrad=True, weight_decay=1e-3), QUAD, 100, 2000, 250, None),
    ("adamw_quad", "adamw", dict(lr=0.05, weight_decay=0.01), QUAD, 100, 2000, 250, None),
    ("radam_quad", "radam", dict(lr=0.05), QUAD, 100, 2000, 250, None),
    ("rmsprop_centered_quad", "rmsprop", dict(lr=2e-3, centered=True), QUAD, 100, 500, 50, None),
    ("rmsprop_momentum_quad", "rmsprop", dict(lr=2e-4, momentum=0.9), QUAD, 100, 600, 50, None),
    ("adagrad_quad", "adagrad", dict(lr=0.5), QUAD, 100, 2000, 250, None),
    ("sgd_steplr", "sgd", dict(lr=2e-4, momentum=0.9), ROS, 2, 3000, 100, ("step", dict(step_size=500, gamma=0.5))),
    ("adam_exponentiallr", "adam", dict(lr=2e-2), ROS, 2, 3000, 100, ("exponential", dict(gamma=0.999))),
    ("adam_warmup_cosine", "adam", dict(lr=2e-2), ROS, 2, 3000, 100,
     ("warmup_cosine", dict(warmup=200, start_factor=0.1, t_max=2800, eta_min=1e-4))),
    ("sgd_warmup_cosine_quad", "sgd", dict(lr=0.03, momentum=0.5), QUAD, 100, 1500, 100,
     ("warmup_cosine", dict(warmup=100, start_factor=0.25, t_max=1000, eta_min=0.0))),
]


def make_optimizer(torch, kind, params, kw):
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "radam": torch.optim.RAdam, "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[kind]
    extra = {}
    sig = inspect.signature(cls.__init__).parameters
    if "foreach" in sig:
        extra["foreach"] = False
    if "fused" in sig:
        extra["fused"] = False
    return cls(params, **kw, **extra)


def make_scheduler(torch, opt, sched):
    if sched is None:
        return None
    kind, s = sched
    lrs = torch.optim.lr_scheduler
    if kind == "step":
        return lrs.StepLR(opt, step_size=s["step_size"], gamma=s["gamma"])
    if kind == "exponential":
        return lrs.ExponentialLR(opt, gamma=s["gamma"])
    if kind == "warmup_cosine":
        warm = lrs.LinearLR(opt, start_factor=s["start_factor"], end_factor=1.0, total_iters=s["warmup"])
        cos = lrs.CosineAnnealingLR(opt, T_max=s["t_max"], eta_min=s["eta_min"])
        return lrs.SequentialLR(opt, schedulers=[warm, cos], milestones=[s["warmup"]])
    raise ValueError(kind)


def run_config(torch, cfg, H):
    name, kind, kw, problem, dim, steps, every, sched = cfg
    maximize = bool(kw.get("maximize", False))
    if problem == ROS:
        x0 = [-1.2 if i % 2 == 0 else 1.0 for i in range(dim)]
    else:
        x0 = [1.0] * dim
    p = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    opt = make_optimizer(torch, kind, [p], kw)
    sch = make_scheduler(torch, opt, sched)

    def loss_grad(x):
        if problem == ROS:
            f, g = rosenbrock(x.tolist())
            return f, torch.tensor(g, dtype=torch.float64)
        g = torch.mv(H, x)
        return 0.5 * float(torch.dot(x, g)), g

    head = ["config", name, "optimizer=" + kind, "problem=" + problem, "dim=%d" % dim, "steps=%d" % steps,
            "every=%d" % every]
    if maximize:
        head.append("objective=neg")
    if sched is not None:
        head.append("schedule=" + sched[0])
        head += ["%s=%s" % (k, v if isinstance(v, int) else fmt(v)) for k, v in sched[1].items()]
    head += ["%s=%s" % (k, fmt(v)) for k, v in kw.items()]
    lines = [" ".join(head)]

    def record(step):
        x = p.detach()
        f, _ = loss_grad(x)
        lr = opt.param_groups[0]["lr"]
        lines.append(" ".join([str(step), fmt(lr), fmt(f)] + [repr(float(v)) for v in x.tolist()]))

    record(0)
    for t in range(1, steps + 1):
        with torch.no_grad():
            _, g = loss_grad(p.detach().clone())
        p.grad = -g if maximize else g
        opt.step()
        if sch is not None:
            sch.step()
        if t % every == 0 or t == steps:
            record(t)
    lines.append("end")
    return lines


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check-h":
        for row in quadratic_deep_h():
            print(" ".join(repr(v) for v in row))
        return 0
    import torch
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    H = torch.tensor(quadratic_deep_h(), dtype=torch.float64)
    print("# quintet reference trajectories from PyTorch torch.optim (float64, CPU, foreach=False, fused=False)")
    print("# torch_version: %s" % torch.__version__)
    print("# python_version: %s" % platform.python_version())
    print("# host: %s" % platform.platform())
    print("# date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    print("# script: tests/optim/make_torch_trajectories.py (quintet)")
    print("# rows: STEP LR LOSS X0 X1 ... ; LR = the lr the next step uses (after scheduler.step())")
    sys.stdout.flush()
    failed = 0
    for cfg in CONFIGS:
        try:
            print("\n".join(run_config(torch, cfg, H)))
        except Exception as e:  # keep going: one bad config must not cost the others
            failed += 1
            print("# error in config %s: %s: %s" % (cfg[0], type(e).__name__, e))
        sys.stdout.flush()
    print("# configs: %d, failed: %d" % (len(CONFIGS), failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
