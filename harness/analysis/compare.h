/* compare.h — the regression decision of `quintet compare`, `ab`, `history` and `report` for one
 * (case, metric): verdicts, the metric-direction rule, the between-run noise estimate and the test.
 *
 * Decision (qt_compare_decide), on raw repetitions tagged with the process invocation that
 * measured them (the unit of replication; resample.h):
 *   1. the 1-alpha hierarchical bootstrap interval [lo, hi] of median_new / median_base;
 *   2. the effective threshold t = max(--threshold, between-run noise of --baseline-runs);
 *   3. regression when the whole interval is beyond 1 + t in the worse direction (1 - t for
 *      higher-is-better metrics), improvement beyond the other side, unchanged when it lies
 *      inside [1 - t, 1 + t], inconclusive otherwise, with how many invocations a side would
 *      make the interval decide (its half-width shrinks as 1/sqrt(invocations));
 *   4. a regression or improvement must also pass the two-sided exact Mann-Whitney test
 *      (stats.h; ties included) at alpha after Benjamini-Hochberg across the comparison's rows
 *      (qt_compare_apply_q): on invocation medians when both sides have 2 or more invocations,
 *      on repetitions otherwise. A row that fails it, or whose sizes cannot reach p < alpha at all,
 *      is inconclusive.
 * Metrics without a direction are `changed` instead. Fewer than QT_COMPARE_MIN_REPS repetitions on
 * a side gives `insufficient`. Each side also gets its Tukey outlier count and bimodality flag. */
#ifndef QUINTET_COMPARE_H
#define QUINTET_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/resample.h"
#include "quintet/status.h"

#define QT_COMPARE_MIN_REPS 3

typedef enum {
    QT_VERDICT_REGRESSION,
    QT_VERDICT_IMPROVEMENT,
    QT_VERDICT_UNCHANGED,
    QT_VERDICT_CHANGED,
    QT_VERDICT_INCONCLUSIVE,
    QT_VERDICT_ADDED,
    QT_VERDICT_REMOVED,
    QT_VERDICT_INSUFFICIENT,
    QT_VERDICT_COUNT
} qt_verdict_t;

typedef struct {
    double alpha;     /* significance level, in (0, 1); the interval's level is 1 - alpha */
    double threshold; /* minimum relative effect, >= 0 (0.05 = 5%) */
} qt_compare_opts_t;

typedef struct {
    qt_verdict_t verdict;
    qt_verdict_t interval_verdict;    /* what the interval alone says (before the test) */
    int n_base, n_new;                /* repetitions that are not NaN */
    int k_base, k_new;                /* invocations holding them */
    double median_base, median_new;
    double ratio;                     /* median_new / median_base (NaN when undefined); paired: the estimate */
    double ci_lo, ci_hi;              /* 1-alpha interval of the ratio (NaN when not computed) */
    double u, p, q;                   /* U (paired: W+), two-sided p, BH-adjusted p (NaN when not tested) */
    double p_min;                     /* smallest p these sizes and ties can reach */
    int unit_invocations;             /* 1: tested on invocation medians, 0: on repetitions */
    double noise;                     /* between-run noise used (NaN when none) */
    int p_floor;                      /* 1 when the sizes cannot reach p < alpha at all */
    int need_invocations;             /* inconclusive: invocations a side that would decide (0: -) */
    int outliers_base, outliers_new;  /* Tukey-fence outliers */
    int bimodal_base, bimodal_new;    /* bimodality flags */
    int paired;                       /* 1: decided on paired rounds (qt_compare_decide_paired) */
    int pairs;                        /* paired: rounds both sides measured */
    char note[160];                   /* why insufficient, inconclusive, etc.; "" when nothing to say */
} qt_compare_result_t;

/* The interval as table text "[0.9812, 1.0345]" ("-" when not computed) into buf; returns buf. */
const char *qt_compare_interval_text(const qt_compare_result_t *r, char *buf, size_t cap);
/* "regression", "improvement", ... */
const char *qt_verdict_name(qt_verdict_t v);
/* -1 lower is better, +1 higher is better, 0 no direction (see compare.c for the rule). */
int qt_metric_direction(const char *metric);
/* 1 for per-iteration counters and bookkeeping metrics (papi.*, sde.*, rusage.*, iterations,
 * cpu_time_s, case_wall_s, setup_s), which `compare --metric all` and `show` leave out. */
int qt_metric_is_bookkeeping(const char *metric);
/* 1 for rates the runner derives from a case's time_s (gflops, gbps, *_gflops, *_gbps,
 * frac_sgemm, frac_stream): in a comparison that also tests that case's time_s they restate it
 * and are not counted as separate tests by Benjamini-Hochberg. */
int qt_metric_restates_time(const char *metric);
/* Between-run noise of one case from the medians of n >= 2 runs: (max - min) / |median of them|.
 * NaN when n < 2 or the median is 0. */
double qt_compare_noise(const double *medians, size_t n);
/* Decide one (case, metric) from the raw repetitions of both sides (NaN skipped; noise NaN = not
 * used; seed makes the bootstrap repeatable). The test's q is set to p: call qt_compare_apply_q
 * with the BH value when several rows are judged together. */
qt_status_t qt_compare_decide(const qt_sample_set_t *base, const qt_sample_set_t *new_, int direction,
                              const qt_compare_opts_t *o, double noise, uint64_t seed, qt_compare_result_t *r);
/* The paired decision for `quintet ab`'s runs, whose invocation numbers are rounds in which both
 * builds ran back to back (resample.h, "Paired rounds"): ratio = exp(Hodges-Lehmann estimate of
 * the per-round log-ratios log(median_new_i / median_base_i)), its interval the hierarchical
 * bootstrap over rounds then repetitions, the test the exact Wilcoxon signed-rank test of the
 * per-round log-ratios (stats.h; 6 rounds at least to reach p < 0.05); the same verdict rules as
 * qt_compare_decide (interval against the threshold, then q < alpha). median_base/median_new stay
 * each side's overall medians. Fewer than 2 paired rounds: qt_compare_decide's unpaired verdict. */
qt_status_t qt_compare_decide_paired(const qt_sample_set_t *base, const qt_sample_set_t *new_, int direction,
                                     const qt_compare_opts_t *o, double noise, uint64_t seed, qt_compare_result_t *r);
/* Set r's q (BH-adjusted p) and its final verdict from its interval verdict: a regression or
 * improvement stays one only when q < alpha, else it is inconclusive with a note. */
void qt_compare_apply_q(qt_compare_result_t *r, double q, double alpha);
/* Benjamini-Hochberg over n results: family[i] = i for a row that is its own test, j for a row
 * that restates row j (it takes j's q), -1 for a row without a test. Applies the q-values; returns
 * the number of tests counted. */
size_t qt_compare_bh(qt_compare_result_t *const *r, const long *family, size_t n, double alpha);

#endif
