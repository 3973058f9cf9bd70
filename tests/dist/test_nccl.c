/* test_nccl.c — the nccl backend (impl/backends/nccl) under mpirun, one process per GPU: `make
 * test` runs it with 2 and 4 ranks (tests/run.sh); it skips, saying why, when this build has no
 * nccl backend, when no GPU is usable, or when there are more ranks than GPUs.
 *   collectives   every collective on GPU buffers with the seeded check data made and counted on
 *                 the GPU (check.cu): 0 wrong values, and the GPU count equals the host count
 *                 of the same buffer copied back (qt_dist_check_count, the reference)
 *   host buffers  an all-reduce of host scalars on the same instance travels over MPI: exact
 *   split         a split into singletons: an all-reduce on one rank is a copy
 *   mixed         send on the GPU and receive on the host: QT_ERR_ARG, nothing aborts
 *   gpu_topk      impl/dist/cuda/topk.cu against the host compressor (compress.c) on fresh random
 *                 gradients (different on every rank): the select equals qt_compress_topk_select
 *                 (also with ties); over 6 steps the exchanged gradient, the residual and the
 *                 bytes equal the host's — tolerance 0 (the same float operations in the same
 *                 order, the all-gather moves bytes) for plain error feedback, 1e-6 relative for
 *                 momentum 0.9 + per-layer selection + warm-up (relative to the largest magnitude:
 *                 room for a multiply-add rounded differently)
 *   gpu_dp_mlp    the MLP trained data-parallel on the GPUs (impl/dist/cuda/mlp.cu, through the
 *                 nccl dp instance) against the CPU DP path (mlp.c over an mpi instance of the same
 *                 world, same seed): loss of each of 20 steps within 1e-4 relative and the final
 *                 weights within 5e-4 absolute (init scale 0.125): cuBLAS and OpenBLAS sum in
 *                 different orders (~1e-6 a step), and a pre-activation that rounds to the other
 *                 side of 0 flips one ReLU, moving that row's W1 entries by ~lr·|dz·W2|·|x| ≈
 *                 1e-4 (H200, 1 rank: loss 3.9e-9, weights 2.2e-8 with the host's rounding of
 *                 the update; 1.08e-4 when the update was a fused multiply-add); replicas equal;
 *                 with top-k 1% (error feedback) loss within 1e-3 and weights 1e-3 (a selection
 *                 can flip on a near-tie after rounding differences)
 *   gpu_fusion_dp the fusion model trained data-parallel on the GPUs (impl/dist/fusion_dp.c: a cuda
 *                 instance on this rank's GPU computes, the nccl world all-reduces on its own
 *                 stream, ordered by events) against the 1-GPU full-batch run on the same cuda
 *                 instance (fusion_dp_compare.h), gated fusion, batch 64: loss and gradient 1e-5
 *                 relative, parameters 1e-4·(1 + |p|) (test_dist's cpu tolerances: the same f32
 *                 arithmetic split over ranks); replicas equal. The seed is rank 0's on every rank
 *                 (this file's seed is per process: with it each rank trained its own model, and
 *                 the replicas differed — fusion_dp.c's init now refuses that)
 * A check passes only if it held on every rank (MIN over ranks); rank 0 prints CUnit's summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "dist/cuda/gpu.h"
#include "quintet/dist.h"
#include "quintet/rng.h"
#include "run/cuda_probe.h"
#include "test_util.h"

#ifndef QT_HAVE_NCCL_BACKEND
int main(void)
{
    printf("test_nccl: skipped: this build has no nccl backend (needs CUDA, NCCL and mpicc)\n");
    return 0;
}
#else
#include "fusion_dp_compare.h" /* its static check is used only where the GPU tests are built */

static qt_backend_t *world;

/* 1 when ok held on every rank (host scalars: the instance's MPI path). */
static int all_ok(int ok)
{
    int v = ok;
    if (qt_dist_allreduce_raw(world, &v, &v, 1, QT_DIST_I32, QT_DIST_MIN) != QT_OK) return 0;
    return v;
}

