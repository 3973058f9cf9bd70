/* test_sparse.c — correctness of impl/sparse (sparse.h): every matmul path of every
 * backend against the ref oracle at 0/50/90/99/100% sparsity (uniform and structured),
 * the dispatcher, the crossover table file, the activations (cpu against ref), the
 * train/eval semantics and update rule of the dynamic threshold, gradients against
 * finite differences, the SDE counters and the errors on bad input.
 * Run: make test (or build/tests/sparse/test_sparse; QT_TEST_SEED=n replays a seed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/counters.h"
#include "quintet/rng.h"
#include "quintet/sparse.h"
#include "quintet/tensor.h"
#include "test_util.h"
#include "verify/verify.h"

/* Check Y against the ref result R elementwise with the f32 summation bound of
 * qt_verify_tol_spmm (harness/verify/verify_sparse.c, the tolerance `quintet verify` uses):
 * |Y − R| ≤ 2·K·u·Σ_k|a_mk||w_kn| + 2u·|R| (any summation order of K products in f32 is
 * within γ_K ≈ K·u of Σ|a||w|; the second term covers R's own rounding from double).
 * Returns the number of violations. */
static int check_bound(const float *Y, const float *R, const float *A, const float *W, int64_t M, int64_t K, int64_t N)
{
    double *b = malloc((size_t)(M * N) * sizeof *b);
    qt_cmp_dot_bound(A, W, M, K, N, b);
    qt_cmp_t c;
    qt_cmp_init(&c);
    qt_cmp_add(&c, Y, QT_F32, R, QT_F32, (size_t)(M * N), &qt_verify_tol_spmm, b);
    free(b);
    return (int)c.wrong;
}

/* Every backend × supported path × sparsity × structure × shape against ref DENSE. */
static void test_matmul_paths(void)
{
    static const int64_t shapes[][3] = {{1, 300, 200}, {3, 257, 130}, {17, 512, 96}, {64, 200, 1030}, {300, 4001, 20}};
    /* the last one is large enough (M·K ≥ 2^20) for the multi-threaded scans of A */
    static const double sps[] = {0.0, 0.5, 0.9, 0.99, 1.0};
    const qt_sparse_ops_t *ref = qt_sparse_backend_find("ref");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    uint64_t seed = qt_test_seed();
    qt_spmm_ws_t ws = {0};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
        float *A = qt_alloc((size_t)(M * K) * 4), *W = qt_alloc((size_t)(K * N) * 4);
        float *R = qt_alloc((size_t)(M * N) * 4), *Y = qt_alloc((size_t)(M * N) * 4);
        qt_rng_fill_normal_f32(W, (size_t)(K * N), seed, 14 + si, 0, 0.0f, 1.0f);
        for (size_t pi = 0; pi < sizeof sps / sizeof sps[0]; pi++)
            for (int structured = 0; structured < 2; structured++) {
                qt_verify_sparse_fill(A, M, K, sps[pi], structured, seed + si);
                qt_spmm_call_t rc = {A, W, R, M, K, N, NULL, NULL, NULL};
                CU_ASSERT_EQUAL_FATAL(qt_sparse_matmul(ref, QT_SPMM_DENSE, &rc), QT_OK);
                for (int b = 0; b < qt_sparse_backend_count(); b++) {
                    const qt_sparse_ops_t *ops = qt_sparse_backend(b);
                    for (int p = 0; p < QT_SPMM_COUNT; p++) {
                        if (!ops->supports((qt_spmm_path_t)p)) continue;
                        for (int64_t i = 0; i < M * N; i++) Y[i] = NAN; /* must be overwritten */
                        qt_spmm_info_t info;
                        qt_spmm_call_t c = {A, W, Y, M, K, N, NULL, (p & 1) ? &ws : NULL, &info};
                        CU_ASSERT_EQUAL(qt_sparse_matmul(ops, (qt_spmm_path_t)p, &c), QT_OK);
                        int bad;
                        if (sps[pi] >= 1.0) { /* 100%: exactly zero */
                            bad = 0;
                            for (int64_t i = 0; i < M * N; i++) bad += Y[i] != 0.0f;
                        } else {
                            bad = check_bound(Y, R, A, W, M, K, N);
                        }
                        if (bad)
                            fprintf(stderr, "  %s/%s M=%lld K=%lld N=%lld sp=%.2f %s: %d elements off\n", ops->name,
                                    qt_spmm_path_name((qt_spmm_path_t)p), (long long)M, (long long)K, (long long)N,
                                    sps[pi], structured ? "structured" : "uniform", bad);
                        CU_ASSERT_EQUAL(bad, 0);
                        CU_ASSERT(p == QT_SPMM_AUTO ? info.path != QT_SPMM_AUTO : (int)info.path == p);
                        if (info.nnz >= 0) { /* a sparse path's own pass over A is exact */
                            int64_t nnz, zc;
                            qt_sparse_measure(A, M, K, &nnz, &zc);
                            CU_ASSERT(info.nnz == nnz);
                            CU_ASSERT(info.zero_cols < 0 || info.zero_cols == zc);
                        }
                    }
                }
            }
        qt_free(A);
        qt_free(W);
        qt_free(R);
        qt_free(Y);
    }
    qt_spmm_ws_free(&ws);
}

