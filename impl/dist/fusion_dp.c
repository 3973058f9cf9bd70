/* fusion_dp.c — the fusion model (quintet/fusion.h) trained data-parallel over a communicator
 * instance (dist.h, "data-parallel training of the fusion model", states the scheme). Only the
 * public fusion API is used (qt_fusion_init_params, qt_fusion_backward) on the compute instance,
 * with Adam from impl/optim over the one flat parameter tensor, and the communicator's ops.
 *   data    at each epoch start every rank draws the same shuffle (qt_fusion_epoch_order, the
 *           order of single-process training) and uploads ITS rows of every step of the epoch,
 *           in step order, to the compute device once (one wait per epoch: the host staging is reused);
 *   step    backward on this rank's rows → gradient of their mean loss; ·B_r/B (when B_r ≠ B);
 *           all-reduce (sum) in place through comm's ops (host buffers over MPI, GPU buffers over
 *           NCCL: the same call); Adam on every rank. The all-reduce runs also on a world of one
 *           (NCCL's 1-rank all-reduce: the 1-GPU row runs the same code). On a GPU the ordering
 *           is on the device: comm's stream waits for an event of the compute stream, the compute
 *           stream (Adam, the next step) for one of comm's; the request is reaped a step later.
 *           What the fusion API allows to overlap: the all-reduce needs the whole gradient (the
 *           backward is one call), so it overlaps nothing of its own step's compute; it runs on
 *           the communication stream and the host is free to queue the next work.
 * Deterministic: the replicas are bitwise equal (qt_dist_fusion_check_replicas), and the run
 * equals the single-process full-batch run (comm NULL) up to the summation order of the batch
 * split. Tests: tests/dist/test_dist.c (fusion_dp, 2+ ranks over MPI on the cpu and ref
 * backends), tests/dist/test_nccl.c (gpu_fusion_dp); benchmark: dist_throughput train_fusion_dp. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quintet/optim.h"
#ifdef QT_HAVE_CUDA
#include "cuda/gpu.h"
#endif

struct qt_dist_fusion {
    qt_dist_fusion_config_t cfg;
    qt_backend_t *comm, *be;
    const qt_dist_ops_t *ops; /* comm's (NULL: no comm) */
    const qt_fusion_data_t *data;
    int world, rank, gpu;
    int64_t B, off, rows, spe, np, step, epoch; /* spe: steps per epoch; epoch: the one loaded (-1: none) */
    qt_dtype_t dt;
    size_t es;
    qt_tensor_t params, grads, work;
    qt_tensor_t x[QT_FUSION_MAX_MOD], y; /* this epoch's rows of every step, in step order */
    unsigned char *stage;                /* host staging of one epoch's rows (all modalities, labels) */
    int64_t *perm;
    qt_optim_t adam;
    qt_dist_req_t *pending; /* GPU: the last step's all-reduce, reaped at the next */
};

static qt_status_t reap(qt_dist_fusion_t *f)
{
    if (!f->pending) return QT_OK;
    qt_dist_req_t *r = f->pending;
    f->pending = NULL;
    return qt_dist_wait(f->comm, r, "fusion gradient all-reduce");
}

void qt_dist_fusion_free(qt_dist_fusion_t *f)
{
    if (!f) return;
    (void)reap(f);
    if (f->be) (void)qt_backend_synchronize(f->be);
    qt_optim_free(&f->adam);
    qt_tensor_free(&f->params);
    qt_tensor_free(&f->grads);
    qt_tensor_free(&f->work);
    for (int m = 0; m < QT_FUSION_MAX_MOD; m++) qt_tensor_free(&f->x[m]);
    qt_tensor_free(&f->y);
    qt_free(f->stage);
    qt_free(f->perm);
    free(f);
}

