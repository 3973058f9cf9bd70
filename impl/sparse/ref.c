/* ref.c — the oracle backend of impl/sparse (qt_sparse_ops_ref, listed by the "ref" backend
 * of impl/backends/host/host.c): plain loops, double accumulation, one thread, no tricks.
 * Activations as defined in sparse.h (top-k by a full sort of each row); matmul: the
 * DENSE path only, Y = A·W with every product summed in double; measure: a plain count.
 * Operands are host tensors (the checked entry points in common.c made sure).
 * Tested against by tests/sparse/test_sparse.c (make test) and quintet verify sparse. */
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
static qt_status_t ref_act_forward(qt_backend_t *be, const qt_act_t *act, const qt_tensor_t *xt, qt_tensor_t *yt)
{
    (void)be;
    const float *x = xt->data;
    float *y = yt->data;
    const int64_t rows = xt->shape[0], cols = xt->shape[1];
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
                y[r * cols + c] = v > ((const float *)act->dt->theta.data)[c] ? v : 0.0f;
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
static qt_status_t ref_act_backward(qt_backend_t *be, const qt_tensor_t *yt, const qt_tensor_t *dyt, qt_tensor_t *dxt)
{
    (void)be;
    const float *y = yt->data, *dy = dyt->data;
    float *dx = dxt->data;
    for (int64_t i = 0, n = qt_tensor_numel(yt); i < n; i++) dx[i] = y[i] != 0.0f ? dy[i] : 0.0f;
    return QT_OK;
}

/* Only the dense product, in f32. */
static int ref_supports(const qt_backend_t *be, qt_spmm_path_t p, qt_dtype_t dt)
{
    (void)be;
    return p == QT_SPMM_DENSE && dt == QT_F32;
}

/* Y = A·W with double accumulation, one output row at a time. */
static qt_status_t ref_matmul(qt_backend_t *be, qt_spmm_path_t p, const qt_tensor_t *At, const qt_tensor_t *Wt,
                              qt_tensor_t *Yt, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    (void)p;
    (void)ws;
    const float *A = At->data, *W = Wt->data;
    float *Y = Yt->data;
    const int64_t M = At->shape[0], K = At->shape[1], N = Wt->shape[1];
    double *acc = qt_alloc((size_t)N * sizeof(double));
    if (!acc) return qt_backend_fail(be, QT_ERR_NOMEM, "ref matmul: no memory for a row of %lld", (long long)N);
    for (int64_t m = 0; m < M; m++) {
        memset(acc, 0, (size_t)N * sizeof(double));
        for (int64_t k = 0; k < K; k++) {
            double a = A[m * K + k];
            const float *w = W + k * N;
            for (int64_t n = 0; n < N; n++) acc[n] += a * (double)w[n];
        }
        for (int64_t n = 0; n < N; n++) Y[m * N + n] = (float)acc[n];
    }
    qt_free(acc);
    if (info) *info = (qt_spmm_info_t){QT_SPMM_DENSE, -1, -1};
    qt_sparse_count_matmul((double)M * (double)K * (double)N, 0, -1);
    return QT_OK;
}

/* Nonzeros and all-zero columns of r evenly spaced rows (plain loops). */
static qt_status_t ref_measure(qt_backend_t *be, const qt_tensor_t *At, int64_t r, int64_t *nnz, int64_t *zero_cols)
{
    const float *A = At->data;
    const int64_t M = At->shape[0], K = At->shape[1];
    unsigned char *colnz = qt_calloc((size_t)K);
    if (!colnz) return qt_backend_fail(be, QT_ERR_NOMEM, "ref measure: no memory for %lld column flags", (long long)K);
    int64_t nz = 0, zc = 0;
    for (int64_t i = 0; i < r; i++) {
        const float *a = A + (2 * i + 1) * M / (2 * r) * K;
        for (int64_t k = 0; k < K; k++)
            if (a[k] != 0.0f) {
                nz++;
                colnz[k] = 1;
            }
    }
    for (int64_t k = 0; k < K; k++) zc += !colnz[k];
    qt_free(colnz);
    *nnz = nz;
    *zero_cols = zc;
    return QT_OK;
}

const qt_sparse_ops_t qt_sparse_ops_ref = {ref_supports, ref_act_forward, ref_act_backward, ref_matmul, ref_measure};
