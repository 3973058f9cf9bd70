/* verify_sparse.c — `quintet verify sparse`: every backend of the sparse registry
 * (quintet/sparse.h) against the ref oracle:
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

/* One shape: every sparsity × structure × backend × path against ref DENSE. */
static void verify_matmul(qt_verify_t *v, const int64_t *s, const qt_sparse_ops_t *const *bes, int n_bes, uint64_t salt)
{
    int64_t M = s[0], K = s[1], N = s[2];
    uint64_t seed = qt_verify_seed(v) + salt;
    float *A = qt_alloc((size_t)(M * K) * 4), *W = qt_alloc((size_t)(K * N) * 4);
    float *R = qt_alloc((size_t)(M * N) * 4), *Y = qt_alloc((size_t)(M * N) * 4);
    double *bound = qt_alloc((size_t)(M * N) * 8);
    const qt_sparse_ops_t *ref = qt_sparse_backend_find("ref");
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
                qt_spmm_call_t rc = {A, W, R, M, K, N, NULL, NULL, NULL};
                st = qt_sparse_matmul(ref, QT_SPMM_DENSE, &rc);
                qt_cmp_dot_bound(A, W, M, K, N, bound);
            }
            for (int b = 0; b < n_bes; b++)
                for (int p = 0; p < QT_SPMM_COUNT; p++) {
                    char variant[48];
                    snprintf(variant, sizeof variant, "matmul/%s", qt_spmm_path_name((qt_spmm_path_t)p));
                    if (!bes[b]->supports((qt_spmm_path_t)p)) {
                        qt_verify_skip(v, variant, bes[b]->name, params, "supports() is 0: the backend has no such path");
                        continue;
                    }
                    if (st != QT_OK) {
                        qt_verify_error(v, variant, bes[b]->name, params, M * N, qt_last_error());
                        continue;
                    }
                    for (int64_t i = 0; i < M * N; i++) Y[i] = NAN; /* must be overwritten */
                    qt_spmm_call_t c = {A, W, Y, M, K, N, NULL, (p & 1) ? &ws : NULL, NULL};
                    if (qt_sparse_matmul(bes[b], (qt_spmm_path_t)p, &c) != QT_OK) {
                        qt_verify_error(v, variant, bes[b]->name, params, M * N, qt_last_error());
                        continue;
                    }
                    qt_cmp_t cmp;
                    qt_cmp_init(&cmp);
                    qt_cmp_add(&cmp, Y, QT_F32, R, QT_F32, (size_t)(M * N), &qt_verify_tol_spmm, bound);
                    qt_verify_case(v, variant, bes[b]->name, params, &cmp, &qt_verify_tol_spmm);
                }
        }
    qt_spmm_ws_free(&ws);
    qt_free(A);
    qt_free(W);
    qt_free(R);
    qt_free(Y);
    qt_free(bound);
}

/* Activation forward and backward of `kind` (dthresh: `batches` training batches then one
 * in eval mode) of backend be against ref; x has rows × cols values, ties every 3rd. */
static void verify_act(qt_verify_t *v, const qt_sparse_ops_t *be, qt_act_kind_t kind, int64_t rows, int64_t cols,
                       int batches, uint64_t seed)
{
    const qt_sparse_ops_t *ref = qt_sparse_backend_find("ref");
    size_t n = (size_t)(rows * cols);
    float *x = qt_alloc(n * 4), *dy = qt_alloc(n * 4), *y[2] = {qt_alloc(n * 4), qt_alloc(n * 4)},
          *dx[2] = {qt_alloc(n * 4), qt_alloc(n * 4)};
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
    qt_status_t st = x && dy && y[0] && y[1] && dx[0] && dx[1] ? QT_OK : qt_fail(QT_ERR_NOMEM, "cannot allocate");
    for (int i = 0; i < 2 && st == QT_OK && kind == QT_ACT_DTHRESH; i++) st = qt_dthresh_init(&d[i], &dc);
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
            st = qt_sparse_act_forward(i ? be : ref, &a, x, y[i], rows, cols);
            if (st == QT_OK) st = qt_sparse_act_backward(i ? be : ref, y[0], dy, dx[i], (int64_t)n);
        }
        if (st == QT_OK) {
            qt_cmp_add(&cf, y[1], QT_F32, y[0], QT_F32, n, &tol_exact, NULL);
            qt_cmp_add(&cb, dx[1], QT_F32, dx[0], QT_F32, n, &tol_exact, NULL);
        }
    }
    if (st != QT_OK) {
        qt_verify_error(v, fwd, be->name, params, (int64_t)n * steps, qt_last_error());
    } else {
        qt_verify_case(v, fwd, be->name, params, &cf, &tol_exact);
        qt_verify_case(v, bwd, be->name, params, &cb, &tol_exact);
        if (kind == QT_ACT_DTHRESH) {
            qt_cmp_t cs;
            qt_cmp_init(&cs);
            qt_cmp_add(&cs, d[1].theta, QT_F32, d[0].theta, QT_F32, (size_t)cols, &tol_exact, NULL);
            qt_verify_case(v, state, be->name, params, &cs, &tol_exact);
        }
    }
    for (int i = 0; i < 2; i++) {
        qt_dthresh_free(&d[i]);
        qt_free(y[i]);
        qt_free(dx[i]);
    }
    qt_free(x);
    qt_free(dy);
}

/* Registry access for qt_verify_backends. */
static const void *get(int i) { return qt_sparse_backend(i); }
static const char *name_of(const void *be) { return ((const qt_sparse_ops_t *)be)->name; }

/* Matmul shapes and activations on every wanted backend (registry, then extras). */
static void run(qt_verify_t *v)
{
    const void *any[64];
    int n = 0;
    for (int i = 0; i < qt_sparse_backend_count() && n < 64; i++)
        if (qt_verify_wants(v, name_of(get(i)))) any[n++] = get(i);
    const qt_sparse_ops_t *const *bes = (const qt_sparse_ops_t *const *)any;
    int full = qt_verify_size(v) == QT_VERIFY_FULL;
    uint64_t salt = 1;
    for (size_t i = 0; n && i < sizeof quick_shapes / sizeof quick_shapes[0]; i++) verify_matmul(v, quick_shapes[i], bes, n, salt++);
    for (size_t i = 0; n && full && i < sizeof full_shapes / sizeof full_shapes[0]; i++) verify_matmul(v, full_shapes[i], bes, n, salt++);
    for (int b = 0; b < n; b++)
        for (int k = 0; k < QT_ACT_COUNT; k++)
            verify_act(v, bes[b], (qt_act_kind_t)k, full ? 509 : 37, full ? 1031 : 129, full ? 50 : 10,
                       qt_verify_seed(v) + 100 + (uint64_t)k);
}

const qt_verify_technique_t qt_verify_sparse = {"sparse", QT_TECH_SPARSE, tols, run};
