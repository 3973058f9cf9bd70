/* mpi.c — the `mpi` backend of the registry (backend.h): host memory, an MPI communicator in
 * its context, and the dist ops table (dist.h) as thin wrappers of MPI's non-blocking
 * collectives (and point-to-point Isend / Irecv for the parameter server). Built only when mpicc is found (QT_HAVE_MPI_BACKEND; mk/build.mk).
 *
 * Initialisation: the first instance calls MPI_Init_thread(FUNNELED) unless MPI is already
 * initialised, and registers MPI_Finalize at exit. Each instance duplicates the communicator it
 * is given (params.comm → MPI_Comm, NULL: MPI_COMM_WORLD) and sets MPI_ERRORS_RETURN on it, so
 * MPI failures come back as statuses with MPI's message instead of aborting the job.
 * Availability: always, when built. Not launched by mpirun/srun, MPI starts as a singleton:
 * a world of one rank, where every collective is a copy (documented choice: programs and tests
 * run the same way with or without a launcher). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/backend.h"
#include "quintet/dist.h"
#include "quintet/tensor.h"
#include "../host/host.h"

typedef struct {
    MPI_Comm comm;
    char host[MPI_MAX_PROCESSOR_NAME];
} mpi_ctx_t;

struct qt_dist_req {
    MPI_Request r;
};

/* MPI's text for an error code, recorded on the instance. */
static qt_status_t mpi_fail(qt_backend_t *be, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return qt_backend_fail(be, QT_ERR_STATE, "%s failed on rank %d: %s", what, be->rank, msg);
}

static MPI_Comm comm_of(const qt_backend_t *be) { return ((const mpi_ctx_t *)be->ctx)->comm; }

static MPI_Datatype mpi_type(qt_dist_dtype_t dt)
{
    switch (dt) {
    case QT_DIST_F64: return MPI_DOUBLE;
    case QT_DIST_I32: return MPI_INT;
    case QT_DIST_U8: return MPI_UNSIGNED_CHAR;
    default: return MPI_FLOAT;
    }
}

static MPI_Op mpi_op(qt_dist_redop_t op) { return op == QT_DIST_MAX ? MPI_MAX : op == QT_DIST_MIN ? MPI_MIN : MPI_SUM; }

/* MPI's counts are int: refuse what does not fit instead of truncating. */
static qt_status_t check_count(qt_backend_t *be, size_t count)
{
    if (count > (size_t)0x7fffffff) return qt_backend_fail(be, QT_ERR_ARG, "count %zu exceeds MPI's int", count);
    return QT_OK;
}

/* A request object around an MPI_Request. */
static qt_status_t new_req(qt_backend_t *be, qt_dist_req_t **req)
{
    *req = malloc(sizeof **req);
    if (!*req) return qt_backend_fail(be, QT_ERR_NOMEM, "request");
    return QT_OK;
}

/* Finish the start of a non-blocking call: keep the request, or report MPI's error. */
static qt_status_t started(qt_backend_t *be, int rc, qt_dist_req_t **req, const char *what)
{
    if (rc != MPI_SUCCESS) {
        free(*req);
        *req = NULL;
        return mpi_fail(be, rc, what);
    }
    return QT_OK;
}

static qt_status_t m_iallreduce(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                                qt_dist_redop_t op, qt_dist_req_t **req)
{
    QT_TRY(check_count(be, count));
    QT_TRY(new_req(be, req));
    int rc = MPI_Iallreduce(send == recv ? MPI_IN_PLACE : send, recv, (int)count, mpi_type(dt), mpi_op(op),
                            comm_of(be), &(*req)->r);
    return started(be, rc, req, "MPI_Iallreduce");
}

static qt_status_t m_ireduce_scatter(qt_backend_t *be, const void *send, void *recv, size_t count,
                                     qt_dist_dtype_t dt, qt_dist_redop_t op, qt_dist_req_t **req)
{
    QT_TRY(check_count(be, count));
    QT_TRY(new_req(be, req));
    int rc = MPI_Ireduce_scatter_block(send, recv, (int)count, mpi_type(dt), mpi_op(op), comm_of(be), &(*req)->r);
    return started(be, rc, req, "MPI_Ireduce_scatter_block");
}

static qt_status_t m_iallgather(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                                qt_dist_req_t **req)
{
    QT_TRY(check_count(be, count));
    QT_TRY(new_req(be, req));
    int rc = MPI_Iallgather(send, (int)count, mpi_type(dt), recv, (int)count, mpi_type(dt), comm_of(be), &(*req)->r);
    return started(be, rc, req, "MPI_Iallgather");
}

static qt_status_t m_ibroadcast(qt_backend_t *be, void *buf, size_t count, qt_dist_dtype_t dt, int root,
                                qt_dist_req_t **req)
{
    QT_TRY(check_count(be, count));
    QT_TRY(new_req(be, req));
    int rc = MPI_Ibcast(buf, (int)count, mpi_type(dt), root, comm_of(be), &(*req)->r);
    return started(be, rc, req, "MPI_Ibcast");
}

static qt_status_t m_ialltoall(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                               qt_dist_req_t **req)
{
    QT_TRY(check_count(be, count));
    QT_TRY(new_req(be, req));
    int rc = MPI_Ialltoall(send, (int)count, mpi_type(dt), recv, (int)count, mpi_type(dt), comm_of(be), &(*req)->r);
    return started(be, rc, req, "MPI_Ialltoall");
}

