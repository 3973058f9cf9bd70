/* fusion.cu — the cuda backend's fusion kernels (impl/fusion/internal.h): f32 tensors on one GPU,
 * every call queued on the instance's stream, nothing waited for except the loss when asked.
 * The graph that drives them is common.c (the model: quintet/fusion.h).
 *   Linear        cuBLAS sgemm (FP32, the handle's default math: no TF32) over all tokens of the
 *                 batch: forward y = xWᵀ (+ b written first), backward dW += dyᵀx, dx += dyW;
 *                 db by the column reduction below.
 *   LayerNorm     one warp per row (mean, then variance, both from the row in registers/L1);
 *                 backward dx one warp per row; dγ, dβ by the column reduction.
 *   attention     single head, short sequences: forward one warp per (sample, query) — scores by
 *                 warp reductions, softmax, P·V — storing P; backward one warp per (sample,
 *                 query) for dS and dQ, then one warp per (sample, key) for dK and dV (no atomics).
 *   column sums   (bias, LayerNorm affine, embedding gradients, shared mixing scores): blocks of
 *                 32 columns × a chunk of rows (>= 64, <= 32 chunks) write partial sums to scratch,
 *                 a second kernel adds them in chunk order: deterministic, and parallel over rows
 *                 as well as columns.
 *   GELU (erf), pooling, embeddings, add, mixing softmax, cross-entropy, batch gather: plain
 *                 element / row kernels.
 * The same inputs give bitwise the same results on a GPU (no atomics; cuBLAS sgemm is
 * deterministic for a handle on one stream). Errors of cuBLAS calls and launches are kept per
 * thread and returned by `status`, which common.c calls after every pass.
 * Tests: tests/fusion/test_fusion.c (against ref; skipped without a GPU, saying why);
 * build/quintet verify fusion --backend cuda; quintet run fusion_accuracy --backend cuda. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "../../backends/cuda/internal.h"
extern "C" {
#include "../internal.h"
}

#define CTX(be) QT_CUDA_CTX(be)
#define STREAM(be) (CTX(be)->stream)
#define COL_ROWS 64    /* rows per partial of the column reduction, at least */
#define COL_CHUNKS 32  /* partials per column, at most (the second pass adds them in order) */

/* ------------------------------------------------------------ errors */

static __thread qt_status_t fu_err = QT_OK; /* the first error since the last `status` */

static void fu_fail(qt_backend_t *be, qt_status_t code, const char *what)
{
    if (fu_err == QT_OK) fu_err = qt_backend_fail(be, code, "cuda fusion: %s", what);
}

static void fu_launched(qt_backend_t *be, const char *what)
{
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess && fu_err == QT_OK) fu_err = qt_cuda_fail(be, e, what);
}

static void fu_blas(qt_backend_t *be, cublasStatus_t st, const char *what)
{
    if (st != CUBLAS_STATUS_SUCCESS && fu_err == QT_OK) {
        char m[96];
        snprintf(m, sizeof m, "%s: cuBLAS status %d", what, (int)st);
        fu_fail(be, QT_ERR_INTERNAL, m);
    }
}

static float *fu_scratch(qt_backend_t *be, size_t floats)
{
    void *p = NULL;
    if (qt_cuda_scratch(be, floats * sizeof(float), &p) != QT_OK) {
        if (fu_err == QT_OK) fu_err = QT_ERR_NOMEM;
        return NULL;
    }
    return (float *)p;
}

static qt_status_t k_status(qt_backend_t *be)
{
    fu_launched(be, "cuda fusion kernel launch");
    qt_status_t s = fu_err;
    fu_err = QT_OK;
    return s;
}

static int grid(const qt_backend_t *be, int64_t n, int threads) { return qt_cuda_blocks(be, (size_t)n, threads); }

#define GSTRIDE(i, n) for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

static __device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* ------------------------------------------------------ column sums */

