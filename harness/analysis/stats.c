/* stats.c — descriptive statistics over raw repetitions (see stats.h).
 *
 * Quantiles are type 7 (Hyndman & Fan; numpy's and R's default): for the m
 * sorted non-NaN values x[0..m) and q in [0,1], h = (m-1)q and
 * Q(q) = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
 * The standard deviation is the sample one (divisor m-1), 0 for a single value
 * (as Google Benchmark reports it). NaN values are skipped everywhere; ±inf are
 * kept. Tested by tests/harness/test_store.c (`make test`).
 * The Mann-Whitney U test (qt_mann_whitney, the rank test of `quintet compare`) is defined in
 * its section below and tested by tests/harness/test_compare.c. */
#include "analysis/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* qsort comparator for doubles (no NaN reaches it). */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A sorted malloc'd copy of the non-NaN values of v[0..n); *m gets their count.
 * Returns NULL when there are none or the allocation fails (*m = 0 then). */
static double *sorted_copy(const double *v, size_t n, size_t *m)
{
    *m = 0;
    if (!v || n == 0) return NULL;
    double *x = malloc(n * sizeof *x);
    if (!x) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i])) x[(*m)++] = v[i];
    if (*m == 0) {
        free(x);
        return NULL;
    }
    qsort(x, *m, sizeof *x, cmp_double);
    return x;
}

/* Type-7 quantile of sorted x[0..m), m >= 1. */
static double quantile_sorted(const double *x, size_t m, double q)
{
    double h = (double)(m - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= m) return x[m - 1];
    double frac = h - (double)lo;
    return frac == 0 ? x[lo] : x[lo] + frac * (x[lo + 1] - x[lo]);
}

/* Summary of v[0..n): NaN fields and n = 0 when nothing is left after skipping NaN. */
void qt_summarize(const double *v, size_t n, qt_summary_t *out)
{
    if (!out) return;
    size_t m;
    double *x = sorted_copy(v, n, &m);
    out->n = (int)m;
    if (!x) {
        out->median = out->mean = out->stddev = out->min = out->max = out->q1 = out->q3 = NAN;
        return;
    }
    double sum = 0;
    for (size_t i = 0; i < m; i++) sum += x[i];
    double mean = sum / (double)m, ss = 0;
    for (size_t i = 0; i < m; i++) ss += (x[i] - mean) * (x[i] - mean);
    out->mean = mean;
    out->stddev = m > 1 ? sqrt(ss / (double)(m - 1)) : 0.0;
    out->min = x[0];
    out->max = x[m - 1];
    out->median = quantile_sorted(x, m, 0.5);
    out->q1 = quantile_sorted(x, m, 0.25);
    out->q3 = quantile_sorted(x, m, 0.75);
    free(x);
}

/* Type-7 quantile; NaN for an empty input, q outside [0,1] or an allocation failure. */
double qt_quantile(const double *v, size_t n, double q)
{
    if (!(q >= 0 && q <= 1)) return NAN;
    size_t m;
    double *x = sorted_copy(v, n, &m);
    if (!x) return NAN;
    double r = quantile_sorted(x, m, q);
    free(x);
    return r;
}

/* Least squares over the pairs where neither x nor y is NaN (centred two-pass
 * sums); NaN slope and intercept when fewer than two pairs or x is constant. */
double qt_linfit(const double *x, const double *y, size_t n, double *intercept)
{
    double sx = 0, sy = 0;
    size_t m = 0;
    for (size_t i = 0; x && y && i < n; i++)
        if (!isnan(x[i]) && !isnan(y[i])) {
            sx += x[i];
            sy += y[i];
            m++;
        }
    if (intercept) *intercept = NAN;
    if (m < 2) return NAN;
    double mx = sx / (double)m, my = sy / (double)m, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]) && !isnan(y[i])) {
            sxx += (x[i] - mx) * (x[i] - mx);
            sxy += (x[i] - mx) * (y[i] - my);
        }
    if (!(sxx > 0)) return NAN;
    double slope = sxy / sxx;
    if (intercept) *intercept = my - slope * mx;
    return slope;
}

/* The 0.975 quantile of Student's t with dof degrees of freedom (the standard table; 1.96 beyond
 * 30); NaN for dof < 1. */
double qt_student_t975(int dof)
{
    static const double t975[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                  2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                  2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (dof < 1) return NAN;
    return dof <= 30 ? t975[dof - 1] : 1.96;
}

/* 95% interval of the slope: t(0.975, m-2) * sqrt(SSR / (m-2) / Sxx) (e.g. NIST/SEMATECH
 * e-Handbook 4.4.4). */
double qt_linfit_slope_ci95(const double *x, const double *y, size_t n)
{
    double b0, b1 = qt_linfit(x, y, n, &b0);
    if (isnan(b1)) return NAN;
    double mx = 0, ssr = 0, sxx = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]) && !isnan(y[i])) {
            mx += x[i];
            m++;
        }
    if (m < 3) return NAN;
    mx /= (double)m;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]) && !isnan(y[i])) {
            double e = y[i] - (b0 + b1 * x[i]);
            ssr += e * e;
            sxx += (x[i] - mx) * (x[i] - mx);
        }
    size_t dof = m - 2;
    return qt_student_t975((int)dof) * sqrt(ssr / (double)dof / sxx);
}

