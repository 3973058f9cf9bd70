/* ops.cu — the cuda backend's attention ops table (qt_attn_ops_cuda, listed in
 * impl/backends/cuda/cuda.cu): the kernels of attn_flash.cu / attn_lsh.cu on the instance's
 * stream. Through the library API tensors are f32 (qt_attn_validate), so forward runs the
 * exact f32 path: v2 (tiled SIMT, D ∈ {16, 32, 64, 128}) or v1 (naive, other D <= 128); the
 * bf16/f16 tensor-core versions (v5 the fastest) are chosen when q is bf16/f16 (D 64, 128) —
 * reachable once validation accepts those dtypes. Variants: dense and window (causal,
 * dilation, key-padding mask), separate Q/K. lsh_buckets: the rotations drawn on the host by
 * qt_attn_lsh_rotation (the same function every backend uses), uploaded once, hashed by
 * attn_lsh.cu bit for bit as ref. LSH and dynamic forward are not implemented on the GPU yet.
 * Tests: tests/attention/test_attention.c and quintet verify (skip without a GPU, saying why). */
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>

#include "../../backends/cuda/cuda_backend.h"
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
    if (!cfg || cfg->shared_qk) return 0;
    if (cfg->variant != QT_ATTN_DENSE && cfg->variant != QT_ATTN_WINDOW) return 0;
    return dt == QT_F32 || dt == QT_BF16 || dt == QT_F16;
}

static qt_status_t cuda_attn_forward(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q,
                                     const qt_tensor_t *k, const qt_tensor_t *v, const qt_tensor_t *mask,
                                     qt_tensor_t *out)
{
    qt_cuda_attn_args_t a;
    a.q = q->data, a.k = k->data, a.v = v->data, a.o = out->data;
    a.mask = mask ? (const float *)mask->data : NULL;
    a.B = (int)q->shape[0], a.H = (int)q->shape[1], a.T = (int)q->shape[2], a.D = (int)q->shape[3];
    a.causal = cfg->causal;
    int dense = cfg->variant == QT_ATTN_DENSE;
    a.w_left = dense ? a.T : cfg->w_left;
    a.w_right = dense ? a.T : cfg->w_right;
    a.dil = dense ? 1 : cfg->dilation;
    a.scale = 1.0f / sqrtf((float)a.D);
    a.dtype = q->dtype == QT_BF16 ? QT_CUDA_ATTN_BF16 : q->dtype == QT_F16 ? QT_CUDA_ATTN_F16 : QT_CUDA_ATTN_F32;
    int version = a.dtype == QT_CUDA_ATTN_F32 ? (qt_cuda_attn_version_supports(2, a.dtype, a.D) ? 2 : 1) : 5;
    if (!qt_cuda_attn_version_supports(version, a.dtype, a.D))
        return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "cuda attention: head size %d in %s not implemented", a.D,
                               qt_dtype_name(q->dtype));
    int rc = qt_cuda_attn_forward(version, &a, qt_cuda_backend_stream(be));
    return rc ? attn_cuda_fail(be, rc, "cuda attention launch") : QT_OK;
}

static qt_status_t cuda_attn_lsh_buckets(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *x,
                                         qt_tensor_t *buckets)
{
    int64_t B = x->shape[0], H = x->shape[1], T = x->shape[2], D = x->shape[3];
    int NH = cfg->n_hashes, f = cfg->bucket_factor;
    int cols = f ? f / 2 + cfg->n_buckets / f / 2 : cfg->n_buckets / 2;
    size_t per = (size_t)cols * D, total = per * (size_t)H * NH;
    float *host = (float *)malloc(total * sizeof(float)), *dev = NULL;
    if (!host) return qt_backend_fail(be, QT_ERR_NOMEM, "cuda lsh_buckets: rotations");
    for (int64_t h = 0; h < H; h++)
        for (int r = 0; r < NH; r++) (void)qt_attn_lsh_rotation(cfg, h, r, D, host + per * (size_t)(h * NH + r));
    cudaStream_t st = (cudaStream_t)qt_cuda_backend_stream(be);
    cudaError_t e = cudaMalloc((void **)&dev, total * sizeof(float));
    if (e == cudaSuccess) e = cudaMemcpyAsync(dev, host, total * sizeof(float), cudaMemcpyHostToDevice, st);
    if (e == cudaSuccess) e = cudaMemsetAsync(buckets->data, 0, (size_t)(B * H * NH * T) * sizeof(int32_t), st);
    int rc = e == cudaSuccess ? 0 : (int)e;
    for (int64_t h = 0; h < H && !rc; h++)
        for (int r = 0; r < NH && !rc; r++) {
            const float *rot = dev + per * (size_t)(h * NH + r);
            const float *xh = (const float *)x->data + h * T * D;
            int32_t *bk = (int32_t *)buckets->data + (h * NH + r) * T;
            long long xs = (long long)(H * T * D), bs = (long long)(H * NH * T);
            if (f) {
                rc = qt_cuda_attn_lsh_hash(xh, (int)B, xs, (int)T, (int)D, rot, f / 2, 1, bk, bs, st);
                if (!rc)
                    rc = qt_cuda_attn_lsh_hash(xh, (int)B, xs, (int)T, (int)D, rot + (size_t)(f / 2) * D,
                                               cfg->n_buckets / f / 2, f, bk, bs, st);
            } else {
                rc = qt_cuda_attn_lsh_hash(xh, (int)B, xs, (int)T, (int)D, rot, cols, 1, bk, bs, st);
            }
        }
    /* the host rotations and the device copy live until the stream has used them */
    cudaError_t se = cudaStreamSynchronize(st);
    if (!rc && se != cudaSuccess) rc = (int)se;
    if (dev) cudaFree(dev);
    free(host);
    return rc ? attn_cuda_fail(be, rc, "cuda lsh_buckets") : QT_OK;
}

extern "C" const qt_attn_ops_t qt_attn_ops_cuda = {
    /* .supports = */ cuda_attn_supports,
    /* .forward = */ cuda_attn_forward,
    /* .lsh_buckets = */ cuda_attn_lsh_buckets,
};
