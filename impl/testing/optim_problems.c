/* optim_problems.c — the optimizer test problems of testing/optim_problems.h: DeepOBS-style
 * ill-conditioned quadratic, Rosenbrock (n-d, noisy), logistic regression and a small
 * MLP classifier (impl/nn). Data and noise come from Philox streams:
 *   quadratic H: seed 42, stream 1 (eigenvalues, uniforms), stream 2 (Gaussian matrix);
 *   noise of step t: run seed, stream 7, indices t·dim …; logreg: streams 11 (X), 12 (w*, b*),
 *   13 (labels); mlp: streams 21, 22 (teacher layers), 23 (inputs), 31, 32 (student init).
 * The Rosenbrock arithmetic is written out in a fixed order that
 * tests/optim/make_torch_trajectories.py repeats in Python, so both sides see bit-identical
 * gradients. Tests: tests/optim/test_optim.c. */
#include "testing/optim_problems.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "quintet/rng.h"
#include "quintet/tensor.h"

#define QUAD_DIM 100
#define QUAD_SEED 42
#define QUAD_BATCH 128
#define NOISE_STREAM 7
#define LOGREG_N 1024
#define MLP_IN 16
#define MLP_HID 32
#define MLP_OUT 4
#define MLP_N 1024
#define MLP_BATCH 64
#define MLP_DIM (MLP_HID * MLP_IN + MLP_HID + MLP_OUT * MLP_HID + MLP_OUT)

static const char *const prob_names[QT_PROB_COUNT] = {"quadratic_deep", "rosenbrock", "rosenbrock_noisy", "logreg",
                                                      "mlp"};

/* Name of a problem kind. */
const char *qt_problem_kind_name(qt_problem_kind_t k) { return (k >= 0 && k < QT_PROB_COUNT) ? prob_names[k] : "?"; }

/* Parse a problem name ("quadratic" is accepted for quadratic_deep). */
qt_status_t qt_problem_kind_parse(const char *s, qt_problem_kind_t *out)
{
    QT_CHECK_ARG(s && out, "problem name must not be NULL");
    if (strcasecmp(s, "quadratic") == 0) return *out = QT_PROB_QUADRATIC_DEEP, QT_OK;
    for (int k = 0; k < QT_PROB_COUNT; k++)
        if (strcasecmp(s, prob_names[k]) == 0) return *out = (qt_problem_kind_t)k, QT_OK;
    return qt_fail(QT_ERR_ARG, "unknown problem '%s' (quadratic_deep, rosenbrock, rosenbrock_noisy, logreg, mlp)", s);
}

/* H = Q diag(λ) Qᵀ with Q from modified Gram-Schmidt on a Gaussian matrix (columns). */
static qt_status_t quad_build(qt_problem_t *p)
{
    int d = p->dim;
    double *A = qt_alloc((size_t)d * d * sizeof(double)), *lam = qt_alloc((size_t)d * sizeof(double));
    p->H = qt_alloc((size_t)d * d * sizeof(double));
    if (!A || !lam || !p->H) {
        qt_free(A);
        qt_free(lam);
        return qt_fail(QT_ERR_NOMEM, "quadratic: out of memory");
    }
    int n_small = d * 9 / 10;
    for (int i = 0; i < d; i++) {
        double u = qt_rng_uniform_f64(QUAD_SEED, 1, (uint64_t)i);
        lam[i] = i < n_small ? u : 30.0 + 30.0 * u;
    }
    qt_rng_fill_normal_f64(A, (size_t)d * d, QUAD_SEED, 2, 0, 0.0, 1.0); /* A[i*d + j]: row i, column j */
    for (int j = 0; j < d; j++) {
        for (int k = 0; k < j; k++) {
            double r = 0;
            for (int i = 0; i < d; i++) r += A[i * d + k] * A[i * d + j];
            for (int i = 0; i < d; i++) A[i * d + j] -= r * A[i * d + k];
        }
        double nrm = 0;
        for (int i = 0; i < d; i++) nrm += A[i * d + j] * A[i * d + j];
        nrm = sqrt(nrm);
        for (int i = 0; i < d; i++) A[i * d + j] /= nrm;
    }
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += A[i * d + k] * lam[k] * A[j * d + k];
            p->H[i * d + j] = p->H[j * d + i] = s;
        }
    qt_free(A);
    qt_free(lam);
    return QT_OK;
}

