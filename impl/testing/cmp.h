/* cmp.h — comparing a backend's output with the oracle's (the ref backend): error
 * metrics and the number of values outside a tolerance. The one definition used by the
 * CUnit tests (tests/common/test_util.c, tests/sparse, tests/attention) and by
 * `quintet verify` (harness/cli/cmd_verify.c), so both judge a backend the same way.
 *
 * A value y_i is compared with the reference r_i; it is WRONG unless
 *     |y_i − r_i| ≤ tol.scale·max_j|r_j| + tol.rel·|r_i| + tol.elem·b_i
 * where max_j|r_j| is taken over the array of that call (the output's scale: outputs
 * that are near 0 by cancellation are judged against the scale, not against themselves),
 * and b_i ≥ 0 is an optional per-value error bound supplied by the caller (e.g.
 * K·Σ_k|a_ik||w_kj| for a dot product of length K: qt_cmp_dot_bound). A tolerance of all
 * zeros demands bitwise-equal values. y_i = r_i (including equal infinities) and two NaNs
 * agree; a NaN or infinity in y against a different r is wrong.
 * Metrics kept over every call into one qt_cmp_t:
 *   n          values compared;   wrong  values outside the tolerance (first_wrong: index
 *              of the first one, counted over all calls; -1 when none);
 *   max_abs    max |y − r| (NaN once any difference is NaN);
 *   max_rel    max over calls of max_abs / max|r| of that call (error relative to the
 *              output's scale: the measure tests/optim and tests/nn assert on);
 *   rel_fro    ||y − r||_F / ||r||_F over everything (qt_cmp_rel_fro).
 * Tested by tests/harness/test_verify.c (make test). */
#ifndef QUINTET_CMP_H
#define QUINTET_CMP_H

#include <stddef.h>
#include <stdint.h>

#include "quintet/status.h"
#include "quintet/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A tolerance: the three coefficients of the rule above, with a short name for tables
 * and the reason it is what it is (printed by `quintet verify` next to its table). */
typedef struct {
    const char *name;
    double scale; /* × max|r| of the array */
    double rel;   /* × |r_i| */
    double elem;  /* × b_i, the caller's per-value bound (ignored when none is given) */
    const char *why;
} qt_tol_t;

/* Accumulated comparison of one case (any number of arrays). */
typedef struct {
    int64_t n, wrong, first_wrong;
    double max_abs, max_rel;
    double sum_d2, sum_r2; /* Σ(y − r)², Σr² for rel_fro */
} qt_cmp_t;

/* Empty comparison (n = 0, first_wrong = -1). */
void qt_cmp_init(qt_cmp_t *c);
/* Compare y[0..n) (dtype ydt) with ref[0..n) (dtype rdt) and add to c. tol NULL: metrics
 * only, nothing counts as wrong. bound may be NULL (no per-value term).
 * QT_ERR_ARG on NULL arrays with n > 0. */
qt_status_t qt_cmp_add(qt_cmp_t *c, const void *y, qt_dtype_t ydt, const void *ref, qt_dtype_t rdt, size_t n,
                       const qt_tol_t *tol, const double *bound);
/* ||y − r||_F / ||r||_F over everything added (0 when both are 0). */
double qt_cmp_rel_fro(const qt_cmp_t *c);
/* b[m·N + n] = K·Σ_k |A[m,k]|·|W[k,n]| for row-major A (M,K), W (K,N): with elem = 2u
 * (u the unit roundoff) the classic bound γ_K·Σ|a||w| on a K-term float dot product
 * summed in any order, doubled. */
void qt_cmp_dot_bound(const float *A, const float *W, int64_t M, int64_t K, int64_t N, double *b);

#ifdef __cplusplus
}
#endif
#endif
