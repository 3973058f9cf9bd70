/* counters.c — the QUINTET software-defined counters (see counters.h).
 * With PAPI: papi_sde_init("QUINTET") and one papi_sde_register_counter per
 * counter over the same long long cells that qt_counter_add increments. */
#include "quintet/counters.h"

#include <stdatomic.h>
#include <stddef.h>

#ifdef QT_HAVE_PAPI
#include <papi.h>
#include <sde_lib.h>
#endif

static long long values[QT_CTR_COUNT];

static const struct {
    const char *name, *description;
} info[QT_CTR_COUNT] = {
    [QT_CTR_FLOPS] = {"flops", "floating-point operations done by libquintet"},
    [QT_CTR_BYTES_READ] = {"bytes_read", "operand bytes read (algorithmic)"},
    [QT_CTR_BYTES_WRITTEN] = {"bytes_written", "result bytes written (algorithmic)"},
    [QT_CTR_ATTN_PAIRS] = {"attn_pairs", "attention query-key pairs scored"},
    [QT_CTR_ZEROS_SKIPPED] = {"zeros_skipped", "multiply-adds skipped on zero activations"},
    [QT_CTR_NONZEROS] = {"nonzeros", "nonzero activations produced or consumed"},
    [QT_CTR_BYTES_SENT] = {"bytes_sent", "bytes sent between ranks"},
    [QT_CTR_OPT_STEPS] = {"opt_steps", "optimizer steps"},
    [QT_CTR_PARAMS_UPDATED] = {"params_updated", "parameter elements updated by optimizers"},
};

static atomic_int registered;

/* Register all counters with PAPI SDE once. */
qt_status_t qt_counters_init(void)
{
#ifdef QT_HAVE_PAPI
    int expected = 0;
    if (!atomic_compare_exchange_strong(&registered, &expected, 1)) return QT_OK;
    papi_handle_t h = papi_sde_init("QUINTET");
    for (int c = 0; c < QT_CTR_COUNT; c++)
        papi_sde_register_counter(h, info[c].name, PAPI_SDE_RO | PAPI_SDE_DELTA, PAPI_SDE_long_long,
                                  &values[c]);
    return QT_OK;
#else
    atomic_store(&registered, 1);
    return qt_fail(QT_ERR_UNSUPPORTED, "libquintet was built without PAPI: no SDE export");
#endif
}

/* 1 when built with PAPI SDE. */
int qt_counters_have_sde(void)
{
#ifdef QT_HAVE_PAPI
    return 1;
#else
    return 0;
#endif
}

/* Relaxed atomic increment (registration happens on first use). */
void qt_counter_add(qt_counter_t c, long long v)
{
    if ((unsigned)c >= QT_CTR_COUNT) return;
    if (!atomic_load_explicit(&registered, memory_order_relaxed)) qt_counters_init();
    __atomic_fetch_add(&values[c], v, __ATOMIC_RELAXED);
}

/* Current value. */
long long qt_counter_get(qt_counter_t c)
{
    if ((unsigned)c >= QT_CTR_COUNT) return 0;
    return __atomic_load_n(&values[c], __ATOMIC_RELAXED);
}

/* SDE name. */
const char *qt_counter_name(qt_counter_t c) { return (unsigned)c < QT_CTR_COUNT ? info[c].name : NULL; }

/* Description. */
const char *qt_counter_description(qt_counter_t c)
{
    return (unsigned)c < QT_CTR_COUNT ? info[c].description : NULL;
}
