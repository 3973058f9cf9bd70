/* topk.cu — top-k gradient compression with error feedback on the GPU (gpu.h states it; the
 * semantics are compress.c's topk, dist.h): the error-feedback update, a grid-wide radix select
 * of the k-th largest |v| (keys: the bit patterns of |v|, which order as unsigned integers; NaN
 * lowest; -0 as +0), the kept set in index order (keys above the k-th, then the lowest-indexed
 * equal ones) by two CUB exclusive scans, the same message bytes as the host compressor
 * all-gathered over the instance's NCCL, and the decode in rank order. Nothing goes back to the
 * host but the all-gather's completion. (impl/sparse/cuda/sparse.cu's topk_v1 selects per row in
 * one block, which fits activation rows, not a million-entry gradient: the select here is its
 * grid-wide counterpart, a global histogram per 8-bit pass and the bin picked on the device.)
 * Kept C-style. Tests: tests/dist/test_nccl.c (gpu_topk: against qt_compress_exchange on the
 * same random gradients, and the select against qt_compress_topk_select). */
#include <cub/device/device_scan.cuh>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/cuda/cuda_ctx.h"
extern "C" {
#include "../internal.h"
}
#include "gpu.h"

#define TPB 256

/* |v| as an ordered key: larger |v| ↔ larger key; NaN lowest; −0 as +0. */
static __device__ __forceinline__ uint32_t mag_key(float v) { return v != v ? 0u : (__float_as_uint(v) & 0x7fffffffu); }

typedef struct {
    uint32_t prefix; /* the key bits found so far */
    int need;        /* rank still to find among keys equal to the prefix */
    uint32_t hist[256];
} sel_state_t;

static unsigned blocks_for(size_t n)
{
    size_t b = (n + TPB - 1) / TPB;
    return (unsigned)(b < 1 ? 1 : b > 2048 ? 2048 : b);
}

#define GRID_LOOP(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* u ← m·u + g; v ← v + u, rounded as the host rounds it: a product, then a sum (libquintet is
 * built -std=c11, where gcc does not contract a·b + c into a fused multiply-add). */
static __global__ void ef_kernel(float *u, float *v, const float *g, float m, size_t n)
{
    GRID_LOOP(i, n)
    {
        float uu = __fadd_rn(__fmul_rn(m, u[i]), g[i]);
        u[i] = uu;
        v[i] = __fadd_rn(v[i], uu);
    }
}

static __global__ void sel_init_kernel(sel_state_t *st, int k)
{
    st->prefix = 0;
    st->need = k;
    for (int i = 0; i < 256; i++) st->hist[i] = 0;
}

static __global__ void hist_kernel(const float *v, size_t n, int shift, uint32_t mask, sel_state_t *st)
{
    __shared__ unsigned h[256];
    for (int i = threadIdx.x; i < 256; i += blockDim.x) h[i] = 0;
    __syncthreads();
    uint32_t prefix = st->prefix;
    GRID_LOOP(i, n)
    {
        uint32_t key = mag_key(v[i]);
        if ((key & mask) == prefix) atomicAdd(&h[(key >> shift) & 255u], 1u);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < 256; i += blockDim.x)
        if (h[i]) atomicAdd(&st->hist[i], h[i]);
}

/* The bin holding the need-th largest key among those matching the prefix (one thread). */
static __global__ void pick_kernel(sel_state_t *st, int shift)
{
    int bin = 255;
    unsigned above = 0, need = (unsigned)st->need;
    while (bin > 0 && above + st->hist[bin] < need) above += st->hist[bin--];
    st->prefix |= (uint32_t)bin << shift;
    st->need = (int)(need - above);
    for (int i = 0; i < 256; i++) st->hist[i] = 0;
}

static __global__ void eq_kernel(const float *v, size_t n, const sel_state_t *st, int *eq)
{
    uint32_t p = st->prefix;
    GRID_LOOP(i, n) eq[i] = mag_key(v[i]) == p;
}

/* keep = key above the k-th, or equal and among the first `need` equal ones (eqpos: exclusive
 * count of equal keys before i). In place: eqpos becomes keep. */