/* Column c of rows [r0, r1) of a functor's values f(r, c, acc[NV]) into part[(chunk·NV + v)·cols + c]. */
template <int NV, class F>
static __global__ void k_colpart(F f, int64_t rows, int64_t cols, int64_t chunk, float *part)
{
    __shared__ float sh[NV][8][33];
    int64_t c = (int64_t)blockIdx.x * 32 + threadIdx.x, r0 = (int64_t)blockIdx.y * chunk;
    int64_t r1 = r0 + chunk < rows ? r0 + chunk : rows;
    float acc[NV];
    for (int v = 0; v < NV; v++) acc[v] = 0;
    if (c < cols)
        for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) f(r, c, acc);
    for (int v = 0; v < NV; v++) sh[v][threadIdx.y][threadIdx.x] = acc[v];
    __syncthreads();
    if (threadIdx.y == 0 && c < cols)
        for (int v = 0; v < NV; v++) {
            float s = 0;
            for (int y = 0; y < 8; y++) s += sh[v][y][threadIdx.x];
            part[((int64_t)blockIdx.y * NV + v) * cols + c] = s;
        }
}

/* dst_v[c] += Σ_chunks part[(chunk·NV + v)·cols + c], chunks in order. */
static __global__ void k_colfin(const float *part, int64_t chunks, int64_t cols, int nv, float *d0, float *d1)
{
    GSTRIDE(i, cols * nv)
    {
        int64_t v = i / cols, c = i % cols;
        float s = 0;
        for (int64_t k = 0; k < chunks; k++) s += part[(k * nv + v) * cols + c];
        float *d = v ? d1 : d0;
        d[c] += s;
    }
}

/* Rows per chunk: at least COL_ROWS, and at most COL_CHUNKS chunks (a multiple of 8 rows, the
 * block's height); and the scratch floats colsum needs. */
static int64_t col_chunk(int64_t rows)
{
    int64_t c = ((rows + COL_CHUNKS - 1) / COL_CHUNKS + 7) / 8 * 8;
    return c > COL_ROWS ? c : COL_ROWS;
}
static int64_t colsum_scratch(int64_t rows, int64_t cols, int nv)
{
    return (rows + col_chunk(rows) - 1) / col_chunk(rows) * nv * cols;
}

/* d0[c] (+ d1[c] for NV = 2) += column sums of f over (rows, cols); the partials use scratch
 * from float `skip` on (the caller's data before it stays intact: it must have asked for
 * skip + colsum_scratch floats already, so that the scratch does not move). */
template <int NV, class F>
static void colsum(qt_backend_t *be, F f, int64_t rows, int64_t cols, float *d0, float *d1, int64_t skip = 0)
{
    if (rows <= 0 || cols <= 0) return;
    int64_t chunk = col_chunk(rows), chunks = (rows + chunk - 1) / chunk;
    float *part = fu_scratch(be, (size_t)(skip + colsum_scratch(rows, cols, NV)));
    if (!part) return;
    part += skip;
    dim3 g((unsigned)((cols + 31) / 32), (unsigned)chunks), b(32, 8);
    k_colpart<NV, F><<<g, b, 0, STREAM(be)>>>(f, rows, cols, chunk, part);
    k_colfin<<<grid(be, cols * NV, 256), 256, 0, STREAM(be)>>>(part, chunks, cols, NV, d0, d1);
    fu_launched(be, "column sum");
}

/* Plain column sums of a row-major (rows, cols) array (row stride ld). */
struct col_plain {
    const float *x;
    int64_t ld;
    __device__ void operator()(int64_t r, int64_t c, float *acc) const { acc[0] += x[r * ld + c]; }
};

/* LayerNorm affine gradients: Σ dy·x̂ and Σ dy. */
struct col_ln {
    const float *x, *st, *dy;
    int64_t dim;
    __device__ void operator()(int64_t r, int64_t c, float *acc) const
    {
        float g = dy[r * dim + c];
        acc[0] += g * (x[r * dim + c] - st[2 * r]) * st[2 * r + 1];
        acc[1] += g;
    }
};

/* ---------------------------------------------------------- linear */

static __global__ void k_bias_rows(const float *b, int64_t rows, int64_t out, float *y)
{
    GSTRIDE(i, rows * out) y[i] = b[i % out];
}

