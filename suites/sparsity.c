/* sparsity.c — the sparsity suite (technique 5, impl/sparse, sparse.h).
 *
 * Every case runs on every registered backend (backend.h) that has sparse ops and supports
 * the case's path (variant = the backend; the ref oracle only where M·K·N ≤ 2^24); a backend
 * that cannot run on this machine makes its cases "skipped" with the reason. Operands live
 * on the backend's device; a device backend is synchronized before the clock stops.
 *
 * Kernel sweep (timed cases, name = matmul path, variant = backend): Y = A·W for A (M,K) with
 * a fraction `sp` of zeros, either uniform (each entry independently) or structured (the
 * same units off in every row of the batch), W (K,N) dense, params M,K,N,sp,structure.
 * Each case cycles through independent draws of A ("patterns") so that a sparse path cannot
 * keep "its" rows of W in the last-level cache from one call to the next (issue 9): between two
 * uses of one pattern the other patterns touch at least min(2·LLC, 0.95·|W|) bytes of W rows
 * (qt_sparse_patterns below; LLC from /sys/devices/system/cpu/cpu0/cache/index3/size, else
 * 32 MiB; the touched fraction of W's rows per pattern is 1 − sp^M uniform, 1 − sp structured;
 * at least 8 patterns, at most 256, and all draws together within 64 MiB). Cases with the
 * param cache=warm (the batch-1 points M=1 K=16384 N=4096 at 90% and 95%, uniform) repeat
 * ONE pattern instead: the rows it touches stay cache-resident when they fit, the figure of a
 * warm cache, kept apart (and out of the crossover tables). suites/peers/torch_cpu.py draws
 * the same number of patterns by the same rule. Every path runs at every
 * point, the backend's dense path first and the dispatcher (auto) last. Metrics:
 *   time_s            (runner, manual time) per call: each timed iteration makes 3 calls and
 *                     reports the fastest, so that time slices lost to other processes on a
 *                     shared 2-core machine do not decide a comparison
 *   sparsity_measured fraction of zeros of A; col_sparsity: fraction of columns zero in all rows
 *   patterns          draws of A the case rotates through (1: cache=warm)
 *   chosen_path       auto only: the path the dispatcher ran (0 dense 1 gather 2 colskip 3 csr)
 *                     in one more call after the timed ones (timed calls ask for no info)
 * finish() derives, from this run's medians, per backend (derived records: variant = the
 * backend, params = the point's plus path=<path>):
 *   speedup_vs_dense   (case "speedup_vs_dense") dense time / path time, same backend
 *   crossover_sparsity (case "crossover_sparsity", path = a path or "best", params M,K,N,
 *                      structure) the sparsity from which on the path beats dense at every
 *                      tested point (speedup linearly interpolated between grid points; the
 *                      lowest tested sparsity when it wins everywhere; not recorded when it
 *                      loses at the sparsest point)
 *   paired_ratio      auto only: auto's fastest call over the fastest call of the best path,
 *                     all timed in the same iterations of the auto case (every path interleaved
 *                     with auto, in a rotating order); the minimum is the estimator because on a
 *                     shared machine interference only ever adds time
 *   dispatch_ratio     (case "dispatch_ratio", path auto) the auto case's paired_ratio (the
 *                      dispatcher against the best path at the same moment: scan, choice and
 *                      call together), and dispatch_worst_ratio (max over the points)
 *   dispatch_regret    (case "dispatch_regret", path auto) time of the path auto chose, from
 *                      that path's own case, / best path time: the quality of the decision
 *                      alone, without auto's scan and without the noise between two cases;
 *                      dispatch_worst_regret (max over the points)
 * and writes EACH BACKEND'S crossover table (sparse.h, qt_xover_save) to its own file
 * qt_xover_file($QT_SPARSE_CROSSOVER or "results", backend), i.e.
 * results/sparse_crossover_<backend>.txt: that backend's points of this run, plus the buckets
 * (M, W bytes) of its previous file (or its built-in defaults) that this run did not measure.
 * The auto case's setup() builds its backend's table from the same run's measurements of that
 * backend so far (falling back to its file, then to its built-in defaults).
 * Neither step measures anything of its own: a filtered run, e.g. --filter
 * '^sparsity/(dense|gather|colskip|csr|auto)/cpu/M=64,', costs its cases (the paths first, so
 * that auto finds them) plus the runner's calibration cases, once per invocation: add
 * --invocations 1 (the nightly profile runs several invocations: 4 × ~7 s on the H200 host,
 * which a 25 s limit cut); to reuse a table instead of the paths' cases, point
 * QT_SPARSE_CROSSOVER at the folder holding a sparse_crossover_<backend>.txt and filter auto
 * alone (without one, the built-in defaults take CSR for batches above 4 rows from 75%).
 *
 * Training (experiments over seeds, case "train", on every backend with sparse ops but the
 * oracle, whose activations the tests already compare): an MLP 32 → H → H → 8 (impl/nn Linear,
 * softmax cross-entropy, SGD with momentum 0.9, lr 0.05, batch 64) on a synthetic task whose
 * labels are the argmax of a random ReLU teacher network (so they need hidden features), with
 * activation relu, dthresh (no controller with κ = 1, i.e. θ = running mean of |x|; or the
 * controller with targets 0.8/0.9/0.95) or topk (k = H/10). Metrics per seed:
 * accuracy (eval set), final_loss, sparsity_l1/_l2 (fraction of zero activations on the
 * eval set, eval mode), dead_fraction_l1/_l2 (units never nonzero on the eval set); series
 * "loss" (mean train loss per epoch).
 *
 * Device backends are timed with their own timer (CUDA events around DEV_BATCH calls back to
 * back, each on the next draw, divided by DEV_BATCH: device time per call, the read-backs a
 * path does included, launch latency overlapped as in a network's repeated calls); cases with param dtype=bf16 (backends that take bf16:
 * cuda) time issue 14's targets, M=K=N=8192 at 90% structured and M=1 K=16384 N=4096 at 90%,
 * and stay out of the crossover tables (f32).
 * Run: quintet run sparsity [--profile quick|nightly|paper]; the two target points
 * (M=1 K=16384 N=4096 90% uniform; M=256 95% structured) are in every profile. On a shared
 * machine set GOMP_SPINCOUNT=10000 (or OMP_WAIT_POLICY=passive): with libgomp's default
 * spin (~300k pauses) an OpenMP barrier whose worker was woken on the busy core, or a
 * spinning team next to OpenBLAS's own threads, costs ~8 ms per parallel region.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>
#include <sys/stat.h>

#include "quintet/nn.h"
#include "quintet/rng.h"
#include "quintet/sparse.h"
#include "quintet/tensor.h"
#include "run/suite.h"

static const char *const metrics[] = {
    "time_s|s|one call of Y = A·W through the case's path",
    "sparsity_measured|fraction|zeros of A (kernel cases)",
    "col_sparsity|fraction|columns of A zero in every row",
    "patterns|count|draws of A the case rotates through (1 with cache=warm)",
    "chosen_path|enum|auto: path the dispatcher ran (0 dense, 1 gather, 2 colskip, 3 csr)",
    "speedup_vs_dense|ratio|dense median time / path median time at the same point (derived)",
    "crossover_sparsity|fraction|sparsity above which the path beats dense, per shape (derived)",
    "paired_ratio|ratio|auto: fastest auto call / fastest call of the best path, timed interleaved in one case",
    "dispatch_ratio|ratio|the auto case's paired_ratio at a point (derived); dispatch_worst_ratio: max",
    "dispatch_regret|ratio|time of the path auto chose (its own case) / fastest path time at a point (derived)",
    "accuracy|fraction|train: eval-set accuracy",
    "final_loss|nats|train: mean training loss of the last epoch",
    "sparsity_l1|fraction|train: zero activations of hidden layer 1 on the eval set (sparsity_l2 likewise)",
    "dead_fraction_l1|fraction|train: units of layer 1 never active on the eval set (dead_fraction_l2 likewise)",
    NULL,
};

#define MIN_PATTERNS 8              /* independent draws of A per kernel case: at least … */
#define MAX_PATTERNS 256            /* … and at most */
#define A_BYTES_CAP (64ll << 20)    /* cap on the bytes of all draws of A together */
#define CALLS_PER_ITER 3            /* products per timed iteration; the fastest is reported */
#define WARMUP_S 0.03               /* seconds of untimed calls at the end of setup */
#define DEV_BATCH 8                 /* device backends: calls between the two events of one timing */

