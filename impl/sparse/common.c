/* common.c — the parts of impl/sparse above the backends (sparse.h): names, the
 * dynamic-threshold state (allocated through the backend) and its training-mode update for
 * host memory, the per-backend crossover tables (defaults, files, estimate, choice), the
 * argument-, dtype- and device-checking entry points and the AUTO dispatcher: measure through
 * the backend's own op, choose from that backend's table, run the backend's path.
 * Tested by tests/sparse/test_sparse.c (make test). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quintet/counters.h"
#include "quintet/tensor.h"

static const char *const act_names[QT_ACT_COUNT] = {"relu", "shifted_relu", "dthresh", "topk"};
static const char *const path_names[QT_SPMM_COUNT] = {"dense", "gather", "colskip", "csr", "auto"};

/* Name of an activation kind. */
const char *qt_act_name(qt_act_kind_t k) { return (unsigned)k < QT_ACT_COUNT ? act_names[k] : "?"; }

/* Parse an activation name. */
qt_status_t qt_act_parse(const char *s, qt_act_kind_t *out)
{
    for (int i = 0; s && i < QT_ACT_COUNT; i++)
        if (!strcmp(s, act_names[i])) { *out = (qt_act_kind_t)i; return QT_OK; }
    return qt_fail(QT_ERR_ARG, "unknown activation '%s' (relu, shifted_relu, dthresh, topk)", s ? s : "(null)");
}

/* Name of a matmul path. */
const char *qt_spmm_path_name(qt_spmm_path_t p) { return (unsigned)p < QT_SPMM_COUNT ? path_names[p] : "?"; }

/* Parse a matmul path name. */
qt_status_t qt_spmm_path_parse(const char *s, qt_spmm_path_t *out)
{
    for (int i = 0; s && i < QT_SPMM_COUNT; i++)
        if (!strcmp(s, path_names[i])) { *out = (qt_spmm_path_t)i; return QT_OK; }
    return qt_fail(QT_ERR_ARG, "unknown matmul path '%s' (dense, gather, colskip, csr, auto)", s ? s : "(null)");
}

/* ---- dynamic threshold ---- */

/* Default configuration for `channels` channels. */
qt_dthresh_config_t qt_dthresh_config_default(int channels)
{
    qt_dthresh_config_t c = {channels, 0.1f, 1.0f, 0, 0.0f, 0.5f};
    return c;
}

/* Validate the configuration and allocate the state on be's device. */
qt_status_t qt_dthresh_init(qt_dthresh_t *d, qt_backend_t *be, const qt_dthresh_config_t *cfg)
{
    QT_CHECK_ARG(d != NULL && cfg != NULL && be != NULL, "dthresh state, backend and config must not be NULL");
    memset(d, 0, sizeof *d);
    QT_CHECK_ARG(cfg->channels > 0, "dthresh channels %d must be > 0", cfg->channels);
    QT_CHECK_ARG(cfg->momentum > 0.0f && cfg->momentum <= 1.0f, "dthresh momentum %g must be in (0, 1]",
                 (double)cfg->momentum);
    QT_CHECK_ARG(cfg->scale >= 0.0f && cfg->scale <= QT_DTHRESH_KAPPA_MAX, "dthresh scale %g must be in [0, %g]",
                 (double)cfg->scale, (double)QT_DTHRESH_KAPPA_MAX);
    if (cfg->use_target) {
        QT_CHECK_ARG(cfg->target >= 0.0f && cfg->target < 1.0f, "dthresh target sparsity %g must be in [0, 1)",
                     (double)cfg->target);
        QT_CHECK_ARG(cfg->gain > 0.0f && isfinite(cfg->gain), "dthresh controller gain %g must be > 0",
                     (double)cfg->gain);
    }
    if (!qt_backend_ops(be, QT_TECH_SPARSE))
        return qt_fail(QT_ERR_UNSUPPORTED, "dthresh: backend %s has no sparse ops", qt_backend_name(be));
    const int64_t C = cfg->channels;
    qt_tensor_t k0 = {0};
    qt_status_t st = qt_tensor_zeros(&d->mu, be, QT_F32, 1, &C);
    if (st == QT_OK) st = qt_tensor_zeros(&d->theta, be, QT_F32, 1, &C);
    if (st == QT_OK) st = qt_tensor_alloc(&d->kappa, be, QT_F32, 1, &C);
    if (st == QT_OK) st = qt_tensor_init(&k0, QT_F32, 1, &C); /* κ0 on the host, then copied */
    if (st == QT_OK) {
        for (int64_t c = 0; c < C; c++) ((float *)k0.data)[c] = cfg->scale;
        st = qt_tensor_copy(be, &d->kappa, &k0);
    }
    if (st == QT_OK) st = qt_backend_synchronize(be);
    qt_tensor_free(&k0);
    if (st != QT_OK) {
        qt_dthresh_free(d);
        return st;
    }
    d->be = be;
    d->cfg = *cfg;
    return QT_OK;
}

