/* stats.c — descriptive statistics over raw repetitions (see stats.h).
 *
 * Quantiles are type 7 (Hyndman & Fan; numpy's and R's default): for the m
 * sorted non-NaN values x[0..m) and q in [0,1], h = (m-1)q and
 * Q(q) = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
 * The standard deviation is the sample one (divisor m-1), 0 for a single value
 * (as Google Benchmark reports it). NaN values are skipped everywhere; ±inf are
 * kept. Tested by tests/harness/test_store.c (`make test`). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

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
