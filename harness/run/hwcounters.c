/* hwcounters.c — PAPI presets + SDE + rusage around timed cases (hwcounters.h).
 * PAPI keeps one event set per component: presets go to one set, the SDE
 * counters of libquintet to another. */
#include "run/hwcounters.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "quintet/counters.h"

#ifdef QT_HAVE_PAPI
#include <papi.h>
#endif

enum { RU_MINFLT, RU_MAJFLT, RU_NVCSW, RU_NIVCSW, RU_COUNT };
static const char *ru_names[RU_COUNT] = {"minflt", "majflt", "nvcsw", "nivcsw"};

/* Append an event slot. */
static int add_slot(qt_hwc_t *h, const char *name, const char *metric)
{
    if (h->n == QT_HWC_MAX) return -1;
    int i = h->n++;
    snprintf(h->ev[i].name, sizeof h->ev[i].name, "%s", name);
    snprintf(h->ev[i].metric, sizeof h->ev[i].metric, "%s", metric);
    h->ev[i].available = 0;
    h->ev[i].reason[0] = '\0';
    return i;
}

#ifdef QT_HAVE_PAPI
static int papi_ready = -1; /* -1 unknown, else PAPI_library_init's result */

/* Initialise PAPI once; returns PAPI_OK or the error code. */
static int papi_init(void)
{
    if (papi_ready == -1) {
        int rc = PAPI_library_init(PAPI_VER_CURRENT);
        papi_ready = rc == PAPI_VER_CURRENT ? PAPI_OK : (rc > 0 ? PAPI_EINVAL : rc);
    }
    return papi_ready;
}

/* Add a named event to *set (creating it); record availability. */
static void papi_add(qt_hwc_t *h, int slot, int *set, int *count, int *idx)
{
    int rc = papi_init();
    if (rc == PAPI_OK && *set == PAPI_NULL) rc = PAPI_create_eventset(set);
    if (rc == PAPI_OK) rc = PAPI_add_named_event(*set, h->ev[slot].name);
    if (rc != PAPI_OK) {
        snprintf(h->ev[slot].reason, sizeof h->ev[slot].reason, "%s (PAPI error %d)", PAPI_strerror(rc), rc);
        return;
    }
    h->ev[slot].available = 1;
    idx[(*count)++] = slot;
}
#endif

#ifdef QT_HAVE_PAPI
/* Edit distance of a and b (case-insensitive), capped at 9. */
static int edit_distance(const char *a, const char *b)
{
    size_t n = strlen(b);
    if (n > 63 || strlen(a) > 63) return 9;
    int prev[64], cur[64];
    for (size_t j = 0; j <= n; j++) prev[j] = (int)j;
    for (size_t i = 1; a[i - 1]; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= n; j++) {
            int sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (n + 1));
    }
    return prev[n] > 9 ? 9 : prev[n];
}

/* 1 when name is a PAPI preset (available here or not); else the closest presets into close. */
static int is_preset(const char *name, char *close, size_t size)
{
    int code = PAPI_PRESET_MASK;
    char pname[PAPI_MAX_STR_LEN];
    close[0] = '\0';
    for (int best = 1; best <= 3 && !close[0]; best++) {
        if (PAPI_enum_event(&code, PAPI_ENUM_FIRST) != PAPI_OK) return 0;
        do {
            if (PAPI_event_code_to_name(code, pname) != PAPI_OK) continue;
            if (!strcmp(pname, name)) return 1;
            size_t len = strlen(close);
            if (edit_distance(name, pname) <= best && len + strlen(pname) + 3 < size)
                snprintf(close + len, size - len, "%s%s", len ? ", " : "", pname);
        } while (PAPI_enum_event(&code, PAPI_ENUM_EVENTS) == PAPI_OK);
        code = PAPI_PRESET_MASK;
    }
    return 0;
}
#endif

/* Check the names of a --counters list. */
qt_status_t qt_hwc_check_names(const char *papi_events)
{
#ifdef QT_HAVE_PAPI
    if (!papi_events) return QT_OK;
    qt_counters_init();
    if (papi_init() != PAPI_OK) return QT_OK; /* PAPI cannot start: every event is recorded unavailable with why */
    char list[1024];
    snprintf(list, sizeof list, "%s", papi_events);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int code;
        char close[256];
        if (!*tok || PAPI_event_name_to_code(tok, &code) == PAPI_OK || is_preset(tok, close, sizeof close)) continue;
        return qt_fail(QT_ERR_ARG, "--counters: PAPI knows no event '%s'%s%s%s (papi_avail and papi_native_avail list "
                                   "them)", tok, close[0] ? " (did you mean " : "", close, close[0] ? "?)" : "");
    }
#else
    (void)papi_events;
#endif
    return QT_OK;
}

/* Build the event list. */
qt_status_t qt_hwc_init(qt_hwc_t *h, const char *papi_events)
{
    QT_CHECK_ARG(h != NULL, "counters must not be NULL");
    memset(h, 0, sizeof *h);
    h->papi_set = h->sde_set = -1;
    qt_counters_init(); /* register libquintet's SDE counters before PAPI looks them up */
    char list[1024];
    snprintf(list, sizeof list, "%s", papi_events ? papi_events : QT_HWC_DEFAULT_EVENTS);
#ifdef QT_HAVE_PAPI
    h->papi_set = h->sde_set = PAPI_NULL;
#endif
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!*tok) continue;
        char metric[72];
        snprintf(metric, sizeof metric, "papi.%.60s", tok);
        int slot = add_slot(h, tok, metric);
        QT_CHECK_ARG(slot >= 0, "too many counters (at most %d)", QT_HWC_MAX);