/* Release the state. */
void qt_dthresh_free(qt_dthresh_t *d)
{
    if (!d) return;
    qt_tensor_free(&d->mu);
    qt_tensor_free(&d->kappa);
    qt_tensor_free(&d->theta);
    memset(d, 0, sizeof *d);
}

/* qsort order of floats, ascending. */
static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Training-mode update, steps 1–4 of sparse.h (state and x in host memory). */
qt_status_t qt_sparse_dthresh_update(qt_dthresh_t *d, const float *x, int64_t rows, int64_t cols)
{
    const qt_dthresh_config_t *cfg = &d->cfg;
    float *mu_ = d->mu.data, *kappa = d->kappa.data, *theta = d->theta.data;
    double *sum = qt_calloc((size_t)cols * sizeof(double));
    int64_t *below = qt_calloc((size_t)cols * sizeof(int64_t));
    float *col = (cfg->use_target && d->steps == 0) ? qt_alloc((size_t)rows * sizeof(float)) : NULL;
    if (!sum || !below || (cfg->use_target && d->steps == 0 && !col)) {
        qt_free(sum);
        qt_free(below);
        qt_free(col);
        return qt_fail(QT_ERR_NOMEM, "dthresh: no memory for the batch statistics");
    }
    for (int64_t b = 0; b < rows; b++) {
        const float *xr = x + b * cols;
        for (int64_t c = 0; c < cols; c++) {
            sum[c] += fabs((double)xr[c]);
            below[c] += xr[c] <= theta[c];
        }
    }
    const double m = cfg->momentum;
    for (int64_t c = 0; c < cols; c++) {
        double a = sum[c] / (double)rows;
        double mu = d->steps == 0 ? a : (1.0 - m) * mu_[c] + m * a;
        mu_[c] = (float)mu;
        if (cfg->use_target) {
            if (d->steps == 0) {
                for (int64_t b = 0; b < rows; b++) col[b] = x[b * cols + c];
                qsort(col, (size_t)rows, sizeof *col, cmp_float);
                int64_t i = (int64_t)floor((double)cfg->target * (double)rows);
                if (i >= rows) i = rows - 1;
                double q = col[i] > 0.0f ? col[i] : 0.0;
                kappa[c] = mu_[c] > 0.0f ? (float)fmin(q / mu_[c], QT_DTHRESH_KAPPA_MAX) : cfg->scale;
            } else {
                double s = (double)below[c] / (double)rows;
                double k = kappa[c] + (double)cfg->gain * ((double)cfg->target - s);
                kappa[c] = (float)fmin(fmax(k, 0.0), QT_DTHRESH_KAPPA_MAX);
            }
        }
        theta[c] = kappa[c] * mu_[c];
    }
    d->steps++;
    qt_free(sum);
    qt_free(below);
    qt_free(col);
    return QT_OK;
}

/* ---- crossover table ---- */

#define XB_ALL INT64_MAX

/* An empty table bound to a backend. */
qt_status_t qt_xover_init(qt_xover_table_t *t, const char *backend)
{
    QT_CHECK_ARG(t != NULL && backend != NULL && *backend, "crossover table and backend name must not be NULL");
    QT_CHECK_ARG(strlen(backend) < QT_XOVER_NAME, "backend name '%s' too long for a crossover table", backend);
    memset(t, 0, sizeof *t);
    snprintf(t->backend, sizeof t->backend, "%s", backend);
    snprintf(t->source, sizeof t->source, "empty");
    return QT_OK;
}

/* The built-in table of a backend: the cpu backend's conservative figures (sparse paths only
 * where they are sure to win on a 2-core AVX-512 host, where they were measured; CSR above 4
 * rows from the blocked strips, 2-core VM, M=64 K=N=4096 uniform, 1 thread: 2.1x dense at 90%,
 * 3.6x at 95%, rounded down); empty for the others, whose AUTO then runs DENSE until a
 * measured table is loaded. */