/* ---- Mann-Whitney U ---------------------------------------------------------------------
 * Definitions as in scipy.stats.mannwhitneyu (method 'exact' / 'asymptotic', use_continuity
 * True, alternative 'two-sided'; docs.scipy.org, scipy.stats.mannwhitneyu) and Conover,
 * Practical Nonparametric Statistics, 3rd ed., section 5.1:
 *   U_x = R_x - m(m+1)/2, R_x the sum of x's ranks in the pooled sample (mid-ranks for ties).
 *   Exact (no ties): the number of arrangements of m x's and n y's with U = u obeys
 *   f(m,n,u) = f(m-1,n,u-n) + f(m,n-1,u) (the largest value is an x, beating all n y's, or a
 *   y), f(0,n,0) = f(m,0,0) = 1; p = 2 P(U <= min(U_x, mn - U_x)), at most 1.
 *   Normal approximation: mu = mn/2, sigma^2 = mn/12 ((N+1) - sum(t^3-t)/(N(N-1))) over tie
 *   groups of size t, N = m+n; z = (max(U_x, mn-U_x) - mu - 1/2) / sigma; p = erfc(z/sqrt 2),
 *   at most 1 (1 when sigma = 0: every value tied).
 * Checked in tests/harness/test_compare.c against scipy's documented example and by-hand values. */

/* Exact two-sided p for sizes m, n and integer statistic u (no ties). NaN on allocation failure. */
static double mwu_exact_p(size_t m, size_t n, double u)
{
    size_t umax = m * n, w = umax + 1;
    double *prev = calloc((n + 1) * w, sizeof *prev), *cur = calloc((n + 1) * w, sizeof *cur);
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return NAN;
    }
    for (size_t j = 0; j <= n; j++) prev[j * w] = 1; /* i = 0: f(0, j, 0) = 1 */
    for (size_t i = 1; i <= m; i++) {
        memset(cur, 0, (n + 1) * w * sizeof *cur);
        cur[0] = 1; /* f(i, 0, 0) = 1 */
        for (size_t j = 1; j <= n; j++)
            for (size_t k = 0; k <= i * j; k++)
                cur[j * w + k] = (k >= j ? prev[j * w + k - j] : 0) + cur[(j - 1) * w + k];
        double *t = prev;
        prev = cur;
        cur = t;
    }
    double lo = fmin(u, (double)umax - u), below = 0, total = 0;
    for (size_t k = 0; k <= umax; k++) {
        total += prev[n * w + k];
        if ((double)k <= lo + 1e-9) below += prev[n * w + k];
    }
    free(prev);
    free(cur);
    return fmin(1.0, 2 * below / total);
}

/* Binomial coefficient C(a, b) as a double. */
static double binom(size_t a, size_t b)
{
    double r = 1;
    for (size_t i = 1; i <= b; i++) r = r * (double)(a - b + i) / (double)i;
    return r;
}

/* Smallest attainable exact two-sided p-value. */
double qt_mann_whitney_min_p(size_t nx, size_t ny)
{
    if (nx == 0 || ny == 0) return 1;
    return fmin(1.0, 2 / binom(nx + ny, nx));
}

typedef struct {
    double v;
    int from_x;
} mwu_obs_t;

/* qsort comparator on value. */
static int cmp_obs(const void *a, const void *b)
{
    double x = ((const mwu_obs_t *)a)->v, y = ((const mwu_obs_t *)b)->v;
    return (x > y) - (x < y);
}

/* The test: pool, rank with mid-ranks, then exact or normal p-value (see above). */
qt_status_t qt_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, double *u, double *p)
{
    QT_CHECK_ARG(x && y && u && p, "samples and outputs must not be NULL");
    mwu_obs_t *o = malloc((nx + ny + 1) * sizeof *o);
    if (!o) return qt_fail(QT_ERR_NOMEM, "Mann-Whitney: no memory for %zu values", nx + ny);
    size_t m = 0, n = 0, N = 0;
    for (size_t i = 0; i < nx; i++)
        if (!isnan(x[i])) { o[N++] = (mwu_obs_t){x[i], 1}; m++; }
    for (size_t i = 0; i < ny; i++)
        if (!isnan(y[i])) { o[N++] = (mwu_obs_t){y[i], 0}; n++; }
    if (m == 0 || n == 0) {
        free(o);
        return qt_fail(QT_ERR_ARG, "Mann-Whitney: empty sample (%zu and %zu values that are not NaN)", m, n);
    }
    qsort(o, N, sizeof *o, cmp_obs);
    double rx = 0, ties = 0; /* rank sum of x; sum of t^3 - t over tie groups */
    for (size_t i = 0; i < N;) {
        size_t j = i;
        while (j + 1 < N && o[j + 1].v == o[i].v) j++;
        double t = (double)(j - i + 1), rank = (double)(i + j) / 2 + 1; /* mid-rank of ranks i+1..j+1 */
        for (size_t k = i; k <= j; k++)
            if (o[k].from_x) rx += rank;
        ties += t * t * t - t;
        i = j + 1;
    }
    free(o);
    double mn = (double)m * (double)n;
    *u = rx - (double)m * (double)(m + 1) / 2;
    if (ties == 0 && m <= QT_MWU_EXACT_MAX && n <= QT_MWU_EXACT_MAX) {
        *p = mwu_exact_p(m, n, *u);
        if (isnan(*p)) return qt_fail(QT_ERR_NOMEM, "Mann-Whitney: no memory for the exact distribution");
        return QT_OK;
    }
    double Nd = (double)N, var = mn / 12 * ((Nd + 1) - ties / (Nd * (Nd - 1)));
    if (!(var > 0)) {
        *p = 1;
        return QT_OK;
    }
    double z = (fmax(*u, mn - *u) - mn / 2 - 0.5) / sqrt(var);
    *p = fmin(1.0, erfc(z / sqrt(2.0)));
    return QT_OK;
}