/* =============================================================== kernel sweep ==== */

/* Draws of A (M,K) a case rotates through so that, between two uses of one draw, the others
 * touch at least min(2·LLC, 0.95·|W|) bytes of rows of W (K,N) of es-byte elements: the
 * rows one draw touches are evicted before it comes back. Touched fraction of W's rows per
 * draw: 1 − sp^M (uniform), 1 − sp (structured). MIN_PATTERNS … MAX_PATTERNS, and the draws
 * within A_BYTES_CAP. suites/peers/torch_cpu.py (patterns()) implements the same rule. */
static int sparse_patterns(int64_t M, int64_t K, int64_t N, double sp, int structured, int64_t es)
{
    const double wbytes = (double)K * N * es, f = structured ? 1.0 - sp : 1.0 - pow(sp, (double)M);
    const double target = fmin(2.0 * qt_suite_llc_bytes(), 0.95 * wbytes);
    int n = MIN_PATTERNS;
    while (n < MAX_PATTERNS && f > 0 && wbytes * (1.0 - pow(1.0 - f, n - 1)) < target) n++;
    int64_t cap = A_BYTES_CAP / (M * K * es);
    if (n > cap) n = (int)cap;
    return n < 1 ? 1 : n;
}

#define MAX_BES 16
#define REF_MAX_MKN (1ll << 24) /* the oracle's double loops: only up to this many multiply-adds */

/* The backend instances of this run's cases, made on first use and kept until finish(), so
 * that operands cached across cases (W) stay valid; W cached per instance. */
static struct {
    qt_backend_t *be[MAX_BES];
    qt_tensor_t W[MAX_BES]; /* (K,N) on be's device, shared by consecutive cases of the same K, N */
    uint64_t wseed[MAX_BES];
    int n;
} insts;

/* The instance of backend `name` and its slot (QT_ERR_UNSUPPORTED with the reason when it
 * cannot run here: the runner records the case as skipped). */
static qt_status_t instance(const char *name, qt_backend_t **be, int *slot)
{
    for (int i = 0; i < insts.n; i++)
        if (!strcmp(qt_backend_name(insts.be[i]), name)) {
            *be = insts.be[i];
            if (slot) *slot = i;
            return QT_OK;
        }
    if (insts.n == MAX_BES) return qt_fail(QT_ERR_INTERNAL, "more than %d backends", MAX_BES);
    QT_TRY(qt_backend_init(&insts.be[insts.n], name, NULL));
    if (!qt_backend_ops(insts.be[insts.n], QT_TECH_SPARSE)) {
        qt_backend_free(insts.be[insts.n]);
        return qt_fail(QT_ERR_UNSUPPORTED, "backend %s has no sparse ops", name);
    }
    *be = insts.be[insts.n];
    if (slot) *slot = insts.n;
    insts.n++;
    return QT_OK;
}

/* Release the cached operands and the instances. */
static void instances_free(void)
{
    for (int i = 0; i < insts.n; i++) {
        qt_tensor_free(&insts.W[i]);
        qt_backend_free(insts.be[i]);
    }
    memset(&insts, 0, sizeof insts);
}

/* A (rows, cols) tensor of dtype dt (f32 or bf16) on be's device filled by fill(arg, values)
 * (f32 values; bf16: rounded to nearest even): in place when the device is the host and dt is
 * f32, else through a host copy. */
static qt_status_t make_on(qt_backend_t *be, int64_t rows, int64_t cols, void (*fill)(const void *arg, float *v),
                           const void *arg, qt_dtype_t dt, qt_tensor_t *t)
{
    int64_t shape[2] = {rows, cols};
    QT_TRY(qt_tensor_alloc(t, be, dt, 2, shape));
    if (qt_tensor_on_host(t) && dt == QT_F32) {
        fill(arg, t->data);
        return QT_OK;
    }
    qt_tensor_t h, hb = {0};
    qt_status_t st = qt_tensor_init(&h, QT_F32, 2, shape);
    if (st == QT_OK) {
        fill(arg, h.data);
        if (dt == QT_BF16 && (st = qt_tensor_init(&hb, QT_BF16, 2, shape)) == QT_OK) {
            const float *f = h.data;
            uint16_t *b = hb.data;
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < rows * cols; i++) b[i] = qt_f32_to_bf16(f[i]);
        }
        if (st == QT_OK) st = qt_tensor_copy(be, t, dt == QT_BF16 ? &hb : &h);
        if (st == QT_OK) st = qt_backend_synchronize(be);
    }
    qt_tensor_free(&h);
    qt_tensor_free(&hb);
    if (st != QT_OK) qt_tensor_free(t);
    return st;
}

/* What the fill functions draw from. */
typedef struct {
    int64_t M, K, N, nv;
    double sp;
    int structured;
    uint64_t seed;
} draw_t;

/* W (K,N) ~ U(-1,1) from stream 1, filled in parallel (each value is a pure function of its index). */
static void fill_w(const void *arg, float *W)
{
    const draw_t *d = arg;
    const int64_t K = d->K, N = d->N;
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < K; k++) qt_rng_fill_uniform_f32(W + k * N, (size_t)N, d->seed, 1, (uint64_t)(k * N), -1.0f, 1.0f);
}

/* nv draws of A (M,K) stacked: U(0.1,1) with a fraction sp of zeros, uniform (stream 16) or
 * structured (the same units off in every row of a draw: stream 3 + draw). */
static void fill_a(const void *arg, float *A)
{
    const draw_t *d = arg;
    const int64_t M = d->M, K = d->K;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < d->nv * M; row++) {
        int64_t v = row / M;
        float *a = A + row * K;
        qt_rng_fill_uniform_f32(a, (size_t)K, d->seed, 2, (uint64_t)(row * K), 0.1f, 1.0f);
        for (int64_t j = 0; j < K; j++) {
            double u = d->structured ? qt_rng_uniform_f64(d->seed, 3 + (uint64_t)v, (uint64_t)j)
                                     : qt_rng_uniform_f64(d->seed, 16, (uint64_t)(row * K + j));
            if (u < d->sp) a[j] = 0.0f;
        }
    }
}

/* The cached W (K,N) of instance slot i (made when the shape or seed changed). */
static qt_status_t get_w(int i, int64_t K, int64_t N, uint64_t seed, const qt_tensor_t **W)
{
    qt_tensor_t *w = &insts.W[i];
    if (!(w->data && w->shape[0] == K && w->shape[1] == N && insts.wseed[i] == seed)) {
        qt_tensor_free(w);
        draw_t d = {0, K, N, 0, 0.0, 0, seed};
        QT_TRY(make_on(insts.be[i], K, N, fill_w, &d, QT_F32, w));
        insts.wseed[i] = seed;
    }
    *W = w;
    return QT_OK;
}