static void test_collectives(void)
{
    size_t counts[] = {1, 1000, 65537, 1 << 22};
    int n = world->world;
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
        for (int c = 0; c < QT_COLL_COUNT; c++) {
            size_t count = counts[ci];
            size_t sb = sizeof(float) * qt_dist_coll_send_count(c, count, n);
            size_t rb = sizeof(float) * qt_dist_coll_recv_count(c, count, n);
            void *send = NULL, *recv = NULL;
            float *host = malloc(rb);
            uint64_t seed = 77 + ci;
            int ok = host != NULL;
            ok &= qt_backend_alloc(world, sb, &send) == QT_OK && qt_backend_alloc(world, rb, &recv) == QT_OK;
            ok &= ok && qt_dist_check_fill_on(world, c, count, seed, send) == QT_OK;
            if (ok && c == QT_COLL_BROADCAST) ok &= qt_dist_check_fill_on(world, c, count, seed, recv) == QT_OK;
            ok &= ok && qt_dist_collective(world, c, send, recv, count) == QT_OK;
            long long wrong = -1;
            ok &= ok && qt_dist_check_count_on(world, c, count, seed, recv, &wrong) == QT_OK;
            ok &= ok && qt_backend_copy(world, host, qt_device_host(), recv, world->device, rb) == QT_OK &&
                  qt_backend_synchronize(world) == QT_OK;
            long long want = ok ? qt_dist_check_count(c, world->rank, n, count, seed, host) : -2;
            if (!all_ok(ok && wrong == 0 && want == 0))
                printf("rank %d: %s count %zu: %lld wrong on the GPU, %lld on the host (%s)\n", world->rank,
                       qt_coll_name(c), count, wrong, want, qt_last_error());
            CU_ASSERT(all_ok(ok && wrong == 0 && want == 0));
            if (send) qt_backend_dealloc(world, send, sb);
            if (recv) qt_backend_dealloc(world, recv, rb);
            free(host);
        }
}

static void test_host_buffers_and_split(void)
{
    double x = world->rank + 1.0;
    CU_ASSERT(all_ok(qt_dist_allreduce_raw(world, &x, &x, 1, QT_DIST_F64, QT_DIST_SUM) == QT_OK));
    if (!all_ok(x == world->world * (world->world + 1) / 2.0)) {
        int t = qt_dist_cuda_pointer_type(&x);
        printf("rank %d of %d: host all-reduce gave %g, want %g; cudaPointerGetAttributes(stack).type %d (%s)\n",
               world->rank, world->world, x, world->world * (world->world + 1) / 2.0, t, qt_last_error());
    }
    CU_ASSERT(all_ok(x == world->world * (world->world + 1) / 2.0));
    /* the same through the blocking call (MPI_Allreduce, no request) */
    double y = world->rank + 1.0;
    const qt_dist_ops_t *dops = qt_backend_ops(world, QT_TECH_DIST);
    CU_ASSERT(all_ok(dops->allreduce_blocking(world, &y, &y, 1, QT_DIST_F64, QT_DIST_SUM) == QT_OK));
    if (!all_ok(y == world->world * (world->world + 1) / 2.0))
        printf("rank %d of %d: blocking host all-reduce gave %g\n", world->rank, world->world, y);
    CU_ASSERT(all_ok(y == world->world * (world->world + 1) / 2.0));
    const qt_dist_ops_t *ops = qt_backend_ops(world, QT_TECH_DIST);
    qt_backend_t *one = NULL;
    int ok = ops->split(world, world->rank, 0, &one) == QT_OK && one->world == 1;
    void *d = NULL;
    float v = 3.0f, back = 0;
    ok &= ok && qt_backend_alloc(one, sizeof v, &d) == QT_OK;
    ok &= ok && qt_backend_copy(one, d, one->device, &v, qt_device_host(), sizeof v) == QT_OK;
    ok &= ok && qt_dist_allreduce_raw(one, d, d, 1, QT_DIST_F32, QT_DIST_SUM) == QT_OK;
    ok &= ok && qt_backend_copy(one, &back, qt_device_host(), d, one->device, sizeof v) == QT_OK &&
          qt_backend_synchronize(one) == QT_OK && back == 3.0f;
    if (d) qt_backend_dealloc(one, d, sizeof v);
    qt_backend_free(one);
    CU_ASSERT(all_ok(ok));
}

static void test_mixed_buffers(void)
{
    void *d = NULL;
    float h[4] = {0};
    int ok = qt_backend_alloc(world, sizeof h, &d) == QT_OK;
    qt_dist_req_t *req = NULL;
    const qt_dist_ops_t *ops = qt_backend_ops(world, QT_TECH_DIST);
    ok &= ok && ops->iallreduce(world, d, h, 4, QT_DIST_F32, QT_DIST_SUM, &req) == QT_ERR_ARG;
    if (d) qt_backend_dealloc(world, d, sizeof h);
    CU_ASSERT(all_ok(ok));
}

