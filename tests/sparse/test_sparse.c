/* test_sparse.c — correctness of impl/sparse (sparse.h) on the backend model: every
 * registered backend with sparse ops that can run here (ref included), instances from the
 * registry, operands on each backend's device (copied there and back), checked against the
 * ref oracle on fresh random inputs: every matmul path at 0/50/90/99/100% sparsity (uniform
 * and structured), the dispatcher above the backends and its per-backend tables, the
 * crossover table file, the activations, the train/eval semantics and update rule of the
 * dynamic threshold, gradients against finite differences, the SDE counters and the errors
 * on bad input (wrong shapes, wrong backend's table, a backend without sparse ops).
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

#define MAX_BES 16

/* Instances of every registered backend that has sparse ops and can run here (ref first);
 * the others are named with the reason they are skipped. */
static int open_backends(qt_backend_t **bes)
{
    int n = 0;
    for (int i = 0; i < qt_backend_count() && n < MAX_BES; i++) {
        const qt_backend_iface_t *f = qt_backend_iface_get(i);
        char why[256] = "";
        if (!f->ops[QT_TECH_SPARSE]) continue;
        if (!qt_backend_iface_available(f, why, sizeof why)) {
            fprintf(stderr, "  backend %s skipped: %s\n", f->name, why);
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(qt_backend_init(&bes[n], f->name, NULL), QT_OK);
        n++;
    }
    CU_ASSERT_FATAL(n >= 2 && !strcmp(qt_backend_name(bes[0]), "ref")); /* ref and cpu at least */
    return n;
}

/* Release the instances. */
static void close_backends(qt_backend_t **bes, int n)
{
    for (int i = 0; i < n; i++) qt_backend_free(bes[i]);
}

/* A tensor (rows, cols) on be's device holding host values v (NULL: uninitialised). */
static void to_dev(qt_backend_t *be, const float *v, int64_t rows, int64_t cols, qt_tensor_t *t)
{
    int64_t shape[2] = {rows, cols};
    if (!v) {
        CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(t, be, QT_F32, 2, shape), QT_OK);
        return;
    }
    qt_tensor_t h;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_wrap(&h, (void *)v, QT_F32, 2, shape), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_to_device(be, &h, t), QT_OK);
}

/* Copy tensor t (on be's device) to host floats out. */
static void to_host(qt_backend_t *be, const qt_tensor_t *t, float *out)
{
    qt_tensor_t h;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_to_host(be, t, &h), QT_OK);
    memcpy(out, h.data, (size_t)qt_tensor_numel(t) * sizeof(float));
    qt_tensor_free(&h);
}

/* act_forward of host x into host y (rows, cols) on backend be. */
static qt_status_t act_fwd(qt_backend_t *be, const qt_act_t *a, const float *x, float *y, int64_t rows, int64_t cols)
{
    qt_tensor_t xt, yt;
    to_dev(be, x, rows, cols, &xt);
    to_dev(be, NULL, rows, cols, &yt);
    qt_status_t st = qt_sparse_act_forward(be, a, &xt, &yt);
    if (st == QT_OK) to_host(be, &yt, y);
    qt_tensor_free(&xt);
    qt_tensor_free(&yt);
    return st;
}

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
    static const int64_t shapes[][3] = {{1, 300, 200}, {3, 257, 130}, {17, 512, 96}, {64, 200, 1030}, {300, 4001, 20},
                                        {9, 1300, 600}, {24, 1100, 256}, {2, 8192, 264}, {2, 520, 1064}, {1, 40, 8300},
                                        {20, 600, 2100}};
    /* {300, 4001, 20} is large enough (M·K ≥ 2^20) for the multi-threaded scans of A; {9, 1300,
     * 600} and {24, 1100, 256} give the cpu CSR kernel several K blocks, full strips with a
     * tail, and (one strip, fewer strips than threads) rows split into groups; {2, 8192, 264}:
     * cuda's one-launch GEMV with K split over many blocks (the last block of a column tile
     * sums their partial rows) and a partial second tile of 256 columns; {2, 520, 1064}: more
     * column tiles than SMs for cuda's gemv_v5 at 2 and 4 lanes per row (its 8-warp blocks);
     * {1, 40, 8300}: the cpu gather kernel's column range (N / threads for up to 2 threads) in
     * more than one piece; {20, 600, 2100}: the cpu CSR kernel's packed k blocks (a short last
     * one) over several column ranges and a tail strip (each forced schedule: test_csr_schedules) */
    static const double sps[] = {0.0, 0.5, 0.9, 0.99, 1.0};
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes);
    uint64_t seed = qt_test_seed();
    qt_spmm_ws_t ws[MAX_BES];
    memset(ws, 0, sizeof ws);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
        float *A = qt_alloc((size_t)(M * K) * 4), *W = qt_alloc((size_t)(K * N) * 4);
        float *R = qt_alloc((size_t)(M * N) * 4), *Y = qt_alloc((size_t)(M * N) * 4);
        qt_rng_fill_normal_f32(W, (size_t)(K * N), seed, 14 + si, 0, 0.0f, 1.0f);
        for (size_t pi = 0; pi < sizeof sps / sizeof sps[0]; pi++)
            for (int structured = 0; structured < 2; structured++) {
                /* cuda's GATHER: v3 (one launch, last block sums), v4 (clusters), v5 (no
                 * split-K; lanes per row of W 2, 4, 8 in turn), v6 (v5 with K split over a
                 * cluster of 2 or 4 blocks), v7 (bulk copies, clusters of 2, 4, 8, row pieces of
                 * 128-512 bytes, 8 KB of stages: W rows through the stages several times, or the
                 * default; PDL on or off), v8 (v7 with register loads), v9 (v8 at one block per
                 * SM, tiles of any number of 16-byte chunks; clusters of 8 or 2, 3 or 5 tiles, or
                 * as many as fit), v10 (v9 at two blocks per SM) and v11 (v9 with a list per warp;
                 * clusters of 8, 2, 4 or as many as fit) take the points in turn */
                static const char *const ver[9] = {"3", "4", "5", "6", "7", "8", "9", "10", "11"}, *const lpr[3] = {"2", "4", "8"};
                static const char *const v9[4] = {"8,0", "2,3", "4,5", "0,0"};
                static const char *const v7[6] = {"8,32,8", "2,8,0", "4,16,8", "8,8,0", "2,32,8", "4,32,0"};
                setenv("QT_CUDA_SPARSE_KERNEL", ver[(2 * pi + structured + si) % 9], 1);
                setenv("QT_CUDA_GEMV9", v9[(pi + structured + si) % 4], 1);
                setenv("QT_CUDA_GEMV_FIN", (pi + si) & 1 ? "1" : "0", 1); /* v9-v11: finish by st.async or barrier */
                setenv("QT_CUDA_GEMV_WLD", (pi + structured) % 3 == 0 ? "0" : (pi + structured) % 3 == 1 ? "1" : "2", 1);
                setenv("QT_CUDA_GEMV_LPR", lpr[(pi + si) % 3], 1);
                setenv("QT_CUDA_GEMV_CS", si & 1 ? "4" : "2", 1);
                setenv("QT_CUDA_GEMV7", v7[(pi + 2 * structured + si) % 6], 1);
                setenv("QT_CUDA_GEMV_PDL", (pi + si) & 1 ? "1" : "0", 1);
                qt_verify_sparse_fill(A, M, K, sps[pi], structured, seed + si);
                for (int b = 0; b < nb; b++) { /* b = 0 is ref: its DENSE result is R */
                    qt_tensor_t At, Wt, Yt;
                    to_dev(bes[b], A, M, K, &At);
                    to_dev(bes[b], W, K, N, &Wt);
                    for (int p = 0; p < QT_SPMM_COUNT; p++) {
                        if (!qt_sparse_supports(bes[b], (qt_spmm_path_t)p, &At, &Wt, NULL, NULL, 0)) continue;
                        for (int64_t i = 0; i < M * N; i++) Y[i] = NAN; /* must be overwritten */
                        to_dev(bes[b], Y, M, N, &Yt);
                        qt_spmm_info_t info;
                        CU_ASSERT_EQUAL(qt_sparse_matmul(bes[b], (qt_spmm_path_t)p, &At, &Wt, &Yt, NULL,
                                                         /* a workspace shared by the paths (cuda keeps
                                                          * GEMV counters in its head), or none */
                                                         (p != QT_SPMM_DENSE && (p != QT_SPMM_COLSKIP || (pi & 1)))
                                                             ? &ws[b] : NULL, &info), QT_OK);
                        to_host(bes[b], &Yt, Y);
                        qt_tensor_free(&Yt);
                        if (b == 0 && p == QT_SPMM_DENSE) memcpy(R, Y, (size_t)(M * N) * 4);
                        int bad;
                        if (sps[pi] >= 1.0) { /* 100%: exactly zero */
                            bad = 0;
                            for (int64_t i = 0; i < M * N; i++) bad += Y[i] != 0.0f;
                        } else {
                            bad = check_bound(Y, R, A, W, M, K, N);
                        }
                        if (bad)
                            fprintf(stderr, "  %s/%s M=%lld K=%lld N=%lld sp=%.2f %s: %d elements off\n",
                                    qt_backend_name(bes[b]), qt_spmm_path_name((qt_spmm_path_t)p), (long long)M,
                                    (long long)K, (long long)N, sps[pi], structured ? "structured" : "uniform", bad);
                        CU_ASSERT_EQUAL(bad, 0);
                        CU_ASSERT(p == QT_SPMM_AUTO ? info.path != QT_SPMM_AUTO : (int)info.path == p);
                        if (info.nnz >= 0) { /* a sparse path's own pass over A is exact */
                            int64_t nnz, zc;
                            CU_ASSERT_EQUAL(qt_sparse_measure(bes[b], &At, &nnz, &zc), QT_OK);
                            CU_ASSERT(info.nnz == nnz);
                            CU_ASSERT(info.zero_cols < 0 || info.zero_cols == zc);
                        }
                    }
                    qt_tensor_free(&At);
                    qt_tensor_free(&Wt);
                }
            }
        qt_free(A);
        qt_free(W);
        qt_free(R);
        qt_free(Y);
    }
    unsetenv("QT_CUDA_SPARSE_KERNEL");
    unsetenv("QT_CUDA_GEMV_LPR");
    unsetenv("QT_CUDA_GEMV_CS");
    unsetenv("QT_CUDA_GEMV7");
    unsetenv("QT_CUDA_GEMV9");
    unsetenv("QT_CUDA_GEMV_PDL");
    unsetenv("QT_CUDA_GEMV_FIN");
    unsetenv("QT_CUDA_GEMV_WLD");
    for (int b = 0; b < nb; b++) qt_spmm_ws_free(&ws[b]);
    close_backends(bes, nb);
}

