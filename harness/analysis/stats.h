/* stats.h — descriptive statistics over raw repetitions (used by the store, the
 * runner and comparisons). Quantiles use linear interpolation between order
 * statistics (type 7, as numpy and R default). NaN inputs are skipped.
 * Also the two-sided Mann-Whitney U rank test that `quintet compare` decides with. */
#ifndef QUINTET_STATS_H
#define QUINTET_STATS_H

#include <stddef.h>

#include "quintet/status.h"

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
/* The 0.975 quantile of Student's t with dof degrees of freedom; NaN for dof < 1. */
double qt_student_t975(int dof);
/* Half-width of the 95% confidence interval of qt_linfit's slope (Student t with m - 2 degrees
 * of freedom on the residuals, m the pairs without NaN); NaN when m < 3 or undefined. */
double qt_linfit_slope_ci95(const double *x, const double *y, size_t n);

/* Two-sided Mann-Whitney U (Wilcoxon rank-sum) test of x[0..nx) against y[0..ny) (NaN skipped).
 * *u = U of x = R_x - nx'(nx'+1)/2 (R_x: x's rank sum, mid-ranks for ties; scipy's "statistic"),
 * *p = two-sided p-value: exact null distribution when there are no ties and both samples have
 * at most QT_MWU_EXACT_MAX values, otherwise the normal approximation with tie correction and
 * continuity correction. QT_ERR_ARG when a sample is empty after skipping NaN. */
#define QT_MWU_EXACT_MAX 50
qt_status_t qt_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, double *u, double *p);
/* Smallest two-sided p-value the exact test can give for sizes nx, ny (2 / C(nx+ny, nx), at most
 * 1): with 3 against 3 repetitions it is 0.1, so no difference is ever significant at 0.05. */
double qt_mann_whitney_min_p(size_t nx, size_t ny);

#endif
