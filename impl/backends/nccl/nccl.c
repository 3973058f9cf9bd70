/* nccl.c — the `nccl` backend of the registry (backend.h): one process per GPU, started by
 * mpirun (or srun); an instance = the cuda backend's context on this process's GPU (a stream, a
 * cuBLAS handle, events: cuda_ctx.h) + an NCCL communicator + the MPI communicator that
 * bootstrapped it, and dist.h's ops table on GPU buffers. Built when NCCL, CUDA and MPI are all
 * found (QT_HAVE_NCCL_BACKEND; mk/build.mk); C, compiled by gcc against nccl.h / cuda_runtime.h.
 *
 *   init        MPI (through an `mpi` instance on the same communicator, which initialises MPI
 *               when needed); the GPU = params.device when > 0, else this process's rank among
 *               the ranks of its node modulo the GPU count; rank 0 calls ncclGetUniqueId, MPI_Bcast
 *               hands it to the others, ncclCommInitRank; then a warm-up (warm_up: NCCL's lazy
 *               peer connections and kernel loading happen there, not in a caller's first timed
 *               collective). Memory, copies, timers: the cuda ones.
 *   collectives ncclAllReduce / ReduceScatter / AllGather / Broadcast on the instance's stream,
 *               all-to-all as a group of ncclSend/ncclRecv; a request = an event recorded after
 *               the collective; test = cudaEventQuery, and ncclCommGetAsyncError while it is not
 *               done. THE GUARD: a request not complete qt_dist_timeout() seconds after it was
 *               enqueued, or an asynchronous NCCL error, aborts the communicator
 *               (ncclCommAbort: the kernels still waiting for a peer return, so neither the
 *               stream, cudaFree nor the next synchronize can block forever) and fails with
 *               the reason; every later GPU call of the instance fails at once with it (a hang
 *               becomes an error; set QT_DIST_TIMEOUT_S short on GPU runs). Requests (events)
 *               are recycled through a free list (small-message latency). Buffers on the HOST (loss scalars, checksums, timings of the harness)
 *               travel over the bootstrap MPI communicator instead, through the mpi instance's
 *               ops: a call's buffers must be both on the GPU or both on the host.
 *   allreduce_blocking  one ncclAllReduce and a stream synchronize (the suite's "bare" row).
 *   split       MPI_Comm_split, then a new nccl instance bootstrapped on the sub-communicator.
 *   check data  the kernels of impl/dist/cuda/check.cu on the instance's stream.
 *   synchronize the stream's errors only (a stale cudaGetLastError left by a library is cleared
 *               first: it failed a case on one rank only, see n_synchronize).
 *   training    impl/dist's MLP on an nccl dp instance runs on the GPU (impl/dist/cuda/mlp.cu):
 *               compute on its own stream, the gradient buckets' all-reduces on this
 *               instance's stream (the communication stream), ordered by events.
 * Available when a GPU is (the cuda backend's test). Keep NVLink multicast off on shared machines
 * (NCCL_NVLS_ENABLE=0; the harness records NCCL_* variables in the provenance).
 * Tests: tests/dist/test_nccl.c (make test: skips without a GPU, saying why); benchmark:
 * quintet run dist_throughput --ranks 2 (variant nccl). */
#include <mpi.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../dist/cuda/check.h"
#include "../cuda/cuda_ctx.h"
#include "quintet/backend.h"
#include "quintet/dist.h"

struct qt_dist_req {
    cudaEvent_t ev;
    qt_dist_req_t *host;     /* a host-buffer call: the mpi instance's request */
    double t0;               /* when the collective was enqueued (its deadline counts from here) */
    const char *what;        /* the NCCL call, for messages */
    struct qt_dist_req *next; /* free list */
};

