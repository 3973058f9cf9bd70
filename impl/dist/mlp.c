/* mlp.c — data-, tensor- and hybrid-parallel training of dist.h's two-layer MLP on one code path
 * (dist.h states the algorithms): the TP shard of W1 (hidden rows [h0, h1)) and of W2 (the same
 * columns), the DP shard of the batch, bucketed non-blocking all-reduce of the gradient over the
 * dp ranks started while the backward pass continues, optional gradient compression, local SGD,
 * plain SGD, the bounded-staleness parameter server (ps.c: dp rank 0 serves, the others work),
 * replica checksums and per-rank compute / wait times for the load-balance metrics.
 * Layers are quintet/nn.h's Linear (OpenBLAS); the data set is `batches_per_epoch` global
 * batches of the seeded teacher task, generated once (each rank its own rows).
 * On a GPU dp instance (nccl) the data-parallel step runs on the GPU instead (cuda/mlp.cu,
 * cuda/gpu.h): same initial weights, data and flat parameter layout, dense or top-k gradients;
 * this file keeps the loss all-reduce, replicas, stats and shapes (tp 1, no ps / local SGD / dx).
 * Tests: tests/dist/test_dist.c, tests/dist/test_nccl.c (GPU); benchmark: suites/dist_throughput.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quintet/nn.h"
#ifdef QT_HAVE_CUDA
#include "cuda/gpu.h"
#endif
#include "quintet/rng.h"

#define BATCHES_PER_EPOCH 4

struct qt_dist_mlp {
    qt_dist_mlp_config_t cfg;
    qt_backend_t *dp, *tp;
    int dp_rank, dp_world, tp_rank, tp_world;
    int h0, hs;            /* this rank's hidden units [h0, h0 + hs) */
    int row0, rows;        /* this rank's rows of each global batch */
    qt_nn_linear_t l1, l2; /* in → hs, hs → classes (l2's bias stays 0: b2 is added after the TP sum) */
    float *b2, *db2;
    float *x, *h, *z, *dz, *dh, *dx; /* activations of one step */
    int32_t *y;
    float *data_x;         /* BATCHES_PER_EPOCH batches of this rank's rows */
    int32_t *data_y;
    float *g, *p;          /* flat gradient / parameters [W2s b2 W1s b1s] */
    size_t n, off_b2, off_w1, off_b1;
    qt_dist_req_t **req;   /* one per bucket */
    size_t n_buckets, bucket;
    qt_compressor_t *comp;
    qt_dist_ps_t *ps;      /* cfg.ps: the parameter server (server on dp rank 0) */
    int64_t steps;
    double compute_s, wait_s, phase_s[4];
    void *gpu;             /* qt_dist_gmlp_t: the step runs on the dp instance's GPU */
};

void qt_dist_mlp_config_default(qt_dist_mlp_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->in = 64;
    cfg->hidden = 128;
    cfg->classes = 10;
    cfg->batch = 64;
    cfg->lr = 0.1f;
    cfg->bucket_bytes = 1 << 20;
    cfg->seed = 1;
    cfg->slow_rank = -1;
    cfg->slow_factor = 1;
}

void qt_dist_data_batch(uint64_t seed, int64_t step, int batch, int row0, int rows, int in, int classes, float *x,
                        int32_t *y)
{
    float *T = malloc(sizeof(float) * (size_t)classes * (size_t)in);
    if (T) qt_rng_fill_normal_f32(T, (size_t)classes * (size_t)in, seed, 7, 0, 0.0f, 1.0f);
    /* rows are independent (Philox by index): threads change no value (the GPU cases' batches,
     * 4 × 8192 × 1024 draws, took ~2.5 s of each case's wall time on one thread) */
#pragma omp parallel for schedule(static) if (rows >= 256)
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * (size_t)in;
        uint64_t row = (uint64_t)step * (uint64_t)batch + (uint64_t)(row0 + r);
        qt_rng_fill_normal_f32(xr, (size_t)in, seed, 1000, row * (uint64_t)in, 0.0f, 1.0f);
        int best = 0;
        double bv = -INFINITY;
        for (int c = 0; T && c < classes; c++) {
            double s = 0;
            for (int j = 0; j < in; j++) s += (double)T[(size_t)c * (size_t)in + (size_t)j] * xr[j];
            if (s > bv) { bv = s; best = c; }
        }
        y[r] = best;
    }
    free(T);
}

