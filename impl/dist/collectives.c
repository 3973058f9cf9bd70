/* collectives.c — dist.h's collectives on any backend with dist ops: argument checks, the
 * deadline (start the non-blocking collective, poll it, fail with QT_ERR_STATE when a rank does
 * not arrive within qt_dist_timeout()), QT_CTR_BYTES_SENT, the nccl-tests size and busbw
 * factors, the seeded check data with its exact expected values, and the DP × TP grid split.
 * Tests: tests/dist/test_dist.c (make test runs it under mpirun with 2 and 4 ranks). */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_value.h"
#include "internal.h"
#include "quintet/counters.h"

static const char *const coll_names[QT_COLL_COUNT] = {"allreduce", "reduce_scatter", "allgather", "broadcast",
                                                      "alltoall"};

const char *qt_coll_name(qt_coll_t c) { return (c >= 0 && c < QT_COLL_COUNT) ? coll_names[c] : "?"; }

double qt_dist_busbw_factor(qt_coll_t c, int n)
{
    if (n <= 1) return c == QT_COLL_BROADCAST ? 1.0 : 0.0;
    switch (c) {
    case QT_COLL_ALLREDUCE: return 2.0 * (n - 1) / n;
    case QT_COLL_BROADCAST: return 1.0;
    default: return (double)(n - 1) / n;
    }
}

size_t qt_dist_coll_send_count(qt_coll_t c, size_t count, int n)
{
    return (c == QT_COLL_REDUCE_SCATTER || c == QT_COLL_ALLTOALL) ? count * (size_t)n : count;
}

size_t qt_dist_coll_recv_count(qt_coll_t c, size_t count, int n)
{
    return (c == QT_COLL_ALLGATHER || c == QT_COLL_ALLTOALL) ? count * (size_t)n : count;
}

double qt_dist_coll_bytes(qt_coll_t c, size_t count, int n)
{
    double b = (double)count * sizeof(float);
    return (c == QT_COLL_ALLREDUCE || c == QT_COLL_BROADCAST) ? b : b * n;
}

/* ---- the deadline ---- */
static double timeout_s = -1;

void qt_dist_set_timeout(double seconds)
{
    if (seconds > 0) timeout_s = seconds;
}

double qt_dist_timeout(void)
{
    if (timeout_s <= 0) {
        const char *e = getenv("QT_DIST_TIMEOUT_S");
        double v = e ? atof(e) : 0;
        timeout_s = v > 0 ? v : 120.0;
    }
    return timeout_s;
}

double qt_dist_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int qt_dist_supported(const qt_backend_t *be, char *why, size_t why_size)
{
    if (why && why_size) why[0] = '\0';
    if (be && qt_backend_ops(be, QT_TECH_DIST)) return 1;
    if (why && why_size)
        snprintf(why, why_size, "backend %s has no communicator (dist ops): use mpi or nccl", qt_backend_name(be));
    return 0;
}

const qt_dist_ops_t *qt_dist_ops_of(qt_backend_t *be)
{
    const qt_dist_ops_t *ops = be ? qt_backend_ops(be, QT_TECH_DIST) : NULL;
    if (!ops) {
        char why[160];
        qt_dist_supported(be, why, sizeof why);
        qt_fail(QT_ERR_UNSUPPORTED, "%s", why);
    }
    return ops;
}

/* Poll req until done or past the deadline; every 64 polls look at the clock and yield, or
 * sleep `nap_ns` when > 0 (a rank that may wait long, on a machine it shares, gives its core to
 * the ranks that compute). */
static qt_status_t wait_for(qt_backend_t *be, qt_dist_req_t *req, const char *what, long nap_ns)
{
    const qt_dist_ops_t *ops = qt_dist_ops_of(be);
    if (!ops) return QT_ERR_UNSUPPORTED;
    double t0 = qt_dist_now(), limit = qt_dist_timeout();
    unsigned spins = 0;
    for (;;) {
        int done = 0;
        QT_TRY(ops->test(be, req, &done));
        if (done) return QT_OK;
        /* The clock is cheap but not free: look at it every 64 polls; yield so an
         * oversubscribed peer on the same core can make progress. */
        if ((++spins & 63) == 0) {
            if (qt_dist_now() - t0 > limit)
                return qt_backend_fail(be, QT_ERR_STATE,
                                       "%s on rank %d of %d timed out after %.1f s: a rank died or hangs", what,
                                       be->rank, be->world, limit);
            if (nap_ns > 0) nanosleep(&(struct timespec){0, nap_ns}, NULL);
            else sched_yield();
        }
    }
}

