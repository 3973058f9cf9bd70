/* rng.cu — the cuda backend's fill op (backend.h: qt_backend_iface_t.fill): the Philox
 * streams of quintet/rng.h drawn on the device by the same header-only host+device functions,
 * so every element is exactly the host's qt_rng_fill_* value: raw words and uniforms bitwise;
 * normals through the device's double log/sqrt/sin/cos (within a few ulps of glibc's, so f32
 * normals nearly always bitwise, f64 to ~1e-15 relative). The affine maps (lo + (hi−lo)·u,
 * mean + std·z) use correctly rounded, never-contracted intrinsics in the host's order.
 * One kernel, grid-stride, one element per thread per iteration (version 1: the fill is
 * compute-bound on Philox's ten rounds, not on memory).
 * Tests: tests/core/test_rng.c (known-answer vectors and host equality on each device backend;
 * skipped without a GPU, saying why). */
#include <cuda_runtime.h>
#include <stdint.h>

#include "../../backends/cuda/internal.h"
#include "quintet/rng.h"
#include "quintet/tensor.h"

/* v1: element i of the fill. */
static __global__ void qt_cuda_fill_v1(void *out, int dtype, size_t n, int kind, uint64_t seed, uint64_t stream,
                                       uint64_t offset, double a, double b)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        if (kind == QT_FILL_BITS) {
            uint32_t w[4];
            qt_rng_block(seed, stream, offset + i / 4, w);
            ((uint32_t *)out)[i] = w[i % 4];
        } else if (kind == QT_FILL_NORMAL) {
            double z = qt_rng_normal(seed, stream, offset + i);
            if (dtype == QT_F32) {
                double mean = (double)(float)a, sd = (double)(float)b; /* the host passes floats, promoted */
                ((float *)out)[i] = (float)__dadd_rn(mean, __dmul_rn(sd, z));
            } else {
                ((double *)out)[i] = __dadd_rn(a, __dmul_rn(b, z));
            }
        } else if (dtype == QT_F32) {
            float lo = (float)a, hi = (float)b;
            ((float *)out)[i] = __fadd_rn(lo, __fmul_rn(__fsub_rn(hi, lo), qt_rng_uniform_f32(seed, stream, offset + i)));
        } else {
            ((double *)out)[i] = __dadd_rn(a, __dmul_rn(__dsub_rn(b, a), qt_rng_uniform_f64(seed, stream, offset + i)));
        }
    }
}

/* Queue the fill on the instance's stream. */
qt_status_t qt_cuda_fill(qt_backend_t *be, void *data, int dtype, size_t n, int kind, uint64_t seed, uint64_t stream,
                         uint64_t offset, double a, double b)
{
    if (n == 0) return QT_OK;
    const int threads = 256;
    qt_cuda_fill_v1<<<qt_cuda_blocks(be, n, threads), threads, 0, QT_CUDA_CTX(be)->stream>>>(data, dtype, n, kind, seed,
                                                                                           stream, offset, a, b);
    return qt_cuda_launched(be, "fill kernel launch");
}