/* rank's share of n items: [*off, *off + *cnt), by shares (NULL: equal, remainder to the first ranks). */
static void share_of(int n, int world, int rank, const double *shares, int *off, int *cnt)
{
    int o = 0;
    for (int r = 0; r <= rank; r++) {
        int c;
        if (shares) {
            double acc0 = 0, acc1 = 0;
            for (int q = 0; q < r; q++) acc0 += shares[q];
            acc1 = acc0 + shares[r];
            c = (r == world - 1) ? n - (int)lround(acc0 * n) : (int)lround(acc1 * n) - (int)lround(acc0 * n);
        } else {
            c = n / world + (r < n % world);
        }
        if (r == rank) { *off = o; *cnt = c; }
        o += c;
    }
}

void qt_dist_mlp_free(qt_dist_mlp_t *m)
{
    if (!m) return;
#ifdef QT_HAVE_CUDA
    qt_dist_gmlp_free(m->gpu);
#endif
    for (size_t b = 0; m->req && b < m->n_buckets; b++)
        if (m->req[b]) (void)qt_dist_wait(m->dp, m->req[b], "gradient bucket");
    qt_nn_linear_free(&m->l1);
    qt_nn_linear_free(&m->l2);
    void *bufs[] = {m->b2, m->db2, m->x, m->h, m->z, m->dz, m->dh, m->dx, m->y, m->data_x, m->data_y, m->g, m->p};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) qt_free(bufs[i]);
    free(m->req);
    qt_compress_free(m->comp);
    qt_dist_ps_free(m->ps);
    free(m);
}

/* Allocate n floats (tracked); records failure. */
static float *falloc(size_t n, qt_status_t *s)
{
    float *p = qt_calloc(n * sizeof(float) + 4);
    if (!p && *s == QT_OK) *s = qt_fail(QT_ERR_NOMEM, "MLP buffer of %zu floats", n);
    return p;
}

/* Shares of n ranks: each > 0, summing to 1. */
static qt_status_t check_shares(const double *sh, int n, const char *what)
{
    double sum = 0;
    for (int r = 0; r < n; r++) {
        QT_CHECK_ARG(sh[r] > 0, "share of %s rank %d is %g (must be > 0)", what, r, sh[r]);
        sum += sh[r];
    }
    QT_CHECK_ARG(fabs(sum - 1) < 1e-6, "%s shares sum to %g, not 1", what, sum);
    return QT_OK;
}

static void pack_params(qt_dist_mlp_t *m, float *p);