typedef struct {
    qt_spmm_path_t path;
    qt_backend_t *be; /* the case's instance (owned by insts), looked up once in setup */
    int64_t M, K, N;
    int nv, next;
    qt_dtype_t dt;                 /* f32, or bf16 (param dtype) */
    int dev_timer;                 /* time with the backend's timer (device backends) */
    qt_tensor_t A, Y;              /* all draws of A stacked (nv·M, K); Y (M,N) */
    qt_tensor_t Wb;                /* bf16 cases: their own W (the cache holds f32) */
    qt_tensor_t Av[MAX_PATTERNS];  /* views of the draws */
    const qt_tensor_t *W;
    qt_spmm_ws_t ws;
    qt_xover_table_t table;
    qt_spmm_info_t info;
    double s_elem, s_col;
    double fastest[QT_SPMM_COUNT]; /* auto: each path's fastest call over the case, timed interleaved */
    int rotation;
} kern_t;

static void kern_teardown(void *state);
static void build_table(qt_rec_t *r, qt_xover_table_t *t, const char *backend, int verbose);
static double mono_s(void);
static qt_status_t kern_iterate(void *state, double *seconds);

/* Draws of A with the case's sparsity and structure, the shared W, the table (auto), all on
 * the backend's device. */
static qt_status_t kern_setup(const qt_case_t *c, qt_rec_t *r, void **state)
{
    qt_spmm_path_t path;
    QT_TRY(qt_spmm_path_parse(c->name, &path));
    int slot;
    qt_backend_t *be;
    QT_TRY(instance(c->variant, &be, &slot));
    char why[256];
    qt_dtype_t dt;
    QT_TRY(qt_dtype_parse(qt_params_str(&c->params, "dtype", "f32"), &dt));
    if (!qt_sparse_supports(be, path, NULL, NULL, NULL, why, sizeof why))
        return qt_fail(QT_ERR_UNSUPPORTED, "%s", why);
    const qt_sparse_ops_t *ops = qt_backend_ops(be, QT_TECH_SPARSE);
    if (!ops->supports(be, path == QT_SPMM_AUTO ? QT_SPMM_DENSE : path, dt))
        return qt_fail(QT_ERR_UNSUPPORTED, "backend %s has no %s path in %s", qt_backend_name(be), c->name,
                       qt_dtype_name(dt));
    kern_t *k = calloc(1, sizeof *k);
    if (!k) return qt_fail(QT_ERR_NOMEM, "kernel state");
    k->path = path;
    k->be = be;
    k->dt = dt;
    k->dev_timer = !qt_device_is_host(be->device);
    const int64_t es = (int64_t)qt_dtype_size(dt);
    k->M = qt_params_int(&c->params, "M", 1);
    k->K = qt_params_int(&c->params, "K", 1024);
    k->N = qt_params_int(&c->params, "N", 1024);
    uint64_t seed = qt_rec_seed(r);
    int64_t per = k->M * k->K;
    const double sp = qt_params_double(&c->params, "sp", 0.9);
    const int structured = !strcmp(qt_params_str(&c->params, "structure", "uniform"), "structured");
    k->nv = !strcmp(qt_params_str(&c->params, "cache", "cold"), "warm")
                ? 1
                : sparse_patterns(k->M, k->K, k->N, sp, structured, es);
    for (int p = 0; p < QT_SPMM_COUNT; p++) k->fastest[p] = INFINITY;
    draw_t d = {k->M, k->K, k->N, k->nv, sp, structured, seed};
    int64_t yshape[2] = {k->M, k->N};
    qt_status_t st = make_on(be, k->nv * k->M, k->K, fill_a, &d, dt, &k->A);
    if (st == QT_OK) st = qt_tensor_alloc(&k->Y, be, dt, 2, yshape);
    draw_t dw = {0, k->K, k->N, 0, 0.0, 0, seed};
    if (st == QT_OK && dt != QT_F32) st = make_on(be, k->K, k->N, fill_w, &dw, dt, &k->Wb);
    if (st == QT_OK) k->W = &k->Wb;
    if (st == QT_OK && dt == QT_F32) st = get_w(slot, k->K, k->N, seed, &k->W);
    if (st != QT_OK) {
        kern_teardown(k);
        return st;
    }
    const int64_t M = k->M, K = k->K;
    int64_t nnz = 0, zc = 0;
    for (int v = 0; v < k->nv && st == QT_OK; v++) {
        qt_tensor_t *a = &k->Av[v];
        *a = k->A; /* a view: rows v·M … (v+1)·M − 1 */
        a->shape[0] = M;
        a->offset += (size_t)(v * per * es);
        a->data = (char *)k->A.data + (size_t)(v * per * es);
        a->owns_data = 0;
        int64_t nz, z;
        st = qt_sparse_measure(be, a, &nz, &z);
        nnz += nz;
        zc += z;
    }
    if (st != QT_OK) {
        kern_teardown(k);
        return st;
    }
    k->s_elem = 1.0 - (double)nnz / ((double)per * k->nv);
    k->s_col = (double)zc / ((double)K * k->nv);
    if (k->path == QT_SPMM_AUTO) build_table(r, &k->table, qt_backend_name(be), 0);
    /* Work: the multiply-adds the path needs and the bytes of W it must read. */
    double rows_w = k->path == QT_SPMM_DENSE ? (double)K : (double)K * (1.0 - k->s_col);
    double macs = k->path == QT_SPMM_DENSE ? (double)M * K * k->N : (double)per * (1.0 - k->s_elem) * k->N;
    qt_rec_set_work(r, 2.0 * macs, (double)es * (rows_w * k->N + (double)per + (double)M * k->N));
    *state = k;
    /* Warm-up (~WARMUP_S): workspace grown and touched, caches and thread pools in the steady
     * state of this path rather than of the case before it (OpenBLAS's threads keep spinning
     * for a while after the dense case). */
    double t0 = mono_s(), sec;
    do QT_TRY(kern_iterate(k, &sec));
    while (mono_s() - t0 < WARMUP_S);
    return QT_OK;
}

/* Monotonic clock in seconds. */
static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Time one product through `path` on the next draw of A (the backend synchronized before the
 * clock stops); the fastest so far stays in *best. */
static qt_status_t kern_call(kern_t *k, qt_spmm_path_t path, double *best)
{
    int is_auto = path == QT_SPMM_AUTO;
    double t0 = mono_s(), t;
    /* Device backends: DEV_BATCH calls back to back (each on the next draw) between the
     * events, time / DEV_BATCH, for every path alike: the throughput of repeated calls, as a
     * network runs them, instead of one call's launch latency against an idle GPU (which
     * decides a ~5 µs kernel's figure and not a 40 µs one's). */
    const int calls = k->dev_timer ? DEV_BATCH : 1;
    if (k->dev_timer) QT_TRY(qt_backend_timer_start(k->be)); /* device time: no host wake-up in it */
    for (int i = 0; i < calls; i++) {
        const qt_tensor_t *A = &k->Av[k->next];
        k->next = (k->next + 1) % k->nv;
        /* no info asked in timed calls: on a device it costs a read-back (the nonzeros of A) */
        QT_TRY(qt_sparse_matmul(k->be, path, A, k->W, &k->Y, is_auto ? &k->table : NULL, &k->ws, NULL));
    }
    if (k->dev_timer) QT_TRY(qt_backend_timer_stop(k->be, &t));
    if (k->dev_timer) t /= calls;
    QT_TRY(qt_backend_synchronize(k->be));
    if (!k->dev_timer) t = mono_s() - t0;
    if (t < *best) *best = t;
    return QT_OK;
}

