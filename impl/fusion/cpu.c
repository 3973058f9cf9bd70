/* cpu.c — the fusion cpu backend's kernels (internal.h): f32 tensors. Every Linear is one
 * OpenBLAS sgemm over all tokens of the batch at once (forward y = xWᵀ + b; backward
 * dW += dyᵀx and dx += dyW, two more sgemms; OpenBLAS threads: see blas_begin); attention is computed per (sample, query)
 * with plain loops (the sequences are short: L ≤ a few tens, where a sgemm per sample costs
 * more than it does), OpenMP over the samples with be->threads; every loop kernel runs
 * OpenMP only above CPU_OMP_MIN elements of work: below it (all the suite's models) a parallel
 * region costs more than it saves, and OpenMP threads left spinning after one starve
 * OpenBLAS's own threads on a 2-core machine (measured: 0.6 GFLOP/s with a 32k threshold
 * against 14.7 GFLOP/s single-threaded for the cross model at d = 32); every reduction over rows (bias, LayerNorm and embedding
 * gradients) is split by output column, each column summed in row order, so results are
 * bitwise reproducible for a thread count. Cross-entropy is impl/nn's qt_nn_softmax_xent.
 * The graph is common.c; tests/fusion checks these against ref.c. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "internal.h"
#include "quintet/nn.h"

#define CPU_OMP_MIN (1 << 20)
#define CPU_BLAS_MT_MIN (1 << 22) /* multiply-adds of a product below which OpenBLAS runs one thread */

/* OpenBLAS with be->threads threads, or one for a product of fewer than CPU_BLAS_MT_MIN
 * multiply-adds (OpenBLAS's threads cost more than they save on the suite's (384 × 32 × 32)
 * products: 3 against 14.7 GFLOP/s for the cross model on a loaded 2-core machine);
 * returns the count to restore. */
static int blas_begin(const qt_backend_t *be, double macs)
{
    int saved = openblas_get_num_threads(), want = macs < CPU_BLAS_MT_MIN ? 1 : be->threads;
    if (want != saved) openblas_set_num_threads(want);
    return saved;
}

static void blas_end(int saved)
{
    if (openblas_get_num_threads() != saved) openblas_set_num_threads(saved);
}

static void c_linear_fwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t in, qt_cfp Wv, qt_cfp bv, int64_t out,
                         qt_fp yv)
{
    const float *x = xv, *W = Wv, *b = bv;
    float *y = yv;
#pragma omp parallel for num_threads(be->threads) if (rows * out > CPU_OMP_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) memcpy(y + r * out, b, (size_t)out * sizeof *y);
    int saved = blas_begin(be, (double)rows * in * out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)out, (int)in, 1.0f, x, (int)in, W, (int)in,
                1.0f, y, (int)out);
    blas_end(saved);
}

static void c_linear_bwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t in, qt_cfp Wv, int64_t out, qt_cfp dyv,
                         qt_fp dxv, qt_fp dWv, qt_fp dbv)
{
    const float *x = xv, *W = Wv, *dy = dyv;
    float *dx = dxv, *dW = dWv, *db = dbv;
    int saved = blas_begin(be, (double)rows * in * out);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)rows, 1.0f, dy, (int)out, x, (int)in,
                1.0f, dW, (int)in);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)in, (int)out, 1.0f, dy, (int)out, W,
                    (int)in, 1.0f, dx, (int)in);
    blas_end(saved);
#pragma omp parallel for num_threads(be->threads) if (rows * out > CPU_OMP_MIN) schedule(static)
    for (int64_t o = 0; o < out; o++) {
        float s = 0;
        for (int64_t r = 0; r < rows; r++) s += dy[r * out + o];
        db[o] += s;
    }
}

static void c_gelu_fwd(qt_backend_t *be, qt_cfp xv, qt_fp yv, int64_t n)
{
    const float *x = xv;
    float *y = yv;
#pragma omp parallel for simd num_threads(be->threads) if (n > CPU_OMP_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
}

