/* nn.c — Linear, ReLU, GELU, LayerNorm and softmax cross-entropy, float32,
 * forward and hand-written backward (formulas in quintet/nn.h).
 * Linear runs through cblas_sgemm, called outside OpenMP regions; element-wise and
 * per-row loops use OpenMP only above QT_NN_OMP_MIN elements. Tested by
 * finite differences in tests/nn/test_nn.c (make test). */
#include "quintet/nn.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "quintet/counters.h"
#include "quintet/rng.h"
#include "quintet/tensor.h"

#define QT_NN_OMP_MIN 32768 /* below this many elements the loops stay serial */

/* Add one call's work to the SDE counters. */
static void nn_count(double flops, double bytes_read, double bytes_written)
{
    qt_counter_add(QT_CTR_FLOPS, (long long)flops);
    qt_counter_add(QT_CTR_BYTES_READ, (long long)bytes_read);
    qt_counter_add(QT_CTR_BYTES_WRITTEN, (long long)bytes_written);
}

/* ---------------------------------------------------------------- Linear */

/* Allocate and initialise like torch.nn.Linear: U(-1/sqrt(in), 1/sqrt(in)). */
qt_status_t qt_nn_linear_init(qt_nn_linear_t *l, int in, int out, uint64_t seed, uint64_t stream)
{
    QT_CHECK_ARG(l != NULL, "linear layer must not be NULL");
    memset(l, 0, sizeof *l);
    QT_CHECK_ARG(in > 0 && out > 0, "linear sizes in=%d, out=%d must be > 0", in, out);
    size_t nw = (size_t)in * (size_t)out;
    l->in = in;
    l->out = out;
    l->W = qt_alloc(nw * sizeof(float));
    l->b = qt_alloc((size_t)out * sizeof(float));
    l->dW = qt_calloc(nw * sizeof(float));
    l->db = qt_calloc((size_t)out * sizeof(float));
    if (!l->W || !l->b || !l->dW || !l->db) {
        qt_nn_linear_free(l);
        return qt_fail(QT_ERR_NOMEM, "linear %dx%d: out of memory", out, in);
    }
    float bound = 1.0f / sqrtf((float)in);
    qt_rng_fill_uniform_f32(l->W, nw, seed, stream, 0, -bound, bound);
    qt_rng_fill_uniform_f32(l->b, (size_t)out, seed, stream, nw, -bound, bound);
    return QT_OK;
}

/* Release a linear layer's storage. */
void qt_nn_linear_free(qt_nn_linear_t *l)
{
    if (!l) return;
    qt_free(l->W);
    qt_free(l->b);
    qt_free(l->dW);
    qt_free(l->db);
    memset(l, 0, sizeof *l);
}

/* Zero a linear layer's gradients. */
void qt_nn_linear_zero_grad(qt_nn_linear_t *l)
{
    if (!l || !l->dW) return;
    memset(l->dW, 0, (size_t)l->in * (size_t)l->out * sizeof(float));
    memset(l->db, 0, (size_t)l->out * sizeof(float));
}

/* y = x Wᵀ + b: rows of y start as b, then one SGEMM with beta = 1. */
qt_status_t qt_nn_linear_forward(const qt_nn_linear_t *l, const float *x, int rows, float *y)
{
    QT_CHECK_ARG(l && l->W && x && y, "linear forward: NULL argument");
    QT_CHECK_ARG(rows > 0, "linear forward: rows=%d must be > 0", rows);
    int in = l->in, out = l->out;
    for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * out, l->b, (size_t)out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, l->W, in, 1.0f, y, out);
    nn_count(2.0 * rows * in * out, 4.0 * ((double)rows * in + (double)in * out + out),
             4.0 * (double)rows * out);
    return QT_OK;
}

/* dW += dyᵀ x, db += column sums of dy, dx = dy W. */
qt_status_t qt_nn_linear_backward(qt_nn_linear_t *l, const float *x, const float *dy, int rows, float *dx)
{
    QT_CHECK_ARG(l && l->W && x && dy, "linear backward: NULL argument");
    QT_CHECK_ARG(rows > 0, "linear backward: rows=%d must be > 0", rows);
    int in = l->in, out = l->out;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, 1.0f, dy, out, x, in, 1.0f, l->dW, in);
    for (int r = 0; r < rows; r++) {
        const float *d = dy + (size_t)r * out;
        for (int o = 0; o < out; o++) l->db[o] += d[o];
    }
    double flops = 2.0 * rows * in * out + (double)rows * out;
    if (dx) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, dy, out, l->W, in, 0.0f, dx, in);
        flops += 2.0 * rows * in * out;
    }
    nn_count(flops, 4.0 * ((double)rows * (in + out) + 2.0 * in * out),
             4.0 * ((double)in * out + out + (dx ? (double)rows * in : 0)));
    return QT_OK;
}