/* One timed iteration: CALLS_PER_ITER products, each on the next draw of A; reports the
 * fastest (manual time), so a time slice lost to another process on a shared machine does
 * not count against a path. The auto case runs every fixed path the same way in the same
 * iteration (each path's calls back to back, the order of the paths rotating from one
 * iteration to the next) and keeps auto's time over the fastest path's: a comparison made
 * within milliseconds on the same draws, which the drift between two separately timed cases
 * (up to ~11% on a shared VM) cannot blur. */
static qt_status_t kern_iterate(void *state, double *seconds)
{
    kern_t *k = state;
    double best[QT_SPMM_COUNT];
    for (int p = 0; p < QT_SPMM_COUNT; p++) best[p] = INFINITY;
    int first = k->path == QT_SPMM_AUTO ? QT_SPMM_DENSE : (int)k->path;
    int n = k->path == QT_SPMM_AUTO ? QT_SPMM_COUNT - first : 1;
    double leader = INFINITY; /* the fastest fixed path so far */
    for (int p = first; p < QT_SPMM_AUTO; p++) leader = fmin(leader, k->fastest[p]);
    for (int j = 0; j < n; j++) {
        qt_spmm_path_t p = n == 1 ? k->path : (qt_spmm_path_t)(first + (k->rotation + j) % n);
        if (p != k->path && !qt_sparse_supports(k->be, p, NULL, NULL, NULL, NULL, 0)) continue; /* not this backend's */
        /* A path already 1.5× slower than the leader cannot become the fastest (minima only
         * fall), so after the first iteration it is left out: at low sparsity the sparse paths
         * cost 10× dense, and timing them every iteration would multiply the case's cost. */
        if (p != QT_SPMM_AUTO && p != k->path && k->fastest[p] > 1.5 * leader) continue;
        /* The auto case's first iteration only screens: one call per path. */
        for (int i = 0; i < (n > 1 && isinf(leader) ? 1 : CALLS_PER_ITER); i++) QT_TRY(kern_call(k, p, &best[p]));
    }
    k->rotation++;
    *seconds = best[k->path];
    for (int p = first; p < first + n; p++) k->fastest[p] = fmin(k->fastest[p], best[p]);
    return QT_OK;
}

/* Measured sparsity; for auto the path it chose. */
static qt_status_t kern_after(void *state, const qt_case_t *c, qt_rec_t *r)
{
    (void)c;
    kern_t *k = state;
    qt_rec_metric(r, "sparsity_measured", "fraction", k->s_elem);
    qt_rec_metric(r, "col_sparsity", "fraction", k->s_col);
    qt_rec_metric(r, "patterns", "count", (double)k->nv);
    if (k->path == QT_SPMM_AUTO) { /* the path of one more (untimed) call, asked for its info */
        QT_TRY(qt_sparse_matmul(k->be, QT_SPMM_AUTO, &k->Av[k->next], k->W, &k->Y, &k->table, &k->ws, &k->info));
        QT_TRY(qt_backend_synchronize(k->be));
        qt_rec_metric(r, "chosen_path", "enum", (double)k->info.path);
        double best = INFINITY;
        for (int p = QT_SPMM_DENSE; p < QT_SPMM_AUTO; p++) best = fmin(best, k->fastest[p]);
        if (isfinite(best) && best > 0) qt_rec_metric(r, "paired_ratio", "ratio", k->fastest[QT_SPMM_AUTO] / best);
    }
    return QT_OK;
}

/* Free the case's memory (W stays cached). */
static void kern_teardown(void *state)
{
    kern_t *k = state;
    if (!k) return;
    qt_tensor_free(&k->A);
    qt_tensor_free(&k->Y);
    qt_tensor_free(&k->Wb);
    qt_spmm_ws_free(&k->ws);
    free(k);
}

/* ---- this run's kernel results, gathered for the table and finish() ---- */

typedef struct {
    char name[16], variant[32]; /* path, backend */
    qt_params_t params;
    double time, s_elem, s_col, chosen, paired;
} kres_t;

typedef struct {
    kres_t *v;
    int n, cap;
} kres_list_t;

/* The entry for (name, variant, params), adding one when it differs from the last entry:
 * the runner reports all metrics of a case together, so only the last entry can match. */
static kres_t *kres_get(kres_list_t *l, const char *name, const char *variant, const qt_params_t *p)
{
    if (l->n > 0) {
        kres_t *last = &l->v[l->n - 1];
        if (!strcmp(last->name, name) && !strcmp(last->variant, variant) &&
            qt_params_equal_except(&last->params, p, NULL))
            return last;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        kres_t *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        l->v = v;
        l->cap = cap;
    }
    kres_t *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->variant, sizeof e->variant, "%s", variant);
    e->params = *p;
    e->time = e->s_elem = e->s_col = e->chosen = e->paired = NAN;
    return e;
}

/* foreach_result callback: keep time_s and the sparsity measures of kernel cases. */
static int collect_kres(void *arg, const qt_result_t *res)
{
    qt_spmm_path_t p;
    if (qt_spmm_path_parse(res->name, &p) != QT_OK) {
        qt_clear_error();
        return 0;
    }
    kres_t *e = kres_get(arg, res->name, res->variant, res->params);
    if (!e) return 1;
    if (!strcmp(res->metric, "time_s")) e->time = res->median;
    else if (!strcmp(res->metric, "sparsity_measured")) e->s_elem = res->median;
    else if (!strcmp(res->metric, "col_sparsity")) e->s_col = res->median;
    else if (!strcmp(res->metric, "chosen_path")) e->chosen = res->median;
    else if (!strcmp(res->metric, "paired_ratio")) e->paired = res->median;
    return 0;
}

/* Median time of path `name` on backend `variant` at params p (NAN when not measured). The
 * paths of one point are listed next to each other, so entries near `near` are tried first. */
static double time_at(const kres_list_t *l, const char *name, const char *variant, const qt_params_t *p, int near)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = pass ? 0 : (near > 8 ? near - 8 : 0); i < (pass ? l->n : (near + 8 < l->n ? near + 8 : l->n)); i++)
            if (!strcmp(l->v[i].name, name) && !strcmp(l->v[i].variant, variant) &&
                qt_params_equal_except(&l->v[i].params, p, NULL))
                return l->v[i].time;
    return NAN;
}

/* Add a point to t, or lower an existing one of the same path, bucket, class and (±0.005)
 * sparsity to the smaller speedup (conservative when shapes share a bucket). */
static void table_merge(qt_xover_table_t *t, qt_spmm_path_t p, int64_t rows, int64_t wbytes, int cls, double s,
                        double x)
{
    for (int i = 0; i < t->n; i++) {
        qt_xover_point_t *q = &t->pt[i];
        if (q->path == p && q->max_rows == rows && q->max_wbytes == wbytes && q->structured == cls &&
            fabs(q->sparsity - s) < 0.005) {
            if (x < q->speedup) q->speedup = x;
            return;
        }
    }
    (void)qt_xover_add(t, p, rows, wbytes, cls, s, x);
}

/* Backend `backend`'s table from this run's kernel results: one bucket per tested
 * (M, K·N·4), points classed by qt_sparse_structured, at the path's own sparsity measure
 * (colskip: col_sparsity). Empty when nothing was measured on that backend. */
