/* gbjson.h — Google Benchmark's JSON format (what `--benchmark_out_format=json` writes), out of
 * and into the quintet store, read and written with jansson.
 *
 * Out (`quintet show RUN --format gbench-json`): {"context": {...}, "benchmarks": [...]} where the
 * context has Google Benchmark's keys (date, host_name, executable, num_cpus, mhz_per_cpu,
 * cpu_scaling_enabled, caches, load_avg, library_build_type) plus every provenance field of the
 * run as "quintet.<key>"; each case is one benchmark named "suite/case/variant/params" with one
 * "iteration" entry per repetition (real_time, cpu_time in ns, iterations, every other metric as a
 * user counter) and, from 2 repetitions on, the aggregates mean, median, stddev and cv; a failed or
 * skipped case is one entry with error_occurred. Experiments (no time_s) give real_time = wall_s.
 *
 * In (`quintet import FILE.json`): one file = one run (status completed). Entries are grouped by
 * run_name; a name "suite/case/variant/k=v,..." (quintet's own export) is split back, any other
 * name "family/arg/..." becomes suite --suite (default "gbench"), case = family, variant --variant
 * (default "peer"), params from the rest ("k:v" → k=v, a bare value → argN=v; threads:N → threads=N;
 * repeats:, min_time:, iterations:, manual_time, real_time, process_time dropped). Per repetition:
 * time_s (real_time converted from time_unit), cpu_time_s, iterations and each user counter as a
 * metric; aggregates are used only for a benchmark that has no per-repetition entries
 * (--benchmark_report_aggregates_only: its median, else mean, as one sample). Errors become failed
 * cases. The context becomes provenance: "quintet.<key>" back to <key> (and the run's fixed
 * fields), any other key as "context.<key>" (arrays and objects as compact JSON), plus
 * imported_from. The run's uuid is the context's quintet.uuid, else derived from a hash of the file,
 * so importing one file twice adds nothing.
 *
 * Built without jansson (mk/build.mk detects libjansson-dev), both directions fail with a message
 * naming the missing library. Tested by tests/harness/test_gbjson.c (`make test`). */
#ifndef QUINTET_GBJSON_H
#define QUINTET_GBJSON_H

#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/* Write run_id of s as Google Benchmark JSON to f. */
qt_status_t qt_gbjson_write(qt_store_t *s, int64_t run_id, FILE *f);

/* How foreign names map onto cases (NULL: "gbench" and "peer"). */
typedef struct {
    const char *suite, *variant;
} qt_gbjson_import_opts_t;

/* Import one Google Benchmark JSON file as a run of s. *run_id = the new run (0 when the file's run
 * was already present: *present = 1); *n_cases = the cases stored. */
qt_status_t qt_gbjson_import(qt_store_t *s, const char *path, const qt_gbjson_import_opts_t *o, int64_t *run_id,
                             int *present, int *n_cases);

/* 1 when path's content looks like JSON (first non-blank byte '{'), 0 otherwise (e.g. SQLite). */
int qt_gbjson_sniff(const char *path);

/* jansson's version ("2.14"), or "none: built without jansson (libjansson-dev)". */
const char *qt_gbjson_library(void);

#endif
