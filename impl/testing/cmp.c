/* cmp.c — backend-vs-oracle comparison: metrics and the count of values outside a
 * tolerance (contract in testing/cmp.h). Run: make test (tests/harness/test_verify.c). */
#include "testing/cmp.h"

#include <math.h>
#include <string.h>

/* Empty comparison. */
void qt_cmp_init(qt_cmp_t *c)
{
    memset(c, 0, sizeof *c);
    c->first_wrong = -1;
}

/* Element i of an f32 or f64 array, as double. */
static double at(const void *p, qt_dtype_t dt, size_t i)
{
    return dt == QT_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

/* |y − r|, 0 when they agree (equal, equal infinities, both NaN), NaN/inf otherwise when not finite. */
static double diff(double y, double r)
{
    if (y == r || (isnan(y) && isnan(r))) return 0.0;
    return fabs(y - r);
}

/* Raise *m to d; a NaN d sticks. */
static void raise_max(double *m, double d)
{
    if (isnan(*m)) return;
    if (isnan(d) || d > *m) *m = d;
}

/* Compare and accumulate. */
qt_status_t qt_cmp_add(qt_cmp_t *c, const void *y, qt_dtype_t ydt, const void *ref, qt_dtype_t rdt, size_t n,
                       const qt_tol_t *tol, const double *bound)
{
    QT_CHECK_ARG(c != NULL && (n == 0 || (y != NULL && ref != NULL)), "cmp: arrays must not be NULL");
    double scale = 0.0, max_abs = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs(at(ref, rdt, i));
        if (isfinite(r) && r > scale) scale = r;
    }
    for (size_t i = 0; i < n; i++) {
        double r = at(ref, rdt, i), d = diff(at(y, ydt, i), r);
        raise_max(&max_abs, d);
        c->sum_d2 += d * d;
        if (isfinite(r)) c->sum_r2 += r * r;
        if (!tol) continue;
        double t = tol->scale * scale; /* terms with a zero coefficient are left out (0·inf) */
        if (tol->rel != 0.0) t += tol->rel * fabs(r);
        if (bound && tol->elem != 0.0) t += tol->elem * bound[i];
        if (!(d <= t) || isinf(d)) {
            if (c->first_wrong < 0) c->first_wrong = c->n + (int64_t)i;
            c->wrong++;
        }
    }
    c->n += (int64_t)n;
    raise_max(&c->max_abs, max_abs);
    raise_max(&c->max_rel, max_abs / (scale > 0 ? scale : 1e-300));
    return QT_OK;
}

/* Relative Frobenius error. */
double qt_cmp_rel_fro(const qt_cmp_t *c)
{
    if (c->sum_d2 == 0.0) return 0.0;
    return sqrt(c->sum_d2) / (sqrt(c->sum_r2) + 1e-300);
}

/* Dot-product error bound K·Σ|a||w| per output. */
void qt_cmp_dot_bound(const float *A, const float *W, int64_t M, int64_t K, int64_t N, double *b)
{
    for (int64_t m = 0; m < M; m++) {
        double *s = b + m * N;
        for (int64_t n = 0; n < N; n++) s[n] = 0.0;
        for (int64_t k = 0; k < K; k++) {
            double a = fabs(A[m * K + k]);
            if (a == 0.0) continue;
            const float *w = W + k * N;
            for (int64_t n = 0; n < N; n++) s[n] += a * fabs(w[n]);
        }
        for (int64_t n = 0; n < N; n++) s[n] *= (double)K;
    }
}