static void g_linear_fwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t in, qt_cfp Wv, qt_cfp bv, int64_t out,
                         qt_fp yv)
{
    float *y = (float *)yv, one = 1.0f;
    k_bias_rows<<<grid(be, rows * out, 256), 256, 0, STREAM(be)>>>((const float *)bv, rows, out, y);
    fu_launched(be, "linear bias");
    /* column-major view: yᵀ (out × rows) = W (out × in, stored as in × out) · xᵀ (in × rows) */
    fu_blas(be, cublasSgemm(CTX(be)->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)out, (int)rows, (int)in, &one,
                            (const float *)Wv, (int)in, (const float *)xv, (int)in, &one, y, (int)out),
            "linear forward sgemm");
}

static void g_linear_bwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t in, qt_cfp Wv, int64_t out, qt_cfp dyv,
                         qt_fp dxv, qt_fp dWv, qt_fp dbv)
{
    const float *x = (const float *)xv, *W = (const float *)Wv, *dy = (const float *)dyv;
    float one = 1.0f;
    /* dWᵀ (in × out) += xᵀ (in × rows) · dy (rows × out, stored as out × rows) */
    fu_blas(be, cublasSgemm(CTX(be)->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)in, (int)out, (int)rows, &one, x, (int)in,
                            dy, (int)out, &one, (float *)dWv, (int)in),
            "linear dW sgemm");
    /* dxᵀ (in × rows) += Wᵀ (in × out) · dyᵀ (out × rows) */
    if (dxv)
        fu_blas(be, cublasSgemm(CTX(be)->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)in, (int)rows, (int)out, &one, W, (int)in,
                                dy, (int)out, &one, (float *)dxv, (int)in),
                "linear dx sgemm");
    colsum<1>(be, col_plain{dy, out}, rows, out, (float *)dbv, NULL);
}

/* ------------------------------------------------------------ GELU */

static __global__ void k_gelu_fwd(const float *x, float *y, int64_t n)
{
    GSTRIDE(i, n) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
}

static __global__ void k_gelu_bwd(const float *x, const float *dy, float *dx, int64_t n)
{
    GSTRIDE(i, n)
    {
        float cdf = 0.5f * (1.0f + erff(x[i] * 0.70710678f)), pdf = 0.39894228f * expf(-0.5f * x[i] * x[i]);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

static void g_gelu_fwd(qt_backend_t *be, qt_cfp x, qt_fp y, int64_t n)
{
    k_gelu_fwd<<<grid(be, n, 256), 256, 0, STREAM(be)>>>((const float *)x, (float *)y, n);
    fu_launched(be, "gelu");
}

static void g_gelu_bwd(qt_backend_t *be, qt_cfp x, qt_cfp dy, qt_fp dx, int64_t n)
{
    k_gelu_bwd<<<grid(be, n, 256), 256, 0, STREAM(be)>>>((const float *)x, (const float *)dy, (float *)dx, n);
    fu_launched(be, "gelu backward");
}

/* ------------------------------------------------------- LayerNorm */

#define WARPS 8 /* warps per block of the row kernels */

static __global__ void k_ln_fwd(const float *x, int64_t rows, int64_t dim, const float *g, const float *b, float *y,
                                float *st)
{
    int lane = threadIdx.x & 31;
    for (int64_t r = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); r < rows; r += (int64_t)gridDim.x * WARPS) {
        const float *xr = x + r * dim;
        float s = 0;
        for (int64_t i = lane; i < dim; i += 32) s += xr[i];
        float mu = warp_sum(s) / (float)dim, v = 0;
        for (int64_t i = lane; i < dim; i += 32) v += (xr[i] - mu) * (xr[i] - mu);
        float rstd = 1.0f / sqrtf(warp_sum(v) / (float)dim + 1e-5f);
        if (lane == 0) { st[2 * r] = mu; st[2 * r + 1] = rstd; }
        float *yr = y + r * dim;
        for (int64_t i = lane; i < dim; i += 32) {
            float h = (xr[i] - mu) * rstd;
            yr[i] = g ? h * g[i] + b[i] : h;
        }
    }
}

static __global__ void k_ln_bwd(const float *x, int64_t rows, int64_t dim, const float *g, const float *st,
                                const float *dy, float *dx)
{
    int lane = threadIdx.x & 31;
    for (int64_t r = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); r < rows; r += (int64_t)gridDim.x * WARPS) {
        const float *xr = x + r * dim, *dyr = dy + r * dim;
        float mu = st[2 * r], rstd = st[2 * r + 1], mg = 0, mgx = 0;
        for (int64_t i = lane; i < dim; i += 32) {
            float gi = dyr[i] * (g ? g[i] : 1.0f);
            mg += gi;
            mgx += gi * (xr[i] - mu) * rstd;
        }
        mg = warp_sum(mg) / (float)dim;
        mgx = warp_sum(mgx) / (float)dim;
        for (int64_t i = lane; i < dim; i += 32)
            dx[r * dim + i] += rstd * (dyr[i] * (g ? g[i] : 1.0f) - mg - (xr[i] - mu) * rstd * mgx);
    }
}

