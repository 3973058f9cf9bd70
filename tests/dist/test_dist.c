/* test_dist.c — distributed training (dist.h) under mpirun: `make test` runs it with 2 and 4 ranks
 * (tests/run.sh, QT_MPIRUN); built without the mpi backend it skips, saying why.
 *   collectives    every collective on seeded check data: 0 wrong values (exact, small integers)
 *   dp / tp / grid the parallel MLP (grid: also with an uneven split of the hidden units over tp,
 *                  shares ∝ tp rank + 1) after 6 SGD steps equals the single-process MLP every rank
 *                  also trains: max |Δw| ≤ 1e-4 · max |w| (float summation order differs), and
 *                  the TP input gradient likewise; DP replicas bitwise identical (checksums)
 *   topk           the k picked have the k largest |v| (min picked ≥ max unpicked); error
 *                  feedback: sent + residual == accumulated gradient, exactly, over two steps;
 *                  DGC's per-layer selection and warm-up density (25% at step 0) per piece
 *   quantisers     qsgd (s = 4) and int8 unbiased: over D = 4000 seeded draws the mean decode of
 *                  each element is within 5 standard errors (level/2/√D bound) of the value
 *   powersgd       at rank = rows ≤ cols, the exchanged gradient equals the mean over ranks of
 *                  the gradients (rel. error ≤ 1e-4)
 *   ps sync        the parameter server with staleness 0 (rank 0 serves, the others work) after
 *                  6 steps equals the single-process MLP (same tolerance; losses compared at eval)
 *   ps bounded     s = 2 with worker 1 sleeping 20 ms before each step: the clock gap the server
 *                  allowed is ≤ s, and with ≥ 2 workers ≥ 1 (the fast ones ran ahead; how far
 *                  depends on scheduling, so reaching exactly s is not asserted); s = 0 keeps
 *                  it 0; the loss falls
 *   timeout        the last rank joins an all-reduce 3 s late; the others, with a 1 s deadline,
 *                  fail with QT_ERR_STATE "timed out" within 2.5 s
 *   fusion_dp      the fusion model trained data-parallel (impl/dist/fusion_dp.c) over the world
 *                  against the single-process full-batch run of the same seed that every rank
 *                  also trains: 8 Adam steps over 3 epochs (reshuffles), fresh task data; every
 *                  step's loss, and the gradient applied (Adam hardly sees a gradient's scale,
 *                  so a wrong B_r/B weighting shows only there), then the parameters.
 *                  cpu (f32, gated fusion, batch 64): loss 1e-5 relative, gradient 1e-5 of its
 *                  largest entry, parameters 1e-4·(1 + |p|): the batch's sums split over ranks
 *                  round differently (seen, 3 seeds at 2 and 4 ranks: 3.5e-9, 1.1e-6, 9e-8).
 *                  ref (f64, hybrid: cross-modal attention + per-modality heads, batch 63, not a
 *                  multiple of the ranks: unequal shares): 1e-11, 1e-11, 1e-9 (seen 7e-16,
 *                  7e-15, 7e-14). Not the hybrid model in f32: its attention key bias has an
 *                  identically zero gradient (softmax is shift invariant), rounding noise of
 *                  ~1e-8 that Adam divides by √v ≈ the same noise, moving those entries by up to
 *                  lr a step in either run. Replicas bitwise equal (checksums) in both. A rank
 *                  with a seed of its own is refused at init (QT_ERR_STATE on every rank).
 * Every rank runs every test; a check is passed only if it held on all ranks (all-reduce MIN),
 * and rank 0 prints CUnit's summary. Inputs are Philox draws from rank 0's seed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quintet/dist.h"
#include "quintet/rng.h"
#include "test_util.h"

#ifndef QT_HAVE_MPI_BACKEND
int main(void)
{
    printf("test_dist: skipped: this build has no mpi backend (mpicc not found or NO_MPI=1)\n");
    return 0;
}
#else
#include "fusion_dp_compare.h" /* static: included only where the mpi tests are built */

static qt_backend_t *world;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 1 when ok held on every rank. */
static int all_ok(int ok)
{
    int v = ok;
    if (qt_dist_allreduce_raw(world, &v, &v, 1, QT_DIST_I32, QT_DIST_MIN) != QT_OK) return 0;
    return v;
}

