/* calibration.c — the machine's ceilings, measured at the start of every run so
 * that other suites report fractions of them (frac_sgemm, frac_stream):
 *   stream_triad  STREAM triad a[i] = b[i] + s*c[i] over doubles, OpenMP static
 *                 schedule, arrays far larger than the caches; 24 bytes per
 *                 element counted, as STREAM does → `stream_triad_gbps`
 *   sgemm         OpenBLAS SGEMM n×n×n, one thread and all threads → `sgemm_gflops`
 *   harness_loop  an empty iteration: what the timing loop itself costs per iteration
 *   mpi_pingpong  (with MPI) ranks 0↔1 via mpirun: `mpi_pingpong_us` (8 bytes),
 *                 `mpi_pingpong_gbps` (4 MiB)
 *   gpu_copy, gpu_sgemm (with CUDA and a GPU): device copy `gpu_copy_gbps`, cuBLAS
 *                 `gpu_sgemm_gflops` in FP32, TF32 and with bf16 operands (f32 accumulation).
 * finish() publishes the medians as ceilings: sgemm_gflops_all, sgemm_gflops_1t,
 * stream_triad_gbps, mpi_pingpong_us, mpi_pingpong_gbps, gpu_copy_gbps, gpu_sgemm_gflops,
 * gpu_sgemm_tf32_gflops, gpu_gemm_bf16_gflops.
 * Run alone: quintet run calibration */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quintet/rng.h"
#include "quintet/tensor.h"
#include "run/suite.h"
#ifdef QT_HAVE_CUDA
#include "run/cuda_probe.h"
#endif

static const char *const metrics[] = {
    "stream_triad_gbps|GB/s|STREAM triad bandwidth, 24 bytes per element",
    "sgemm_gflops|GFLOP/s|OpenBLAS SGEMM rate (params threads=1 or threads=all)",
    "time_s|s|harness_loop: cost of one empty timed iteration",
    "mpi_pingpong_us|us|half round-trip time of an 8-byte MPI message between two ranks",
    "mpi_pingpong_gbps|GB/s|one-way MPI bandwidth of 4 MiB messages between two ranks",
    "gpu_copy_gbps|GB/s|device-to-device copy, read+write bytes",
    "gpu_sgemm_gflops|GFLOP/s|cuBLAS GEMM (params math=fp32, tf32, or bf16: bf16 operands, f32 accumulation)",
    NULL,
};

/* ---- STREAM triad ---- */
typedef struct {
    double *a, *b, *c;
    size_t n;
} triad_t;

static void triad_teardown(void *state);

/* Allocate and first-touch the arrays in parallel (page placement follows the threads). */
static qt_status_t triad_setup(const qt_case_t *c, qt_rec_t *r, void **state)
{
    triad_t *t = calloc(1, sizeof *t);
    if (!t) return qt_fail(QT_ERR_NOMEM, "triad state");
    t->n = (size_t)qt_params_int(&c->params, "n", 1 << 24);
    t->a = qt_alloc(t->n * sizeof(double));
    t->b = qt_alloc(t->n * sizeof(double));
    t->c = qt_alloc(t->n * sizeof(double));
    if (!t->a || !t->b || !t->c) {
        size_t n = t->n;
        triad_teardown(t);
        return qt_fail(QT_ERR_NOMEM, "triad arrays of %zu doubles", n);
    }
    double *a = t->a, *b = t->b, *cc = t->c;
    size_t n = t->n;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 1.0 + (double)(i & 7);
        cc[i] = 2.0;
    }
    qt_rec_set_rate_names(r, NULL, "stream_triad_gbps");
    qt_rec_set_work(r, 0, 3.0 * sizeof(double) * (double)n);
    *state = t;
    return QT_OK;
}