static int row_blocks(const qt_backend_t *be, int64_t rows) { return grid(be, rows, WARPS); }

static void g_ln_fwd(qt_backend_t *be, qt_cfp x, int64_t rows, int64_t dim, qt_cfp g, qt_cfp b, qt_fp y, qt_fp st)
{
    k_ln_fwd<<<row_blocks(be, rows), 32 * WARPS, 0, STREAM(be)>>>((const float *)x, rows, dim, (const float *)g,
                                                                  (const float *)b, (float *)y, (float *)st);
    fu_launched(be, "layernorm");
}

static void g_ln_bwd(qt_backend_t *be, qt_cfp x, int64_t rows, int64_t dim, qt_cfp g, qt_cfp st, qt_cfp dy, qt_fp dx,
                     qt_fp dg, qt_fp db)
{
    k_ln_bwd<<<row_blocks(be, rows), 32 * WARPS, 0, STREAM(be)>>>((const float *)x, rows, dim, (const float *)g,
                                                                  (const float *)st, (const float *)dy, (float *)dx);
    fu_launched(be, "layernorm backward");
    if (dg) colsum<2>(be, col_ln{(const float *)x, (const float *)st, (const float *)dy, dim}, rows, dim, (float *)dg, (float *)db);
}

/* ------------------------------------------------------- attention */

/* One warp per (b, i): P row (Lk) and O row (d). */
static __global__ void k_attn_fwd(const float *q, const float *k, const float *v, int64_t B, int64_t Lq, int64_t Lk,
                                  int64_t d, float scale, float *o, float *p)
{
    int lane = threadIdx.x & 31;
    for (int64_t w = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); w < B * Lq; w += (int64_t)gridDim.x * WARPS) {
        int64_t b = w / Lq;
        const float *qi = q + w * d, *kb = k + b * Lk * d, *vb = v + b * Lk * d;
        float *pr = p + w * Lk, mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < Lk; j++) {
            float s = 0;
            for (int64_t e = lane; e < d; e += 32) s += qi[e] * kb[j * d + e];
            s = warp_sum(s) * scale;
            mx = s > mx ? s : mx;
            if (lane == 0) pr[j] = s;
        }
        __syncwarp();
        for (int64_t j = 0; j < Lk; j++) sum += expf(pr[j] - mx);
        float inv = 1.0f / sum;
        __syncwarp();
        for (int64_t j = lane; j < Lk; j += 32) pr[j] = expf(pr[j] - mx) * inv;
        __syncwarp();
        for (int64_t e = lane; e < d; e += 32) {
            float acc = 0;
            for (int64_t j = 0; j < Lk; j++) acc += pr[j] * vb[j * d + e];
            o[w * d + e] = acc;
        }
    }
}