typedef struct {
    MPI_Comm comm;    /* duplicate of the bootstrap communicator */
    qt_backend_t *mpi; /* host buffers travel here */
    ncclComm_t nccl;
    qt_dist_req_t *free_reqs;
    int aborted;      /* the communicator was aborted (deadline or asynchronous error): calls fail at once */
    char why[320];    /* why it was aborted */
} nccl_ext_t;

#define EXT(be) ((nccl_ext_t *)QT_CUDA_CTX(be)->ext)

static qt_status_t nccl_fail(qt_backend_t *be, ncclResult_t r, const char *what)
{
    ncclComm_t comm = be->ctx && EXT(be) ? EXT(be)->nccl : NULL;
    return qt_backend_fail(be, QT_ERR_STATE, "%s failed on rank %d: %s (%s)", what, be->rank, ncclGetErrorString(r),
                           ncclGetLastError(comm));
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The guard against hangs: abort the communicator (ncclCommAbort makes the kernels still waiting
 * for a peer return, so the stream, cudaFree and the next case's synchronize cannot block
 * forever) and remember why; every later GPU collective on this instance fails at once. */
static qt_status_t abort_comm(qt_backend_t *be, const char *what, double seconds, ncclResult_t async)
{
    nccl_ext_t *x = EXT(be);
    if (!x->aborted) {
        if (async != ncclSuccess)
            snprintf(x->why, sizeof x->why, "%s on rank %d of %d: NCCL reported %s (%s); communicator aborted", what,
                     be->rank, be->world, ncclGetErrorString(async), ncclGetLastError(x->nccl));
        else
            snprintf(x->why, sizeof x->why,
                     "%s on rank %d of %d not complete after %.1f s (a peer died, hangs, or called another "
                     "collective or size); communicator aborted", what, be->rank, be->world, seconds);
        if (x->nccl) ncclCommAbort(x->nccl);
        x->nccl = NULL;
        x->aborted = 1;
    }
    return qt_backend_fail(be, QT_ERR_STATE, "%s", x->why);
}

/* Every GPU call starts here: an aborted communicator refuses with the reason. */
static qt_status_t alive(qt_backend_t *be)
{
    nccl_ext_t *x = EXT(be);
    if (!x->aborted) return QT_OK;
    return qt_backend_fail(be, QT_ERR_STATE, "nccl: communicator aborted earlier: %s", x->why);
}

static ncclDataType_t nccl_type(qt_dist_dtype_t dt)
{
    switch (dt) {
    case QT_DIST_F64: return ncclFloat64;
    case QT_DIST_I32: return ncclInt32;
    case QT_DIST_U8: return ncclUint8;
    default: return ncclFloat32;
    }
}

static size_t dt_size(qt_dist_dtype_t dt) { return dt == QT_DIST_F64 ? 8 : dt == QT_DIST_U8 ? 1 : 4; }

static ncclRedOp_t nccl_op(qt_dist_redop_t op) { return op == QT_DIST_MAX ? ncclMax : op == QT_DIST_MIN ? ncclMin : ncclSum; }

/* 1 when p is GPU (or managed) memory. */
static int on_gpu(const void *p)
{
    struct cudaPointerAttributes a;
    if (!p || cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

/* Where a call's buffers are: 1 GPU, 0 host; QT_ERR_ARG when they are mixed. */
static qt_status_t where(qt_backend_t *be, const void *a, const void *b, int *gpu)
{
    int ga = on_gpu(a), gb = b ? on_gpu(b) : ga;
    if (ga != gb)
        return qt_backend_fail(be, QT_ERR_ARG, "nccl: send and receive buffers must both be on the GPU or both on the host");
    *gpu = ga;
    return QT_OK;
}

static const qt_dist_ops_t *host_ops(qt_backend_t *be) { return qt_backend_ops(EXT(be)->mpi, QT_TECH_DIST); }

/* A request from the free list (or a new event). */
static qt_status_t req_get(qt_backend_t *be, qt_dist_req_t **req)
{
    nccl_ext_t *x = EXT(be);
    qt_dist_req_t *r = x->free_reqs;
    if (r) {
        x->free_reqs = r->next;
    } else {
        r = calloc(1, sizeof *r);
        if (!r) return qt_backend_fail(be, QT_ERR_NOMEM, "request");
        cudaError_t e = cudaEventCreateWithFlags(&r->ev, cudaEventDisableTiming);
        if (e != cudaSuccess) {
            free(r);
            return qt_cuda_fail(be, e, "cudaEventCreateWithFlags");
        }
    }
    r->host = NULL;
    r->next = NULL;
    *req = r;
    return QT_OK;
}

static void req_put(qt_backend_t *be, qt_dist_req_t *r)
{
    r->next = EXT(be)->free_reqs;
    EXT(be)->free_reqs = r;
}

/* After the NCCL call(s): the request's event on the stream, or the error. */
static qt_status_t started(qt_backend_t *be, ncclResult_t rc, qt_dist_req_t *r, qt_dist_req_t **req, const char *what)
{
    if (rc != ncclSuccess) {
        req_put(be, r);
        return nccl_fail(be, rc, what);
    }
    cudaError_t e = cudaEventRecord(r->ev, QT_CUDA_CTX(be)->stream);
    if (e != cudaSuccess) {
        req_put(be, r);
        return qt_cuda_fail(be, e, "cudaEventRecord");
    }
    r->t0 = mono_now();
    r->what = what;
    *req = r;
    return QT_OK;
}

/* A host-buffer call through the mpi instance, wrapped in a request of ours. `inner` is the
 * ADDRESS the mpi call wrote its request to, read here: callers pass the mpi call itself as s,
 * and C leaves the order of argument evaluation open, so a request passed by value could be read
 * before the call set it (GCC did: r->host stayed NULL, the request then looked like a GPU one
 * whose event had long completed, the wait returned at once and the MPI all-reduce went on
 * writing into a dead stack frame: wrong sums and crashes on 2 GPUs, invisible on 1 rank). */
static qt_status_t host_started(qt_backend_t *be, qt_status_t s, qt_dist_req_t *r, qt_dist_req_t *const *inner,
                                qt_dist_req_t **req)
{
    if (s != QT_OK) {
        req_put(be, r);
        return qt_backend_fail(be, s, "%s", qt_backend_error(EXT(be)->mpi));
    }
    r->host = *inner;
    *req = r;
    return QT_OK;
}

static qt_status_t n_iallreduce(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                                qt_dist_redop_t op, qt_dist_req_t **req)
{
    int gpu = 0;
    qt_dist_req_t *r = NULL, *inner = NULL;
    QT_TRY(where(be, send, recv, &gpu));
    QT_TRY(req_get(be, &r));
    if (!gpu) return host_started(be, host_ops(be)->iallreduce(EXT(be)->mpi, send, recv, count, dt, op, &inner), r, &inner, req);
    if (alive(be) != QT_OK) { req_put(be, r); return QT_ERR_STATE; }
    ncclResult_t rc = ncclAllReduce(send, recv, count, nccl_type(dt), nccl_op(op), EXT(be)->nccl, QT_CUDA_CTX(be)->stream);
    return started(be, rc, r, req, "ncclAllReduce");
}

static qt_status_t n_ireduce_scatter(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                                     qt_dist_redop_t op, qt_dist_req_t **req)
{
    int gpu = 0;
    qt_dist_req_t *r = NULL, *inner = NULL;
    QT_TRY(where(be, send, recv, &gpu));
    QT_TRY(req_get(be, &r));
    if (!gpu)
        return host_started(be, host_ops(be)->ireduce_scatter(EXT(be)->mpi, send, recv, count, dt, op, &inner), r, &inner, req);
    if (alive(be) != QT_OK) { req_put(be, r); return QT_ERR_STATE; }
    ncclResult_t rc = ncclReduceScatter(send, recv, count, nccl_type(dt), nccl_op(op), EXT(be)->nccl, QT_CUDA_CTX(be)->stream);
    return started(be, rc, r, req, "ncclReduceScatter");
}

static qt_status_t n_iallgather(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                                qt_dist_req_t **req)
{
    int gpu = 0;
    qt_dist_req_t *r = NULL, *inner = NULL;
    QT_TRY(where(be, send, recv, &gpu));
    QT_TRY(req_get(be, &r));
    if (!gpu) return host_started(be, host_ops(be)->iallgather(EXT(be)->mpi, send, recv, count, dt, &inner), r, &inner, req);
    if (alive(be) != QT_OK) { req_put(be, r); return QT_ERR_STATE; }
    ncclResult_t rc = ncclAllGather(send, recv, count, nccl_type(dt), EXT(be)->nccl, QT_CUDA_CTX(be)->stream);
    return started(be, rc, r, req, "ncclAllGather");
}

static qt_status_t n_ibroadcast(qt_backend_t *be, void *buf, size_t count, qt_dist_dtype_t dt, int root,
                                qt_dist_req_t **req)
{
    int gpu = 0;
    qt_dist_req_t *r = NULL, *inner = NULL;
    QT_TRY(where(be, buf, NULL, &gpu));
    QT_TRY(req_get(be, &r));
    if (!gpu) return host_started(be, host_ops(be)->ibroadcast(EXT(be)->mpi, buf, count, dt, root, &inner), r, &inner, req);
    if (alive(be) != QT_OK) { req_put(be, r); return QT_ERR_STATE; }
    ncclResult_t rc = ncclBroadcast(buf, buf, count, nccl_type(dt), root, EXT(be)->nccl, QT_CUDA_CTX(be)->stream);
    return started(be, rc, r, req, "ncclBroadcast");
}

static qt_status_t n_ialltoall(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                               qt_dist_req_t **req)
{
    int gpu = 0;
    qt_dist_req_t *r = NULL, *inner = NULL;
    QT_TRY(where(be, send, recv, &gpu));
    QT_TRY(req_get(be, &r));
    if (!gpu) return host_started(be, host_ops(be)->ialltoall(EXT(be)->mpi, send, recv, count, dt, &inner), r, &inner, req);
    if (alive(be) != QT_OK) { req_put(be, r); return QT_ERR_STATE; }
    size_t chunk = count * dt_size(dt);
    ncclResult_t rc = ncclGroupStart();
    for (int p = 0; rc == ncclSuccess && p < be->world; p++) {
        rc = ncclSend((const char *)send + (size_t)p * chunk, count, nccl_type(dt), p, EXT(be)->nccl, QT_CUDA_CTX(be)->stream);
        if (rc == ncclSuccess)
            rc = ncclRecv((char *)recv + (size_t)p * chunk, count, nccl_type(dt), p, EXT(be)->nccl, QT_CUDA_CTX(be)->stream);
    }
    ncclResult_t end = ncclGroupEnd();
    return started(be, rc != ncclSuccess ? rc : end, r, req, "ncclSend/ncclRecv (all-to-all)");
}

static qt_status_t n_test(qt_backend_t *be, qt_dist_req_t *req, int *done)
{
    *done = 0;
    if (req->host) {
        qt_status_t s = host_ops(be)->test(EXT(be)->mpi, req->host, done);
        if (s != QT_OK) {
            *done = 1;
            req_put(be, req);
            return qt_backend_fail(be, s, "%s", qt_backend_error(EXT(be)->mpi));
        }
        if (*done) req_put(be, req);
        return QT_OK;
    }
    cudaError_t e = cudaEventQuery(req->ev);
    if (e == cudaSuccess) {
        *done = 1;
        req_put(be, req);
        return QT_OK;
    }
    if (e != cudaErrorNotReady) {
        *done = 1;
        req_put(be, req);
        return qt_cuda_fail(be, e, "collective on the GPU");
    }
    (void)cudaGetLastError();
    nccl_ext_t *x = EXT(be);
    ncclResult_t async = ncclSuccess;
    if (x->nccl) ncclCommGetAsyncError(x->nccl, &async);
    double waited = mono_now() - req->t0, limit = qt_dist_timeout();
    if ((async != ncclSuccess && async != ncclInProgress) || x->aborted || waited > limit) {
        *done = 1;
        /* aborting makes the kernel return, so the event completes: the request can be reused */
        qt_status_t s = x->aborted ? alive(be)
                                   : abort_comm(be, req->what ? req->what : "NCCL collective", waited,
                                                async == ncclInProgress ? ncclSuccess : async);
        req_put(be, req);
        return s;
    }
    return QT_OK;
}

static qt_status_t n_allreduce_blocking(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                                        qt_dist_redop_t op)
{
    int gpu = 0;
    QT_TRY(where(be, send, recv, &gpu));
    if (!gpu) return host_ops(be)->allreduce_blocking(EXT(be)->mpi, send, recv, count, dt, op);
    QT_TRY(alive(be));
    ncclResult_t rc = ncclAllReduce(send, recv, count, nccl_type(dt), nccl_op(op), EXT(be)->nccl, QT_CUDA_CTX(be)->stream);
    if (rc != ncclSuccess) return nccl_fail(be, rc, "ncclAllReduce");
    return qt_cuda_synchronize(be);
}

/* The instance's synchronize: the stream's errors, not a stale one. cudaGetLastError returns the
 * last error of ANY runtime call of this thread, also one a library made and handled itself
 * (NCCL probes with runtime calls); qt_cuda_synchronize reads it after the stream, so a stale
 * error there failed a case on one rank only — which then left the ranks in different cases,
 * each waiting in a collective the other never called. Every call of this backend checks its
 * own return code, so the slot is cleared first. */
static qt_status_t n_synchronize(qt_backend_t *be)
{
    (void)cudaGetLastError();
    return qt_cuda_synchronize(be);
}

static qt_status_t nccl_init_on(qt_backend_t *be, MPI_Comm parent, int dev);

/* The sub-communicator's instance stays on this process's GPU (built here, not through
 * qt_backend_init_iface, whose params cannot say "device 0" apart from "the default"). */
static qt_status_t n_split(qt_backend_t *be, int color, int key, qt_backend_t **out)
{
    MPI_Comm sub;
    *out = NULL;
    int rc = MPI_Comm_split(EXT(be)->comm, color, key, &sub);
    if (rc != MPI_SUCCESS) return qt_backend_fail(be, QT_ERR_STATE, "MPI_Comm_split failed (%d)", rc);
    qt_backend_t *nb = calloc(1, sizeof *nb);
    qt_status_t s = nb ? QT_OK : qt_backend_fail(be, QT_ERR_NOMEM, "backend instance");
    if (s == QT_OK) {
        nb->iface = be->iface;
        nb->device = qt_device_host();
        nb->threads = 1;
        nb->world = 1;
        s = nccl_init_on(nb, sub, QT_CUDA_CTX(be)->ordinal); /* duplicates sub */
        if (s != QT_OK) free(nb);
        else *out = nb;
    }
    MPI_Comm_free(&sub);
    return s;
}

static const char *n_host(const qt_backend_t *be)
{
    qt_backend_t *mpi = ((const nccl_ext_t *)((const qt_cuda_ctx_t *)be->ctx)->ext)->mpi;
    return ((const qt_dist_ops_t *)qt_backend_ops(mpi, QT_TECH_DIST))->host(mpi);
}

static qt_status_t n_check_fill(qt_backend_t *be, qt_coll_t c, size_t count, uint64_t seed, float *buf)
{
    QT_TRY(alive(be));
    int e = qt_dist_cuda_check_fill(QT_CUDA_CTX(be)->stream, c, be->rank, be->world, count, seed, buf);
    return e ? qt_cuda_fail(be, (cudaError_t)e, "check data kernel") : QT_OK;
}

static qt_status_t n_check_count(qt_backend_t *be, qt_coll_t c, size_t count, uint64_t seed, const float *recv,
                                 long long *wrong)
{
    QT_TRY(alive(be));
    int e = qt_dist_cuda_check_count(QT_CUDA_CTX(be)->stream, c, be->rank, be->world, count, seed, recv, wrong);
    return e ? qt_cuda_fail(be, (cudaError_t)e, "check count kernel") : QT_OK;
}

static const qt_dist_ops_t qt_dist_ops_nccl = {
    .iallreduce = n_iallreduce,
    .ireduce_scatter = n_ireduce_scatter,
    .iallgather = n_iallgather,
    .ibroadcast = n_ibroadcast,
    .ialltoall = n_ialltoall,
    .test = n_test,
    .allreduce_blocking = n_allreduce_blocking,
    .split = n_split,
    .host = n_host,
    .check_fill = n_check_fill,
    .check_count = n_check_count,
};

/* ---- the backend ---- */

/* This process's rank among the ranks of comm on its node (MPI_COMM_TYPE_SHARED; collective
 * over comm, which every rank of comm calls in init). */
static int node_rank(MPI_Comm comm)
{
    MPI_Comm node;
    int r = 0;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS) return 0;
    MPI_Comm_rank(node, &r);
    MPI_Comm_free(&node);
    return r;
}

static void nccl_free(qt_backend_t *be);

static qt_status_t nccl_init(qt_backend_t *be, const qt_backend_params_t *p)
{
    qt_backend_t *probe = NULL; /* initialises MPI when needed */
    qt_status_t s = qt_backend_init(&probe, "mpi", NULL);
    if (s != QT_OK) return qt_backend_fail(be, s, "nccl: MPI: %s", qt_last_error());
    qt_backend_free(probe);
    MPI_Comm parent = p->comm ? *(const MPI_Comm *)p->comm : MPI_COMM_WORLD;
    int n = 0;
    cudaGetDeviceCount(&n);
    int nr = node_rank(parent);
    return nccl_init_on(be, parent, p->device > 0 ? p->device : (n > 0 ? nr % n : 0));
}

/* The warm-up, part of making an instance: NCCL sets up its peer connections lazily, at the first
 * collective that needs them (NCCL_RUNTIME_CONNECT, the default since 2.22: the P2P/NVLink
 * buffers and IPC handles of each protocol — LL for small messages, LL128 and Simple for larger
 * ones — when a size first selects it), and CUDA loads NCCL's kernels at their first launch
 * (lazy module loading). Left to the first real call, that cost (0.2–0.46 s on 2×H200) landed in
 * the first timed case of a sweep (8 B: median 268 µs over 3 repetitions against 16 µs, since
 * Google Benchmark sized the repetitions from the 0.46 s first iteration). So every instance
 * all-reduces in place 8 B, 256 KiB and 32 MiB (one of each protocol's range) through its own
 * non-blocking path (deadline and all) before it is handed out. */
static qt_status_t warm_up(qt_backend_t *be)
{
    static const size_t counts[] = {2, 64 << 10, 8 << 20}; /* floats */
    void *buf = NULL;
    size_t bytes = counts[2] * sizeof(float);
    QT_TRY(qt_cuda_alloc(be, bytes, &buf));
    qt_status_t s = qt_cuda_memset0(be, buf, bytes);
    for (size_t i = 0; s == QT_OK && i < sizeof counts / sizeof counts[0]; i++) {
        qt_dist_req_t *req = NULL;
        s = n_iallreduce(be, buf, buf, counts[i], QT_DIST_F32, QT_DIST_SUM, &req);
        if (s == QT_OK) s = qt_dist_wait(be, req, "nccl warm-up all-reduce");
    }
    if (s == QT_OK) s = n_synchronize(be);
    qt_cuda_dealloc(be, buf);
    return s;
}

/* The instance on GPU dev over (a duplicate of) parent. */
static qt_status_t nccl_init_on(qt_backend_t *be, MPI_Comm parent, int dev)
{
    qt_backend_t *mpi = NULL;
    qt_backend_params_t mp = {.threads = 1, .comm = &parent};
    qt_status_t s = qt_backend_init(&mpi, "mpi", &mp);
    if (s != QT_OK) return qt_backend_fail(be, s, "nccl: the bootstrap mpi instance: %s", qt_last_error());
    s = qt_cuda_ctx_init(be, dev);
    nccl_ext_t *x = NULL;
    if (s == QT_OK) {
        x = calloc(1, sizeof *x);
        if (!x) s = qt_backend_fail(be, QT_ERR_NOMEM, "nccl context");
        else QT_CUDA_CTX(be)->ext = x;
    }
    if (s != QT_OK) {
        qt_backend_free(mpi);
        qt_cuda_ctx_free(be);
        return s;
    }
    x->mpi = mpi;
    be->rank = mpi->rank;
    be->world = mpi->world;
    if (MPI_Comm_dup(parent, &x->comm) != MPI_SUCCESS) {
        x->comm = MPI_COMM_NULL;
        s = qt_backend_fail(be, QT_ERR_STATE, "nccl: MPI_Comm_dup failed");
    }
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    ncclResult_t rc = ncclSuccess;
    if (s == QT_OK && be->rank == 0) rc = ncclGetUniqueId(&id);
    int ok = rc == ncclSuccess, all_ok = 0;
    if (s == QT_OK) MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, x->comm);
    if (s == QT_OK && !all_ok) s = rc != ncclSuccess ? nccl_fail(be, rc, "ncclGetUniqueId")
                                                     : qt_backend_fail(be, QT_ERR_STATE, "ncclGetUniqueId failed on rank 0");
    if (s == QT_OK && MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, x->comm) != MPI_SUCCESS)
        s = qt_backend_fail(be, QT_ERR_STATE, "nccl: MPI_Bcast of the unique id failed");
    if (s == QT_OK && (rc = ncclCommInitRank(&x->nccl, be->world, id, be->rank)) != ncclSuccess) {
        x->nccl = NULL;
        s = nccl_fail(be, rc, "ncclCommInitRank");
    }
    if (s == QT_OK) s = warm_up(be);
    if (s != QT_OK) nccl_free(be);
    return s;
}