/* Random gradients on every rank (different seeds), some values repeated to make ties. */
static void random_grad(float *g, size_t n, uint64_t seed, int ties)
{
    qt_rng_fill_normal_f32(g, n, seed, 31 + (uint64_t)world->rank, 0, 0.0f, 1.0f);
    if (ties)
        for (size_t i = 0; i < n; i++) g[i] = roundf(g[i] * 4.0f) / 4.0f; /* a few distinct magnitudes */
}

static void test_gpu_topk(void)
{
    /* the select against the host's, with and without ties */
    size_t ns[] = {1000, 70001}, ks[] = {1, 10, 999};
    for (int ties = 0; ties < 2; ties++)
        for (size_t a = 0; a < 2; a++)
            for (size_t b = 0; b < 3; b++) {
                size_t n = ns[a], k = ks[b] < n ? ks[b] : n;
                float *v = malloc(n * sizeof *v);
                uint32_t *want = malloc(k * sizeof *want), *got = malloc(k * sizeof *got);
                void *d = NULL;
                int ok = v && want && got;
                if (ok) random_grad(v, n, 500 + a * 7 + b, ties);
                ok &= ok && qt_compress_topk_select(v, n, k, want) == QT_OK;
                ok &= ok && qt_backend_alloc(world, n * sizeof *v, &d) == QT_OK;
                ok &= ok && qt_backend_copy(world, d, world->device, v, qt_device_host(), n * sizeof *v) == QT_OK;
                ok &= ok && qt_backend_synchronize(world) == QT_OK;
                ok &= ok && qt_dist_gtopk_select(world, d, n, k, got) == QT_OK;
                ok &= ok && !memcmp(want, got, k * sizeof *got);
                if (!ok) printf("rank %d: select n %zu k %zu ties %d differs (%s)\n", world->rank, n, k, ties, qt_last_error());
                CU_ASSERT(all_ok(ok));
                qt_backend_dealloc(world, d, 0);
                free(v);
                free(want);
                free(got);
            }
    /* the exchange: pieces like the MLP's (W2 b2 W1 b1), plain EF, momentum + layerwise + warm-up */
    int rows[4] = {10, 1, 256, 1}, cols[4] = {256, 10, 64, 256};
    size_t n = 10 * 256 + 10 + 256 * 64 + 256;
    for (int variant = 0; variant < 2; variant++) {
        qt_compress_config_t cfg = {0};
        cfg.kind = QT_COMPRESS_TOPK;
        cfg.ratio = 0.01;
        cfg.seed = 9;
        if (variant) {
            cfg.momentum = 0.9;
            cfg.layerwise = 1;
            cfg.warmup_steps = 4;
        }
        qt_compressor_t *hc = NULL;
        qt_dist_gtopk_t *gc = NULL;
        float *g = malloc(n * sizeof *g), *hg = malloc(n * sizeof *hg), *res = malloc(n * sizeof *res);
        void *d = NULL;
        int ok = g && hg && res && qt_compress_init(&hc, &cfg, 4, rows, cols) == QT_OK &&
                 qt_dist_gtopk_init(&gc, world, &cfg, 4, rows, cols) == QT_OK &&
                 qt_backend_alloc(world, n * sizeof *g, &d) == QT_OK;
        /* differences relative to the largest magnitude (an element of the residual can be a
         * near-cancellation, where an element-wise ratio says nothing) */
        double tol = variant ? 1e-6 : 0.0, worst = 0;
        for (int step = 0; ok && step < 6; step++) {
            random_grad(g, n, 900 + (uint64_t)step, 0);
            memcpy(hg, g, n * sizeof *g);
            ok &= qt_compress_exchange(hc, world, hg) == QT_OK; /* host buffers: over MPI */
            ok &= ok && qt_backend_copy(world, d, world->device, g, qt_device_host(), n * sizeof *g) == QT_OK;
            ok &= ok && qt_dist_gtopk_exchange(gc, world, d) == QT_OK; /* GPU buffers: over NCCL */
            ok &= ok && qt_backend_copy(world, g, qt_device_host(), d, world->device, n * sizeof *g) == QT_OK &&
                  qt_backend_synchronize(world) == QT_OK;
            ok &= ok && qt_dist_gtopk_residual(gc, world, res) == QT_OK;
            const float *hres = qt_compress_residual(hc);
            double mg = 0, mr = 0, dg = 0, dr = 0;
            for (size_t i = 0; ok && i < n; i++) {
                mg = fmax(mg, fabs((double)hg[i]));
                mr = fmax(mr, fabs((double)hres[i]));
                dg = fmax(dg, fabs((double)g[i] - hg[i]));
                dr = fmax(dr, fabs((double)res[i] - hres[i]));
            }
            worst = fmax(worst, fmax(mg > 0 ? dg / mg : dg, mr > 0 ? dr / mr : dr));
        }
        double hs = 0, hl = 0, gs = 0, gl = 0;
        qt_compress_bytes(hc, &hs, &hl);
        qt_dist_gtopk_bytes(gc, &gs, &gl);
        ok &= hs == gs && hl == gl && worst <= tol;
        if (!ok) printf("rank %d: gpu top-k variant %d: worst relative difference %g (tolerance %g), bytes %g/%g vs %g/%g (%s)\n",
                        world->rank, variant, worst, tol, gs, gl, hs, hl, qt_last_error());
        CU_ASSERT(all_ok(ok));
        qt_backend_dealloc(world, d, 0);
        qt_dist_gtopk_free(gc);
        qt_compress_free(hc);
        free(g);
        free(hg);
        free(res);
    }
}