static void c_gelu_bwd(qt_backend_t *be, qt_cfp xv, qt_cfp dyv, qt_fp dxv, int64_t n)
{
    const float *x = xv, *dy = dyv;
    float *dx = dxv;
#pragma omp parallel for simd num_threads(be->threads) if (n > CPU_OMP_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * 0.70710678f)), pdf = 0.39894228f * expf(-0.5f * x[i] * x[i]);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

static void c_ln_fwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t dim, qt_cfp gv, qt_cfp bv, qt_fp yv, qt_fp sv)
{
    const float *x = xv, *g = gv, *b = bv;
    float *y = yv, *st = sv;
#pragma omp parallel for num_threads(be->threads) if (rows * dim > CPU_OMP_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim;
        float mu = 0, var = 0;
        for (int64_t i = 0; i < dim; i++) mu += xr[i];
        mu /= (float)dim;
        for (int64_t i = 0; i < dim; i++) var += (xr[i] - mu) * (xr[i] - mu);
        float rstd = 1.0f / sqrtf(var / (float)dim + 1e-5f);
        st[2 * r] = mu;
        st[2 * r + 1] = rstd;
        float *yr = y + r * dim;
        if (g)
            for (int64_t i = 0; i < dim; i++) yr[i] = (xr[i] - mu) * rstd * g[i] + b[i];
        else
            for (int64_t i = 0; i < dim; i++) yr[i] = (xr[i] - mu) * rstd;
    }
}

static void c_ln_bwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t dim, qt_cfp gv, qt_cfp sv, qt_cfp dyv,
                     qt_fp dxv, qt_fp dgv, qt_fp dbv)
{
    const float *x = xv, *g = gv, *st = sv, *dy = dyv;
    float *dx = dxv, *dg = dgv, *db = dbv;
    int big = rows * dim > CPU_OMP_MIN;
#pragma omp parallel num_threads(be->threads) if (big)
    {
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * dim, *dyr = dy + r * dim;
            float mu = st[2 * r], rstd = st[2 * r + 1], mg = 0, mgx = 0;
            for (int64_t i = 0; i < dim; i++) {
                float gi = dyr[i] * g[i];
                mg += gi;
                mgx += gi * (xr[i] - mu) * rstd;
            }
            mg /= (float)dim;
            mgx /= (float)dim;
            for (int64_t i = 0; i < dim; i++) dx[r * dim + i] += rstd * (dyr[i] * g[i] - mg - (xr[i] - mu) * rstd * mgx);
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < dim; i++) {
            float sg = 0, sb = 0;
            for (int64_t r = 0; r < rows; r++) {
                sg += dy[r * dim + i] * (x[r * dim + i] - st[2 * r]) * st[2 * r + 1];
                sb += dy[r * dim + i];
            }
            dg[i] += sg;
            db[i] += sb;
        }
    }
}

static void c_attn_fwd(qt_backend_t *be, qt_cfp qv, qt_cfp kv, qt_cfp vv, int64_t B, int64_t Lq, int64_t Lk,
                       int64_t d, qt_fp ov, qt_fp pv)
{
    const float *q = qv, *k = kv, *v = vv;
    float *o = ov, *p = pv, scale = 1.0f / sqrtf((float)d);
#pragma omp parallel for num_threads(be->threads) if (B * Lq * Lk * d > CPU_OMP_MIN) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < Lq; i++) {
            const float *qi = q + (b * Lq + i) * d;
            float *pr = p + (b * Lq + i) * Lk, *oi = o + (b * Lq + i) * d, mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < Lk; j++) {
                const float *kj = k + (b * Lk + j) * d;
                float s = 0;
#pragma omp simd reduction(+ : s)
                for (int64_t e = 0; e < d; e++) s += qi[e] * kj[e];
                pr[j] = s * scale;
                mx = pr[j] > mx ? pr[j] : mx;
            }
            for (int64_t j = 0; j < Lk; j++) { pr[j] = expf(pr[j] - mx); sum += pr[j]; }
            float inv = 1.0f / sum;
            for (int64_t e = 0; e < d; e++) oi[e] = 0;
            for (int64_t j = 0; j < Lk; j++) {
                pr[j] *= inv;
                const float *vj = v + (b * Lk + j) * d;
#pragma omp simd
                for (int64_t e = 0; e < d; e++) oi[e] += pr[j] * vj[e];
            }
        }
}