static void nccl_free(qt_backend_t *be)
{
    qt_cuda_ctx_t *c = QT_CUDA_CTX(be);
    if (!c) return;
    nccl_ext_t *x = c->ext;
    if (x) {
        cudaStreamSynchronize(c->stream);
        if (x->nccl) ncclCommDestroy(x->nccl);
        while (x->free_reqs) {
            qt_dist_req_t *r = x->free_reqs;
            x->free_reqs = r->next;
            cudaEventDestroy(r->ev);
            free(r);
        }
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin && x->comm != MPI_COMM_NULL) MPI_Comm_free(&x->comm);
        qt_backend_free(x->mpi);
        free(x);
        c->ext = NULL;
    }
    qt_cuda_ctx_free(be);
}

const qt_backend_iface_t qt_backend_iface_nccl = {
    .name = "nccl",
    .description = "NCCL communicator, one process per GPU (MPI bootstrap): collectives, data-parallel training",
    .device_kind = QT_DEVICE_CUDA,
    .available = qt_cuda_available,
    .init = nccl_init,
    .free = nccl_free,
    .synchronize = n_synchronize,
    .alloc = qt_cuda_alloc,
    .dealloc = qt_cuda_dealloc,
    .copy = qt_cuda_copy,
    .memset0 = qt_cuda_memset0,
    .timer_start = qt_cuda_timer_start,
    .timer_stop = qt_cuda_timer_stop,
    .ops = {
        [QT_TECH_DIST] = &qt_dist_ops_nccl,
    },
};