static void test_collectives(void)
{
    size_t counts[] = {1, 1000, 65537};
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
        for (int c = 0; c < QT_COLL_COUNT; c++) {
            size_t count = counts[ci];
            int n = world->world;
            float *send = malloc(sizeof(float) * qt_dist_coll_send_count(c, count, n));
            float *recv = malloc(sizeof(float) * qt_dist_coll_recv_count(c, count, n));
            uint64_t seed = qt_test_seed() + ci;
            qt_dist_check_fill(c, world->rank, n, count, seed, send);
            if (c == QT_COLL_BROADCAST) memcpy(recv, send, sizeof(float) * count);
            qt_status_t s = qt_dist_collective(world, c, send, recv, count);
            long long wrong = s == QT_OK ? qt_dist_check_count(c, world->rank, n, count, seed, recv) : -1;
            if (!all_ok(wrong == 0))
                printf("rank %d: %s count %zu: %lld wrong (%s)\n", world->rank, qt_coll_name(c), count, wrong,
                       qt_last_error());
            CU_ASSERT(all_ok(wrong == 0));
            free(send);
            free(recv);
        }
    /* The tensor form, in place, and a shape error. */
    qt_tensor_t t, u;
    int64_t shp[1] = {5};
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&t, QT_F64, 1, shp), QT_OK);
    for (int i = 0; i < 5; i++) ((double *)t.data)[i] = world->rank + 1 + i;
    CU_ASSERT(all_ok(qt_dist_allreduce(world, &t, &t, QT_DIST_SUM) == QT_OK));
    double n = world->world;
    CU_ASSERT(all_ok(((double *)t.data)[2] == n * (n + 1) / 2 + 2 * n));
    shp[0] = 3;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&u, QT_F64, 1, shp), QT_OK);
    CU_ASSERT(all_ok(qt_dist_allgather(world, &t, &u) == QT_ERR_SHAPE));
    qt_tensor_free(&t);
    qt_tensor_free(&u);
    qt_backend_t *cpu = qt_backend_default();
    CU_ASSERT(qt_dist_barrier(cpu) == QT_ERR_UNSUPPORTED);
}

/* Train cfg for `steps` on (dp, tp) and on a world of one; compare full weights (and dx). */
static void check_parallel(qt_backend_t *dp, qt_backend_t *tp, qt_dist_mlp_config_t *cfg, int steps, const char *what)
{
    qt_dist_mlp_t *par = NULL, *one = NULL;
    qt_dist_mlp_config_t single = *cfg;
    single.ps = 0;
    single.tp_shares = NULL; /* one process holds every hidden unit */
    CU_ASSERT_EQUAL_FATAL(qt_dist_mlp_init(&par, dp, tp, cfg), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_dist_mlp_init(&one, NULL, NULL, &single), QT_OK);
    double lp = 0, l1 = 0;
    int ok = 1;
    for (int s = 0; s < steps && ok; s++) {
        ok &= qt_dist_mlp_step(par, s, &lp) == QT_OK;
        ok &= qt_dist_mlp_step(one, s, &l1) == QT_OK;
        ok &= cfg->ps || fabs(lp - l1) <= 1e-4 * fabs(l1); /* ps: a step's loss is local */
    }
    if (cfg->ps) { /* eval: every rank takes the server's weights; the global loss */
        ok &= qt_dist_mlp_eval(par, 0, &lp) == QT_OK && qt_dist_mlp_eval(one, 0, &l1) == QT_OK;
        ok &= fabs(lp - l1) <= 1e-4 * fabs(l1);
    }
    ok &= qt_dist_mlp_check_replicas(par) == QT_OK;
    int I = cfg->in, H = cfg->hidden, C = cfg->classes;
    size_t n = (size_t)H * I + H + (size_t)C * H + C;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    ok &= qt_dist_mlp_get_full(par, a, a + (size_t)H * I, a + (size_t)H * I + H, a + (size_t)H * I + H + (size_t)C * H) == QT_OK;
    ok &= qt_dist_mlp_get_full(one, b, b + (size_t)H * I, b + (size_t)H * I + H, b + (size_t)H * I + H + (size_t)C * H) == QT_OK;
    double dmax = 0, wmax = 0;
    for (size_t i = 0; i < n; i++) {
        dmax = fmax(dmax, fabs((double)a[i] - b[i]));
        wmax = fmax(wmax, fabs((double)b[i]));
    }
    ok &= dmax <= 1e-4 * wmax;
    if (cfg->want_dx) { /* this dp rank's rows of the single-process dx */
        int rp = 0, r1 = 0;
        const float *dxp = qt_dist_mlp_dx(par, &rp), *dx1 = qt_dist_mlp_dx(one, &r1);
        int row0 = 0;
        for (int r = 0; dp && r < dp->rank; r++) row0 += cfg->batch / dp->world + (r < cfg->batch % dp->world);
        double dd = 0, dm = 0;
        for (size_t i = 0; dxp && dx1 && i < (size_t)rp * I; i++) {
            dd = fmax(dd, fabs((double)dxp[i] - dx1[(size_t)row0 * I + i]));
            dm = fmax(dm, fabs((double)dx1[(size_t)row0 * I + i]));
        }
        ok &= dxp && dx1 && dd <= 1e-4 * dm;
    }
    if (!all_ok(ok))
        printf("rank %d: %s: loss %g vs %g, max |dw| %g of max |w| %g (%s)\n", world->rank, what, lp, l1, dmax, wmax,
               qt_last_error());
    CU_ASSERT(all_ok(ok));
    free(a);
    free(b);
    qt_dist_mlp_free(par);
    qt_dist_mlp_free(one);
}