/* AUTO follows the table: a table that favours one path makes it run that path. */
static void test_dispatch_follows_table(void)
{
    const qt_sparse_ops_t *cpu = qt_sparse_backend_find("cpu");
    const int64_t M = 8, K = 256, N = 64;
    float *A = qt_alloc(M * K * 4), *W = qt_alloc(K * N * 4), *Y = qt_alloc(M * N * 4);
    qt_verify_sparse_fill(A, M, K, 0.9, 1, qt_test_seed());
    qt_rng_fill_normal_f32(W, (size_t)(K * N), qt_test_seed(), 20, 0, 0.0f, 1.0f);
    for (int p = QT_SPMM_DENSE; p < QT_SPMM_AUTO; p++) {
        qt_xover_table_t t = {0};
        for (int q = QT_SPMM_GATHER; q < QT_SPMM_AUTO; q++)
            CU_ASSERT_EQUAL(qt_xover_add(&t, (qt_spmm_path_t)q, 1000, INT64_MAX, 1, 0.5, q == p ? 5.0 : 0.5), QT_OK);
        qt_spmm_info_t info;
        qt_spmm_call_t c = {A, W, Y, M, K, N, &t, NULL, &info};
        CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_AUTO, &c), QT_OK);
        CU_ASSERT_EQUAL(info.path, (qt_spmm_path_t)p);
        CU_ASSERT(p == QT_SPMM_DENSE ? info.nnz == -1 : info.nnz > 0);
    }
    qt_free(A);
    qt_free(W);
    qt_free(Y);
}

/* Table: interpolation, bucket choice, save/load round trip, bad files. */
static void test_xover_table(void)
{
    qt_xover_table_t t = {0}, u;
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_GATHER, 1, INT64_MAX, 0, 0.5, 1.0), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_GATHER, 1, INT64_MAX, 0, 0.9, 5.0), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_GATHER, 64, INT64_MAX, 0, 0.9, 0.5), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_COLSKIP, 64, INT64_MAX, 0, 0.9, 3.0), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 1, 100, 100, 0.7, 0.0), 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 1, 100, 100, 0.99, 0.0), 5.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 32, 100, 100, 0.9, 0.0), 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_CSR, 32, 100, 100, 0.9, 0.0), 0.0, 1e-12);
    CU_ASSERT_EQUAL(qt_xover_choose(&t, 1, 100, 100, 0.8, 0.8), QT_SPMM_GATHER);
    CU_ASSERT_EQUAL(qt_xover_choose(&t, 32, 100, 100, 0.9, 0.9), QT_SPMM_COLSKIP);
    CU_ASSERT_EQUAL(qt_xover_choose(&t, 32, 100, 100, 0.9, 0.0), QT_SPMM_DENSE);
    /* points of the problem's own structure class win over the other class */
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_GATHER, 64, INT64_MAX, 1, 0.9, 4.0), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 32, 100, 100, 0.9, 0.9), 4.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 32, 100, 100, 0.9, 0.1), 0.5, 1e-12);
    CU_ASSERT(qt_sparse_structured(0.9, 0.85) && !qt_sparse_structured(0.9, 0.5) && !qt_sparse_structured(0.0, 0.0));
    char file[512];
    snprintf(file, sizeof file, "%s/xover.txt", qt_test_tmpdir());
    CU_ASSERT_EQUAL(qt_xover_save(&t, file), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_load(&u, file), QT_OK);
    CU_ASSERT_EQUAL(u.n, t.n);
    for (int i = 0; i < t.n && i < u.n; i++) {
        CU_ASSERT_EQUAL(u.pt[i].path, t.pt[i].path);
        CU_ASSERT_EQUAL(u.pt[i].max_rows, t.pt[i].max_rows);
        CU_ASSERT_EQUAL(u.pt[i].structured, t.pt[i].structured);
        CU_ASSERT_DOUBLE_EQUAL(u.pt[i].speedup, t.pt[i].speedup, 1e-4);
    }
    FILE *f = fopen(file, "w");
    fputs("gather 1 100 1 0.5\n", f); /* the speedup column is missing */
    fclose(f);
    CU_ASSERT_EQUAL(qt_xover_load(&u, file), QT_ERR_FORMAT);
    CU_ASSERT_EQUAL(u.n, 0);
    remove(file);
    CU_ASSERT_EQUAL(qt_xover_load(&u, file), QT_ERR_IO);
    qt_xover_defaults(&u);
    CU_ASSERT(u.n > 0);
    CU_ASSERT_EQUAL(qt_xover_add(&u, QT_SPMM_AUTO, 1, 1, 0, 0.5, 1.0), QT_ERR_ARG);
}