/* A chain of GATHER GEMVs queued back to back without a synchronisation, each one's output the
 * next one's A (the network case, where a GEMV's A is written by the kernel just before it; on
 * cuda the GEMVs run under Programmatic Dependent Launch, and one that read A before its producer
 * had finished would see the NaN poisoned in before the chain, or another value): the last output
 * against ref's chain, |Y − R| ≤ 1e-4·max|R| (f32 accumulation over 6 layers of K = 1024). The
 * first A is 90% zeros, the others dense. Each non-ref backend with the path; on cuda v7 and v8
 * (two shapes each), v9, v10 (whose next GEMV's blocks are resident, prefetching A, while the
 * GEMV that writes that A runs), v11 and v3 under PDL. */
static void test_gemv_chain(void)
{
    enum { L = 6 };
    const int64_t K = 1024;
    enum { NC = 10 }; /* version, QT_CUDA_GEMV7, QT_CUDA_GEMV_PDL, QT_CUDA_GEMV_FIN and _WLD (v9-v11) */
    static const char *const cfg[NC][4] = {{"7", "0,0,0", "1", "0"},  {"7", "2,8,8", "1", "0"},  {"3", "0,0,0", "1", "0"},
                                           {"8", "0,0,0", "1", "0"},  {"8", "4,16,0", "1", "0"}, {"9", "0,0,0", "1", "0"},
                                           {"9", "0,0,0", "1", "1"},  {"10", "0,0,0", "1", "0"}, {"10", "0,0,0", "1", "1"},
                                           {"11", "0,0,0", "1", "1"}};
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes);
    uint64_t seed = qt_test_seed();
    float *W = qt_alloc((size_t)(L * K * K) * 4), *x = qt_alloc((size_t)K * 4), *R = qt_alloc((size_t)K * 4),
          *Y = qt_alloc((size_t)K * 4), *nan = qt_alloc((size_t)K * 4);
    qt_rng_fill_normal_f32(W, (size_t)(L * K * K), seed, 60, 0, 0.0f, (float)(1.0 / sqrt((double)K)));
    qt_verify_sparse_fill(x, 1, K, 0.9, 0, seed + 61);
    for (int64_t i = 0; i < K; i++) nan[i] = NAN;
    for (int b = 0; b < nb; b++)
        for (int ci = 0; ci < (b ? NC : 1); ci++) {
            setenv("QT_CUDA_SPARSE_KERNEL", cfg[ci][0], 1);
            setenv("QT_CUDA_GEMV7", cfg[ci][1], 1);
            setenv("QT_CUDA_GEMV_PDL", cfg[ci][2], 1);
            setenv("QT_CUDA_GEMV_FIN", cfg[ci][3], 1);
            setenv("QT_CUDA_GEMV_WLD", cfg[ci][3], 1); /* with the st.async finish, W through ld.global.nc */
            const qt_spmm_path_t p = b ? QT_SPMM_GATHER : QT_SPMM_DENSE;
            qt_tensor_t Wt[L], Yt[L + 1];
            to_dev(bes[b], x, 1, K, &Yt[0]);
            for (int l = 0; l < L; l++) to_dev(bes[b], W + (size_t)l * K * K, K, K, &Wt[l]);
            for (int l = 1; l <= L; l++) to_dev(bes[b], nan, 1, K, &Yt[l]);
            if (!qt_sparse_supports(bes[b], p, &Yt[0], &Wt[0], NULL, NULL, 0)) {
                for (int l = 0; l < L; l++) qt_tensor_free(&Wt[l]);
                for (int l = 0; l <= L; l++) qt_tensor_free(&Yt[l]);
                break;
            }
            for (int l = 0; l < L; l++)
                CU_ASSERT_EQUAL(qt_sparse_matmul(bes[b], p, &Yt[l], &Wt[l], &Yt[l + 1], NULL, NULL, NULL), QT_OK);
            to_host(bes[b], &Yt[L], b ? Y : R);
            if (b) {
                double rmax = 0;
                int bad = 0;
                for (int64_t i = 0; i < K; i++) rmax = fmax(rmax, fabs(R[i]));
                for (int64_t i = 0; i < K; i++) bad += !(fabs(Y[i] - R[i]) <= 1e-4 * rmax);
                if (bad)
                    fprintf(stderr, "  %s chain (QT_CUDA_SPARSE_KERNEL=%s QT_CUDA_GEMV7=%s QT_CUDA_GEMV_FIN=%s): %d of %lld off\n",
                            qt_backend_name(bes[b]), cfg[ci][0], cfg[ci][1], cfg[ci][3], bad, (long long)K);
                CU_ASSERT(rmax > 0);
                CU_ASSERT_EQUAL(bad, 0);
            }
            for (int l = 0; l < L; l++) qt_tensor_free(&Wt[l]);
            for (int l = 0; l <= L; l++) qt_tensor_free(&Yt[l]);
        }
    unsetenv("QT_CUDA_SPARSE_KERNEL");
    unsetenv("QT_CUDA_GEMV7");
    unsetenv("QT_CUDA_GEMV_PDL");
    unsetenv("QT_CUDA_GEMV_FIN");
    unsetenv("QT_CUDA_GEMV_WLD");
    qt_free(W), qt_free(x), qt_free(R), qt_free(Y), qt_free(nan);
    close_backends(bes, nb);
}

/* bf16 operands (backends whose supports() takes them: cuda): every path against ref DENSE in
 * f32 on the same bf16-rounded values. Tolerance |Y − R| ≤ 2^-8·|R| (the bf16 rounding of the
 * output) + 2·K·u·Σ|a||w| (f32 accumulation in any order). */