qt_status_t qt_dist_fusion_init(qt_dist_fusion_t **out, qt_backend_t *comm, qt_backend_t *be,
                                const qt_dist_fusion_config_t *cfg, const qt_fusion_data_t *data)
{
    QT_CHECK_ARG(out && be && cfg && data, "fusion dp: NULL argument");
    *out = NULL;
    QT_TRY(qt_fusion_config_check(&cfg->model));
    QT_CHECK_ARG(data->n_mod == cfg->model.n_mod, "fusion dp: data has %d modalities, the model %d", data->n_mod,
                 cfg->model.n_mod);
    QT_CHECK_ARG(cfg->lr > 0, "fusion dp: lr %g must be > 0", cfg->lr);
    const qt_dist_ops_t *ops = NULL;
    if (comm) {
        ops = qt_dist_ops_of(comm);
        if (!ops) return QT_ERR_UNSUPPORTED;
        QT_CHECK_ARG(comm->device == be->device, "fusion dp: the communicator (%s, %s) and the compute instance (%s, %s) "
                     "must be on one device", qt_backend_name(comm), qt_device_name(comm->device), qt_backend_name(be),
                     qt_device_name(be->device));
    }
    int world = comm ? comm->world : 1, rank = comm ? comm->rank : 0;
    QT_CHECK_ARG(cfg->batch >= world && cfg->batch <= data->n, "fusion dp: batch %d must be in [%d ranks, %lld samples]",
                 cfg->batch, world, (long long)data->n);
    qt_dtype_t dt;
    QT_TRY(qt_fusion_dtype(be, &dt));
    QT_CHECK_ARG(dt == QT_F32 || dt == QT_F64, "fusion dp: backend %s computes in %s (f32 or f64 needed)",
                 qt_backend_name(be), qt_dtype_name(dt));
    int gpu = !qt_device_is_host(be->device);
#ifndef QT_HAVE_CUDA
    if (gpu) return qt_fail(QT_ERR_UNSUPPORTED, "fusion dp: %s is on a GPU but this build has no CUDA", qt_backend_name(be));
#endif
    /* every rank must train the same model on the same data from the same seed: a rank with its
     * own (a test seeded per process did) would all-reduce gradients of different models, the
     * replicas drifting apart with no error; checked once, here */
    if (comm) {
        uint64_t h = qt_dist_fnv(QT_DIST_FNV0, &cfg->model, sizeof cfg->model);
        h = qt_dist_fnv(h, &cfg->batch, sizeof cfg->batch);
        h = qt_dist_fnv(h, &cfg->lr, sizeof cfg->lr);
        h = qt_dist_fnv(h, &cfg->seed, sizeof cfg->seed);
        h = qt_dist_fnv(h, &data->n, sizeof data->n);
        for (int m = 0; m < data->n_mod; m++) /* the first sample of each modality */
            h = qt_dist_fnv(h, data->x[m].data, (size_t)(data->x[m].shape[1] * data->x[m].shape[2]) * sizeof(float));
        QT_TRY(qt_dist_same_hash(comm, h, "fusion configuration (model, batch, lr, seed, data)", 0));
    }
    qt_dist_fusion_t *f = calloc(1, sizeof *f);
    if (!f) return qt_fail(QT_ERR_NOMEM, "fusion dp");
    f->cfg = *cfg;
    f->comm = comm;
    f->be = be;
    f->ops = ops;
    f->data = data;
    f->world = world;
    f->rank = rank;
    f->gpu = gpu;
    f->dt = dt;
    f->es = qt_dtype_size(dt);
    f->B = cfg->batch;
    f->rows = f->B / world + (rank < f->B % world);
    f->off = (int64_t)rank * (f->B / world) + (rank < f->B % world ? rank : f->B % world);
    f->spe = data->n / f->B;
    f->np = qt_fusion_n_params(&cfg->model);
    f->epoch = -1;
    int64_t er = f->spe * f->rows, feats = 0;
    qt_status_t s = qt_tensor_alloc(&f->params, be, dt, 1, &f->np);
    if (s == QT_OK) s = qt_fusion_init_params(be, &cfg->model, &f->params, cfg->seed);
    if (s == QT_OK) s = qt_tensor_alloc(&f->grads, be, dt, 1, &f->np);
    int64_t ws = qt_fusion_work_size(&cfg->model, f->rows);
    if (s == QT_OK) s = qt_tensor_alloc(&f->work, be, dt, 1, &ws);
    for (int m = 0; m < cfg->model.n_mod && s == QT_OK; m++) {
        int64_t shape[3] = {er, cfg->model.len[m], cfg->model.feat[m]};
        s = qt_tensor_alloc(&f->x[m], be, dt, 3, shape);
        feats += shape[1] * shape[2];
    }
    if (s == QT_OK) s = qt_tensor_alloc(&f->y, be, QT_I32, 1, &er);
    f->stage = qt_alloc((size_t)(er * feats) * f->es + (size_t)er * sizeof(int32_t));
    f->perm = qt_alloc((size_t)data->n * sizeof *f->perm);
    if (s == QT_OK && (!f->stage || !f->perm)) s = qt_fail(QT_ERR_NOMEM, "fusion dp: staging of %lld rows", (long long)er);
    if (s == QT_OK) {
        qt_optim_config_t oc;
        s = qt_optim_config_default(QT_OPTIM_ADAM, &oc);
        oc.lr = cfg->lr;
        size_t n = (size_t)f->np;
        if (s == QT_OK) s = qt_optim_init(&f->adam, be, &oc, NULL, dt, 1, &n);
    }
    if (s != QT_OK) {
        qt_dist_fusion_free(f);
        return s;
    }
    *out = f;
    return QT_OK;
}