static void mlp_config(qt_dist_mlp_config_t *cfg)
{
    qt_dist_mlp_config_default(cfg);
    cfg->in = 24;
    cfg->hidden = 32;
    cfg->classes = 5;
    cfg->batch = 30; /* not a multiple of 4: uneven DP shares */
    cfg->lr = 0.5f;
    cfg->bucket_bytes = 256; /* several buckets, started during the backward pass */
    cfg->seed = qt_test_seed();
}

static void test_dp(void)
{
    qt_dist_mlp_config_t cfg;
    mlp_config(&cfg);
    check_parallel(world, NULL, &cfg, 6, "dp");
}

static void test_tp(void)
{
    qt_dist_mlp_config_t cfg;
    mlp_config(&cfg);
    cfg.want_dx = 1;
    check_parallel(NULL, world, &cfg, 6, "tp");
}

static void test_grid(void)
{
    for (int tp = 1; tp <= world->world; tp++) {
        if (world->world % tp) continue;
        qt_backend_t *dpb = NULL, *tpb = NULL;
        CU_ASSERT_EQUAL_FATAL(qt_dist_grid_split(world, tp, &dpb, &tpb), QT_OK);
        CU_ASSERT(all_ok(dpb->world * tpb->world == world->world && tpb->rank == world->rank % tp));
        qt_dist_mlp_config_t cfg;
        mlp_config(&cfg);
        cfg.want_dx = 1;
        char what[32];
        snprintf(what, sizeof what, "grid dp %d x tp %d", dpb->world, tpb->world);
        check_parallel(dpb, tpb, &cfg, 6, what);
        if (tp > 1) { /* an uneven split of the layers: tp rank r holds a share ∝ r + 1 */
            double sh[64], sum = tp * (tp + 1) / 2.0;
            for (int r = 0; r < tp; r++) sh[r] = (r + 1) / sum;
            cfg.tp_shares = sh;
            snprintf(what, sizeof what, "grid dp %d x tp %d uneven", dpb->world, tpb->world);
            check_parallel(dpb, tpb, &cfg, 6, what);
            qt_dist_stats_t st;
            qt_dist_mlp_t *m = NULL;
            int ok = qt_dist_mlp_init(&m, dpb, tpb, &cfg) == QT_OK && qt_dist_mlp_stats(m, &st, 1) == QT_OK;
            CU_ASSERT(all_ok(ok && st.slowest_rank >= 0 && st.slowest_rank < world->world));
            qt_dist_mlp_free(m);
        }
        qt_backend_free(dpb);
        qt_backend_free(tpb);
    }
}

/* The fusion model data-parallel over the world against the 1-process full-batch run (header). */
static void fusion_dp_case(const char *backend, qt_fusion_strategy_t strat, int batch, double tol, double tol_p)
{
    qt_backend_params_t bp = {.threads = 1};
    qt_backend_t *be = NULL;
    if (qt_backend_init(&be, backend, &bp) != QT_OK) be = NULL;
    fusion_dp_diff_t d = fusion_dp_compare(world, be, strat, batch, qt_test_seed() + 5); /* rank 0's seed (main) */
    printf("  fusion dp %s (%s, %d ranks, batch %d, rows here %d): worst loss rel. difference %.3g, gradient %.3g of "
           "its largest (tolerance %g each), parameters %.3g (tolerance %g), replicas %s\n", backend,
           qt_fusion_strategy_name(strat), world->world, batch, d.rows, d.loss, d.grad, tol, d.params, tol_p,
           d.replicas ? "equal" : "DIFFER");
    CU_ASSERT(all_ok(d.ok));
    CU_ASSERT(all_ok(d.loss <= tol && d.grad <= tol));
    CU_ASSERT(all_ok(d.params <= tol_p));
    CU_ASSERT(all_ok(d.replicas));
    qt_backend_free(be);
}