/* One warp per (b, i): dS row into ds, dq_i += dS_i K. */
static __global__ void k_attn_bwd_q(const float *k, const float *v, const float *p, const float *dout, int64_t B,
                                    int64_t Lq, int64_t Lk, int64_t d, float scale, float *dq, float *ds)
{
    int lane = threadIdx.x & 31;
    for (int64_t w = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); w < B * Lq; w += (int64_t)gridDim.x * WARPS) {
        int64_t b = w / Lq;
        const float *dor = dout + w * d, *kb = k + b * Lk * d, *vb = v + b * Lk * d, *pr = p + w * Lk;
        float *dsr = ds + w * Lk, dot = 0;
        for (int64_t j = 0; j < Lk; j++) {
            float s = 0;
            for (int64_t e = lane; e < d; e += 32) s += dor[e] * vb[j * d + e];
            s = warp_sum(s);
            dot += s * pr[j];
            if (lane == 0) dsr[j] = s;
        }
        __syncwarp();
        for (int64_t j = lane; j < Lk; j += 32) dsr[j] = pr[j] * (dsr[j] - dot) * scale;
        __syncwarp();
        for (int64_t e = lane; e < d; e += 32) {
            float acc = 0;
            for (int64_t j = 0; j < Lk; j++) acc += dsr[j] * kb[j * d + e];
            dq[w * d + e] += acc;
        }
    }
}

/* One warp per (b, j): dk_j += Σ_i dS_ij q_i, dv_j += Σ_i P_ij do_i. */
static __global__ void k_attn_bwd_kv(const float *q, const float *p, const float *dout, const float *ds, int64_t B,
                                     int64_t Lq, int64_t Lk, int64_t d, float *dk, float *dv)
{
    int lane = threadIdx.x & 31;
    for (int64_t w = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); w < B * Lk; w += (int64_t)gridDim.x * WARPS) {
        int64_t b = w / Lk, j = w % Lk;
        const float *qb = q + b * Lq * d, *db = dout + b * Lq * d, *pb = p + b * Lq * Lk, *sb = ds + b * Lq * Lk;
        for (int64_t e = lane; e < d; e += 32) {
            float ak = 0, av = 0;
            for (int64_t i = 0; i < Lq; i++) {
                ak += sb[i * Lk + j] * qb[i * d + e];
                av += pb[i * Lk + j] * db[i * d + e];
            }
            dk[w * d + e] += ak;
            dv[w * d + e] += av;
        }
    }
}

static void g_attn_fwd(qt_backend_t *be, qt_cfp q, qt_cfp k, qt_cfp v, int64_t B, int64_t Lq, int64_t Lk, int64_t d,
                       qt_fp o, qt_fp p)
{
    k_attn_fwd<<<row_blocks(be, B * Lq), 32 * WARPS, 0, STREAM(be)>>>((const float *)q, (const float *)k,
                                                                      (const float *)v, B, Lq, Lk, d,
                                                                      1.0f / sqrtf((float)d), (float *)o, (float *)p);
    fu_launched(be, "attention");
}

static void g_attn_bwd(qt_backend_t *be, qt_cfp q, qt_cfp k, qt_cfp v, qt_cfp p, qt_cfp dout, int64_t B, int64_t Lq,
                       int64_t Lk, int64_t d, qt_fp dq, qt_fp dk, qt_fp dv, qt_fp dp)
{
    k_attn_bwd_q<<<row_blocks(be, B * Lq), 32 * WARPS, 0, STREAM(be)>>>(
        (const float *)k, (const float *)v, (const float *)p, (const float *)dout, B, Lq, Lk, d, 1.0f / sqrtf((float)d),
        (float *)dq, (float *)dp);
    k_attn_bwd_kv<<<row_blocks(be, B * Lk), 32 * WARPS, 0, STREAM(be)>>>(
        (const float *)q, (const float *)p, (const float *)dout, (const float *)dp, B, Lq, Lk, d, (float *)dk,
        (float *)dv);
    fu_launched(be, "attention backward");
}

/* ----------------------------------------------- pooling, embeddings */

static __global__ void k_pool_fwd(const float *x, int64_t B, int64_t L, int64_t d, float *y, int64_t ldy)
{
    GSTRIDE(i, B * d)
    {
        int64_t b = i / d, e = i % d;
        float s = 0;
        for (int64_t t = 0; t < L; t++) s += x[(b * L + t) * d + e];
        y[b * ldy + e] = s * (1.0f / (float)L);
    }
}

static __global__ void k_pool_bwd(const float *dy, int64_t ldy, int64_t B, int64_t L, int64_t d, float *dx)
{
    GSTRIDE(i, B * L * d)
    {
        int64_t b = i / (L * d), e = i % d;
        dx[i] += dy[b * ldy + e] * (1.0f / (float)L);
    }
}