qt_status_t qt_dist_mlp_init(qt_dist_mlp_t **out, qt_backend_t *dp, qt_backend_t *tp, const qt_dist_mlp_config_t *cfg)
{
    QT_CHECK_ARG(out && cfg, "mlp_init: NULL argument");
    *out = NULL;
    QT_CHECK_ARG(cfg->in > 0 && cfg->hidden > 0 && cfg->classes > 1 && cfg->batch > 0 && cfg->lr > 0,
                 "mlp: in %d, hidden %d, classes %d, batch %d, lr %g must be positive (classes > 1)", cfg->in,
                 cfg->hidden, cfg->classes, cfg->batch, cfg->lr);
    if (dp && !qt_dist_ops_of(dp)) return QT_ERR_UNSUPPORTED;
    if (tp && !qt_dist_ops_of(tp)) return QT_ERR_UNSUPPORTED;
    int dpw = dp ? dp->world : 1, tpw = tp ? tp->world : 1;
    QT_CHECK_ARG(cfg->tp_shares || cfg->hidden % tpw == 0, "hidden %d must be a multiple of the tp size %d (or give "
                 "tp_shares)", cfg->hidden, tpw);
    QT_CHECK_ARG(cfg->batch >= dpw, "batch %d smaller than the dp size %d", cfg->batch, dpw);
    QT_CHECK_ARG(cfg->local_steps >= 0, "local_steps %d must be >= 0", cfg->local_steps);
    if (cfg->shares) QT_TRY(check_shares(cfg->shares, dpw, "dp"));
    if (cfg->tp_shares) QT_TRY(check_shares(cfg->tp_shares, tpw, "tp"));
    if (cfg->ps) {
        QT_CHECK_ARG(dpw >= 2 && tpw == 1 && cfg->compress.kind == QT_COMPRESS_NONE && cfg->local_steps == 0 &&
                         !cfg->shares && cfg->staleness >= 0,
                     "parameter server: needs >= 2 dp ranks (got %d), no tp (%d), compression, local SGD or shares, "
                     "and staleness >= 0 (%d)", dpw, tpw, cfg->staleness);
        QT_CHECK_ARG(cfg->batch >= dpw - 1, "batch %d smaller than the %d workers", cfg->batch, dpw - 1);
    }
    qt_dist_mlp_t *m = calloc(1, sizeof *m);
    if (!m) return qt_fail(QT_ERR_NOMEM, "mlp");
    m->cfg = *cfg;
    m->cfg.shares = m->cfg.tp_shares = NULL; /* the caller's arrays need not outlive init */
    m->dp = dp;
    m->tp = tp;
    m->dp_rank = dp ? dp->rank : 0;
    m->dp_world = dpw;
    m->tp_rank = tp ? tp->rank : 0;
    m->tp_world = tpw;
    share_of(cfg->hidden, tpw, m->tp_rank, cfg->tp_shares, &m->h0, &m->hs);
    QT_CHECK_ARG(m->hs > 0, "tp rank %d got no hidden units", m->tp_rank);
    if (cfg->ps && m->dp_rank == 0) { /* the server: the whole batch, for its loss only */
        m->row0 = 0;
        m->rows = cfg->batch;
    } else if (cfg->ps) {
        share_of(cfg->batch, dpw - 1, m->dp_rank - 1, NULL, &m->row0, &m->rows);
    } else {
        share_of(cfg->batch, dpw, m->dp_rank, cfg->shares, &m->row0, &m->rows);
    }
    QT_CHECK_ARG(m->rows > 0, "dp rank %d got no rows of the batch", m->dp_rank);
    int I = cfg->in, H = cfg->hidden, C = cfg->classes, hs = m->hs, R = m->rows;

    /* The full single-process layers from the seed, then this rank's slices. */
    qt_nn_linear_t f1 = {0}, f2 = {0};
    qt_status_t s = qt_nn_linear_init(&f1, I, H, cfg->seed, 1);
    if (s == QT_OK) s = qt_nn_linear_init(&f2, H, C, cfg->seed, 2);
    if (s == QT_OK) s = qt_nn_linear_init(&m->l1, I, hs, cfg->seed, 1);
    if (s == QT_OK) s = qt_nn_linear_init(&m->l2, hs, C, cfg->seed, 2);
    m->b2 = falloc((size_t)C, &s);
    m->db2 = falloc((size_t)C, &s);
    if (s == QT_OK) {
        memcpy(m->l1.W, f1.W + (size_t)m->h0 * I, sizeof(float) * (size_t)hs * I);
        memcpy(m->l1.b, f1.b + m->h0, sizeof(float) * (size_t)hs);
        for (int c = 0; c < C; c++)
            memcpy(m->l2.W + (size_t)c * hs, f2.W + (size_t)c * H + m->h0, sizeof(float) * (size_t)hs);
        memset(m->l2.b, 0, sizeof(float) * (size_t)C);
        memcpy(m->b2, f2.b, sizeof(float) * (size_t)C);
    }
    qt_nn_linear_free(&f1);
    qt_nn_linear_free(&f2);
    m->x = falloc((size_t)R * I, &s);
    m->h = falloc((size_t)R * hs, &s);
    m->z = falloc((size_t)R * C, &s);
    m->dz = falloc((size_t)R * C, &s);
    m->dh = falloc((size_t)R * hs, &s);
    m->dx = falloc((size_t)R * I, &s);
    m->y = (int32_t *)falloc((size_t)R, &s);
    m->data_x = falloc((size_t)BATCHES_PER_EPOCH * R * I, &s);
    m->data_y = (int32_t *)falloc((size_t)BATCHES_PER_EPOCH * R, &s);
    m->off_b2 = (size_t)C * hs;
    m->off_w1 = m->off_b2 + (size_t)C;
    m->off_b1 = m->off_w1 + (size_t)hs * I;
    m->n = m->off_b1 + (size_t)hs;
    m->g = falloc(m->n, &s);
    m->p = falloc(m->n, &s);
    m->bucket = (cfg->bucket_bytes ? cfg->bucket_bytes : (1 << 20)) / sizeof(float);
    if (m->bucket < 1) m->bucket = 1;
    m->n_buckets = (m->n + m->bucket - 1) / m->bucket;
    m->req = calloc(m->n_buckets, sizeof *m->req);
    if (!m->req && s == QT_OK) s = qt_fail(QT_ERR_NOMEM, "bucket requests");
    for (int b = 0; s == QT_OK && b < BATCHES_PER_EPOCH; b++)
        qt_dist_data_batch(cfg->seed, b, cfg->batch, m->row0, R, I, C, m->data_x + (size_t)b * R * I,
                           m->data_y + (size_t)b * R);
    int gpu = dp && !qt_device_is_host(dp->device);
    if (s == QT_OK && gpu) {
#ifdef QT_HAVE_CUDA
        if (tpw > 1 || cfg->ps || cfg->local_steps > 0 || cfg->want_dx)
            s = qt_fail(QT_ERR_UNSUPPORTED, "mlp on the GPU (dp instance %s): data parallel only (tp %d, ps %d, "
                        "local_steps %d, want_dx %d)", qt_backend_name(dp), tpw, cfg->ps, cfg->local_steps, cfg->want_dx);
        if (s == QT_OK) {
            pack_params(m, m->p);
            qt_dist_gmlp_t *g = NULL;
            s = qt_dist_gmlp_init(&g, dp, cfg, R, BATCHES_PER_EPOCH, m->data_x, m->data_y, m->p);
            m->gpu = g;
        }
#else
        s = qt_fail(QT_ERR_UNSUPPORTED, "dp instance %s is on a GPU but this build has no CUDA", qt_backend_name(dp));
#endif
    }
    if (s == QT_OK && !gpu && cfg->compress.kind != QT_COMPRESS_NONE) {
        int rows[4] = {C, 1, hs, 1}, cols[4] = {hs, C, I, hs};
        s = qt_compress_init(&m->comp, &cfg->compress, 4, rows, cols);
    }
    if (s == QT_OK && cfg->ps) s = qt_dist_ps_init(&m->ps, dp, m->n, cfg->staleness);
    if (s != QT_OK) {
        qt_dist_mlp_free(m);
        return s;
    }
    *out = m;
    return QT_OK;
}

