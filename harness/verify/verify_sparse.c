/* verify_sparse.c — `quintet verify sparse`: every registered backend with sparse ops
 * (quintet/sparse.h, backend.h), as an instance on its own device, against the ref oracle;
 * operands are copied to the backend's device and its outputs back to the host to compare:
 *   - every matmul path the backend supports (dense, gather, colskip, csr, auto) against
 *     ref DENSE at 0/50/90/99/100% sparsity of A, uniform and structured (whole columns
 *     off), on shapes with odd M, K, N (and M = 1, the GEMV case);
 *   - every activation (relu, shifted_relu, topk with ties, dthresh in training mode over
 *     several batches with a target-sparsity controller, then in eval mode), forward and
 *     backward, and the dthresh state (θ) after training.
 * Inputs N(0,1) from Philox under the run's seed. Driver and output: harness/cli/cmd_verify.c.
 * Run: build/quintet verify sparse. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "quintet/rng.h"
#include "quintet/sparse.h"
#include "verify/verify.h"

#define U 5.9604644775390625e-08 /* unit roundoff of f32, 2^-24 */

/* Any summation order of K float products is within γ_K ≈ K·u of Σ|a||w| (Higham, Accuracy
 * and Stability, §3.1); doubled, plus 2u·|r| for the oracle's own rounding from double. */
const qt_tol_t qt_verify_tol_spmm = {"spmm-f32", 0.0, 2 * U, 2 * U,
                                     "bound = K*sum|a||w|: f32 dot products in any order (2*gamma_K), oracle rounding 2u"};
/* Activations select inputs (y = x or 0) from thresholds both backends compute the same way
 * in double: bitwise equal, and so are their backward masks. */
static const qt_tol_t tol_exact = {"exact", 0.0, 0.0, 0.0, "selections of the input with identical thresholds: bitwise"};
static const qt_tol_t *const tols[] = {&qt_verify_tol_spmm, &tol_exact, NULL};

static const int64_t quick_shapes[][3] = {{1, 300, 200}, {3, 257, 130}, {17, 512, 96}, {64, 200, 1030}};
static const int64_t full_shapes[][3] = {{300, 4001, 20}, {256, 4096, 1027}};
static const double sparsities[] = {0.0, 0.5, 0.9, 0.99, 1.0};

/* Sparse A (verify.h). */
void qt_verify_sparse_fill(float *A, int64_t M, int64_t K, double sp, int structured, uint64_t seed)
{
    qt_rng_fill_normal_f32(A, (size_t)(M * K), seed, 11, 0, 0.0f, 1.0f);
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) {
            double u = structured ? qt_rng_uniform_f64(seed, 12, (uint64_t)k)
                                  : qt_rng_uniform_f64(seed, 13, (uint64_t)(m * K + k));
            if (u < sp || sp >= 1.0) A[m * K + k] = 0.0f;
        }
}

/* A tensor (rows, cols) on be's device holding host values v (NULL: NaN-filled, so every
 * value must be overwritten). */
static qt_status_t on_dev(qt_backend_t *be, const float *v, int64_t rows, int64_t cols, qt_tensor_t *t)
{
    int64_t shape[2] = {rows, cols};
    qt_tensor_t h;
    if (v) QT_TRY(qt_tensor_wrap(&h, (void *)v, QT_F32, 2, shape));
    else {
        QT_TRY(qt_tensor_init(&h, QT_F32, 2, shape));
        for (int64_t i = 0; i < rows * cols; i++) ((float *)h.data)[i] = NAN;
    }
    qt_status_t st = qt_tensor_to_device(be, &h, t);
    qt_tensor_free(&h);
    return st;
}

/* Host copy of t into out (numel floats). */
static qt_status_t from_dev(qt_backend_t *be, const qt_tensor_t *t, float *out)
{
    qt_tensor_t h;
    QT_TRY(qt_tensor_to_host(be, t, &h));
    memcpy(out, h.data, (size_t)qt_tensor_numel(t) * sizeof(float));
    qt_tensor_free(&h);
    return QT_OK;
}

/* Y (host) = A·W through `path` on be, operands copied there and back. */
static qt_status_t matmul_on(qt_backend_t *be, qt_spmm_path_t path, const float *A, const float *W, float *Y,
                             int64_t M, int64_t K, int64_t N, qt_spmm_ws_t *ws)
{
    qt_tensor_t At = {0}, Wt = {0}, Yt = {0};
    qt_status_t st = on_dev(be, A, M, K, &At);
    if (st == QT_OK) st = on_dev(be, W, K, N, &Wt);
    if (st == QT_OK) st = on_dev(be, NULL, M, N, &Yt);
    if (st == QT_OK) st = qt_sparse_matmul(be, path, &At, &Wt, &Yt, NULL, ws, NULL);
    if (st == QT_OK) st = from_dev(be, &Yt, Y);
    qt_tensor_free(&At);
    qt_tensor_free(&Wt);
    qt_tensor_free(&Yt);
    return st;
}

