#!/usr/bin/env python3
"""torch_fusion.py — the PyTorch peer of suites/fusion_accuracy.c's train_step case on a CUDA GPU.

The same model as quintet's CROSS strategy (quintet/fusion.h) at the tasks' shape (three
modalities: text L=6 F=12, image L=4 F=20, audio L=8 F=6; 2 classes), inputs normalised:
  encoder m:  h = LayerNorm(GELU(Linear(layer_norm(x)))) + e_m + pos_m
  block α←β (one per ordered pair, separate weights):  A = LN_q(h_α), S = LN_k(h_β),
              y1 = h_α + Linear_o(softmax(Q Kᵀ/√d) V) (single head, Q = Linear_q(A), K, V of S),
              y2 = y1 + Linear_2(GELU(Linear_1(LN_2(y1)))),  z_αβ = mean_t y2
  head:       Linear(6d → 2d) → GELU → Linear(2d → 2);  loss: cross_entropy (mean)
with d_ff = 2d, GELU the exact erf form, LayerNorm eps 1e-5, FP32 throughout (TF32 off, as
quintet's cuBLAS calls). One timed step = forward + backward of one batch (gradients set to None
first, as quintet zeroes its gradient tensor; no optimizer step), on inputs already on the GPU,
between two CUDA events (gbench_json.time_cuda), eager PyTorch with nn.Linear / nn.LayerNorm and
F.scaled_dot_product_attention (impl=sdpa) or the explicit softmax(QKᵀ/√d)V (impl=matmul).
Writes Google Benchmark JSON: entries "fusion_accuracy/train_step/torch" with label
strategy=cross,d=D,batch=B,impl=I (quintet's params plus impl), real_time in ms, counter gflops
(quintet's declared work: 3 x the forward FLOPs of qt_fusion_flops, counted the same way here). `quintet import torch_fusion.json --suite fusion_accuracy
--variant torch` files it beside quintet's cuda rows.

  python3 suites/peers/torch_fusion.py --out torch_fusion.json [--sizes 64x256,256x1024,512x2048] [--reps 20]
      [--profile 512x2048]
--profile DxB: after the timings, PyTorch's profiler over 3 steps of that size (each impl): the
CUDA kernels by total time per step (a diagnostic: which cuBLAS kernels, how long the
elementwise ones take), printed, not written to the JSON.
"""
import argparse
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gbench_json  # noqa: E402

LENS, FEATS, CLASSES = (6, 4, 8), (12, 20, 6), 2


def flops(d, B):
    """quintet's qt_fusion_flops (forward) of the cross model at the tasks' shape: matrix products
    2mnk plus attention 4·B·La·Lb·d; a training step counts 3x."""
    f, M = 2 * d, len(LENS)
    t = sum(2.0 * B * L * F * d for L, F in zip(LENS, FEATS))
    pairs = [(a, b) for a in range(M) for b in range(M) if a != b]
    for a, b in pairs:
        ra, rb = B * LENS[a], B * LENS[b]
        t += 2.0 * ra * d * d * 2 + 2.0 * rb * d * d * 2 + 2.0 * ra * d * f * 2 + 4.0 * B * LENS[a] * LENS[b] * d
    t += 2.0 * B * len(pairs) * d * f + 2.0 * B * f * CLASSES
    return t


def build(torch, d, impl):
    nn, F = torch.nn, torch.nn.functional

    class Enc(nn.Module):
        def __init__(self, L, Fm):
            super().__init__()
            self.Fm = Fm
            self.lin, self.ln = nn.Linear(Fm, d), nn.LayerNorm(d)
            self.emb = nn.Parameter(0.1 * torch.randn(d))
            self.pos = nn.Parameter(0.1 * torch.randn(L, d))

        def forward(self, x):
            x = F.layer_norm(x, (self.Fm,))
            return self.ln(F.gelu(self.lin(x))) + self.emb + self.pos

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lnq, self.lnk, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.f1, self.f2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

        def forward(self, ha, hb):
            A, S = self.lnq(ha), self.lnk(hb)
            Q, K, V = self.q(A), self.k(S), self.v(S)
            if impl == "sdpa":
                O = F.scaled_dot_product_attention(Q, K, V)
            else:
                O = torch.softmax(Q @ K.transpose(1, 2) / math.sqrt(d), dim=-1) @ V
            y1 = ha + self.o(O)
            y2 = y1 + self.f2(F.gelu(self.f1(self.ln2(y1))))
            return y2.mean(1)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            M = len(LENS)
            self.pairs = [(a, b) for a in range(M) for b in range(M) if a != b]
            self.encs = nn.ModuleList(Enc(L, Fm) for L, Fm in zip(LENS, FEATS))
            self.blocks = nn.ModuleList(Block() for _ in self.pairs)
            self.l1, self.l2 = nn.Linear(len(self.pairs) * d, 2 * d), nn.Linear(2 * d, CLASSES)

        def forward(self, xs):
            hs = [e(x) for e, x in zip(self.encs, xs)]
            z = torch.cat([blk(hs[a], hs[b]) for blk, (a, b) in zip(self.blocks, self.pairs)], dim=1)
            return self.l2(F.gelu(self.l1(z)))

    return Model()


def profile(torch, step, label, steps=3):
    """CUDA kernel time per step by kernel name, from torch.profiler over `steps` steps."""
    from torch.profiler import ProfilerActivity, profile as tprofile

    step()
    torch.cuda.synchronize()
    with tprofile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
    rows = {}
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA:
            t = rows.setdefault(e.name, [0.0, 0])
            t[0] += e.time_range.elapsed_us() / 1e3
            t[1] += 1
    total = sum(t for t, _ in rows.values())
    print(f"torch profile {label}: {total / steps:.3f} ms of kernels per step", flush=True)
    for name, (t, n) in sorted(rows.items(), key=lambda kv: -kv[1][0])[:25]:
        print(f"  {t / steps:8.3f} ms {n // steps:5d}x {100 * t / total:5.1f}%  {name[:110]}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="64x256,256x1024,512x2048", help="dxB,... (quintet's cuda train_step sizes)")
    ap.add_argument("--impls", default="sdpa,matmul")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--profile", default="", help="DxB: print the profiler's kernel table of that size")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("torch_fusion: skipped: no CUDA device", file=sys.stderr)
        return 77
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(1)
    benches = []
    for size in args.sizes.split(","):
        d, B = (int(v) for v in size.split("x"))
        xs = [torch.randn(B, L, Fm, device="cuda") for L, Fm in zip(LENS, FEATS)]
        y = torch.randint(0, CLASSES, (B,), device="cuda")
        work = 3.0 * flops(d, B)
        for impl in args.impls.split(","):
            model = build(torch, d, impl).cuda()
            params = list(model.parameters())

            def step():
                for p in params:
                    p.grad = None
                torch.nn.functional.cross_entropy(model(xs), y).backward()

            times = gbench_json.time_cuda(torch, step, args.reps, warmup=3)
            med = statistics.median(times)
            label = f"strategy=cross,d={d},batch={B},impl={impl}"
            print(f"torch {label:48s} {med:8.3f} ms {work / med / 1e6:8.0f} GFLOP/s", flush=True)
            benches += gbench_json.entries("fusion_accuracy/train_step/torch", times, label,
                                           gflops=lambda t: work / (t * 1e-3) / 1e9)
            if size == args.profile:
                profile(torch, step, label)
            del model, params
        torch.cuda.empty_cache()
    gbench_json.write(torch, args.out, benches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