qt_status_t qt_xover_defaults(qt_xover_table_t *t, const char *backend)
{
    static const struct {
        qt_spmm_path_t p;
        int64_t rows;
        double s, x;
    } d[] = {
        {QT_SPMM_GATHER, 1, 0.0, 0.5},    {QT_SPMM_GATHER, 1, 0.6, 1.0},   {QT_SPMM_GATHER, 1, 0.9, 3.0},
        {QT_SPMM_GATHER, 1, 0.99, 10.0},  {QT_SPMM_GATHER, 4, 0.0, 0.3},   {QT_SPMM_GATHER, 4, 0.9, 1.0},
        {QT_SPMM_GATHER, 4, 0.99, 3.0},   {QT_SPMM_GATHER, XB_ALL, 0.0, 0.01},
        {QT_SPMM_COLSKIP, 1, 0.0, 0.3},   {QT_SPMM_COLSKIP, 1, 0.9, 1.5},  {QT_SPMM_COLSKIP, 1, 0.99, 4.0},
        {QT_SPMM_COLSKIP, XB_ALL, 0.0, 0.9}, {QT_SPMM_COLSKIP, XB_ALL, 0.5, 1.5},
        {QT_SPMM_COLSKIP, XB_ALL, 0.9, 5.0}, {QT_SPMM_COLSKIP, XB_ALL, 0.99, 20.0},
        {QT_SPMM_CSR, 4, 0.0, 0.05},      {QT_SPMM_CSR, 4, 0.99, 1.0},
        {QT_SPMM_CSR, XB_ALL, 0.0, 0.05}, {QT_SPMM_CSR, XB_ALL, 0.75, 1.0}, {QT_SPMM_CSR, XB_ALL, 0.9, 2.0},
        {QT_SPMM_CSR, XB_ALL, 0.95, 3.0}, {QT_SPMM_CSR, XB_ALL, 0.99, 6.0},
    };
    QT_TRY(qt_xover_init(t, backend));
    for (size_t i = 0; !strcmp(backend, "cpu") && i < sizeof d / sizeof d[0]; i++)
        (void)qt_xover_add(t, d[i].p, d[i].rows, XB_ALL, 0, d[i].s, d[i].x);
    snprintf(t->source, sizeof t->source, "defaults");
    return QT_OK;
}

/* <dir>/sparse_crossover_<backend>.txt */
qt_status_t qt_xover_file(const char *dir, const char *backend, char *buf, size_t size)
{
    QT_CHECK_ARG(dir != NULL && backend != NULL && buf != NULL, "crossover file: NULL argument");
    int n = snprintf(buf, size, "%s/sparse_crossover_%s.txt", dir, backend);
    QT_CHECK_ARG(n >= 0 && (size_t)n < size, "crossover file name for '%s' in '%s' too long", backend, dir);
    return QT_OK;
}

/* Append one point. */
qt_status_t qt_xover_add(qt_xover_table_t *t, qt_spmm_path_t path, int64_t max_rows, int64_t max_wbytes,
                         int structured, double sparsity, double speedup)
{
    QT_CHECK_ARG(t != NULL, "crossover table must not be NULL");
    QT_CHECK_ARG(t->n < QT_XOVER_MAX, "crossover table full (%d points)", QT_XOVER_MAX);
    QT_CHECK_ARG(path != QT_SPMM_AUTO && (unsigned)path < QT_SPMM_COUNT, "crossover point for bad path %d", (int)path);
    QT_CHECK_ARG(max_rows > 0 && max_wbytes > 0, "crossover bucket (%lld rows, %lld bytes) must be positive",
                 (long long)max_rows, (long long)max_wbytes);
    QT_CHECK_ARG(sparsity >= 0.0 && sparsity <= 1.0 && speedup >= 0.0 && isfinite(speedup),
                 "crossover point sparsity %g / speedup %g out of range", sparsity, speedup);
    qt_xover_point_t *p = &t->pt[t->n++];
    p->path = path;
    p->max_rows = max_rows;
    p->max_wbytes = max_wbytes;
    p->structured = structured != 0;
    p->sparsity = sparsity;
    p->speedup = speedup;
    return QT_OK;
}

/* Base's points in the buckets t lacks (sparse.h). Coverage is decided against t's own points
 * only: against the growing table, a base bucket would keep just its first point. */
qt_status_t qt_xover_fill(qt_xover_table_t *t, const qt_xover_table_t *base)
{
    QT_CHECK_ARG(t != NULL && base != NULL, "crossover tables must not be NULL");
    const int own = t->n;
    for (int i = 0; i < base->n; i++) {
        const qt_xover_point_t *b = &base->pt[i];
        int covered = 0;
        for (int j = 0; j < own && !covered; j++)
            covered = t->pt[j].path == b->path && t->pt[j].max_rows == b->max_rows &&
                      t->pt[j].max_wbytes == b->max_wbytes;
        if (!covered) QT_TRY(qt_xover_add(t, b->path, b->max_rows, b->max_wbytes, b->structured, b->sparsity,
                                          b->speedup));
    }
    return QT_OK;
}

