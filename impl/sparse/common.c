/* common.c — the parts of impl/sparse every backend shares: names, the dynamic-threshold
 * state and its training-mode update, the crossover table (defaults, text file, estimate,
 * choice), the backend registry and the argument-checking entry points (sparse.h).
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

/* Validate the configuration and allocate the state. */
qt_status_t qt_dthresh_init(qt_dthresh_t *d, const qt_dthresh_config_t *cfg)
{
    QT_CHECK_ARG(d != NULL && cfg != NULL, "dthresh state and config must not be NULL");
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
    size_t bytes = (size_t)cfg->channels * sizeof(float);
    d->mu = qt_calloc(bytes);
    d->kappa = qt_alloc(bytes);
    d->theta = qt_calloc(bytes);
    if (!d->mu || !d->kappa || !d->theta) {
        qt_dthresh_free(d);
        return qt_fail(QT_ERR_NOMEM, "dthresh: cannot allocate %d channels", cfg->channels);
    }
    for (int c = 0; c < cfg->channels; c++) d->kappa[c] = cfg->scale;
    d->cfg = *cfg;
    return QT_OK;
}

/* Release the state. */
void qt_dthresh_free(qt_dthresh_t *d)
{
    if (!d) return;
    qt_free(d->mu);
    qt_free(d->kappa);
    qt_free(d->theta);
    memset(d, 0, sizeof *d);
}

/* qsort order of floats, ascending. */
static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Training-mode update, steps 1–4 of sparse.h. */
qt_status_t qt_sparse_dthresh_update(qt_dthresh_t *d, const float *x, int64_t rows, int64_t cols)
{
    const qt_dthresh_config_t *cfg = &d->cfg;
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
            below[c] += xr[c] <= d->theta[c];
        }
    }
    const double m = cfg->momentum;
    for (int64_t c = 0; c < cols; c++) {
        double a = sum[c] / (double)rows;
        double mu = d->steps == 0 ? a : (1.0 - m) * d->mu[c] + m * a;
        d->mu[c] = (float)mu;
        if (cfg->use_target) {
            if (d->steps == 0) {
                for (int64_t b = 0; b < rows; b++) col[b] = x[b * cols + c];
                qsort(col, (size_t)rows, sizeof *col, cmp_float);
                int64_t i = (int64_t)floor((double)cfg->target * (double)rows);
                if (i >= rows) i = rows - 1;
                double q = col[i] > 0.0f ? col[i] : 0.0;
                d->kappa[c] = d->mu[c] > 0.0f ? (float)fmin(q / d->mu[c], QT_DTHRESH_KAPPA_MAX) : cfg->scale;
            } else {
                double s = (double)below[c] / (double)rows;
                double k = d->kappa[c] + (double)cfg->gain * ((double)cfg->target - s);
                d->kappa[c] = (float)fmin(fmax(k, 0.0), QT_DTHRESH_KAPPA_MAX);
            }
        }
        d->theta[c] = d->kappa[c] * d->mu[c];
    }
    d->steps++;
    qt_free(sum);
    qt_free(below);
    qt_free(col);
    return QT_OK;
}

/* ---- crossover table ---- */

#define XB_ALL INT64_MAX

/* The built-in conservative table: sparse paths only where they are sure to win. */
void qt_xover_defaults(qt_xover_table_t *t)
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
        {QT_SPMM_CSR, XB_ALL, 0.0, 0.05}, {QT_SPMM_CSR, XB_ALL, 0.95, 1.0}, {QT_SPMM_CSR, XB_ALL, 0.99, 3.0},
    };
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        (void)qt_xover_add(t, d[i].p, d[i].rows, XB_ALL, 0, d[i].s, d[i].x);
    snprintf(t->source, sizeof t->source, "defaults");
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
        char name[32];
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
    FILE *f = fopen(file, "w");
    if (!f) return qt_fail(QT_ERR_IO, "cannot write crossover table '%s'", file);
    fprintf(f, "# quintet sparse matmul crossover table (written by the sparsity suite)\n"
               "# path max_rows max_wbytes structured sparsity speedup_vs_dense\n");
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

/* Argmax of the estimates; DENSE unless a path is estimated faster. */
qt_spmm_path_t qt_xover_choose(const qt_xover_table_t *t, int64_t M, int64_t K, int64_t N, double s_elem,
                               double s_col)
{
    qt_spmm_path_t best = QT_SPMM_DENSE;
    double best_x = 1.0;
    for (int p = QT_SPMM_GATHER; p < QT_SPMM_AUTO; p++) {
        double x = qt_xover_estimate(t, (qt_spmm_path_t)p, M, K, N, s_elem, s_col);
        if (x > best_x) { best_x = x; best = (qt_spmm_path_t)p; }
    }
    return best;
}

/* ---- working memory, counters, measurement ---- */

/* Release the workspace. */
void qt_spmm_ws_free(qt_spmm_ws_t *ws)
{
    if (!ws) return;
    qt_free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}

/* Add one matmul's counters. */
void qt_sparse_count_matmul(double macs_done, double macs_skipped, int64_t nnz)
{
    qt_counter_add(QT_CTR_FLOPS, (long long)(2.0 * macs_done));
    if (macs_skipped > 0) qt_counter_add(QT_CTR_ZEROS_SKIPPED, (long long)macs_skipped);
    if (nnz >= 0) qt_counter_add(QT_CTR_NONZEROS, nnz);
}