static void test_fusion_dp(void)
{
    fusion_dp_case("cpu", QT_FUSION_GATED, 64, 1e-5, 1e-4);
    fusion_dp_case("ref", QT_FUSION_HYBRID, 63, 1e-11, 1e-9);
    /* a rank with a seed of its own is refused at init, on every rank (the check is collective) */
    qt_backend_params_t bp = {.threads = 1};
    qt_backend_t *be = NULL;
    qt_dist_fusion_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    qt_fusion_task_shape(&cfg.model);
    cfg.model.d = 8;
    cfg.model.d_ff = 8;
    cfg.batch = 16;
    cfg.lr = 1e-3;
    cfg.seed = 3;
    qt_fusion_data_t data;
    memset(&data, 0, sizeof data);
    int ok = qt_backend_init(&be, "cpu", &bp) == QT_OK && qt_fusion_task_make(QT_FUSION_TASK_MIXED, 0.3, 3, 0, 32, &data) == QT_OK;
    cfg.seed = 3 + (uint64_t)(world->rank == world->world - 1);
    qt_dist_fusion_t *f = NULL;
    qt_status_t st = ok ? qt_dist_fusion_init(&f, world, be, &cfg, &data) : QT_ERR_ARG;
    CU_ASSERT(all_ok(ok && st == QT_ERR_STATE && f == NULL && strstr(qt_last_error(), "differ") != NULL));
    qt_dist_fusion_free(f);
    qt_fusion_data_free(&data);
    qt_backend_free(be);
}

static void test_ps_sync(void)
{
    qt_dist_mlp_config_t cfg;
    mlp_config(&cfg);
    cfg.ps = 1;
    cfg.staleness = 0;
    check_parallel(world, NULL, &cfg, 6, "ps s=0");
}

/* Train 12 steps with worker 1 slow (it sleeps 20 ms before each step); the server's clock gap and the loss before / after. */
static void ps_run(int staleness, int64_t *gap, double *l0, double *l1)
{
    qt_dist_mlp_config_t cfg;
    mlp_config(&cfg);
    cfg.ps = 1;
    cfg.staleness = staleness;
    qt_dist_mlp_t *m = NULL;
    qt_dist_stats_t st = {0};
    int ok = qt_dist_mlp_init(&m, world, NULL, &cfg) == QT_OK;
    ok &= ok && qt_dist_mlp_eval(m, 0, l0) == QT_OK;
    for (int s = 0; ok && s < 12; s++) {
        if (world->rank == 1) usleep(20000); /* worker 1 is slow: 20 ms before each step */
        ok &= qt_dist_mlp_step(m, s, NULL) == QT_OK;
    }
    ok &= ok && qt_dist_mlp_eval(m, 0, l1) == QT_OK && qt_dist_mlp_check_replicas(m) == QT_OK;
    ok &= ok && qt_dist_mlp_stats(m, &st, 1) == QT_OK;
    if (!all_ok(ok)) printf("rank %d: ps s=%d failed: %s\n", world->rank, staleness, qt_last_error());
    CU_ASSERT(all_ok(ok));
    *gap = st.ps_max_gap;
    qt_dist_mlp_free(m);
}

static void test_ps_bounded(void)
{
    int64_t gap0 = -1, gap2 = -1;
    double a0, a1, b0, b1;
    ps_run(0, &gap0, &a0, &a1);
    ps_run(2, &gap2, &b0, &b1);
    int workers = world->world - 1;
    int ok = gap0 == 0 && gap2 <= 2 && (workers < 2 || gap2 >= 1) && a1 < a0 && b1 < b0;
    if (!all_ok(ok))
        printf("ps: gap %lld at s=0, %lld at s=2 (%d workers); loss %g -> %g, %g -> %g\n", (long long)gap0,
               (long long)gap2, workers, a0, a1, b0, b1);
    CU_ASSERT(all_ok(ok));
}

