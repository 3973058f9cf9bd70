/* stats.h — descriptive statistics over raw repetitions (used by the store, the
 * runner and comparisons). Quantiles use linear interpolation between order
 * statistics (type 7, as numpy and R default). NaN inputs are skipped. */
#ifndef QUINTET_STATS_H
#define QUINTET_STATS_H

#include <stddef.h>

typedef struct {
    int n;
    double median, mean, stddev, min, max, q1, q3;
} qt_summary_t;

/* Summarise v[0..n) (v is not modified). n == 0 gives n=0 and NaN fields. */
void qt_summarize(const double *v, size_t n, qt_summary_t *out);
/* Quantile q in [0,1] of v[0..n) (type 7). */
double qt_quantile(const double *v, size_t n, double q);
/* Least-squares slope and intercept of y on x (n >= 2); returns slope, NaN when undefined. */
double qt_linfit(const double *x, const double *y, size_t n, double *intercept);

#endif