static void g_pool_fwd(qt_backend_t *be, qt_cfp x, int64_t B, int64_t L, int64_t d, qt_fp y, int64_t ldy)
{
    k_pool_fwd<<<grid(be, B * d, 256), 256, 0, STREAM(be)>>>((const float *)x, B, L, d, (float *)y, ldy);
    fu_launched(be, "pool");
}

static void g_pool_bwd(qt_backend_t *be, qt_cfp dy, int64_t ldy, int64_t B, int64_t L, int64_t d, qt_fp dx)
{
    k_pool_bwd<<<grid(be, B * L * d, 256), 256, 0, STREAM(be)>>>((const float *)dy, ldy, B, L, d, (float *)dx);
    fu_launched(be, "pool backward");
}

static __global__ void k_embed_fwd(const float *u, int64_t B, int64_t L, int64_t d, const float *e, const float *pos,
                                   float *h)
{
    GSTRIDE(i, B * L * d)
    {
        int64_t ti = i % (L * d);
        h[i] = u[i] + (e[ti % d] + pos[ti]);
    }
}

static void g_embed_fwd(qt_backend_t *be, qt_cfp u, int64_t B, int64_t L, int64_t d, qt_cfp e, qt_cfp pos, qt_fp h)
{
    k_embed_fwd<<<grid(be, B * L * d, 256), 256, 0, STREAM(be)>>>((const float *)u, B, L, d, (const float *)e,
                                                                   (const float *)pos, (float *)h);
    fu_launched(be, "embedding");
}

static __global__ void k_acc(const float *s, float *dst, int64_t n)
{
    GSTRIDE(i, n) dst[i] += s[i];
}

static __global__ void k_add(const float *a, const float *b, float *y, int64_t n)
{
    GSTRIDE(i, n) y[i] = a[i] + b[i];
}

static void g_acc(qt_backend_t *be, qt_cfp s, qt_fp d, int64_t n)
{
    k_acc<<<grid(be, n, 256), 256, 0, STREAM(be)>>>((const float *)s, (float *)d, n);
    fu_launched(be, "accumulate");
}

static void g_add(qt_backend_t *be, qt_cfp a, qt_cfp b, qt_fp y, int64_t n)
{
    k_add<<<grid(be, n, 256), 256, 0, STREAM(be)>>>((const float *)a, (const float *)b, (float *)y, n);
    fu_launched(be, "add");
}

static void g_embed_bwd(qt_backend_t *be, qt_cfp dhv, int64_t B, int64_t L, int64_t d, qt_fp du, qt_fp de, qt_fp dpos)
{
    const float *dh = (const float *)dhv;
    g_acc(be, dh, du, B * L * d);
    colsum<1>(be, col_plain{dh, L * d}, B, L * d, (float *)dpos, NULL); /* Σ over the batch */
    colsum<1>(be, col_plain{dh, d}, B * L, d, (float *)de, NULL);       /* Σ over batch and positions */
}

/* ------------------------------------------------------------ mixing */

/* y[b, j] = Σ_m softmax(s[b·lds + ·])_m x[b·sb + m·sm + j]; g written by j == 0. */
static __global__ void k_mix_fwd(const float *s, int64_t lds, const float *x, int64_t sb, int64_t sm, int64_t B,
                                 int64_t M, int64_t n, float *y, float *g)
{
    GSTRIDE(i, B * n)
    {
        int64_t b = i / n, j = i % n;
        const float *sr = s + b * lds;
        float mx = sr[0], sum = 0, gm[QT_FUSION_MAX_MOD], acc = 0;
        for (int64_t m = 1; m < M; m++) mx = sr[m] > mx ? sr[m] : mx;
        for (int64_t m = 0; m < M; m++) { gm[m] = expf(sr[m] - mx); sum += gm[m]; }
        for (int64_t m = 0; m < M; m++) {
            gm[m] /= sum;
            acc += gm[m] * x[b * sb + m * sm + j];
            if (j == 0) g[b * M + m] = gm[m];
        }
        y[i] = acc;
    }
}