static void c_attn_bwd(qt_backend_t *be, qt_cfp qv, qt_cfp kv, qt_cfp vv, qt_cfp pv, qt_cfp dov, int64_t B,
                       int64_t Lq, int64_t Lk, int64_t d, qt_fp dqv, qt_fp dkv, qt_fp dvv, qt_fp dpv)
{
    const float *q = qv, *k = kv, *v = vv, *p = pv, *dout = dov;
    float *dq = dqv, *dk = dkv, *dv = dvv, *ds = dpv, scale = 1.0f / sqrtf((float)d);
    /* one sample per iteration: its dk, dv rows are its own, so no races */
#pragma omp parallel for num_threads(be->threads) if (B * Lq * Lk * d > CPU_OMP_MIN) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < Lq; i++) {
            const float *pr = p + (b * Lq + i) * Lk, *dor = dout + (b * Lq + i) * d, *qi = q + (b * Lq + i) * d;
            float *dsr = ds + (b * Lq + i) * Lk, *dqi = dq + (b * Lq + i) * d, dot = 0;
            for (int64_t j = 0; j < Lk; j++) {
                const float *vj = v + (b * Lk + j) * d;
                float s = 0;
#pragma omp simd reduction(+ : s)
                for (int64_t e = 0; e < d; e++) s += dor[e] * vj[e];
                dsr[j] = s;
                dot += s * pr[j];
            }
            for (int64_t j = 0; j < Lk; j++) {
                float sj = pr[j] * (dsr[j] - dot) * scale, pj = pr[j];
                const float *kj = k + (b * Lk + j) * d;
                float *dkj = dk + (b * Lk + j) * d, *dvj = dv + (b * Lk + j) * d;
#pragma omp simd
                for (int64_t e = 0; e < d; e++) {
                    dqi[e] += sj * kj[e];
                    dkj[e] += sj * qi[e];
                    dvj[e] += pj * dor[e];
                }
            }
        }
}

static void c_pool_fwd(qt_backend_t *be, qt_cfp xv, int64_t B, int64_t L, int64_t d, qt_fp yv, int64_t ldy)
{
    const float *x = xv;
    float *y = yv, inv = 1.0f / (float)L;
#pragma omp parallel for num_threads(be->threads) if (B * L * d > CPU_OMP_MIN) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        float *yb = y + b * ldy;
        for (int64_t e = 0; e < d; e++) yb[e] = 0;
        for (int64_t t = 0; t < L; t++)
            for (int64_t e = 0; e < d; e++) yb[e] += x[(b * L + t) * d + e];
        for (int64_t e = 0; e < d; e++) yb[e] *= inv;
    }
}

static void c_pool_bwd(qt_backend_t *be, qt_cfp dyv, int64_t ldy, int64_t B, int64_t L, int64_t d, qt_fp dxv)
{
    const float *dy = dyv;
    float *dx = dxv, inv = 1.0f / (float)L;
#pragma omp parallel for num_threads(be->threads) if (B * L * d > CPU_OMP_MIN) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            for (int64_t e = 0; e < d; e++) dx[(b * L + t) * d + e] += dy[b * ldy + e] * inv;
}

static void c_embed_fwd(qt_backend_t *be, qt_cfp uv, int64_t B, int64_t L, int64_t d, qt_cfp ev, qt_cfp posv, qt_fp hv)
{
    const float *u = uv, *e = ev, *pos = posv;
    float *h = hv;
#pragma omp parallel for num_threads(be->threads) if (B * L * d > CPU_OMP_MIN) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            for (int64_t i = 0; i < d; i++) h[(b * L + t) * d + i] = u[(b * L + t) * d + i] + (e[i] + pos[t * d + i]);
}

static void c_embed_bwd(qt_backend_t *be, qt_cfp dhv, int64_t B, int64_t L, int64_t d, qt_fp duv, qt_fp dev,
                        qt_fp dposv)
{
    const float *dh = dhv;
    float *du = duv, *de = dev, *dpos = dposv;
    int64_t n = B * L * d;
#pragma omp parallel num_threads(be->threads) if (n > CPU_OMP_MIN)
    {
#pragma omp for simd schedule(static)
        for (int64_t i = 0; i < n; i++) du[i] += dh[i];
#pragma omp for schedule(static)
        for (int64_t ti = 0; ti < L * d; ti++) { /* column (t, i): summed over the batch */
            float s = 0;
            for (int64_t b = 0; b < B; b++) s += dh[b * L * d + ti];
            dpos[ti] += s;
        }
    }
    for (int64_t t = 0; t < L; t++) /* de = Σ_t of the per-position sums, in t order */
        for (int64_t i = 0; i < d; i++) {
            float s = 0;
            for (int64_t b = 0; b < B; b++) s += dh[(b * L + t) * d + i];
            de[i] += s;
        }
}