static void table_from_results(const kres_list_t *l, const char *backend, qt_xover_table_t *t)
{
    (void)qt_xover_init(t, backend);
    for (int i = 0; i < l->n; i++) {
        const kres_t *e = &l->v[i];
        qt_spmm_path_t p;
        if (strcmp(e->variant, backend) || qt_spmm_path_parse(e->name, &p) != QT_OK || p == QT_SPMM_DENSE ||
            p == QT_SPMM_AUTO || strcmp(qt_params_str(&e->params, "dtype", "f32"), "f32") || /* tables: f32, */
            qt_params_str(&e->params, "cache", NULL))                                          /* rotating draws */
            continue;
        double td = time_at(l, "dense", backend, &e->params, i);
        if (!(td > 0) || !(e->time > 0) || isnan(e->s_elem) || isnan(e->s_col)) continue;
        int64_t M = qt_params_int(&e->params, "M", 0), K = qt_params_int(&e->params, "K", 0),
                N = qt_params_int(&e->params, "N", 0);
        table_merge(t, p, M, K * N * 4, qt_sparse_structured(e->s_elem, e->s_col),
                    p == QT_SPMM_COLSKIP ? e->s_col : e->s_elem, td / e->time);
    }
    snprintf(t->source, sizeof t->source, "this run");
}

/* The folder of the tables ($QT_SPARSE_CROSSOVER, else results/). */
static const char *table_dir(void)
{
    const char *f = getenv("QT_SPARSE_CROSSOVER");
    return f && *f ? f : "results";
}

/* Backend `backend`'s dispatcher table: its points of this run; paths/buckets it lacks from
 * its file (or its built-in defaults). */
static void build_table(qt_rec_t *r, qt_xover_table_t *t, const char *backend, int verbose)
{
    kres_list_t l = {0};
    qt_rec_foreach_result(r, NULL, collect_kres, &l);
    qt_xover_table_t *base = malloc(sizeof *base);
    table_from_results(&l, backend, t);
    if (base) {
        char file[600];
        if (qt_xover_file(table_dir(), backend, file, sizeof file) != QT_OK || qt_xover_load(base, file) != QT_OK ||
            strcmp(base->backend, backend))
            qt_xover_defaults(base, backend);
        qt_clear_error();
        if (qt_xover_fill(t, base) != QT_OK) qt_rec_note(r, "%s dispatch table: %s", backend, qt_last_error());
        if (verbose) qt_rec_note(r, "%s dispatch table: %d points (this run + %s)", backend, t->n, base->source);
        free(base);
    }
    free(l.v);
}

/* ---- derived metrics ---- */

/* Params of a point without the sparsity (the shape). */
static void shape_of(const qt_params_t *p, qt_params_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->kv[i].key, "sp")) qt_params_set_str(out, p->kv[i].key, p->kv[i].val);
}

/* Crossover of the speedup curve (sp ascending): the sparsity from which on the path wins
 * at every tested point (speedup ≥ 1), linearly interpolated from the last losing point;
 * sp[0] when it wins everywhere, -1 when it does not win at the sparsest point. */
static double crossover(const double *sp, const double *x, int n)
{
    int i = n;
    while (i > 0 && x[i - 1] >= 1.0) i--;
    if (i == n) return -1.0;
    if (i == 0) return sp[0];
    return sp[i - 1] + (1.0 - x[i - 1]) / (x[i] - x[i - 1]) * (sp[i] - sp[i - 1]);
}

/* A derived record of backend `backend` at params p (NULL: none) plus path=<path>. */
static void derived(qt_rec_t *r, const char *name, const char *backend, const qt_params_t *p, const char *path,
                    const char *unit, double value)
{
    qt_params_t q;
    if (p) q = *p;
    else memset(&q, 0, sizeof q);
    if (qt_params_set_str(&q, "path", path) == QT_OK) (void)qt_rec_derived(r, name, backend, &q, name, unit, value);
}

/* Speedups and dispatcher quality of one backend's kernel results. */
static void finish_speedups(qt_rec_t *r, const kres_list_t *l, const char *be)
{
    double worst = 0.0, worst_regret = 0.0;
    int n_dispatch = 0;
    for (int i = 0; i < l->n; i++) {
        const kres_t *e = &l->v[i];
        if (strcmp(e->variant, be) || !strcmp(e->name, "dense") || !(e->time > 0)) continue;
        double td = time_at(l, "dense", be, &e->params, i);
        if (td > 0) derived(r, "speedup_vs_dense", be, &e->params, e->name, "ratio", td / e->time);
        if (strcmp(e->name, "auto")) continue;
        double best = INFINITY;
        for (int p = QT_SPMM_DENSE; p < QT_SPMM_AUTO; p++) {
            double t = time_at(l, qt_spmm_path_name((qt_spmm_path_t)p), be, &e->params, i);
            if (t > 0 && t < best) best = t;
        }
        if (!isfinite(best)) continue;
        double ratio = isfinite(e->paired) ? e->paired : e->time / best;
        derived(r, "dispatch_ratio", be, &e->params, "auto", "ratio", ratio);
        if (ratio > worst) worst = ratio;
        n_dispatch++;
        double tc = e->chosen >= 0 && e->chosen < QT_SPMM_AUTO
                        ? time_at(l, qt_spmm_path_name((qt_spmm_path_t)lround(e->chosen)), be, &e->params, i)
                        : NAN;
        if (tc > 0) {
            derived(r, "dispatch_regret", be, &e->params, "auto", "ratio", tc / best);
            if (tc / best > worst_regret) worst_regret = tc / best;
        }
    }
    if (n_dispatch) {
        derived(r, "dispatch_worst_ratio", be, NULL, "auto", "ratio", worst);
        derived(r, "dispatch_worst_regret", be, NULL, "auto", "ratio", worst_regret);
        qt_rec_note(r, "%s dispatcher over %d points: worst auto/best-path time %.3f; worst chosen-path/best-path %.3f",
                    be, n_dispatch, worst, worst_regret);
    }
}

/* Crossovers per shape and path of one backend, and for its best sparse path ("best"). */
static void finish_crossovers(qt_rec_t *r, const kres_list_t *l, const char *be)
{
    int *done = calloc((size_t)(l->n ? l->n : 1), sizeof *done);
    double *sp = malloc(sizeof(double) * (size_t)(l->n + 1)), *x = malloc(sizeof(double) * (size_t)(l->n + 1));
    double *bx = malloc(sizeof(double) * (size_t)(l->n + 1));
    for (int i = 0; done && sp && x && bx && i < l->n; i++) {
        if (done[i] || strcmp(l->v[i].name, "dense") || strcmp(l->v[i].variant, be) ||
            qt_params_str(&l->v[i].params, "cache", NULL)) /* warm points: no crossover of their own */
            continue;
        qt_params_t shape;
        shape_of(&l->v[i].params, &shape);
        for (int p = QT_SPMM_GATHER; p <= QT_SPMM_AUTO; p++) {
            int n = 0;
            for (int j = 0; j < l->n; j++) { /* dense points of this shape and backend, ascending sp */
                qt_params_t sj;
                shape_of(&l->v[j].params, &sj);
                if (strcmp(l->v[j].name, "dense") || strcmp(l->v[j].variant, be) ||
                    !qt_params_equal_except(&sj, &shape, NULL))
                    continue;
                done[j] = 1;
                double s = qt_params_double(&l->v[j].params, "sp", 0),
                       t = time_at(l, qt_spmm_path_name((qt_spmm_path_t)p), be, &l->v[j].params, j);
                if (!(t > 0) || !(l->v[j].time > 0)) continue;
                int at = n++;
                while (at > 0 && sp[at - 1] > s) { sp[at] = sp[at - 1]; x[at] = x[at - 1]; at--; }
                sp[at] = s;
                x[at] = l->v[j].time / t;
            }
            if (p == QT_SPMM_GATHER) for (int j = 0; j < n; j++) bx[j] = x[j];
            else if (p < QT_SPMM_AUTO) for (int j = 0; j < n; j++) bx[j] = fmax(bx[j], x[j]);
            double c = crossover(sp, x, n);
            if (n > 1 && c >= 0)
                derived(r, "crossover_sparsity", be, &shape, qt_spmm_path_name((qt_spmm_path_t)p), "fraction", c);
            if (p == QT_SPMM_CSR && n > 1 && (c = crossover(sp, bx, n)) >= 0)
                derived(r, "crossover_sparsity", be, &shape, "best", "fraction", c);
        }
    }
    free(done);
    free(sp);
    free(x);
    free(bx);
}