/* Logistic-regression data: X, labels from a random teacher (w*, b*); target = loss at the teacher. */
static qt_status_t logreg_build(qt_problem_t *p)
{
    int n = LOGREG_N, f = p->dim - 1;
    p->n = n;
    p->feat = f;
    p->X = qt_alloc((size_t)n * f * sizeof(double));
    p->y = qt_alloc((size_t)n * sizeof(double));
    p->tmp = qt_alloc((size_t)(n > p->dim ? n : p->dim) * sizeof(double));
    double *w = qt_alloc((size_t)p->dim * sizeof(double));
    if (!p->X || !p->y || !p->tmp || !w) {
        qt_free(w);
        return qt_fail(QT_ERR_NOMEM, "logreg: out of memory");
    }
    qt_rng_fill_normal_f64(p->X, (size_t)n * f, p->seed, 11, 0, 0.0, 1.0);
    qt_rng_fill_normal_f64(w, (size_t)p->dim, p->seed, 12, 0, 0.0, 1.0);
    for (int i = 0; i < n; i++) {
        double z = w[f];
        for (int j = 0; j < f; j++) z += p->X[(size_t)i * f + j] * w[j];
        double prob = 1.0 / (1.0 + exp(-z));
        p->y[i] = qt_rng_uniform_f64(p->seed, 13, (uint64_t)i) < prob ? 1.0 : 0.0;
    }
    qt_status_t st = qt_problem_loss(p, w, &p->target);
    qt_free(w);
    return st;
}

/* MLP data: inputs N(0,1), labels = argmax of a random teacher 16→32(ReLU)→4 in double. */
static qt_status_t mlp_build(qt_problem_t *p)
{
    p->n = MLP_N;
    p->feat = MLP_IN;
    p->batch = MLP_BATCH;
    p->target = 0.35;
    QT_TRY(qt_nn_linear_init(&p->l1, MLP_IN, MLP_HID, p->seed, 31));
    QT_TRY(qt_nn_linear_init(&p->l2, MLP_HID, MLP_OUT, p->seed, 32));
    size_t n = MLP_N;
    p->labels = qt_alloc(n * sizeof(int32_t));
    p->xb = qt_alloc(n * MLP_IN * sizeof(float));
    p->h = qt_alloc(n * MLP_HID * sizeof(float));
    p->hr = qt_alloc(n * MLP_HID * sizeof(float));
    p->dh = qt_alloc(n * MLP_HID * sizeof(float));
    p->z = qt_alloc(n * MLP_OUT * sizeof(float));
    p->dz = qt_alloc(n * MLP_OUT * sizeof(float));
    if (!p->labels || !p->xb || !p->h || !p->hr || !p->dh || !p->z || !p->dz)
        return qt_fail(QT_ERR_NOMEM, "mlp: out of memory");
    qt_rng_fill_normal_f32(p->xb, n * MLP_IN, p->seed, 23, 0, 0.0f, 1.0f);
    for (size_t i = 0; i < n; i++) {
        double out[MLP_OUT], hid[MLP_HID];
        for (int k = 0; k < MLP_HID; k++) {
            double s = 0.5 * qt_rng_normal(p->seed, 21, (uint64_t)(k * (MLP_IN + 1) + MLP_IN));
            for (int j = 0; j < MLP_IN; j++)
                s += qt_rng_normal(p->seed, 21, (uint64_t)(k * (MLP_IN + 1) + j)) / 4.0 * p->xb[i * MLP_IN + j];
            hid[k] = s > 0 ? s : 0;
        }
        int best = 0;
        for (int o = 0; o < MLP_OUT; o++) {
            double s = 0;
            for (int k = 0; k < MLP_HID; k++)
                s += qt_rng_normal(p->seed, 22, (uint64_t)(o * MLP_HID + k)) * hid[k];
            out[o] = s;
            if (s > out[best]) best = o;
        }
        p->labels[i] = best;
    }
    return QT_OK;
}

/* Build a problem. */
qt_status_t qt_problem_init(qt_problem_t *p, qt_problem_kind_t kind, int dim, double noise, uint64_t seed)
{
    QT_CHECK_ARG(p != NULL, "problem must not be NULL");
    memset(p, 0, sizeof *p);
    QT_CHECK_ARG(kind >= 0 && kind < QT_PROB_COUNT, "problem kind %d out of range", (int)kind);
    QT_CHECK_ARG(isfinite(noise), "problem noise must be finite");
    p->kind = kind;
    p->seed = seed;
    p->noise = noise < 0 ? 1.0 : noise;
    qt_status_t st = QT_OK;
    switch (kind) {
    case QT_PROB_QUADRATIC_DEEP:
        p->dim = dim > 0 ? dim : QUAD_DIM;
        QT_CHECK_ARG(p->dim >= 10 && p->dim <= 4096, "quadratic_deep: dim=%d must be in [10, 4096]", p->dim);
        p->target = 1e-2;
        p->tmp = qt_alloc((size_t)p->dim * sizeof(double));
        st = p->tmp ? quad_build(p) : qt_fail(QT_ERR_NOMEM, "quadratic: out of memory");
        break;
    case QT_PROB_ROSENBROCK:
    case QT_PROB_ROSENBROCK_NOISY:
        p->dim = dim > 0 ? dim : 2;
        QT_CHECK_ARG(p->dim >= 2, "rosenbrock: dim=%d must be >= 2", p->dim);
        if (kind == QT_PROB_ROSENBROCK) p->noise = 0;
        p->target = kind == QT_PROB_ROSENBROCK ? 1e-6 : 1e-2;
        break;
    case QT_PROB_LOGREG:
        p->dim = dim > 0 ? dim : 21;
        QT_CHECK_ARG(p->dim >= 2 && p->dim <= 1025, "logreg: dim=%d must be in [2, 1025]", p->dim);
        p->noise = 0;
        st = logreg_build(p);
        break;
    case QT_PROB_MLP:
        QT_CHECK_ARG(dim <= 0 || dim == MLP_DIM, "mlp: dim is fixed at %d (got %d)", MLP_DIM, dim);
        p->dim = MLP_DIM;
        st = mlp_build(p);
        break;
    default: break;
    }
    if (st != QT_OK) qt_problem_free(p);
    return st;
}

