/* test_backend.c — the backend model of quintet/backend.h and the device side of
 * quintet/tensor.h: the registry (ref first, every entry findable, unknown names and
 * unavailable backends refused with a clear message), instances (thread counts, errors),
 * memory accounted per device, tensor copies and placement checks, the bf16/f16
 * conversions against known values. Backends that cannot run on this machine (cuda
 * without a GPU) are reported as skipped with their reason.
 * Run: make test, or build/tests/core/test_backend. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/backend.h"
#include "quintet/tensor.h"
#include "test_util.h"

/* ref first; names unique and findable; every entry either available or saying why not. */
static void test_registry(void)
{
    CU_ASSERT_FATAL(qt_backend_count() >= 2);
    CU_ASSERT_STRING_EQUAL(qt_backend_iface_get(0)->name, QT_BACKEND_ORACLE);
    CU_ASSERT_PTR_NULL(qt_backend_iface_get(qt_backend_count()));
    CU_ASSERT_PTR_NULL(qt_backend_iface_get(-1));
    for (int i = 0; i < qt_backend_count(); i++) {
        const qt_backend_iface_t *f = qt_backend_iface_get(i);
        CU_ASSERT_PTR_EQUAL(qt_backend_iface_find(f->name), f);
        char why[256];
        if (!qt_backend_iface_available(f, why, sizeof why)) {
            printf("\n  backend %s skipped here: %s\n", f->name, why);
            CU_ASSERT(strlen(why) > 0);
            qt_backend_t *be = (qt_backend_t *)1;
            CU_ASSERT_EQUAL(qt_backend_init(&be, f->name, NULL), QT_ERR_UNSUPPORTED);
            CU_ASSERT_PTR_NULL(be);
            continue;
        }
        qt_backend_t *be = NULL;
        CU_ASSERT_EQUAL_FATAL(qt_backend_init(&be, f->name, NULL), QT_OK);
        CU_ASSERT_STRING_EQUAL(qt_backend_name(be), f->name);
        CU_ASSERT(be->threads >= 1 && be->world >= 1);
        CU_ASSERT_EQUAL(qt_backend_synchronize(be), QT_OK);
        qt_backend_free(be);
    }
    qt_backend_t *be = NULL;
    CU_ASSERT_EQUAL(qt_backend_init(&be, "nope", NULL), QT_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "ref, cpu"));
    CU_ASSERT_EQUAL(qt_backend_init(NULL, "cpu", NULL), QT_ERR_ARG);
    qt_backend_params_t bad = {.threads = -1};
    CU_ASSERT_EQUAL(qt_backend_init(&be, "cpu", &bad), QT_ERR_ARG);
    qt_backend_params_t two = {.threads = 2};
    CU_ASSERT_EQUAL_FATAL(qt_backend_init(&be, "cpu", &two), QT_OK);
    CU_ASSERT_EQUAL(be->threads, 2);
    CU_ASSERT_EQUAL(qt_backend_fail(be, QT_ERR_STATE, "broken %d", 7), QT_ERR_STATE);
    CU_ASSERT_STRING_EQUAL(qt_backend_error(be), "broken 7");
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "cpu: broken 7"));
    qt_backend_free(be);
    qt_technique_t t;
    CU_ASSERT_EQUAL(qt_technique_parse("sparse", &t), QT_OK);
    CU_ASSERT_EQUAL(t, QT_TECH_SPARSE);
    CU_ASSERT_EQUAL(qt_technique_parse("spares", &t), QT_ERR_ARG);
}

/* Allocations through an instance count on its device, current and peak; copies move bytes. */
static void test_memory_and_copies(void)
{
    qt_backend_t *cpu = qt_test_backend("cpu");
    qt_device_t *host = qt_device_host();
    CU_ASSERT_PTR_EQUAL(cpu->device, host);
    size_t before = qt_device_mem_current(host);
    qt_device_mem_peak_reset(host);
    int64_t shape[2] = {123, 45};
    qt_tensor_t a, b;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&a, cpu, QT_F32, 2, shape), QT_OK);
    CU_ASSERT_EQUAL(qt_device_mem_current(host), before + 123 * 45 * 4);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_zeros(&b, cpu, QT_F32, 2, shape), QT_OK);
    CU_ASSERT(qt_device_mem_peak(host) >= before + 2 * 123 * 45 * 4);
    CU_ASSERT_PTR_EQUAL(qt_tensor_device(&a), host);
    CU_ASSERT(qt_tensor_on_host(&a));
    CU_ASSERT_EQUAL(qt_tensor_fill_normal(&a, qt_test_seed(), 1, 0, 1), QT_OK);
    for (int64_t i = 0; i < 123 * 45; i++) CU_ASSERT_EQUAL_FATAL(((float *)b.data)[i], 0.0f);
    CU_ASSERT_EQUAL(qt_tensor_copy(cpu, &b, &a), QT_OK);
    CU_ASSERT_EQUAL(memcmp(a.data, b.data, 123 * 45 * 4), 0);
    qt_tensor_t h;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_to_host(cpu, &a, &h), QT_OK);
    CU_ASSERT_EQUAL(memcmp(a.data, h.data, 123 * 45 * 4), 0);
    qt_tensor_free(&h);
    /* shape mismatch refused; a tensor claimed on cuda:3 cannot be copied by a host backend */
    int64_t other[2] = {45, 123};
    qt_tensor_t c, g;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&c, QT_F32, 2, other), QT_OK);
    CU_ASSERT_EQUAL(qt_tensor_copy(cpu, &c, &a), QT_ERR_SHAPE);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_wrap_on(&g, qt_device_cuda(3), b.data, QT_F32, 2, shape), QT_OK);
    CU_ASSERT_STRING_EQUAL(qt_device_name(qt_tensor_device(&g)), "cuda:3");
    CU_ASSERT_EQUAL(qt_tensor_copy(cpu, &g, &a), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_tensor_check_on(&g, "g", QT_F32, 2, host), QT_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "g lives on cuda:3"));
    CU_ASSERT_EQUAL(qt_tensor_check_on(&a, "a", QT_F32, 2, host), QT_OK);
    CU_ASSERT_EQUAL(qt_tensor_fill_normal(&g, 1, 1, 0, 1), QT_ERR_ARG);
    qt_tensor_free(&c);
    qt_tensor_free(&a);
    qt_tensor_free(&b);
    CU_ASSERT_EQUAL(qt_device_mem_current(host), before);
    CU_ASSERT_PTR_NULL(qt_device_cuda(QT_MAX_CUDA_DEVICES));
}