static void test_topk(void)
{
    size_t n = 1000, k = 37;
    float *v = malloc(n * sizeof *v);
    uint32_t *idx = malloc(k * sizeof *idx);
    qt_rng_fill_normal_f32(v, n, qt_test_seed(), 11, 0, 0.0f, 1.0f);
    v[3] = v[4] = 10.0f; /* a tie among the largest */
    CU_ASSERT_EQUAL_FATAL(qt_compress_topk_select(v, n, k, idx), QT_OK);
    char *picked = calloc(n, 1);
    float min_in = INFINITY, max_out = 0;
    int sorted = 1;
    for (size_t j = 0; j < k; j++) {
        picked[idx[j]] = 1;
        min_in = fminf(min_in, fabsf(v[idx[j]]));
        if (j) sorted &= idx[j] > idx[j - 1];
    }
    for (size_t i = 0; i < n; i++)
        if (!picked[i]) max_out = fmaxf(max_out, fabsf(v[i]));
    CU_ASSERT(sorted && min_in >= max_out && picked[3] && picked[4]);
    CU_ASSERT(qt_compress_topk_select(v, n, 0, idx) == QT_ERR_ARG);

    /* Error feedback on a world of one: sent + residual == accumulated, exactly. */
    qt_compress_config_t cc = {.kind = QT_COMPRESS_TOPK, .ratio = 0.05, .seed = 3};
    int rows[2] = {20, 1}, cols[2] = {40, 200};
    qt_compressor_t *c = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_compress_init(&c, &cc, 2, rows, cols), QT_OK);
    float *g = malloc(n * sizeof *g), *acc = calloc(n, sizeof *acc);
    int exact = 1;
    for (int step = 0; step < 2; step++) {
        qt_rng_fill_normal_f32(g, n, qt_test_seed(), 12 + step, 0, 0.0f, 1.0f);
        for (size_t i = 0; i < n; i++) acc[i] += g[i];
        CU_ASSERT_EQUAL_FATAL(qt_compress_exchange(c, NULL, g), QT_OK);
        const float *res = qt_compress_residual(c);
        size_t nz = 0;
        for (size_t i = 0; i < n; i++) {
            exact &= g[i] + res[i] == acc[i] && (g[i] == 0 || res[i] == 0);
            nz += g[i] != 0;
        }
        exact &= nz == 50;
        memcpy(acc, res, n * sizeof *acc);
    }
    double sent, logical;
    qt_compress_bytes(c, &sent, &logical);
    CU_ASSERT(exact && sent == 2 * 50 * 6 && logical == 2 * 4000.0); /* 2-byte indices: n ≤ 65536 */
    qt_compress_free(c);

    /* DGC: per-piece selection (⌈0.05·800⌉ = 40 and ⌈0.05·200⌉ = 10, the largest of each piece)
     * and warm-up over 8 steps (density 25% at step 0: 200 + 50 sent). */
    cc.layerwise = 1;
    cc.warmup_steps = 8;
    CU_ASSERT_EQUAL_FATAL(qt_compress_init(&c, &cc, 2, rows, cols), QT_OK);
    qt_rng_fill_normal_f32(g, n, qt_test_seed(), 14, 0, 0.0f, 1.0f);
    memcpy(acc, g, n * sizeof *acc);
    CU_ASSERT_EQUAL_FATAL(qt_compress_exchange(c, NULL, g), QT_OK);
    size_t nz0 = 0, nz1 = 0;
    float min_in0 = INFINITY, max_out0 = 0, min_in1 = INFINITY, max_out1 = 0;
    for (size_t i = 0; i < n; i++) {
        int in = g[i] != 0, first = i < 800;
        *(first ? &nz0 : &nz1) += (size_t)in;
        float a = fabsf(acc[i]);
        if (first) { if (in) min_in0 = fminf(min_in0, a); else max_out0 = fmaxf(max_out0, a); }
        else { if (in) min_in1 = fminf(min_in1, a); else max_out1 = fmaxf(max_out1, a); }
    }
    CU_ASSERT(nz0 == 200 && nz1 == 50 && min_in0 >= max_out0 && min_in1 >= max_out1);
    qt_compress_free(c);
    free(g);
    free(acc);
    free(picked);
    free(v);
    free(idx);
}

