/* train.c — training and evaluating a fusion model on a backend instance. Training copies the
 * host data set (f32) once to the backend's device in its dtype; each step gathers its batch
 * there (the kernels' gather, rows of a seeded shuffle uploaded once per epoch), runs forward +
 * backward and Adam (torch defaults, impl/optim) over the one flat parameter tensor, all queued
 * on the device: nothing comes back per step but the loss of the last 10% of steps (the
 * reported final loss, checked finite). Evaluation loads batches from the host. Also
 * accuracy; and EMAP (Hessel & Lee 2020), the accuracy of the model's best additive
 * approximation (quintet/fusion.h). Deterministic for a seed and thread count.
 * Tests: tests/fusion/test_fusion.c; used by suites/fusion_accuracy.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "quintet/optim.h"
#include "quintet/rng.h"

/* ---- the optimizer: Adam of impl/optim on the same backend instance, state on its device ---- */
typedef struct {
    qt_optim_t o;
} adam_t;

/* Adam with torch's defaults and learning rate lr over one tensor of n elements of dt. */
static qt_status_t adam_init(adam_t *a, qt_backend_t *be, double lr, qt_dtype_t dt, size_t n)
{
    qt_optim_config_t cfg;
    QT_TRY(qt_optim_config_default(QT_OPTIM_ADAM, &cfg));
    cfg.lr = lr;
    return qt_optim_init(&a->o, be, &cfg, NULL, dt, 1, &n);
}

static qt_status_t adam_step(adam_t *a, qt_tensor_t *params, const qt_tensor_t *grads)
{
    qt_tensor_t *p[1] = {params};
    const qt_tensor_t *g[1] = {grads};
    return qt_optim_step(&a->o, p, g);
}

/* ---- batches ---- */

