#!/bin/bash
# h200_nccl.sh — issue 15's checks on a GPU machine in ONE device call, with binaries built on the
# Debian build VM (Debian 12 glibc/libs run on the GPU machine's Ubuntu 24.04; Google Benchmark's
# Debian library travels in BIN/lib, the other missing Debian libraries in DEPS (ci/gpu-deps.sh)).
#   OUT=/tmp/o tests/dist/h200_nccl.sh BIN DEPS [RANKS]
# BIN holds quintet, test_nccl and lib/ (made on the VM by
#   make QT_INNER=1 BUILD=build-gpu OPT='-O3 -march=x86-64-v3' build-gpu/quintet build-gpu/tests/dist/test_nccl);
# RANKS (default 1): the MPI ranks, one per GPU. Steps (each under a time limit, output in
# $OUT/log.txt): test_nccl (collectives, host buffers, split, the GPU top-k against the host
# compressor, GPU DP training against the CPU path), then the dist_throughput all-reduce sweep and
# the GPU training cases on the nccl backend into $OUT/nccl.db (calibration named, so that the
# filter leaves it out), then the PyTorch peer up to 8 MiB (torch.json). On 2 GPUs: RANKS=2 gives the 1 vs 2 GPU samples/s (train_dp k=1, k=2).
set -u
BIN=$1
DEPS=$2
RANKS=${3:-1}
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$BIN/lib:$DEPS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export NCCL_NVLS_ENABLE=0 QT_DIST_TIMEOUT_S=${QT_DIST_TIMEOUT_S:-30} QT_DIST_VERBOSE=1
. "$(dirname "$0")/../../ci/step.sh"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
if ldd "$BIN/quintet" "$BIN/test_nccl" | grep -q "not found"; then
    ldd "$BIN/quintet" | grep "not found"
    echo "carried binaries do not load here"; exit 1
fi
MPIRUN="mpirun --allow-run-as-root --oversubscribe -np $RANKS -x LD_LIBRARY_PATH -x NCCL_NVLS_ENABLE -x QT_DIST_TIMEOUT_S"
step test_nccl 60 $MPIRUN "$BIN/test_nccl"
grep -E "gpu dp mlp|differs|difference|FAIL|asserts|tests " /tmp/step.log | head -20
step sweep 75 "$BIN/quintet" run calibration dist_throughput --backend nccl --ranks "$RANKS" \
    --filter 'coll_allreduce|train' --repetitions 3 --db "$OUT/nccl.db"
"$BIN/quintet" show --db "$OUT/nccl.db" > "$OUT/show.txt" 2>&1
grep -E "coll_allreduce(_bare)?/nccl.*(bytes=(8|32|128|512|8388608|536870912)[^0-9])|train" "$OUT/show.txt" | \
    grep -E "time_s|busbw|algbw|wrong|samples_per_s|final_loss|comm_frac" | head -40
# the PyTorch peer in the same call (torch.distributed NCCL, the same sizes and check data): the
# small-message latency ratio quintet / torch at the same rank count
if python3 -c 'import torch' 2>/dev/null; then
    step torch ${QT_TORCH_S:-60} env PYTHONUNBUFFERED=1 python3 suites/peers/torch_allreduce.py --nproc "$RANKS" \
        --max-bytes ${QT_TORCH_MAX_BYTES:-8388608} --out "$OUT/torch.json"
    grep "torch allreduce" /tmp/step.log
fi