static void g_mix_fwd(qt_backend_t *be, qt_cfp s, int64_t lds, qt_cfp x, int64_t sb, int64_t sm, int64_t B, int64_t M,
                      int64_t n, qt_fp y, qt_fp g)
{
    k_mix_fwd<<<grid(be, B * n, 256), 256, 0, STREAM(be)>>>((const float *)s, lds, (const float *)x, sb, sm, B, M, n,
                                                             (float *)y, (float *)g);
    fu_launched(be, "mix");
}

/* dx[b·sb + m·sm + j] += g[b, m] dy[b, j]. */
static __global__ void k_mix_bwd_x(const float *g, const float *dy, int64_t sb, int64_t sm, int64_t B, int64_t M,
                                   int64_t n, float *dx)
{
    GSTRIDE(i, B * M * n)
    {
        int64_t b = i / (M * n), m = (i / n) % M, j = i % n;
        dx[b * sb + m * sm + j] += g[b * M + m] * dy[b * n + j];
    }
}

/* One warp per sample b: c[b, m] = g_m (dg_m − Σ_k g_k dg_k), dg_m = Σ_j dy[b, j] x[b·sb + m·sm + j];
 * added to ds[b·lds + m] (lds > 0) or written to c (lds == 0, summed over b afterwards). */
static __global__ void k_mix_bwd_s(const float *x, const float *g, const float *dy, int64_t sb, int64_t sm, int64_t B,
                                   int64_t M, int64_t n, int64_t lds, float *ds, float *c)
{
    int lane = threadIdx.x & 31;
    for (int64_t b = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); b < B; b += (int64_t)gridDim.x * WARPS) {
        float dg[QT_FUSION_MAX_MOD], dot = 0;
        for (int64_t m = 0; m < M; m++) {
            float s = 0;
            for (int64_t j = lane; j < n; j += 32) s += dy[b * n + j] * x[b * sb + m * sm + j];
            dg[m] = warp_sum(s);
            dot += dg[m] * g[b * M + m];
        }
        if (lane == 0)
            for (int64_t m = 0; m < M; m++) {
                float v = g[b * M + m] * (dg[m] - dot);
                if (lds) ds[b * lds + m] += v;
                else c[b * M + m] = v;
            }
    }
}

static void g_mix_bwd(qt_backend_t *be, int64_t lds, qt_cfp x, int64_t sb, int64_t sm, int64_t B, int64_t M, int64_t n,
                      qt_cfp g, qt_cfp dy, qt_fp dx, qt_fp ds)
{
    k_mix_bwd_x<<<grid(be, B * M * n, 256), 256, 0, STREAM(be)>>>((const float *)g, (const float *)dy, sb, sm, B, M, n,
                                                                   (float *)dx);
    fu_launched(be, "mix backward");
    if (!ds) return;
    float *c = NULL;
    int64_t skip = (B * M + 63) / 64 * 64; /* c first, the column sum's partials after it */
    if (!lds && !(c = fu_scratch(be, (size_t)(skip + colsum_scratch(B, M, 1))))) return;
    k_mix_bwd_s<<<row_blocks(be, B), 32 * WARPS, 0, STREAM(be)>>>((const float *)x, (const float *)g,
                                                                  (const float *)dy, sb, sm, B, M, n, lds,
                                                                  (float *)ds, c);
    fu_launched(be, "mix score gradient");
    if (!lds) {
        /* Σ_b c[b, m], in chunks of samples, chunk sums in order */
        colsum<1>(be, col_plain{c, M}, B, M, (float *)ds, NULL, skip);
    }
}

/* ---------------------------------------------------------- cross-entropy */

/* One thread per sample: dz row, the sample's loss (double) and hit into lc[2b], lc[2b+1]. */
static __global__ void k_xent(const float *z, const int32_t *y, int64_t B, int64_t C, float *dz, double *lc)
{
    GSTRIDE(b, B)
    {
        const float *zr = z + b * C;
        int32_t lab = y[b];
        float mx = zr[0], sum = 0;
        int64_t arg = 0;
        for (int64_t c = 1; c < C; c++)
            if (zr[c] > mx) { mx = zr[c]; arg = c; }
        for (int64_t c = 0; c < C; c++) sum += expf(zr[c] - mx);
        int ok = lab >= 0 && lab < C;
        if (lc) {
            lc[2 * b] = ok ? (double)logf(sum) + (double)mx - (double)zr[lab] : (double)NAN;
            lc[2 * b + 1] = ok && arg == lab;
        }
        if (dz)
            for (int64_t c = 0; c < C; c++)
                dz[b * C + c] = ok ? (expf(zr[c] - mx) / sum - (c == lab ? 1.0f : 0.0f)) / (float)B : NAN;
    }
}