/* Epoch `epoch`'s order of the samples (fusion.h). */
void qt_fusion_epoch_order(int64_t *perm, int64_t n, uint64_t seed, uint64_t epoch)
{
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(qt_rng_u32(seed, 300 + epoch, (uint64_t)i) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
typedef struct {
    int n_mod;
    int64_t cap;
    qt_dtype_t dt;
    qt_tensor_t x[QT_FUSION_MAX_MOD], y, work, logits;
    void *stage; /* host staging for one modality's rows in dt */
    int32_t *ystage;
} batch_t;

static void batch_free(batch_t *b)
{
    for (int m = 0; m < QT_FUSION_MAX_MOD; m++) qt_tensor_free(&b->x[m]);
    qt_tensor_free(&b->y);
    qt_tensor_free(&b->work);
    qt_tensor_free(&b->logits);
    qt_free(b->stage);
    qt_free(b->ystage);
    memset(b, 0, sizeof *b);
}

static qt_status_t batch_init(batch_t *b, qt_backend_t *be, const qt_fusion_config_t *cfg, int64_t cap)
{
    memset(b, 0, sizeof *b);
    QT_TRY(qt_fusion_dtype(be, &b->dt));
    b->n_mod = cfg->n_mod;
    b->cap = cap;
    int64_t big = 0, ws = qt_fusion_work_size(cfg, cap), ls[2] = {cap, cfg->classes};
    qt_status_t s = qt_tensor_alloc(&b->y, be, QT_I32, 1, &cap);
    for (int m = 0; m < cfg->n_mod && s == QT_OK; m++) {
        int64_t shape[3] = {cap, cfg->len[m], cfg->feat[m]};
        s = qt_tensor_alloc(&b->x[m], be, b->dt, 3, shape);
        if (shape[1] * shape[2] > big) big = shape[1] * shape[2];
    }
    if (s == QT_OK) s = qt_tensor_alloc(&b->work, be, b->dt, 1, &ws);
    if (s == QT_OK) s = qt_tensor_alloc(&b->logits, be, b->dt, 2, ls);
    b->stage = qt_alloc((size_t)(cap * big) * qt_dtype_size(b->dt));
    b->ystage = qt_alloc((size_t)cap * sizeof(int32_t));
    if (s == QT_OK && (!b->stage || !b->ystage)) s = qt_fail(QT_ERR_NOMEM, "fusion batch of %lld", (long long)cap);
    if (s != QT_OK) batch_free(b);
    return s;
}

/* A view of the first n rows of t. */
static qt_tensor_t rows_view(const qt_tensor_t *t, int64_t n)
{
    qt_tensor_t v = *t;
    v.shape[0] = n;
    v.owns_data = 0;
    return v;
}

/* Load n samples: modality m of row b from sample idx[m][b], labels from idx[0]. */
static qt_status_t batch_load(batch_t *b, qt_backend_t *be, const qt_fusion_data_t *d, const int64_t *const *idx,
                              int64_t n)
{
    size_t es = qt_dtype_size(b->dt);
    for (int m = 0; m < b->n_mod; m++) {
        int64_t row = d->x[m].shape[1] * d->x[m].shape[2];
        const float *src = d->x[m].data;
        for (int64_t r = 0; r < n; r++) {
            const float *s = src + idx[m][r] * row;
            if (b->dt == QT_F32) memcpy((char *)b->stage + (size_t)(r * row) * es, s, (size_t)row * es);
            else
                for (int64_t e = 0; e < row; e++) ((double *)b->stage)[r * row + e] = s[e];
        }
        QT_TRY(qt_backend_copy(be, b->x[m].data, be->device, b->stage, qt_device_host(), (size_t)(n * row) * es));
    }
    for (int64_t r = 0; r < n; r++) b->ystage[r] = ((const int32_t *)d->y.data)[idx[0][r]];
    QT_TRY(qt_backend_copy(be, b->y.data, be->device, b->ystage, qt_device_host(), (size_t)n * sizeof(int32_t)));
    return qt_backend_synchronize(be);
}

/* A data set on the device: inputs in the backend's dtype, labels, and the epoch's order. */
typedef struct {
    int n_mod;
    qt_tensor_t x[QT_FUSION_MAX_MOD], y, order;
    int32_t *ostage; /* host staging of the order */
} dev_data_t;

static void dev_data_free(dev_data_t *dd)
{
    for (int m = 0; m < QT_FUSION_MAX_MOD; m++) qt_tensor_free(&dd->x[m]);
    qt_tensor_free(&dd->y);
    qt_tensor_free(&dd->order);
    qt_free(dd->ostage);
    memset(dd, 0, sizeof *dd);
}

/* Copy data set d to be's device (inputs converted to dt). */
static qt_status_t dev_data_init(dev_data_t *dd, qt_backend_t *be, qt_dtype_t dt, const qt_fusion_data_t *d)
{
    memset(dd, 0, sizeof *dd);
    dd->n_mod = d->n_mod;
    qt_status_t s = QT_OK;
    for (int m = 0; m < d->n_mod && s == QT_OK; m++) {
        if (dt == QT_F32) { s = qt_tensor_to_device(be, &d->x[m], &dd->x[m]); continue; }
        qt_tensor_t h = {0};
        s = qt_tensor_init(&h, dt, 3, d->x[m].shape);
        if (s == QT_OK)
            for (int64_t i = 0; i < qt_tensor_numel(&h); i++) ((double *)h.data)[i] = ((const float *)d->x[m].data)[i];
        if (s == QT_OK) s = qt_tensor_to_device(be, &h, &dd->x[m]);
        qt_tensor_free(&h);
    }
    if (s == QT_OK) s = qt_tensor_to_device(be, &d->y, &dd->y);
    int64_t n = d->n;
    if (s == QT_OK) s = qt_tensor_alloc(&dd->order, be, QT_I32, 1, &n);
    if (s == QT_OK && !(dd->ostage = qt_alloc((size_t)n * sizeof(int32_t)))) s = qt_fail(QT_ERR_NOMEM, "fusion order");
    if (s != QT_OK) dev_data_free(dd);
    return s;
}

/* Gather rows order[at .. at+n) of the device data set into batch b (queued, no wait). */
static qt_status_t batch_gather(batch_t *b, qt_backend_t *be, const struct qt_fusion_kernels *k, const dev_data_t *dd,
                                int64_t at, int64_t n)
{
    const int32_t *idx = (const int32_t *)dd->order.data + at;
    for (int m = 0; m < b->n_mod; m++) {
        int64_t row = dd->x[m].shape[1] * dd->x[m].shape[2] * (int64_t)qt_dtype_size(b->dt);
        k->gather(be, dd->x[m].data, row, idx, n, b->x[m].data);
    }
    k->gather(be, dd->y.data, (int64_t)sizeof(int32_t), idx, n, b->y.data);
    return k->status ? k->status(be) : QT_OK;
}

/* Forward of the loaded n rows; the logits as doubles on the host into out (n·C). */
static qt_status_t batch_logits(batch_t *b, qt_backend_t *be, const qt_fusion_config_t *cfg,
                                const qt_tensor_t *params, int64_t n, double *out)
{
    qt_tensor_t xv[QT_FUSION_MAX_MOD], lv = rows_view(&b->logits, n);
    const qt_tensor_t *xp[QT_FUSION_MAX_MOD];
    for (int m = 0; m < b->n_mod; m++) { xv[m] = rows_view(&b->x[m], n); xp[m] = &xv[m]; }
    QT_TRY(qt_fusion_forward(be, cfg, params, xp, &lv, &b->work));
    size_t bytes = (size_t)(n * cfg->classes) * qt_dtype_size(b->dt);
    QT_TRY(qt_backend_copy(be, b->stage, qt_device_host(), lv.data, be->device, bytes));
    QT_TRY(qt_backend_synchronize(be));
    qt_fusion_host_load(out, b->stage, b->dt, n * cfg->classes);
    return QT_OK;
}

static int argmax(const double *z, int C)
{
    int a = 0;
    for (int c = 1; c < C; c++)
        if (z[c] > z[a]) a = c;
    return a;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Check a data set against a config. */
static qt_status_t data_check(const qt_fusion_config_t *cfg, const qt_fusion_data_t *d)
{
    QT_CHECK_ARG(d != NULL, "fusion: data must not be NULL");
    QT_TRY(qt_fusion_config_check(cfg));
    QT_CHECK_ARG(d->n_mod == cfg->n_mod, "data has %d modalities, the model %d", d->n_mod, cfg->n_mod);
    QT_CHECK_ARG(d->n >= 1, "data set is empty");
    for (int m = 0; m < cfg->n_mod; m++) {
        QT_TRY(qt_tensor_check(&d->x[m], "data input", QT_F32, 3));
        if (d->x[m].shape[0] != d->n || d->x[m].shape[1] != cfg->len[m] || d->x[m].shape[2] != cfg->feat[m])
            return qt_fail(QT_ERR_SHAPE, "data modality %d is (%lld, %lld, %lld), the model takes (%lld, %d, %d)", m,
                           (long long)d->x[m].shape[0], (long long)d->x[m].shape[1], (long long)d->x[m].shape[2],
                           (long long)d->n, cfg->len[m], cfg->feat[m]);
    }
    QT_TRY(qt_tensor_check(&d->y, "labels", QT_I32, 1));
    const int32_t *y = d->y.data;
    for (int64_t i = 0; i < d->n; i++)
        if (y[i] < 0 || y[i] >= cfg->classes)
            return qt_fail(QT_ERR_ARG, "label %lld is %d, must be in [0, %d)", (long long)i, (int)y[i], cfg->classes);
    return QT_OK;
}

qt_status_t qt_fusion_train(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_fusion_data_t *train,
                            const qt_fusion_train_opts_t *o, qt_tensor_t *params, qt_fusion_train_stats_t *stats)
{
    QT_CHECK_ARG(be && o && params, "fusion train: backend, options and params must not be NULL");
    QT_TRY(data_check(cfg, train));
    QT_CHECK_ARG(o->steps >= 1 && o->batch >= 1, "fusion train: steps %d and batch %d must be >= 1", o->steps, o->batch);
    QT_CHECK_ARG(o->lr > 0, "fusion train: lr %g must be > 0", o->lr);
    int64_t B = o->batch < train->n ? o->batch : train->n;
    QT_TRY(qt_fusion_init_params(be, cfg, params, o->seed));
    const struct qt_fusion_kernels *k = ((const qt_fusion_ops_t *)qt_backend_ops(be, QT_TECH_FUSION))->kernels;
    batch_t b;
    dev_data_t dd;
    QT_TRY(batch_init(&b, be, cfg, B));
    qt_status_t s = dev_data_init(&dd, be, b.dt, train);
    if (s != QT_OK) { batch_free(&b); return s; }
    qt_tensor_t grads = {0};
    adam_t adam;
    memset(&adam, 0, sizeof adam);
    int64_t *perm = qt_alloc((size_t)train->n * sizeof *perm);
    s = qt_tensor_alloc(&grads, be, b.dt, 1, params->shape);
    if (s == QT_OK) s = adam_init(&adam, be, o->lr, b.dt, (size_t)params->shape[0]);
    if (s == QT_OK && !perm) s = qt_fail(QT_ERR_NOMEM, "fusion train: permutation");
    double t0 = now_s(), tail = 0;
    int64_t pos = train->n, epoch = 0, tail_n = 0;
    int tail_from = o->steps - (o->steps + 9) / 10;
    for (int step = 0; step < o->steps && s == QT_OK; step++) {
        if (pos + B > train->n) { /* a fresh shuffle (Fisher-Yates) per epoch */
            qt_fusion_epoch_order(perm, train->n, o->seed, (uint64_t)epoch);
            pos = 0;
            epoch++;
            for (int64_t i = 0; i < train->n; i++) dd.ostage[i] = (int32_t)perm[i];
            s = qt_backend_copy(be, dd.order.data, be->device, dd.ostage, qt_device_host(),
                                (size_t)train->n * sizeof(int32_t));
            /* the staging is rewritten next epoch: a device copy must have read it by then */
            if (s == QT_OK && !qt_device_is_host(be->device)) s = qt_backend_synchronize(be);
            if (s != QT_OK) break;
        }
        double loss = 0;
        int want_loss = step >= tail_from; /* the loss comes back (a wait) only where it is reported */
        s = batch_gather(&b, be, k, &dd, pos, B);
        pos += B;
        const qt_tensor_t *xp[QT_FUSION_MAX_MOD];
        for (int m = 0; m < cfg->n_mod; m++) xp[m] = &b.x[m];
        if (s == QT_OK)
            s = qt_fusion_backward(be, cfg, params, xp, &b.y, &grads, &b.work, NULL, want_loss ? &loss : NULL, NULL);
        if (s == QT_OK) s = adam_step(&adam, params, &grads);
        if (s == QT_OK && !isfinite(loss)) s = qt_fail(QT_ERR_INTERNAL, "fusion train: loss became %g at step %d", loss, step);
        if (want_loss) { tail += loss; tail_n++; }
    }
    if (s == QT_OK) s = qt_backend_synchronize(be);
    if (stats && s == QT_OK) {
        stats->seconds = now_s() - t0;
        stats->final_loss = tail_n ? tail / (double)tail_n : NAN;
        stats->samples = (int64_t)o->steps * B;
        stats->flops = 3.0 * qt_fusion_flops(cfg, B) * o->steps;
    }
    qt_free(perm);
    qt_optim_free(&adam.o);
    qt_tensor_free(&grads);
    dev_data_free(&dd);
    batch_free(&b);
    return s;
}

/* Accuracy of the loaded n rows given the logits. */
qt_status_t qt_fusion_evaluate(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_tensor_t *params,
                               const qt_fusion_data_t *d, double *accuracy)
{
    QT_CHECK_ARG(be && params && accuracy, "fusion evaluate: backend, params and output must not be NULL");
    QT_TRY(data_check(cfg, d));
    int64_t B = d->n < 256 ? d->n : 256, ok = 0;
    batch_t b;
    QT_TRY(batch_init(&b, be, cfg, B));
    int64_t *idx0 = qt_alloc((size_t)B * sizeof *idx0);
    double *z = qt_alloc((size_t)(B * cfg->classes) * sizeof *z);
    qt_status_t s = idx0 && z ? QT_OK : qt_fail(QT_ERR_NOMEM, "fusion evaluate");
    for (int64_t at = 0; at < d->n && s == QT_OK; at += B) {
        int64_t n = d->n - at < B ? d->n - at : B;
        for (int64_t r = 0; r < n; r++) idx0[r] = at + r;
        const int64_t *idx[QT_FUSION_MAX_MOD];
        for (int m = 0; m < cfg->n_mod; m++) idx[m] = idx0;
        s = batch_load(&b, be, d, idx, n);
        if (s == QT_OK) s = batch_logits(&b, be, cfg, params, n, z);
        for (int64_t r = 0; r < n && s == QT_OK; r++)
            ok += argmax(z + r * cfg->classes, cfg->classes) == ((const int32_t *)d->y.data)[at + r];
    }
    if (s == QT_OK) *accuracy = (double)ok / (double)d->n;
    qt_free(idx0);
    qt_free(z);
    batch_free(&b);
    return s;
}

qt_status_t qt_fusion_emap(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_tensor_t *params,
                           const qt_fusion_data_t *d, int64_t n, double *acc_model, double *acc_emap)
{
    QT_CHECK_ARG(be && params && acc_model && acc_emap, "fusion emap: arguments must not be NULL");
    QT_TRY(data_check(cfg, d));
    QT_CHECK_ARG(n >= 1 && n <= d->n, "fusion emap: n %lld must be in 1..%lld", (long long)n, (long long)d->n);
    int M = cfg->n_mod, C = cfg->classes;
    batch_t b;
    QT_TRY(batch_init(&b, be, cfg, n));
    int64_t *ii = qt_alloc((size_t)n * sizeof *ii), *jj = qt_alloc((size_t)n * sizeof *jj);
    double *z = qt_alloc((size_t)(n * C) * sizeof *z), *mu = qt_calloc((size_t)(M * n * C) * sizeof *mu);
    double *self = qt_alloc((size_t)(n * C) * sizeof *self);
    qt_status_t s = ii && jj && z && mu && self ? QT_OK : qt_fail(QT_ERR_NOMEM, "fusion emap");
    for (int64_t j = 0; j < n; j++) jj[j] = j;
    const int64_t *idx[QT_FUSION_MAX_MOD];
    for (int m = 0; m < M; m++) idx[m] = jj;
    if (s == QT_OK) s = batch_load(&b, be, d, idx, n); /* the model itself */
    if (s == QT_OK) s = batch_logits(&b, be, cfg, params, n, self);
    /* μ_m(i) = mean_j f(x_m^i, x_{-m}^j): one batch over j per (m, i) */
    for (int m = 0; m < M && s == QT_OK; m++)
        for (int64_t i = 0; i < n && s == QT_OK; i++) {
            for (int64_t r = 0; r < n; r++) ii[r] = i;
            for (int k = 0; k < M; k++) idx[k] = k == m ? ii : jj;
            s = batch_load(&b, be, d, idx, n);
            if (s == QT_OK) s = batch_logits(&b, be, cfg, params, n, z);
            for (int64_t r = 0; r < n && s == QT_OK; r++)
                for (int c = 0; c < C; c++) mu[(m * n + i) * C + c] += z[r * C + c] / (double)n;
        }
    if (s == QT_OK) {
        int64_t ok_m = 0, ok_e = 0;
        for (int64_t i = 0; i < n; i++) {
            double fh[64], bar;
            for (int c = 0; c < C && c < 64; c++) {
                fh[c] = 0;
                bar = 0;
                for (int m = 0; m < M; m++) {
                    fh[c] += mu[(m * n + i) * C + c];
                    for (int64_t k = 0; k < n; k++) bar += mu[(m * n + k) * C + c];
                }
                fh[c] -= (double)(M - 1) * bar / (double)(M * n);
            }
            int32_t y = ((const int32_t *)d->y.data)[i];
            ok_e += argmax(fh, C < 64 ? C : 64) == y;
            ok_m += argmax(self + i * C, C) == y;
        }
        *acc_model = (double)ok_m / (double)n;
        *acc_emap = (double)ok_e / (double)n;
    }
    qt_free(ii); qt_free(jj); qt_free(z); qt_free(mu); qt_free(self);
    batch_free(&b);
    return s;
}
