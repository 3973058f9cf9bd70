/* ops.cu — the cuda backend's attention ops table (qt_attn_ops_cuda, listed in
 * impl/backends/cuda/cuda.cu): the kernels of attn_flash.cu, attn_wgmma.cu and attn_lsh.cu on the instance's
 * stream. Variants: dense and window (causal, dilation, key-padding mask) in f32 through v2
 * (tiled SIMT, D ∈ {16, 32, 64, 128}) or v1 (naive, other D <= 128), in bf16/f16 through the
 * version qt_cuda_attn_default_version picks (tensor cores: on a cc 9.0 device with the sm_90a
 * build, wgmma (attn_wgmma.cu) D 64: v12, D 128: v11; else mma.sync D 64: v5, D 128: v10; the environment
 * variable QT_CUDA_ATTN_KERNEL=N forces version N where it applies); LSH and dynamic (attn_lsh.cu: hashing, CUB sort, gathered f32 tiles;
 * D <= 128; bf16/f16 inputs are converted to f32 in the instance's scratch first, the output is
 * written in the tensors' type). shared_qk: the keys are the unit-normalised queries, computed on
 * the device into the scratch (qt_cuda_attn_normalize), then the same kernels.
 * Rotations: drawn on the host by qt_attn_lsh_rotation (the function every backend uses) and
 * kept on the device between calls, keyed by (seed, n_buckets, factor, n_hashes, H, D, GPU),
 * so repeated forwards of one configuration (a timed loop) draw them once; lsh_buckets hashes
 * with the same rotations (hash v2), bit for bit as ref.
 * Tests: tests/attention/test_attention_cuda.c and quintet verify (skip without a GPU, saying why). */
#include <cuda_runtime.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "../../backends/cuda/cuda_backend.h"
#include "../../backends/cuda/internal.h"
extern "C" {
#include "../internal.h"
}
#include "attn_cuda.h"
#include "quintet/attention.h"
#include "quintet/backend.h"
#include "quintet/tensor.h"

static qt_status_t attn_cuda_fail(qt_backend_t *be, int rc, const char *what)
{
    if (rc < 0) return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "%s: no kernel for these arguments", what);
    return qt_backend_fail(be, QT_ERR_INTERNAL, "%s: %s (CUDA error %d)", what,
                           cudaGetErrorString((cudaError_t)rc), rc);
}

static int cuda_attn_supports(const qt_backend_t *be, const qt_attn_config_t *cfg, qt_dtype_t dt)
{
    (void)be;
    if (!cfg || (unsigned)cfg->variant >= QT_ATTN_VARIANT_COUNT) return 0;
    return dt == QT_F32 || dt == QT_BF16 || dt == QT_F16;
}

static int cuda_dtype(qt_dtype_t dt)
{
    return dt == QT_BF16 ? QT_CUDA_ATTN_BF16 : dt == QT_F16 ? QT_CUDA_ATTN_F16 : QT_CUDA_ATTN_F32;
}

/* ---- rotations kept on the device ---- */

typedef struct {
    uint64_t seed;
    int n_buckets, factor, n_hashes, ordinal;
    int64_t H, D;
    float *dev;
} rot_cache_t;

static rot_cache_t rot_cache;
static pthread_mutex_t rot_lock = PTHREAD_MUTEX_INITIALIZER;

/* Device rotations of every (head, round) for cfg: head h, round r at
 * out + (h·n_hashes + r)·cols·D. Valid until the next call with another configuration. */