static void test_matmul_bf16(void)
{
    /* {1, 16384, 520}: gemv_v5's warps consume their lists mid-scan when A is dense */
    static const int64_t shapes[][3] = {{1, 1000, 520}, {5, 777, 64}, {64, 512, 300}, {1, 16384, 520}};
    static const double sps[] = {0.0, 0.9, 1.0};
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes), tested = 0;
    uint64_t seed = qt_test_seed();
    for (int b = 1; b < nb; b++) {
        const qt_sparse_ops_t *ops = qt_backend_ops(bes[b], QT_TECH_SPARSE);
        if (!ops->supports(bes[b], QT_SPMM_DENSE, QT_BF16)) continue;
        for (int ver = 1; ver <= 11; ver++) /* cuda's kernel versions (QT_CUDA_SPARSE_KERNEL), f32 paths at v3–v11 above */
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (size_t pi = 0; pi < sizeof sps / sizeof sps[0]; pi++)
                for (int structured = 0; structured < 2; structured++) {
                    char vs[4];
                    snprintf(vs, sizeof vs, "%d", ver);
                    setenv("QT_CUDA_SPARSE_KERNEL", vs, 1);
                    setenv("QT_CUDA_GEMV_FIN", (pi + si + structured) & 1 ? "1" : "0", 1);
                    setenv("QT_CUDA_GEMV_WLD", si % 3 == 0 ? "1" : si % 3 == 1 ? "2" : "0", 1);
                    setenv("QT_CUDA_COLSKIP_PAD", si & 1 ? "64" : "8", 1); /* compact GEMM's zero padding */
                    setenv("QT_CUDA_GEMV_LPR", (pi + structured) % 3 == 0 ? "2" : (pi + structured) % 3 == 1 ? "4" : "8", 1);
                    setenv("QT_CUDA_GEMV_CS", pi & 1 ? "4" : "2", 1);
                    setenv("QT_CUDA_GEMV7", (pi + si + structured) % 3 == 0 ? "8,32,8" : (pi + si + structured) % 3 == 1 ? "2,16,0" : "4,0,0", 1);
                    int64_t M = shapes[si][0], K = shapes[si][1], N = shapes[si][2], sa[2] = {M, K}, sw[2] = {K, N},
                            sy[2] = {M, N};
                    float *A = qt_alloc((size_t)(M * K) * 4), *W = qt_alloc((size_t)(K * N) * 4),
                          *R = qt_alloc((size_t)(M * N) * 4), *Yf = qt_alloc((size_t)(M * N) * 4);
                    qt_tensor_t ha, hw, hy, da, dw, dy, back;
                    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&ha, QT_BF16, 2, sa), QT_OK);
                    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&hw, QT_BF16, 2, sw), QT_OK);
                    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&hy, QT_BF16, 2, sy), QT_OK);
                    qt_verify_sparse_fill(A, M, K, sps[pi], structured, seed + si);
                    qt_rng_fill_normal_f32(W, (size_t)(K * N), seed, 40 + si, 0, 0.0f, 1.0f);
                    for (int64_t i = 0; i < M * K; i++) /* round to bf16 and back: R sees the same values */
                        ((uint16_t *)ha.data)[i] = qt_f32_to_bf16(A[i]), A[i] = qt_bf16_to_f32(((uint16_t *)ha.data)[i]);
                    for (int64_t i = 0; i < K * N; i++)
                        ((uint16_t *)hw.data)[i] = qt_f32_to_bf16(W[i]), W[i] = qt_bf16_to_f32(((uint16_t *)hw.data)[i]);
                    for (int64_t i = 0; i < M * N; i++) ((uint16_t *)hy.data)[i] = 0x7fc0; /* NaN: must be overwritten */
                    qt_tensor_t ra, rw, ry;
                    to_dev(bes[0], A, M, K, &ra);
                    to_dev(bes[0], W, K, N, &rw);
                    to_dev(bes[0], NULL, M, N, &ry);
                    CU_ASSERT_EQUAL(qt_sparse_matmul(bes[0], QT_SPMM_DENSE, &ra, &rw, &ry, NULL, NULL, NULL), QT_OK);
                    memcpy(R, ry.data, (size_t)(M * N) * 4);
                    double *bound = malloc((size_t)(M * N) * sizeof *bound);
                    qt_cmp_dot_bound(A, W, M, K, N, bound);
                    CU_ASSERT_EQUAL_FATAL(qt_tensor_to_device(bes[b], &ha, &da), QT_OK);
                    CU_ASSERT_EQUAL_FATAL(qt_tensor_to_device(bes[b], &hw, &dw), QT_OK);
                    for (int p = 0; p < QT_SPMM_COUNT; p++) {
                        if (!qt_sparse_supports(bes[b], (qt_spmm_path_t)p, &da, &dw, NULL, NULL, 0)) continue;
                        CU_ASSERT_EQUAL_FATAL(qt_tensor_to_device(bes[b], &hy, &dy), QT_OK);
                        CU_ASSERT_EQUAL(qt_sparse_matmul(bes[b], (qt_spmm_path_t)p, &da, &dw, &dy, NULL, NULL, NULL),
                                        QT_OK);
                        CU_ASSERT_EQUAL_FATAL(qt_tensor_to_host(bes[b], &dy, &back), QT_OK);
                        int bad = 0;
                        for (int64_t i = 0; i < M * N; i++) {
                            Yf[i] = qt_bf16_to_f32(((uint16_t *)back.data)[i]);
                            double tol = ldexp(fabs(R[i]), -8) + 2.0 * K * 5.9604644775390625e-08 * bound[i];
                            bad += !(fabs(Yf[i] - R[i]) <= tol);
                        }
                        if (bad)
                            fprintf(stderr, "  %s/%s v%d bf16 M=%lld K=%lld N=%lld sp=%.2f: %d elements off\n",
                                    qt_backend_name(bes[b]), qt_spmm_path_name((qt_spmm_path_t)p), ver, (long long)M,
                                    (long long)K, (long long)N, sps[pi], bad);
                        CU_ASSERT_EQUAL(bad, 0);
                        tested++;
                        qt_tensor_free(&back);
                        qt_tensor_free(&dy);
                    }
                    free(bound);
                    qt_tensor_free(&ha), qt_tensor_free(&hw), qt_tensor_free(&hy);
                    qt_tensor_free(&da), qt_tensor_free(&dw);
                    qt_tensor_free(&ra), qt_tensor_free(&rw), qt_tensor_free(&ry);
                    qt_free(A), qt_free(W), qt_free(R), qt_free(Yf);
                }
    }
    unsetenv("QT_CUDA_SPARSE_KERNEL");
    unsetenv("QT_CUDA_COLSKIP_PAD");
    unsetenv("QT_CUDA_GEMV_LPR");
    unsetenv("QT_CUDA_GEMV_CS");
    unsetenv("QT_CUDA_GEMV7");
    unsetenv("QT_CUDA_GEMV_FIN");
    unsetenv("QT_CUDA_GEMV_WLD");
    if (!tested) printf("\n  no backend here takes bf16 operands (cuda does, on a GPU): skipped ");
    /* a host backend refuses bf16 with a reason */
    char why[256] = "";
    int64_t s2[2] = {2, 2};
    qt_tensor_t a;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&a, QT_BF16, 2, s2), QT_OK);
    CU_ASSERT_EQUAL(qt_sparse_supports(bes[1], QT_SPMM_DENSE, &a, NULL, NULL, why, sizeof why), 0);
    CU_ASSERT(strstr(why, "bf16") != NULL);
    qt_tensor_free(&a);
    close_backends(bes, nb);
}

/* Every backend's measure op counts exactly what ref's does, on whole matrices and on the
 * dispatcher's row samples (exact: counts of the same rows). */
