/* test_rng.c — Philox4x32-10 known-answer vectors (Random123 kat_vectors) and
 * properties of the derived uniform/normal streams; on every device backend of the registry
 * (cuda), the same known answers drawn by its fill op and its tensor fills against the host's
 * (uniform and raw words bitwise; normals within 2^-23 (f32) or 1e-14 (f64) of the
 * distribution's scale |x| + |mean| + std — the device's double log/sin/cos are within a few ulps
 * of glibc's, and near a zero of cos or sin that difference is absolute). The device part is skipped,
 * saying why, where no GPU is present. Run: make test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/rng.h"
#include "quintet/tensor.h"
#include "test_util.h"

/* The three philox4x32_10 vectors published with Random123 (kat_vectors). */
static const struct {
    uint32_t ctr[4], key[2], out[4];
} kat[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

/* The known answers through qt_philox4x32_10 on the host. */
static void test_known_answers(void)
{
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
    /* the extreme words too (24 bits + 1/2 rounded the top word to 1.0f: ~1% of 200k-draw seeds) */
    CU_ASSERT(qt_rng_word_uniform_f32(0xffffffffu) < 1.0f);
    CU_ASSERT(qt_rng_word_uniform_f32(0u) > 0.0f);
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

/* The known answers and the host's fills, drawn on each device backend. */
static void test_device_fill(void)
{
    uint64_t seed = qt_test_seed();
    int tested = 0;
    for (int b = 0; b < qt_backend_count(); b++) {
        const qt_backend_iface_t *f = qt_backend_iface_get(b);
        char why[256];
        if (f->device_kind == QT_DEVICE_HOST || !f->fill) continue;
        if (!qt_backend_iface_available(f, why, sizeof why)) {
            printf("\n  %s: skipped, not available here: %s ", f->name, why);
            continue;
        }
        qt_backend_t *be = qt_test_backend(f->name);
        for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
            qt_tensor_t d, h;
            int64_t four = 4;
            uint64_t sd = kat[i].key[0] | (uint64_t)kat[i].key[1] << 32,
                     st = kat[i].ctr[2] | (uint64_t)kat[i].ctr[3] << 32,
                     blk = kat[i].ctr[0] | (uint64_t)kat[i].ctr[1] << 32;
            CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&d, be, QT_I32, 1, &four), QT_OK);
            CU_ASSERT_EQUAL(qt_tensor_fill_bits(&d, sd, st, blk), QT_OK);
            CU_ASSERT_EQUAL_FATAL(qt_tensor_to_host(be, &d, &h), QT_OK);
            CU_ASSERT_EQUAL(memcmp(h.data, kat[i].out, 16), 0);
            qt_tensor_free(&d);
            qt_tensor_free(&h);
        }
        /* Fills of an odd size against the host's: every element compared. */
        const int64_t n = 1000003;
        for (int dt = QT_F32; dt <= QT_F64; dt++)
            for (int kind = 0; kind < 3; kind++) {
                qt_dtype_t t = kind == 2 ? QT_I32 : (qt_dtype_t)dt;
                if (kind == 2 && dt == QT_F64) continue;
                qt_tensor_t d, h, r;
                CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&d, be, t, 1, &n), QT_OK);
                CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&r, t, 1, &n), QT_OK);
                if (kind == 0) {
                    CU_ASSERT_EQUAL(qt_tensor_fill_uniform(&d, seed, 5, -2.0, 3.0), QT_OK);
                    CU_ASSERT_EQUAL(qt_tensor_fill_uniform(&r, seed, 5, -2.0, 3.0), QT_OK);
                } else if (kind == 1) {
                    CU_ASSERT_EQUAL(qt_tensor_fill_normal(&d, seed, 6, 0.5, 2.0), QT_OK);
                    CU_ASSERT_EQUAL(qt_tensor_fill_normal(&r, seed, 6, 0.5, 2.0), QT_OK);
                } else {
                    CU_ASSERT_EQUAL(qt_tensor_fill_bits(&d, seed, 7, 12345), QT_OK);
                    CU_ASSERT_EQUAL(qt_tensor_fill_bits(&r, seed, 7, 12345), QT_OK);
                }
                CU_ASSERT_EQUAL_FATAL(qt_tensor_to_host(be, &d, &h), QT_OK);
                int64_t bad = 0;
                double worst = 0;
                for (int64_t i = 0; i < n; i++) {
                    double a, e;
                    if (t == QT_I32) a = ((uint32_t *)h.data)[i], e = ((uint32_t *)r.data)[i];
                    else if (t == QT_F32) a = ((float *)h.data)[i], e = ((float *)r.data)[i];
                    else a = ((double *)h.data)[i], e = ((double *)r.data)[i];
                    /* normals: relative to the distribution's scale (|x| + |mean| + std): near a zero
                     * of cos/sin the two libraries' last-ulp differences are absolute, not relative */
                    double scale = fabs(e) + 2.5;
                    double tol = kind != 1 ? 0.0 : t == QT_F32 ? ldexp(scale, -23) : 1e-14 * scale;
                    if (!(fabs(a - e) <= tol)) bad++;
                    if (e != 0) worst = fmax(worst, fabs(a - e) / fabs(e));
                }
                printf("\n  %s fill %s %s: %lld outside tolerance, max rel diff %.2e", f->name,
                       kind == 0 ? "uniform" : kind == 1 ? "normal" : "bits", qt_dtype_name(t), (long long)bad, worst);
                CU_ASSERT_EQUAL(bad, 0);
                qt_tensor_free(&d);
                qt_tensor_free(&h);
                qt_tensor_free(&r);
            }
        tested++;
    }
    if (!tested) printf("\n  no device backend with a fill could run here ");
    /* A device tensor of a backend without a fill op, or a wrong dtype, is refused with a message. */
    qt_tensor_t h;
    int64_t n4 = 4;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&h, QT_F32, 1, &n4), QT_OK);
    CU_ASSERT_EQUAL(qt_tensor_fill_bits(&h, 1, 2, 3), QT_ERR_SHAPE);
    qt_tensor_free(&h);
}

QT_TEST_MAIN("core/rng", {"device fill", test_device_fill}, {"known answers", test_known_answers}, {"stream mapping", test_stream_mapping},
             {"moments", test_moments}, {"fill matches pointwise", test_fill_matches_pointwise})
