/* test_counters.c — the counters read around timed cases (hwcounters.c): an
 * event the machine lacks is reported unavailable with a reason and yields NaN,
 * never 0; libquintet's SDE counters are read back exactly (through PAPI's SDE
 * component when built with PAPI); rusage is always there. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run/hwcounters.h"
#include "quintet/counters.h"
#include "test_util.h"

/* Slot of an event by name, -1 when absent. */
static int slot(const qt_hwc_t *h, const char *name)
{
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->ev[i].name, name)) return i;
    return -1;
}

/* A made-up event is unavailable, with a reason, and reads NaN. */
static void test_unavailable_event(void)
{
    qt_hwc_t h;
    CU_ASSERT_EQUAL_FATAL(qt_hwc_init(&h, "PAPI_TOT_INS,QT_NO_SUCH_EVENT"), QT_OK);
    int bogus = slot(&h, "QT_NO_SUCH_EVENT"), ins = slot(&h, "PAPI_TOT_INS");
    CU_ASSERT_FATAL(bogus >= 0 && ins >= 0);
    CU_ASSERT_EQUAL(h.ev[bogus].available, 0);
    CU_ASSERT(strlen(h.ev[bogus].reason) > 0);
    CU_ASSERT_STRING_EQUAL(h.ev[bogus].metric, "papi.QT_NO_SUCH_EVENT");
    double delta[QT_HWC_MAX];
    qt_hwc_start(&h);
    volatile double x = 0;
    for (int i = 0; i < 100000; i++) x += i;
    qt_hwc_stop(&h, delta);
    CU_ASSERT(isnan(delta[bogus]));
    /* PAPI_TOT_INS: counted where the machine exposes it, else unavailable with PAPI's reason */
    if (h.ev[ins].available) {
        CU_ASSERT(delta[ins] > 100000);
    } else {
        CU_ASSERT(strlen(h.ev[ins].reason) > 0);
        CU_ASSERT(isnan(delta[ins]));
    }
    qt_hwc_free(&h);
}

/* SDE counters come back exactly as libquintet counted them. */
static void test_sde_counters(void)
{
    qt_hwc_t h;
    CU_ASSERT_EQUAL_FATAL(qt_hwc_init(&h, ""), QT_OK);
    int flops = slot(&h, "sde:::QUINTET::flops"), pairs = slot(&h, "sde:::QUINTET::attn_pairs");
    CU_ASSERT_FATAL(flops >= 0 && pairs >= 0);
    CU_ASSERT_EQUAL_FATAL(h.ev[flops].available, 1);
    double delta[QT_HWC_MAX];
    qt_hwc_start(&h);
    qt_counter_add(QT_CTR_FLOPS, 123456789);
    qt_counter_add(QT_CTR_ATTN_PAIRS, 42);
    qt_counter_add(QT_CTR_ATTN_PAIRS, 58);
    qt_hwc_stop(&h, delta);
    CU_ASSERT_DOUBLE_EQUAL(delta[flops], 123456789.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(delta[pairs], 100.0, 0.0);
    CU_ASSERT_STRING_EQUAL(qt_counter_name(QT_CTR_FLOPS), "flops");
    CU_ASSERT_PTR_NULL(qt_counter_name(QT_CTR_COUNT));
    qt_hwc_free(&h);
}

/* rusage deltas are always available and non-negative. */
static void test_rusage(void)
{
    qt_hwc_t h;
    CU_ASSERT_EQUAL_FATAL(qt_hwc_init(&h, NULL), QT_OK);
    int minflt = slot(&h, "rusage:minflt");
    CU_ASSERT_FATAL(minflt >= 0);
    CU_ASSERT_EQUAL(h.ev[minflt].available, 1);
    double delta[QT_HWC_MAX];
    qt_hwc_start(&h);
    volatile char *p = malloc(64 << 20); /* volatile: the touches below must happen */
    for (size_t i = 0; p && i < (64u << 20); i += 4096) p[i] = 1; /* touch 64 MiB: minor faults */
    qt_hwc_stop(&h, delta);
    free((void *)p);
    CU_ASSERT(delta[minflt] > 0);
    qt_hwc_free(&h);
}

QT_TEST_MAIN("harness/counters", {"unavailable event", test_unavailable_event}, {"sde counters", test_sde_counters},
             {"rusage", test_rusage})