/* Activations: cpu equals ref bitwise (they are selections), top-k with ties included. */
static void test_activations_match_ref(void)
{
    const int64_t rows = 37, cols = 129;
    const qt_sparse_ops_t *ref = qt_sparse_backend_find("ref"), *cpu = qt_sparse_backend_find("cpu");
    float *x = qt_alloc(rows * cols * 4), *y0 = qt_alloc(rows * cols * 4), *y1 = qt_alloc(rows * cols * 4);
    uint64_t seed = qt_test_seed();
    qt_rng_fill_normal_f32(x, (size_t)(rows * cols), seed, 30, 0, 0.0f, 1.0f);
    for (int64_t i = 0; i < rows * cols; i += 3) x[i] = roundf(x[i] * 2.0f) / 2.0f; /* ties for top-k */
    qt_dthresh_config_t cfg = qt_dthresh_config_default((int)cols);
    cfg.use_target = 1;
    cfg.target = 0.8f;
    qt_dthresh_t d0, d1;
    CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d0, &cfg), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d1, &cfg), QT_OK);
    for (int kind = 0; kind < QT_ACT_COUNT; kind++)
        for (int pass = 0; pass < 3; pass++) {
            qt_act_t a0 = {(qt_act_kind_t)kind, 0.3f, 1 + pass * 40, &d0, pass < 2};
            qt_act_t a1 = a0;
            a1.dt = &d1;
            CU_ASSERT_EQUAL(qt_sparse_act_forward(ref, &a0, x, y0, rows, cols), QT_OK);
            CU_ASSERT_EQUAL(qt_sparse_act_forward(cpu, &a1, x, y1, rows, cols), QT_OK);
            CU_ASSERT_EQUAL(memcmp(y0, y1, (size_t)(rows * cols) * 4), 0);
            if (kind == QT_ACT_TOPK) /* exactly k kept per row (inputs have no zeros among the top) */
                for (int64_t r = 0; r < rows; r++) {
                    int kept = 0;
                    for (int64_t c = 0; c < cols; c++) kept += y0[r * cols + c] != 0.0f;
                    CU_ASSERT(kept <= a0.k);
                }
        }
    CU_ASSERT_EQUAL(memcmp(d0.theta, d1.theta, (size_t)cols * 4), 0);
    /* y aliasing x works */
    memcpy(y1, x, (size_t)(rows * cols) * 4);
    qt_act_t tk = {QT_ACT_TOPK, 0, 5, NULL, 0};
    CU_ASSERT_EQUAL(qt_sparse_act_forward(cpu, &tk, y1, y1, rows, cols), QT_OK);
    CU_ASSERT_EQUAL(qt_sparse_act_forward(ref, &tk, x, y0, rows, cols), QT_OK);
    CU_ASSERT_EQUAL(memcmp(y0, y1, (size_t)(rows * cols) * 4), 0);
    qt_dthresh_free(&d0);
    qt_dthresh_free(&d1);
    qt_free(x);
    qt_free(y0);
    qt_free(y1);
}

