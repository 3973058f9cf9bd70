/* test_nn.c — every nn layer's forward against an independent double-precision
 * re-implementation, and every hand-written backward against central finite
 * differences of that double forward (h = 1e-6, so FD error ~1e-10 and the
 * comparison measures the float32 backward's own rounding).
 * The scalar under test is L = Σ c ⊙ y with random c (c = dy), or the mean
 * cross-entropy itself. Inputs: Philox normals from a fresh seed. Run: make test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/nn.h"
#include "quintet/rng.h"
#include "quintet/tensor.h"
#include "test_util.h"

#define FD_H 1e-6

/* Fill n floats with N(0,1) draws of the test seed's stream s. */
static void randn(float *x, size_t n, uint64_t s)
{
    qt_rng_fill_normal_f32(x, n, qt_test_seed(), s, 0, 0.0f, 1.0f);
}

/* ---- independent double forwards: return L = Σ c·y ---- */

/* Linear in double on float data, x (R,I), W (O,I). */
static double lin_L(const float *x, const float *W, const float *b, const float *c, int R, int I, int O,
                    const double *xd, const double *Wd, const double *bd)
{
    double L = 0;
    for (int r = 0; r < R; r++)
        for (int o = 0; o < O; o++) {
            double y = bd ? bd[o] : b[o];
            for (int i = 0; i < I; i++)
                y += (xd ? xd[r * I + i] : x[r * I + i]) * (Wd ? Wd[o * I + i] : W[o * I + i]);
            L += c[r * O + o] * y;
        }
    return L;
}

