#!/usr/bin/env python3
"""torch_allreduce.py — the PyTorch peer of dist_throughput's coll_allreduce: torch.distributed
all-reduce (NCCL backend, one process per GPU) over the same sizes (8 B ... --max-bytes, x4),
timed the way quintet times its own (one blocking all-reduce per iteration: CUDA synchronize,
host clock, the MAX over ranks), checked with the same seeded data (rank r's element i =
1 + (7i + 13r + seed) mod 15, so the sum is exact: wrong_values counts the misses), written
as Google Benchmark JSON for `quintet import`.

Each size is printed by rank 0 as soon as it is done (flushed), so a run that hangs shows where.
Run on the GPU machine (NVLink multicast stays off):
  NCCL_NVLS_ENABLE=0 torchrun --nproc_per_node 2 suites/peers/torch_allreduce.py --out torch.json
  NCCL_NVLS_ENABLE=0 python3 suites/peers/torch_allreduce.py --out torch.json   (spawns 2 itself)
Benchmark names: dist_throughput/coll_allreduce/torch/bytes=N (suite/case/variant/params, as in
quintet's database); one entry per repetition with real_time in seconds ("time_unit": "s"),
counters algbw_gbps, busbw_gbps (nccl-tests: algbw x 2(n-1)/n), wrong_values, ranks.
"""
import argparse
import json
import os
import platform
import statistics
import time


def check_send(torch, count, rank, seed, device):
    i = torch.arange(count, device=device, dtype=torch.int64)
    return (1 + (i * 7 + rank * 13 + seed) % 15).to(torch.float32)


def worker(local_rank, world, args):
    import torch
    import torch.distributed as dist

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    rank = int(os.environ.get("RANK", local_rank))
    torch.cuda.set_device(local_rank)
    dev = torch.device("cuda", local_rank)
    dist.init_process_group("nccl", rank=rank, world_size=world, device_id=dev)
    n = world
    results = []
    b = 8
    while b <= args.max_bytes:
        count = max(1, b // 4)
        seed = args.seed
        send = check_send(torch, count, rank, seed, dev)
        buf = send.clone()
        for _ in range(args.warmup):
            buf.copy_(send)
            dist.all_reduce(buf)
        torch.cuda.synchronize()
        # correctness on a fresh copy
        buf.copy_(send)
        dist.all_reduce(buf)
        want = sum(check_send(torch, count, r, seed, dev) for r in range(n))
        wrong = torch.tensor([float((buf != want).sum().item())], device=dev)
        dist.all_reduce(wrong)
        reps = []
        target = 0.05 if b >= (4 << 20) else 0.01
        # Every rank must run the same number of all-reduces: a count each rank picked from its
        # own clock let the ranks drift apart by a call, so one rank's timing all-reduce met the
        # other's f64 MAX (inf printed, then a hang). The count comes from rank 0's warm-up time,
        # broadcast; then every repetition runs exactly that many.
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(3):
            dist.all_reduce(buf)
        torch.cuda.synchronize()
        per_call = max((time.perf_counter() - t0) / 3, 1e-7)
        iters = torch.tensor([max(5, min(100000, int(target / per_call)))], device=dev, dtype=torch.int64)
        dist.broadcast(iters, 0)
        iters = int(iters.item())
        for _ in range(args.repetitions):
            times = []
            for _ in range(iters):
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                dist.all_reduce(buf)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            t = torch.tensor([statistics.median(times)], device=dev, dtype=torch.float64)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            reps.append((t.item(), len(times)))
        results.append((b, count * 4, reps, wrong.item()))
        if rank == 0:  # as it goes: a run that stops shows the last size that completed
            t = statistics.median(r[0] for r in reps)
            print("torch allreduce %12d B  %10.2f us  busbw %8.2f GB/s  wrong %d" %
                  (b, t * 1e6, count * 4 / t / 1e9 * 2 * (n - 1) / n, wrong.item()), flush=True)
        del send, buf, want
        b *= 4
    if rank == 0:
        benchmarks = []
        for b, size, reps, wrong in results:
            name = "dist_throughput/coll_allreduce/torch/bytes=%d" % b
            for i, (t, iters) in enumerate(reps):
                algbw = size / t / 1e9
                benchmarks.append({
                    "name": name, "run_name": name, "run_type": "iteration",
                    "repetitions": len(reps), "repetition_index": i, "threads": 1,
                    "iterations": iters, "real_time": t, "cpu_time": t, "time_unit": "s",
                    "algbw_gbps": algbw, "busbw_gbps": algbw * 2 * (n - 1) / n,
                    "wrong_values": wrong, "ranks": n,
                })
        ctx = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host_name": platform.node(),
            "executable": "suites/peers/torch_allreduce.py", "num_cpus": os.cpu_count(),
            "library_build_type": "release", "torch_version": torch.__version__,
            "nccl_version": ".".join(map(str, torch.cuda.nccl.version())),
            "gpu": torch.cuda.get_device_name(0), "ranks": n,
            "NCCL_NVLS_ENABLE": os.environ.get("NCCL_NVLS_ENABLE", "unset"),
        }
        with open(args.out, "w") as f:
            json.dump({"context": ctx, "benchmarks": benchmarks}, f, indent=1)
    dist.barrier()
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="torch_allreduce.json")
    ap.add_argument("--max-bytes", type=int, default=512 << 20)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nproc", type=int, default=2, help="processes to spawn when not under torchrun")
    args = ap.parse_args()
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
    if "LOCAL_RANK" in os.environ:
        worker(int(os.environ["LOCAL_RANK"]), int(os.environ["WORLD_SIZE"]), args)
    else:
        import torch.multiprocessing as mp
        mp.spawn(worker, args=(args.nproc, args), nprocs=args.nproc)


if __name__ == "__main__":
    main()
