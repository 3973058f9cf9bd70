#!/usr/bin/env bash
# tests/attention/cuda_attn_run.sh OUTDIR — one device call's worth of CUDA attention work on
# the H200 machine: GPU state (clocks, power, temperature, throttle reasons) before and after,
# build the standalone driver with plain nvcc (no quintet dependencies needed), validate every
# kernel version and time them (build/cuda-attn-bench), then the PyTorch peer on the same shapes
# (suites/peers/torch_attention.py). Everything lands in OUTDIR; the tables end the output.
#   run from the repository root:  tests/attention/cuda_attn_run.sh "$OUT"
set -uo pipefail
out=${1:?usage: cuda_attn_run.sh OUTDIR}
mkdir -p "$out"
q='--query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active'
nvidia-smi $q --format=csv > "$out/gpu_state.csv" 2>&1
gencode=${NVCC_GENCODE:--arch=sm_90}
nvcc -O3 $gencode -Xptxas -v -Iimpl/attention/cuda -o /tmp/cuda-attn-bench impl/attention/cuda/attn_*.cu \
    tests/attention/cuda_attn_bench.cu -lcublas > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 2; }
/tmp/cuda-attn-bench "$out/cuda_attn.csv" 2>&1 | tee "$out/bench.log"
rc=$?
nvidia-smi $q --format=csv,noheader >> "$out/gpu_state.csv" 2>&1
if [ "${SKIP_TORCH:-0}" != 1 ]; then
    PYTHONUNBUFFERED=1 timeout ${TORCH_TIMEOUT:-300} python3 suites/peers/torch_attention.py \
        --out "$out/torch_attention.json" 2>&1 | grep -v Warning | tee "$out/torch.log"
fi
nvidia-smi $q --format=csv,noheader >> "$out/gpu_state.csv" 2>&1
echo "=== summary"
grep -E "^(FAIL|time|ceilings)|failure" "$out/bench.log"
grep -E "^torch" "$out/torch.log" 2>/dev/null
cat "$out/gpu_state.csv"
exit $rc