/* Read a table written by qt_xover_save. */
qt_status_t qt_xover_load(qt_xover_table_t *t, const char *file)
{
    QT_CHECK_ARG(t != NULL && file != NULL, "crossover table and file name must not be NULL");
    memset(t, 0, sizeof *t);
    FILE *f = fopen(file, "r");
    if (!f) return qt_fail(QT_ERR_IO, "cannot open crossover table '%s'", file);
    char line[256];
    int lineno = 0;
    qt_status_t st = QT_OK;
    while (st == QT_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line + strspn(line, " \t");
        if (*s == '#' || *s == '\n' || *s == '\0') continue;
        char name[32], bname[QT_XOVER_NAME + 1];
        if (sscanf(s, "backend %32s %c", bname, &name[0]) == 1) {
            if (strlen(bname) >= QT_XOVER_NAME || t->backend[0])
                st = qt_fail(QT_ERR_FORMAT, "%s:%d: a second or too long 'backend' line", file, lineno);
            else
                memcpy(t->backend, bname, strlen(bname) + 1); /* fits: checked just above */
            continue;
        }
        long long rows, wbytes;
        int structured;
        double sp, x;
        char extra;
        qt_spmm_path_t p;
        if (sscanf(s, "%31s %lld %lld %d %lf %lf %c", name, &rows, &wbytes, &structured, &sp, &x, &extra) != 6 ||
            qt_spmm_path_parse(name, &p) != QT_OK || qt_xover_add(t, p, rows, wbytes, structured, sp, x) != QT_OK)
            st = qt_fail(QT_ERR_FORMAT, "%s:%d: expected 'path max_rows max_wbytes structured sparsity speedup'", file,
                         lineno);
    }
    fclose(f);
    if (st == QT_OK && !t->backend[0])
        st = qt_fail(QT_ERR_FORMAT, "%s: no 'backend NAME' line (which backend was this table measured on?)", file);
    if (st != QT_OK) {
        memset(t, 0, sizeof *t);
        return st;
    }
    snprintf(t->source, sizeof t->source, "%s", file);
    return QT_OK;
}

/* Write the table as text. */
qt_status_t qt_xover_save(const qt_xover_table_t *t, const char *file)
{
    QT_CHECK_ARG(t != NULL && file != NULL, "crossover table and file name must not be NULL");
    QT_CHECK_ARG(t->backend[0] != '\0', "crossover table names no backend (qt_xover_init)");
    FILE *f = fopen(file, "w");
    if (!f) return qt_fail(QT_ERR_IO, "cannot write crossover table '%s'", file);
    fprintf(f, "# quintet sparse matmul crossover table (written by the sparsity suite)\n"
               "# path max_rows max_wbytes structured sparsity speedup_vs_dense\n"
               "backend %s\n",
            t->backend);
    for (int i = 0; i < t->n; i++)
        fprintf(f, "%s %lld %lld %d %.4f %.4f\n", qt_spmm_path_name(t->pt[i].path), (long long)t->pt[i].max_rows,
                (long long)t->pt[i].max_wbytes, t->pt[i].structured, t->pt[i].sparsity, t->pt[i].speedup);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return qt_fail(QT_ERR_IO, "error writing crossover table '%s'", file);
    return QT_OK;
}

/* The bucket value among `vals` for `v`: smallest >= v, else the largest (-1 when none). */
static int64_t pick_bucket(const int64_t *vals, int n, int64_t v)
{
    int64_t best = -1, largest = -1;
    for (int i = 0; i < n; i++) {
        if (vals[i] > largest) largest = vals[i];
        if (vals[i] >= v && (best < 0 || vals[i] < best)) best = vals[i];
    }
    return best >= 0 ? best : largest;
}

/* Estimated speedup of a path over DENSE (see sparse.h). */
double qt_xover_estimate(const qt_xover_table_t *t, qt_spmm_path_t path, int64_t M, int64_t K, int64_t N,
                         double s_elem, double s_col)
{
    if (path == QT_SPMM_DENSE) return 1.0;
    if (!t || path == QT_SPMM_AUTO || (unsigned)path >= QT_SPMM_COUNT) return 0.0;
    int64_t vals[QT_XOVER_MAX];
    int n = 0;
    for (int i = 0; i < t->n; i++)
        if (t->pt[i].path == path) vals[n++] = t->pt[i].max_rows;
    int64_t rows = pick_bucket(vals, n, M);
    if (rows < 0) return 0.0;
    n = 0;
    for (int i = 0; i < t->n; i++)
        if (t->pt[i].path == path && t->pt[i].max_rows == rows) vals[n++] = t->pt[i].max_wbytes;
    int64_t wb = pick_bucket(vals, n, K * N * (int64_t)sizeof(float));
    double s = path == QT_SPMM_COLSKIP ? s_col : s_elem;
    int cls = qt_sparse_structured(s_elem, s_col), have_cls = 0;
    for (int i = 0; i < t->n; i++)
        have_cls |= t->pt[i].path == path && t->pt[i].max_rows == rows && t->pt[i].max_wbytes == wb &&
                    t->pt[i].structured == cls;
    /* Linear interpolation between the nearest points below and above s. Above the last
     * point its value holds (speedup grows with sparsity, so that is conservative); below
     * the first point nothing is known and the estimate is 0 (never chosen). */
    const qt_xover_point_t *lo = NULL, *hi = NULL;
    for (int i = 0; i < t->n; i++) {
        const qt_xover_point_t *p = &t->pt[i];
        if (p->path != path || p->max_rows != rows || p->max_wbytes != wb || (have_cls && p->structured != cls))
            continue;
        if (p->sparsity <= s && (!lo || p->sparsity > lo->sparsity)) lo = p;
        if (p->sparsity >= s && (!hi || p->sparsity < hi->sparsity)) hi = p;
    }
    if (!lo) return hi && hi->sparsity - s <= 0.02 ? hi->speedup : 0.0; /* tolerance for sampling noise */
    if (!hi || hi->sparsity == lo->sparsity) return lo->speedup;
    double f = (s - lo->sparsity) / (hi->sparsity - lo->sparsity);
    return lo->speedup + f * (hi->speedup - lo->speedup);
}