static __global__ void keep_kernel(const float *v, size_t n, const sel_state_t *st, int *eqpos_keep)
{
    uint32_t p = st->prefix;
    int need = st->need;
    GRID_LOOP(i, n)
    {
        uint32_t key = mag_key(v[i]);
        eqpos_keep[i] = key > p || (key == p && eqpos_keep[i] < need);
    }
}

static __global__ void scatter_kernel(size_t n, const int *keep, const int *pos, uint32_t off, uint32_t *idx)
{
    GRID_LOOP(i, n)
    if (keep[i]) idx[pos[i]] = off + (uint32_t)i;
}

/* A rank's message: k indices (2 or 4 bytes), then k values: compress.c's layout. */
static __global__ void pack_kernel(const float *v, const uint32_t *idx, size_t k, int iw, unsigned char *msg)
{
    GRID_LOOP(j, k)
    {
        uint32_t i = idx[j];
        if (iw == 2) {
            uint16_t s = (uint16_t)i;
            memcpy(msg + j * 2, &s, 2);
        } else {
            memcpy(msg + j * 4, &i, 4);
        }
        float val = v[i];
        memcpy(msg + k * (size_t)iw + j * 4, &val, 4);
    }
}

/* g[i] += val for one rank's message (its indices are distinct: no two threads meet). */
static __global__ void add_kernel(const unsigned char *msg, size_t k, int iw, float *g)
{
    GRID_LOOP(j, k)
    {
        uint32_t i = 0;
        if (iw == 2) {
            uint16_t s;
            memcpy(&s, msg + j * 2, 2);
            i = s;
        } else {
            memcpy(&i, msg + j * 4, 4);
        }
        float val;
        memcpy(&val, msg + k * (size_t)iw + j * 4, 4);
        g[i] = __fadd_rn(g[i], val);
    }
}

static __global__ void div_kernel(float *g, size_t n, float w)
{
    GRID_LOOP(i, n) g[i] = __fdiv_rn(g[i], w);
}

static __global__ void zero_kernel(float *u, float *v, const uint32_t *idx, size_t k)
{
    GRID_LOOP(j, k)
    {
        u[idx[j]] = 0.0f;
        v[idx[j]] = 0.0f;
    }
}

/* ---- the select ---- */
typedef struct {
    sel_state_t *st;
    int *a, *b;   /* n ints each */
    void *tmp;    /* CUB's temporary storage */
    size_t tmp_bytes;
} sel_bufs_t;


/* idx[0..k) = off + the indices (ascending) of the k largest |v| of v[0..n), ties lower first. */
static cudaError_t select_dev(cudaStream_t s, const float *v, size_t n, size_t k, uint32_t off, uint32_t *idx,
                              sel_bufs_t *sb)
{
    cudaError_t e = cudaSuccess;
    unsigned nb = blocks_for(n);
    QT_CUDA_LAUNCH(e, sel_init_kernel<<<1, 1, 0, s>>>(sb->st, (int)k));
    for (int shift = 24; shift >= 0 && e == cudaSuccess; shift -= 8) {
        uint32_t mask = shift == 24 ? 0u : (0xffffffffu << (shift + 8));
        QT_CUDA_LAUNCH(e, hist_kernel<<<nb, TPB, 0, s>>>(v, n, shift, mask, sb->st));
        QT_CUDA_LAUNCH(e, pick_kernel<<<1, 1, 0, s>>>(sb->st, shift));
    }
    QT_CUDA_LAUNCH(e, eq_kernel<<<nb, TPB, 0, s>>>(v, n, sb->st, sb->a));
    size_t tb = sb->tmp_bytes;
    if (e == cudaSuccess) e = cub::DeviceScan::ExclusiveSum(sb->tmp, tb, sb->a, sb->b, (int)n, s);
    QT_CUDA_LAUNCH(e, keep_kernel<<<nb, TPB, 0, s>>>(v, n, sb->st, sb->b));
    tb = sb->tmp_bytes;
    if (e == cudaSuccess) e = cub::DeviceScan::ExclusiveSum(sb->tmp, tb, sb->b, sb->a, (int)n, s);
    QT_CUDA_LAUNCH(e, scatter_kernel<<<nb, TPB, 0, s>>>(n, sb->b, sb->a, off, idx));
    return e;
}

