#!/usr/bin/env bash
# tests/run.sh BIN... — run each CUnit test binary, show its output (with CUnit's
# Run Summary), and finish with one line "N passed, N failed" over the binaries.
# Exits non-zero when any binary failed.
# Binaries under dist/ run under MPI: $QT_MPIRUN (set by the Makefile when the mpi backend is
# built, e.g. "mpirun --allow-run-as-root --oversubscribe") with 2 and then 4 ranks, one thread
# each; with QT_MPIRUN empty they run once, alone, and report that they skip.
set -u
pass=0; fail=0; failed=()
run_one() { # NAME COMMAND...
    local name=$1; shift
    echo "=== $name"
    local start=$SECONDS
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$name"); fi
    echo "--- $name: $((SECONDS - start)) s"
}
# A test where one rank kills itself: mpirun must not abort the job on it, and mpirun's own exit
# status is the dead rank's, so the verdict is the CUnit failure count rank 0 writes.
run_kill() { # NP BIN
    local v; v=$(mktemp)
    $QT_MPIRUN -np "$1" --mca orte_abort_on_non_zero_status 0 -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 \
        -x QT_VERDICT="$v" "$2"
    local verdict; verdict=$(cat "$v" 2>/dev/null); rm -f "$v"
    echo "(mpirun's status is the killed rank's; rank 0's verdict: ${verdict:-none})"
    [ "$verdict" = 0 ]
}
for t in "$@"; do
    if [[ $t == */dist/* && -n ${QT_MPIRUN:-} ]]; then
        for np in 2 4; do
            if [[ $t == *_kill ]]; then # a rank dies on purpose: see tests/dist/test_dist_kill.c
                run_one "$t (mpirun -np $np)" run_kill "$np" "$t"
                continue
            fi
            run_one "$t (mpirun -np $np)" $QT_MPIRUN -np "$np" -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 \
                -x QT_TEST_SEED "$t"
        done
    else
        run_one "$t" "$t"
    fi
done
echo
[ "$fail" -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
