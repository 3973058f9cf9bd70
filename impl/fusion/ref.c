/* ref.c — the fusion oracle's kernels (internal.h): f64 tensors, plain loops in the
 * textbook order, one thread, no BLAS and nothing shared with cpu.c. The graph that
 * drives them is common.c; the model is documented in quintet/fusion.h.
 * Tested against finite differences and against cpu in tests/fusion/test_fusion.c. */
#include <math.h>
#include <string.h>

#include "internal.h"

typedef double real;

static void r_linear_fwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t in, qt_cfp Wv, qt_cfp bv, int64_t out,
                         qt_fp yv)
{
    (void)be;
    const real *x = xv, *W = Wv, *b = bv;
    real *y = yv;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++) {
            real s = b[o];
            for (int64_t i = 0; i < in; i++) s += x[r * in + i] * W[o * in + i];
            y[r * out + o] = s;
        }
}

static void r_linear_bwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t in, qt_cfp Wv, int64_t out, qt_cfp dyv,
                         qt_fp dxv, qt_fp dWv, qt_fp dbv)
{
    (void)be;
    const real *x = xv, *W = Wv, *dy = dyv;
    real *dx = dxv, *dW = dWv, *db = dbv;
    for (int64_t o = 0; o < out; o++) {
        real sb = 0;
        for (int64_t r = 0; r < rows; r++) sb += dy[r * out + o];
        db[o] += sb;
        for (int64_t i = 0; i < in; i++) {
            real s = 0;
            for (int64_t r = 0; r < rows; r++) s += dy[r * out + o] * x[r * in + i];
            dW[o * in + i] += s;
        }
    }
    if (!dx) return;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < in; i++) {
            real s = 0;
            for (int64_t o = 0; o < out; o++) s += dy[r * out + o] * W[o * in + i];
            dx[r * in + i] += s;
        }
}

static void r_gelu_fwd(qt_backend_t *be, qt_cfp xv, qt_fp yv, int64_t n)
{
    (void)be;
    const real *x = xv;
    real *y = yv;
    for (int64_t i = 0; i < n; i++) y[i] = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
}

static void r_gelu_bwd(qt_backend_t *be, qt_cfp xv, qt_cfp dyv, qt_fp dxv, int64_t n)
{
    (void)be;
    const real *x = xv, *dy = dyv;
    real *dx = dxv;
    for (int64_t i = 0; i < n; i++) {
        real cdf = 0.5 * (1.0 + erf(x[i] / sqrt(2.0)));
        real pdf = exp(-0.5 * x[i] * x[i]) / sqrt(2.0 * M_PI);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

static void r_ln_fwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t dim, qt_cfp gv, qt_cfp bv, qt_fp yv,
                     qt_fp sv)
{
    (void)be;
    const real *x = xv, *g = gv, *b = bv;
    real *y = yv, *st = sv;
    for (int64_t r = 0; r < rows; r++) {
        const real *xr = x + r * dim;
        real mu = 0, var = 0;
        for (int64_t i = 0; i < dim; i++) mu += xr[i];
        mu /= (real)dim;
        for (int64_t i = 0; i < dim; i++) var += (xr[i] - mu) * (xr[i] - mu);
        var /= (real)dim;
        real rstd = 1.0 / sqrt(var + 1e-5);
        st[2 * r] = mu;
        st[2 * r + 1] = rstd;
        for (int64_t i = 0; i < dim; i++) {
            real xh = (xr[i] - mu) * rstd;
            y[r * dim + i] = g ? xh * g[i] + b[i] : xh;
        }
    }
}

static void r_ln_bwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t dim, qt_cfp gv, qt_cfp sv, qt_cfp dyv,
                     qt_fp dxv, qt_fp dgv, qt_fp dbv)
{
    (void)be;
    const real *x = xv, *g = gv, *st = sv, *dy = dyv;
    real *dx = dxv, *dg = dgv, *db = dbv;
    for (int64_t r = 0; r < rows; r++) {
        real mu = st[2 * r], rstd = st[2 * r + 1], mg = 0, mgx = 0;
        for (int64_t i = 0; i < dim; i++) {
            real xh = (x[r * dim + i] - mu) * rstd, gi = dy[r * dim + i] * g[i];
            mg += gi;
            mgx += gi * xh;
            dg[i] += dy[r * dim + i] * xh;
            db[i] += dy[r * dim + i];
        }
        mg /= (real)dim;
        mgx /= (real)dim;
        for (int64_t i = 0; i < dim; i++) {
            real xh = (x[r * dim + i] - mu) * rstd;
            dx[r * dim + i] += rstd * (dy[r * dim + i] * g[i] - mg - xh * mgx);
        }
    }
}