/* Structure class: nearly all zeros in whole columns. */
int qt_sparse_structured(double s_elem, double s_col) { return s_elem > 0.0 && s_col >= 0.9 * s_elem; }

/* Argmax of the estimates over the allowed paths; DENSE unless a path is estimated faster. */
qt_spmm_path_t qt_xover_choose(const qt_xover_table_t *t, int64_t M, int64_t K, int64_t N, double s_elem,
                               double s_col, int (*allowed)(qt_spmm_path_t path, const void *arg), const void *arg)
{
    qt_spmm_path_t best = QT_SPMM_DENSE;
    double best_x = 1.0;
    for (int p = QT_SPMM_GATHER; p < QT_SPMM_AUTO; p++) {
        if (allowed && !allowed((qt_spmm_path_t)p, arg)) continue;
        double x = qt_xover_estimate(t, (qt_spmm_path_t)p, M, K, N, s_elem, s_col);
        if (x > best_x) { best_x = x; best = (qt_spmm_path_t)p; }
    }
    return best;
}

/* ---- working memory, counters ---- */

/* Release the workspace's memory through the backend that allocated it (AUTO's estimate stays). */
static void ws_release_buf(qt_spmm_ws_t *ws)
{
    if (ws->buf && ws->owner) qt_backend_dealloc(ws->owner, ws->buf, ws->cap);
    ws->owner = NULL;
    ws->buf = NULL;
    ws->cap = 0;
}

/* Release the workspace and forget its estimate. */
void qt_spmm_ws_free(qt_spmm_ws_t *ws)
{
    if (!ws) return;
    ws_release_buf(ws);
    memset(ws, 0, sizeof *ws);
}

/* Working memory of `bytes` on be's device: the caller's workspace (grown, with 25% slack so
 * slightly larger calls reuse it) or, without one, a fresh block in *owned (release with
 * qt_sparse_ws_release). NULL (with the error recorded) when out of memory. */
void *qt_sparse_ws_get(qt_backend_t *be, qt_spmm_ws_t *ws, size_t bytes, void **owned)
{
    *owned = NULL;
    if (!ws) return qt_backend_alloc(be, bytes, owned) == QT_OK ? *owned : NULL;
    if (ws->owner && ws->owner->device != be->device) ws_release_buf(ws);
    if (ws->cap < bytes) { /* grown: the estimate the dispatcher just stored stays */
        ws_release_buf(ws);
        bytes += bytes / 4;
        if (qt_backend_alloc(be, bytes, &ws->buf) != QT_OK) return NULL;
        ws->owner = be;
        ws->cap = bytes;
    }
    return ws->buf;
}

/* Release a block qt_sparse_ws_get allocated outside a workspace. */
void qt_sparse_ws_release(qt_backend_t *be, void *owned, size_t bytes)
{
    if (owned) qt_backend_dealloc(be, owned, bytes);
}

/* Add one matmul's counters. */
void qt_sparse_count_matmul(double macs_done, double macs_skipped, int64_t nnz)
{
    qt_counter_add(QT_CTR_FLOPS, (long long)(2.0 * macs_done));
    if (macs_skipped > 0) qt_counter_add(QT_CTR_ZEROS_SKIPPED, (long long)macs_skipped);
    if (nnz >= 0) qt_counter_add(QT_CTR_NONZEROS, nnz);
}

/* ---- support and placement ---- */

/* The sparse ops of be, or NULL with the reason in why. */
static const qt_sparse_ops_t *ops_of(const qt_backend_t *be, char *why, size_t why_size)
{
    if (!be) {
        snprintf(why, why_size, "no backend");
        return NULL;
    }
    const qt_sparse_ops_t *ops = qt_backend_ops(be, QT_TECH_SPARSE);
    if (!ops) snprintf(why, why_size, "backend %s has no sparse ops", qt_backend_name(be));
    return ops;
}