static qt_status_t cuda_rotations(qt_backend_t *be, const qt_attn_config_t *cfg, int64_t H, int64_t D, const float **out,
                                  int *cols_out)
{
    int f = cfg->bucket_factor, NH = cfg->n_hashes;
    int cols = f ? f / 2 + cfg->n_buckets / f / 2 : cfg->n_buckets / 2;
    int ordinal = 0;
    cudaGetDevice(&ordinal);
    *cols_out = cols;
    pthread_mutex_lock(&rot_lock);
    rot_cache_t *c = &rot_cache;
    if (c->dev && c->seed == cfg->seed && c->n_buckets == cfg->n_buckets && c->factor == f && c->n_hashes == NH &&
        c->H == H && c->D == D && c->ordinal == ordinal) {
        *out = c->dev;
        pthread_mutex_unlock(&rot_lock);
        return QT_OK;
    }
    size_t per = (size_t)cols * D, total = per * (size_t)H * NH;
    float *host = (float *)malloc(total * sizeof(float)), *dev = NULL;
    if (!host) {
        pthread_mutex_unlock(&rot_lock);
        return qt_backend_fail(be, QT_ERR_NOMEM, "cuda attention: LSH rotations (%zu floats)", total);
    }
    for (int64_t h = 0; h < H; h++)
        for (int r = 0; r < NH; r++) (void)qt_attn_lsh_rotation(cfg, h, r, D, host + per * (size_t)(h * NH + r));
    if (c->dev) {
        cudaDeviceSynchronize(); /* queued work of any stream may still read the old ones */
        cudaFree(c->dev);
        c->dev = NULL;
    }
    cudaError_t e = cudaMalloc((void **)&dev, total * sizeof(float));
    if (e == cudaSuccess) e = cudaMemcpy(dev, host, total * sizeof(float), cudaMemcpyHostToDevice);
    free(host);
    if (e != cudaSuccess) {
        if (dev) cudaFree(dev);
        pthread_mutex_unlock(&rot_lock);
        return attn_cuda_fail(be, (int)e, "cuda attention: LSH rotations");
    }
    c->dev = dev;
    c->seed = cfg->seed, c->n_buckets = cfg->n_buckets, c->factor = f, c->n_hashes = NH, c->H = H, c->D = D;
    c->ordinal = ordinal;
    *out = dev;
    pthread_mutex_unlock(&rot_lock);
    return QT_OK;
}

/* ---- forward ---- */

static qt_status_t cuda_lsh_forward(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q,
                                    const qt_tensor_t *k, const qt_tensor_t *v, const qt_tensor_t *mask,
                                    qt_tensor_t *out)
{
    qt_cuda_lsh_args_t a;
    a.B = (int)q->shape[0], a.H = (int)q->shape[1], a.T = (int)q->shape[2], a.D = (int)q->shape[3];
    if (a.D > 128)
        return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "cuda %s attention: head size %d > 128 not implemented",
                               qt_attn_variant_name(cfg->variant), a.D);
    int cols = 0;
    QT_TRY(cuda_rotations(be, cfg, a.H, a.D, &a.rot, &cols));
    a.o = out->data, a.odtype = cuda_dtype(out->dtype);
    a.mask = mask ? (const float *)mask->data : NULL;
    a.causal = cfg->causal;
    a.scale = 1.0f / sqrtf((float)a.D);
    a.dynamic = cfg->variant == QT_ATTN_DYNAMIC;
    a.shared_qk = cfg->shared_qk;
    a.n_hashes = cfg->n_hashes, a.n_buckets = cfg->n_buckets, a.factor = cfg->bucket_factor, a.chunk = cfg->chunk;
    a.w_left = cfg->w_left, a.w_right = cfg->w_right, a.dil = cfg->dilation;
    a.q = (const float *)q->data; /* bf16/f16: replaced by f32 copies below */
    a.k = k && !cfg->shared_qk ? (const float *)k->data : NULL;
    a.v = (const float *)v->data;
    size_t ws = qt_cuda_attn_lsh_workspace(&a);
    if (!ws) return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "cuda %s attention: sizes out of range (B·H·T·n_hashes)",
                                    qt_attn_variant_name(cfg->variant));
    size_t n = (size_t)a.B * a.H * a.T * a.D, conv = q->dtype == QT_F32 ? 0 : 3 * ((n * sizeof(float) + 255) & ~(size_t)255);
    void *scr = NULL;
    QT_TRY(qt_cuda_scratch(be, ws + conv, &scr));
    void *st = qt_cuda_backend_stream(be);
    int rc = 0;
    if (conv) { /* bf16/f16: f32 copies of q, k, v at the scratch's end */
        float *f = (float *)((char *)scr + ws);
        size_t step = conv / 3 / sizeof(float);
        const qt_tensor_t *src[3] = {q, k, v};
        const float **dst[3] = {&a.q, &a.k, &a.v};
        for (int i = 0; i < 3 && !rc; i++) {
            if (!src[i] || (i == 1 && cfg->shared_qk)) continue;
            rc = qt_cuda_attn_to_f32(src[i]->data, cuda_dtype(q->dtype), (long long)n, f + i * step, st);
            *dst[i] = f + i * step;
        }
    }
    if (!rc) rc = qt_cuda_attn_lsh_forward(&a, scr, ws, st);
    return rc ? attn_cuda_fail(be, rc, "cuda LSH/dynamic attention") : QT_OK;
}