static qt_status_t bufs_alloc(qt_backend_t *be, size_t n, sel_bufs_t *sb)
{
    memset(sb, 0, sizeof *sb);
    void *p = NULL;
    QT_TRY(qt_backend_alloc(be, sizeof(sel_state_t), &p));
    sb->st = (sel_state_t *)p;
    QT_TRY(qt_backend_alloc(be, n * sizeof(int), &p));
    sb->a = (int *)p;
    QT_TRY(qt_backend_alloc(be, n * sizeof(int), &p));
    sb->b = (int *)p;
    size_t bytes = 0;
    cudaError_t e = cub::DeviceScan::ExclusiveSum(NULL, bytes, sb->a, sb->b, (int)n, (cudaStream_t)0);
    if (e != cudaSuccess) return qt_cuda_fail(be, e, "CUB scan size");
    QT_TRY(qt_backend_alloc(be, bytes ? bytes : 16, &sb->tmp));
    sb->tmp_bytes = bytes ? bytes : 16;
    return QT_OK;
}

static void bufs_free(qt_backend_t *be, sel_bufs_t *sb)
{
    qt_backend_dealloc(be, sb->st, 0);
    qt_backend_dealloc(be, sb->a, 0);
    qt_backend_dealloc(be, sb->b, 0);
    qt_backend_dealloc(be, sb->tmp, 0);
    memset(sb, 0, sizeof *sb);
}

extern "C" qt_status_t qt_dist_gtopk_select(qt_backend_t *be, const float *v, size_t n, size_t k, uint32_t *idx)
{
    QT_CHECK_ARG(be && v && idx, "gpu topk select: NULL argument");
    QT_CHECK_ARG(k >= 1 && k <= n && n < 0x7fffffffu, "gpu topk select: k = %zu must be in 1..n = %zu (n < 2^31)", k, n);
    sel_bufs_t sb;
    void *d = NULL;
    qt_status_t s = bufs_alloc(be, n, &sb);
    if (s == QT_OK) s = qt_backend_alloc(be, k * sizeof(uint32_t), &d);
    if (s == QT_OK) {
        cudaStream_t st = QT_CUDA_CTX(be)->stream;
        cudaError_t e = select_dev(st, v, n, k, 0, (uint32_t *)d, &sb);
        if (e == cudaSuccess) e = cudaMemcpyAsync(idx, d, k * sizeof(uint32_t), cudaMemcpyDeviceToHost, st);
        if (e == cudaSuccess) e = cudaStreamSynchronize(st);
        if (e != cudaSuccess) s = qt_cuda_fail(be, e, "gpu top-k select");
    }
    qt_backend_dealloc(be, d, 0);
    bufs_free(be, &sb);
    return s;
}

/* ---- the compressor ---- */
struct qt_dist_gtopk {
    qt_compress_config_t cfg;
    qt_backend_t *be;
    int n_t;
    size_t *off, n, k_max;
    float *u, *v;          /* device */
    uint32_t *idx;         /* device, k_max */
    unsigned char *send, *recv; /* device: k_max·pair, world·k_max·pair */
    sel_bufs_t sb;
    int64_t step;
    double sent, logical;
};

static size_t count_of(double d, size_t n)
{
    size_t k = (size_t)ceil(d * (double)n);
    return k < 1 ? 1 : k > n ? n : k;
}

/* compress.c's density(): the target, or DGC's warm-up schedule. */
static double density(const qt_dist_gtopk_t *c)
{
    int W = c->cfg.warmup_steps;
    if (W <= 0 || c->step >= W) return c->cfg.ratio;
    double d = pow(0.25, 1.0 + floor(4.0 * (double)c->step / W));
    return d > c->cfg.ratio ? d : c->cfg.ratio;
}

/* k of density d: over all entries, or Σ per piece (layerwise). */
static size_t k_of(const qt_dist_gtopk_t *c, double d)
{
    if (!c->cfg.layerwise) return count_of(d, c->n);
    size_t k = 0;
    for (int t = 0; t < c->n_t; t++) k += count_of(d, c->off[t + 1] - c->off[t]);
    return k;
}