static void test_measure(void)
{
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes);
    const int64_t M = 50, K = 333;
    float *A = qt_alloc((size_t)(M * K) * 4);
    for (int structured = 0; structured < 2; structured++) {
        qt_verify_sparse_fill(A, M, K, 0.8, structured, qt_test_seed() + 7);
        int64_t want[3][2];
        for (int b = 0; b < nb; b++) {
            const qt_sparse_ops_t *ops = qt_backend_ops(bes[b], QT_TECH_SPARSE);
            qt_tensor_t At;
            to_dev(bes[b], A, M, K, &At);
            static const int64_t rs[3] = {1, 8, 50};
            for (int i = 0; i < 3; i++) {
                int64_t nz = -1, zc = -1;
                CU_ASSERT_EQUAL(ops->measure(bes[b], &At, rs[i], &nz, &zc), QT_OK);
                if (b == 0) {
                    want[i][0] = nz;
                    want[i][1] = zc;
                }
                CU_ASSERT(nz == want[i][0] && zc == want[i][1]);
            }
            qt_tensor_free(&At);
        }
        int64_t nz = 0; /* ref's full count against a direct count */
        for (int64_t i = 0; i < M * K; i++) nz += A[i] != 0.0f;
        CU_ASSERT_EQUAL(want[2][0], nz);
    }
    qt_free(A);
    close_backends(bes, nb);
}

/* AUTO keeps its estimate in the workspace (sparse.h), on every backend: after a measure on a
 * 90%-sparse A, QT_SPMM_REMEASURE − 1 calls on a dense A of the same shape still run the path
 * the estimate chose (with correct values: every path is exact), and the next call measures
 * again and switches to DENSE. Without a workspace every call measures. */
static void test_dispatch_reuses_estimate(void)
{
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes), tested = 0;
    const int64_t M = 4, K = 512, N = 64;
    float *A9 = qt_alloc(M * K * 4), *A0 = qt_alloc(M * K * 4), *W = qt_alloc(K * N * 4);
    float *R = qt_alloc(M * N * 4), *Y = qt_alloc(M * N * 4);
    uint64_t seed = qt_test_seed();
    qt_verify_sparse_fill(A9, M, K, 0.9, 0, seed);
    qt_rng_fill_normal_f32(A0, (size_t)(M * K), seed, 31, 0, 0.0f, 1.0f); /* no zeros */
    qt_rng_fill_normal_f32(W, (size_t)(K * N), seed, 32, 0, 0.0f, 1.0f);
    qt_tensor_t ra, rw, ry;
    to_dev(bes[0], A0, M, K, &ra);
    to_dev(bes[0], W, K, N, &rw);
    to_dev(bes[0], NULL, M, N, &ry);
    CU_ASSERT_EQUAL(qt_sparse_matmul(bes[0], QT_SPMM_DENSE, &ra, &rw, &ry, NULL, NULL, NULL), QT_OK);
    memcpy(R, ry.data, (size_t)(M * N) * 4);
    for (int b = 1; b < nb; b++) {
        qt_backend_t *be = bes[b];
        if (!qt_sparse_supports(be, QT_SPMM_GATHER, NULL, NULL, NULL, NULL, 0))
            continue;
        qt_xover_table_t *t = malloc(sizeof *t);
        CU_ASSERT_EQUAL_FATAL(qt_xover_init(t, qt_backend_name(be)), QT_OK);
        CU_ASSERT_EQUAL(qt_xover_add(t, QT_SPMM_GATHER, 1000, INT64_MAX, 0, 0.5, 5.0), QT_OK); /* from 48% on */
        qt_tensor_t a9, a0, wt, yt;
        to_dev(be, A9, M, K, &a9);
        to_dev(be, A0, M, K, &a0);
        to_dev(be, W, K, N, &wt);
        to_dev(be, NULL, M, N, &yt);
        qt_spmm_ws_t ws;
        memset(&ws, 0, sizeof ws);
        qt_spmm_info_t info;
        CU_ASSERT_EQUAL(qt_sparse_matmul(be, QT_SPMM_AUTO, &a9, &wt, &yt, t, &ws, &info), QT_OK);
        CU_ASSERT_EQUAL(info.path, QT_SPMM_GATHER);
        for (int i = 1; i <= QT_SPMM_REMEASURE; i++) {
            for (int64_t j = 0; j < M * N; j++) Y[j] = NAN;
            qt_tensor_free(&yt);
            to_dev(be, Y, M, N, &yt);
            CU_ASSERT_EQUAL(qt_sparse_matmul(be, QT_SPMM_AUTO, &a0, &wt, &yt, t, &ws, &info), QT_OK);
            CU_ASSERT_EQUAL(info.path, i < QT_SPMM_REMEASURE ? QT_SPMM_GATHER : QT_SPMM_DENSE);
            to_host(be, &yt, Y);
            CU_ASSERT_EQUAL(check_bound(Y, R, A0, W, M, K, N), 0);
        }
        tested++;
        qt_spmm_ws_free(&ws);
        qt_tensor_free(&a9), qt_tensor_free(&a0), qt_tensor_free(&wt), qt_tensor_free(&yt);
        free(t);
    }
    CU_ASSERT(tested > 0); /* the cpu backend at least */
    qt_tensor_free(&ra), qt_tensor_free(&rw), qt_tensor_free(&ry);
    qt_free(A9), qt_free(A0), qt_free(W), qt_free(R), qt_free(Y);
    close_backends(bes, nb);
}

/* AUTO follows the backend's table: a table that favours one path makes it run that path;
 * a table of another backend is refused; without one, the backend's own defaults apply. */
static void test_dispatch_follows_table(void)
{
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes);
    const int64_t M = 8, K = 256, N = 64;
    float *A = qt_alloc(M * K * 4), *W = qt_alloc(K * N * 4);
    qt_verify_sparse_fill(A, M, K, 0.9, 1, qt_test_seed());
    qt_rng_fill_normal_f32(W, (size_t)(K * N), qt_test_seed(), 20, 0, 0.0f, 1.0f);
    for (int b = 0; b < nb; b++) {
        qt_backend_t *be = bes[b];
        qt_tensor_t At, Wt, Yt;
        to_dev(be, A, M, K, &At);
        to_dev(be, W, K, N, &Wt);
        to_dev(be, NULL, M, N, &Yt);
        qt_xover_table_t *t = malloc(sizeof *t);
        qt_spmm_info_t info;
        for (int p = QT_SPMM_DENSE; p < QT_SPMM_AUTO; p++) {
            CU_ASSERT_EQUAL_FATAL(qt_xover_init(t, qt_backend_name(be)), QT_OK);
            for (int q = QT_SPMM_GATHER; q < QT_SPMM_AUTO; q++)
                CU_ASSERT_EQUAL(qt_xover_add(t, (qt_spmm_path_t)q, 1000, INT64_MAX, 1, 0.5, q == p ? 5.0 : 0.5), QT_OK);
            CU_ASSERT_EQUAL(qt_sparse_matmul(be, QT_SPMM_AUTO, &At, &Wt, &Yt, t, NULL, &info), QT_OK);
            /* the favoured path when the backend has it, else DENSE: never a path it lacks */
            int has = qt_sparse_supports(be, (qt_spmm_path_t)p, NULL, NULL, NULL, NULL, 0);
            CU_ASSERT_EQUAL(info.path, has ? (qt_spmm_path_t)p : QT_SPMM_DENSE);
            CU_ASSERT(info.path == QT_SPMM_DENSE ? info.nnz == -1 : info.nnz > 0);
        }
        CU_ASSERT_EQUAL(qt_xover_init(t, b ? "ref" : "cpu"), QT_OK); /* another backend's table */
        CU_ASSERT_EQUAL(qt_sparse_matmul(be, QT_SPMM_AUTO, &At, &Wt, &Yt, t, NULL, &info), QT_ERR_ARG);
        CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "crossover table"));
        CU_ASSERT_EQUAL(qt_sparse_matmul(be, QT_SPMM_AUTO, &At, &Wt, &Yt, NULL, NULL, &info), QT_OK);
        CU_ASSERT(qt_sparse_supports(be, info.path, NULL, NULL, NULL, NULL, 0));
        free(t);
        qt_tensor_free(&At);
        qt_tensor_free(&Wt);
        qt_tensor_free(&Yt);
    }
    qt_free(A);
    qt_free(W);
    close_backends(bes, nb);
}

/* Table: interpolation, bucket choice, save/load round trip with its backend, bad files,
 * per-backend defaults and file names. */
