#!/usr/bin/env bash
# fuzz/run.sh — build and run every libFuzzer target fuzz/fuzz_*.c (what `make fuzz` calls).
#
# Each target names what it links in its header comment: a line "fuzz-sources: FILE..."
# (project sources, compiled with it) and "fuzz-libs: -lX..." (system libraries). Each is
# built with clang -fsanitize=fuzzer,address,undefined into build-fuzz/NAME and run for
# FUZZ_SECONDS seconds (default 60) over the corpus build-fuzz/corpus/NAME (kept between
# runs; seeded from build-fuzz/seeds/NAME, which this script makes for fuzz_store_open).
# Crash inputs go to build-fuzz/artifacts/NAME/. Exits non-zero when any target failed to
# build or found a crash, leak or sanitizer report.
# Env: QT_DEPS_INC (include and -D flags, from make: the project's INC and DEFS, including
# the build/gen folder with schema_sql.h), FUZZ_SECONDS, FUZZ_ONLY (run only targets whose name contains it), CLANG (default clang).
set -u
cd "$(dirname "$0")/.." || exit 2
if [ -z "${QT_DEPS_INC:-}" ]; then
    echo "fuzz/run.sh: QT_DEPS_INC is not set; run it through 'make fuzz'" >&2
    exit 2
fi
CLANG=${CLANG:-clang}
SECS=${FUZZ_SECONDS:-60}
OUT=build-fuzz
FLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
mkdir -p "$OUT"
command -v "$CLANG" >/dev/null || { echo "fuzz/run.sh: $CLANG not found (apt-get install clang)" >&2; exit 2; }

# Seed databases for fuzz_store_open: small pages keep inputs short.
make_store_seeds() {
    local d=$OUT/seeds/fuzz_store_open
    rm -rf "$d" && mkdir -p "$d"
    command -v sqlite3 >/dev/null || { echo "fuzz/run.sh: no sqlite3 program: store seeds skipped"; return; }
    local rows="INSERT INTO runs (uuid, status, host, pid, started_at) VALUES ('seed-1', 'running', 'h', 1, 1);
INSERT INTO cases (run_id, suite, name, status) VALUES (1, 'calibration', 'sgemm', 'ok');
INSERT INTO samples VALUES (1, 'sgemm_gflops', 'GFLOP/s', 0, 10.0), (1, 'sgemm_gflops', 'GFLOP/s', 1, 12.0);
INSERT INTO series VALUES (1, 'loss', 0, 0, 1.5);
INSERT INTO run_provenance VALUES (1, 'lib.sqlite', '3');
INSERT INTO counter_availability VALUES (1, 'PAPI_TOT_INS', 0, 'disabled');"
    { echo "PRAGMA page_size = 512;"; cat results/schema.sql; echo "$rows"
      echo "INSERT INTO case_stats VALUES (1, 'sgemm_gflops', 'GFLOP/s', 2, 11, 11, 1.4, 10, 12, 10.5, 11.5);"
    } | sqlite3 "$d/current.db"
    { echo "PRAGMA page_size = 512;"; sed '/^-- @version 2/,$d' results/schema.sql; echo "$rows"; } | sqlite3 "$d/v1.db"
    cp "$d/current.db" "$d/wal.db" && sqlite3 "$d/wal.db" "PRAGMA journal_mode = WAL;" >/dev/null
    printf 'PRAGMA page_size = 512; CREATE TABLE t (x); INSERT INTO t VALUES (1);' | sqlite3 "$d/foreign.db"
    # hostile: a recursive view where table runs belongs (refused by the exact schema check)
    cp "$d/current.db" "$d/view.db" && sqlite3 "$d/view.db" "PRAGMA foreign_keys=off; CREATE TABLE runs_real AS
SELECT * FROM runs; DROP TABLE runs; CREATE VIEW runs AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1
FROM c) SELECT r.* FROM runs_real r, c;"
}

fail=0
for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    case "$name" in *"${FUZZ_ONLY:-}"*) ;; *) continue ;; esac
    sources=$(sed -n 's/^.*fuzz-sources:\([^*]*\).*$/\1/p' "$src" | head -n 1)
    libs=$(sed -n 's/^.*fuzz-libs:\([^*]*\).*$/\1/p' "$src" | head -n 1)
    echo "=== $name: building ($sources)"
    # shellcheck disable=SC2086 # word splitting of the flag lists is intended
    if ! $CLANG $FLAGS $QT_DEPS_INC -o "$OUT/$name" "$src" $sources $libs; then
        echo "=== $name: BUILD FAILED"; fail=1; continue
    fi
    [ "$name" = fuzz_store_open ] && make_store_seeds
    corpus=$OUT/corpus/$name artifacts=$OUT/artifacts/$name
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [ -d "$OUT/seeds/$name" ] && seeds=("$OUT/seeds/$name")
    echo "=== $name: fuzzing for $SECS s"
    "$OUT/$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]}" >"$OUT/$name.log" 2>&1
    rc=$?
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|==[0-9]+==ERROR)' "$OUT/$name.log" | head -n 8
    found=$(find "$artifacts" -type f | wc -l)
    if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
        echo "=== $name: FOUND $found crash input(s) (exit $rc): see $artifacts and $OUT/$name.log"; fail=1
    else
        echo "=== $name: no crashes ($(find "$corpus" -type f | wc -l) corpus inputs)"
    fi
done
exit $fail
