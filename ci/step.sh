# step.sh — sourced by the GPU-call scripts (ci/gpu-check.sh, ci/gpu-run-cuda.sh): `step NAME SECONDS
# COMMAND...` runs COMMAND under a time limit, appends its output to $OUT/log.txt, prints its status
# and last lines; with $STEPS set, only steps whose name (before any '_') is listed run.
step() {
    local name=$1 secs=$2
    if [ -n "${STEPS:-}" ]; then
        case " $STEPS " in *" ${name%%_*} "*) ;; *) return 0 ;; esac
    fi
    shift 2
    local t0=$SECONDS
    timeout "$secs" "$@" > /tmp/step.log 2>&1
    local rc=$?
    { echo "===== $name: rc=$rc in $((SECONDS - t0)) s"; cat /tmp/step.log; } >> "$OUT/log.txt"
    echo "== $name: rc=$rc in $((SECONDS - t0)) s"
    tail -n 4 /tmp/step.log
}