/* Time a communication wait. */
static qt_status_t timed_wait(qt_dist_mlp_t *m, qt_backend_t *be, qt_dist_req_t *req, const char *what)
{
    double t0 = qt_dist_now();
    qt_status_t s = qt_dist_wait(be, req, what);
    m->wait_s += qt_dist_now() - t0;
    return s;
}

/* Blocking all-reduce (sum) in place over be, timed as communication. */
static qt_status_t timed_allreduce(qt_dist_mlp_t *m, qt_backend_t *be, float *x, size_t n)
{
    if (!be || be->world <= 1) return QT_OK;
    double t0 = qt_dist_now();
    qt_status_t s = qt_dist_allreduce_raw(be, x, x, n, QT_DIST_F32, QT_DIST_SUM);
    m->wait_s += qt_dist_now() - t0;
    return s;
}

/* Forward of batch `step` into m->z (logits, TP-summed, + b2). Returns compute time via m. */
static qt_status_t forward(qt_dist_mlp_t *m, int64_t step)
{
    int I = m->cfg.in, C = m->cfg.classes, R = m->rows;
    int64_t b = step % BATCHES_PER_EPOCH;
    memcpy(m->x, m->data_x + (size_t)b * R * I, sizeof(float) * (size_t)R * I);
    memcpy(m->y, m->data_y + (size_t)b * R, sizeof(int32_t) * (size_t)R);
    double t0 = qt_dist_now();
    int reps = m->dp_rank == m->cfg.slow_rank && m->cfg.slow_factor > 1 ? m->cfg.slow_factor : 1;
    for (int k = 0; k < reps; k++) QT_TRY(qt_nn_linear_forward(&m->l1, m->x, R, m->h));
    QT_TRY(qt_nn_relu_forward(m->h, m->h, (size_t)R * m->hs));
    QT_TRY(qt_nn_linear_forward(&m->l2, m->h, R, m->z));
    m->compute_s += qt_dist_now() - t0;
    QT_TRY(timed_allreduce(m, m->tp, m->z, (size_t)R * C)); /* Megatron: the forward all-reduce */
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) m->z[(size_t)r * C + c] += m->b2[c];
    return QT_OK;
}