static void c_add(qt_backend_t *be, qt_cfp av, qt_cfp bv, qt_fp yv, int64_t n)
{
    const float *a = av, *b = bv;
    float *y = yv;
#pragma omp parallel for simd num_threads(be->threads) if (n > CPU_OMP_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

static void c_acc(qt_backend_t *be, qt_cfp sv, qt_fp dv, int64_t n)
{
    const float *s = sv;
    float *dst = dv;
#pragma omp parallel for simd num_threads(be->threads) if (n > CPU_OMP_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) dst[i] += s[i];
}

static void c_mix_fwd(qt_backend_t *be, qt_cfp sv, int64_t lds, qt_cfp xv, int64_t sb, int64_t sm, int64_t B,
                      int64_t M, int64_t n, qt_fp yv, qt_fp gv)
{
    const float *s = sv, *x = xv;
    float *y = yv, *g = gv;
#pragma omp parallel for num_threads(be->threads) if (B * M * n > CPU_OMP_MIN) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        const float *sr = s + b * lds;
        float mx = sr[0], sum = 0, *gb = g + b * M, *yb = y + b * n;
        for (int64_t m = 1; m < M; m++) mx = sr[m] > mx ? sr[m] : mx;
        for (int64_t m = 0; m < M; m++) { gb[m] = expf(sr[m] - mx); sum += gb[m]; }
        for (int64_t m = 0; m < M; m++) gb[m] /= sum;
        for (int64_t j = 0; j < n; j++) yb[j] = 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < n; j++) yb[j] += gb[m] * x[b * sb + m * sm + j];
    }
}

static void c_mix_bwd(qt_backend_t *be, int64_t lds, qt_cfp xv, int64_t sb, int64_t sm, int64_t B, int64_t M,
                      int64_t n, qt_cfp gv, qt_cfp dyv, qt_fp dxv, qt_fp dsv)
{
    (void)be;
    const float *x = xv, *g = gv, *dy = dyv;
    float *dx = dxv, *ds = dsv;
    /* with lds == 0 every sample adds into the same score row: accumulated in sample order */
    for (int64_t b = 0; b < B; b++) {
        float dg[QT_FUSION_MAX_MOD], dot = 0;
        for (int64_t m = 0; m < M; m++) {
            float s = 0, gm = g[b * M + m];
            for (int64_t j = 0; j < n; j++) {
                s += dy[b * n + j] * x[b * sb + m * sm + j];
                dx[b * sb + m * sm + j] += gm * dy[b * n + j];
            }
            dg[m] = s;
            dot += s * gm;
        }
        if (ds)
            for (int64_t m = 0; m < M; m++) ds[b * lds + m] += g[b * M + m] * (dg[m] - dot);
    }
}

static void c_xent(qt_backend_t *be, qt_cfp z, const int32_t *y, int64_t B, int64_t C, double *loss,
                   int64_t *correct, qt_fp dz)
{
    (void)be;
    int ok = 0;
    double l = 0;
    (void)qt_nn_softmax_xent(z, y, (int)B, (int)C, &l, dz, &ok); /* arguments checked by the graph */
    if (loss) *loss = l;
    if (correct) *correct = ok;
}

static const struct qt_fusion_kernels cpu_kernels = {
    c_linear_fwd, c_linear_bwd, c_gelu_fwd, c_gelu_bwd, c_ln_fwd,  c_ln_bwd,  c_attn_fwd, c_attn_bwd, c_pool_fwd,
    c_pool_bwd,   c_embed_fwd,  c_embed_bwd, c_add,     c_acc,     c_mix_fwd, c_mix_bwd, c_xent,
    qt_fusion_host_gather, NULL,
};

const qt_fusion_ops_t qt_fusion_ops_cpu = {QT_F32, &cpu_kernels};