static void test_xover_table(void)
{
    qt_xover_table_t t, u;
    CU_ASSERT_EQUAL_FATAL(qt_xover_init(&t, "cpu"), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_GATHER, 1, INT64_MAX, 0, 0.5, 1.0), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_GATHER, 1, INT64_MAX, 0, 0.9, 5.0), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_GATHER, 64, INT64_MAX, 0, 0.9, 0.5), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_COLSKIP, 64, INT64_MAX, 0, 0.9, 3.0), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 1, 100, 100, 0.7, 0.0), 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 1, 100, 100, 0.99, 0.0), 5.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 32, 100, 100, 0.9, 0.0), 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_CSR, 32, 100, 100, 0.9, 0.0), 0.0, 1e-12);
    CU_ASSERT_EQUAL(qt_xover_choose(&t, 1, 100, 100, 0.8, 0.8, NULL, NULL), QT_SPMM_GATHER);
    CU_ASSERT_EQUAL(qt_xover_choose(&t, 32, 100, 100, 0.9, 0.9, NULL, NULL), QT_SPMM_COLSKIP);
    CU_ASSERT_EQUAL(qt_xover_choose(&t, 32, 100, 100, 0.9, 0.0, NULL, NULL), QT_SPMM_DENSE);
    /* points of the problem's own structure class win over the other class */
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_GATHER, 64, INT64_MAX, 1, 0.9, 4.0), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 32, 100, 100, 0.9, 0.9), 4.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 32, 100, 100, 0.9, 0.1), 0.5, 1e-12);
    CU_ASSERT(qt_sparse_structured(0.9, 0.85) && !qt_sparse_structured(0.9, 0.5) && !qt_sparse_structured(0.0, 0.0));
    char file[512];
    CU_ASSERT_EQUAL(qt_xover_file(qt_test_tmpdir(), "cpu", file, sizeof file), QT_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(file, "sparse_crossover_cpu.txt"));
    CU_ASSERT_EQUAL(qt_xover_file("/tmp", "cpu", file, 10), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_xover_file(qt_test_tmpdir(), "cpu", file, sizeof file), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_save(&t, file), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_load(&u, file), QT_OK);
    CU_ASSERT_STRING_EQUAL(u.backend, "cpu");
    CU_ASSERT_EQUAL(u.n, t.n);
    for (int i = 0; i < t.n && i < u.n; i++) {
        CU_ASSERT_EQUAL(u.pt[i].path, t.pt[i].path);
        CU_ASSERT_EQUAL(u.pt[i].max_rows, t.pt[i].max_rows);
        CU_ASSERT_EQUAL(u.pt[i].structured, t.pt[i].structured);
        CU_ASSERT_DOUBLE_EQUAL(u.pt[i].speedup, t.pt[i].speedup, 1e-4);
    }
    FILE *f = fopen(file, "w");
    fputs("backend cpu\ngather 1 100 1 0.5\n", f); /* the speedup column is missing */
    fclose(f);
    CU_ASSERT_EQUAL(qt_xover_load(&u, file), QT_ERR_FORMAT);
    CU_ASSERT_EQUAL(u.n, 0);
    f = fopen(file, "w");
    fputs("gather 1 100 1 0.5 2.0\n", f); /* no backend line: whose table is it? */
    fclose(f);
    CU_ASSERT_EQUAL(qt_xover_load(&u, file), QT_ERR_FORMAT);
    remove(file);
    CU_ASSERT_EQUAL(qt_xover_load(&u, file), QT_ERR_IO);
    CU_ASSERT_EQUAL(qt_xover_defaults(&u, "cpu"), QT_OK);
    CU_ASSERT(u.n > 0);
    /* the cpu defaults: per-row sparse batches take the blocked CSR strips from 90% (issue 18's
     * M=64 K=N=4096 point), a single row the gather path, a dense-ish batch stays DENSE */
    CU_ASSERT_EQUAL(qt_xover_choose(&u, 64, 4096, 4096, 0.9, 0.0, NULL, NULL), QT_SPMM_CSR);
    CU_ASSERT_EQUAL(qt_xover_choose(&u, 64, 4096, 4096, 0.95, 0.0, NULL, NULL), QT_SPMM_CSR);
    CU_ASSERT_EQUAL(qt_xover_choose(&u, 1, 16384, 4096, 0.9, 0.0, NULL, NULL), QT_SPMM_GATHER);
    /* fill: a run's own bucket (gather, 64 rows) replaces the base's; the base's other buckets
     * come whole (a 1-point-per-bucket fill made AUTO run DENSE at M=64 from the defaults) */
    CU_ASSERT_EQUAL(qt_xover_init(&t, "cpu"), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_add(&t, QT_SPMM_GATHER, 1, INT64_MAX, 0, 0.9, 7.0), QT_OK);
    CU_ASSERT_EQUAL(qt_xover_fill(&t, &u), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_GATHER, 1, 16384, 4096, 0.95, 0.0), 7.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_xover_estimate(&t, QT_SPMM_CSR, 64, 4096, 4096, 0.9, 0.0),
                           qt_xover_estimate(&u, QT_SPMM_CSR, 64, 4096, 4096, 0.9, 0.0), 1e-12);
    CU_ASSERT_EQUAL(qt_xover_choose(&t, 64, 4096, 4096, 0.9, 0.0, NULL, NULL), QT_SPMM_CSR);
    CU_ASSERT_EQUAL(qt_xover_fill(NULL, &u), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_xover_choose(&u, 64, 4096, 4096, 0.5, 0.0, NULL, NULL), QT_SPMM_DENSE);
    CU_ASSERT_EQUAL(qt_xover_defaults(&u, "ref"), QT_OK); /* no figures of its own: always DENSE */
    CU_ASSERT(u.n == 0 && !strcmp(u.backend, "ref"));
    CU_ASSERT_EQUAL(qt_xover_add(&u, QT_SPMM_AUTO, 1, 1, 0, 0.5, 1.0), QT_ERR_ARG);
    memset(&u, 0, sizeof u);
    CU_ASSERT_EQUAL(qt_xover_save(&u, file), QT_ERR_ARG); /* names no backend */
}

/* Activations: every backend equals ref bitwise (they are selections of the input with
 * thresholds computed the same way: tolerance 0), top-k with ties included, the dthresh
 * state too. */
static void test_activations_match_ref(void)
{
    const int64_t rows = 37, cols = 129;
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes);
    float *x = qt_alloc(rows * cols * 4), *y0 = qt_alloc(rows * cols * 4), *y1 = qt_alloc(rows * cols * 4);
    float th0[129], th1[129];
    uint64_t seed = qt_test_seed();
    qt_rng_fill_normal_f32(x, (size_t)(rows * cols), seed, 30, 0, 0.0f, 1.0f);
    for (int64_t i = 0; i < rows * cols; i += 3) x[i] = roundf(x[i] * 2.0f) / 2.0f; /* ties for top-k */
    qt_dthresh_config_t cfg = qt_dthresh_config_default((int)cols);
    cfg.use_target = 1;
    cfg.target = 0.8f;
    for (int b = 1; b < nb; b++) {
        qt_dthresh_t d0, d1;
        CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d0, bes[0], &cfg), QT_OK);
        CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d1, bes[b], &cfg), QT_OK);
        for (int kind = 0; kind < QT_ACT_COUNT; kind++)
            for (int pass = 0; pass < 3; pass++) {
                qt_act_t a0 = {(qt_act_kind_t)kind, 0.3f, 1 + pass * 40, &d0, pass < 2};
                qt_act_t a1 = a0;
                a1.dt = &d1;
                CU_ASSERT_EQUAL(act_fwd(bes[0], &a0, x, y0, rows, cols), QT_OK);
                CU_ASSERT_EQUAL(act_fwd(bes[b], &a1, x, y1, rows, cols), QT_OK);
                CU_ASSERT_EQUAL(memcmp(y0, y1, (size_t)(rows * cols) * 4), 0);
                if (kind == QT_ACT_TOPK) /* at most k kept per row */
                    for (int64_t r = 0; r < rows; r++) {
                        int kept = 0;
                        for (int64_t c = 0; c < cols; c++) kept += y0[r * cols + c] != 0.0f;
                        CU_ASSERT(kept <= a0.k);
                    }
            }
        to_host(bes[0], &d0.theta, th0);
        to_host(bes[b], &d1.theta, th1);
        CU_ASSERT_EQUAL(memcmp(th0, th1, sizeof th0), 0);
        /* y aliasing x works */
        qt_tensor_t xt;
        to_dev(bes[b], x, rows, cols, &xt);
        qt_act_t tk = {QT_ACT_TOPK, 0, 5, NULL, 0};
        CU_ASSERT_EQUAL(qt_sparse_act_forward(bes[b], &tk, &xt, &xt), QT_OK);
        to_host(bes[b], &xt, y1);
        CU_ASSERT_EQUAL(act_fwd(bes[0], &tk, x, y0, rows, cols), QT_OK);
        CU_ASSERT_EQUAL(memcmp(y0, y1, (size_t)(rows * cols) * 4), 0);
        qt_tensor_free(&xt);
        qt_dthresh_free(&d0);
        qt_dthresh_free(&d1);
    }
    qt_free(x);
    qt_free(y0);
    qt_free(y1);
    close_backends(bes, nb);
}