static void r_attn_fwd(qt_backend_t *be, qt_cfp qv, qt_cfp kv, qt_cfp vv, int64_t B, int64_t Lq, int64_t Lk,
                       int64_t d, qt_fp ov, qt_fp pv)
{
    (void)be;
    const real *q = qv, *k = kv, *v = vv;
    real *o = ov, *p = pv, scale = 1.0 / sqrt((real)d);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < Lq; i++) {
            real *pr = p + (b * Lq + i) * Lk, mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < Lk; j++) {
                real s = 0;
                for (int64_t e = 0; e < d; e++) s += q[(b * Lq + i) * d + e] * k[(b * Lk + j) * d + e];
                pr[j] = s * scale;
                if (pr[j] > mx) mx = pr[j];
            }
            for (int64_t j = 0; j < Lk; j++) { pr[j] = exp(pr[j] - mx); sum += pr[j]; }
            for (int64_t j = 0; j < Lk; j++) pr[j] /= sum;
            for (int64_t e = 0; e < d; e++) {
                real s = 0;
                for (int64_t j = 0; j < Lk; j++) s += pr[j] * v[(b * Lk + j) * d + e];
                o[(b * Lq + i) * d + e] = s;
            }
        }
}

static void r_attn_bwd(qt_backend_t *be, qt_cfp qv, qt_cfp kv, qt_cfp vv, qt_cfp pv, qt_cfp dov, int64_t B,
                       int64_t Lq, int64_t Lk, int64_t d, qt_fp dqv, qt_fp dkv, qt_fp dvv, qt_fp dpv)
{
    (void)be;
    const real *q = qv, *k = kv, *v = vv, *p = pv, *dout = dov;
    real *dq = dqv, *dk = dkv, *dv = dvv, *ds = dpv, scale = 1.0 / sqrt((real)d);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < Lq; i++) {
            const real *pr = p + (b * Lq + i) * Lk, *dor = dout + (b * Lq + i) * d;
            real *dsr = ds + (b * Lq + i) * Lk, dot = 0;
            for (int64_t j = 0; j < Lk; j++) { /* dP = dO Vᵀ; dS = P ⊙ (dP − Σ P dP) */
                real s = 0;
                for (int64_t e = 0; e < d; e++) s += dor[e] * v[(b * Lk + j) * d + e];
                dsr[j] = s;
                dot += s * pr[j];
            }
            for (int64_t j = 0; j < Lk; j++) {
                dsr[j] = pr[j] * (dsr[j] - dot) * scale;
                for (int64_t e = 0; e < d; e++) {
                    dq[(b * Lq + i) * d + e] += dsr[j] * k[(b * Lk + j) * d + e];
                    dk[(b * Lk + j) * d + e] += dsr[j] * q[(b * Lq + i) * d + e];
                    dv[(b * Lk + j) * d + e] += pr[j] * dor[e];
                }
            }
        }
}

static void r_pool_fwd(qt_backend_t *be, qt_cfp xv, int64_t B, int64_t L, int64_t d, qt_fp yv, int64_t ldy)
{
    (void)be;
    const real *x = xv;
    real *y = yv;
    for (int64_t b = 0; b < B; b++)
        for (int64_t e = 0; e < d; e++) {
            real s = 0;
            for (int64_t t = 0; t < L; t++) s += x[(b * L + t) * d + e];
            y[b * ldy + e] = s / (real)L;
        }
}

static void r_pool_bwd(qt_backend_t *be, qt_cfp dyv, int64_t ldy, int64_t B, int64_t L, int64_t d, qt_fp dxv)
{
    (void)be;
    const real *dy = dyv;
    real *dx = dxv;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            for (int64_t e = 0; e < d; e++) dx[(b * L + t) * d + e] += dy[b * ldy + e] / (real)L;
}

static void r_embed_fwd(qt_backend_t *be, qt_cfp uv, int64_t B, int64_t L, int64_t d, qt_cfp ev, qt_cfp posv,
                        qt_fp hv)
{
    (void)be;
    const real *u = uv, *e = ev, *pos = posv;
    real *h = hv;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            for (int64_t i = 0; i < d; i++) h[(b * L + t) * d + i] = u[(b * L + t) * d + i] + e[i] + pos[t * d + i];
}