/* Backend be's measured table (merged with its file's other buckets), written where the
 * dispatcher's users load it. */
static void finish_table(qt_rec_t *r, const kres_list_t *l, const char *be)
{
    qt_xover_table_t *t = malloc(sizeof *t);
    char file[600];
    if (!t || qt_xover_file(table_dir(), be, file, sizeof file) != QT_OK) {
        free(t);
        return;
    }
    table_from_results(l, be, t);
    if (t->n) {
        build_table(r, t, be, 1);
        (void)mkdir(table_dir(), 0777); /* results/ may not exist yet */
        if (qt_xover_save(t, file) == QT_OK) qt_rec_note(r, "%s crossover table: %d points written to %s", be, t->n, file);
        else qt_rec_note(r, "%s crossover table not written: %s", be, qt_last_error());
    }
    free(t);
}

/* finish(): per backend of this run's kernel cases, speedups, crossovers, dispatcher quality
 * and its table file. */
static qt_status_t sparsity_finish(qt_rec_t *r)
{
    kres_list_t l = {0};
    qt_rec_foreach_result(r, NULL, collect_kres, &l);
    for (int i = 0; i < l.n; i++) {
        int seen = 0; /* each backend once, in the order of its first result */
        for (int j = 0; j < i && !seen; j++) seen = !strcmp(l.v[j].variant, l.v[i].variant);
        if (seen) continue;
        finish_speedups(r, &l, l.v[i].variant);
        finish_crossovers(r, &l, l.v[i].variant);
        finish_table(r, &l, l.v[i].variant);
    }
    free(l.v);
    instances_free();
    return QT_OK;
}

/* =============================================================== training ==== */

#define D_IN 32
#define TEACHER_H 64
#define CLASSES 8

/* Data: x ~ N(0,1)^32; label = argmax of V·relu(U·x) for a random teacher (U, V Gaussian). */
static void make_data(uint64_t seed, uint64_t stream, int n, float *x, int32_t *y)
{
    float U[TEACHER_H * D_IN], V[CLASSES * TEACHER_H], h[TEACHER_H];
    qt_rng_fill_normal_f32(U, TEACHER_H * D_IN, seed, 100, 0, 0.0f, 1.0f);
    qt_rng_fill_normal_f32(V, CLASSES * TEACHER_H, seed, 101, 0, 0.0f, 1.0f);
    qt_rng_fill_normal_f32(x, (size_t)n * D_IN, seed, stream, 0, 0.0f, 1.0f);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < TEACHER_H; j++) {
            float s = 0;
            for (int d = 0; d < D_IN; d++) s += U[j * D_IN + d] * x[i * D_IN + d];
            h[j] = s > 0 ? s : 0;
        }
        int best = 0;
        float bv = -INFINITY;
        for (int c = 0; c < CLASSES; c++) {
            float s = 0;
            for (int j = 0; j < TEACHER_H; j++) s += V[c * TEACHER_H + j] * h[j];
            if (s > bv) { bv = s; best = c; }
        }
        y[i] = best;
    }
}

typedef struct {
    qt_nn_linear_t lin[3];
    qt_act_t act[2];
    qt_dthresh_t dt[2];
    float *mom[3][2]; /* momentum buffers of W and b */
} mlp_t;

/* SGD with momentum (PyTorch form: v = μv + g; p -= lr·v) on one array. */
static void sgd(float *p, const float *g, float *v, size_t n, float lr, float mu)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = mu * v[i] + g[i];
        p[i] -= lr * v[i];
    }
}

/* Release the model. */
static void mlp_free(mlp_t *m)
{
    for (int l = 0; l < 3; l++) {
        qt_nn_linear_free(&m->lin[l]);
        qt_free(m->mom[l][0]);
        qt_free(m->mom[l][1]);
    }
    qt_dthresh_free(&m->dt[0]);
    qt_dthresh_free(&m->dt[1]);
}

/* Activation forward (bwd = 0: y = act(x)) or backward (bwd = 1: x = y, y = dy, dx = out,
 * in place) of host buffers (rows, H) on host backend be. */
static qt_status_t act_host(qt_backend_t *be, const qt_act_t *a, int bwd, const float *x, float *y, int rows, int H)
{
    int64_t shape[2] = {rows, H};
    qt_tensor_t xt, yt;
    QT_TRY(qt_tensor_wrap(&xt, (void *)x, QT_F32, 2, shape));
    QT_TRY(qt_tensor_wrap(&yt, y, QT_F32, 2, shape));
    return bwd ? qt_sparse_act_backward(be, &xt, &yt, &yt) : qt_sparse_act_forward(be, a, &xt, &yt);
}

/* Forward of the MLP on `rows` inputs: h1, h2 (activations) and logits. */
static qt_status_t mlp_forward(mlp_t *m, qt_backend_t *be, const float *x, int rows, int H, float *z1, float *h1,
                               float *z2, float *h2, float *logits)
{
    QT_TRY(qt_nn_linear_forward(&m->lin[0], x, rows, z1));
    QT_TRY(act_host(be, &m->act[0], 0, z1, h1, rows, H));
    QT_TRY(qt_nn_linear_forward(&m->lin[1], h1, rows, z2));
    QT_TRY(act_host(be, &m->act[1], 0, z2, h2, rows, H));
    return qt_nn_linear_forward(&m->lin[2], h2, rows, logits);
}