/* The update rule on a hand-computed example (1 channel, m = 0.5, κ = 1, no target): exact
 * values (every number involved is a small dyadic rational, so f32 holds it exactly). */
static void test_dthresh_rule(void)
{
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes);
    for (int b = 0; b < nb; b++) {
        qt_dthresh_config_t cfg = qt_dthresh_config_default(1);
        cfg.momentum = 0.5f;
        qt_dthresh_t d;
        CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d, bes[b], &cfg), QT_OK);
        qt_act_t a = {QT_ACT_DTHRESH, 0, 0, &d, 1};
        float x1[2] = {1.0f, -3.0f}, x2[2] = {4.0f, 2.0f}, y[2], mu, th;
        CU_ASSERT_EQUAL(act_fwd(bes[b], &a, x1, y, 2, 1), QT_OK); /* μ = 2, θ = 2 */
        to_host(bes[b], &d.mu, &mu);
        to_host(bes[b], &d.theta, &th);
        CU_ASSERT(mu == 2.0f && th == 2.0f && y[0] == 0.0f && y[1] == 0.0f);
        CU_ASSERT_EQUAL(act_fwd(bes[b], &a, x2, y, 2, 1), QT_OK); /* μ = 0.5·2 + 0.5·3 */
        to_host(bes[b], &d.mu, &mu);
        to_host(bes[b], &d.theta, &th);
        CU_ASSERT(mu == 2.5f && th == 2.5f && y[0] == 4.0f && y[1] == 0.0f && d.steps == 2);
        qt_dthresh_free(&d);
    }
    close_backends(bes, nb);
}

/* Eval never changes state and is repeatable; training with a target reaches it. */
static void test_dthresh_train_eval(void)
{
    const int64_t B = 256, C = 64;
    uint64_t seed = qt_test_seed();
    float *x = qt_alloc(B * C * 4), *y0 = qt_alloc(B * C * 4), *y1 = qt_alloc(B * C * 4);
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes);
    for (int b = 0; b < nb; b++) {
        qt_dthresh_config_t cfg = qt_dthresh_config_default((int)C);
        cfg.use_target = 1;
        cfg.target = 0.9f;
        qt_dthresh_t d;
        CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d, bes[b], &cfg), QT_OK);
        qt_act_t train = {QT_ACT_DTHRESH, 0, 0, &d, 1}, eval = train;
        eval.training = 0;
        for (int step = 0; step < 150; step++) {
            /* channel c has mean 0.02·c so the thresholds differ per channel */
            qt_rng_fill_normal_f32(x, (size_t)(B * C), seed, 40, (uint64_t)(step * B * C), 0.0f, 1.0f);
            for (int64_t i = 0; i < B * C; i++) x[i] += 0.02f * (float)(i % C);
            CU_ASSERT_EQUAL(act_fwd(bes[b], &train, x, y0, B, C), QT_OK);
        }
        float before[3][64], after[3][64];
        const qt_tensor_t *st[3] = {&d.mu, &d.kappa, &d.theta};
        for (int i = 0; i < 3; i++) to_host(bes[b], st[i], before[i]);
        int64_t steps = d.steps;
        qt_rng_fill_normal_f32(x, (size_t)(B * C), seed, 41, 0, 0.0f, 1.0f);
        for (int64_t i = 0; i < B * C; i++) x[i] += 0.02f * (float)(i % C);
        CU_ASSERT_EQUAL(act_fwd(bes[b], &eval, x, y0, B, C), QT_OK);
        CU_ASSERT_EQUAL(act_fwd(bes[b], &eval, x, y1, B, C), QT_OK);
        CU_ASSERT_EQUAL(memcmp(y0, y1, (size_t)(B * C) * 4), 0); /* identical output */
        for (int i = 0; i < 3; i++) to_host(bes[b], st[i], after[i]);
        CU_ASSERT(memcmp(before, after, sizeof before) == 0 && steps == d.steps); /* unchanged state */
        int64_t zeros = 0;
        for (int64_t i = 0; i < B * C; i++) zeros += y0[i] == 0.0f;
        double sp = (double)zeros / (double)(B * C);
        /* target 0.9 on fresh data: the controller's steady state is within ±0.03 (sampling
         * noise of 256×64 draws is ~0.002; the rest is the controller's ripple). */
        CU_ASSERT(fabs(sp - 0.9) < 0.03);
        if (fabs(sp - 0.9) >= 0.03) fprintf(stderr, "  %s: eval sparsity %.4f for target 0.9\n", qt_backend_name(bes[b]), sp);
        qt_dthresh_free(&d);
    }
    close_backends(bes, nb);
    qt_free(x);
    qt_free(y0);
    qt_free(y1);
}

/* Copy the dthresh state src into dst (both on be's device). */
static void state_copy(qt_backend_t *be, qt_dthresh_t *dst, const qt_dthresh_t *src)
{
    CU_ASSERT_EQUAL(qt_tensor_copy(be, &dst->mu, &src->mu), QT_OK);
    CU_ASSERT_EQUAL(qt_tensor_copy(be, &dst->kappa, &src->kappa), QT_OK);
    CU_ASSERT_EQUAL(qt_tensor_copy(be, &dst->theta, &src->theta), QT_OK);
    CU_ASSERT_EQUAL(qt_backend_synchronize(be), QT_OK);
    dst->steps = src->steps;
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
    float x[12 * 40], g[12 * 40], y[12 * 40], dx[12 * 40], xp[12 * 40], yp[12 * 40], theta[40];
    qt_rng_fill_normal_f32(x, (size_t)(rows * cols), seed, 50, 0, 0.0f, 1.0f);
    qt_rng_fill_normal_f32(g, (size_t)(rows * cols), seed, 51, 0, 0.0f, 1.0f);
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes);
    for (int b = 0; b < nb; b++) {
        qt_backend_t *be = bes[b];
        for (int variant = 0; variant < 5; variant++) {
            qt_act_kind_t kind = variant == 4 ? QT_ACT_DTHRESH : (qt_act_kind_t)variant;
            qt_dthresh_config_t cfg = qt_dthresh_config_default((int)cols);
            cfg.scale = 0.8f;
            qt_dthresh_t d, saved;
            CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d, be, &cfg), QT_OK);
            CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&saved, be, &cfg), QT_OK);
            qt_act_t a = {kind, 0.25f, 7, &d, variant == QT_ACT_DTHRESH};
            if (kind == QT_ACT_DTHRESH) { /* a few training batches give a non-trivial θ */
                for (int i = 0; i < 3; i++) CU_ASSERT_EQUAL(act_fwd(be, &a, x, y, rows, cols), QT_OK);
                state_copy(be, &saved, &d);
            }
            state_copy(be, &d, &saved);
            CU_ASSERT_EQUAL(act_fwd(be, &a, x, y, rows, cols), QT_OK);
            to_host(be, &d.theta, theta);
            qt_tensor_t yt, gt, dxt;
            to_dev(be, y, rows, cols, &yt);
            to_dev(be, g, rows, cols, &gt);
            to_dev(be, NULL, rows, cols, &dxt);
            CU_ASSERT_EQUAL(qt_sparse_act_backward(be, &yt, &gt, &dxt), QT_OK);
            to_host(be, &dxt, dx);
            qt_tensor_free(&yt);
            qt_tensor_free(&gt);
            qt_tensor_free(&dxt);
            int checked = 0, bad = 0;
            for (int64_t i = 0; i < rows * cols; i++) {
                int64_t r = i / cols, c = i % cols;
                float kink = kind == QT_ACT_RELU ? 0.0f : kind == QT_ACT_SHIFTED_RELU ? a.shift : theta[c];
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
                    state_copy(be, &d, &saved);
                    CU_ASSERT_EQUAL(act_fwd(be, &a, xp, yp, rows, cols), QT_OK);
                    double l = 0;
                    for (int64_t j = 0; j < rows * cols; j++) l += (double)g[j] * yp[j];
                    if (sgn < 0) lm = l;
                    else lp = l;
                }
                double fd = (lp - lm) / (2.0 * h);
                checked++;
                if (fabs(fd - dx[i]) > 1e-2 * (fabs(g[i]) + 1e-3)) bad++;
            }
            if (bad) fprintf(stderr, "  %s %s: %d of %d gradients off\n", qt_backend_name(be), qt_act_name(kind), bad, checked);
            CU_ASSERT_EQUAL(bad, 0);
            CU_ASSERT(checked > rows * cols / 5);
            qt_dthresh_free(&d);
            qt_dthresh_free(&saved);
        }
    }
    close_backends(bes, nb);
}