/* Start the dp all-reduce of every bucket lying wholly within the ready prefix [0, ready). */
static qt_status_t launch_buckets(qt_dist_mlp_t *m, size_t ready, size_t *next)
{
    if (!m->dp || m->dp_world <= 1 || m->comp || m->cfg.local_steps > 0 || m->ps) return QT_OK;
    const qt_dist_ops_t *ops = qt_dist_ops_of(m->dp);
    while (*next < m->n_buckets) {
        size_t lo = *next * m->bucket, hi = lo + m->bucket < m->n ? lo + m->bucket : m->n;
        if (hi > ready) break;
        QT_TRY(ops->iallreduce(m->dp, m->g + lo, m->g + lo, hi - lo, QT_DIST_F32, QT_DIST_SUM, &m->req[*next]));
        (*next)++;
    }
    return QT_OK;
}

/* Flat parameters ↔ layers. */
static void pack_params(qt_dist_mlp_t *m, float *p)
{
    size_t C = (size_t)m->cfg.classes, hs = (size_t)m->hs, I = (size_t)m->cfg.in;
    memcpy(p, m->l2.W, sizeof(float) * C * hs);
    memcpy(p + m->off_b2, m->b2, sizeof(float) * C);
    memcpy(p + m->off_w1, m->l1.W, sizeof(float) * hs * I);
    memcpy(p + m->off_b1, m->l1.b, sizeof(float) * hs);
}

static void unpack_params(qt_dist_mlp_t *m, const float *p)
{
    size_t C = (size_t)m->cfg.classes, hs = (size_t)m->hs, I = (size_t)m->cfg.in;
    memcpy(m->l2.W, p, sizeof(float) * C * hs);
    memcpy(m->b2, p + m->off_b2, sizeof(float) * C);
    memcpy(m->l1.W, p + m->off_w1, sizeof(float) * hs * I);
    memcpy(m->l1.b, p + m->off_b1, sizeof(float) * hs);
}

/* The loss of batch `step` over this rank's rows at its weights, without communication. */
static qt_status_t local_loss(qt_dist_mlp_t *m, int64_t step, double *loss)
{
    QT_TRY(forward(m, step));
    return qt_nn_softmax_xent(m->z, m->y, m->rows, m->cfg.classes, loss, NULL, NULL);
}

/* The parameter server's step: apply one round's worth (W) of the workers' gradients. */
static qt_status_t server_step(qt_dist_mlp_t *m, int64_t step, double *loss)
{
    pack_params(m, m->p);
    double t0 = qt_dist_now();
    qt_status_t s = qt_dist_ps_serve(m->ps, m->p, m->cfg.lr, qt_dist_ps_workers(m->ps));
    m->wait_s += qt_dist_now() - t0;
    unpack_params(m, m->p);
    QT_TRY(s);
    m->steps++;
    return loss ? local_loss(m, step, loss) : QT_OK;
}

