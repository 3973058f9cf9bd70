#!/bin/bash
# gpu-check.sh — the whole tree checked in one call on a GPU machine (the H200 device kind):
# build, every test binary (CUDA tests run instead of skipping), `quintet verify --backend cuda`
# for every technique, a short GPU benchmark run (calibration ceilings, the cuda optimizer steps,
# dense and window attention), and, when present and PyTorch is installed, the CPU peer driver
# (ci/h200-cpu-peers.sh). Everything goes to $OUT: log.txt (each step's output), gpu.db, show.txt.
# Each step has its own time limit so one slow step cannot eat the lease.
#   cd <tree> && OUT=/tmp/o ci/gpu-check.sh [DEPS_PREFIX]
# DEPS_PREFIX: the unpacked Debian packages the GPU machine lacks (ci/gpu-deps.sh).
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
DEPS=${1:-}
step() { # name seconds command...
    local name=$1 secs=$2
    shift 2
    local t0=$SECONDS
    timeout "$secs" "$@" > /tmp/step.log 2>&1
    local rc=$?
    { echo "===== $name: rc=$rc in $((SECONDS - t0)) s"; cat /tmp/step.log; } >> "$OUT/log.txt"
    echo "== $name: rc=$rc in $((SECONDS - t0)) s"
    tail -n 3 /tmp/step.log
}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
step build 170 make -j32 ${DEPS:+QT_DEPS_PREFIX=$DEPS} all
step tests 150 make ${DEPS:+QT_DEPS_PREFIX=$DEPS} QT_SKIP_INSTALL=1 test
grep -E "FAILED|^tests:|skip" /tmp/step.log | head -20
step verify 120 build/quintet verify --backend cuda --seed 7
grep -E "WRONG|error:|^verify:" /tmp/step.log | head -20
step run 100 build/quintet run calibration lr_convergence attention_scaling --backend cuda \
    --filter 'gpu_|step_10m|step_large|dense/cuda|window/cuda' --db "$OUT/gpu.db"
build/quintet show --db "$OUT/gpu.db" > "$OUT/show.txt" 2>&1
if [ -x ci/h200-cpu-peers.sh ] && python3 -c 'import torch' 2>/dev/null; then
    step cpu_peers 170 ci/h200-cpu-peers.sh "$OUT/cpu"
fi