/* One block: out[0] = Σ lc[2b], out[1] = Σ lc[2b+1] (fixed order: per-thread strided, then a tree). */
static __global__ void k_xent_sum(const double *lc, int64_t B, double *out)
{
    __shared__ double sh[2][256];
    double l = 0, c = 0;
    for (int64_t b = threadIdx.x; b < B; b += 256) { l += lc[2 * b]; c += lc[2 * b + 1]; }
    sh[0][threadIdx.x] = l;
    sh[1][threadIdx.x] = c;
    __syncthreads();
    for (int s = 128; s > 0; s >>= 1) {
        if (threadIdx.x < s) { sh[0][threadIdx.x] += sh[0][threadIdx.x + s]; sh[1][threadIdx.x] += sh[1][threadIdx.x + s]; }
        __syncthreads();
    }
    if (threadIdx.x == 0) { out[0] = sh[0][0]; out[1] = sh[1][0]; }
}

static void g_xent(qt_backend_t *be, qt_cfp z, const int32_t *y, int64_t B, int64_t C, double *loss, int64_t *correct,
                   qt_fp dz)
{
    int want = loss || correct;
    double *lc = NULL;
    if (want && !(lc = (double *)fu_scratch(be, (size_t)(2 * B + 2) * 2))) return;
    k_xent<<<grid(be, B, 128), 128, 0, STREAM(be)>>>((const float *)z, y, B, C, (float *)dz, lc);
    fu_launched(be, "cross-entropy");
    if (!want) return;
    k_xent_sum<<<1, 256, 0, STREAM(be)>>>(lc, B, lc + 2 * B);
    fu_launched(be, "cross-entropy sum");
    double h[2] = {0, 0};
    cudaError_t e = cudaMemcpyAsync(h, lc + 2 * B, sizeof h, cudaMemcpyDeviceToHost, STREAM(be));
    if (e == cudaSuccess) e = cudaStreamSynchronize(STREAM(be));
    if (e != cudaSuccess) {
        if (fu_err == QT_OK) fu_err = qt_cuda_fail(be, e, "cross-entropy loss to the host");
        return;
    }
    if (loss) *loss = h[0] / (double)B;
    if (correct) *correct = (int64_t)h[1];
}

/* ------------------------------------------------------------ gather */

static __global__ void k_gather4(const uint32_t *src, int64_t row, const int32_t *idx, int64_t n, uint32_t *dst)
{
    GSTRIDE(i, n * row) dst[i] = src[(int64_t)idx[i / row] * row + i % row];
}

static void g_gather(qt_backend_t *be, const void *src, int64_t row_bytes, const int32_t *idx, int64_t n, void *dst)
{
    if (row_bytes % 4) { fu_fail(be, QT_ERR_ARG, "gather rows must be a multiple of 4 bytes"); return; }
    int64_t row = row_bytes / 4;
    k_gather4<<<grid(be, n * row, 256), 256, 0, STREAM(be)>>>((const uint32_t *)src, row, idx, n, (uint32_t *)dst);
    fu_launched(be, "gather");
}

static const struct qt_fusion_kernels cuda_kernels = {
    g_linear_fwd, g_linear_bwd, g_gelu_fwd, g_gelu_bwd, g_ln_fwd,  g_ln_bwd,  g_attn_fwd, g_attn_bwd, g_pool_fwd,
    g_pool_bwd,   g_embed_fwd,  g_embed_bwd, g_add,     g_acc,     g_mix_fwd, g_mix_bwd, g_xent,     g_gather,
    k_status,
};

extern "C" const qt_fusion_ops_t qt_fusion_ops_cuda = {QT_F32, &cuda_kernels};