qt_status_t qt_dist_wait(qt_backend_t *be, qt_dist_req_t *req, const char *what)
{
    return wait_for(be, req, what, 0);
}

qt_status_t qt_dist_wait_idle(qt_backend_t *be, qt_dist_req_t *req, const char *what)
{
    return wait_for(be, req, what, 20000);
}

/* Size in bytes of one element. */
static size_t dt_size(qt_dist_dtype_t dt) { return dt == QT_DIST_F64 ? 8 : dt == QT_DIST_U8 ? 1 : 4; }

qt_status_t qt_dist_allreduce_raw(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                                  qt_dist_redop_t op)
{
    const qt_dist_ops_t *ops = qt_dist_ops_of(be);
    if (!ops) return QT_ERR_UNSUPPORTED;
    qt_dist_req_t *req;
    QT_TRY(ops->iallreduce(be, send, recv, count, dt, op, &req));
    qt_counter_add(QT_CTR_BYTES_SENT, (long long)(count * dt_size(dt)));
    return qt_dist_wait(be, req, "all-reduce");
}

qt_status_t qt_dist_allgather_raw(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt)
{
    const qt_dist_ops_t *ops = qt_dist_ops_of(be);
    if (!ops) return QT_ERR_UNSUPPORTED;
    qt_dist_req_t *req;
    QT_TRY(ops->iallgather(be, send, recv, count, dt, &req));
    qt_counter_add(QT_CTR_BYTES_SENT, (long long)(count * dt_size(dt)));
    return qt_dist_wait(be, req, "all-gather");
}

uint64_t qt_dist_fnv(uint64_t h, const void *p, size_t bytes)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

qt_status_t qt_dist_same_hash(qt_backend_t *be, uint64_t mine, const char *what, long long steps)
{
    if (!be || be->world <= 1) return QT_OK;
    uint64_t *all = malloc(sizeof *all * (size_t)be->world);
    if (!all) return qt_fail(QT_ERR_NOMEM, "checksums");
    qt_status_t s = qt_dist_allgather_raw(be, &mine, all, sizeof mine, QT_DIST_U8);
    for (int r = 1; s == QT_OK && r < be->world; r++)
        if (all[r] != all[0])
            s = qt_fail(QT_ERR_STATE, "replicas differ after %lld steps: dp rank %d has %s checksum %016llx, rank 0 "
                        "%016llx", steps, r, what, (unsigned long long)all[r], (unsigned long long)all[0]);
    free(all);
    return s;
}

qt_status_t qt_dist_barrier(qt_backend_t *be)
{
    int x = 0;
    return qt_dist_allreduce_raw(be, &x, &x, 1, QT_DIST_I32, QT_DIST_SUM);
}

/* Start collective c on raw buffers (count per rank). */
static qt_status_t coll_start(qt_backend_t *be, const qt_dist_ops_t *ops, qt_coll_t c, const void *send, void *recv,
                              size_t count, qt_dist_dtype_t dt, qt_dist_redop_t op, int root, qt_dist_req_t **req)
{
    switch (c) {
    case QT_COLL_ALLREDUCE: return ops->iallreduce(be, send, recv, count, dt, op, req);
    case QT_COLL_REDUCE_SCATTER: return ops->ireduce_scatter(be, send, recv, count, dt, op, req);
    case QT_COLL_ALLGATHER: return ops->iallgather(be, send, recv, count, dt, req);
    case QT_COLL_BROADCAST: return ops->ibroadcast(be, recv, count, dt, root, req);
    case QT_COLL_ALLTOALL: return ops->ialltoall(be, send, recv, count, dt, req);
    default: return qt_fail(QT_ERR_ARG, "unknown collective %d", (int)c);
    }
}

