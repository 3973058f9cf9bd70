/* cuda_gemv_bench.c — compares configurations of the cuda backend's GATHER path (the GEMV that
 * skips zeros: kernel versions QT_CUDA_SPARSE_KERNEL=3 … 11 and their tuning variables) at
 * issue 14's batch-1 point, M=1 K=16384 N=4096 with 90% of A zero (uniform), in bf16 and f32,
 * against the backend's DENSE path (cuBLAS), ALL IN ONE PROCESS, so that one device call can
 * choose the defaults. Not the benchmark of record: `quintet run sparsity --backend cuda`
 * gives the figures; this program times the same way as that suite times a device path
 * (suites/sparsity.c, kern_call): the backend's timer (CUDA events) around 8 calls back to
 * back, each on the next of `draws` independent draws of A (W shared), / 8; the fastest of 3
 * such batches per iteration; the median of `reps` iterations. The configurations are timed
 * interleaved (each iteration runs dense, then every configuration in turn), so drift
 * between them cancels. Each configuration's output on draw 0 is compared with DENSE's
 * (max |Y − Y_dense| / max |Y_dense|; bf16 output rounding alone gives up to ~4e-3); the
 * oracle comparison of every version is tests/sparse/test_sparse.c.
 * W ~ U(−1, 1), A's nonzeros ~ U(0.1, 1), as the suite draws them (Philox, seed 1).
 * Build: make QT_INNER=1 build/tests/sparse/cuda_gemv_bench (the tests' pattern rule).
 * Run:   build/tests/sparse/cuda_gemv_bench [-r REPS] [-d DRAWS] [-s SPARSITY] [-f bf16|f32] [-p P] \
 *          'QT_CUDA_SPARSE_KERNEL=3' \
 *          'QT_CUDA_SPARSE_KERNEL=5 QT_CUDA_GEMV_LPR=4' …   (each argument: one configuration,
 *          space-separated VAR=VALUE settings; none: versions 3, 5 and 7 with their defaults)
 * Output: one line per (dtype, configuration): median µs per call, dense µs, dense/config, and
 * the host's time to queue one call (if it reaches the device time, the host is the limit).
 * -s 1.0 (no nonzeros: no row of W read) and -s 0.99 give a path's fixed cost and slope.
 * -p P: P dense calls (cuBLAS, ~35 µs each) queued before each timed batch, so that the host has
 * queued the batch before the GPU reaches it: the GPU's own time per call, without the host's
 * issue rate (which bounds the suite's figure when a call is shorter than it; a diagnostic, not
 * the suite's method). With QT_CUDA_GEMV_TRACE set, gemv_v9/v10 print their phases (sparse.cu). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quintet/backend.h"
#include "quintet/rng.h"
#include "quintet/sparse.h"
#include "quintet/tensor.h"

#define BATCH 8   /* calls between the two events of one timing (the suite's DEV_BATCH) */
#define TRIES 3   /* timings per iteration, the fastest kept (the suite's CALLS_PER_ITER) */
#define MAXCFG 16
#define MAXDRAW 64

static const int64_t K = 16384, N = 4096;
static double sp = 0.9;      /* fraction of zeros of A (-s) */
static double issue_s;       /* host seconds spent issuing the last timed() call's batches */
static int pre;              /* dense calls queued before each timed batch (-p) */

/* Monotonic host clock in seconds. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Apply one configuration: unset the tuning variables, then set its VAR=VALUE words. */
static void apply(const char *cfg)
{
    static const char *vars[] = {"QT_CUDA_SPARSE_KERNEL", "QT_CUDA_GEMV_LPR", "QT_CUDA_GEMV_SPLIT", "QT_CUDA_GEMV_CS", "QT_CUDA_GEMV9",
                                 "QT_CUDA_GEMV7", "QT_CUDA_GEMV_PDL", "QT_CUDA_GEMV_FIN", "QT_CUDA_GEMV_WLD"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", cfg ? cfg : "");
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        if (eq) {
            *eq = 0;
            setenv(w, eq + 1, 1);
        }
    }
}

/* A host (rows, cols) f32 array as a tensor of dtype dt on be's device. */
static qt_status_t upload(qt_backend_t *be, const float *v, int64_t rows, int64_t cols, qt_dtype_t dt, qt_tensor_t *t)
{
    int64_t shape[2] = {rows, cols};
    QT_TRY(qt_tensor_alloc(t, be, dt, 2, shape));
    qt_tensor_t h;
    QT_TRY(qt_tensor_init(&h, dt, 2, shape));
    for (int64_t i = 0; i < rows * cols; i++) {
        if (dt == QT_BF16) ((uint16_t *)h.data)[i] = qt_f32_to_bf16(v[i]);
        else ((float *)h.data)[i] = v[i];
    }
    qt_status_t st = qt_tensor_copy(be, t, &h);
    if (st == QT_OK) st = qt_backend_synchronize(be);
    qt_tensor_free(&h);
    return st;
}

