/* stats.h — descriptive statistics over raw repetitions (used by the store, the
 * runner and comparisons). Quantiles use linear interpolation between order
 * statistics (type 7, as numpy and R default). NaN inputs are skipped.
 * Also the two-sided Mann-Whitney U rank test (exact with ties) that `quintet compare` uses, the
 * Wilcoxon signed-rank test of paired differences (`ab`'s per-round ratios),
 * Benjamini-Hochberg adjustment, Tukey outlier counts and a bimodality flag. */
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
 * *p = two-sided p-value: the exact permutation distribution, ties included, when both samples
 * have at most QT_MWU_EXACT_MAX values, otherwise the normal approximation with tie correction
 * and continuity correction. QT_ERR_ARG when a sample is empty after skipping NaN. */
#define QT_MWU_EXACT_MAX 50
qt_status_t qt_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, double *u, double *p);
/* The same, and in *pmin (may be NULL) the smallest p these two samples' sizes and tie pattern
 * can attain under the exact distribution (0 when the normal approximation was used with ties). */
qt_status_t qt_mann_whitney_ex(const double *x, size_t nx, const double *y, size_t ny, double *u, double *p,
                               double *pmin);
/* Smallest two-sided p-value the exact test can give for sizes nx, ny without ties (2 / C(nx+ny,
 * nx), at most 1): with 3 against 3 repetitions it is 0.1, so nothing is ever significant at 0.05. */
double qt_mann_whitney_min_p(size_t nx, size_t ny);

/* Two-sided Wilcoxon signed-rank test of the paired differences d[0..n) against 0 (NaN skipped;
 * zeros dropped, Wilcoxon's rule). *w = W+, the sum of the ranks of |d| (mid-ranks for ties) over
 * the positive d; *p = two-sided p: the exact distribution of W+ under random signs, ties
 * included, for at most QT_SRANK_EXACT_MAX non-zero differences, otherwise the normal
 * approximation with tie and continuity correction; *pmin (may be NULL) the smallest p the exact
 * test can attain for this many non-zero differences (2 / 2^m: 0.0625 for 5, 0.031 for 6).
 * p = pmin = 1 when no difference is non-zero. QT_ERR_ARG on NULL arguments. */
#define QT_SRANK_EXACT_MAX 60
qt_status_t qt_signed_rank(const double *d, size_t n, double *w, double *p, double *pmin);

/* Benjamini-Hochberg adjusted p-values q[0..n) of p[0..n) (NaN p: not a test, NaN q); returns the
 * number of tests m. q[i] < alpha for the rows a BH procedure at FDR alpha rejects. */
size_t qt_bh_adjust(const double *p, size_t n, double *q);
/* Number of values outside Tukey's fences [q1 - 1.5 IQR, q3 + 1.5 IQR] (NaN skipped). */
int qt_tukey_outliers(const double *v, size_t n);
/* Bimodality flag (two-means split + Ashman's D, see stats.c); *d (may be NULL) gets D. */
#define QT_BIMODAL_D 3.0    /* Ashman's D must exceed QT_BIMODAL_D + QT_BIMODAL_D_N / n */
#define QT_BIMODAL_D_N 40.0
#define QT_BIMODAL_MIN_SHARE 0.2
int qt_bimodal(const double *v, size_t n, double *d);

#endif