/* The update rule on a hand-computed example (1 channel, m = 0.5, κ = 1, no target). */
static void test_dthresh_rule(void)
{
    for (int b = 0; b < qt_sparse_backend_count(); b++) {
        const qt_sparse_ops_t *ops = qt_sparse_backend(b);
        qt_dthresh_config_t cfg = qt_dthresh_config_default(1);
        cfg.momentum = 0.5f;
        qt_dthresh_t d;
        CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d, &cfg), QT_OK);
        qt_act_t a = {QT_ACT_DTHRESH, 0, 0, &d, 1};
        float x1[2] = {1.0f, -3.0f}, x2[2] = {4.0f, 2.0f}, y[2];
        CU_ASSERT_EQUAL(qt_sparse_act_forward(ops, &a, x1, y, 2, 1), QT_OK); /* μ = 2, θ = 2 */
        CU_ASSERT(d.mu[0] == 2.0f && d.theta[0] == 2.0f && y[0] == 0.0f && y[1] == 0.0f);
        CU_ASSERT_EQUAL(qt_sparse_act_forward(ops, &a, x2, y, 2, 1), QT_OK); /* μ = 0.5·2 + 0.5·3 */
        CU_ASSERT(d.mu[0] == 2.5f && d.theta[0] == 2.5f && y[0] == 4.0f && y[1] == 0.0f && d.steps == 2);
        qt_dthresh_free(&d);
    }
}

/* Eval never changes state and is repeatable; training with a target reaches it. */
static void test_dthresh_train_eval(void)
{
    const int64_t B = 256, C = 64;
    uint64_t seed = qt_test_seed();
    float *x = qt_alloc(B * C * 4), *y0 = qt_alloc(B * C * 4), *y1 = qt_alloc(B * C * 4);
    for (int b = 0; b < qt_sparse_backend_count(); b++) {
        const qt_sparse_ops_t *ops = qt_sparse_backend(b);
        qt_dthresh_config_t cfg = qt_dthresh_config_default((int)C);
        cfg.use_target = 1;
        cfg.target = 0.9f;
        qt_dthresh_t d;
        CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d, &cfg), QT_OK);
        qt_act_t train = {QT_ACT_DTHRESH, 0, 0, &d, 1}, eval = train;
        eval.training = 0;
        for (int step = 0; step < 150; step++) {
            /* channel c has mean 0.02·c so the thresholds differ per channel */
            qt_rng_fill_normal_f32(x, (size_t)(B * C), seed, 40, (uint64_t)(step * B * C), 0.0f, 1.0f);
            for (int64_t i = 0; i < B * C; i++) x[i] += 0.02f * (float)(i % C);
            CU_ASSERT_EQUAL(qt_sparse_act_forward(ops, &train, x, y0, B, C), QT_OK);
        }
        float mu[64], kappa[64], theta[64];
        int64_t steps = d.steps;
        memcpy(mu, d.mu, sizeof mu);
        memcpy(kappa, d.kappa, sizeof kappa);
        memcpy(theta, d.theta, sizeof theta);
        qt_rng_fill_normal_f32(x, (size_t)(B * C), seed, 41, 0, 0.0f, 1.0f);
        for (int64_t i = 0; i < B * C; i++) x[i] += 0.02f * (float)(i % C);
        CU_ASSERT_EQUAL(qt_sparse_act_forward(ops, &eval, x, y0, B, C), QT_OK);
        CU_ASSERT_EQUAL(qt_sparse_act_forward(ops, &eval, x, y1, B, C), QT_OK);
        CU_ASSERT_EQUAL(memcmp(y0, y1, (size_t)(B * C) * 4), 0); /* identical output */
        CU_ASSERT(memcmp(mu, d.mu, sizeof mu) == 0 && memcmp(kappa, d.kappa, sizeof kappa) == 0 &&
                  memcmp(theta, d.theta, sizeof theta) == 0 && steps == d.steps); /* unchanged state */
        int64_t zeros = 0;
        for (int64_t i = 0; i < B * C; i++) zeros += y0[i] == 0.0f;
        double sp = (double)zeros / (double)(B * C);
        /* target 0.9 on fresh data: the controller's steady state is within ±0.03 (sampling
         * noise of 256×64 draws is ~0.002; the rest is the controller's ripple). */
        CU_ASSERT(fabs(sp - 0.9) < 0.03);
        if (fabs(sp - 0.9) >= 0.03) fprintf(stderr, "  %s: eval sparsity %.4f for target 0.9\n", ops->name, sp);
        qt_dthresh_free(&d);
    }
    qt_free(x);
    qt_free(y0);
    qt_free(y1);
}

