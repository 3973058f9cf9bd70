/* suite.h — the API a benchmark suite implements, and what the runner offers it.
 *
 * A suite lists its cases for a profile (quick | nightly | paper). A case is
 *   - timed: setup() once, then Google Benchmark calls iterate() in its loop for
 *     each repetition (the runner records `time_s` per repetition, plus `gflops`
 *     and `frac_sgemm` when the case declared its FLOPs with qt_rec_set_work,
 *     `gbps` and `frac_stream` when it declared bytes), then after() once (for
 *     accuracy metrics such as rel_error), then teardown();
 *   - an experiment: experiment() once per seed, recording metrics (one sample
 *     per seed) and step-indexed series (loss curves).
 * After all its cases ran, finish() may derive run-level metrics from the
 * medians of this run (scaling exponents, crossover points) with
 * qt_rec_foreach_result and qt_rec_derived.
 * Every recorded value carries a unit. Ceilings measured by the calibration suite
 * at the start of the same run are available through qt_rec_ceiling. */
#ifndef QUINTET_SUITE_H
#define QUINTET_SUITE_H

#include <stdint.h>

#include "quintet/status.h"
#include "run/params.h"

typedef enum { QT_PROFILE_QUICK = 0, QT_PROFILE_NIGHTLY, QT_PROFILE_PAPER, QT_PROFILE_COUNT } qt_profile_t;

/* "quick" / "nightly" / "paper"; parse returns QT_ERR_ARG for anything else. */
const char *qt_profile_name(qt_profile_t p);
qt_status_t qt_profile_parse(const char *s, qt_profile_t *out);

typedef struct qt_rec qt_rec_t; /* the runner's recording context (opaque) */
typedef struct qt_case qt_case_t;

struct qt_case {
    char name[48];        /* case name within the suite, e.g. "dense" */
    char variant[24];     /* backend: "ref", "cpu", "cuda", "mpi", "nccl" */
    qt_params_t params;   /* parameters; with suite+name+variant they identify the case */
    int experiment;       /* 0: timed; 1: experiment, run once per seed */
    int n_seeds;          /* experiments: seeds run_seed .. run_seed+n_seeds-1 (0 means 1) */
    int manual_time;      /* timed: iterate() returns the seconds it measured (GPU, MPI) */
    double min_time;      /* timed: seconds per repetition (0: the profile's default) */
    int max_repetitions;  /* timed: cap on repetitions for slow cases (0: no cap) */
    const void *spec;     /* suite-private static description of the case */

    /* timed cases */
    qt_status_t (*setup)(const qt_case_t *c, qt_rec_t *r, void **state);
    qt_status_t (*iterate)(void *state, double *seconds); /* *seconds only read if manual_time */
    qt_status_t (*after)(void *state, const qt_case_t *c, qt_rec_t *r); /* optional */
    void (*teardown)(void *state);

    /* experiments */
    qt_status_t (*run_seed)(const qt_case_t *c, qt_rec_t *r, uint64_t seed);
};

typedef struct {
    qt_case_t *items;
    int n, cap;
} qt_case_list_t;

/* Append a zeroed case and return it (NULL when out of memory). */
qt_case_t *qt_case_list_add(qt_case_list_t *l);
/* Release the list's storage. */
void qt_case_list_free(qt_case_list_t *l);
/* Bytes of the last-level cache of CPU 0 as sysfs reports it for this machine or VM slice
 * (/sys/devices/system/cpu/cpu0/cache/index3/size), else 32 MiB: what case sizes that must
 * not stay cache-resident are derived from (sparsity's patterns, lr_convergence's step_llc). */
double qt_suite_llc_bytes(void);

typedef struct {
    const char *name;        /* e.g. "attention_scaling" */
    const char *description; /* one line */
    const char *const *metrics; /* NULL-terminated "metric|unit|meaning" lines, for `quintet list` */
    qt_status_t (*cases)(qt_profile_t profile, qt_case_list_t *out);
    qt_status_t (*finish)(qt_rec_t *r); /* optional */
} qt_suite_t;

/* ---- recording (valid during setup/after/run_seed/finish) ---- */

/* Record one sample of a metric for the current case. The k-th sample of a
 * metric in a case is its repetition k (in an experiment: one per seed). */
void qt_rec_metric(qt_rec_t *r, const char *metric, const char *unit, double value);
/* Record one point of a step-indexed series (e.g. "loss") for the current case and seed. */
void qt_rec_series(qt_rec_t *r, const char *series, int64_t step, double value);
/* Declare the useful work of one iterate() call: FLOPs and bytes moved (0 = not applicable). */
void qt_rec_set_work(qt_rec_t *r, double flops, double bytes);
/* Rename the rate metrics qt_rec_set_work produces (defaults "gflops" and "gbps");
 * the calibration suite uses "sgemm_gflops" and "stream_triad_gbps". */
void qt_rec_set_rate_names(qt_rec_t *r, const char *flops_metric, const char *bytes_metric);
/* Compare the bytes rate with ceiling `ceiling` as metric `frac_metric` (defaults
 * "stream_triad_gbps" and "frac_stream"; a GPU case: "gpu_copy_gbps", "frac_copy"). */
void qt_rec_set_bytes_ceiling(qt_rec_t *r, const char *ceiling, const char *frac_metric);
/* Compare the FLOP rate with ceiling `ceiling` as metric `frac_metric` (defaults
 * "sgemm_gflops_all" and "frac_sgemm"; a GPU case e.g. "gpu_gemm_bf16_gflops", "frac_gemm_bf16"). */
void qt_rec_set_flops_ceiling(qt_rec_t *r, const char *ceiling, const char *frac_metric);
/* A ceiling measured by this run's calibration: "sgemm_gflops_all", "sgemm_gflops_1t",
 * "stream_triad_gbps", ... NAN when not measured. */
double qt_rec_ceiling(qt_rec_t *r, const char *name);
/* Set a ceiling (the calibration suite does this in its finish()). */
void qt_rec_set_ceiling(qt_rec_t *r, const char *name, double value);
/* The run's base seed and the number of OpenMP threads used. */
uint64_t qt_rec_seed(qt_rec_t *r);
int qt_rec_threads(qt_rec_t *r);
/* Print a progress note on stderr, indented under the current case. */
void qt_rec_note(qt_rec_t *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* One finished case's median of one metric, as seen by finish(). */
typedef struct {
    const char *name, *variant;
    const qt_params_t *params;
    const char *metric, *unit;
    double median;
    int n;
} qt_result_t;

/* Call fn for each case of the current suite in this run that has `metric`
 * (NULL: every metric). fn returns non-zero to stop early. */
void qt_rec_foreach_result(qt_rec_t *r, const char *metric,
                           int (*fn)(void *arg, const qt_result_t *res), void *arg);
/* Store a run-level derived metric (e.g. scaling_exponent) as its own case of the
 * current suite, named `name` with variant and params. */
qt_status_t qt_rec_derived(qt_rec_t *r, const char *name, const char *variant, const qt_params_t *params,
                           const char *metric, const char *unit, double value);

#endif
