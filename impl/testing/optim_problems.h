/* optim_problems.h — test problems for the optimizers, all in double precision, all
 * data drawn from the Philox generator (quintet/rng.h).
 *
 *   quadratic_deep  DeepOBS's quadratic_deep structure: 100-d, f(θ) = ½ θᵀHθ with
 *                   H = Q diag(λ) Qᵀ, 90 eigenvalues U(0,1) and 10 U(30,60), Q a Haar-random
 *                   rotation (QR of a Gaussian matrix by modified Gram-Schmidt, signs fixed so
 *                   diag(R) > 0). H is fixed: Philox seed 42 (the same distribution as DeepOBS's
 *                   NumPy seed 42, not the same numbers). Start θ = 1. Stochastic gradient:
 *                   H(θ − x̄) with x̄ the mean of a batch of 128 draws x ~ N(0, noise²·I) (x̄ drawn
 *                   directly as N(0, noise²/128)), noise = 1 by default; noise 0 = deterministic.
 *                   Reported loss: ½ θᵀHθ (the noise-free excess loss, minimum 0).
 *   rosenbrock      n-d (default 2): f = Σᵢ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², start (−1.2, 1, −1.2, 1, …),
 *                   minimum 0 at (1, …, 1). Deterministic.
 *   rosenbrock_noisy the same plus Σᵢ xᵢ·ξᵢ with fresh ξ ~ N(0, noise²) per step (noise 1), i.e. the
 *                   gradient gets +ξ; 2-d start (−0.5, 1.5). Reported loss: the noise-free Rosenbrock.
 *   logreg          logistic regression, n = 1024 samples, d = dim−1 features (default 20) plus a bias;
 *                   X ~ N(0,1), w* ~ N(0,1), y ~ Bernoulli(σ(Xw* + b*)); loss = mean softplus(z) − y·z,
 *                   full batch (deterministic). Start 0. Default target: the loss at (w*, b*).
 *   mlp             classifier 16 → 32 (ReLU) → 4 through impl/nn (float32 inside, parameters passed
 *                   as double), softmax cross-entropy; labels from a random teacher network of the same
 *                   shape (seeded), n = 1024; minibatches of 64 rows in order (step t takes rows
 *                   64t mod n …). Start: torch.nn.Linear initialisation. Reported loss: full-data loss.
 * The gradient of step t of a stochastic problem depends only on (seed, t), so resumed runs repeat
 * it exactly. Tests: tests/optim/test_optim.c (gradients against finite differences). */
#ifndef QUINTET_OPTIM_PROBLEMS_H
#define QUINTET_OPTIM_PROBLEMS_H

#include <stddef.h>
#include <stdint.h>

#include "quintet/nn.h"
#include "quintet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_PROB_QUADRATIC_DEEP = 0,
    QT_PROB_ROSENBROCK,
    QT_PROB_ROSENBROCK_NOISY,
    QT_PROB_LOGREG,
    QT_PROB_MLP,
    QT_PROB_COUNT
} qt_problem_kind_t;

typedef struct {
    qt_problem_kind_t kind;
    int dim;        /* number of parameters */
    uint64_t seed;  /* data / noise seed */
    double noise;   /* stochastic problems: noise scale (0 = deterministic) */
    double target;  /* a natural target for the reported loss */
    double *H;      /* quadratic: dim × dim */
    double *X, *y;  /* logreg: n × (dim−1) features, n labels; mlp: n × 16 inputs (as double) */
    int n, feat;    /* samples, features */
    double *tmp;    /* scratch (dim, or n) */
    /* mlp */
    qt_nn_linear_t l1, l2;
    int32_t *labels;
    float *xb, *h, *hr, *z, *dz, *dh; /* batch buffers */
    int batch;
} qt_problem_t;

const char *qt_problem_kind_name(qt_problem_kind_t k);
qt_status_t qt_problem_kind_parse(const char *s, qt_problem_kind_t *out);
/* Build a problem. dim ≤ 0 takes the default (quadratic 100, rosenbrock 2, logreg 21,
 * mlp fixed 676 — other values rejected); noise < 0 takes the default (1). */
qt_status_t qt_problem_init(qt_problem_t *p, qt_problem_kind_t kind, int dim, double noise, uint64_t seed);
void qt_problem_free(qt_problem_t *p);
/* The default starting point (dim values). */
void qt_problem_x0(const qt_problem_t *p, double *x);
/* Gradient used by step t (stochastic problems draw batch/noise from (seed, t)); when
 * batch_loss is not NULL it receives the loss of that batch (noise included). */
qt_status_t qt_problem_grad(qt_problem_t *p, const double *x, int64_t t, double *grad, double *batch_loss);
/* The reported (noise-free / full-data) loss at x. */
qt_status_t qt_problem_loss(qt_problem_t *p, const double *x, double *loss);

#ifdef __cplusplus
}
#endif
#endif
