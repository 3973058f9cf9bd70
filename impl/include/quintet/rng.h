/* rng.h — counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11,
 * "Parallel random numbers: as easy as 1, 2, 3"; Random123).
 *
 * A draw is a pure function of (seed, stream, index): no state, so any thread,
 * process or GPU thread computes value #index of stream #stream on its own and
 * all of them agree. Mapping (fixed; changing it changes every stored result):
 *   key     = { seed & 0xffffffff, seed >> 32 }
 *   counter = { block & 0xffffffff, block >> 32, stream & 0xffffffff, stream >> 32 }
 * u32 value i      : block i/4, word i%4
 * f32 uniform i    : (u32_i >> 8 + 0.5) * 2^-24            in (0, 1), never 0 or 1
 * f64 uniform i    : block i/2, words 2(i%2) and 2(i%2)+1 give 53 bits: (bits + 0.5) * 2^-53
 * normal i         : Box-Muller on the two f64-precision uniforms of block i/2,
 *                    cos branch for even i, sin branch for odd i.
 * The functions are header-only and marked host+device so the CUDA backend
 * draws identical uniform bits; normals agree to the last-ulp accuracy of the
 * platform's log/sqrt/sincos.
 * Device fills (the cuda backend's fill op, reached through qt_tensor_fill_* on a device
 * tensor) run these same functions in kernels: uniform and raw words are bitwise the host's.
 * Known-answer tests against Random123's kat_vectors, on the host and on each device backend:
 * tests/core/test_rng.c. */
#ifndef QUINTET_RNG_H
#define QUINTET_RNG_H

#include "quintet/api.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define QT_HD __host__ __device__ __forceinline__
#else
#define QT_HD static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One Philox4x32 round-function application, ten rounds, as Random123 defines it. */
QT_HD void qt_philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4])
{
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    uint32_t k0 = key_in[0], k1 = key_in[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u; /* bump the key after every round but the last: harmless after */
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* The four 32-bit words of block `block` of stream `stream` under `seed`. */
QT_HD void qt_rng_block(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4])
{
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    qt_philox4x32_10(ctr, key, out);
}

/* 32 random bits: value `index` of (seed, stream). */
QT_HD uint32_t qt_rng_u32(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint32_t w[4];
    qt_rng_block(seed, stream, index >> 2, w);
    return w[index & 3];
}

/* A random word as a uniform float in (0, 1), from its top 23 bits: (j + 1/2) / 2^23 is exact in
 * f32 for every j < 2^23. (With 24 bits the top value 2^24 - 1/2 is not a float and rounds to 1.0.) */
QT_HD float qt_rng_word_uniform_f32(uint32_t word)
{
    return ((float)(word >> 9) + 0.5f) * (1.0f / 8388608.0f);
}

/* Uniform float in (0, 1): value index of the stream. */
QT_HD float qt_rng_uniform_f32(uint64_t seed, uint64_t stream, uint64_t index)
{
    return qt_rng_word_uniform_f32(qt_rng_u32(seed, stream, index));
}

/* Uniform double in (0, 1) from 53 bits of two words of block index/2. */
QT_HD double qt_rng_uniform_f64(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint32_t w[4];
    qt_rng_block(seed, stream, index >> 1, w);
    uint32_t hi = w[2 * (index & 1)], lo = w[2 * (index & 1) + 1];
    uint64_t bits = ((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11); /* 53 bits */
    return ((double)bits + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal: Box-Muller on the block's two 53-bit uniforms. */
QT_HD double qt_rng_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint32_t w[4];
    qt_rng_block(seed, stream, index >> 1, w);
    uint64_t a = ((uint64_t)w[0] << 21) ^ (uint64_t)(w[1] >> 11);
    uint64_t b = ((uint64_t)w[2] << 21) ^ (uint64_t)(w[3] >> 11);
    double u1 = ((double)a + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = ((double)b + 0.5) * (1.0 / 9007199254740992.0);
    double r = sqrt(-2.0 * log(u1));
    const double two_pi = 6.283185307179586476925286766559;
    return (index & 1) ? r * sin(two_pi * u2) : r * cos(two_pi * u2);
}

#ifndef __CUDACC__
/* Fill out[0..n) with values offset..offset+n of the stream (host loops). */
QT_API void qt_rng_fill_uniform_f32(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset,
                             float lo, float hi);
QT_API void qt_rng_fill_uniform_f64(double *out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset,
                             double lo, double hi);
QT_API void qt_rng_fill_normal_f32(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset,
                            float mean, float stddev);
QT_API void qt_rng_fill_normal_f64(double *out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset,
                            double mean, double stddev);
/* Raw words: out[i] = word i%4 of block first_block + i/4 (known-answer checks, i32 tensors). */
QT_API void qt_rng_fill_bits(uint32_t *out, size_t n, uint64_t seed, uint64_t stream, uint64_t first_block);
#endif

#ifdef __cplusplus
}
#endif
#endif