/* Run collective c with the deadline; counts bytes sent. */
static qt_status_t coll_run(qt_backend_t *be, qt_coll_t c, const void *send, void *recv, size_t count,
                            qt_dist_dtype_t dt, qt_dist_redop_t op, int root)
{
    const qt_dist_ops_t *ops = qt_dist_ops_of(be);
    if (!ops) return QT_ERR_UNSUPPORTED;
    QT_CHECK_ARG(root >= 0 && root < be->world, "root %d outside 0..%d", root, be->world - 1);
    qt_dist_req_t *req;
    QT_TRY(coll_start(be, ops, c, send, recv, count, dt, op, root, &req));
    size_t sent = c == QT_COLL_BROADCAST ? (be->rank == root ? count : 0) : qt_dist_coll_send_count(c, count, be->world);
    qt_counter_add(QT_CTR_BYTES_SENT, (long long)(sent * dt_size(dt)));
    return qt_dist_wait(be, req, qt_coll_name(c));
}

qt_status_t qt_dist_collective(qt_backend_t *be, qt_coll_t c, const float *send, float *recv, size_t count)
{
    QT_CHECK_ARG(recv && (send || c == QT_COLL_BROADCAST), "collective %s: NULL buffer", qt_coll_name(c));
    return coll_run(be, c, send, recv, count, QT_DIST_F32, QT_DIST_SUM, 0);
}

/* dtype of a tensor operand, checked. */
static qt_status_t tensor_dt(const qt_backend_t *be, const qt_tensor_t *t, const char *what, qt_dist_dtype_t *dt)
{
    QT_CHECK_ARG(t && t->data, "%s must not be NULL", what);
    QT_CHECK_ARG(qt_tensor_on_host(t) || qt_tensor_device(t) == be->device, "%s must live on the host or on %s (it is on %s)",
                 what, qt_device_name(be->device), qt_device_name(qt_tensor_device(t)));
    QT_CHECK_ARG(qt_tensor_is_contiguous(t), "%s must be contiguous", what);
    switch (t->dtype) {
    case QT_F32: *dt = QT_DIST_F32; return QT_OK;
    case QT_F64: *dt = QT_DIST_F64; return QT_OK;
    case QT_I32: *dt = QT_DIST_I32; return QT_OK;
    default: return qt_fail(QT_ERR_ARG, "%s: dtype %s not supported (f32, f64, i32)", what, qt_dtype_name(t->dtype));
    }
}

/* Check a tensor pair of collective c and run it. */
static qt_status_t coll_tensors(qt_backend_t *be, qt_coll_t c, const qt_tensor_t *send, qt_tensor_t *recv,
                                qt_dist_redop_t op)
{
    qt_dist_dtype_t ds = QT_DIST_F32, dr = QT_DIST_F32;
    if (!qt_dist_ops_of(be)) return QT_ERR_UNSUPPORTED;
    QT_TRY(tensor_dt(be, send, "send", &ds));
    QT_TRY(tensor_dt(be, recv, "recv", &dr));
    QT_CHECK_ARG(ds == dr, "send and recv dtypes differ");
    size_t ns = (size_t)qt_tensor_numel(send), nr = (size_t)qt_tensor_numel(recv), n = (size_t)be->world;
    size_t count = (c == QT_COLL_REDUCE_SCATTER || c == QT_COLL_ALLTOALL) ? ns / n : ns;
    if (qt_dist_coll_send_count(c, count, be->world) != ns || qt_dist_coll_recv_count(c, count, be->world) != nr)
        return qt_fail(QT_ERR_SHAPE, "%s over %d ranks: send has %zu and recv %zu elements (see dist.h)",
                       qt_coll_name(c), be->world, ns, nr);
    QT_CHECK_ARG(send->data != recv->data || c == QT_COLL_ALLREDUCE, "%s cannot run in place", qt_coll_name(c));
    return coll_run(be, c, send->data, recv->data, count, ds, op, 0);
}

qt_status_t qt_dist_allreduce(qt_backend_t *be, const qt_tensor_t *send, qt_tensor_t *recv, qt_dist_redop_t op)
{
    return coll_tensors(be, QT_COLL_ALLREDUCE, send, recv, op);
}

qt_status_t qt_dist_reduce_scatter(qt_backend_t *be, const qt_tensor_t *send, qt_tensor_t *recv, qt_dist_redop_t op)
{
    return coll_tensors(be, QT_COLL_REDUCE_SCATTER, send, recv, op);
}

qt_status_t qt_dist_allgather(qt_backend_t *be, const qt_tensor_t *send, qt_tensor_t *recv)
{
    return coll_tensors(be, QT_COLL_ALLGATHER, send, recv, QT_DIST_SUM);
}