extern "C" void qt_dist_gtopk_free(qt_dist_gtopk_t *c)
{
    if (!c) return;
    qt_backend_t *be = c->be;
    qt_backend_dealloc(be, c->u, 0);
    qt_backend_dealloc(be, c->v, 0);
    qt_backend_dealloc(be, c->idx, 0);
    qt_backend_dealloc(be, c->send, 0);
    qt_backend_dealloc(be, c->recv, 0);
    bufs_free(be, &c->sb);
    free(c->off);
    free(c);
}

extern "C" qt_status_t qt_dist_gtopk_init(qt_dist_gtopk_t **out, qt_backend_t *be, const qt_compress_config_t *cfg,
                                          int n_tensors, const int *rows, const int *cols)
{
    QT_CHECK_ARG(out && be && cfg && rows && cols && n_tensors > 0, "gpu topk init: NULL argument or no tensors");
    *out = NULL;
    QT_CHECK_ARG(!qt_device_is_host(be->device) && qt_backend_ops(be, QT_TECH_DIST),
                 "gpu topk: backend %s is not a GPU communicator (nccl)", qt_backend_name(be));
    QT_CHECK_ARG(cfg->kind == QT_COMPRESS_TOPK, "gpu compression: only topk runs on the GPU (got %s)",
                 qt_compress_name(cfg->kind));
    QT_CHECK_ARG(cfg->ratio > 0 && cfg->ratio <= 1, "topk: ratio %g must be in (0, 1]", cfg->ratio);
    QT_CHECK_ARG(cfg->momentum >= 0 && cfg->momentum < 1, "topk: momentum %g must be in [0, 1)", cfg->momentum);
    qt_dist_gtopk_t *c = (qt_dist_gtopk_t *)calloc(1, sizeof *c);
    if (!c) return qt_fail(QT_ERR_NOMEM, "gpu compressor");
    c->cfg = *cfg;
    c->be = be;
    c->n_t = n_tensors;
    c->off = (size_t *)malloc(sizeof(size_t) * (size_t)(n_tensors + 1));
    qt_status_t s = c->off ? QT_OK : qt_fail(QT_ERR_NOMEM, "gpu compressor");
    if (s == QT_OK) c->off[0] = 0;
    for (int t = 0; s == QT_OK && t < n_tensors; t++) {
        if (rows[t] < 1 || cols[t] < 1) s = qt_fail(QT_ERR_ARG, "tensor %d: %d x %d", t, rows[t], cols[t]);
        else c->off[t + 1] = c->off[t] + (size_t)rows[t] * (size_t)cols[t];
    }
    if (s == QT_OK) {
        c->n = c->off[n_tensors];
        if (c->n >= 0x7fffffffu) s = qt_fail(QT_ERR_ARG, "gpu topk: %zu entries (at most 2^31 - 1)", c->n);
    }
    if (s == QT_OK) { /* the largest k of the schedule (warm-up starts at 25%) */
        double dmax = cfg->warmup_steps > 0 && cfg->ratio < 0.25 ? 0.25 : cfg->ratio;
        c->k_max = k_of(c, dmax);
        size_t pair = (c->n <= 65536 ? 2 : 4) + 4, w = (size_t)be->world;
        void *p = NULL;
        if ((s = qt_backend_alloc(be, c->n * sizeof(float), &p)) == QT_OK) c->u = (float *)p;
        if (s == QT_OK && (s = qt_backend_alloc(be, c->n * sizeof(float), &p)) == QT_OK) c->v = (float *)p;
        if (s == QT_OK && (s = qt_backend_alloc(be, c->k_max * sizeof(uint32_t), &p)) == QT_OK) c->idx = (uint32_t *)p;
        if (s == QT_OK && (s = qt_backend_alloc(be, c->k_max * pair, &p)) == QT_OK) c->send = (unsigned char *)p;
        if (s == QT_OK && (s = qt_backend_alloc(be, w * c->k_max * pair, &p)) == QT_OK) c->recv = (unsigned char *)p;
        size_t largest = c->n;
        if (s == QT_OK) s = bufs_alloc(be, largest, &c->sb);
        cudaError_t e = cudaSuccess;
        if (s == QT_OK) e = cudaMemsetAsync(c->u, 0, c->n * sizeof(float), QT_CUDA_CTX(be)->stream);
        if (s == QT_OK && e == cudaSuccess) e = cudaMemsetAsync(c->v, 0, c->n * sizeof(float), QT_CUDA_CTX(be)->stream);
        if (s == QT_OK && e != cudaSuccess) s = qt_cuda_fail(be, e, "gpu compressor state");
        if (s == QT_OK) s = qt_backend_synchronize(be);
    }
    if (s != QT_OK) {
        qt_dist_gtopk_free(c);
        return s;
    }
    *out = c;
    return QT_OK;
}