/* Release a problem. */
void qt_problem_free(qt_problem_t *p)
{
    if (!p) return;
    qt_free(p->H);
    qt_free(p->X);
    qt_free(p->y);
    qt_free(p->tmp);
    qt_nn_linear_free(&p->l1);
    qt_nn_linear_free(&p->l2);
    qt_free(p->labels);
    qt_free(p->xb);
    qt_free(p->h);
    qt_free(p->hr);
    qt_free(p->dh);
    qt_free(p->z);
    qt_free(p->dz);
    memset(p, 0, sizeof *p);
}

/* Default start. */
void qt_problem_x0(const qt_problem_t *p, double *x)
{
    switch (p->kind) {
    case QT_PROB_QUADRATIC_DEEP:
        for (int i = 0; i < p->dim; i++) x[i] = 1.0;
        break;
    case QT_PROB_ROSENBROCK:
        for (int i = 0; i < p->dim; i++) x[i] = (i % 2 == 0) ? -1.2 : 1.0;
        break;
    case QT_PROB_ROSENBROCK_NOISY:
        for (int i = 0; i < p->dim; i++) x[i] = (i % 2 == 0) ? -0.5 : 1.5;
        break;
    case QT_PROB_LOGREG:
        for (int i = 0; i < p->dim; i++) x[i] = 0.0;
        break;
    case QT_PROB_MLP: {
        const float *src[4] = {p->l1.W, p->l1.b, p->l2.W, p->l2.b};
        size_t cnt[4] = {MLP_HID * MLP_IN, MLP_HID, MLP_OUT * MLP_HID, MLP_OUT}, off = 0;
        for (int k = 0; k < 4; k++)
            for (size_t i = 0; i < cnt[k]; i++) x[off++] = src[k][i];
        break;
    }
    default: break;
    }
}

/* Rosenbrock loss and gradient in the fixed order the PyTorch script repeats. */
static double rosen(const double *x, int n, double *g)
{
    double f = 0;
    if (g)
        for (int i = 0; i < n; i++) g[i] = 0.0;
    for (int i = 0; i < n - 1; i++) {
        double a = 1 - x[i], b = x[i + 1] - x[i] * x[i];
        f = f + (100 * b * b + a * a);
        if (g) {
            g[i] = g[i] + (-400 * x[i] * b - 2 * a);
            g[i + 1] = g[i + 1] + 200 * b;
        }
    }
    return f;
}

/* ½ xᵀHx, and g = Hx when g is not NULL. */
static double quad(const qt_problem_t *p, const double *x, double *g)
{
    int d = p->dim;
    double f = 0;
    for (int i = 0; i < d; i++) {
        double s = 0;
        const double *h = p->H + (size_t)i * d;
        for (int j = 0; j < d; j++) s += h[j] * x[j];
        if (g) g[i] = s;
        f += x[i] * s;
    }
    return 0.5 * f;
}

/* Mean logistic loss and gradient over the full data set. */
static double logreg(const qt_problem_t *p, const double *w, double *g)
{
    int n = p->n, f = p->feat;
    double L = 0;
    if (g)
        for (int j = 0; j <= f; j++) g[j] = 0;
    for (int i = 0; i < n; i++) {
        const double *xi = p->X + (size_t)i * f;
        double z = w[f];
        for (int j = 0; j < f; j++) z += xi[j] * w[j];
        double sp = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
        L += sp - p->y[i] * z;
        if (g) {
            double r = 1.0 / (1.0 + exp(-z)) - p->y[i];
            for (int j = 0; j < f; j++) g[j] += r * xi[j];
            g[f] += r;
        }
    }
    if (g)
        for (int j = 0; j <= f; j++) g[j] /= n;
    return L / n;
}