/* Train the same MLP on the CPU (dp over MPI) and on the GPUs (dp over NCCL). */
static void train_pair(qt_compress_kind_t kind, double loss_tol, double w_tol)
{
    qt_backend_t *mpi = NULL;
    qt_dist_mlp_config_t cfg;
    qt_dist_mlp_config_default(&cfg);
    cfg.in = 64;
    cfg.hidden = 256;
    cfg.classes = 10;
    cfg.batch = 256;
    cfg.lr = 0.2f;
    cfg.bucket_bytes = 16 << 10; /* several buckets, some in layer 2, most in layer 1 */
    cfg.seed = 11;
    cfg.compress.kind = kind;
    cfg.compress.ratio = 0.01;
    cfg.compress.seed = 11;
    qt_dist_mlp_t *cpu = NULL, *gpu = NULL;
    int ok = qt_backend_init(&mpi, "mpi", NULL) == QT_OK && qt_dist_mlp_init(&cpu, mpi, NULL, &cfg) == QT_OK &&
             qt_dist_mlp_init(&gpu, world, NULL, &cfg) == QT_OK;
    if (!ok) printf("rank %d: init: %s\n", world->rank, qt_last_error());
    double worst = 0;
    for (int step = 0; ok && step < 20; step++) {
        double lc = 0, lg = 0;
        ok &= qt_dist_mlp_step(cpu, step, &lc) == QT_OK && qt_dist_mlp_step(gpu, step, &lg) == QT_OK;
        double e = fabs(lg - lc) / lc;
        if (e > worst) worst = e;
        if (!ok || e > loss_tol)
            printf("rank %d: %s step %d: loss cpu %.9f gpu %.9f (rel %g, tolerance %g) %s\n", world->rank,
                   qt_compress_name(kind), step, lc, lg, e, loss_tol, ok ? "" : qt_last_error());
    }
    ok &= worst <= loss_tol;
    ok &= ok && qt_dist_mlp_check_replicas(gpu) == QT_OK;
    size_t I = 64, H = 256, C = 10;
    float *w[8];
    size_t sz[4] = {H * I, H, C * H, C};
    for (int i = 0; i < 8; i++) w[i] = malloc(sz[i % 4] * sizeof(float));
    ok &= ok && w[0] && w[1] && w[2] && w[3] && w[4] && w[5] && w[6] && w[7] &&
          qt_dist_mlp_get_full(cpu, w[0], w[1], w[2], w[3]) == QT_OK &&
          qt_dist_mlp_get_full(gpu, w[4], w[5], w[6], w[7]) == QT_OK;
    double wd = 0;
    for (int t = 0; ok && t < 4; t++)
        for (size_t i = 0; i < sz[t]; i++) wd = fmax(wd, fabs((double)w[t][i] - w[4 + t][i]));
    ok &= wd <= w_tol;
    qt_dist_stats_t st = {0};
    ok &= ok && qt_dist_mlp_stats(gpu, &st, 1) == QT_OK && st.compute_s > 0;
    if (!ok || world->rank == 0)
        printf("  gpu dp mlp (%s, %d ranks): worst loss rel. difference %.3g (tolerance %g), weights max abs %.3g "
               "(tolerance %g), gpu compute %.3g s, exposed comm %.3g s %s\n", qt_compress_name(kind), world->world,
               worst, loss_tol, wd, w_tol, st.compute_s, st.comm_wait_s, ok ? "" : qt_last_error());
    CU_ASSERT(all_ok(ok));
    for (int i = 0; i < 8; i++) free(w[i]);
    qt_dist_mlp_free(gpu);
    qt_dist_mlp_free(cpu);
    qt_backend_free(mpi);
}