/* One triad sweep. */
static qt_status_t triad_iterate(void *state, double *seconds)
{
    (void)seconds;
    triad_t *t = state;
    double *restrict a = t->a;
    const double *restrict b = t->b, *restrict c = t->c;
    const double s = 3.0;
    size_t n = t->n;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
    return QT_OK;
}

/* Check the result so the compiler cannot drop the work and a broken machine shows. */
static qt_status_t triad_after(void *state, const qt_case_t *c, qt_rec_t *r)
{
    (void)c; (void)r;
    triad_t *t = state;
    for (size_t i = 0; i < t->n; i += 4099)
        if (t->a[i] != t->b[i] + 3.0 * t->c[i]) return qt_fail(QT_ERR_INTERNAL, "triad result wrong at %zu", i);
    return QT_OK;
}

/* Free the arrays. */
static void triad_teardown(void *state)
{
    triad_t *t = state;
    qt_free(t->a); qt_free(t->b); qt_free(t->c);
    free(t);
}

/* ---- OpenBLAS SGEMM ---- */
typedef struct {
    float *a, *b, *c;
    int n, threads, saved_threads;
} sgemm_t;

/* Random operands, OpenBLAS thread count set for the case (restored in teardown). */
static qt_status_t sgemm_setup(const qt_case_t *c, qt_rec_t *r, void **state)
{
    sgemm_t *g = calloc(1, sizeof *g);
    if (!g) return qt_fail(QT_ERR_NOMEM, "sgemm state");
    g->n = (int)qt_params_int(&c->params, "n", 1024);
    size_t nn = (size_t)g->n * (size_t)g->n;
    g->a = qt_alloc(nn * sizeof(float));
    g->b = qt_alloc(nn * sizeof(float));
    g->c = qt_alloc(nn * sizeof(float));
    if (!g->a || !g->b || !g->c) {
        int n = g->n;
        qt_free(g->a); qt_free(g->b); qt_free(g->c); free(g);
        return qt_fail(QT_ERR_NOMEM, "sgemm operands n=%d", n);
    }
    qt_rng_fill_normal_f32(g->a, nn, qt_rec_seed(r), 1, 0, 0.0f, 1.0f);
    qt_rng_fill_normal_f32(g->b, nn, qt_rec_seed(r), 2, 0, 0.0f, 1.0f);
    g->saved_threads = openblas_get_num_threads();
    g->threads = strcmp(qt_params_str(&c->params, "threads", "all"), "1") ? g->saved_threads : 1;
    openblas_set_num_threads(g->threads);
    qt_rec_set_rate_names(r, "sgemm_gflops", NULL);
    qt_rec_set_work(r, 2.0 * g->n * (double)g->n * g->n, 0);
    *state = g;
    return QT_OK;
}

/* C = A·B. */
static qt_status_t sgemm_iterate(void *state, double *seconds)
{
    (void)seconds;
    sgemm_t *g = state;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0f, g->a, g->n, g->b, g->n, 0.0f,
                g->c, g->n);
    return QT_OK;
}

/* Restore OpenBLAS's thread count and free. */
static void sgemm_teardown(void *state)
{
    sgemm_t *g = state;
    openblas_set_num_threads(g->saved_threads);
    qt_free(g->a); qt_free(g->b); qt_free(g->c);
    free(g);
}

/* ---- harness loop overhead ---- */
/* Nothing: the time measured is the loop's own cost. */
static qt_status_t empty_iterate(void *state, double *seconds)
{
    (void)state; (void)seconds;
    return QT_OK;
}

/* ---- MPI ping-pong (through mpirun, as an experiment) ---- */

/* Path of build/quintet-mpi-pingpong next to this executable. */
static int pingpong_path(char *out, size_t size)
{
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = '\0';
    snprintf(out, size, "%s/quintet-mpi-pingpong", exe);
    return access(out, X_OK) == 0;
}