/* One seed: train, then measure accuracy, sparsity and dead units on the eval set. */
static qt_status_t train_seed(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    const int H = (int)qt_params_int(&c->params, "hidden", 128);
    const int epochs = (int)qt_params_int(&c->params, "epochs", 6);
    const int n_train = (int)qt_params_int(&c->params, "n_train", 16384), n_eval = 2048, B = 64;
    const float lr = (float)qt_params_double(&c->params, "lr", 0.05), mu = 0.9f;
    qt_act_kind_t kind;
    QT_TRY(qt_act_parse(qt_params_str(&c->params, "act", "relu"), &kind));
    qt_backend_t *be;
    QT_TRY(instance(c->variant, &be, NULL));
    if (!qt_device_is_host(be->device)) /* impl/nn's layers take host memory */
        return qt_fail(QT_ERR_UNSUPPORTED, "the MLP's layers (impl/nn) run on the host; backend %s runs on %s",
                       c->variant, qt_device_name(be->device));
    mlp_t m;
    memset(&m, 0, sizeof m);
    const int dims[4] = {D_IN, H, H, CLASSES};
    qt_status_t st = QT_OK;
    for (int l = 0; l < 3 && st == QT_OK; l++) {
        st = qt_nn_linear_init(&m.lin[l], dims[l], dims[l + 1], seed, 200 + (uint64_t)l);
        m.mom[l][0] = qt_calloc((size_t)dims[l] * dims[l + 1] * sizeof(float));
        m.mom[l][1] = qt_calloc((size_t)dims[l + 1] * sizeof(float));
        if (st == QT_OK && (!m.mom[l][0] || !m.mom[l][1])) st = qt_fail(QT_ERR_NOMEM, "momentum buffers");
    }
    for (int l = 0; l < 2 && st == QT_OK; l++) {
        m.act[l] = (qt_act_t){kind, 0.0f, (int)qt_params_int(&c->params, "k", H / 10), &m.dt[l], 1};
        if (kind == QT_ACT_DTHRESH) {
            qt_dthresh_config_t cfg = qt_dthresh_config_default(H);
            cfg.use_target = qt_params_str(&c->params, "target", NULL) != NULL;
            cfg.target = (float)qt_params_double(&c->params, "target", 0.9);
            cfg.scale = (float)qt_params_double(&c->params, "scale", 1.0);
            st = qt_dthresh_init(&m.dt[l], be, &cfg);
        }
    }
    size_t nb = (size_t)(n_eval > B ? n_eval : B);
    float *xtr = qt_alloc((size_t)n_train * D_IN * 4), *xev = qt_alloc((size_t)n_eval * D_IN * 4);
    int32_t *ytr = qt_alloc((size_t)n_train * 4), *yev = qt_alloc((size_t)n_eval * 4);
    float *z1 = qt_alloc(nb * H * 4), *h1 = qt_alloc(nb * H * 4), *z2 = qt_alloc(nb * H * 4),
          *h2 = qt_alloc(nb * H * 4), *lg = qt_alloc(nb * CLASSES * 4), *dlg = qt_alloc(nb * CLASSES * 4),
          *d2 = qt_alloc(nb * H * 4), *d1 = qt_alloc(nb * H * 4);
    if (st == QT_OK && !(xtr && xev && ytr && yev && z1 && h1 && z2 && h2 && lg && dlg && d2 && d1))
        st = qt_fail(QT_ERR_NOMEM, "training buffers (hidden %d)", H);
    if (st == QT_OK) {
        make_data(seed, 110, n_train, xtr, ytr);
        make_data(seed, 111, n_eval, xev, yev);
    }
    double loss_epoch = NAN;
    for (int e = 0; e < epochs && st == QT_OK; e++) {
        double sum = 0;
        int nbatch = 0;
        for (int b0 = 0; b0 + B <= n_train && st == QT_OK; b0 += B, nbatch++) {
            const float *xb = xtr + (size_t)b0 * D_IN;
            double loss;
            for (int l = 0; l < 2; l++) m.act[l].training = 1;
            st = mlp_forward(&m, be, xb, B, H, z1, h1, z2, h2, lg);
            if (st == QT_OK) st = qt_nn_softmax_xent(lg, ytr + b0, B, CLASSES, &loss, dlg, NULL);
            for (int l = 0; l < 3; l++) qt_nn_linear_zero_grad(&m.lin[l]);
            if (st == QT_OK) st = qt_nn_linear_backward(&m.lin[2], h2, dlg, B, d2);
            if (st == QT_OK) st = act_host(be, NULL, 1, h2, d2, B, H);
            if (st == QT_OK) st = qt_nn_linear_backward(&m.lin[1], h1, d2, B, d1);
            if (st == QT_OK) st = act_host(be, NULL, 1, h1, d1, B, H);
            if (st == QT_OK) st = qt_nn_linear_backward(&m.lin[0], xb, d1, B, NULL);
            for (int l = 0; l < 3 && st == QT_OK; l++) {
                sgd(m.lin[l].W, m.lin[l].dW, m.mom[l][0], (size_t)dims[l] * dims[l + 1], lr, mu);
                sgd(m.lin[l].b, m.lin[l].db, m.mom[l][1], (size_t)dims[l + 1], lr, mu);
            }
            sum += loss;
        }
        loss_epoch = sum / nbatch;
        if (st == QT_OK) qt_rec_series(r, "loss", e, loss_epoch);
    }
    if (st == QT_OK) { /* evaluation: eval mode, whole eval set at once */
        for (int l = 0; l < 2; l++) m.act[l].training = 0;
        double loss;
        int correct = 0;
        st = mlp_forward(&m, be, xev, n_eval, H, z1, h1, z2, h2, lg);
        if (st == QT_OK) st = qt_nn_softmax_xent(lg, yev, n_eval, CLASSES, &loss, NULL, &correct);
        if (st == QT_OK) {
            qt_rec_metric(r, "accuracy", "fraction", (double)correct / n_eval);
            qt_rec_metric(r, "final_loss", "nats", loss_epoch);
            const float *hs[2] = {h1, h2};
            for (int l = 0; l < 2; l++) {
                int64_t zeros = 0, dead = 0;
                for (int j = 0; j < H; j++) {
                    int active = 0;
                    for (int i = 0; i < n_eval; i++) {
                        int nz = hs[l][(size_t)i * H + j] != 0.0f;
                        active |= nz;
                        zeros += !nz;
                    }
                    dead += !active;
                }
                char name[32];
                snprintf(name, sizeof name, "sparsity_l%d", l + 1);
                qt_rec_metric(r, name, "fraction", (double)zeros / ((double)n_eval * H));
                snprintf(name, sizeof name, "dead_fraction_l%d", l + 1);
                qt_rec_metric(r, name, "fraction", (double)dead / H);
            }
        }
    }
    float *bufs[] = {xtr, xev, (float *)ytr, (float *)yev, z1, h1, z2, h2, lg, dlg, d2, d1};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) qt_free(bufs[i]);
    mlp_free(&m);
    return st;
}

/* =============================================================== case lists ==== */

/* 1 when registered backend f runs sparse path p: it has sparse ops and, when it can run here,
 * supports p (one that cannot run here gets its cases, which setup reports as skipped). The
 * oracle (registry entry 0) only on problems of at most REF_MAX_MKN multiply-adds. */
static int backend_runs(int i, const qt_backend_iface_t *f, qt_spmm_path_t p, double mkn)
{
    if (!f || !f->ops[QT_TECH_SPARSE] || (i == 0 && mkn > (double)REF_MAX_MKN)) return 0;
    qt_backend_t *be;
    if (qt_backend_init(&be, f->name, NULL) != QT_OK) {
        qt_clear_error();
        return 1;
    }
    int ok = qt_sparse_supports(be, p, NULL, NULL, NULL, NULL, 0);
    qt_backend_free(be);
    return ok;
}