extern "C" qt_status_t qt_dist_gtopk_exchange(qt_dist_gtopk_t *c, qt_backend_t *be, float *grad)
{
    QT_CHECK_ARG(c && be && grad, "gpu topk exchange: NULL argument");
    QT_CHECK_ARG(be == c->be, "gpu topk exchange: another backend instance than at init");
    const qt_dist_ops_t *ops = qt_dist_ops_of(be);
    if (!ops) return QT_ERR_UNSUPPORTED;
    cudaStream_t st = QT_CUDA_CTX(be)->stream;
    size_t n = c->n, iw = n <= 65536 ? 2 : 4, pair = iw + 4;
    int w = be->world;
    double d = density(c);
    size_t k = k_of(c, d);
    cudaError_t e = cudaSuccess;
    QT_CUDA_LAUNCH(e, ef_kernel<<<blocks_for(n), TPB, 0, st>>>(c->u, c->v, grad, (float)c->cfg.momentum, n));
    if (!c->cfg.layerwise) {
        if (e == cudaSuccess) e = select_dev(st, c->v, n, k, 0, c->idx, &c->sb);
    } else {
        size_t got = 0;
        for (int t = 0; t < c->n_t && e == cudaSuccess; t++) {
            size_t nt = c->off[t + 1] - c->off[t], kt = count_of(d, nt);
            e = select_dev(st, c->v + c->off[t], nt, kt, (uint32_t)c->off[t], c->idx + got, &c->sb);
            got += kt;
        }
    }
    QT_CUDA_LAUNCH(e, pack_kernel<<<blocks_for(k), TPB, 0, st>>>(c->v, c->idx, k, (int)iw, c->send));
    if (e != cudaSuccess) return qt_cuda_fail(be, e, "gpu top-k select");
    qt_dist_req_t *req = NULL;
    QT_TRY(ops->iallgather(be, c->send, c->recv, k * pair, QT_DIST_U8, &req));
    QT_TRY(qt_dist_wait(be, req, "top-k all-gather"));
    c->sent += (double)(k * pair);
    e = cudaMemsetAsync(grad, 0, n * sizeof(float), st);
    for (int r = 0; r < w; r++)
        QT_CUDA_LAUNCH(e, add_kernel<<<blocks_for(k), TPB, 0, st>>>(c->recv + (size_t)r * k * pair, k, (int)iw, grad));
    QT_CUDA_LAUNCH(e, div_kernel<<<blocks_for(n), TPB, 0, st>>>(grad, n, (float)w));
    QT_CUDA_LAUNCH(e, zero_kernel<<<blocks_for(k), TPB, 0, st>>>(c->u, c->v, c->idx, k));
    c->logical += 4.0 * (double)n;
    c->step++;
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, "gpu top-k decode");
}

extern "C" void qt_dist_gtopk_bytes(const qt_dist_gtopk_t *c, double *sent, double *logical)
{
    if (sent) *sent = c ? c->sent : 0;
    if (logical) *logical = c ? c->logical : 0;
}

extern "C" qt_status_t qt_dist_gtopk_residual(qt_dist_gtopk_t *c, qt_backend_t *be, float *host_v)
{
    QT_CHECK_ARG(c && be && host_v, "gpu topk residual: NULL argument");
    QT_TRY(qt_backend_copy(be, host_v, qt_device_host(), c->v, be->device, c->n * sizeof(float)));
    return qt_backend_synchronize(be);
}

/* gpu.h: the CUDA runtime's memory type of p, -1 when it cannot say. */
extern "C" int qt_dist_cuda_pointer_type(const void *p)
{
    struct cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        (void)cudaGetLastError();
        return -1;
    }
    return (int)a.type;
}