/* Run mpirun once; record one sample per repetition it prints. */
static qt_status_t pingpong_run(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    (void)seed;
    char prog[1100];
    if (!pingpong_path(prog, sizeof prog))
        return qt_fail(QT_ERR_UNSUPPORTED, "quintet-mpi-pingpong not built (mpicc not found at build time)");
    long bytes = qt_params_int(&c->params, "bytes", 8);
    int reps = (int)qt_params_int(&c->params, "reps", 5);
    int iters = bytes <= 1024 ? 2000 : 20;
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
             "mpirun -np 2 '%s' %ld %d %d 2>/dev/null",
             prog, bytes, reps, iters);
    FILE *f = popen(cmd, "r");
    if (!f) return qt_fail(QT_ERR_UNSUPPORTED, "cannot start mpirun");
    int got = 0, rep;
    double us, gbps;
    while (fscanf(f, "%d %lf %lf", &rep, &us, &gbps) == 3) {
        if (bytes <= 1024) qt_rec_metric(r, "mpi_pingpong_us", "us", us);
        else qt_rec_metric(r, "mpi_pingpong_gbps", "GB/s", gbps);
        got++;
    }
    int rc = pclose(f);
    if (got == 0 || rc != 0)
        return qt_fail(QT_ERR_UNSUPPORTED, "mpirun -np 2 quintet-mpi-pingpong failed (exit %d, %d lines)", rc, got);
    return QT_OK;
}

#ifdef QT_HAVE_CUDA
/* ---- GPU ceilings ---- */
/* Copy or SGEMM benchmark on device 0; unsupported without a GPU. */
static qt_status_t gpu_setup(const qt_case_t *c, qt_rec_t *r, void **state)
{
    char why[256];
    if (qt_cuda_device_count(why, sizeof why) <= 0) return qt_fail(QT_ERR_UNSUPPORTED, "no GPU: %s", why);
    qt_cuda_bench_t *b;
    if (!strcmp(c->name, "gpu_copy")) {
        size_t bytes = (size_t)qt_params_int(&c->params, "bytes", 1 << 30);
        b = qt_cuda_bench_copy_new(bytes);
        qt_rec_set_rate_names(r, NULL, "gpu_copy_gbps");
        qt_rec_set_work(r, 0, 2.0 * (double)bytes);
    } else {
        int n = (int)qt_params_int(&c->params, "n", 8192);
        const char *math = qt_params_str(&c->params, "math", "fp32");
        b = qt_cuda_bench_sgemm_new(n, !strcmp(math, "tf32") ? 1 : !strcmp(math, "bf16") ? 2 : 0);
        qt_rec_set_rate_names(r, "gpu_sgemm_gflops", NULL);
        qt_rec_set_work(r, 2.0 * n * (double)n * n, 0);
    }
    if (!b) return qt_fail(QT_ERR_UNSUPPORTED, "GPU benchmark could not be set up");
    *state = b;
    return QT_OK;
}

/* One GPU operation timed with CUDA events (manual time). */
static qt_status_t gpu_iterate(void *state, double *seconds)
{
    *seconds = qt_cuda_bench_time(state);
    return *seconds > 0 ? QT_OK : qt_fail(QT_ERR_INTERNAL, "GPU operation failed");
}

/* Release the GPU buffers. */
static void gpu_teardown(void *state) { qt_cuda_bench_free(state); }
#endif

/* Add a timed case. */
static qt_case_t *add_timed(qt_case_list_t *out, const char *name, qt_status_t (*setup)(const qt_case_t *, qt_rec_t *, void **),
                            qt_status_t (*iterate)(void *, double *), void (*teardown)(void *))
{
    qt_case_t *c = qt_case_list_add(out);
    if (!c) return NULL;
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->variant, sizeof c->variant, "host");
    c->setup = setup;
    c->iterate = iterate;
    c->teardown = teardown;
    return c;
}