int qt_dist_fusion_rows(const qt_dist_fusion_t *f) { return f ? (int)f->rows : 0; }

/* Epoch e's shuffle, and this rank's rows of each of its steps to the device. */
static qt_status_t load_epoch(qt_dist_fusion_t *f, int64_t e)
{
    const qt_fusion_data_t *d = f->data;
    int64_t n = d->n, er = f->spe * f->rows;
    qt_fusion_epoch_order(f->perm, n, f->cfg.seed, (uint64_t)e);
    unsigned char *at = f->stage;
    for (int m = 0; m < d->n_mod; m++) {
        int64_t row = d->x[m].shape[1] * d->x[m].shape[2];
        const float *src = d->x[m].data;
        for (int64_t k = 0; k < f->spe; k++)
            for (int64_t r = 0; r < f->rows; r++) {
                const float *sr = src + f->perm[k * f->B + f->off + r] * row;
                unsigned char *dr = at + (size_t)((k * f->rows + r) * row) * f->es;
                if (f->dt == QT_F32) memcpy(dr, sr, (size_t)row * sizeof(float));
                else
                    for (int64_t i = 0; i < row; i++) ((double *)dr)[i] = sr[i];
            }
        QT_TRY(qt_backend_copy(f->be, f->x[m].data, f->be->device, at, qt_device_host(), (size_t)(er * row) * f->es));
        at += (size_t)(er * row) * f->es;
    }
    int32_t *ys = (int32_t *)at;
    for (int64_t k = 0; k < f->spe; k++)
        for (int64_t r = 0; r < f->rows; r++) ys[k * f->rows + r] = ((const int32_t *)d->y.data)[f->perm[k * f->B + f->off + r]];
    QT_TRY(qt_backend_copy(f->be, f->y.data, f->be->device, ys, qt_device_host(), (size_t)er * sizeof(int32_t)));
    /* a device copy may still read the staging, which the next epoch rewrites */
    if (f->gpu) QT_TRY(qt_backend_synchronize(f->be));
    f->epoch = e;
    return QT_OK;
}

/* Rows [k·rows, (k+1)·rows) of t (a view). */
static qt_tensor_t step_view(const qt_tensor_t *t, int64_t k, int64_t rows)
{
    qt_tensor_t v = *t;
    size_t bytes = (size_t)(k * rows * t->strides[0]) * qt_dtype_size(t->dtype);
    v.data = (char *)t->data + bytes;
    v.offset += bytes;
    v.shape[0] = rows;
    v.owns_data = 0;
    return v;
}

/* grads ·= a on the compute device. */
static qt_status_t scale_grads(qt_dist_fusion_t *f, double a)
{
#ifdef QT_HAVE_CUDA
    if (f->gpu) return qt_dist_cuda_scale(f->be, f->grads.data, (size_t)f->np, f->dt == QT_F64, a);
#endif
    if (f->dt == QT_F64)
        for (int64_t i = 0; i < f->np; i++) ((double *)f->grads.data)[i] *= a;
    else
        for (int64_t i = 0; i < f->np; i++) ((float *)f->grads.data)[i] *= (float)a;
    return QT_OK;
}

/* waiter's queue after the work queued so far on signaler's (GPU: an event; host: in order already). */
static qt_status_t order(qt_dist_fusion_t *f, qt_backend_t *waiter, qt_backend_t *signaler)
{
#ifdef QT_HAVE_CUDA
    if (f->gpu) return qt_dist_cuda_after(waiter, signaler);
#endif
    (void)f;
    (void)waiter;
    (void)signaler;
    return QT_OK;
}

