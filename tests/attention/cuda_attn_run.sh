#!/usr/bin/env bash
# tests/attention/cuda_attn_run.sh OUTDIR [BUILD] — one device call's worth of CUDA attention work on
# the H200 machine, each step under its own time limit and skipped once the call's time is short:
#   1. GPU state (nvidia-smi: clocks, power, temperature, throttle reasons) before and after;
#   2. the binaries: BUILD (default build-gpu) as carried from a build machine when they load
#      here (ldd), else built here (make BUILD=... with QT_DEPS_PREFIX=$DEPS when set);
#   3. build/tests/attention/test_attention_cuda (cuda vs ref, every variant, f32/bf16/f16;
#      QT_CUDA_ATTN_KERNEL=7, 9, 10 repeat the bf16/f16 part on those kernel versions);
#   4. quintet verify attention --backend cuda;
#   5. cuda-attn-bench: every dense/window kernel version validated, then timed, with the
#      cuBLAS bf16 GEMM and copy ceilings of the same process;
#   6. the PyTorch peer (suites/peers/torch_attention.py, --cases targets) imported as variant torch;
#   7. quintet run calibration (GPU ceilings) + attention_scaling's GPU sweep (nightly grid,
#      B 1, H 8, T 4096…131072) into OUTDIR/gpu.db, then `quintet show`.
# Everything lands in OUTDIR (log.txt holds each step's output); a short table ends the output.
# STEPS="tests bench ..." runs only the steps named; BENCH_ARGS (default --quick) go to the bench.
#   run from the repository root:  DEPS=$PWD/third_party/deb/root tests/attention/cuda_attn_run.sh "$OUT"
set -u
out=${1:?usage: cuda_attn_run.sh OUTDIR [BUILD]}
B=${2:-build-gpu}
BUDGET=${BUDGET_S:-230} # seconds this script may take in all
mkdir -p "$out"
t_start=$SECONDS
q='--query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active'
nvidia-smi $q --format=csv > "$out/gpu_state.csv" 2>&1
step() { # step NAME SECONDS COMMAND...: run unless fewer than SECONDS/2 are left (or $STEPS omits NAME)
    local name=$1 secs=$2 left=$((BUDGET - (SECONDS - t_start)))
    shift 2
    if [ -n "${STEPS:-}" ]; then case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac; fi
    if [ "$left" -lt $((secs / 2)) ]; then echo "== $name: skipped ($left s left)"; echo "== $name: skipped" >> "$out/log.txt"; return 0; fi
    [ "$secs" -gt "$left" ] && secs=$left
    local t0=$SECONDS
    timeout "$secs" "$@" > /tmp/step.log 2>&1
    local rc=$?
    { echo "===== $name: rc=$rc in $((SECONDS - t0)) s"; cat /tmp/step.log; } >> "$out/log.txt"
    echo "== $name: rc=$rc in $((SECONDS - t0)) s"
    tail -n ${TAILN:-3} /tmp/step.log
}
export LD_LIBRARY_PATH=${CARRY_LIBS:-}${CARRY_LIBS:+:}${DEPS:+$DEPS/usr/lib/x86_64-linux-gnu}
if [ -x "$B/quintet" ] && ! ldd "$B/quintet" "$B/tests/attention/test_attention_cuda" | grep -q "not found"; then
    echo "== binaries: carried ($B)"
else
    ldd "$B/quintet" 2>&1 | grep "not found" | head -3
    B=build
    step build 150 make -j16 QT_INNER=1 ${DEPS:+QT_DEPS_PREFIX=$DEPS} BUILD=$B $B/quintet \
        $B/tests/attention/test_attention_cuda $B/cuda-attn-bench
fi
[ -x "$B/cuda-attn-bench" ] || step bench_build 60 make -j16 QT_INNER=1 ${DEPS:+QT_DEPS_PREFIX=$DEPS} BUILD=$B $B/cuda-attn-bench
TAILN=12 step tests 30 "$B/tests/attention/test_attention_cuda"
TAILN=4 step tests_v7 15 env QT_CUDA_ATTN_KERNEL=7 "$B/tests/attention/test_attention_cuda"
TAILN=4 step tests_v9 15 env QT_CUDA_ATTN_KERNEL=9 "$B/tests/attention/test_attention_cuda"
TAILN=4 step tests_v10 15 env QT_CUDA_ATTN_KERNEL=10 "$B/tests/attention/test_attention_cuda"
TAILN=2 step verify 25 "$B/quintet" verify attention --backend cuda --seed 7
TAILN=0 step bench 45 "$B/cuda-attn-bench" "$out/bench.csv" ${BENCH_ARGS:---quick}
if [ "${SKIP_TORCH:-0}" != 1 ]; then
    step torch 50 env PYTHONUNBUFFERED=1 python3 suites/peers/torch_attention.py --cases targets --reps 10 \
        --out "$out/torch_attention.json"
    [ -s "$out/torch_attention.json" ] &&
    "$B/quintet" import "$out/torch_attention.json" --suite attention_scaling --variant torch --db "$out/gpu.db" >> "$out/log.txt" 2>&1
fi
step run 80 "$B/quintet" run calibration attention_scaling --profile nightly --repetitions 3 \
    --filter 'gpu_|/cuda/B=1,H=8,' --db "$out/gpu.db"
[ -s "$out/gpu.db" ] && "$B/quintet" show --db "$out/gpu.db" > "$out/show.txt" 2>&1
nvidia-smi $q --format=csv,noheader >> "$out/gpu_state.csv" 2>&1
echo "=== summary ($((SECONDS - t_start)) s)"
grep -E "^(FAIL|ceilings)|failure|^time " "$out/log.txt" | head -60
grep -E "^torch|^verify:|Run Summary|asserts|tests " "$out/log.txt" | head -12
cat "$out/gpu_state.csv"