#ifdef QT_HAVE_PAPI
        papi_add(h, slot, &h->papi_set, &h->n_papi, h->idx_papi);
#else
        snprintf(h->ev[slot].reason, sizeof h->ev[slot].reason, "quintet was built without PAPI");
#endif
    }
    for (int c = 0; c < QT_CTR_COUNT; c++) {
        char name[64], metric[72];
        snprintf(name, sizeof name, "sde:::QUINTET::%s", qt_counter_name((qt_counter_t)c));
        snprintf(metric, sizeof metric, "sde.%s", qt_counter_name((qt_counter_t)c));
        int slot = add_slot(h, name, metric);
        if (slot < 0) break;
#ifdef QT_HAVE_PAPI
        papi_add(h, slot, &h->sde_set, &h->n_sde, h->idx_sde);
#else
        h->ev[slot].available = 1; /* read directly from libquintet */
        h->idx_sde[h->n_sde++] = slot;
#endif
    }
    for (int i = 0; i < RU_COUNT; i++) {
        char name[64], metric[72];
        snprintf(name, sizeof name, "rusage:%s", ru_names[i]);
        snprintf(metric, sizeof metric, "rusage.%s", ru_names[i]);
        int slot = add_slot(h, name, metric);
        if (slot >= 0) h->ev[slot].available = 1;
    }
    return QT_OK;
}

/* Current rusage values in slot order. */
static void read_rusage(long long v[RU_COUNT])
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    v[RU_MINFLT] = ru.ru_minflt;
    v[RU_MAJFLT] = ru.ru_majflt;
    v[RU_NVCSW] = ru.ru_nvcsw;
    v[RU_NIVCSW] = ru.ru_nivcsw;
}

/* Slot of rusage counter i (they are the last RU_COUNT slots). */
static int ru_slot(const qt_hwc_t *h, int i) { return h->n - RU_COUNT + i; }

/* Start all available counters. */
void qt_hwc_start(qt_hwc_t *h)
{
    long long ru[RU_COUNT];
    read_rusage(ru);
    for (int i = 0; i < RU_COUNT; i++) h->start[ru_slot(h, i)] = ru[i];
#ifdef QT_HAVE_PAPI
    if (h->n_papi && PAPI_start(h->papi_set) != PAPI_OK) {
        for (int k = 0; k < h->n_papi; k++) {
            h->ev[h->idx_papi[k]].available = 0;
            snprintf(h->ev[h->idx_papi[k]].reason, sizeof h->ev[0].reason, "PAPI_start failed");
        }
        h->n_papi = 0;
    }
    if (h->n_sde && PAPI_start(h->sde_set) != PAPI_OK) h->n_sde = 0;
#else
    for (int k = 0; k < h->n_sde; k++) h->start[h->idx_sde[k]] = qt_counter_get((qt_counter_t)k);
#endif
}

/* Stop and compute deltas. */
void qt_hwc_stop(qt_hwc_t *h, double *delta)
{
    for (int i = 0; i < h->n; i++) delta[i] = NAN;
    long long ru[RU_COUNT];
    read_rusage(ru);
    for (int i = 0; i < RU_COUNT; i++) delta[ru_slot(h, i)] = (double)(ru[i] - h->start[ru_slot(h, i)]);
#ifdef QT_HAVE_PAPI
    long long v[QT_HWC_MAX];
    if (h->n_papi && PAPI_stop(h->papi_set, v) == PAPI_OK)
        for (int k = 0; k < h->n_papi; k++) delta[h->idx_papi[k]] = (double)v[k];
    if (h->n_sde && PAPI_stop(h->sde_set, v) == PAPI_OK)
        for (int k = 0; k < h->n_sde; k++)
            delta[h->idx_sde[k]] = v[k] == -1 ? NAN : (double)v[k]; /* -1: PAPI could not read it */
#else
    for (int k = 0; k < h->n_sde; k++)
        delta[h->idx_sde[k]] = (double)(qt_counter_get((qt_counter_t)k) - h->start[h->idx_sde[k]]);
#endif
}

/* Destroy event sets. */
void qt_hwc_free(qt_hwc_t *h)
{
#ifdef QT_HAVE_PAPI
    if (h->papi_set != PAPI_NULL && h->papi_set != -1) {
        PAPI_cleanup_eventset(h->papi_set);
        PAPI_destroy_eventset(&h->papi_set);
    }
    if (h->sde_set != PAPI_NULL && h->sde_set != -1) {
        PAPI_cleanup_eventset(h->sde_set);
        PAPI_destroy_eventset(&h->sde_set);
    }
#endif
    h->papi_set = h->sde_set = -1;
}

/* PAPI version text. */
const char *qt_hwc_papi_version(void)
{
#ifdef QT_HAVE_PAPI
    static char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION), PAPI_VERSION_MINOR(PAPI_VERSION),
             PAPI_VERSION_REVISION(PAPI_VERSION), PAPI_VERSION_INCREMENT(PAPI_VERSION));
    return buf;
#else
    return "not built with PAPI";
#endif
}