qt_status_t qt_dist_fusion_step(qt_dist_fusion_t *f, double *loss)
{
    QT_CHECK_ARG(f != NULL, "fusion dp step: NULL");
    int64_t k = f->step % f->spe, e = f->step / f->spe;
    if (e != f->epoch) QT_TRY(load_epoch(f, e));
    const qt_fusion_config_t *mc = &f->cfg.model;
    qt_tensor_t xv[QT_FUSION_MAX_MOD], yv = step_view(&f->y, k, f->rows);
    const qt_tensor_t *xp[QT_FUSION_MAX_MOD];
    for (int m = 0; m < mc->n_mod; m++) {
        xv[m] = step_view(&f->x[m], k, f->rows);
        xp[m] = &xv[m];
    }
    double l = 0;
    QT_TRY(qt_fusion_backward(f->be, mc, &f->params, xp, &yv, &f->grads, &f->work, NULL, loss ? &l : NULL, NULL));
    if (f->comm) {
        if (f->rows != f->B) QT_TRY(scale_grads(f, (double)f->rows / (double)f->B));
        QT_TRY(order(f, f->comm, f->be));
        QT_TRY(reap(f)); /* the last step's, done on the device before this step's backward began */
        qt_dist_req_t *req = NULL;
        QT_TRY(f->ops->iallreduce(f->comm, f->grads.data, f->grads.data, (size_t)f->np,
                                  f->dt == QT_F64 ? QT_DIST_F64 : QT_DIST_F32, QT_DIST_SUM, &req));
        if (f->gpu) {
            f->pending = req;
            QT_TRY(order(f, f->be, f->comm));
        } else {
            QT_TRY(qt_dist_wait(f->comm, req, "fusion gradient all-reduce"));
        }
    }
    qt_tensor_t *pp[1] = {&f->params};
    const qt_tensor_t *gp[1] = {&f->grads};
    QT_TRY(qt_optim_step(&f->adam, pp, gp));
    f->step++;
    if (loss) {
        double ls = l * (double)f->rows;
        if (f->comm && f->world > 1) QT_TRY(qt_dist_allreduce_raw(f->comm, &ls, &ls, 1, QT_DIST_F64, QT_DIST_SUM));
        *loss = ls / (double)f->B;
    }
    return QT_OK;
}

/* Tensor t (np elements of be's dtype) into host memory dst, its bytes (waits). */
static qt_status_t tensor_bytes(qt_dist_fusion_t *f, const qt_tensor_t *t, void *dst)
{
    QT_TRY(qt_backend_copy(f->be, dst, qt_device_host(), t->data, f->be->device, (size_t)f->np * f->es));
    return qt_backend_synchronize(f->be);
}

/* Tensor t as doubles on the host. */
static qt_status_t tensor_host(qt_dist_fusion_t *f, const qt_tensor_t *t, double *host)
{
    if (f->dt == QT_F64) return tensor_bytes(f, t, host);
    float *h = qt_alloc((size_t)f->np * sizeof(float));
    if (!h) return qt_fail(QT_ERR_NOMEM, "fusion dp read-back");
    qt_status_t s = tensor_bytes(f, t, h);
    for (int64_t i = 0; s == QT_OK && i < f->np; i++) host[i] = h[i];
    qt_free(h);
    return s;
}

qt_status_t qt_dist_fusion_params(qt_dist_fusion_t *f, double *host)
{
    QT_CHECK_ARG(f && host, "fusion dp params: NULL argument");
    return tensor_host(f, &f->params, host);
}

qt_status_t qt_dist_fusion_grads(qt_dist_fusion_t *f, double *host)
{
    QT_CHECK_ARG(f && host, "fusion dp grads: NULL argument");
    return tensor_host(f, &f->grads, host);
}

qt_status_t qt_dist_fusion_check_replicas(qt_dist_fusion_t *f)
{
    QT_CHECK_ARG(f != NULL, "fusion dp check_replicas: NULL");
    if (!f->comm || f->world <= 1) return QT_OK;
    void *t = qt_alloc((size_t)f->np * f->es);
    if (!t) return qt_fail(QT_ERR_NOMEM, "fusion dp checksum");
    qt_status_t s = tensor_bytes(f, &f->params, t);
    uint64_t h = s == QT_OK ? qt_dist_fnv(QT_DIST_FNV0, t, (size_t)f->np * f->es) : 0;
    qt_free(t);
    /* every rank takes part in the comparison, also one whose read-back failed (no rank left waiting) */
    qt_status_t c = qt_dist_same_hash(f->comm, h, "fusion parameters", (long long)f->step);
    return s != QT_OK ? s : c;
}
