/* test_rng.c — Philox4x32-10 known-answer vectors (Random123 kat_vectors) and
 * properties of the derived uniform/normal streams. Run: make test. */
#include <math.h>
#include <string.h>

#include "quintet/rng.h"
#include "test_util.h"

/* The three philox4x32_10 vectors published with Random123 (kat_vectors). */
static void test_known_answers(void)
{
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t out[4];
        qt_philox4x32_10(kat[i].ctr, kat[i].key, out);
        CU_ASSERT_EQUAL(memcmp(out, kat[i].out, sizeof out), 0);
    }
}

/* The (seed, stream, index) mapping documented in rng.h. */
static void test_stream_mapping(void)
{
    uint64_t seed = 0x299f31d0a4093822ull, stream = 0x0370734413198a2eull, block = 0x85a308d3243f6a88ull;
    uint32_t w[4];
    qt_rng_block(seed, stream, block, w);
    CU_ASSERT_EQUAL(w[0], 0xd16cfe09);
    qt_rng_block(seed, stream, 5, w);
    CU_ASSERT_EQUAL(qt_rng_u32(seed, stream, 5 * 4 + 3), w[3]);
}

/* Uniforms stay inside (0,1) with mean 1/2; normals have mean 0 and variance 1. */
static void test_moments(void)
{
    const int n = 200000;
    uint64_t seed = qt_test_seed();
    double su = 0, sn = 0, sn2 = 0;
    int out_of_range = 0;
    for (int i = 0; i < n; i++) {
        float u = qt_rng_uniform_f32(seed, 1, (uint64_t)i);
        double d = qt_rng_uniform_f64(seed, 2, (uint64_t)i);
        if (!(u > 0.0f && u < 1.0f) || !(d > 0.0 && d < 1.0)) out_of_range++;
        su += d;
        double z = qt_rng_normal(seed, 3, (uint64_t)i);
        sn += z;
        sn2 += z * z;
    }
    CU_ASSERT_EQUAL(out_of_range, 0);
    /* 6-sigma bounds: mean of U(0,1) has sd 0.289/sqrt(n); normal mean sd 1/sqrt(n). */
    CU_ASSERT(fabs(su / n - 0.5) < 6 * 0.2887 / sqrt(n));
    CU_ASSERT(fabs(sn / n) < 6 / sqrt(n));
    CU_ASSERT(fabs(sn2 / n - 1.0) < 6 * sqrt(2.0 / n));
}

/* Bulk fills equal element-wise draws, whatever the thread count, and streams differ. */
static void test_fill_matches_pointwise(void)
{
    enum { N = 100003 };
    static float a[N];
    uint64_t seed = qt_test_seed();
    qt_rng_fill_normal_f32(a, N, seed, 7, 11, 0.0f, 1.0f);
    int mismatches = 0;
    for (int i = 0; i < N; i++)
        if (a[i] != (float)qt_rng_normal(seed, 7, 11 + (uint64_t)i)) mismatches++;
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT_NOT_EQUAL(qt_rng_u32(seed, 7, 0), qt_rng_u32(seed, 8, 0));
    CU_ASSERT_NOT_EQUAL(qt_rng_u32(seed, 7, 0), qt_rng_u32(seed + 1, 7, 0));
}

QT_TEST_MAIN("core/rng", {"known answers", test_known_answers}, {"stream mapping", test_stream_mapping},
             {"moments", test_moments}, {"fill matches pointwise", test_fill_matches_pointwise})