static qt_status_t m_isend(qt_backend_t *be, const void *buf, size_t count, qt_dist_dtype_t dt, int peer, int tag,
                           qt_dist_req_t **req)
{
    QT_TRY(check_count(be, count));
    QT_TRY(new_req(be, req));
    int rc = MPI_Isend(buf, (int)count, mpi_type(dt), peer, tag, comm_of(be), &(*req)->r);
    return started(be, rc, req, "MPI_Isend");
}

static qt_status_t m_irecv(qt_backend_t *be, void *buf, size_t count, qt_dist_dtype_t dt, int peer, int tag,
                           qt_dist_req_t **req)
{
    QT_TRY(check_count(be, count));
    QT_TRY(new_req(be, req));
    int rc = MPI_Irecv(buf, (int)count, mpi_type(dt), peer, tag, comm_of(be), &(*req)->r);
    return started(be, rc, req, "MPI_Irecv");
}

static qt_status_t m_test(qt_backend_t *be, qt_dist_req_t *req, int *done)
{
    int flag = 0;
    int rc = MPI_Test(&req->r, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        *done = 1;
        free(req);
        return mpi_fail(be, rc, "MPI_Test");
    }
    *done = flag;
    if (flag) free(req);
    return QT_OK;
}

static qt_status_t m_allreduce_blocking(qt_backend_t *be, const void *send, void *recv, size_t count,
                                        qt_dist_dtype_t dt, qt_dist_redop_t op)
{
    QT_TRY(check_count(be, count));
    int rc = MPI_Allreduce(send == recv ? MPI_IN_PLACE : send, recv, (int)count, mpi_type(dt), mpi_op(op),
                           comm_of(be));
    return rc == MPI_SUCCESS ? QT_OK : mpi_fail(be, rc, "MPI_Allreduce");
}

static qt_status_t m_split(qt_backend_t *be, int color, int key, qt_backend_t **out)
{
    MPI_Comm sub;
    int rc = MPI_Comm_split(comm_of(be), color, key, &sub);
    if (rc != MPI_SUCCESS) return mpi_fail(be, rc, "MPI_Comm_split");
    qt_backend_params_t p = {.threads = be->threads, .comm = &sub};
    qt_status_t s = qt_backend_init_iface(out, be->iface, &p); /* duplicates sub */
    MPI_Comm_free(&sub);
    return s;
}

static const char *m_host(const qt_backend_t *be) { return ((const mpi_ctx_t *)be->ctx)->host; }

const qt_dist_ops_t qt_dist_ops_mpi = {
    .iallreduce = m_iallreduce,
    .ireduce_scatter = m_ireduce_scatter,
    .iallgather = m_iallgather,
    .ibroadcast = m_ibroadcast,
    .ialltoall = m_ialltoall,
    .test = m_test,
    .allreduce_blocking = m_allreduce_blocking,
    .split = m_split,
    .host = m_host,
    .isend = m_isend,
    .irecv = m_irecv,
};

/* ---- the backend ---- */

static void finalize_at_exit(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
}

static int mpi_available(char *why, size_t why_size)
{
    (void)why;
    (void)why_size;
    return 1; /* singleton MPI (a world of one) when not launched by mpirun/srun */
}

static qt_status_t mpi_init(qt_backend_t *be, const qt_backend_params_t *p)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return qt_fail(QT_ERR_UNSUPPORTED, "mpi backend: MPI_Init_thread failed (%d)", rc);
        atexit(finalize_at_exit);
    }
    mpi_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return qt_fail(QT_ERR_NOMEM, "mpi backend context");
    MPI_Comm parent = p->comm ? *(const MPI_Comm *)p->comm : MPI_COMM_WORLD;
    int rc = MPI_Comm_dup(parent, &ctx->comm);
    if (rc != MPI_SUCCESS) {
        free(ctx);
        return qt_fail(QT_ERR_STATE, "mpi backend: MPI_Comm_dup failed (%d)", rc);
    }
    MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(ctx->comm, &be->rank);
    MPI_Comm_size(ctx->comm, &be->world);
    int len = 0;
    MPI_Get_processor_name(ctx->host, &len);
    be->device = qt_device_host();
    be->threads = p->threads > 0 ? p->threads : 1;
    be->ctx = ctx;
    return QT_OK;
}

static void mpi_free(qt_backend_t *be)
{
    mpi_ctx_t *ctx = be->ctx;
    if (!ctx) return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Comm_free(&ctx->comm);
    free(ctx);
    be->ctx = NULL;
}

const qt_backend_iface_t qt_backend_iface_mpi = {
    .name = "mpi",
    .description = "MPI communicator on the host: collectives, data/tensor parallel training",
    .device_kind = QT_DEVICE_HOST,
    .available = mpi_available,
    .init = mpi_init,
    .free = mpi_free,
    .alloc = qt_host_alloc,
    .dealloc = qt_host_dealloc,
    .copy = qt_host_copy,
    .memset0 = qt_host_memset0,
    .ops = {
        [QT_TECH_DIST] = &qt_dist_ops_mpi,
    },
};