/* Backward against central differences of L = Σ g·y(x), for every activation kind
 * (dthresh in training mode from a restored state and in eval mode). Entries within 4h
 * of a kink (threshold, shift, top-k boundary; in training mode whole channels with an entry
 * that near θ, since θ moves with x) are skipped: y is piecewise linear, so
 * elsewhere the difference quotient is exact up to f32 rounding: |fd − dx| ≤ 1e-2·|g|. */
static void test_gradients_fd(void)
{
    const int64_t rows = 12, cols = 40;
    const float h = 1e-2f;
    uint64_t seed = qt_test_seed();
    float x[12 * 40], g[12 * 40], y[12 * 40], dx[12 * 40], xp[12 * 40], yp[12 * 40];
    qt_rng_fill_normal_f32(x, (size_t)(rows * cols), seed, 50, 0, 0.0f, 1.0f);
    qt_rng_fill_normal_f32(g, (size_t)(rows * cols), seed, 51, 0, 0.0f, 1.0f);
    for (int b = 0; b < qt_sparse_backend_count(); b++) {
        const qt_sparse_ops_t *ops = qt_sparse_backend(b);
        for (int variant = 0; variant < 5; variant++) {
            qt_act_kind_t kind = variant == 4 ? QT_ACT_DTHRESH : (qt_act_kind_t)variant;
            qt_dthresh_config_t cfg = qt_dthresh_config_default((int)cols);
            cfg.scale = 0.8f;
            qt_dthresh_t d, saved;
            CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d, &cfg), QT_OK);
            CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&saved, &cfg), QT_OK);
            qt_act_t a = {kind, 0.25f, 7, &d, variant == QT_ACT_DTHRESH};
            if (kind == QT_ACT_DTHRESH) { /* a few training batches give a non-trivial θ */
                for (int i = 0; i < 3; i++) CU_ASSERT_EQUAL(qt_sparse_act_forward(ops, &a, x, y, rows, cols), QT_OK);
                memcpy(saved.mu, d.mu, (size_t)cols * 4);
                memcpy(saved.kappa, d.kappa, (size_t)cols * 4);
                memcpy(saved.theta, d.theta, (size_t)cols * 4);
                saved.steps = d.steps;
            }
#define RESTORE()                                                           \
    do {                                                                    \
        memcpy(d.mu, saved.mu, (size_t)cols * 4);                           \
        memcpy(d.kappa, saved.kappa, (size_t)cols * 4);                     \
        memcpy(d.theta, saved.theta, (size_t)cols * 4);                     \
        d.steps = saved.steps;                                              \
    } while (0)
            RESTORE();
            CU_ASSERT_EQUAL(qt_sparse_act_forward(ops, &a, x, y, rows, cols), QT_OK);
            CU_ASSERT_EQUAL(qt_sparse_act_backward(ops, y, g, dx, rows * cols), QT_OK);
            int checked = 0, bad = 0;
            for (int64_t i = 0; i < rows * cols; i++) {
                int64_t r = i / cols, c = i % cols;
                float kink = kind == QT_ACT_RELU ? 0.0f : kind == QT_ACT_SHIFTED_RELU ? a.shift : d.theta[c];
                if (kind == QT_ACT_TOPK) { /* distance to the k-th/(k+1)-th boundary value of the row */
                    float row[40];
                    memcpy(row, x + r * cols, sizeof row);
                    for (int s = 0; s <= a.k; s++) /* partial selection sort of the k+1 largest */
                        for (int t = s + 1; t < cols; t++)
                            if (row[t] > row[s]) { float tmp = row[s]; row[s] = row[t]; row[t] = tmp; }
                    kink = 0.5f * (row[a.k - 1] + row[a.k]);
                    if (row[a.k - 1] - row[a.k] < 3 * h) continue;
                }
                if (fabsf(x[i] - kink) < 4 * h) continue;
                if (a.training) { /* θ_c moves with x_i (by m·κ·h/B): skip channels with an entry near θ_c */
                    int near = 0;
                    for (int64_t rr = 0; rr < rows; rr++) near |= fabsf(x[rr * cols + c] - kink) < 4 * h;
                    if (near) continue;
                }
                double lp = 0, lm = 0;
                for (int sgn = -1; sgn <= 1; sgn += 2) {
                    memcpy(xp, x, sizeof xp);
                    xp[i] += (float)sgn * h;
                    RESTORE();
                    CU_ASSERT_EQUAL(qt_sparse_act_forward(ops, &a, xp, yp, rows, cols), QT_OK);
                    double l = 0;
                    for (int64_t j = 0; j < rows * cols; j++) l += (double)g[j] * yp[j];
                    if (sgn < 0) lm = l;
                    else lp = l;
                }
                double fd = (lp - lm) / (2.0 * h);
                checked++;
                if (fabs(fd - dx[i]) > 1e-2 * (fabs(g[i]) + 1e-3)) bad++;
            }