/* Matmul path support on these operands (sparse.h). */
int qt_sparse_supports(const qt_backend_t *be, qt_spmm_path_t path, const qt_tensor_t *A, const qt_tensor_t *W,
                       const qt_tensor_t *Y, char *why, size_t why_size)
{
    char dummy[8];
    if (!why) { why = dummy; why_size = sizeof dummy; }
    const qt_sparse_ops_t *ops = ops_of(be, why, why_size);
    if (!ops) return 0;
    if ((unsigned)path >= QT_SPMM_COUNT) {
        snprintf(why, why_size, "unknown matmul path %d", (int)path);
        return 0;
    }
    qt_dtype_t dt = A ? A->dtype : QT_F32;
    qt_spmm_path_t runs = path == QT_SPMM_AUTO ? QT_SPMM_DENSE : path; /* AUTO can always fall back to DENSE */
    if (!ops->supports(be, runs, dt)) {
        snprintf(why, why_size, "backend %s has no %s path in %s", qt_backend_name(be), qt_spmm_path_name(runs),
                 qt_dtype_name(dt));
        return 0;
    }
    const qt_tensor_t *ts[3] = {A, W, Y};
    static const char *const names[3] = {"A", "W", "Y"};
    return qt_tensors_on_backend(be, ts, names, 3, why, why_size);
}

/* Activation support on these operands (sparse.h). */
int qt_sparse_act_supports(const qt_backend_t *be, const qt_act_t *act, const qt_tensor_t *x, const qt_tensor_t *y,
                           char *why, size_t why_size)
{
    char dummy[8];
    if (!why) { why = dummy; why_size = sizeof dummy; }
    if (!ops_of(be, why, why_size)) return 0;
    if ((x && x->dtype != QT_F32) || (y && y->dtype != QT_F32)) {
        snprintf(why, why_size, "activations take f32 only");
        return 0;
    }
    const qt_dthresh_t *d = act && act->kind == QT_ACT_DTHRESH ? act->dt : NULL;
    const qt_tensor_t *ts[3] = {x, y, d ? &d->theta : NULL};
    static const char *const names[3] = {"x", "y", "the dthresh state"};
    return qt_tensors_on_backend(be, ts, names, 3, why, why_size);
}

/* ---- checked entry points ---- */

/* x and y (rows, cols) f32; y of x's shape. */
static qt_status_t check_act_pair(const qt_tensor_t *x, const qt_tensor_t *y, const char *xn, const char *yn)
{
    QT_TRY(qt_tensor_check(x, xn, QT_F32, -1));
    QT_TRY(qt_tensor_check(y, yn, QT_F32, -1));
    if (!qt_tensor_same_shape(x, y)) return qt_fail(QT_ERR_SHAPE, "activation: %s and %s differ in shape", xn, yn);
    return QT_OK;
}

/* Validate and run an activation forward. */
qt_status_t qt_sparse_act_forward(qt_backend_t *be, const qt_act_t *act, const qt_tensor_t *x, qt_tensor_t *y)
{
    QT_CHECK_ARG(be != NULL && act != NULL, "activation: NULL backend or activation");
    QT_TRY(check_act_pair(x, y, "x", "y"));
    if (x->ndim != 2) return qt_fail(QT_ERR_SHAPE, "activation: x must be (rows, cols), has rank %d", x->ndim);
    const int64_t rows = x->shape[0], cols = x->shape[1];
    if (rows <= 0 || cols <= 0)
        return qt_fail(QT_ERR_SHAPE, "activation: shape (%lld, %lld) must be positive", (long long)rows,
                       (long long)cols);
    switch (act->kind) {
    case QT_ACT_RELU: break;
    case QT_ACT_SHIFTED_RELU:
        QT_CHECK_ARG(isfinite(act->shift), "shifted ReLU: shift %g must be finite", (double)act->shift);
        break;
    case QT_ACT_TOPK:
        QT_CHECK_ARG(act->k >= 1 && act->k <= cols, "top-k: k = %d must be in [1, %lld] (the row width)", act->k,
                     (long long)cols);
        break;
    case QT_ACT_DTHRESH:
        QT_CHECK_ARG(act->dt != NULL && act->dt->theta.data != NULL, "dthresh: state not initialised");
        if (act->dt->cfg.channels != cols)
            return qt_fail(QT_ERR_SHAPE, "dthresh: state has %d channels but x has %lld columns",
                           act->dt->cfg.channels, (long long)cols);
        break;
    default: return qt_fail(QT_ERR_ARG, "unknown activation kind %d", (int)act->kind);
    }
    char why[256];
    if (!qt_sparse_act_supports(be, act, x, y, why, sizeof why))
        return qt_fail(QT_ERR_UNSUPPORTED, "activation %s: %s", qt_act_name(act->kind), why);
    return ((const qt_sparse_ops_t *)qt_backend_ops(be, QT_TECH_SPARSE))->act_forward(be, act, x, y);
}

