/* test_nccl.c — the nccl backend (impl/backends/nccl) under mpirun, one process per GPU: `make
 * test` runs it with 2 and 4 ranks (tests/run.sh); it skips, saying why, when this build has no
 * nccl backend, when no GPU is usable, or when there are more ranks than GPUs.
 *   collectives   every collective on GPU buffers with the seeded check data made and counted on
 *                 the GPU (check.cu): 0 wrong values, and the GPU count equals the host count
 *                 of the same buffer copied back (qt_dist_check_count, the reference)
 *   host buffers  an all-reduce of host scalars on the same instance travels over MPI: exact
 *   split         a split into singletons: an all-reduce on one rank is a copy
 *   mixed         send on the GPU and receive on the host: QT_ERR_ARG, nothing aborts
 * A check passes only if it held on every rank (MIN over ranks); rank 0 prints CUnit's summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/dist.h"
#include "run/cuda_probe.h"
#include "test_util.h"

#ifndef QT_HAVE_NCCL_BACKEND
int main(void)
{
    printf("test_nccl: skipped: this build has no nccl backend (needs CUDA, NCCL and mpicc)\n");
    return 0;
}
#else

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
    CU_ASSERT(all_ok(x == world->world * (world->world + 1) / 2.0));
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
    };
    int rc = qt_test_run("nccl", tests, (int)(sizeof tests / sizeof tests[0]));
    qt_backend_free(world);
    return rc;
}
#endif
