/* compare.h — the regression decision of `quintet compare` for one (case, metric):
 * verdicts, the metric-direction rule, the between-run noise estimate and the test.
 *
 * Test (qt_compare_decide): a difference is significant when ALL of
 *   1. the two-sided Mann-Whitney U test on the raw repetitions gives p < alpha;
 *   2. the effect |median_new / median_base - 1| exceeds threshold (default 0.05);
 *   3. when a baseline noise figure is given (--baseline-runs N >= 2), the effect exceeds it.
 * A significant difference is a regression or an improvement by the metric's direction
 * (qt_metric_direction), or `changed` for metrics without one. Fewer than
 * QT_COMPARE_MIN_REPS repetitions on a side gives `insufficient`. */
#ifndef QUINTET_COMPARE_H
#define QUINTET_COMPARE_H

#include <stddef.h>

#include "quintet/status.h"

#define QT_COMPARE_MIN_REPS 3

typedef enum {
    QT_VERDICT_REGRESSION,
    QT_VERDICT_IMPROVEMENT,
    QT_VERDICT_UNCHANGED,
    QT_VERDICT_CHANGED,
    QT_VERDICT_ADDED,
    QT_VERDICT_REMOVED,
    QT_VERDICT_INSUFFICIENT,
    QT_VERDICT_COUNT
} qt_verdict_t;

typedef struct {
    double alpha;     /* significance level of the U test, in (0, 1) */
    double threshold; /* minimum relative effect, >= 0 (0.05 = 5%) */
} qt_compare_opts_t;

typedef struct {
    qt_verdict_t verdict;
    int n_base, n_new;                /* repetitions that are not NaN */
    double median_base, median_new;
    double ratio;                     /* median_new / median_base (NaN when undefined) */
    double u, p;                      /* U of the base sample, two-sided p (NaN when not tested) */
    double noise;                     /* between-run noise used (NaN when none) */
    int p_floor;                      /* 1 when the sizes cannot reach p < alpha at all */
    char note[160];                   /* why insufficient, etc.; "" when nothing to say */
} qt_compare_result_t;

/* "regression", "improvement", ... */
const char *qt_verdict_name(qt_verdict_t v);
/* -1 lower is better, +1 higher is better, 0 no direction (see compare.c for the rule). */
int qt_metric_direction(const char *metric);
/* 1 for per-iteration counters and bookkeeping metrics (papi.*, sde.*, rusage.*, iterations,
 * cpu_time_s, case_wall_s, setup_s), which `compare --metric all` and `show` leave out. */
int qt_metric_is_bookkeeping(const char *metric);
/* Between-run noise of one case from the medians of n >= 2 runs: (max - min) / |median of them|.
 * NaN when n < 2 or the median is 0. */
double qt_compare_noise(const double *medians, size_t n);
/* Decide one (case, metric) from the raw repetitions (NaN skipped); noise NaN = not used. */
qt_status_t qt_compare_decide(const double *base, size_t nb, const double *new_, size_t nn, int direction,
                              const qt_compare_opts_t *o, double noise, qt_compare_result_t *r);

#endif
