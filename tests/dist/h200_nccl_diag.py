#!/usr/bin/env python3
"""h200_nccl_diag.py — is NCCL itself reliable on this multi-GPU machine? A diagnostic, not a benchmark.

Spawns one process per GPU (torch.distributed, NCCL, NVLink multicast off) and runs ROUNDS all-reduces
at each size 8 B ... 1 MiB (x4) with exact check data, then an f64 MAX of a known value; prints per size
how many values came back wrong, or that the size did not finish within --timeout seconds. Run it once
per NCCL setting to tell a transport fault from a bug in quintet (quintet's own sweep and the torch peer
both stalled after the first sizes on nvidia-h200-x2, 2026-11-30):
  NCCL_NVLS_ENABLE=0 python3 tests/dist/h200_nccl_diag.py [--nproc 2] [--rounds 200]
  NCCL_NVLS_ENABLE=0 NCCL_PROTO=Simple python3 tests/dist/h200_nccl_diag.py
  NCCL_NVLS_ENABLE=0 NCCL_P2P_DISABLE=1 python3 tests/dist/h200_nccl_diag.py
"""
import argparse
import datetime
import os


def worker(rank, world, args):
    import torch
    import torch.distributed as dist
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(args.port))
    torch.cuda.set_device(rank)
    dev = torch.device("cuda", rank)
    dist.init_process_group("nccl", rank=rank, world_size=world, device_id=dev,
                            timeout=datetime.timedelta(seconds=args.timeout))
    b = 8
    while b <= args.max_bytes:
        n = max(1, b // 4)
        i = torch.arange(n, device=dev, dtype=torch.int64)
        send = (1 + (i * 7 + rank * 13) % 15).to(torch.float32)
        want = sum((1 + (i * 7 + r * 13) % 15).to(torch.float32) for r in range(world))
        wrong = 0
        for _ in range(args.rounds):
            buf = send.clone()
            dist.all_reduce(buf)
            wrong += int((buf != want).sum().item())
        m = torch.tensor([float(rank + 1)], device=dev, dtype=torch.float64)
        dist.all_reduce(m, op=dist.ReduceOp.MAX)
        if rank == 0:
            print("diag %-28s %9d B  rounds %d  wrong %d  f64 max %s (want %d)" %
                  (os.environ.get("QT_DIAG_NAME", "default"), b, args.rounds, wrong, m.item(), world), flush=True)
        b *= 4
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--max-bytes", type=int, default=1 << 20)
    ap.add_argument("--timeout", type=int, default=20)
    ap.add_argument("--port", type=int, default=29541)
    args = ap.parse_args()
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
    import torch.multiprocessing as mp
    mp.spawn(worker, args=(args.nproc, args), nprocs=args.nproc)


if __name__ == "__main__":
    main()