/* Add one kernel case per backend and path (dense first, auto last) at one point. */
static qt_status_t add_point_dt(qt_case_list_t *out, int64_t M, int64_t K, int64_t N, double sp,
                                const char *structure, double min_time, int max_reps, qt_dtype_t dt, int warm)
{
    for (int b = 0; b < qt_backend_count(); b++) {
        for (int p = QT_SPMM_DENSE; p < QT_SPMM_COUNT; p++) {
            const qt_backend_iface_t *f = qt_backend_iface_get(b);
            if (!backend_runs(b, f, (qt_spmm_path_t)p, (double)M * K * N)) continue;
            if (dt != QT_F32) { /* only backends that take the dtype; the GEMV path only for a few rows */
                const qt_sparse_ops_t *ops = f->ops[QT_TECH_SPARSE];
                if (!ops->supports(NULL, p == QT_SPMM_AUTO ? QT_SPMM_DENSE : (qt_spmm_path_t)p, dt) ||
                    (p == QT_SPMM_GATHER && M > 64))
                    continue;
            }
            qt_case_t *c = qt_case_list_add(out);
            if (!c) return qt_fail(QT_ERR_NOMEM, "case list");
            snprintf(c->name, sizeof c->name, "%s", qt_spmm_path_name((qt_spmm_path_t)p));
            snprintf(c->variant, sizeof c->variant, "%s", f->name);
            qt_params_set_int(&c->params, "M", M);
            qt_params_set_int(&c->params, "K", K);
            qt_params_set_int(&c->params, "N", N);
            qt_params_set_double(&c->params, "sp", sp);
            qt_params_set_str(&c->params, "structure", structure);
            if (dt != QT_F32) qt_params_set_str(&c->params, "dtype", qt_dtype_name(dt));
            if (warm) qt_params_set_str(&c->params, "cache", "warm"); /* one draw of A, repeated */
            c->max_repetitions = 2.0 * M * K * N > 4e9 && max_reps > 5 ? 5 : max_reps; /* dense > 20 ms: 5 at most */
            c->min_time = min_time;
            c->manual_time = 1;
            c->setup = kern_setup;
            c->iterate = kern_iterate;
            c->after = kern_after;
            c->teardown = kern_teardown;
        }
    }
    return QT_OK;
}

/* The same in f32 (every backend). */
static qt_status_t add_point(qt_case_list_t *out, int64_t M, int64_t K, int64_t N, double sp, const char *structure,
                             double min_time, int max_reps)
{
    return add_point_dt(out, M, K, N, sp, structure, min_time, max_reps, QT_F32, 0);
}

/* Add a training experiment; dthresh: target > 0 turns the controller on, target ≤ 0 means
 * no controller with fixed scale κ = −target. */
static qt_status_t add_train(qt_case_list_t *out, const char *act, double target, int H, int epochs, int seeds)
{
    for (int b = 1; b < qt_backend_count(); b++) { /* every backend with sparse ops but the oracle (entry 0) */
        const qt_backend_iface_t *f = qt_backend_iface_get(b);
        if (!f->ops[QT_TECH_SPARSE]) continue;
        qt_case_t *c = qt_case_list_add(out);
        if (!c) return qt_fail(QT_ERR_NOMEM, "case list");
        snprintf(c->name, sizeof c->name, "train");
        snprintf(c->variant, sizeof c->variant, "%s", f->name);
        qt_params_set_str(&c->params, "act", act);
        if (!strcmp(act, "dthresh") && target > 0) qt_params_set_double(&c->params, "target", target);
        if (!strcmp(act, "dthresh") && target <= 0) qt_params_set_double(&c->params, "scale", -target);
        if (!strcmp(act, "topk")) qt_params_set_int(&c->params, "k", (long long)lround(H * (1.0 - target)));
        qt_params_set_int(&c->params, "hidden", H);
        qt_params_set_int(&c->params, "epochs", epochs);
        c->experiment = 1;
        c->n_seeds = seeds;
        c->run_seed = train_seed;
    }
    return QT_OK;
}

/* The grid of each profile. */
static qt_status_t sparsity_cases(qt_profile_t profile, qt_case_list_t *out)
{
    static const double sp_quick[] = {0.0, 0.5, 0.9, 0.99};
    static const double sp_nightly[] = {0.0, 0.5, 0.8, 0.9, 0.95, 0.99};
    static const double sp_paper[] = {0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99};
    static const int64_t shapes_quick[][3] = {{1, 16384, 4096}, {64, 2048, 2048}};
    static const int64_t shapes_nightly[][3] = {{1, 16384, 4096}, {256, 16384, 4096}, {4, 4096, 4096},
                                                {16, 4096, 4096},  {64, 4096, 4096},   {256, 4096, 4096}};
    static const int64_t shapes_paper[][3] = {
        {1, 1024, 1024},  {1, 4096, 4096},   {1, 16384, 4096},   {2, 16384, 4096},  {4, 16384, 4096},
        {8, 16384, 4096}, {16, 16384, 4096}, {32, 16384, 4096},  {64, 4096, 4096},  {64, 16384, 4096},
        {128, 4096, 4096}, {256, 4096, 4096}, {256, 16384, 4096}, {512, 4096, 4096}, {512, 16384, 4096}};
    const double *sps;
    const int64_t(*shapes)[3];
    int nsp, nsh, H, epochs, seeds, max_reps;
    double min_time; /* per repetition, manual (fastest-call) seconds: each costs ~3× in wall time */
    switch (profile) {
    case QT_PROFILE_QUICK:
        sps = sp_quick, nsp = 4, shapes = shapes_quick, nsh = 2, H = 128, epochs = 4, seeds = 2;
        min_time = 0.005, max_reps = 3;
        break;
    case QT_PROFILE_NIGHTLY:
        sps = sp_nightly, nsp = 6, shapes = shapes_nightly, nsh = 6, H = 256, epochs = 8, seeds = 3;
        min_time = 0.01, max_reps = 5;
        break;
    default:
        sps = sp_paper, nsp = 9, shapes = shapes_paper, nsh = 15, H = 512, epochs = 12, seeds = 5;
        min_time = 0.05, max_reps = 10;
        break;
    }
    for (int s = 0; s < nsh; s++) {
        for (int structured = 0; structured < 2; structured++) {
            if (structured && shapes[s][0] == 1) continue; /* one row: the same thing */
            for (int i = 0; i < nsp; i++)
                QT_TRY(add_point(out, shapes[s][0], shapes[s][1], shapes[s][2], sps[i],
                                 structured ? "structured" : "uniform", min_time, max_reps));
        }
        /* quick: the second target point, right after the first shape (shares W) */
        if (profile == QT_PROFILE_QUICK && s == 0)
            QT_TRY(add_point(out, 256, 16384, 4096, 0.95, "structured", min_time, max_reps));
        /* the batch-1 targets with a warm cache (one draw repeated), beside their rotating cases */
        if (shapes[s][0] == 1 && shapes[s][1] == 16384 && shapes[s][2] == 4096)
            for (int w = 0; w < 2; w++)
                QT_TRY(add_point_dt(out, 1, 16384, 4096, w ? 0.95 : 0.9, "uniform", min_time, max_reps, QT_F32, 1));
    }
    /* bf16 (backends that take it: cuda), issue 14's targets: the compact GEMM at 90% column
     * sparsity, M = K = N = 8192, and the batch-1 GEMV at 90% */
    QT_TRY(add_point_dt(out, 8192, 8192, 8192, 0.9, "structured", min_time, max_reps, QT_BF16, 0));
    QT_TRY(add_point_dt(out, 1, 16384, 4096, 0.9, "uniform", min_time, max_reps, QT_BF16, 0));
    QT_TRY(add_train(out, "relu", 0, H, epochs, seeds));
    QT_TRY(add_train(out, "dthresh", -1.0, H, epochs, seeds)); /* no controller: θ = 1·running mean|x| */
    QT_TRY(add_train(out, "dthresh", 0.8, H, epochs, seeds));
    QT_TRY(add_train(out, "dthresh", 0.9, H, epochs, seeds));
    QT_TRY(add_train(out, "dthresh", 0.95, H, epochs, seeds));
    QT_TRY(add_train(out, "topk", 0.9, H, epochs, seeds));
    return QT_OK;
}

const qt_suite_t qt_suite_sparsity = {
    "sparsity",
    "sparse activations (dynamic-threshold ReLU, top-k) and the sparsity-aware matmul vs dense OpenBLAS",
    metrics,
    sparsity_cases,
    sparsity_finish,
};