/* Validate and run an activation backward. */
qt_status_t qt_sparse_act_backward(qt_backend_t *be, const qt_tensor_t *y, const qt_tensor_t *dy, qt_tensor_t *dx)
{
    QT_CHECK_ARG(be != NULL, "activation backward: NULL backend");
    QT_TRY(check_act_pair(y, dy, "y", "dy"));
    QT_TRY(check_act_pair(y, dx, "y", "dx"));
    if (qt_tensor_numel(y) <= 0) return qt_fail(QT_ERR_SHAPE, "activation backward: y has no elements");
    char why[256];
    if (!qt_sparse_act_supports(be, NULL, y, dy, why, sizeof why) || !qt_sparse_act_supports(be, NULL, dx, NULL, why, sizeof why))
        return qt_fail(QT_ERR_UNSUPPORTED, "activation backward: %s", why);
    return ((const qt_sparse_ops_t *)qt_backend_ops(be, QT_TECH_SPARSE))->act_backward(be, y, dy, dx);
}

/* 1 when the byte ranges of two tensors overlap (same device). */
static int overlaps(const qt_tensor_t *a, const qt_tensor_t *b)
{
    const char *pa = a->data, *pb = b->data;
    size_t na = (size_t)qt_tensor_numel(a) * qt_dtype_size(a->dtype), nb = (size_t)qt_tensor_numel(b) * qt_dtype_size(b->dtype);
    return qt_tensor_device(a) == qt_tensor_device(b) && pa < pb + nb && pb < pa + na;
}

/* Shapes, dtypes, placement and path of one matmul. */
static qt_status_t check_matmul(const qt_backend_t *be, qt_spmm_path_t path, const qt_tensor_t *A,
                                const qt_tensor_t *W, const qt_tensor_t *Y)
{
    QT_CHECK_ARG(be != NULL, "matmul: NULL backend");
    QT_CHECK_ARG((unsigned)path < QT_SPMM_COUNT, "matmul: unknown path %d", (int)path);
    QT_TRY(qt_tensor_check(A, "A", A ? A->dtype : QT_F32, 2));
    QT_CHECK_ARG(A->dtype == QT_F32 || A->dtype == QT_BF16, "matmul: A is %s (f32 or bf16)", qt_dtype_name(A->dtype));
    QT_TRY(qt_tensor_check(W, "W", A->dtype, 2));
    QT_TRY(qt_tensor_check(Y, "Y", A->dtype, 2));
    if (A->shape[1] != W->shape[0])
        return qt_fail(QT_ERR_SHAPE, "matmul: A is (%lld, %lld) but W is (%lld, %lld): inner sizes differ",
                       (long long)A->shape[0], (long long)A->shape[1], (long long)W->shape[0], (long long)W->shape[1]);
    if (Y->shape[0] != A->shape[0] || Y->shape[1] != W->shape[1])
        return qt_fail(QT_ERR_SHAPE, "matmul: Y is (%lld, %lld) but A·W is (%lld, %lld)", (long long)Y->shape[0],
                       (long long)Y->shape[1], (long long)A->shape[0], (long long)W->shape[1]);
    const int64_t M = A->shape[0], K = A->shape[1], N = W->shape[1];
    if (M <= 0 || K <= 0 || N <= 0)
        return qt_fail(QT_ERR_SHAPE, "matmul: M=%lld K=%lld N=%lld must all be > 0", (long long)M, (long long)K,
                       (long long)N);
    if (M > INT32_MAX || K > INT32_MAX || N > INT32_MAX)
        return qt_fail(QT_ERR_SHAPE, "matmul: dimensions above 2^31 are not supported");
    QT_CHECK_ARG(!overlaps(Y, A) && !overlaps(Y, W), "matmul: Y must not overlap A or W");
    char why[256];
    if (!qt_sparse_supports(be, path, A, W, Y, why, sizeof why)) return qt_fail(QT_ERR_UNSUPPORTED, "matmul: %s", why);
    return QT_OK;
}

/* The dispatcher's choice may only name paths the backend implements for the operands' dtype. */
typedef struct {
    const qt_backend_t *be;
    qt_dtype_t dt;
} path_arg_t;
static int be_has_path(qt_spmm_path_t p, const void *arg)
{
    const path_arg_t *a = arg;
    const qt_sparse_ops_t *ops = qt_backend_ops(a->be, QT_TECH_SPARSE);
    return ops->supports(a->be, p, a->dt);
}