/* Large allocations (huge pages from 8 MiB) are QT_ALIGN aligned, usable to their last byte,
 * accounted and freed, and consecutive ones start at different offsets in their 2 MiB pages
 * (tensor.c: equal offsets made a one-thread 5-stream optimizer step ~20% slower). */
static void test_large_alloc_stagger(void)
{
    size_t before = qt_mem_current(), bytes = ((size_t)9 << 20) + 12;
    unsigned char *p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = qt_alloc(bytes);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
        CU_ASSERT_EQUAL((uintptr_t)p[i] % QT_ALIGN, 0);
        memset(p[i], 0xA5 + i, bytes);
        CU_ASSERT_EQUAL(p[i][bytes - 1], (unsigned char)(0xA5 + i));
    }
    CU_ASSERT_EQUAL(qt_mem_current(), before + 5 * bytes);
    const char *hp = getenv("QT_HUGEPAGES"); /* QT_HUGEPAGES=0: plain allocations, no stagger */
    for (int i = 0; i < 5 && !(hp && !strcmp(hp, "0")); i++)
        for (int j = i + 1; j < 5; j++)
            CU_ASSERT_NOT_EQUAL((uintptr_t)p[i] % ((uintptr_t)2 << 20), (uintptr_t)p[j] % ((uintptr_t)2 << 20));
    for (int i = 0; i < 5; i++) qt_free(p[i]);
    CU_ASSERT_EQUAL(qt_mem_current(), before);
    CU_ASSERT_PTR_NULL(qt_alloc(SIZE_MAX - 100));
}

/* bf16 and f16: exact values, round to nearest even, overflow, subnormals, NaN; i32 names. */
static void test_half_types(void)
{
    CU_ASSERT_EQUAL(qt_f32_to_bf16(1.0f), 0x3f80);
    CU_ASSERT_EQUAL(qt_f32_to_bf16(-2.0f), 0xc000);
    CU_ASSERT_EQUAL(qt_f32_to_bf16(1.00390625f), 0x3f80);   /* halfway 1 + 2^-8: ties to even (down) */
    CU_ASSERT_EQUAL(qt_f32_to_bf16(1.01171875f), 0x3f82);   /* halfway 1 + 3·2^-8: ties to even (up) */
    CU_ASSERT(isnan(qt_bf16_to_f32(qt_f32_to_bf16(NAN))));
    CU_ASSERT_EQUAL(qt_bf16_to_f32(0x4049), 3.140625f);
    CU_ASSERT_EQUAL(qt_f32_to_f16(1.0f), 0x3c00);
    CU_ASSERT_EQUAL(qt_f32_to_f16(65504.0f), 0x7bff);
    CU_ASSERT_EQUAL(qt_f32_to_f16(65520.0f), 0x7c00);       /* rounds to inf */
    CU_ASSERT_EQUAL(qt_f32_to_f16(-0.0f), 0x8000);
    CU_ASSERT_EQUAL(qt_f32_to_f16(5.9604645e-08f), 0x0001); /* smallest subnormal */
    CU_ASSERT_EQUAL(qt_f32_to_f16(1.0009765625f), 0x3c01);
    CU_ASSERT_EQUAL(qt_f32_to_f16(1.00048828125f), 0x3c00); /* halfway: ties to even */
    CU_ASSERT(isnan(qt_f16_to_f32(qt_f32_to_f16(NAN))));
    CU_ASSERT_EQUAL(qt_f16_to_f32(0x3555), 0.333251953125f);
    CU_ASSERT_EQUAL(qt_f16_to_f32(0x0001), 5.9604645e-08f);
    /* every f16 value survives the round trip through f32 */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float x = qt_f16_to_f32((uint16_t)h);
        if (!isnan(x)) bad += qt_f32_to_f16(x) != h;
    }
    CU_ASSERT_EQUAL(bad, 0);
    qt_dtype_t dt;
    CU_ASSERT_EQUAL(qt_dtype_parse("bf16", &dt), QT_OK);
    CU_ASSERT_EQUAL(dt, QT_BF16);
    CU_ASSERT_EQUAL(qt_dtype_size(QT_F16), 2);
    CU_ASSERT_EQUAL(qt_dtype_size(QT_I32), 4);
    CU_ASSERT_STRING_EQUAL(qt_dtype_name(QT_I32), "i32");
    CU_ASSERT_EQUAL(qt_dtype_parse("f8", &dt), QT_ERR_ARG);
}

QT_TEST_MAIN("backend", {"registry and instances", test_registry}, {"memory and copies", test_memory_and_copies},
             {"bf16 and f16", test_half_types}, {"large allocations staggered", test_large_alloc_stagger})