static qt_status_t cuda_attn_forward(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q,
                                     const qt_tensor_t *k, const qt_tensor_t *v, const qt_tensor_t *mask,
                                     qt_tensor_t *out)
{
    if (cfg->variant == QT_ATTN_LSH || cfg->variant == QT_ATTN_DYNAMIC)
        return cuda_lsh_forward(be, cfg, q, k, v, mask, out);
    qt_cuda_attn_args_t a;
    a.q = q->data, a.k = k ? k->data : NULL, a.v = v->data, a.o = out->data;
    a.mask = mask ? (const float *)mask->data : NULL;
    a.B = (int)q->shape[0], a.H = (int)q->shape[1], a.T = (int)q->shape[2], a.D = (int)q->shape[3];
    a.causal = cfg->causal;
    int dense = cfg->variant == QT_ATTN_DENSE;
    a.w_left = dense ? a.T : cfg->w_left;
    a.w_right = dense ? a.T : cfg->w_right;
    a.dil = dense ? 1 : cfg->dilation;
    a.scale = 1.0f / sqrtf((float)a.D);
    a.dtype = cuda_dtype(q->dtype);
    int version = qt_cuda_attn_default_version(a.dtype, a.D);
    if (!version)
        return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "cuda attention: head size %d in %s not implemented", a.D,
                               qt_dtype_name(q->dtype));
    int rc = 0;
    if (cfg->shared_qk) { /* keys = unit-normalised queries, in the scratch */
        void *kn = NULL;
        QT_TRY(qt_cuda_scratch(be, (size_t)qt_tensor_numel(q) * qt_dtype_size(q->dtype), &kn));
        rc = qt_cuda_attn_normalize(q->data, a.dtype, (long long)a.B * a.H * a.T, a.D, kn, qt_cuda_backend_stream(be));
        a.k = kn;
    }
    if (!rc) rc = qt_cuda_attn_forward(version, &a, qt_cuda_backend_stream(be));
    return rc ? attn_cuda_fail(be, rc, "cuda attention launch") : QT_OK;
}

static qt_status_t cuda_attn_lsh_buckets(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *x,
                                         qt_tensor_t *buckets)
{
    int64_t B = x->shape[0], H = x->shape[1], T = x->shape[2], D = x->shape[3];
    int NH = cfg->n_hashes, f = cfg->bucket_factor, cols = 0, ver = D <= 128 ? 2 : 1; /* v2's tiles: D <= 128 */
    const float *dev = NULL;
    QT_TRY(cuda_rotations(be, cfg, H, D, &dev, &cols));
    cudaStream_t st = (cudaStream_t)qt_cuda_backend_stream(be);
    size_t per = (size_t)cols * D;
    cudaError_t e = cudaMemsetAsync(buckets->data, 0, (size_t)(B * H * NH * T) * sizeof(int32_t), st);
    int rc = e == cudaSuccess ? 0 : (int)e;
    for (int64_t h = 0; h < H && !rc; h++)
        for (int r = 0; r < NH && !rc; r++) {
            const float *rot = dev + per * (size_t)(h * NH + r);
            const float *xh = (const float *)x->data + h * T * D;
            int32_t *bk = (int32_t *)buckets->data + (h * NH + r) * T;
            long long xs = (long long)(H * T * D), bs = (long long)(H * NH * T);
            if (f) {
                rc = qt_cuda_attn_lsh_hash(ver, xh, (int)B, xs, (int)T, (int)D, rot, f / 2, 1, bk, bs, st);
                if (!rc)
                    rc = qt_cuda_attn_lsh_hash(ver, xh, (int)B, xs, (int)T, (int)D, rot + (size_t)(f / 2) * D,
                                               cfg->n_buckets / f / 2, f, bk, bs, st);
            } else {
                rc = qt_cuda_attn_lsh_hash(ver, xh, (int)B, xs, (int)T, (int)D, rot, cols, 1, bk, bs, st);
            }
        }
    return rc ? attn_cuda_fail(be, rc, "cuda lsh_buckets") : QT_OK;
}

extern "C" const qt_attn_ops_t qt_attn_ops_cuda = {
    /* .supports = */ cuda_attn_supports,
    /* .forward = */ cuda_attn_forward,
    /* .lsh_buckets = */ cuda_attn_lsh_buckets,
};