/* AUTO (sparse.h): the backend measures a sample of rows, its own table chooses, its path runs. */
static qt_status_t dispatch(qt_backend_t *be, const qt_sparse_ops_t *ops, const qt_tensor_t *A, const qt_tensor_t *W,
                            qt_tensor_t *Y, const qt_xover_table_t *table, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    const int64_t M = A->shape[0], K = A->shape[1], N = W->shape[1];
    double se, sc;
    /* The last estimate for this shape, kept in the workspace (sparse.h). On a device the
     * measure's read-back would stall it at every call (~100 µs at M = 1 on the H200 before the
     * cuda measure lost its single-block scan, still a wait after it); on the host the measure
     * reads a whole row of A at M = 1, which at 16 threads cost the dispatcher 11% against its
     * path (Xeon, M=1 K=16384 N=4096 95%: 0.0688 against csr 0.0611 ms, session 8). */
    if (ws && ws->est_be == be && ws->est_M == M && ws->est_K == K &&
        ws->est_dtype == (int)A->dtype && ws->est_age > 0 && ws->est_age < QT_SPMM_REMEASURE) {
        se = ws->est_se;
        sc = ws->est_sc;
        ws->est_age++;
    } else {
        int64_t r = 32768 / K, nnz = 0, zc = 0;
        if (r < 8) r = 8;
        if (r > M) r = M;
        QT_TRY(ops->measure(be, A, r, &nnz, &zc));
        se = 1.0 - (double)nnz / ((double)r * (double)K), sc = (double)zc / (double)K;
        if (r < M) { /* all-zero sampled columns beyond what independent zeros give are structure */
            double indep = pow(se, (double)r), sd = sqrt(indep * (1.0 - indep) / (double)K);
            if (sc <= indep + 4.0 * sd + 0.01) sc = pow(se, (double)M);
        }
        if (ws) {
            ws->est_be = be, ws->est_M = M, ws->est_K = K, ws->est_dtype = (int)A->dtype, ws->est_age = 1;
            ws->est_se = se, ws->est_sc = sc;
        }
    }
    qt_xover_table_t *own = NULL;
    if (!table) { /* the backend's built-in table, built once per process and backend */
        enum { SLOTS = 16 };
        static qt_xover_table_t *builtin[SLOTS];
        static const qt_backend_iface_t *of[SLOTS];
        qt_status_t st = QT_OK;
#pragma omp critical(qt_sparse_defaults)
        {
            int i = 0;
            while (i < SLOTS && of[i] && of[i] != be->iface) i++;
            if (i < SLOTS && !of[i] && (builtin[i] = malloc(sizeof *builtin[i])) != NULL) {
                st = qt_xover_defaults(builtin[i], qt_backend_name(be));
                of[i] = be->iface;
            }
            if (i < SLOTS && of[i] == be->iface) table = builtin[i];
        }
        QT_TRY(st);
        if (!table) { /* more backends than slots: a table for this call only */
            own = malloc(sizeof *own);
            if (!own) return qt_fail(QT_ERR_NOMEM, "sparse dispatcher: no memory for a crossover table");
            qt_xover_defaults(own, qt_backend_name(be));
            table = own;
        }
    }
    path_arg_t pa = {be, A->dtype};
    qt_spmm_path_t p = qt_xover_choose(table, M, K, N, se, sc, be_has_path, &pa);
    free(own);
    return ops->matmul(be, p, A, W, Y, ws, info);
}

/* Validate and run a matmul (AUTO through the dispatcher). */
qt_status_t qt_sparse_matmul(qt_backend_t *be, qt_spmm_path_t path, const qt_tensor_t *A, const qt_tensor_t *W,
                             qt_tensor_t *Y, const qt_xover_table_t *table, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    QT_TRY(check_matmul(be, path, A, W, Y));
    const qt_sparse_ops_t *ops = qt_backend_ops(be, QT_TECH_SPARSE);
    if (path != QT_SPMM_AUTO) return ops->matmul(be, path, A, W, Y, ws, info);
    if (table && strcmp(table->backend, qt_backend_name(be)))
        return qt_fail(QT_ERR_ARG, "matmul auto: the crossover table is backend '%s''s, the call runs on '%s'",
                       table->backend[0] ? table->backend : "(none)", qt_backend_name(be));
    return dispatch(be, ops, A, W, Y, table, ws, info);
}

/* Exact counts through the backend's measure op. */
qt_status_t qt_sparse_measure(qt_backend_t *be, const qt_tensor_t *A, int64_t *nnz, int64_t *zero_cols)
{
    char why[256];
    QT_TRY(qt_tensor_check(A, "A", A ? A->dtype : QT_F32, 2));
    if (!qt_sparse_supports(be, QT_SPMM_AUTO, A, NULL, NULL, why, sizeof why))
        return qt_fail(QT_ERR_UNSUPPORTED, "sparse measure: %s", why);
    int64_t nz = 0, zc = 0;
    if (A->shape[0] > 0 && A->shape[1] > 0)
        QT_TRY(((const qt_sparse_ops_t *)qt_backend_ops(be, QT_TECH_SPARSE))->measure(be, A, A->shape[0], &nz, &zc));
    else
        zc = A->shape[1];
    if (nnz) *nnz = nz;
    if (zero_cols) *zero_cols = zc;
    return QT_OK;
}