static void r_embed_bwd(qt_backend_t *be, qt_cfp dhv, int64_t B, int64_t L, int64_t d, qt_fp duv, qt_fp dev,
                        qt_fp dposv)
{
    (void)be;
    const real *dh = dhv;
    real *du = duv, *de = dev, *dpos = dposv;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            for (int64_t i = 0; i < d; i++) {
                real g = dh[(b * L + t) * d + i];
                du[(b * L + t) * d + i] += g;
                de[i] += g;
                dpos[t * d + i] += g;
            }
}

static void r_add(qt_backend_t *be, qt_cfp av, qt_cfp bv, qt_fp yv, int64_t n)
{
    (void)be;
    const real *a = av, *b = bv;
    real *y = yv;
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

static void r_acc(qt_backend_t *be, qt_cfp sv, qt_fp dv, int64_t n)
{
    (void)be;
    const real *s = sv;
    real *dst = dv;
    for (int64_t i = 0; i < n; i++) dst[i] += s[i];
}

static void r_mix_fwd(qt_backend_t *be, qt_cfp sv, int64_t lds, qt_cfp xv, int64_t sb, int64_t sm, int64_t B,
                      int64_t M, int64_t n, qt_fp yv, qt_fp gv)
{
    (void)be;
    const real *s = sv, *x = xv;
    real *y = yv, *g = gv;
    for (int64_t b = 0; b < B; b++) {
        const real *sr = s + b * lds;
        real mx = -INFINITY, sum = 0;
        for (int64_t m = 0; m < M; m++) mx = sr[m] > mx ? sr[m] : mx;
        for (int64_t m = 0; m < M; m++) { g[b * M + m] = exp(sr[m] - mx); sum += g[b * M + m]; }
        for (int64_t m = 0; m < M; m++) g[b * M + m] /= sum;
        for (int64_t j = 0; j < n; j++) {
            real acc = 0;
            for (int64_t m = 0; m < M; m++) acc += g[b * M + m] * x[b * sb + m * sm + j];
            y[b * n + j] = acc;
        }
    }
}

static void r_mix_bwd(qt_backend_t *be, int64_t lds, qt_cfp xv, int64_t sb, int64_t sm, int64_t B, int64_t M,
                      int64_t n, qt_cfp gv, qt_cfp dyv, qt_fp dxv, qt_fp dsv)
{
    (void)be;
    const real *x = xv, *g = gv, *dy = dyv;
    real *dx = dxv, *ds = dsv;
    for (int64_t b = 0; b < B; b++) {
        real dg[QT_FUSION_MAX_MOD], dot = 0;
        for (int64_t m = 0; m < M; m++) {
            real s = 0;
            for (int64_t j = 0; j < n; j++) {
                s += dy[b * n + j] * x[b * sb + m * sm + j];
                dx[b * sb + m * sm + j] += g[b * M + m] * dy[b * n + j];
            }
            dg[m] = s;
            dot += s * g[b * M + m];
        }
        if (ds)
            for (int64_t m = 0; m < M; m++) ds[b * lds + m] += g[b * M + m] * (dg[m] - dot);
    }
}

static void r_xent(qt_backend_t *be, qt_cfp zv, const int32_t *y, int64_t B, int64_t C, double *loss,
                   int64_t *correct, qt_fp dzv)
{
    (void)be;
    const real *z = zv;
    real *dz = dzv, total = 0;
    int64_t ok = 0;
    for (int64_t b = 0; b < B; b++) {
        const real *zr = z + b * C;
        real mx = zr[0], sum = 0;
        int64_t arg = 0;
        for (int64_t c = 1; c < C; c++)
            if (zr[c] > mx) { mx = zr[c]; arg = c; }
        for (int64_t c = 0; c < C; c++) sum += exp(zr[c] - mx);
        total += log(sum) + mx - zr[y[b]];
        ok += arg == y[b];
        if (dz)
            for (int64_t c = 0; c < C; c++) dz[b * C + c] = (exp(zr[c] - mx) / sum - (c == y[b])) / (real)B;
    }
    if (loss) *loss = total / (real)B;
    if (correct) *correct = ok;
}

static const struct qt_fusion_kernels ref_kernels = {
    r_linear_fwd, r_linear_bwd, r_gelu_fwd, r_gelu_bwd, r_ln_fwd,  r_ln_bwd,  r_attn_fwd, r_attn_bwd, r_pool_fwd,
    r_pool_bwd,   r_embed_fwd,  r_embed_bwd, r_add,     r_acc,     r_mix_fwd, r_mix_bwd, r_xent,
    qt_fusion_host_gather, NULL,
};

const qt_fusion_ops_t qt_fusion_ops_ref = {QT_F64, &ref_kernels};
