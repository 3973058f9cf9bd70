/* validity.c — measurement validity checks on a stored run (contract and rule in validity.h).
 * Tested by tests/harness/test_report.c (`make test`). */
#include "analysis/validity.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* 1 when s ends with suffix. */
static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* A bytes-per-second rate. */
int qt_metric_is_bandwidth(const char *metric, const char *unit)
{
    return metric && (!strcmp(metric, "gbps") || ends_with(metric, "_gbps") || (unit && !strcmp(unit, "GB/s")));
}

/* The calibration ceilings themselves. */
static int is_ceiling(const qt_stat_row_t *r)
{
    return !strcmp(r->suite, "calibration") &&
           (!strcmp(r->metric, "stream_triad_gbps") || !strcmp(r->metric, "stream_copy_gbps") ||
            !strcmp(r->metric, "gpu_copy_gbps"));
}

/* STREAM counts the bytes a kernel names (triad 24 per element, copy 16); with write-allocate
 * caches the stored array is also read first (triad 32, copy 24). An in-place update (an optimizer
 * step: every written line was read) moves only the bytes it names, so at the same memory rate it
 * counts up to 4/3 of triad's and 3/2 of copy's figure: the host bound is that traffic. Measured on
 * the H200 host's Xeon, session 7: one thread's SGD step 22 GB/s where triad counted 11.8; 16
 * threads' steps 120-140 GB/s where triad counted 88. */
#define COPY_TRAFFIC (24.0 / 16.0)

typedef struct {
    double host, device;       /* the ceilings: host as memory traffic (above), device as measured (NaN: not measured) */
    double host_counted;       /* the STREAM figure the host ceiling comes from, as STREAM counts it */
    const char *host_metric;   /* ... and its metric (stream_triad_gbps or stream_copy_gbps) */
    int64_t frac_copy_case[64]; /* cases that report frac_copy (device cases) */
    int n_frac_copy;
    int (*fn)(void *, const char *);
    void *arg;
    int flagged, unchecked, stop;
} bw_t;

/* Pass 1: the ceilings and the device cases. */
static int find_ceilings(void *arg, const qt_stat_row_t *r)
{
    bw_t *b = arg;
    if (is_ceiling(r) && isfinite(r->median)) {
        const int dev = !strcmp(r->metric, "gpu_copy_gbps"), triad = !strcmp(r->metric, "stream_triad_gbps");
        double *c = dev ? &b->device : &b->host;
        double v = r->median * (dev ? 1.0 : triad ? QT_STREAM_TRIAD_TRAFFIC : COPY_TRAFFIC);
        if (isnan(*c) || v > *c) {
            *c = v;
            if (!dev) b->host_counted = r->median, b->host_metric = triad ? "stream_triad_gbps" : "stream_copy_gbps";
        }
    }
    if (!strcmp(r->metric, "frac_copy") && b->n_frac_copy < 64) b->frac_copy_case[b->n_frac_copy++] = r->case_id;
    return 0;
}

/* A device case (validity.h). */
static int device_case(const bw_t *b, const qt_stat_row_t *r)
{
    static const char *const dev[] = {"cuda", "nccl", "gpu", "torch_cuda"};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (r->variant && !strncmp(r->variant, dev[i], strlen(dev[i]))) return 1;
    for (int i = 0; i < b->n_frac_copy; i++)
        if (b->frac_copy_case[i] == r->case_id) return 1;
    return !strncmp(r->metric, "gpu_", 4);
}

/* Pass 2: judge every bandwidth metric. */
static int judge(void *arg, const qt_stat_row_t *r)
{
    bw_t *b = arg;
    if (!qt_metric_is_bandwidth(r->metric, r->unit) || is_ceiling(r) || !isfinite(r->median)) return 0;
    int dev = device_case(b, r);
    double c = dev ? b->device : b->host;
    if (isnan(c)) {
        b->unchecked++;
        return 0;
    }
    if (!(r->median > c)) return 0;
    b->flagged++;
    char text[640], ceiling[160];
    if (dev)
        snprintf(ceiling, sizeof ceiling, "device ceiling (gpu_copy_gbps %.4g GB/s)", c);
    else
        snprintf(ceiling, sizeof ceiling, "host ceiling (%.4g GB/s of memory traffic: %s %.4g GB/s as STREAM counts, "
                 "plus its write-allocate reads)", c, b->host_metric, b->host_counted);
    snprintf(text, sizeof text,
             "%s/%s/%s/%s %s = %.4g GB/s is %.2fx this run's %s: physically suspect: bytes "
             "miscounted, a cache-resident working set (a cache bandwidth, not memory), or a ceiling measured low",
             r->suite, r->name, r->variant ? r->variant : "", r->params ? r->params : "", r->metric, r->median,
             r->median / c, ceiling);
    if (b->fn(b->arg, text)) return b->stop = 1;
    return 0;
}

/* The check (see validity.h). */
qt_status_t qt_validity_bandwidth(qt_store_t *s, int64_t run_id, int (*fn)(void *arg, const char *text), void *arg,
                                  int *n_flagged)
{
    QT_CHECK_ARG(s && fn, "validity: store and callback must not be NULL");
    bw_t b;
    memset(&b, 0, sizeof b);
    b.host = b.device = NAN;
    b.fn = fn;
    b.arg = arg;
    QT_TRY(qt_store_foreach_stat(s, run_id, find_ceilings, &b));
    QT_TRY(qt_store_foreach_stat(s, run_id, judge, &b));
    if (b.unchecked && !b.stop) {
        char text[256];
        snprintf(text, sizeof text, "%d bandwidth metric(s) not checked against a ceiling: this run measured no %s",
                 b.unchecked, isnan(b.host) && isnan(b.device) ? "STREAM or device copy ceiling"
                              : isnan(b.host)                      ? "STREAM ceiling (calibration filtered out?)"
                                                                   : "device copy ceiling (no GPU)");
        fn(arg, text);
    }
    if (n_flagged) *n_flagged = b.flagged;
    return QT_OK;
}