qt_status_t qt_dist_mlp_step(qt_dist_mlp_t *m, int64_t step, double *loss)
{
    QT_CHECK_ARG(m != NULL, "mlp_step: NULL model");
#ifdef QT_HAVE_CUDA
    if (m->gpu) { /* the step on the GPU; the global loss as below */
        double l = 0;
        QT_TRY(qt_dist_gmlp_step(m->gpu, step, loss ? &l : NULL));
        m->steps++;
        if (loss) {
            double ls = l * m->rows;
            if (m->dp_world > 1) QT_TRY(qt_dist_allreduce_raw(m->dp, &ls, &ls, 1, QT_DIST_F64, QT_DIST_SUM));
            *loss = ls / m->cfg.batch;
        }
        return QT_OK;
    }
#endif
    if (m->ps && m->dp_rank == 0) return server_step(m, step, loss);
    int I = m->cfg.in, C = m->cfg.classes, R = m->rows, hs = m->hs;
    QT_TRY(forward(m, step));
    double t0 = qt_dist_now();
    double l = 0;
    QT_TRY(qt_nn_softmax_xent(m->z, m->y, R, C, &l, m->dz, NULL));
    /* d(Σ_rows loss / B): the local mean's gradient times rows/B (local SGD: the local mean). */
    float scale = m->cfg.local_steps > 0 ? 1.0f : (float)R / (float)m->cfg.batch;
    for (size_t i = 0; i < (size_t)R * C; i++) m->dz[i] *= scale;
    qt_nn_linear_zero_grad(&m->l1);
    qt_nn_linear_zero_grad(&m->l2);
    memset(m->db2, 0, sizeof(float) * (size_t)C);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) m->db2[c] += m->dz[(size_t)r * C + c];
    QT_TRY(qt_nn_linear_backward(&m->l2, m->h, m->dz, R, m->dh));
    memcpy(m->g, m->l2.dW, sizeof(float) * (size_t)C * hs);
    memcpy(m->g + m->off_b2, m->db2, sizeof(float) * (size_t)C);
    m->compute_s += qt_dist_now() - t0;
    size_t next = 0;
    QT_TRY(launch_buckets(m, m->off_w1, &next)); /* layer 2's buckets travel during layer 1's backward */
    t0 = qt_dist_now();
    QT_TRY(qt_nn_relu_backward(m->h, m->dh, m->dh, (size_t)R * hs));
    QT_TRY(qt_nn_linear_backward(&m->l1, m->x, m->dh, R, m->cfg.want_dx ? m->dx : NULL));
    memcpy(m->g + m->off_w1, m->l1.dW, sizeof(float) * (size_t)hs * I);
    memcpy(m->g + m->off_b1, m->l1.db, sizeof(float) * (size_t)hs);
    m->compute_s += qt_dist_now() - t0;
    QT_TRY(launch_buckets(m, m->n, &next));
    if (m->cfg.want_dx) QT_TRY(timed_allreduce(m, m->tp, m->dx, (size_t)R * I)); /* the backward all-reduce */
    for (size_t b = 0; b < next; b++) {
        qt_dist_req_t *rq = m->req[b];
        m->req[b] = NULL;
        QT_TRY(timed_wait(m, m->dp, rq, "gradient bucket all-reduce"));
    }
    if (m->comp) {
        double tc = qt_dist_now();
        QT_TRY(qt_compress_exchange(m->comp, m->dp, m->g));
        for (size_t i = 0; i < m->n; i++) m->g[i] *= (float)m->dp_world; /* mean → sum of rows/B-scaled parts */
        m->wait_s += qt_dist_now() - tc;
    }
    if (m->ps) { /* a worker: push the gradient, continue with the server's parameters */
        double tw = qt_dist_now();
        qt_status_t s = qt_dist_ps_push_pull(m->ps, step, m->g, m->p);
        m->wait_s += qt_dist_now() - tw;
        QT_TRY(s);
        unpack_params(m, m->p);
        m->steps++;
        if (loss) *loss = l;
        return QT_OK;
    }
    t0 = qt_dist_now();
    pack_params(m, m->p);
    float lr = m->cfg.lr;
    for (size_t i = 0; i < m->n; i++) m->p[i] -= lr * m->g[i];
    m->steps++;
    if (m->cfg.local_steps > 0 && m->steps % m->cfg.local_steps == 0 && m->dp_world > 1) {
        m->compute_s += qt_dist_now() - t0;
        QT_TRY(timed_allreduce(m, m->dp, m->p, m->n));
        t0 = qt_dist_now();
        float inv = 1.0f / (float)m->dp_world;
        for (size_t i = 0; i < m->n; i++) m->p[i] *= inv;
    }
    unpack_params(m, m->p);
    m->compute_s += qt_dist_now() - t0;
    if (loss) {
        double ls = l * R;
        if (m->dp && m->dp_world > 1) QT_TRY(qt_dist_allreduce_raw(m->dp, &ls, &ls, 1, QT_DIST_F64, QT_DIST_SUM));
        *loss = ls / m->cfg.batch;
    }
    return QT_OK;
}

qt_status_t qt_dist_mlp_eval(qt_dist_mlp_t *m, int64_t step, double *loss)
{
    QT_CHECK_ARG(m && loss, "mlp_eval: NULL argument");
    if (m->ps) { /* every rank takes the server's parameters; the server's loss counts */
        const qt_dist_ops_t *ops = qt_dist_ops_of(m->dp);
        qt_dist_req_t *rq = NULL;
        if (m->dp_rank == 0) pack_params(m, m->p);
        QT_TRY(ops->ibroadcast(m->dp, m->p, m->n, QT_DIST_F32, 0, &rq));
        QT_TRY(qt_dist_wait(m->dp, rq, "parameter server broadcast"));
        unpack_params(m, m->p);
    }
    double l = 0;
#ifdef QT_HAVE_CUDA
    if (m->gpu) QT_TRY(qt_dist_gmlp_eval(m->gpu, step, &l));
    else
#endif
        QT_TRY(local_loss(m, step, &l));
    double ls = m->ps && m->dp_rank != 0 ? 0 : l * m->rows;
    if (m->dp && m->dp_world > 1) QT_TRY(qt_dist_allreduce_raw(m->dp, &ls, &ls, 1, QT_DIST_F64, QT_DIST_SUM));
    *loss = ls / m->cfg.batch;
    return QT_OK;
}

