/* changepoint.h — change points in the history of one case: where its level stepped, and a slow
 * creep that no single step shows, for `quintet history`.
 *
 * Algorithm: the series is y_i = log(median of run i) (so steps are relative changes). PELT
 * (Killick, Fearnhead & Eckley, "Optimal detection of changepoints with a linear computational
 * cost", JASA 2012) finds the segmentation minimising sum over segments of the squared deviations
 * from the segment mean divided by sigma^2, plus a penalty beta per change point; here
 * beta = QT_CP_PENALTY * ln(n), a BIC-type penalty made stricter so that pure noise of the given
 * sigma rarely splits. sigma, the run-to-run noise, is either given (the spread of the first
 * --baseline-runs runs) or estimated robustly from the series itself: 1.4826 * MAD of the first
 * differences / sqrt(2) (a step or a steady creep moves the differences' median, not their spread).
 * Each step between adjacent segments gets the ratio of segment levels (exp of the mean) and a
 * verdict against --threshold in the metric's direction. A creep is a run of two or more
 * consecutive steps in the worse direction, ending at the last segment, whose combined ratio is
 * beyond the threshold while no single one of them is: it is named at the run where it began.
 * Tested by tests/harness/test_gate.c (synthetic series with steps, creep and pure noise). */
#ifndef QUINTET_CHANGEPOINT_H
#define QUINTET_CHANGEPOINT_H

#include <stddef.h>

#include "quintet/status.h"

#define QT_CP_PENALTY 3.0
#define QT_CP_MAX_STEPS 64

typedef struct {
    size_t at;          /* index of the first run of the new level */
    double ratio;       /* level after / level before */
    int verdict;        /* qt_verdict_t: regression, improvement or unchanged (below threshold) */
} qt_cp_step_t;

typedef struct {
    size_t n_steps;
    qt_cp_step_t step[QT_CP_MAX_STEPS];
    double sigma;       /* noise used (log scale, ~ relative) */
    int creep;          /* 1 when a creep was found */
    size_t creep_from;  /* its first run (index) */
    double creep_ratio; /* last level / level before it began */
} qt_cp_result_t;

/* Robust run-to-run noise of y[0..n) (see above); NaN for n < 3. */
double qt_cp_sigma(const double *y, size_t n);
/* PELT change points of y[0..n) with noise sigma > 0: the indices where a new segment starts,
 * ascending, into at[0..*n_at) (at most max_at). */
qt_status_t qt_cp_pelt(const double *y, size_t n, double sigma, size_t *at, size_t max_at, size_t *n_at);
/* The whole analysis of a series of run medians m[0..n) (> 0) for a metric with direction
 * (-1 lower better, +1 higher better, 0 none) and threshold; sigma NaN: estimated from the series. */
qt_status_t qt_cp_analyze(const double *m, size_t n, int direction, double threshold, double sigma,
                          qt_cp_result_t *out);

#endif