/* SDE counters of one gather call on every backend with that path: flops, zeros skipped,
 * nonzeros (exact integers). */
static void test_counters(void)
{
    const int64_t M = 2, K = 100, N = 50;
    float *A = qt_alloc(M * K * 4), *W = qt_alloc(K * N * 4);
    qt_verify_sparse_fill(A, M, K, 0.7, 0, qt_test_seed());
    qt_rng_fill_normal_f32(W, (size_t)(K * N), 1, 2, 0, 0.0f, 1.0f);
    qt_backend_t *bes[MAX_BES];
    int nb = open_backends(bes), tested = 0;
    for (int b = 0; b < nb; b++) {
        if (!qt_sparse_supports(bes[b], QT_SPMM_GATHER, NULL, NULL, NULL, NULL, 0)) continue;
        qt_tensor_t At, Wt, Yt;
        to_dev(bes[b], A, M, K, &At);
        to_dev(bes[b], W, K, N, &Wt);
        to_dev(bes[b], NULL, M, N, &Yt);
        int64_t nnz;
        CU_ASSERT_EQUAL(qt_sparse_measure(bes[b], &At, &nnz, NULL), QT_OK);
        long long f0 = qt_counter_get(QT_CTR_FLOPS), z0 = qt_counter_get(QT_CTR_ZEROS_SKIPPED),
                  n0 = qt_counter_get(QT_CTR_NONZEROS);
        CU_ASSERT_EQUAL(qt_sparse_matmul(bes[b], QT_SPMM_GATHER, &At, &Wt, &Yt, NULL, NULL, NULL), QT_OK);
        CU_ASSERT_EQUAL(qt_backend_synchronize(bes[b]), QT_OK);
        CU_ASSERT_EQUAL(qt_counter_get(QT_CTR_FLOPS) - f0, 2 * nnz * N);
        CU_ASSERT_EQUAL(qt_counter_get(QT_CTR_ZEROS_SKIPPED) - z0, (M * K - nnz) * N);
        CU_ASSERT_EQUAL(qt_counter_get(QT_CTR_NONZEROS) - n0, nnz);
        qt_tensor_free(&At);
        qt_tensor_free(&Wt);
        qt_tensor_free(&Yt);
        tested++;
    }
    CU_ASSERT(tested >= 1);
    close_backends(bes, nb);
    qt_free(A);
    qt_free(W);
}

/* Bad inputs give clear errors, never crashes. */
static void test_bad_inputs(void)
{
    qt_backend_t *ref, *cpu;
    CU_ASSERT_EQUAL_FATAL(qt_backend_init(&ref, "ref", NULL), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_backend_init(&cpu, "cpu", NULL), QT_OK);
    qt_tensor_t A, W, Y;
    int64_t sa[2] = {3, 4}, sw[2] = {5, 6}, sy[2] = {3, 6};
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&A, QT_F32, 2, sa), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&W, QT_F32, 2, sw), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&Y, QT_F32, 2, sy), QT_OK);
    qt_tensor_fill_normal(&A, 1, 1, 0, 1);
    qt_tensor_fill_normal(&W, 1, 2, 0, 1);
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_GATHER, &A, &W, &Y, NULL, NULL, NULL), QT_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "inner sizes differ"));
    W.shape[0] = 4; /* now A·W is (3,6) and fits */
    W.strides[0] = 6;
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_GATHER, &A, &W, &Y, NULL, NULL, NULL), QT_OK);
    Y.shape[1] = 5;
    Y.strides[0] = 5;
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_CSR, &A, &W, &Y, NULL, NULL, NULL), QT_ERR_SHAPE);
    Y.shape[1] = 6;
    Y.strides[0] = 6;
    CU_ASSERT_EQUAL(qt_sparse_matmul(ref, QT_SPMM_GATHER, &A, &W, &Y, NULL, NULL, NULL), QT_ERR_UNSUPPORTED);
    char why[256];
    CU_ASSERT(!qt_sparse_supports(ref, QT_SPMM_CSR, &A, &W, &Y, why, sizeof why));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "csr"));
    CU_ASSERT(qt_sparse_supports(ref, QT_SPMM_AUTO, &A, &W, &Y, why, sizeof why)); /* AUTO falls back to DENSE */
    CU_ASSERT(!qt_sparse_supports(NULL, QT_SPMM_DENSE, NULL, NULL, NULL, why, sizeof why));
    qt_tensor_t Ad = A; /* A claimed to live on a GPU: refused before any access */
    Ad.buf.device = qt_device_cuda(0);
    CU_ASSERT(!qt_sparse_supports(cpu, QT_SPMM_DENSE, &Ad, &W, &Y, why, sizeof why));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "cuda:0"));
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_DENSE, &Ad, &W, &Y, NULL, NULL, NULL), QT_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_DENSE, &A, &W, NULL, NULL, NULL, NULL), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_DENSE, &A, &W, &A, NULL, NULL, NULL), QT_ERR_SHAPE);
    qt_tensor_t Yo = A; /* (3,4) view overlapping A, with W (4,4) */
    int64_t s44[2] = {4, 4};
    qt_tensor_t W4;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&W4, QT_F32, 2, s44), QT_OK);
    qt_tensor_fill_normal(&W4, 1, 3, 0, 1);
    Yo.owns_data = 0;
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_DENSE, &A, &W4, &Yo, NULL, NULL, NULL), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, (qt_spmm_path_t)99, &A, &W, &Y, NULL, NULL, NULL), QT_ERR_ARG);

    float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[12];
    qt_tensor_t xt, yt;
    int64_t s34[2] = {3, 4}, s26[2] = {2, 6}, s04[2] = {0, 4};
    qt_tensor_wrap(&xt, x, QT_F32, 2, s34);
    qt_tensor_wrap(&yt, y, QT_F32, 2, s34);
    qt_act_t tk = {QT_ACT_TOPK, 0, 5, NULL, 0};
    CU_ASSERT_EQUAL(qt_sparse_act_forward(cpu, &tk, &xt, &yt), QT_ERR_ARG); /* k > width */
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "k = 5"));
    tk.k = 0;
    CU_ASSERT_EQUAL(qt_sparse_act_forward(ref, &tk, &xt, &yt), QT_ERR_ARG);
    tk.k = 4;
    CU_ASSERT_EQUAL(qt_sparse_act_forward(ref, &tk, &xt, &yt), QT_OK);
    qt_tensor_t x0, y0;
    qt_tensor_wrap(&x0, x, QT_F32, 2, s04);
    qt_tensor_wrap(&y0, y, QT_F32, 2, s04);
    CU_ASSERT_EQUAL(qt_sparse_act_forward(ref, &tk, &x0, &y0), QT_ERR_SHAPE);

    qt_dthresh_config_t cfg = qt_dthresh_config_default(4);
    qt_dthresh_t d;
    cfg.use_target = 1;
    cfg.target = 1.0f;
    CU_ASSERT_EQUAL(qt_dthresh_init(&d, cpu, &cfg), QT_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "[0, 1)"));
    cfg.target = -0.1f;
    CU_ASSERT_EQUAL(qt_dthresh_init(&d, cpu, &cfg), QT_ERR_ARG);
    cfg.target = 0.5f;
    cfg.momentum = 0.0f;
    CU_ASSERT_EQUAL(qt_dthresh_init(&d, cpu, &cfg), QT_ERR_ARG);
    cfg.momentum = 0.1f;
    CU_ASSERT_EQUAL(qt_dthresh_init(&d, NULL, &cfg), QT_ERR_ARG);
    CU_ASSERT_EQUAL_FATAL(qt_dthresh_init(&d, cpu, &cfg), QT_OK);
    qt_act_t dt = {QT_ACT_DTHRESH, 0, 0, &d, 1};
    qt_tensor_t x26, y26;
    qt_tensor_wrap(&x26, x, QT_F32, 2, s26);
    qt_tensor_wrap(&y26, y, QT_F32, 2, s26);
    CU_ASSERT_EQUAL(qt_sparse_act_forward(cpu, &dt, &x26, &y26), QT_ERR_SHAPE); /* 4 channels, 6 columns */
    CU_ASSERT_EQUAL(d.steps, 0);
    qt_act_t none = {QT_ACT_DTHRESH, 0, 0, NULL, 1};
    CU_ASSERT_EQUAL(qt_sparse_act_forward(cpu, &none, &xt, &yt), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_sparse_act_backward(cpu, &yt, &xt, NULL), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_sparse_act_backward(cpu, &yt, &xt, &y26), QT_ERR_SHAPE);
    qt_act_kind_t k;
    qt_spmm_path_t p;
    CU_ASSERT_EQUAL(qt_act_parse("softmax", &k), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_spmm_path_parse("sparse", &p), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_spmm_path_parse("colskip", &p), QT_OK);
    CU_ASSERT_EQUAL(p, QT_SPMM_COLSKIP);
    qt_dthresh_free(&d);
    qt_tensor_free(&A);
    qt_tensor_free(&W);
    qt_tensor_free(&W4);
    qt_tensor_free(&Y);
    qt_backend_free(ref);
    qt_backend_free(cpu);
}