/* Copy the flat double parameters into the float layers. */
static void mlp_load(qt_problem_t *p, const double *x)
{
    float *dst[4] = {p->l1.W, p->l1.b, p->l2.W, p->l2.b};
    size_t cnt[4] = {MLP_HID * MLP_IN, MLP_HID, MLP_OUT * MLP_HID, MLP_OUT}, off = 0;
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < cnt[k]; i++) dst[k][i] = (float)x[off++];
}

/* MLP loss over rows [r0, r0+rows) of the data; gradient into g when not NULL. */
static qt_status_t mlp_eval(qt_problem_t *p, const double *x, int r0, int rows, double *loss, double *g)
{
    mlp_load(p, x);
    const float *xb = p->xb + (size_t)r0 * MLP_IN;
    QT_TRY(qt_nn_linear_forward(&p->l1, xb, rows, p->h));
    QT_TRY(qt_nn_relu_forward(p->h, p->hr, (size_t)rows * MLP_HID));
    QT_TRY(qt_nn_linear_forward(&p->l2, p->hr, rows, p->z));
    QT_TRY(qt_nn_softmax_xent(p->z, p->labels + r0, rows, MLP_OUT, loss, g ? p->dz : NULL, NULL));
    if (!g) return QT_OK;
    qt_nn_linear_zero_grad(&p->l1);
    qt_nn_linear_zero_grad(&p->l2);
    QT_TRY(qt_nn_linear_backward(&p->l2, p->hr, p->dz, rows, p->dh));
    QT_TRY(qt_nn_relu_backward(p->h, p->dh, p->dh, (size_t)rows * MLP_HID));
    QT_TRY(qt_nn_linear_backward(&p->l1, xb, p->dh, rows, NULL));
    const float *src[4] = {p->l1.dW, p->l1.db, p->l2.dW, p->l2.db};
    size_t cnt[4] = {MLP_HID * MLP_IN, MLP_HID, MLP_OUT * MLP_HID, MLP_OUT}, off = 0;
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < cnt[k]; i++) g[off++] = src[k][i];
    return QT_OK;
}

/* Gradient of step t. */
qt_status_t qt_problem_grad(qt_problem_t *p, const double *x, int64_t t, double *grad, double *batch_loss)
{
    QT_CHECK_ARG(p && x && grad, "problem_grad: NULL argument");
    QT_CHECK_ARG(t >= 0, "problem_grad: step %lld must be >= 0", (long long)t);
    int d = p->dim;
    double f = 0;
    uint64_t base = (uint64_t)t * (uint64_t)d;
    switch (p->kind) {
    case QT_PROB_QUADRATIC_DEEP:
        if (p->noise > 0) {
            double sd = p->noise / sqrt((double)QUAD_BATCH);
            for (int i = 0; i < d; i++) p->tmp[i] = x[i] - sd * qt_rng_normal(p->seed, NOISE_STREAM, base + i);
            f = quad(p, p->tmp, grad);
        } else {
            f = quad(p, x, grad);
        }
        break;
    case QT_PROB_ROSENBROCK: f = rosen(x, d, grad); break;
    case QT_PROB_ROSENBROCK_NOISY:
        f = rosen(x, d, grad);
        for (int i = 0; i < d; i++) {
            double xi = p->noise * qt_rng_normal(p->seed, NOISE_STREAM, base + i);
            grad[i] += xi;
            f += x[i] * xi;
        }
        break;
    case QT_PROB_LOGREG: f = logreg(p, x, grad); break;
    case QT_PROB_MLP: {
        int r0 = (int)(((uint64_t)t * MLP_BATCH) % MLP_N);
        QT_TRY(mlp_eval(p, x, r0, MLP_BATCH, &f, grad));
        break;
    }
    default: return qt_fail(QT_ERR_ARG, "problem kind %d out of range", (int)p->kind);
    }
    if (batch_loss) *batch_loss = f;
    return QT_OK;
}

/* Reported loss. */
qt_status_t qt_problem_loss(qt_problem_t *p, const double *x, double *loss)
{
    QT_CHECK_ARG(p && x && loss, "problem_loss: NULL argument");
    switch (p->kind) {
    case QT_PROB_QUADRATIC_DEEP: *loss = quad(p, x, NULL); return QT_OK;
    case QT_PROB_ROSENBROCK:
    case QT_PROB_ROSENBROCK_NOISY: *loss = rosen(x, p->dim, NULL); return QT_OK;
    case QT_PROB_LOGREG: *loss = logreg(p, x, NULL); return QT_OK;
    case QT_PROB_MLP: return mlp_eval(p, x, 0, MLP_N, loss, NULL);
    default: return qt_fail(QT_ERR_ARG, "problem kind %d out of range", (int)p->kind);
    }
}
