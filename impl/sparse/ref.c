/* ref.c — the oracle backend of impl/sparse: plain loops, double accumulation, no tricks.
 * Activations as defined in sparse.h (top-k by a full sort of each row); matmul: the
 * DENSE path only, Y = A·W with every product summed in double.
 * Tested against by tests/sparse/test_sparse.c (make test). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quintet/counters.h"
#include "quintet/tensor.h"

/* A row entry for sorting: value and column. */
typedef struct {
    float v;
    int64_t i;
} entry_t;

/* qsort order of the top-k rule. */
static int cmp_topk(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (qt_sparse_topk_before(x->v, x->i, y->v, y->i)) return -1;
    if (qt_sparse_topk_before(y->v, y->i, x->v, x->i)) return 1;
    return 0;
}

/* Forward of every activation kind. */
static qt_status_t ref_act_forward(const qt_act_t *act, const float *x, float *y, int64_t rows, int64_t cols)
{
    int64_t n = rows * cols, nnz = 0;
    switch (act->kind) {
    case QT_ACT_RELU:
    case QT_ACT_SHIFTED_RELU: {
        float b = act->kind == QT_ACT_RELU ? 0.0f : act->shift;
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > b ? x[i] - b : 0.0f;
        break;
    }
    case QT_ACT_DTHRESH:
        if (act->training) QT_TRY(qt_sparse_dthresh_update(act->dt, x, rows, cols));
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) {
                float v = x[r * cols + c];
                y[r * cols + c] = v > act->dt->theta[c] ? v : 0.0f;
            }
        break;
    case QT_ACT_TOPK: {
        entry_t *e = qt_alloc((size_t)cols * sizeof *e);
        if (!e) return qt_fail(QT_ERR_NOMEM, "top-k: no memory for a row of %lld", (long long)cols);
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * cols;
            float *yr = y + r * cols;
            for (int64_t c = 0; c < cols; c++) e[c] = (entry_t){xr[c], c};
            qsort(e, (size_t)cols, sizeof *e, cmp_topk);
            for (int64_t c = 0; c < cols; c++) yr[c] = 0.0f; /* x may alias y: values saved in e */
            for (int64_t j = 0; j < act->k; j++) yr[e[j].i] = e[j].v;
        }
        qt_free(e);
        break;
    }
    default: return qt_fail(QT_ERR_ARG, "unknown activation kind %d", (int)act->kind);
    }
    for (int64_t i = 0; i < n; i++) nnz += y[i] != 0.0f;
    qt_counter_add(QT_CTR_NONZEROS, nnz);
    return QT_OK;
}

/* dx = dy where y != 0. */
static qt_status_t ref_act_backward(const float *y, const float *dy, float *dx, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dx[i] = y[i] != 0.0f ? dy[i] : 0.0f;
    return QT_OK;
}

/* Only the dense product. */
static int ref_supports(qt_spmm_path_t p) { return p == QT_SPMM_DENSE; }

/* Y = A·W with double accumulation, one output row at a time. */
static qt_status_t ref_matmul(qt_spmm_path_t p, const qt_spmm_call_t *c)
{
    (void)p;
    double *acc = qt_alloc((size_t)c->N * sizeof(double));
    if (!acc) return qt_fail(QT_ERR_NOMEM, "ref matmul: no memory for a row of %lld", (long long)c->N);
    for (int64_t m = 0; m < c->M; m++) {
        memset(acc, 0, (size_t)c->N * sizeof(double));
        for (int64_t k = 0; k < c->K; k++) {
            double a = c->A[m * c->K + k];
            const float *w = c->W + k * c->N;
            for (int64_t n = 0; n < c->N; n++) acc[n] += a * (double)w[n];
        }
        for (int64_t n = 0; n < c->N; n++) c->Y[m * c->N + n] = (float)acc[n];
    }
    qt_free(acc);
    if (c->info) *c->info = (qt_spmm_info_t){QT_SPMM_DENSE, -1, -1};
    qt_sparse_count_matmul((double)c->M * (double)c->K * (double)c->N, 0, -1);
    return QT_OK;
}

const qt_sparse_ops_t qt_sparse_ops_ref = {"ref", ref_supports, ref_act_forward, ref_act_backward, ref_matmul};