static void test_quantisers_unbiased(void)
{
    enum { N = 64, D = 4000 };
    float v[N];
    int8_t q[N];
    qt_rng_fill_normal_f32(v, N, qt_test_seed(), 21, 0, 0.0f, 1.0f);
    for (int levels = 0; levels <= 4; levels += 4) { /* 0: int8, 4: qsgd s = 4 */
        double mean[N] = {0};
        float scale = 0;
        for (int d = 0; d < D; d++) {
            CU_ASSERT_EQUAL_FATAL(qt_compress_quantize(v, N, levels, qt_test_seed(), 100 + (uint64_t)d, q, &scale), QT_OK);
            for (int i = 0; i < N; i++) mean[i] += (double)scale * q[i] / D;
        }
        double bound = 5.0 * scale * 0.5 / sqrt((double)D);
        int ok = 1;
        for (int i = 0; i < N; i++) ok &= fabs(mean[i] - v[i]) <= bound;
        CU_ASSERT(ok);
    }
}

static void test_powersgd_full_rank(void)
{
    int rows[3] = {6, 1, 4}, cols[3] = {10, 7, 4};
    size_t n = 60 + 7 + 16;
    qt_compress_config_t cc = {.kind = QT_COMPRESS_POWERSGD, .rank = 6, .seed = qt_test_seed()};
    qt_compressor_t *c = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_compress_init(&c, &cc, 3, rows, cols), QT_OK);
    float *g = malloc(n * sizeof *g), *want = malloc(n * sizeof *want);
    int ok = 1;
    for (int step = 0; step < 3; step++) {
        qt_rng_fill_normal_f32(g, n, qt_test_seed(), 31 + (uint64_t)step * 16 + (uint64_t)world->rank, 0, 0.0f, 1.0f);
        ok &= qt_dist_allreduce_raw(world, g, want, n, QT_DIST_F32, QT_DIST_SUM) == QT_OK;
        for (size_t i = 0; i < n; i++) want[i] /= (float)world->world;
        ok &= qt_compress_exchange(c, world, g) == QT_OK;
        double d = 0, m = 0;
        for (size_t i = 0; i < n; i++) {
            d = fmax(d, fabs((double)g[i] - want[i]));
            m = fmax(m, fabs((double)want[i]));
        }
        ok &= d <= 1e-4 * m;
    }
    CU_ASSERT(all_ok(ok));
    qt_compress_free(c);
    free(g);
    free(want);
}

static void test_timeout(void)
{
    double before = qt_dist_timeout();
    qt_dist_set_timeout(1.0);
    float x = 1;
    int late = world->rank == world->world - 1;
    if (late) sleep(3);
    double t0 = now_s();
    qt_status_t s = qt_dist_allreduce_raw(world, &x, &x, 1, QT_DIST_F32, QT_DIST_SUM);
    double dt = now_s() - t0;
    int ok = late || (s == QT_ERR_STATE && strstr(qt_last_error(), "timed out") && dt < 2.5);
    if (!ok) printf("rank %d: status %d after %.2f s: %s\n", world->rank, (int)s, dt, qt_last_error());
    qt_dist_set_timeout(30.0); /* the late rank's all-reduce completes the others' pending one */
    CU_ASSERT(all_ok(ok));
    qt_dist_set_timeout(before);
}

int main(void)
{
    if (qt_backend_init(&world, "mpi", NULL) != QT_OK) {
        printf("test_dist: cannot start the mpi backend: %s\n", qt_last_error());
        return 1;
    }
    /* One seed for all ranks: rank 0's (QT_TEST_SEED, else time and pid; < 2^52 so a double
     * carries it exactly), set before qt_test_seed() first reads the environment. */
    const char *e = getenv("QT_TEST_SEED");
    double seed = world->rank ? 0 : (double)((e ? strtoull(e, NULL, 0) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid()) &
                                             ((1ull << 52) - 1));
    if (qt_dist_allreduce_raw(world, &seed, &seed, 1, QT_DIST_F64, QT_DIST_SUM) != QT_OK) return 1;
    qt_dist_set_timeout(60.0);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
    setenv("QT_TEST_SEED", buf, 1);
    if (world->rank != 0 && !freopen("/dev/null", "w", stdout)) return 1;
    static const qt_test_t tests[] = {
        {"collectives", test_collectives}, {"dp", test_dp}, {"tp", test_tp}, {"grid", test_grid},
        {"topk", test_topk}, {"quantisers_unbiased", test_quantisers_unbiased},
        {"powersgd_full_rank", test_powersgd_full_rank}, {"ps_sync", test_ps_sync},
        {"ps_bounded", test_ps_bounded}, {"fusion_dp", test_fusion_dp}, {"timeout", test_timeout},
    };
    int rc = qt_test_run("dist", tests, (int)(sizeof tests / sizeof tests[0]));
    qt_backend_free(world);
    return rc;
}
#endif