/* Copy floats to doubles. */
static double *to_d(const float *a, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

/* Finite-difference gradient of lin_L w.r.t. one of x (which=0), W (1), b (2). */
static void lin_fd(const float *x, const float *W, const float *b, const float *c, int R, int I, int O, int which,
                   double *g)
{
    double *xd = to_d(x, (size_t)R * I), *Wd = to_d(W, (size_t)O * I), *bd = to_d(b, (size_t)O);
    double *v = which == 0 ? xd : which == 1 ? Wd : bd;
    size_t n = which == 0 ? (size_t)R * I : which == 1 ? (size_t)O * I : (size_t)O;
    for (size_t k = 0; k < n; k++) {
        double s = v[k];
        v[k] = s + FD_H;
        double lp = lin_L(x, W, b, c, R, I, O, xd, Wd, bd);
        v[k] = s - FD_H;
        double lm = lin_L(x, W, b, c, R, I, O, xd, Wd, bd);
        v[k] = s;
        g[k] = (lp - lm) / (2 * FD_H);
    }
    free(xd);
    free(Wd);
    free(bd);
}

/* Linear: forward vs double, dW, db, dx vs finite differences; gradients accumulate. */
static void test_linear(void)
{
    enum { R = 6, I = 13, O = 9 };
    qt_nn_linear_t l;
    CU_ASSERT_EQUAL_FATAL(qt_nn_linear_init(&l, I, O, qt_test_seed(), 1), QT_OK);
    float x[R * I], y[R * O], c[R * O], dx[R * I];
    randn(x, R * I, 2);
    randn(c, R * O, 3);
    CU_ASSERT_EQUAL(qt_nn_linear_forward(&l, x, R, y), QT_OK);
    double yref[R * O];
    for (int r = 0; r < R; r++)
        for (int o = 0; o < O; o++) {
            double s = l.b[o];
            for (int i = 0; i < I; i++) s += (double)x[r * I + i] * l.W[o * I + i];
            yref[r * O + o] = s;
        }
    /* float32 SGEMM with I = 13 terms of size ~1: relative 1e-5 of the output scale. */
    CU_ASSERT(qt_test_max_rel_err_f32(y, yref, R * O) < 1e-5);
    CU_ASSERT_EQUAL(qt_nn_linear_backward(&l, x, c, R, dx), QT_OK);
    double gx[R * I], gW[O * I], gb[O];
    lin_fd(x, l.W, l.b, c, R, I, O, 0, gx);
    lin_fd(x, l.W, l.b, c, R, I, O, 1, gW);
    lin_fd(x, l.W, l.b, c, R, I, O, 2, gb);
    /* float32 backward (sums of ≤ 9 products of O(1) values) vs double FD: 1e-5 of scale. */
    CU_ASSERT(qt_test_max_rel_err_f32(dx, gx, R * I) < 1e-5);
    CU_ASSERT(qt_test_max_rel_err_f32(l.dW, gW, O * I) < 1e-5);
    CU_ASSERT(qt_test_max_rel_err_f32(l.db, gb, O) < 1e-5);
    /* A second backward without zero_grad doubles dW (torch accumulation); dx may be NULL. */
    CU_ASSERT_EQUAL(qt_nn_linear_backward(&l, x, c, R, NULL), QT_OK);
    for (int k = 0; k < O * I; k++) gW[k] *= 2;
    CU_ASSERT(qt_test_max_rel_err_f32(l.dW, gW, O * I) < 1e-5);
    qt_nn_linear_zero_grad(&l);
    CU_ASSERT_EQUAL(l.dW[0], 0.0f);
    /* Init bound 1/sqrt(in). */
    int outside = 0;
    for (int k = 0; k < O * I; k++) outside += fabsf(l.W[k]) > 1.0f / sqrtf((float)I);
    CU_ASSERT_EQUAL(outside, 0);
    qt_nn_linear_free(&l);
    qt_nn_linear_free(&l);
}

/* Double GELU. */
static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

/* ReLU and GELU: forward vs double and backward vs FD of the double forward. */
static void test_activations(void)
{
    enum { N = 257 };
    float x[N], dy[N], y[N], dx[N];
    randn(x, N, 4);
    randn(dy, N, 5);
    for (int i = 0; i < N; i++) /* keep ReLU's kink out of the FD stencil */
        if (fabsf(x[i]) < 1e-3f) x[i] = 0.5f;
    double yr[N], gr[N];
    /* ReLU */
    CU_ASSERT_EQUAL(qt_nn_relu_forward(x, y, N), QT_OK);
    for (int i = 0; i < N; i++) yr[i] = x[i] > 0 ? x[i] : 0;
    CU_ASSERT(qt_test_max_rel_err_f32(y, yr, N) == 0.0); /* exact */
    CU_ASSERT_EQUAL(qt_nn_relu_backward(x, dy, dx, N), QT_OK);
    for (int i = 0; i < N; i++) {
        double xp = (double)x[i] + FD_H, xm = (double)x[i] - FD_H;
        gr[i] = dy[i] * ((xp > 0 ? xp : 0) - (xm > 0 ? xm : 0)) / (2 * FD_H);
    }
    CU_ASSERT(qt_test_max_rel_err_f32(dx, gr, N) < 1e-7); /* FD of a piecewise-linear map: exact up to rounding */
    /* GELU */
    CU_ASSERT_EQUAL(qt_nn_gelu_forward(x, y, N), QT_OK);
    for (int i = 0; i < N; i++) yr[i] = gelu_d(x[i]);
    CU_ASSERT(qt_test_max_rel_err_f32(y, yr, N) < 1e-6); /* erff is accurate to a few ulp */
    CU_ASSERT_EQUAL(qt_nn_gelu_backward(x, dy, dx, N), QT_OK);
    for (int i = 0; i < N; i++) gr[i] = dy[i] * (gelu_d((double)x[i] + FD_H) - gelu_d((double)x[i] - FD_H)) / (2 * FD_H);
    CU_ASSERT(qt_test_max_rel_err_f32(dx, gr, N) < 1e-5); /* float erff/expf vs double FD */
    /* In place works. */
    float z[N];
    memcpy(z, x, sizeof z);
    CU_ASSERT_EQUAL(qt_nn_gelu_forward(z, z, N), QT_OK);
    CU_ASSERT(qt_test_max_rel_err_f32(z, yr, N) < 1e-6);
}

/* L = Σ c·LayerNorm(x; gamma, beta) in double. */
static double ln_L(const double *x, const double *g, const double *b, const float *c, int R, int D, double eps)
{
    double L = 0;
    for (int r = 0; r < R; r++) {
        double mu = 0, var = 0;
        for (int i = 0; i < D; i++) mu += x[r * D + i];
        mu /= D;
        for (int i = 0; i < D; i++) var += (x[r * D + i] - mu) * (x[r * D + i] - mu);
        var /= D;
        for (int i = 0; i < D; i++) L += c[r * D + i] * ((x[r * D + i] - mu) / sqrt(var + eps) * g[i] + b[i]);
    }
    return L;
}

/* LayerNorm with non-trivial gamma/beta: forward vs double, dx/dgamma/dbeta vs FD. */
static void test_layernorm(void)
{
    enum { R = 5, D = 11 };
    qt_nn_layernorm_t ln;
    CU_ASSERT_EQUAL_FATAL(qt_nn_layernorm_init(&ln, D, 1e-5f), QT_OK);
    randn(ln.gamma, D, 6);
    randn(ln.beta, D, 7);
    float x[R * D], c[R * D], y[R * D], dx[R * D], mean[R], rstd[R];
    randn(x, R * D, 8);
    randn(c, R * D, 9);
    CU_ASSERT_EQUAL(qt_nn_layernorm_forward(&ln, x, R, y, mean, rstd), QT_OK);
    double *xd = to_d(x, R * D), *gd = to_d(ln.gamma, D), *bd = to_d(ln.beta, D);
    double yref[R * D];
    for (int r = 0; r < R; r++) {
        double mu = 0, var = 0;
        for (int i = 0; i < D; i++) mu += xd[r * D + i];
        mu /= D;
        for (int i = 0; i < D; i++) var += (xd[r * D + i] - mu) * (xd[r * D + i] - mu);
        var /= D;
        for (int i = 0; i < D; i++) yref[r * D + i] = (xd[r * D + i] - mu) / sqrt(var + 1e-5) * gd[i] + bd[i];
    }
    CU_ASSERT(qt_test_max_rel_err_f32(y, yref, R * D) < 1e-5); /* float32 output of a double computation */
    CU_ASSERT_EQUAL(qt_nn_layernorm_backward(&ln, x, c, R, mean, rstd, dx), QT_OK);
    double gx[R * D], gg[D], gb[D];
    double *vs[3] = {xd, gd, bd}, *gs[3] = {gx, gg, gb};
    int ns[3] = {R * D, D, D};
    for (int w = 0; w < 3; w++)
        for (int k = 0; k < ns[w]; k++) {
            double s = vs[w][k];
            vs[w][k] = s + FD_H;
            double lp = ln_L(xd, gd, bd, c, R, D, 1e-5);
            vs[w][k] = s - FD_H;
            double lm = ln_L(xd, gd, bd, c, R, D, 1e-5);
            vs[w][k] = s;
            gs[w][k] = (lp - lm) / (2 * FD_H);
        }
    /* mean/rstd are stored as float: the backward carries ~1e-7 relative error per term. */
    CU_ASSERT(qt_test_max_rel_err_f32(dx, gx, R * D) < 1e-4);
    CU_ASSERT(qt_test_max_rel_err_f32(ln.dgamma, gg, D) < 1e-5);
    CU_ASSERT(qt_test_max_rel_err_f32(ln.dbeta, gb, D) < 1e-5);
    free(xd);
    free(gd);
    free(bd);
    qt_nn_layernorm_free(&ln);
}

/* Mean cross-entropy in double. */
static double xent_d(const double *z, const int32_t *lab, int R, int C)
{
    double L = 0;
    for (int r = 0; r < R; r++) {
        double mx = z[r * C];
        for (int c = 1; c < C; c++) mx = fmax(mx, z[r * C + c]);
        double s = 0;
        for (int c = 0; c < C; c++) s += exp(z[r * C + c] - mx);
        L += log(s) + mx - z[r * C + lab[r]];
    }
    return L / R;
}

/* Softmax cross-entropy: loss vs double, dlogits vs FD, accuracy count, label checks. */
static void test_softmax_xent(void)
{
    enum { R = 7, C = 5 };
    float z[R * C], dz[R * C];
    int32_t lab[R];
    randn(z, R * C, 10);
    for (int r = 0; r < R; r++) lab[r] = (int32_t)(qt_rng_u32(qt_test_seed(), 11, (uint64_t)r) % C);
    double loss;
    int correct = -1;
    CU_ASSERT_EQUAL(qt_nn_softmax_xent(z, lab, R, C, &loss, dz, &correct), QT_OK);
    double *zd = to_d(z, R * C);
    CU_ASSERT(fabs(loss - xent_d(zd, lab, R, C)) < 1e-12); /* same double arithmetic */
    int ref_correct = 0;
    for (int r = 0; r < R; r++) {
        int a = 0;
        for (int c = 1; c < C; c++)
            if (z[r * C + c] > z[r * C + a]) a = c;
        ref_correct += a == lab[r];
    }
    CU_ASSERT_EQUAL(correct, ref_correct);
    double g[R * C];
    for (int k = 0; k < R * C; k++) {
        double s = zd[k];
        zd[k] = s + FD_H;
        double lp = xent_d(zd, lab, R, C);
        zd[k] = s - FD_H;
        double lm = xent_d(zd, lab, R, C);
        zd[k] = s;
        g[k] = (lp - lm) / (2 * FD_H);
    }
    CU_ASSERT(qt_test_max_rel_err_f32(dz, g, R * C) < 1e-6); /* double math rounded to float once */
    free(zd);
    lab[2] = C; /* out of range */
    CU_ASSERT_EQUAL(qt_nn_softmax_xent(z, lab, R, C, &loss, NULL, NULL), QT_ERR_ARG);
}

/* Bad arguments return QT_ERR_ARG, never crash. */
static void test_bad_args(void)
{
    qt_nn_linear_t l;
    CU_ASSERT_EQUAL(qt_nn_linear_init(&l, 0, 3, 1, 0), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_nn_linear_init(NULL, 2, 3, 1, 0), QT_ERR_ARG);
    qt_nn_layernorm_t ln;
    CU_ASSERT_EQUAL(qt_nn_layernorm_init(&ln, 4, 0.0f), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_nn_relu_forward(NULL, NULL, 3), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_nn_gelu_backward(NULL, NULL, NULL, 3), QT_ERR_ARG);
    CU_ASSERT(strlen(qt_last_error()) > 0);
}

QT_TEST_MAIN("nn", {"linear", test_linear}, {"relu and gelu", test_activations}, {"layernorm", test_layernorm},
             {"softmax cross-entropy", test_softmax_xent}, {"bad arguments", test_bad_args})