/* GPU: the flat parameters [W2 b2 W1 b1] read back into m->p (the same bytes, in the same order,
 * as the host layers hashed below). */
static qt_status_t gpu_params(qt_dist_mlp_t *m)
{
#ifdef QT_HAVE_CUDA
    if (m->gpu) return qt_dist_gmlp_params(m->gpu, m->p);
#endif
    (void)m;
    return QT_OK;
}

uint64_t qt_dist_mlp_checksum(const qt_dist_mlp_t *m)
{
    uint64_t h = QT_DIST_FNV0;
    if (m->gpu) /* m->p is a scratch copy: reading it back changes no state of the model */
        return gpu_params((qt_dist_mlp_t *)m) == QT_OK ? qt_dist_fnv(h, m->p, m->n * sizeof(float)) : 0;
    const void *parts[] = {m->l2.W, m->b2, m->l1.W, m->l1.b};
    size_t sizes[] = {m->off_b2, (size_t)m->cfg.classes, m->off_b1 - m->off_w1, (size_t)m->hs};
    for (int k = 0; k < 4; k++) h = qt_dist_fnv(h, parts[k], sizes[k] * sizeof(float));
    return h;
}

qt_status_t qt_dist_mlp_check_replicas(qt_dist_mlp_t *m)
{
    QT_CHECK_ARG(m != NULL, "check_replicas: NULL model");
    if (!m->dp || m->dp_world <= 1) return QT_OK;
    QT_TRY(gpu_params(m));
    return qt_dist_same_hash(m->dp, qt_dist_mlp_checksum(m), "weights", (long long)m->steps);
}

qt_status_t qt_dist_mlp_get_full(qt_dist_mlp_t *m, float *W1, float *b1, float *W2, float *b2)
{
    QT_CHECK_ARG(m && W1 && b1 && W2 && b2, "get_full: NULL argument");
    int I = m->cfg.in, H = m->cfg.hidden, C = m->cfg.classes, hs = m->hs, h0 = m->h0;
    if (m->gpu) { /* tp 1: the flat parameters are the whole model */
        QT_TRY(gpu_params(m));
        memcpy(W2, m->p, sizeof(float) * (size_t)C * H);
        memcpy(b2, m->p + m->off_b2, sizeof(float) * (size_t)C);
        memcpy(W1, m->p + m->off_w1, sizeof(float) * (size_t)H * I);
        memcpy(b1, m->p + m->off_b1, sizeof(float) * (size_t)H);
        return QT_OK;
    }
    /* This rank's slice in zeroed full matrices, summed over tp: exact (x + 0 = x), and any
     * split of the hidden units, even or not. */
    memset(W1, 0, sizeof(float) * (size_t)H * I);
    memset(b1, 0, sizeof(float) * (size_t)H);
    memset(W2, 0, sizeof(float) * (size_t)C * H);
    memcpy(W1 + (size_t)h0 * I, m->l1.W, sizeof(float) * (size_t)hs * I);
    memcpy(b1 + h0, m->l1.b, sizeof(float) * (size_t)hs);
    for (int c = 0; c < C; c++)
        memcpy(W2 + (size_t)c * H + h0, m->l2.W + (size_t)c * hs, sizeof(float) * (size_t)hs);
    memcpy(b2, m->b2, sizeof(float) * (size_t)C);
    if (m->tp_world <= 1) return QT_OK;
    QT_TRY(qt_dist_allreduce_raw(m->tp, W1, W1, (size_t)H * I, QT_DIST_F32, QT_DIST_SUM));
    QT_TRY(qt_dist_allreduce_raw(m->tp, b1, b1, (size_t)H, QT_DIST_F32, QT_DIST_SUM));
    return qt_dist_allreduce_raw(m->tp, W2, W2, (size_t)C * H, QT_DIST_F32, QT_DIST_SUM);
}