/* One shape: every sparsity × structure × backend × path against ref DENSE. */
static void verify_matmul(qt_verify_t *v, const int64_t *s, qt_backend_t *ref, qt_backend_t *const *bes, int n_bes,
                          uint64_t salt)
{
    int64_t M = s[0], K = s[1], N = s[2];
    uint64_t seed = qt_verify_seed(v) + salt;
    float *A = qt_alloc((size_t)(M * K) * 4), *W = qt_alloc((size_t)(K * N) * 4);
    float *R = qt_alloc((size_t)(M * N) * 4), *Y = qt_alloc((size_t)(M * N) * 4);
    double *bound = qt_alloc((size_t)(M * N) * 8);
    qt_spmm_ws_t ws = {0};
    if (W) qt_rng_fill_normal_f32(W, (size_t)(K * N), seed, 14, 0, 0.0f, 1.0f);
    for (size_t pi = 0; pi < sizeof sparsities / sizeof sparsities[0]; pi++)
        for (int structured = 0; structured < 2; structured++) {
            char params[120];
            snprintf(params, sizeof params, "M=%lld K=%lld N=%lld sp=%.2f %s", (long long)M, (long long)K, (long long)N,
                     sparsities[pi], structured ? "structured" : "uniform");
            qt_status_t st = A && W && R && Y && bound ? QT_OK : qt_fail(QT_ERR_NOMEM, "cannot allocate the inputs");
            if (st == QT_OK) {
                qt_verify_sparse_fill(A, M, K, sparsities[pi], structured, seed);
                st = matmul_on(ref, QT_SPMM_DENSE, A, W, R, M, K, N, NULL);
                qt_cmp_dot_bound(A, W, M, K, N, bound);
            }
            for (int b = 0; b < n_bes; b++)
                for (int p = 0; p < QT_SPMM_COUNT; p++) {
                    const char *name = qt_backend_name(bes[b]);
                    char variant[48], why[256];
                    snprintf(variant, sizeof variant, "matmul/%s", qt_spmm_path_name((qt_spmm_path_t)p));
                    if (!qt_sparse_supports(bes[b], (qt_spmm_path_t)p, NULL, NULL, NULL, why, sizeof why)) {
                        char reason[300];
                        snprintf(reason, sizeof reason, "supports() is 0: %s", why);
                        qt_verify_skip(v, variant, name, params, reason);
                        continue;
                    }
                    if (st != QT_OK || matmul_on(bes[b], (qt_spmm_path_t)p, A, W, Y, M, K, N, (p & 1) ? &ws : NULL) != QT_OK) {
                        qt_verify_error(v, variant, name, params, M * N, qt_last_error());
                        continue;
                    }
                    qt_cmp_t cmp;
                    qt_cmp_init(&cmp);
                    qt_cmp_add(&cmp, Y, QT_F32, R, QT_F32, (size_t)(M * N), &qt_verify_tol_spmm, bound);
                    qt_verify_case(v, variant, name, params, &cmp, &qt_verify_tol_spmm);
                }
        }
    qt_spmm_ws_free(&ws);
    qt_free(A);
    qt_free(W);
    qt_free(R);
    qt_free(Y);
    qt_free(bound);
}

/* Forward (host x → host y) then backward (y of the oracle, host dy → host dx) on be. */
static qt_status_t act_on(qt_backend_t *be, const qt_act_t *a, const float *x, float *y, const float *y_ref,
                          const float *dy, float *dx, int64_t rows, int64_t cols)
{
    qt_tensor_t t[5] = {{0}};
    qt_status_t st = on_dev(be, x, rows, cols, &t[0]);
    if (st == QT_OK) st = on_dev(be, NULL, rows, cols, &t[1]);
    if (st == QT_OK) st = qt_sparse_act_forward(be, a, &t[0], &t[1]);
    if (st == QT_OK) st = from_dev(be, &t[1], y);
    if (st == QT_OK) st = on_dev(be, y_ref ? y_ref : y, rows, cols, &t[2]);
    if (st == QT_OK) st = on_dev(be, dy, rows, cols, &t[3]);
    if (st == QT_OK) st = on_dev(be, NULL, rows, cols, &t[4]);
    if (st == QT_OK) st = qt_sparse_act_backward(be, &t[2], &t[3], &t[4]);
    if (st == QT_OK) st = from_dev(be, &t[4], dx);
    for (int i = 0; i < 5; i++) qt_tensor_free(&t[i]);
    return st;
}

/* Activation forward and backward of `kind` (dthresh: `batches` training batches then one
 * in eval mode) of backend be against ref; x has rows × cols values, ties every 3rd. */
