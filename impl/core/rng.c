/* rng.c — bulk fills over the Philox streams of rng.h. Each element is a pure
 * function of its index, so the loops parallelise without changing results. */
#include "quintet/rng.h"

/* Uniform floats in (lo, hi). */
void qt_rng_fill_uniform_f32(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset,
                             float lo, float hi)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        out[i] = lo + (hi - lo) * qt_rng_uniform_f32(seed, stream, offset + i);
}

/* Uniform doubles in (lo, hi). */
void qt_rng_fill_uniform_f64(double *out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset,
                             double lo, double hi)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        out[i] = lo + (hi - lo) * qt_rng_uniform_f64(seed, stream, offset + i);
}

/* Normal floats (computed in double, rounded once). */
void qt_rng_fill_normal_f32(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset,
                            float mean, float stddev)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(mean + stddev * qt_rng_normal(seed, stream, offset + i));
}

/* Normal doubles. */
void qt_rng_fill_normal_f64(double *out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset,
                            double mean, double stddev)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        out[i] = mean + stddev * qt_rng_normal(seed, stream, offset + i);
}

/* Raw words of consecutive blocks. */
void qt_rng_fill_bits(uint32_t *out, size_t n, uint64_t seed, uint64_t stream, uint64_t first_block)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        uint32_t w[4];
        qt_rng_block(seed, stream, first_block + i / 4, w);
        out[i] = w[i % 4];
    }
}
