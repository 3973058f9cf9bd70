#!/bin/bash
# gpu-run-cuda.sh — one call on a GPU machine (the H200 device kind): build, check and time the
# cuda backend's RNG, optimizers and sparse ops, with the PyTorch peers; everything goes to
# $OUT (default ./gpu-out): log.txt (every step's output), h200.db, show.txt, the crossover table
# measured for cuda, and the peers' Google Benchmark JSON (six files: the device tool returns 8).
# Each step has its own time limit so that one slow step cannot eat the lease.
#   cd <tree> && OUT=/tmp/o [STEPS='build tests verify peers run variants'] [FILTER=REGEX]
#       [TARGETS='build/quintet ...'] [PEERS='optim sparse'] [VFILTER=REGEX] [VENV='QT_CUDA_SPARSE_KERNEL=2 ...']
#       ci/gpu-run-cuda.sh [DEPS_PREFIX]
# DEPS_PREFIX: the unpacked Debian packages the GPU machine lacks (ci/gpu-deps.sh), if any;
# STEPS: the steps to take (default all but variants); FILTER: the cases `run` times (default
# the cuda optimizer steps at 100M and the sparse kernel sweep); TARGETS: what `build` makes
# (default all; files such as build/quintet build/tests/sparse/test_sparse build only those);
# PEERS: which PyTorch peers (suites/peers/torch_<name>.py) the peers step runs;
# variants: the cases matching VFILTER timed again with the environment VENV (older kernel
# versions, say) into $OUT/variants.db, so that both sides come from the same machine and call.
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
DEPS=${1:-}
STEPS=${STEPS:-build tests verify peers run}
FILTER=${FILTER:-step_100m|structure=}
TARGETS=${TARGETS:-all}
. "$(dirname "$0")/step.sh"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
case "$TARGETS" in all) step build 150 make -j32 ${DEPS:+QT_DEPS_PREFIX=$DEPS} all ;;
    *) step build 150 env QT_INNER=1 make -j32 ${DEPS:+QT_DEPS_PREFIX=$DEPS} $TARGETS ;; esac
step tests 90 bash -c 'for t in core/test_rng sparse/test_sparse optim/test_optim; do [ -x build/tests/$t ] || continue; build/tests/$t || echo "FAILED $t"; done'
grep -h "cuda fill\|bf16\|over 45\|cuda v3 lamb\|FAILED\|skipped\|Failed\|tests \|asserts" /tmp/step.log | head -30
step verify 60 build/quintet verify optim sparse --backend cuda
grep -i "wrong\|optim\|sparse" /tmp/step.log | tail -12
for p in ${PEERS:-optim sparse}; do
    step peers_$p 60 python3 suites/peers/torch_$p.py --out "$OUT/torch_$p.json"
    grep "^torch" /tmp/step.log
done
step run 150 build/quintet run lr_convergence sparsity --backend cuda --filter "$FILTER" --db "$OUT/h200.db"
build/quintet show --db "$OUT/h200.db" > "$OUT/show.txt" 2>&1
cp results/sparse_crossover_cuda.txt "$OUT/" 2>/dev/null
if [ -n "${VFILTER:-}" ]; then
    step variants 120 env ${VENV:-} build/quintet run lr_convergence sparsity --backend cuda --filter "$VFILTER" \
        --db "$OUT/variants.db"
    build/quintet show --db "$OUT/variants.db" > "$OUT/show_variants.txt" 2>&1
fi