static void test_gpu_dp_mlp(void)
{
    train_pair(QT_COMPRESS_NONE, 1e-4, 5e-4);
    train_pair(QT_COMPRESS_TOPK, 1e-3, 1e-3);
}

static void test_gpu_fusion_dp(void)
{
    qt_backend_params_t bp = {.device = qt_device_index(world->device)};
    qt_backend_t *be = NULL;
    if (qt_backend_init(&be, "cuda", &bp) != QT_OK) {
        printf("  gpu fusion dp: cannot start the cuda backend: %s\n", qt_last_error());
        be = NULL;
    }
    /* rank 0's seed on every rank (each rank's own would give each its own data and model) */
    double seed = world->rank ? 0 : (double)(qt_test_seed() & ((1ull << 52) - 1));
    if (qt_dist_allreduce_raw(world, &seed, &seed, 1, QT_DIST_F64, QT_DIST_SUM) != QT_OK) seed = 5;
    fusion_dp_diff_t d = fusion_dp_compare(world, be, QT_FUSION_GATED, 64, (uint64_t)seed);
    printf("  gpu fusion dp (gated, %d ranks, rows here %d): worst loss rel. difference %.3g, gradient %.3g of its "
           "largest (tolerance 1e-05 each), parameters %.3g (tolerance 0.0001), replicas %s\n", world->world, d.rows,
           d.loss, d.grad, d.params, d.replicas ? "equal" : "DIFFER");
    CU_ASSERT(all_ok(d.ok));
    CU_ASSERT(all_ok(d.loss <= 1e-5 && d.grad <= 1e-5));
    CU_ASSERT(all_ok(d.params <= 1e-4));
    CU_ASSERT(all_ok(d.replicas));
    qt_backend_free(be);
}

int main(void)
{
    char why[256];
    const qt_backend_iface_t *f = qt_backend_iface_find("nccl");
    if (!qt_backend_iface_available(f, why, sizeof why)) {
        printf("test_nccl: skipped: no usable GPU: %s\n", why);
        return 0;
    }
    /* More ranks than GPUs: NCCL needs one GPU per rank. Decided alike on every rank (the mpi
     * world says how many ranks there are). */
    qt_backend_t *mpi = NULL;
    if (qt_backend_init(&mpi, "mpi", NULL) != QT_OK) {
        printf("test_nccl: cannot start MPI: %s\n", qt_last_error());
        return 1;
    }
    int gpus = qt_cuda_device_count(why, sizeof why);
    if (mpi->world > gpus) {
        if (mpi->rank == 0) printf("test_nccl: skipped: %d ranks but %d GPUs (one process per GPU)\n", mpi->world, gpus);
        qt_backend_free(mpi);
        return 0;
    }
    qt_backend_free(mpi);
    if (qt_backend_init(&world, "nccl", NULL) != QT_OK) {
        printf("test_nccl: cannot start the nccl backend: %s\n", qt_last_error());
        return 1;
    }
    qt_dist_set_timeout(60.0);
    if (world->rank != 0 && !freopen("/dev/null", "w", stdout)) return 1;
    static const qt_test_t tests[] = {
        {"collectives", test_collectives},
        {"host_buffers_and_split", test_host_buffers_and_split},
        {"mixed_buffers", test_mixed_buffers},
        {"gpu_topk", test_gpu_topk},
        {"gpu_dp_mlp", test_gpu_dp_mlp},
        {"gpu_fusion_dp", test_gpu_fusion_dp},
    };
    int rc = qt_test_run("nccl", tests, (int)(sizeof tests / sizeof tests[0]));
    qt_backend_free(world);
    return rc;
}
#endif
