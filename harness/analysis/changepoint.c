/* changepoint.c — PELT change points and creep detection over a case's run medians (algorithm
 * and references in changepoint.h). Tested by tests/harness/test_gate.c (`make test`). */
#include "analysis/changepoint.h"

#include <math.h>
#include <stdlib.h>

#include "analysis/compare.h"
#include "analysis/stats.h"

/* 1.4826 MAD(diff) / sqrt 2. */
double qt_cp_sigma(const double *y, size_t n)
{
    if (!y || n < 3) return NAN;
    double *d = malloc((n - 1) * sizeof *d);
    if (!d) return NAN;
    for (size_t i = 0; i + 1 < n; i++) d[i] = y[i + 1] - y[i];
    double med = qt_quantile(d, n - 1, 0.5);
    for (size_t i = 0; i + 1 < n; i++) d[i] = fabs(d[i] - med);
    double mad = qt_quantile(d, n - 1, 0.5);
    free(d);
    return 1.4826 * mad / sqrt(2.0);
}

/* Segment cost of y(a..b] from prefix sums: sum of squared deviations / sigma^2. */
static double seg_cost(const double *s1, const double *s2, size_t a, size_t b, double inv_var)
{
    double n = (double)(b - a), s = s1[b] - s1[a];
    return (s2[b] - s2[a] - s * s / n) * inv_var;
}

/* PELT with pruning (Killick et al. 2012, algorithm 2), minimum segment length 1. */
qt_status_t qt_cp_pelt(const double *y, size_t n, double sigma, size_t *at, size_t max_at, size_t *n_at)
{
    QT_CHECK_ARG(y && at && n_at && sigma > 0, "changepoints: bad arguments");
    *n_at = 0;
    if (n < 2) return QT_OK;
    double *s1 = calloc(n + 1, sizeof *s1), *s2 = calloc(n + 1, sizeof *s2), *F = calloc(n + 1, sizeof *F);
    size_t *last = calloc(n + 1, sizeof *last), *R = calloc(n + 2, sizeof *R);
    qt_status_t st = QT_OK;
    if (!s1 || !s2 || !F || !last || !R) {
        st = qt_fail(QT_ERR_NOMEM, "changepoints: no memory for %zu points", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        s1[i + 1] = s1[i] + y[i];
        s2[i + 1] = s2[i] + y[i] * y[i];
    }
    double beta = QT_CP_PENALTY * log((double)n), inv_var = 1 / (sigma * sigma);
    size_t nr = 1;
    R[0] = 0;
    F[0] = -beta;
    for (size_t t = 1; t <= n; t++) {
        double best = INFINITY;
        size_t arg = 0;
        for (size_t k = 0; k < nr; k++) {
            double f = F[R[k]] + seg_cost(s1, s2, R[k], t, inv_var) + beta;
            if (f < best) {
                best = f;
                arg = R[k];
            }
        }
        F[t] = best;
        last[t] = arg;
        size_t keep = 0; /* prune: tau stays a candidate while F(tau) + C(tau, t) <= F(t) */
        for (size_t k = 0; k < nr; k++)
            if (F[R[k]] + seg_cost(s1, s2, R[k], t, inv_var) <= F[t]) R[keep++] = R[k];
        R[keep++] = t;
        nr = keep;
    }
    size_t cnt = 0;
    for (size_t t = last[n]; t > 0; t = last[t]) cnt++;
    size_t k = cnt < max_at ? cnt : max_at;
    *n_at = k;
    for (size_t t = last[n]; t > 0; t = last[t]) {
        cnt--;
        if (cnt < k) at[cnt] = t;
    }
done:
    free(s1);
    free(s2);
    free(F);
    free(last);
    free(R);
    return st;
}

/* Verdict of a level ratio in the metric's direction. */
static int step_verdict(double ratio, int direction, double threshold)
{
    if (!(fabs(ratio - 1) > threshold)) return QT_VERDICT_UNCHANGED;
    if (direction == 0) return QT_VERDICT_CHANGED;
    return (ratio > 1) == (direction < 0) ? QT_VERDICT_REGRESSION : QT_VERDICT_IMPROVEMENT;
}

/* 1 when ratio moves in the worse direction (any size). */
static int worse(double ratio, int direction)
{
    return direction < 0 ? ratio > 1 : direction > 0 ? ratio < 1 : 0;
}

/* Segments, steps and creep (see changepoint.h). */
qt_status_t qt_cp_analyze(const double *m, size_t n, int direction, double threshold, double sigma,
                          qt_cp_result_t *out)
{
    QT_CHECK_ARG(m && out, "changepoints: bad arguments");
    out->n_steps = 0;
    out->creep = 0;
    out->creep_from = 0;
    out->creep_ratio = NAN;
    out->sigma = NAN;
    if (n < 3) return QT_OK;
    double *y = malloc(n * sizeof *y);
    if (!y) return qt_fail(QT_ERR_NOMEM, "changepoints: no memory");
    for (size_t i = 0; i < n; i++) y[i] = m[i] > 0 ? log(m[i]) : NAN;
    for (size_t i = 0; i < n; i++)
        if (isnan(y[i])) y[i] = i ? y[i - 1] : 0; /* a missing median carries the previous level */
    if (isnan(sigma) || !(sigma > 0)) sigma = qt_cp_sigma(y, n);
    if (!(sigma > 1e-4)) sigma = 1e-4; /* below 0.01%: timer resolution, not noise */
    out->sigma = sigma;
    size_t at[QT_CP_MAX_STEPS + 1], k = 0;
    qt_status_t st = qt_cp_pelt(y, n, sigma, at, QT_CP_MAX_STEPS, &k);
    if (st == QT_OK) {
        double level[QT_CP_MAX_STEPS + 1];
        for (size_t s = 0; s <= k; s++) { /* segment s = [at[s-1], at[s]) */
            size_t a = s ? at[s - 1] : 0, b = s < k ? at[s] : n;
            double sum = 0;
            for (size_t i = a; i < b; i++) sum += y[i];
            level[s] = sum / (double)(b - a);
        }
        for (size_t s = 0; s < k; s++) {
            double ratio = exp(level[s + 1] - level[s]);
            out->step[s] = (qt_cp_step_t){at[s], ratio, step_verdict(ratio, direction, threshold)};
        }
        out->n_steps = k;
        size_t j = k; /* creep: consecutive worse steps ending at the last segment */
        int single = 0;
        while (j > 0 && worse(out->step[j - 1].ratio, direction)) {
            single |= out->step[j - 1].verdict == QT_VERDICT_REGRESSION;
            j--;
        }
        if (k - j >= 2 && !single) {
            double total = exp(level[k] - level[j]);
            if (step_verdict(total, direction, threshold) == QT_VERDICT_REGRESSION) {
                out->creep = 1;
                out->creep_from = out->step[j].at;
                out->creep_ratio = total;
            }
        }
    }
    free(y);
    return st;
}