#undef RESTORE
            if (bad) fprintf(stderr, "  %s %s: %d of %d gradients off\n", ops->name, qt_act_name(kind), bad, checked);
            CU_ASSERT_EQUAL(bad, 0);
            CU_ASSERT(checked > rows * cols / 5);
            qt_dthresh_free(&d);
            qt_dthresh_free(&saved);
        }
    }
}

/* SDE counters of one gather call: flops, zeros skipped, nonzeros. */
static void test_counters(void)
{
    const qt_sparse_ops_t *cpu = qt_sparse_backend_find("cpu");
    const int64_t M = 2, K = 100, N = 50;
    float *A = qt_alloc(M * K * 4), *W = qt_alloc(K * N * 4), *Y = qt_alloc(M * N * 4);
    qt_verify_sparse_fill(A, M, K, 0.7, 0, qt_test_seed());
    qt_rng_fill_normal_f32(W, (size_t)(K * N), 1, 2, 0, 0.0f, 1.0f);
    int64_t nnz;
    qt_sparse_measure(A, M, K, &nnz, NULL);
    long long f0 = qt_counter_get(QT_CTR_FLOPS), z0 = qt_counter_get(QT_CTR_ZEROS_SKIPPED),
              n0 = qt_counter_get(QT_CTR_NONZEROS);
    qt_spmm_call_t c = {A, W, Y, M, K, N, NULL, NULL, NULL};
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_GATHER, &c), QT_OK);
    CU_ASSERT_EQUAL(qt_counter_get(QT_CTR_FLOPS) - f0, 2 * nnz * N);
    CU_ASSERT_EQUAL(qt_counter_get(QT_CTR_ZEROS_SKIPPED) - z0, (M * K - nnz) * N);
    CU_ASSERT_EQUAL(qt_counter_get(QT_CTR_NONZEROS) - n0, nnz);
    qt_free(A);
    qt_free(W);
    qt_free(Y);
}