/* The cpu CSR kernel's dense-use schedules, each forced (QT_SPARSE_CPU_CSR cand 0..5: packed,
 * whole rows in place or CSC (by columns of A), each plain or with its prefetch) and chosen by its
 * timed trials (cand −1: calls of at least 2^24 multiply-adds are trials), on 1 thread (where
 * whole rows run) and 3 (an odd thread count: ranges of an odd number of strips before the even
 * rounding), with wide strips and without, blocks that leave a short last one (kb=64: K = 600 =
 * 9·64 + 24), the K range split over threads (ks=2, 3: partial Ys added after; ks=16 on 3
 * threads: capped at 3, blocks of 7 rows, splits of 200 rows not a multiple of the block; with the
 * prefetch variant) and the lists built on several threads (pb=0), against ref DENSE within the
 * summation bound (check_bound). Two shapes: M=20 K=600 N=2100 and M=70 K=333 N=1111 (odd; for
 * CSC 2 row groups of 35, or 9 of ≤ 8 with cg=8, so that columns are empty in a group; 8 full
 * 128-column strips or 4 of 256 (cs=2) and a 87-column tail; prefetch 1 or 3 rows ahead, to L1 or
 * L2, tiles with and without row padding). */
static void test_csr_schedules(void)
{
    static const int64_t shapes[2][3] = {{20, 600, 2100}, {70, 333, 1111}};
    static const char *const cfg[] = {"cand=0", "cand=1", "cand=2", "cand=3", "cand=-1", "cand=0,wide=0",
                                      "cand=-1,range=384", "cand=0,kb=64,pb=0", "cand=1,kb=100,wide=0",
                                      "cand=0,ks=2", "cand=0,ks=3,kb=64", "cand=-1,ks=2,range=384,kb=96",
                                      "cand=0,ks=16,kb=7", "cand=3,ks=2,range=256", "cand=4", "cand=5",
                                      "cand=4,cs=2,pad=0", "cand=5,cg=8,pd=3,ph=1", "cand=5,cs=2,cg=8,pd=1,pb=0",
                                      "cand=4,ks=2,cg=200"};
    uint64_t seed = qt_test_seed();
    qt_backend_t *ref;
    CU_ASSERT_EQUAL_FATAL(qt_backend_init(&ref, "ref", NULL), QT_OK);
    for (int si = 0; si < 2; si++) {
        const int64_t M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
        float *A = qt_alloc((size_t)(M * K) * 4), *W = qt_alloc((size_t)(K * N) * 4);
        float *R = qt_alloc((size_t)(M * N) * 4), *Y = qt_alloc((size_t)(M * N) * 4);
        qt_rng_fill_normal_f32(W, (size_t)(K * N), seed, 40 + si, 0, 0.0f, 1.0f);
        for (int threads = 1; threads <= 3; threads += 2) {
            qt_backend_params_t bp = {0};
            bp.threads = threads;
            qt_backend_t *cpu;
            CU_ASSERT_EQUAL_FATAL(qt_backend_init(&cpu, "cpu", &bp), QT_OK);
            for (int sp = 0; sp < 2; sp++) {
                qt_verify_sparse_fill(A, M, K, sp ? 0.9 : 0.0, 0, seed + 41 + 2 * si + sp);
                qt_tensor_t At, Wt, Yt;
                to_dev(ref, A, M, K, &At);
                to_dev(ref, W, K, N, &Wt);
                to_dev(ref, NULL, M, N, &Yt);
                CU_ASSERT_EQUAL_FATAL(qt_sparse_matmul(ref, QT_SPMM_DENSE, &At, &Wt, &Yt, NULL, NULL, NULL), QT_OK);
                to_host(ref, &Yt, R);
                qt_tensor_free(&Yt);
                for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
                    /* cand −1: 14 calls at 1 thread pass the 12 trials (6 candidates), then the choice runs */
                    for (int rep = 0, reps = strstr(cfg[i], "cand=-1") ? 7 : 1; rep < reps; rep++) {
                        setenv("QT_SPARSE_CPU_CSR", cfg[i], 1);
                        for (int64_t e = 0; e < M * N; e++) Y[e] = NAN;
                        to_dev(cpu, Y, M, N, &Yt);
                        CU_ASSERT_EQUAL(qt_sparse_matmul(cpu, QT_SPMM_CSR, &At, &Wt, &Yt, NULL, NULL, NULL), QT_OK);
                        to_host(cpu, &Yt, Y);
                        qt_tensor_free(&Yt);
                        int bad = check_bound(Y, R, A, W, M, K, N);
                        if (bad)
                            fprintf(stderr, "  cpu csr %s, M=%lld, %d thread(s), sp %.1f: %d elements off\n", cfg[i],
                                    (long long)M, threads, sp ? 0.9 : 0.0, bad);
                        CU_ASSERT_EQUAL(bad, 0);
                    }
                qt_tensor_free(&At);
                qt_tensor_free(&Wt);
            }
            qt_backend_free(cpu);
        }
        qt_free(A);
        qt_free(W);
        qt_free(R);
        qt_free(Y);
    }
    unsetenv("QT_SPARSE_CPU_CSR");
    qt_backend_free(ref);
}

QT_TEST_MAIN("sparse", {"matmul paths of every backend vs ref at 0-100% sparsity", test_matmul_paths},
             {"bf16 matmul paths vs ref", test_matmul_bf16},
             {"cpu CSR schedules, forced and chosen, vs ref", test_csr_schedules},
             {"a chain of GEMVs queued back to back (cuda: under PDL) vs ref", test_gemv_chain},
             {"measure op of every backend vs ref", test_measure},
             {"dispatcher follows the backend's crossover table", test_dispatch_follows_table},
             {"the dispatcher reuses its estimate (every backend)", test_dispatch_reuses_estimate},
             {"crossover table file, estimates, per-backend defaults", test_xover_table},
             {"activations of every backend == ref", test_activations_match_ref},
             {"dthresh update rule", test_dthresh_rule},
             {"dthresh train/eval semantics and target", test_dthresh_train_eval},
             {"gradients vs finite differences", test_gradients_fd}, {"SDE counters", test_counters},
             {"bad inputs give errors", test_bad_inputs})