/* Y on the host as f32. */
static qt_status_t download(qt_backend_t *be, const qt_tensor_t *Y, float *out)
{
    qt_tensor_t h;
    QT_TRY(qt_tensor_to_host(be, Y, &h));
    for (int64_t i = 0; i < N; i++)
        out[i] = Y->dtype == QT_BF16 ? qt_bf16_to_f32(((uint16_t *)h.data)[i]) : ((float *)h.data)[i];
    qt_tensor_free(&h);
    return QT_OK;
}

/* Fastest of TRIES timings of BATCH calls (each on the next draw) / BATCH, in seconds. */
static qt_status_t timed(qt_backend_t *be, qt_spmm_path_t p, qt_tensor_t *A, int draws, int *next,
                         const qt_tensor_t *W, qt_tensor_t *Y, qt_spmm_ws_t *ws, double *best)
{
    *best = INFINITY;
    issue_s = INFINITY;
    for (int t = 0; t < TRIES; t++) {
        double s;
        for (int i = 0; i < pre; i++) QT_TRY(qt_sparse_matmul(be, QT_SPMM_DENSE, &A[0], W, Y, NULL, NULL, NULL));
        QT_TRY(qt_backend_timer_start(be));
        const double h0 = now_s();
        for (int i = 0; i < BATCH; i++) {
            QT_TRY(qt_sparse_matmul(be, p, &A[*next], W, Y, NULL, ws, NULL));
            *next = (*next + 1) % draws;
        }
        const double h = now_s() - h0; /* host time to queue the batch (no wait for the GPU in it) */
        if (h / BATCH < issue_s) issue_s = h / BATCH;
        QT_TRY(qt_backend_timer_stop(be, &s));
        QT_TRY(qt_backend_synchronize(be));
        if (s / BATCH < *best) *best = s / BATCH;
    }
    return QT_OK;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One dtype: every configuration against dense; 0 on success. */
static int run_dtype(qt_backend_t *be, qt_dtype_t dt, const char **cfg, int ncfg, int reps, int draws)
{
    float *Wh = malloc((size_t)(K * N) * 4), *Ah = malloc((size_t)(draws * K) * 4);
    float *yd = malloc((size_t)N * 4), *yc = malloc((size_t)N * 4);
    double *t = malloc(sizeof(double) * (size_t)reps * (ncfg + 1)), *hs = malloc(sizeof(double) * (size_t)reps * (ncfg + 1));
    qt_tensor_t W = {0}, Y = {0}, A[MAXDRAW];
    memset(A, 0, sizeof A);
    qt_spmm_ws_t ws = {0};
    int rc = 1, next = 0;
    if (!Wh || !Ah || !yd || !yc || !t || !hs) goto out;
    for (int64_t k = 0; k < K; k++) qt_rng_fill_uniform_f32(Wh + k * N, (size_t)N, 1, 1, (uint64_t)(k * N), -1.0f, 1.0f);
    qt_rng_fill_uniform_f32(Ah, (size_t)(draws * K), 1, 2, 0, 0.1f, 1.0f);
    for (int64_t i = 0; i < draws * K; i++)
        if (qt_rng_uniform_f64(1, 16, (uint64_t)i) < sp) Ah[i] = 0.0f;
    int64_t ys[2] = {1, N};
    qt_status_t st = upload(be, Wh, K, N, dt, &W);
    for (int d = 0; st == QT_OK && d < draws; d++) st = upload(be, Ah + d * K, 1, K, dt, &A[d]);
    if (st == QT_OK) st = qt_tensor_alloc(&Y, be, dt, 2, ys);
    /* reference output (dense, draw 0) and each configuration's error on it; warm-up */
    if (st == QT_OK) st = qt_sparse_matmul(be, QT_SPMM_DENSE, &A[0], &W, &Y, NULL, NULL, NULL);
    if (st == QT_OK) st = download(be, &Y, yd);
    double ymax = 0;
    for (int64_t i = 0; i < N; i++) ymax = fmax(ymax, fabs(yd[i]));
    double err[MAXCFG];
    for (int c = 0; st == QT_OK && c < ncfg; c++) {
        apply(cfg[c]);
        st = qt_sparse_matmul(be, QT_SPMM_GATHER, &A[0], &W, &Y, NULL, &ws, NULL);
        if (st == QT_OK) st = download(be, &Y, yc);
        err[c] = 0;
        for (int64_t i = 0; i < N; i++) err[c] = fmax(err[c], fabs(yc[i] - yd[i]) / ymax);
        for (int i = 0; st == QT_OK && i < 50; i++) st = qt_sparse_matmul(be, QT_SPMM_GATHER, &A[i % draws], &W, &Y, NULL, &ws, NULL);
    }
    for (int i = 0; st == QT_OK && i < 20; i++) st = qt_sparse_matmul(be, QT_SPMM_DENSE, &A[i % draws], &W, &Y, NULL, NULL, NULL);
    for (int r = 0; st == QT_OK && r < reps; r++) {
        apply(NULL);
        st = timed(be, QT_SPMM_DENSE, A, draws, &next, &W, &Y, NULL, &t[r]);
        hs[r] = issue_s;
        for (int c = 0; st == QT_OK && c < ncfg; c++) {
            apply(cfg[c]);
            st = timed(be, QT_SPMM_GATHER, A, draws, &next, &W, &Y, &ws, &t[(size_t)(c + 1) * reps + r]);
            hs[(size_t)(c + 1) * reps + r] = issue_s;
        }
    }
    if (st != QT_OK) {
        fprintf(stderr, "cuda_gemv_bench: %s\n", qt_last_error());
        goto out;
    }
    double dense = median(t, reps);
    printf("%-5s %-44s %9.2f us  (dense, sp %.2f, %d draws, %d reps, %d dense calls queued ahead; host issue %.2f us/call)\n",
           qt_dtype_name(dt), "cuBLAS", dense * 1e6, sp, draws, reps, pre, median(hs, reps) * 1e6);
    int best = -1;
    double tbest = INFINITY;
    for (int c = 0; c < ncfg; c++) {
        double m = median(t + (size_t)(c + 1) * reps, reps);
        int wrong = err[c] > (dt == QT_BF16 ? 2e-2 : 1e-4);
        printf("%-5s %-44s %9.2f us  %5.2fx dense  err %.1e  host issue %.2f us/call%s\n", qt_dtype_name(dt), cfg[c],
               m * 1e6, dense / m, err[c], median(hs + (size_t)(c + 1) * reps, reps) * 1e6, wrong ? "  WRONG" : "");
        if (!wrong && m < tbest) tbest = m, best = c;
    }
    /* for scripts: the fastest correct configuration */
    if (best >= 0) printf("best %s: %s\n", qt_dtype_name(dt), cfg[best]);
    rc = 0;
out:
    for (int d = 0; d < MAXDRAW; d++) qt_tensor_free(&A[d]);
    qt_tensor_free(&W);
    qt_tensor_free(&Y);
    qt_spmm_ws_free(&ws);
    free(Wh);
    free(Ah);
    free(yd);
    free(yc);
    free(t);
    free(hs);
    return rc;
}

int main(int argc, char **argv)
{
    int reps = 7, draws = 16, ncfg = 0;
    const char *only = NULL; /* -f bf16|f32: that dtype only */
    const char *cfg[MAXCFG];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc) draws = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) sp = atof(argv[++i]);
        else if (!strcmp(argv[i], "-f") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "-p") && i + 1 < argc) pre = atoi(argv[++i]);
        else if (ncfg < MAXCFG) cfg[ncfg++] = argv[i];
    }
    if (!ncfg) cfg[ncfg++] = "QT_CUDA_SPARSE_KERNEL=3", cfg[ncfg++] = "QT_CUDA_SPARSE_KERNEL=5", cfg[ncfg++] = "QT_CUDA_SPARSE_KERNEL=7";
    if (reps < 1 || draws < 1 || draws > MAXDRAW || !(sp >= 0 && sp <= 1) || pre < 0) {
        fprintf(stderr, "cuda_gemv_bench: -r ≥ 1, 1 ≤ -d ≤ %d, 0 ≤ -s ≤ 1, -p ≥ 0\n", MAXDRAW);
        return 2;
    }
    qt_backend_t *be;
    if (qt_backend_init(&be, "cuda", NULL) != QT_OK) {
        printf("cuda_gemv_bench: skipped: %s\n", qt_last_error());
        return 0;
    }
    int rc = 0;
    if (!only || !strcmp(only, "bf16")) rc |= run_dtype(be, QT_BF16, cfg, ncfg, reps, draws);
    if (!only || !strcmp(only, "f32")) rc |= run_dtype(be, QT_F32, cfg, ncfg, reps, draws);
    qt_backend_free(be);
    return rc;
}