qt_status_t qt_dist_alltoall(qt_backend_t *be, const qt_tensor_t *send, qt_tensor_t *recv)
{
    return coll_tensors(be, QT_COLL_ALLTOALL, send, recv, QT_DIST_SUM);
}

qt_status_t qt_dist_broadcast(qt_backend_t *be, qt_tensor_t *buf, int root)
{
    qt_dist_dtype_t dt = QT_DIST_F32;
    if (!qt_dist_ops_of(be)) return QT_ERR_UNSUPPORTED;
    QT_TRY(tensor_dt(be, buf, "buf", &dt));
    return coll_run(be, QT_COLL_BROADCAST, NULL, buf->data, (size_t)qt_tensor_numel(buf), dt, QT_DIST_SUM, root);
}

/* ---- check data (check_value.h) ---- */

void qt_dist_check_fill(qt_coll_t c, int rank, int n, size_t count, uint64_t seed, float *send)
{
    size_t m = c == QT_COLL_BROADCAST ? count : qt_dist_coll_send_count(c, count, n);
    for (size_t i = 0; i < m; i++) send[i] = qt_dist_check_value(rank, i, seed);
}

long long qt_dist_check_count(qt_coll_t c, int rank, int n, size_t count, uint64_t seed, const float *recv)
{
    if (c < 0 || c >= QT_COLL_COUNT) return -1;
    long long wrong = 0;
    size_t m = qt_dist_coll_recv_count(c, count, n);
    for (size_t j = 0; j < m; j++) wrong += recv[j] != qt_dist_check_expected(c, rank, n, count, seed, j);
    return wrong;
}

qt_status_t qt_dist_check_fill_on(qt_backend_t *be, qt_coll_t c, size_t count, uint64_t seed, float *buf)
{
    const qt_dist_ops_t *ops = qt_dist_ops_of(be);
    if (!ops) return QT_ERR_UNSUPPORTED;
    QT_CHECK_ARG(buf && c >= 0 && c < QT_COLL_COUNT, "check_fill: NULL buffer or unknown collective");
    if (qt_device_is_host(be->device)) {
        qt_dist_check_fill(c, be->rank, be->world, count, seed, buf);
        return QT_OK;
    }
    if (!ops->check_fill) return qt_fail(QT_ERR_UNSUPPORTED, "backend %s cannot make check data on its device", qt_backend_name(be));
    return ops->check_fill(be, c, count, seed, buf);
}

qt_status_t qt_dist_check_count_on(qt_backend_t *be, qt_coll_t c, size_t count, uint64_t seed, const float *recv,
                                   long long *wrong)
{
    const qt_dist_ops_t *ops = qt_dist_ops_of(be);
    if (!ops) return QT_ERR_UNSUPPORTED;
    QT_CHECK_ARG(recv && wrong && c >= 0 && c < QT_COLL_COUNT, "check_count: NULL argument or unknown collective");
    if (qt_device_is_host(be->device)) {
        *wrong = qt_dist_check_count(c, be->rank, be->world, count, seed, recv);
        return QT_OK;
    }
    if (!ops->check_count) return qt_fail(QT_ERR_UNSUPPORTED, "backend %s cannot check data on its device", qt_backend_name(be));
    return ops->check_count(be, c, count, seed, recv, wrong);
}

/* ---- the grid ---- */
qt_status_t qt_dist_grid_split(qt_backend_t *be, int tp, qt_backend_t **dp_be, qt_backend_t **tp_be)
{
    QT_CHECK_ARG(dp_be && tp_be, "grid outputs must not be NULL");
    *dp_be = *tp_be = NULL;
    const qt_dist_ops_t *ops = qt_dist_ops_of(be);
    if (!ops) return QT_ERR_UNSUPPORTED;
    QT_CHECK_ARG(tp >= 1 && be->world % tp == 0, "tp %d must divide the world size %d", tp, be->world);
    int dp_index = be->rank / tp, tp_index = be->rank % tp;
    QT_TRY(ops->split(be, tp_index, dp_index, dp_be));
    qt_status_t s = ops->split(be, dp_index, tp_index, tp_be);
    if (s != QT_OK) {
        qt_backend_free(*dp_be);
        *dp_be = NULL;
    }
    return s;
}