/* Bad inputs give clear errors, never crashes. */
static void test_bad_inputs(void)
{
    const qt_sparse_ops_t *ref = qt_sparse_backend_find("ref"), *cpu = qt_sparse_backend_find("cpu");
    qt_tensor_t A, W, Y;
    int64_t sa[2] = {3, 4}, sw[2] = {5, 6}, sy[2] = {3, 6};
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&A, QT_F32, 2, sa), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&W, QT_F32, 2, sw), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&Y, QT_F32, 2, sy), QT_OK);
    qt_tensor_fill_normal(&A, 1, 1, 0, 1);
    qt_tensor_fill_normal(&W, 1, 2, 0, 1);
    CU_ASSERT_EQUAL(qt_sparse_matmul_tensor(cpu, QT_SPMM_GATHER, &A, &W, &Y, NULL, NULL, NULL), QT_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "inner sizes differ"));
    W.shape[0] = 4; /* now A·W is (3,6) and fits */
    CU_ASSERT_EQUAL(qt_sparse_matmul_tensor(cpu, QT_SPMM_GATHER, &A, &W, &Y, NULL, NULL, NULL), QT_OK);
    Y.shape[1] = 5;
    CU_ASSERT_EQUAL(qt_sparse_matmul_tensor(cpu, QT_SPMM_CSR, &A, &W, &Y, NULL, NULL, NULL), QT_ERR_SHAPE);
    Y.shape[1] = 6;
    CU_ASSERT_EQUAL(qt_sparse_matmul_tensor(ref, QT_SPMM_GATHER, &A, &W, &Y, NULL, NULL, NULL), QT_ERR_UNSUPPORTED);
    qt_spmm_call_t c = {A.data, W.data, Y.data, 0, 4, 6, NULL, NULL, NULL};
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_DENSE, &c), QT_ERR_SHAPE);
    c.M = 3;
    c.Y = NULL;
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_DENSE, &c), QT_ERR_ARG);
    c.Y = A.data; /* overlaps A */
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_DENSE, &c), QT_ERR_ARG);
    c.Y = Y.data;
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, (qt_spmm_path_t)99, &c), QT_ERR_ARG);

    float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[12];
    qt_act_t tk = {QT_ACT_TOPK, 0, 5, NULL, 0};
    CU_ASSERT_EQUAL(qt_sparse_act_forward(cpu, &tk, x, y, 3, 4), QT_ERR_ARG); /* k > width */
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "k = 5"));
    tk.k = 0;
    CU_ASSERT_EQUAL(qt_sparse_act_forward(ref, &tk, x, y, 3, 4), QT_ERR_ARG);
    tk.k = 4;
    CU_ASSERT_EQUAL(qt_sparse_act_forward(ref, &tk, x, y, 3, 4), QT_OK);
    CU_ASSERT_EQUAL(qt_sparse_act_forward(ref, &tk, x, y, 0, 4), QT_ERR_SHAPE);

    qt_dthresh_config_t cfg = qt_dthresh_config_default(4);
    qt_dthresh_t d;
    cfg.use_target = 1;
    cfg.target = 1.0f;
    CU_ASSERT_EQUAL(qt_dthresh_init(&d, &cfg), QT_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "[0, 1)"));
    cfg.target = -0.1f;
    CU_ASSERT_EQUAL(qt_dthresh_init(&d, &cfg), QT_ERR_ARG);
    cfg.target = 0.5f;
    cfg.momentum = 0.0f;
    CU_ASSERT_EQUAL(qt_dthresh_init(&d, &cfg), QT_ERR_ARG);
    cfg.momentum = 0.1f;
    CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d, &cfg), QT_OK);
    qt_act_t dt = {QT_ACT_DTHRESH, 0, 0, &d, 1};
    CU_ASSERT_EQUAL(qt_sparse_act_forward(cpu, &dt, x, y, 2, 6), QT_ERR_SHAPE); /* 4 channels, 6 columns */
    CU_ASSERT_EQUAL(d.steps, 0);
    qt_act_t none = {QT_ACT_DTHRESH, 0, 0, NULL, 1};
    CU_ASSERT_EQUAL(qt_sparse_act_forward(cpu, &none, x, y, 3, 4), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_sparse_act_backward(cpu, y, x, NULL, 12), QT_ERR_ARG);
    qt_act_kind_t k;
    qt_spmm_path_t p;
    CU_ASSERT_EQUAL(qt_act_parse("softmax", &k), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_spmm_path_parse("sparse", &p), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_spmm_path_parse("colskip", &p), QT_OK);
    CU_ASSERT_EQUAL(p, QT_SPMM_COLSKIP);
    CU_ASSERT_PTR_NULL(qt_sparse_backend_find("tpu"));
    qt_dthresh_free(&d);
    qt_tensor_free(&A);
    qt_tensor_free(&W);
    qt_tensor_free(&Y);
}

QT_TEST_MAIN("sparse", {"matmul paths vs ref at 0-100% sparsity", test_matmul_paths},
             {"dispatcher follows the crossover table", test_dispatch_follows_table},
             {"crossover table file and estimates", test_xover_table},
             {"activations cpu == ref", test_activations_match_ref}, {"dthresh update rule", test_dthresh_rule},
             {"dthresh train/eval semantics and target", test_dthresh_train_eval},
             {"gradients vs finite differences", test_gradients_fd}, {"SDE counters", test_counters},
             {"bad inputs give errors", test_bad_inputs})