/* ---------------------------------------------------------- activations */

/* y = max(x, 0). */
qt_status_t qt_nn_relu_forward(const float *x, float *y, size_t n)
{
    QT_CHECK_ARG(x && y, "relu forward: NULL argument");
#pragma omp parallel for if (n >= QT_NN_OMP_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    nn_count((double)n, 4.0 * n, 4.0 * n);
    return QT_OK;
}

/* dx = dy where x > 0, else 0. */
qt_status_t qt_nn_relu_backward(const float *x, const float *dy, float *dx, size_t n)
{
    QT_CHECK_ARG(x && dy && dx, "relu backward: NULL argument");
#pragma omp parallel for if (n >= QT_NN_OMP_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
    nn_count((double)n, 8.0 * n, 4.0 * n);
    return QT_OK;
}

/* y = x Φ(x) with Φ(x) = ½(1 + erf(x/√2)). */
qt_status_t qt_nn_gelu_forward(const float *x, float *y, size_t n)
{
    QT_CHECK_ARG(x && y, "gelu forward: NULL argument");
    const float inv_sqrt2 = 0.70710678118654752f;
#pragma omp parallel for if (n >= QT_NN_OMP_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * inv_sqrt2));
    nn_count(4.0 * n, 4.0 * n, 4.0 * n);
    return QT_OK;
}

/* dx = dy (Φ(x) + x φ(x)), φ the standard normal density. */
qt_status_t qt_nn_gelu_backward(const float *x, const float *dy, float *dx, size_t n)
{
    QT_CHECK_ARG(x && dy && dx, "gelu backward: NULL argument");
    const float inv_sqrt2 = 0.70710678118654752f, inv_sqrt2pi = 0.39894228040143268f;
#pragma omp parallel for if (n >= QT_NN_OMP_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * inv_sqrt2));
        float pdf = inv_sqrt2pi * expf(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
    }
    nn_count(8.0 * n, 8.0 * n, 4.0 * n);
    return QT_OK;
}

/* ------------------------------------------------------------ LayerNorm */

/* gamma = 1, beta = 0, zero gradients. */
qt_status_t qt_nn_layernorm_init(qt_nn_layernorm_t *ln, int dim, float eps)
{
    QT_CHECK_ARG(ln != NULL, "layernorm must not be NULL");
    memset(ln, 0, sizeof *ln);
    QT_CHECK_ARG(dim > 0, "layernorm dim=%d must be > 0", dim);
    QT_CHECK_ARG(eps > 0.0f, "layernorm eps=%g must be > 0", (double)eps);
    ln->dim = dim;
    ln->eps = eps;
    size_t bytes = (size_t)dim * sizeof(float);
    ln->gamma = qt_alloc(bytes);
    ln->beta = qt_calloc(bytes);
    ln->dgamma = qt_calloc(bytes);
    ln->dbeta = qt_calloc(bytes);
    if (!ln->gamma || !ln->beta || !ln->dgamma || !ln->dbeta) {
        qt_nn_layernorm_free(ln);
        return qt_fail(QT_ERR_NOMEM, "layernorm dim %d: out of memory", dim);
    }
    for (int i = 0; i < dim; i++) ln->gamma[i] = 1.0f;
    return QT_OK;
}

/* Release a layernorm's storage. */
void qt_nn_layernorm_free(qt_nn_layernorm_t *ln)
{
    if (!ln) return;
    qt_free(ln->gamma);
    qt_free(ln->beta);
    qt_free(ln->dgamma);
    qt_free(ln->dbeta);
    memset(ln, 0, sizeof *ln);
}

/* Zero a layernorm's gradients. */
void qt_nn_layernorm_zero_grad(qt_nn_layernorm_t *ln)
{
    if (!ln || !ln->dgamma) return;
    memset(ln->dgamma, 0, (size_t)ln->dim * sizeof(float));
    memset(ln->dbeta, 0, (size_t)ln->dim * sizeof(float));
}