/* Nonzeros and all-zero columns of A (plain loops). */
void qt_sparse_measure(const float *A, int64_t M, int64_t K, int64_t *nnz, int64_t *zero_cols)
{
    int64_t nz = 0, zc = 0;
    unsigned char *colnz = zero_cols ? qt_calloc((size_t)(K > 0 ? K : 1)) : NULL;
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++)
            if (A[m * K + k] != 0.0f) {
                nz++;
                if (colnz) colnz[k] = 1;
            }
    if (colnz)
        for (int64_t k = 0; k < K; k++) zc += !colnz[k];
    qt_free(colnz);
    if (nnz) *nnz = nz;
    if (zero_cols) *zero_cols = colnz || K == 0 ? zc : -1;
}

/* ---- registry ---- */

static const qt_sparse_ops_t *const backends[] = {&qt_sparse_ops_ref, &qt_sparse_ops_cpu};

/* Number of backends. */
int qt_sparse_backend_count(void) { return (int)(sizeof backends / sizeof backends[0]); }

/* Backend i (NULL out of range). */
const qt_sparse_ops_t *qt_sparse_backend(int i)
{
    return i >= 0 && i < qt_sparse_backend_count() ? backends[i] : NULL;
}

/* Backend by name. */
const qt_sparse_ops_t *qt_sparse_backend_find(const char *name)
{
    for (int i = 0; name && i < qt_sparse_backend_count(); i++)
        if (!strcmp(backends[i]->name, name)) return backends[i];
    return NULL;
}

/* ---- checked entry points ---- */

/* Validate and run an activation forward. */
qt_status_t qt_sparse_act_forward(const qt_sparse_ops_t *ops, const qt_act_t *act, const float *x, float *y,
                                  int64_t rows, int64_t cols)
{
    QT_CHECK_ARG(ops != NULL && act != NULL && x != NULL && y != NULL, "activation: NULL argument");
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
        QT_CHECK_ARG(act->dt != NULL && act->dt->theta != NULL, "dthresh: state not initialised");
        if (act->dt->cfg.channels != cols)
            return qt_fail(QT_ERR_SHAPE, "dthresh: state has %d channels but x has %lld columns",
                           act->dt->cfg.channels, (long long)cols);
        break;
    default: return qt_fail(QT_ERR_ARG, "unknown activation kind %d", (int)act->kind);
    }
    return ops->act_forward(act, x, y, rows, cols);
}

/* Validate and run an activation backward. */
qt_status_t qt_sparse_act_backward(const qt_sparse_ops_t *ops, const float *y, const float *dy, float *dx, int64_t n)
{
    QT_CHECK_ARG(ops != NULL && y != NULL && dy != NULL && dx != NULL, "activation backward: NULL argument");
    if (n <= 0) return qt_fail(QT_ERR_SHAPE, "activation backward: n = %lld must be > 0", (long long)n);
    return ops->act_backward(y, dy, dx, n);
}

/* 1 when [a, a+na) and [b, b+nb) (floats) overlap. */
static int overlaps(const float *a, int64_t na, const float *b, int64_t nb) { return a < b + nb && b < a + na; }

/* Validate and run a matmul. */
qt_status_t qt_sparse_matmul(const qt_sparse_ops_t *ops, qt_spmm_path_t path, const qt_spmm_call_t *c)
{
    QT_CHECK_ARG(ops != NULL && c != NULL, "matmul: NULL ops or call");
    QT_CHECK_ARG(c->A != NULL && c->W != NULL && c->Y != NULL, "matmul: A, W and Y must not be NULL");
    QT_CHECK_ARG((unsigned)path < QT_SPMM_COUNT, "matmul: unknown path %d", (int)path);
    if (c->M <= 0 || c->K <= 0 || c->N <= 0)
        return qt_fail(QT_ERR_SHAPE, "matmul: M=%lld K=%lld N=%lld must all be > 0", (long long)c->M,
                       (long long)c->K, (long long)c->N);
    if (c->M > INT32_MAX || c->K > INT32_MAX || c->N > INT32_MAX)
        return qt_fail(QT_ERR_SHAPE, "matmul: dimensions above 2^31 are not supported");
    QT_CHECK_ARG(!overlaps(c->Y, c->M * c->N, c->A, c->M * c->K) && !overlaps(c->Y, c->M * c->N, c->W, c->K * c->N),
                 "matmul: Y must not overlap A or W");
    if (!ops->supports(path))
        return qt_fail(QT_ERR_UNSUPPORTED, "matmul: backend '%s' has no '%s' path", ops->name, qt_spmm_path_name(path));
    return ops->matmul(path, c);
}

/* Tensor form: check the shapes, then run. */
qt_status_t qt_sparse_matmul_tensor(const qt_sparse_ops_t *ops, qt_spmm_path_t path, const qt_tensor_t *A,
                                    const qt_tensor_t *W, qt_tensor_t *Y, const qt_xover_table_t *table,
                                    qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    QT_TRY(qt_tensor_check(A, "A", QT_F32, 2));
    QT_TRY(qt_tensor_check(W, "W", QT_F32, 2));
    QT_TRY(qt_tensor_check(Y, "Y", QT_F32, 2));
    if (A->shape[1] != W->shape[0])
        return qt_fail(QT_ERR_SHAPE, "matmul: A is (%lld, %lld) but W is (%lld, %lld): inner sizes differ",
                       (long long)A->shape[0], (long long)A->shape[1], (long long)W->shape[0], (long long)W->shape[1]);
    if (Y->shape[0] != A->shape[0] || Y->shape[1] != W->shape[1])
        return qt_fail(QT_ERR_SHAPE, "matmul: Y is (%lld, %lld) but A·W is (%lld, %lld)", (long long)Y->shape[0],
                       (long long)Y->shape[1], (long long)A->shape[0], (long long)W->shape[1]);
    qt_spmm_call_t c = {A->data, W->data, Y->data, A->shape[0], A->shape[1], W->shape[1], table, ws, info};
    return qt_sparse_matmul(ops, path, &c);
}
