/* hwcounters.h — the counters read around every timed case: PAPI presets (hardware,
 * where the machine exposes them), libquintet's SDE counters read through PAPI, and
 * getrusage. An event that cannot be read is reported unavailable with PAPI's
 * reason text, never as 0. Built without PAPI, hardware events are unavailable
 * ("built without PAPI") and the SDE values are read directly from libquintet. */
#ifndef QUINTET_HWCOUNTERS_H
#define QUINTET_HWCOUNTERS_H

#include "quintet/status.h"

#define QT_HWC_MAX 48

/* The default PAPI presets; `quintet run --counters LIST` replaces them. */
#define QT_HWC_DEFAULT_EVENTS "PAPI_TOT_INS,PAPI_TOT_CYC,PAPI_L1_DCM,PAPI_L2_DCM"

typedef struct {
    int n;
    struct {
        char name[64];      /* "PAPI_TOT_INS", "sde:::QUINTET::flops", "rusage:minflt" */
        char metric[72];    /* name stored in the database: "papi.PAPI_TOT_INS", "sde.flops", "rusage.minflt" */
        int available;
        char reason[160];   /* why not, when unavailable */
    } ev[QT_HWC_MAX];
    long long start[QT_HWC_MAX];
    int papi_set, sde_set;  /* PAPI event sets (-1 when unused) */
    int n_papi, n_sde;      /* how many events each set holds */
    int idx_papi[QT_HWC_MAX], idx_sde[QT_HWC_MAX];
} qt_hwc_t;

/* Set up the counters: a comma-separated list of PAPI events (NULL: the defaults),
 * then every SDE counter of libquintet, then rusage. Never fails for an event
 * that is merely unavailable; fails only on bad arguments. */
qt_status_t qt_hwc_init(qt_hwc_t *h, const char *papi_events);
/* Check a --counters list before a run: every name must be one PAPI knows (a preset, even one this
 * machine cannot count, or a native event it can name). QT_ERR_ARG naming the unknown event and the
 * closest preset names otherwise. Built without PAPI, nothing can be checked: QT_OK. */
qt_status_t qt_hwc_check_names(const char *papi_events);
/* Start counting (records the start values). */
void qt_hwc_start(qt_hwc_t *h);
/* Stop and write the difference since start for each event into delta[] (NaN when unavailable). */
void qt_hwc_stop(qt_hwc_t *h, double *delta);
/* Release PAPI event sets. */
void qt_hwc_free(qt_hwc_t *h);
/* PAPI's version text ("7.0.0.0"), or why there is none. */
const char *qt_hwc_papi_version(void);

#endif
