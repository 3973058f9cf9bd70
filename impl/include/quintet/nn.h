/* nn.h — small neural-network layers with forward and hand-written backward
 * passes, float32, batched row-major (rows = batch), matmuls through OpenBLAS.
 *
 * Semantics follow PyTorch's modules of the same names:
 *   Linear     y = x Wᵀ + b, W is (out, in) row-major, b is (out). Initialised as
 *              torch.nn.Linear: W, b ~ U(-1/√in, 1/√in) (drawn from Philox).
 *   ReLU       y = max(x, 0); dy/dx = 1 for x > 0, else 0 (as torch: 0 at x = 0).
 *   GELU       exact form (torch default approximate='none'):
 *              y = x·Φ(x) = ½x(1 + erf(x/√2)); dy/dx = Φ(x) + x·φ(x).
 *   LayerNorm  over the last dimension D: μ, σ² (biased) per row,
 *              y = (x − μ)/√(σ² + eps)·γ + β, eps = 1e-5 by default, affine γ = 1, β = 0 at init.
 *   softmax cross-entropy: loss = mean over the batch of −log softmax(z)[label]
 *              (torch.nn.functional.cross_entropy, reduction='mean');
 *              d loss / d z = (softmax(z) − onehot(label)) / batch.
 * Gradients of parameters ACCUMULATE (dW += …) like torch's .grad; clear them with
 * qt_nn_linear_zero_grad / qt_nn_layernorm_zero_grad. Input gradients (dx) are
 * overwritten. BLAS is called outside any OpenMP region; element-wise loops use
 * OpenMP only for large arrays. Every call adds its FLOPs and bytes to the SDE counters.
 * Backward passes are checked against finite differences in tests/nn/test_nn.c. */
#ifndef QUINTET_NN_H
#define QUINTET_NN_H

#include "quintet/api.h"

#include <stddef.h>
#include <stdint.h>

#include "quintet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Linear ---- */
typedef struct {
    int in, out;
    float *W, *b;   /* (out, in), (out) */
    float *dW, *db; /* gradients, same shapes, accumulated by backward */
} qt_nn_linear_t;

/* Allocate (qt_alloc) and initialise like torch.nn.Linear from Philox (seed, stream);
 * gradients start at zero. in, out > 0. */
QT_API qt_status_t qt_nn_linear_init(qt_nn_linear_t *l, int in, int out, uint64_t seed, uint64_t stream);
/* Release storage; safe on a zeroed or already-freed layer. */
QT_API void qt_nn_linear_free(qt_nn_linear_t *l);
/* Set dW and db to zero. */
QT_API void qt_nn_linear_zero_grad(qt_nn_linear_t *l);
/* y (rows, out) = x (rows, in) Wᵀ + b. */
QT_API qt_status_t qt_nn_linear_forward(const qt_nn_linear_t *l, const float *x, int rows, float *y);
/* Given x (rows, in) and dy (rows, out): dW += dyᵀx, db += Σ_rows dy, and, when dx is
 * not NULL, dx (rows, in) = dy W. */
QT_API qt_status_t qt_nn_linear_backward(qt_nn_linear_t *l, const float *x, const float *dy, int rows, float *dx);

/* ---- element-wise activations (n elements; y may alias x, dx may alias dy) ---- */
QT_API qt_status_t qt_nn_relu_forward(const float *x, float *y, size_t n);
/* dx = dy · [x > 0]. */
QT_API qt_status_t qt_nn_relu_backward(const float *x, const float *dy, float *dx, size_t n);
QT_API qt_status_t qt_nn_gelu_forward(const float *x, float *y, size_t n);
/* dx = dy · (Φ(x) + x φ(x)). */
QT_API qt_status_t qt_nn_gelu_backward(const float *x, const float *dy, float *dx, size_t n);

/* ---- LayerNorm over the last dimension ---- */
typedef struct {
    int dim;
    float eps;
    float *gamma, *beta;   /* (dim) */
    float *dgamma, *dbeta; /* accumulated by backward */
} qt_nn_layernorm_t;

/* gamma = 1, beta = 0, eps as given (torch default 1e-5; must be > 0), dim > 0. */
QT_API qt_status_t qt_nn_layernorm_init(qt_nn_layernorm_t *ln, int dim, float eps);
QT_API void qt_nn_layernorm_free(qt_nn_layernorm_t *ln);
QT_API void qt_nn_layernorm_zero_grad(qt_nn_layernorm_t *ln);
/* y (rows, dim) from x; saves each row's mean and 1/√(σ²+eps) into mean[rows], rstd[rows]
 * for the backward pass. */
QT_API qt_status_t qt_nn_layernorm_forward(const qt_nn_layernorm_t *ln, const float *x, int rows, float *y,
                                    float *mean, float *rstd);
/* dgamma += Σ dy·x̂, dbeta += Σ dy, and dx (rows, dim) =
 * rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ, x̂ = (x − μ)·rstd. */
QT_API qt_status_t qt_nn_layernorm_backward(qt_nn_layernorm_t *ln, const float *x, const float *dy, int rows,
                                     const float *mean, const float *rstd, float *dx);

/* ---- softmax cross-entropy, mean over the batch ---- */
/* logits (rows, classes), labels in [0, classes). *loss = mean of −log p[label]
 * (computed with the max-subtraction, accumulated in double). When dlogits is not
 * NULL it receives (softmax − onehot)/rows, the gradient of the mean loss.
 * When correct is not NULL it receives the number of rows whose argmax equals the label. */
QT_API qt_status_t qt_nn_softmax_xent(const float *logits, const int32_t *labels, int rows, int classes,
                               double *loss, float *dlogits, int *correct);

#ifdef __cplusplus
}
#endif
#endif
