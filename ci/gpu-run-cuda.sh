#!/bin/bash
# gpu-run-cuda.sh — one call on a GPU machine (the H200 device kind): build, check and time the
# cuda backend's RNG, optimizers and sparse ops, with the PyTorch peers; everything goes to
# $OUT (default ./gpu-out): log.txt (every step's output), h200.db, show.txt, the crossover table
# measured for cuda, and the peers' Google Benchmark JSON (six files: the device tool returns 8).
# Each step has its own time limit so that one slow step cannot eat the lease.
#   cd <tree> && OUT=/tmp/o [STEPS='build tests verify peers run'] [FILTER=REGEX] ci/gpu-run-cuda.sh [DEPS_PREFIX]
# DEPS_PREFIX: the unpacked Debian packages the GPU machine lacks (ci/gpu-deps.sh), if any;
# STEPS: the steps to take (default all); FILTER: the cases `run` times (default the cuda
# optimizer steps at 100M and the sparse kernel sweep).
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
DEPS=${1:-}
STEPS=${STEPS:-build tests verify peers run}
FILTER=${FILTER:-step_100m|structure=}
step() { # name seconds command...
    local name=$1 secs=$2
    case " $STEPS " in *" ${name%%_*} "*) ;; *) return 0 ;; esac
    shift 2
    local t0=$SECONDS
    timeout "$secs" "$@" > /tmp/step.log 2>&1
    local rc=$?
    { echo "===== $name: rc=$rc in $((SECONDS - t0)) s"; cat /tmp/step.log; } >> "$OUT/log.txt"
    echo "== $name: rc=$rc in $((SECONDS - t0)) s"
    tail -n 4 /tmp/step.log
}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
step build 150 make -j32 ${DEPS:+QT_DEPS_PREFIX=$DEPS} all
step tests 90 bash -c 'for t in core/test_rng sparse/test_sparse optim/test_optim; do build/tests/$t || echo "FAILED $t"; done'
grep -h "cuda fill\|bf16\|over 45\|cuda v3 lamb\|FAILED\|skipped" /tmp/step.log | head -30
step verify 60 build/quintet verify optim sparse --backend cuda
grep -i "wrong\|optim\|sparse" /tmp/step.log | tail -12
step peers_optim 60 python3 suites/peers/torch_optim.py --out "$OUT/torch_optim.json"
grep "^torch" /tmp/step.log
step peers_sparse 40 python3 suites/peers/torch_sparse.py --out "$OUT/torch_sparse.json"
grep "^torch" /tmp/step.log
step run 150 build/quintet run lr_convergence sparsity --backend cuda --filter "$FILTER" --db "$OUT/h200.db"
build/quintet show --db "$OUT/h200.db" > "$OUT/show.txt" 2>&1
cp results/sparse_crossover_cuda.txt "$OUT/" 2>/dev/null