const float *qt_dist_mlp_dx(const qt_dist_mlp_t *m, int *rows)
{
    if (rows) *rows = m ? m->rows : 0;
    return m && m->cfg.want_dx && m->steps > 0 ? m->dx : NULL;
}

qt_status_t qt_dist_mlp_stats(qt_dist_mlp_t *m, qt_dist_stats_t *st, int reset)
{
    QT_CHECK_ARG(m && st, "mlp_stats: NULL argument");
    memset(st, 0, sizeof *st);
#ifdef QT_HAVE_CUDA
    if (m->gpu) { /* GPU event times: forward + backward, and communication exposed after it */
        double c = 0, w = 0, ph[4];
        QT_TRY(qt_dist_gmlp_times(m->gpu, &c, &w, ph));
        m->compute_s += c;
        m->wait_s += w;
        for (int k = 0; k < 4; k++) m->phase_s[k] += ph[k];
    }
#endif
    st->compute_s = m->compute_s;
    st->comm_wait_s = m->wait_s;
    for (int k = 0; k < 4; k++) st->phase_s[k] = m->phase_s[k];
    qt_compress_bytes(m->comp, &st->bytes_sent, &st->bytes_logical);
#ifdef QT_HAVE_CUDA
    if (m->gpu && m->cfg.compress.kind != QT_COMPRESS_NONE) qt_dist_gmlp_bytes(m->gpu, &st->bytes_sent, &st->bytes_logical);
    else
#endif
    if (!m->comp) st->bytes_sent = st->bytes_logical = (m->dp_world > 1 && m->cfg.local_steps == 0)
                                                          ? 4.0 * (double)m->n * (double)m->steps : 0;
    if (m->ps) { /* a worker pushes n + 1 floats a step; the server answers W per step */
        st->bytes_sent = st->bytes_logical = 4.0 * (double)m->steps *
            (m->dp_rank ? (double)m->n + 1 : (double)m->n * qt_dist_ps_workers(m->ps));
        double g[2] = {0, 0};
        qt_dist_ps_staleness(m->ps, &st->ps_max_gap, &g[1]);
        g[0] = (double)st->ps_max_gap;
        QT_TRY(qt_dist_allreduce_raw(m->dp, g, g, 2, QT_DIST_F64, QT_DIST_MAX));
        st->ps_max_gap = (int64_t)g[0];
        st->ps_mean_delay = g[1];
    }
    /* compute times of the whole grid: over tp, then those rows over dp (grid rank d·tp + t) */
    int w = m->dp_world, tw = m->tp_world, n = w * tw;
    double *all = malloc(sizeof(double) * (size_t)n), *row = malloc(sizeof(double) * (size_t)tw);
    qt_status_t s = all && row ? QT_OK : qt_fail(QT_ERR_NOMEM, "stats");
    if (s == QT_OK && tw > 1) s = qt_dist_allgather_raw(m->tp, &m->compute_s, row, 1, QT_DIST_F64);
    else if (s == QT_OK) row[0] = m->compute_s;
    if (s == QT_OK && w > 1) s = qt_dist_allgather_raw(m->dp, row, all, (size_t)tw, QT_DIST_F64);
    else if (s == QT_OK) memcpy(all, row, sizeof(double) * (size_t)tw);
    if (s == QT_OK) {
        double sum = 0, mx = -1;
        for (int r = 0; r < n; r++) {
            sum += all[r];
            if (all[r] > mx) { mx = all[r]; st->slowest_rank = r; }
        }
        st->mean_compute_s = sum / n;
        st->max_compute_s = mx;
        st->load_imbalance = sum > 0 ? mx / (sum / n) : 1.0;
    }
    free(all);
    free(row);
    if (reset) {
        m->compute_s = m->wait_s = 0;
        memset(m->phase_s, 0, sizeof m->phase_s);
    }
    return s;
}

qt_status_t qt_dist_balance_shares(qt_backend_t *be, double rows_per_s, double *out)
{
    QT_CHECK_ARG(out && rows_per_s > 0, "balance: rows_per_s %g must be > 0 and out not NULL", rows_per_s);
    int w = be ? be->world : 1;
    if (w > 1) QT_TRY(qt_dist_allgather_raw(be, &rows_per_s, out, 1, QT_DIST_F64));
    else out[0] = rows_per_s;
    double sum = 0;
    for (int r = 0; r < w; r++) sum += out[r];
    for (int r = 0; r < w; r++) out[r] /= sum;
    return QT_OK;
}