/* Per row: mean and biased variance accumulated in double, then normalise and scale. */
qt_status_t qt_nn_layernorm_forward(const qt_nn_layernorm_t *ln, const float *x, int rows, float *y,
                                    float *mean, float *rstd)
{
    QT_CHECK_ARG(ln && ln->gamma && x && y && mean && rstd, "layernorm forward: NULL argument");
    QT_CHECK_ARG(rows > 0, "layernorm forward: rows=%d must be > 0", rows);
    int d = ln->dim;
#pragma omp parallel for if ((size_t)rows * d >= QT_NN_OMP_MIN) schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        double s = 0.0, s2 = 0.0;
        for (int i = 0; i < d; i++) s += xr[i];
        double mu = s / d;
        for (int i = 0; i < d; i++) s2 += (xr[i] - mu) * (xr[i] - mu);
        double rs = 1.0 / sqrt(s2 / d + (double)ln->eps);
        mean[r] = (float)mu;
        rstd[r] = (float)rs;
        for (int i = 0; i < d; i++) yr[i] = (float)((xr[i] - mu) * rs) * ln->gamma[i] + ln->beta[i];
    }
    nn_count(8.0 * rows * d, 4.0 * ((double)rows * d + 2.0 * d), 4.0 * ((double)rows * d + 2.0 * rows));
    return QT_OK;
}

/* dgamma, dbeta accumulated serially over rows; dx per row (parallel for large inputs). */
qt_status_t qt_nn_layernorm_backward(qt_nn_layernorm_t *ln, const float *x, const float *dy, int rows,
                                     const float *mean, const float *rstd, float *dx)
{
    QT_CHECK_ARG(ln && ln->gamma && x && dy && mean && rstd, "layernorm backward: NULL argument");
    QT_CHECK_ARG(rows > 0, "layernorm backward: rows=%d must be > 0", rows);
    int d = ln->dim;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * d, *dr = dy + (size_t)r * d;
        float mu = mean[r], rs = rstd[r];
        for (int i = 0; i < d; i++) {
            ln->dgamma[i] += dr[i] * ((xr[i] - mu) * rs);
            ln->dbeta[i] += dr[i];
        }
    }
    if (dx) {
#pragma omp parallel for if ((size_t)rows * d >= QT_NN_OMP_MIN) schedule(static)
        for (int r = 0; r < rows; r++) {
            const float *xr = x + (size_t)r * d, *dr = dy + (size_t)r * d;
            float *dxr = dx + (size_t)r * d;
            double mu = mean[r], rs = rstd[r], sg = 0.0, sgx = 0.0;
            for (int i = 0; i < d; i++) {
                double g = (double)dr[i] * ln->gamma[i];
                sg += g;
                sgx += g * ((xr[i] - mu) * rs);
            }
            sg /= d;
            sgx /= d;
            for (int i = 0; i < d; i++) {
                double xh = (xr[i] - mu) * rs;
                dxr[i] = (float)(rs * ((double)dr[i] * ln->gamma[i] - sg - xh * sgx));
            }
        }
    }
    nn_count(12.0 * rows * d, 4.0 * (2.0 * rows * d + 2.0 * rows + 3.0 * d),
             4.0 * (2.0 * d + (dx ? (double)rows * d : 0)));
    return QT_OK;
}

/* -------------------------------------------------- softmax cross-entropy */

/* Mean negative log-likelihood of the labels under softmax(logits), its gradient, accuracy. */
qt_status_t qt_nn_softmax_xent(const float *logits, const int32_t *labels, int rows, int classes,
                               double *loss, float *dlogits, int *correct)
{
    QT_CHECK_ARG(logits && labels && loss, "softmax_xent: NULL argument");
    QT_CHECK_ARG(rows > 0 && classes > 0, "softmax_xent: rows=%d, classes=%d must be > 0", rows, classes);
    for (int r = 0; r < rows; r++)
        QT_CHECK_ARG(labels[r] >= 0 && labels[r] < classes, "softmax_xent: label[%d]=%d outside [0, %d)", r,
                     labels[r], classes);
    double total = 0.0;
    int ncorrect = 0;
    for (int r = 0; r < rows; r++) {
        const float *z = logits + (size_t)r * classes;
        int arg = 0;
        float mx = z[0];
        for (int c = 1; c < classes; c++)
            if (z[c] > mx) {
                mx = z[c];
                arg = c;
            }
        double se = 0.0;
        for (int c = 0; c < classes; c++) se += exp((double)z[c] - mx);
        double lse = log(se) + mx;
        total += lse - z[labels[r]];
        if (arg == labels[r]) ncorrect++;
        if (dlogits) {
            float *g = dlogits + (size_t)r * classes;
            for (int c = 0; c < classes; c++) g[c] = (float)(exp((double)z[c] - lse) / rows);
            g[labels[r]] -= 1.0f / (float)rows;
        }
    }
    *loss = total / rows;
    if (correct) *correct = ncorrect;
    nn_count(6.0 * rows * classes, 4.0 * ((double)rows * classes + rows),
             dlogits ? 4.0 * (double)rows * classes : 0.0);
    return QT_OK;
}
