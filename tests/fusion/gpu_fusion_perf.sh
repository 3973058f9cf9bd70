#!/bin/bash
# gpu_fusion_perf.sh — one device call (H200) for the cuda fusion training step against PyTorch,
# binaries built on the VM (no build on the device): the device test (if it fails, again with
# QT_CUDA_FUSION_ATTN=1, kept for the timings when that passes), `verify fusion --backend cuda`,
# fusion_accuracy's cuda train_step at d=64/256/512 and suites/peers/torch_fusion.py in the same
# call, version 1 of the kernels (QT_CUDA_FUSION_V=1) at d=512, and the per-call kernel profile
# at d=512 B=2048 (QT_CUDA_FUSION_PROFILE=1). Each step under a time limit; prints a table last.
#   VM:     make QT_INNER=1 BUILD=build-gpu OPT='-O3 -march=x86-64-v4' build-gpu/quintet build-gpu/tests/fusion/test_fusion
#           strip both into $BIN (with libbenchmark.so.1debian in $BIN/lib), copy suites/peers/{torch_fusion,gbench_json}.py
#           and this folder's fusion_perf_summary.py into $PEERS when the device's tree lacks them
#   device: OUT=$OUT BIN=… PEERS=… [BUDGET=s] [PROFILE_TORCH=512x2048] bash tests/fusion/gpu_fusion_perf.sh
# Files in $OUT: log.txt (every step's output), q.db (v2 + torch rows), q1.db (v1), torch_fusion.json,
# summary.txt. Session 4's two calls ran this script's steps (NOTES.md in impl/fusion/cuda).
set -u
R=$PWD; BIN=${BIN:-$R/build-gpu}; PEERS=${PEERS:-$R/suites/peers}; D=$R/third_party/deb/root
SUMMARY=${SUMMARY:-$PEERS/fusion_perf_summary.py}; [ -f "$SUMMARY" ] || SUMMARY=$R/tests/fusion/fusion_perf_summary.py
export LD_LIBRARY_PATH=$BIN/lib:$D/usr/lib/x86_64-linux-gnu
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 CUDA_VISIBLE_DEVICES=0
BUDGET=${BUDGET:-190}; T0=$SECONDS; mkdir -p "$OUT"
step() { local name=$1 secs=$2 left=$((BUDGET - (SECONDS - T0))); shift 2
  if [ "$left" -lt $((secs / 3)) ]; then echo "== $name: skipped ($left s left)" | tee -a $OUT/log.txt; return 0; fi
  [ "$secs" -gt "$left" ] && secs=$left
  local t=$SECONDS; timeout -k 5 "$secs" "$@" > /tmp/s.log 2>&1; local rc=$?; RC=$rc
  { echo "===== $name: rc=$rc in $((SECONDS - t)) s"; cat /tmp/s.log; } >> $OUT/log.txt
  echo "== $name: rc=$rc in $((SECONDS - t)) s"; grep -E "${PAT:-^Run Summary|asserts|tests |FAIL|wrong|vs ref|training|rror}" /tmp/s.log | tail -n ${TAILN:-8}; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv,noheader
ldd $BIN/quintet | grep "not found" && exit 1
F512='train_step/cuda/.*d=512,'
RC=0; step test 90 $BIN/test_fusion
if [ $RC != 0 ]; then RC=0; step test_attn1 90 env QT_CUDA_FUSION_ATTN=1 $BIN/test_fusion
  [ $RC = 0 ] && { export QT_CUDA_FUSION_ATTN=1; echo "FALLBACK: QT_CUDA_FUSION_ATTN=1 for the timings" | tee -a $OUT/log.txt; }; fi
TAILN=4 step verify 60 $BIN/quintet verify fusion --backend cuda
PAT=x step q2 80 $BIN/quintet run fusion_accuracy --filter 'train_step/cuda/' --db $OUT/q.db
PAT='^torch|^  ' TAILN=60 step torch 120 env PYTHONUNBUFFERED=1 python3 $PEERS/torch_fusion.py --out $OUT/torch_fusion.json ${PROFILE_TORCH:+--profile $PROFILE_TORCH}
[ -s $OUT/torch_fusion.json ] && $BIN/quintet import $OUT/torch_fusion.json --suite fusion_accuracy --variant torch --db $OUT/q.db >> $OUT/log.txt 2>&1
PAT=x step q1 40 env QT_CUDA_FUSION_V=1 $BIN/quintet run fusion_accuracy --filter "$F512" --db $OUT/q1.db
PAT='^cuda fusion profile|^call|^linear|^layernorm|^attention|^gelu|^acc|^add|^pool|^embed|^xent|^mix' TAILN=40 step prof2 40 env QT_CUDA_FUSION_PROFILE=1 $BIN/quintet run fusion_accuracy --filter "$F512" --repetitions 3 --db /tmp/p2.db
python3 $SUMMARY $OUT/q.db $OUT/q1.db | tee $OUT/summary.txt
echo "total $((SECONDS - T0)) s"