static void verify_act(qt_verify_t *v, qt_backend_t *ref, qt_backend_t *be, qt_act_kind_t kind, int64_t rows,
                       int64_t cols, int batches, uint64_t seed)
{
    const char *name = qt_backend_name(be);
    size_t n = (size_t)(rows * cols);
    float *x = qt_alloc(n * 4), *dy = qt_alloc(n * 4), *y[2] = {qt_alloc(n * 4), qt_alloc(n * 4)},
          *dx[2] = {qt_alloc(n * 4), qt_alloc(n * 4)}, *th[2] = {qt_alloc((size_t)cols * 4), qt_alloc((size_t)cols * 4)};
    qt_backend_t *on[2] = {ref, be};
    qt_dthresh_t d[2];
    memset(d, 0, sizeof d);
    qt_dthresh_config_t dc = qt_dthresh_config_default((int)cols);
    dc.use_target = 1;
    dc.target = 0.8f;
    char params[120], fwd[48], bwd[48], state[48];
    snprintf(params, sizeof params, "rows=%lld cols=%lld%s", (long long)rows, (long long)cols,
             kind == QT_ACT_TOPK ? " k=41 ties" : kind == QT_ACT_DTHRESH ? " target=0.8 then eval" : "");
    snprintf(fwd, sizeof fwd, "act/%s/fwd", qt_act_name(kind));
    snprintf(bwd, sizeof bwd, "act/%s/bwd", qt_act_name(kind));
    snprintf(state, sizeof state, "act/%s/theta", qt_act_name(kind));
    qt_status_t st = x && dy && y[0] && y[1] && dx[0] && dx[1] && th[0] && th[1] ? QT_OK
                                                                                 : qt_fail(QT_ERR_NOMEM, "cannot allocate");
    for (int i = 0; i < 2 && st == QT_OK && kind == QT_ACT_DTHRESH; i++) st = qt_dthresh_init(&d[i], on[i], &dc);
    qt_cmp_t cf, cb;
    qt_cmp_init(&cf);
    qt_cmp_init(&cb);
    int steps = kind == QT_ACT_DTHRESH ? batches + 1 : 1;
    for (int t = 0; t < steps && st == QT_OK; t++) {
        qt_rng_fill_normal_f32(x, n, seed, 30, (uint64_t)t * n, 0.0f, 1.0f);
        qt_rng_fill_normal_f32(dy, n, seed, 31, (uint64_t)t * n, 0.0f, 1.0f);
        for (size_t i = 0; i < n; i += 3) x[i] = roundf(x[i] * 2.0f) / 2.0f; /* ties for top-k */
        for (int i = 0; i < 2 && st == QT_OK; i++) {
            qt_act_t a = {kind, 0.3f, (int)(cols < 41 ? cols : 41), &d[i], t < batches};
            st = act_on(on[i], &a, x, y[i], i ? y[0] : NULL, dy, dx[i], rows, cols);
        }
        if (st == QT_OK) {
            qt_cmp_add(&cf, y[1], QT_F32, y[0], QT_F32, n, &tol_exact, NULL);
            qt_cmp_add(&cb, dx[1], QT_F32, dx[0], QT_F32, n, &tol_exact, NULL);
        }
    }
    for (int i = 0; i < 2 && st == QT_OK && kind == QT_ACT_DTHRESH; i++) st = from_dev(on[i], &d[i].theta, th[i]);
    if (st != QT_OK) {
        qt_verify_error(v, fwd, name, params, (int64_t)n * steps, qt_last_error());
    } else {
        qt_verify_case(v, fwd, name, params, &cf, &tol_exact);
        qt_verify_case(v, bwd, name, params, &cb, &tol_exact);
        if (kind == QT_ACT_DTHRESH) {
            qt_cmp_t cs;
            qt_cmp_init(&cs);
            qt_cmp_add(&cs, th[1], QT_F32, th[0], QT_F32, (size_t)cols, &tol_exact, NULL);
            qt_verify_case(v, state, name, params, &cs, &tol_exact);
        }
    }
    for (int i = 0; i < 2; i++) {
        qt_dthresh_free(&d[i]);
        qt_free(y[i]);
        qt_free(dx[i]);
        qt_free(th[i]);
    }
    qt_free(x);
    qt_free(dy);
}

/* Matmul shapes and activations on every backend the driver gives for sparse (instances on
 * their devices; unavailable ones were reported as skipped by qt_verify_backends). */
static void run(qt_verify_t *v)
{
    qt_backend_t *bes[64], *ref = qt_verify_oracle(v);
    int n = qt_verify_backends(v, bes, 64);
    if (!ref) {
        for (int b = 0; b < n; b++) qt_verify_error(v, "all", qt_backend_name(bes[b]), "", 0, "no oracle instance");
        qt_verify_backends_free(bes, n);
        return;
    }
    int full = qt_verify_size(v) == QT_VERIFY_FULL;
    uint64_t salt = 1;
    for (size_t i = 0; n && i < sizeof quick_shapes / sizeof quick_shapes[0]; i++)
        verify_matmul(v, quick_shapes[i], ref, bes, n, salt++);
    for (size_t i = 0; n && full && i < sizeof full_shapes / sizeof full_shapes[0]; i++)
        verify_matmul(v, full_shapes[i], ref, bes, n, salt++);
    for (int b = 0; b < n; b++)
        for (int k = 0; k < QT_ACT_COUNT; k++)
            verify_act(v, ref, bes[b], (qt_act_kind_t)k, full ? 509 : 37, full ? 1031 : 129, full ? 50 : 10,
                       qt_verify_seed(v) + 100 + (uint64_t)k);
    qt_verify_backends_free(bes, n);
}

const qt_verify_technique_t qt_verify_sparse = {"sparse", QT_TECH_SPARSE, tols, run};
