#!/usr/bin/env bash
# tests/run.sh BIN... — run each CUnit test binary, show its output (with CUnit's
# Run Summary), and finish with one line "N passed, N failed" over the binaries.
# Exits non-zero when any binary failed.
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
    echo "=== $t"
    start=$SECONDS
    if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$t"); fi
    echo "--- $t: $((SECONDS - start)) s"
done
echo
[ "$fail" -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
