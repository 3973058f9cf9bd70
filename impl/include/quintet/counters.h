/* counters.h — algorithm-level software counters, exported through PAPI's
 * software-defined-events (SDE) interface as library "QUINTET".
 *
 * libquintet adds to these as it works (qt_counter_add); they are monotonically
 * increasing, so a reader takes differences. Built with PAPI (QT_HAVE_PAPI), the
 * first qt_counter_add or qt_counters_init registers every counter with
 * papi_sde_register_counter, and any PAPI user reads e.g. sde:::QUINTET::flops
 * through ordinary event sets. Without PAPI the values are still kept and
 * qt_counter_get reads them. The full list, with meanings, is qt_counter_info. */
#ifndef QUINTET_COUNTERS_H
#define QUINTET_COUNTERS_H

#include "quintet/api.h"

#include "quintet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_CTR_FLOPS = 0,      /* floating-point operations actually done (mul+add = 2) */
    QT_CTR_BYTES_READ,     /* bytes of operands read (algorithmic, not cache traffic) */
    QT_CTR_BYTES_WRITTEN,  /* bytes of results written */
    QT_CTR_ATTN_PAIRS,     /* attention: query-key pairs scored */
    QT_CTR_ZEROS_SKIPPED,  /* sparse: multiply-adds skipped because an operand was zero */
    QT_CTR_NONZEROS,       /* sparse: nonzero activations produced/consumed */
    QT_CTR_BYTES_SENT,     /* distributed: bytes handed to the interconnect */
    QT_CTR_OPT_STEPS,      /* optim: optimizer steps taken */
    QT_CTR_PARAMS_UPDATED, /* optim: parameter elements updated */
    QT_CTR_COUNT
} qt_counter_t;

/* Add v to counter c (thread-safe, relaxed). */
QT_API void qt_counter_add(qt_counter_t c, long long v);
/* Current value of counter c (0 for an out-of-range c). */
QT_API long long qt_counter_get(qt_counter_t c);
/* SDE name of counter c ("flops", ...), NULL when out of range. */
QT_API const char *qt_counter_name(qt_counter_t c);
/* One-line description of counter c. */
QT_API const char *qt_counter_description(qt_counter_t c);
/* Register the counters with PAPI SDE (idempotent). QT_ERR_UNSUPPORTED when
 * built without PAPI; the counters work either way. */
QT_API qt_status_t qt_counters_init(void);
/* 1 when this build exports the counters through PAPI SDE. */
QT_API int qt_counters_have_sde(void);

#ifdef __cplusplus
}
#endif
#endif