/* The calibration cases; sizes grow with the profile. */
static qt_status_t calibration_cases(qt_profile_t p, qt_case_list_t *out)
{
    qt_case_t *c = add_timed(out, "stream_triad", triad_setup, triad_iterate, triad_teardown);
    if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
    c->after = triad_after;
    c->min_time = 0.25; /* several sweeps per repetition: one 0.04 s sweep alone varied 42–78 GB/s here */
    qt_params_set_int(&c->params, "n", p == QT_PROFILE_QUICK ? 1 << 24 : 1 << 25);
    const char *threads[2] = {"1", "all"};
    for (int i = 0; i < 2; i++) {
        c = add_timed(out, "sgemm", sgemm_setup, sgemm_iterate, sgemm_teardown);
        if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
        qt_params_set_int(&c->params, "n", 2048);
        qt_params_set_str(&c->params, "threads", threads[i]);
    }
    c = add_timed(out, "harness_loop", NULL, empty_iterate, NULL);
    if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
    const long sizes[2] = {8, 4 << 20};
    for (int i = 0; i < 2; i++) {
        c = qt_case_list_add(out);
        if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
        snprintf(c->name, sizeof c->name, "mpi_pingpong");
        snprintf(c->variant, sizeof c->variant, "mpi");
        c->experiment = 1;
        c->run_seed = pingpong_run;
        qt_params_set_int(&c->params, "bytes", sizes[i]);
        qt_params_set_int(&c->params, "reps", p == QT_PROFILE_QUICK ? 3 : 10);
    }
#ifdef QT_HAVE_CUDA
    c = add_timed(out, "gpu_copy", gpu_setup, gpu_iterate, gpu_teardown);
    if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
    snprintf(c->variant, sizeof c->variant, "cuda");
    c->manual_time = 1;
    qt_params_set_int(&c->params, "bytes", 1 << 30);
    const char *math[3] = {"fp32", "tf32", "bf16"};
    for (int i = 0; i < 3; i++) {
        c = add_timed(out, "gpu_sgemm", gpu_setup, gpu_iterate, gpu_teardown);
        if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
        snprintf(c->variant, sizeof c->variant, "cuda");
        c->manual_time = 1;
        qt_params_set_int(&c->params, "n", 8192);
        qt_params_set_str(&c->params, "math", math[i]);
    }
#endif
    return QT_OK;
}

/* Publish the medians as this run's ceilings. */
static int publish(void *arg, const qt_result_t *res)
{
    qt_rec_t *r = arg;
    if (!strcmp(res->metric, "sgemm_gflops"))
        qt_rec_set_ceiling(r, strcmp(qt_params_str(res->params, "threads", ""), "1") ? "sgemm_gflops_all"
                                                                                       : "sgemm_gflops_1t",
                           res->median);
    else if (!strcmp(res->metric, "gpu_sgemm_gflops")) {
        const char *math = qt_params_str(res->params, "math", "");
        qt_rec_set_ceiling(r, !strcmp(math, "tf32") ? "gpu_sgemm_tf32_gflops"
                              : !strcmp(math, "bf16") ? "gpu_gemm_bf16_gflops"
                                                      : "gpu_sgemm_gflops",
                           res->median);
    }
    else if (!strcmp(res->metric, "stream_triad_gbps") || !strcmp(res->metric, "mpi_pingpong_us") ||
             !strcmp(res->metric, "mpi_pingpong_gbps") || !strcmp(res->metric, "gpu_copy_gbps"))
        qt_rec_set_ceiling(r, res->metric, res->median);
    return 0;
}

/* finish(): ceilings for the rest of the run. */
static qt_status_t calibration_finish(qt_rec_t *r)
{
    qt_rec_foreach_result(r, NULL, publish, r);
    return QT_OK;
}

const qt_suite_t qt_suite_calibration = {
    "calibration",
    "this machine's ceilings: memory bandwidth, SGEMM rate, MPI and GPU (runs first in every run)",
    metrics,
    calibration_cases,
    calibration_finish,
};
