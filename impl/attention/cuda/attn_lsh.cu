/* attn_lsh.cu — LSH hashing on the GPU, bit for bit the rule of quintet/attention.h: for each
 * row x and rotation column b, p_b = fmaf chain over d = 0, 1, …, D-1 from 0 (one rounding per
 * step, in order), bucket = index of the FIRST maximum of [p_0 … p_{h-1}, -p_0 … -p_{h-1}]
 * (strict > while scanning, as ref.c's loop). This file must never be built with
 * --use_fast_math or -fmad=false changes: fmaf is explicit, so the chain is exact either way.
 *
 * v1: one thread per row; the rotation (h × D floats, transposed) is read through the
 * read-only cache (every thread of a warp reads the same element: a broadcast).
 * Checked by tests/attention/cuda_attn_bench.cu against a host loop identical to ref.c's.
 * Launch interface: attn_cuda.h (qt_cuda_attn_lsh_hash). */
#include <cuda_runtime.h>
#include <math.h>

#include "attn_cuda.h"

__global__ void attn_lsh_hash_v1(const float *__restrict__ x, long long x_bstride, int T, int D,
                                 const float *__restrict__ rotT, int half, int scale, int *buckets,
                                 long long bk_bstride)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (t >= T) return;
    const float *row = x + b * x_bstride + (long long)t * D;
    float best = -INFINITY;
    int arg = 0;
    for (int side = 0; side < 2; side++)
        for (int c = 0; c < half; c++) {
            const float *r = rotT + (long long)c * D;
            float p = 0.0f;
            for (int d = 0; d < D; d++) p = fmaf(row[d], __ldg(r + d), p);
            float val = side ? -p : p;
            if (val > best) {
                best = val;
                arg = side * half + c;
            }
        }
    buckets[b * bk_bstride + t] += scale * arg;
}

extern "C" int qt_cuda_attn_lsh_hash(const float *x, int nb, long long x_bstride, int T, int D, const float *rotT,
                                     int half, int scale, int *buckets, long long bk_bstride, void *stream)
{
    if (!x || !rotT || !buckets || nb < 1 || nb > 65535 || T < 1 || D < 1 || half < 1) return -1;
    dim3 grid((T + 127) / 128, nb);
    attn_lsh_hash_v1<<<grid, 128, 0, (cudaStream_t)stream>>>(x, x_bstride, T, D, rotT, half, scale, buckets,
                                                              bk_bstride);
    return (int)cudaGetLastError();
}
