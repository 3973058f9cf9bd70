/* warnings.c — a run's warnings (contract: warnings.h). */
#include "run/warnings.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/validity.h"

/* Add. */
void qt_warn_add(qt_warnings_t *w, const char *fmt, ...)
{
    if (w->n == QT_WARN_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->text[w->n++], sizeof w->text[0], fmt, ap);
    va_end(ap);
}

/* Load average. */
void qt_warn_load(qt_warnings_t *w, const char *when, int cores, char *load_text, size_t size)
{
    double l[3];
    if (getloadavg(l, 3) != 3) {
        snprintf(load_text, size, "unknown: getloadavg failed");
        return;
    }
    snprintf(load_text, size, "%.2f %.2f %.2f", l[0], l[1], l[2]);
    if (cores > 0 && l[0] > cores)
        qt_warn_add(w, "load average %.2f at the %s of the run is above the %d cores: other processes competed "
                       "for the CPUs, so times are inflated and noisy", l[0], when, cores);
}

/* The CV threshold: QT_WARN_CV, or the environment variable QT_WARN_CV when it holds a number >= 0. */
static double cv_limit(void)
{
    const char *e = getenv("QT_WARN_CV");
    char *end;
    double v = e && *e ? strtod(e, &end) : -1;
    return e && *e && !*end && v >= 0 ? v : QT_WARN_CV;
}

/* One metric of a case. */
void qt_warn_case(qt_warnings_t *w, const char *label, const char *metric, int n, double median, double mean,
                  double stddev)
{
    /* frac_stream is relative to triad as STREAM counts it: an in-place update reaches 4/3 of that
     * at the same memory traffic (analysis/validity.h) */
    const double limit = !strcmp(metric, "frac_stream") ? QT_STREAM_TRIAD_TRAFFIC : 1.0;
    if (!strncmp(metric, "frac_", 5) && median > limit) {
        if (w->n_frac++ == 0 || median > w->worst_frac) {
            w->worst_frac = median;
            snprintf(w->frac_case, sizeof w->frac_case, "%s %s = %.3g", label, metric, median);
        }
    }
    if (!strcmp(metric, "time_s") && n >= 3 && mean > 0 && stddev / mean > cv_limit()) {
        double cv = stddev / mean;
        if (w->n_cv++ == 0 || cv > w->worst_cv) {
            w->worst_cv = cv;
            snprintf(w->cv_case, sizeof w->cv_case, "%s (CV %.0f%%)", label, 100 * cv);
        }
    }
}

/* Ceilings. */
void qt_warn_ceilings(qt_warnings_t *w, double sgemm_all, double sgemm_1t, int threads)
{
    if (threads > 1 && isfinite(sgemm_all) && isfinite(sgemm_1t) && sgemm_1t > 0 && sgemm_all < 1.1 * sgemm_1t)
        qt_warn_add(w, "all-thread SGEMM (%.1f GFLOP/s on %d threads) is not faster than one thread (%.1f): "
                       "another process holds the cores or OpenBLAS ran single-threaded, so every frac_sgemm "
                       "of this run is relative to a low ceiling", sgemm_all, threads, sgemm_1t);
}

/* Summaries, print, store. */
qt_status_t qt_warn_finish(qt_warnings_t *w, qt_store_t *s, int64_t run_id)
{
    if (w->n_frac)
        qt_warn_add(w, "%d case metric(s) exceed a measured ceiling (frac_* > 1, frac_stream > 4/3: the triad's "
                       "write-allocate reads; largest: %s): the ceilings are this "
                       "run's OpenBLAS SGEMM and STREAM triad, not the machine's peak (a kernel can beat OpenBLAS, "
                       "e.g. its Haswell kernel on an AVX-512 CPU, or a working set can fit in cache); check the "
                       "case's cache state before reading it as a fraction of peak", w->n_frac, w->frac_case);
    if (w->n_cv)
        qt_warn_add(w, "%d timed case(s) vary beyond CV %.0f%% between repetitions (worst: %s): compare them with "
                       "care, or rerun with more repetitions", w->n_cv, 100 * cv_limit(), w->cv_case);
    w->n_frac = w->n_cv = 0;
    for (int i = 0; i < w->n; i++) {
        fprintf(stderr, "quintet run: warning: %s\n", w->text[i]);
        char key[32];
        snprintf(key, sizeof key, "warning.%d", i + 1);
        if (s) QT_TRY(qt_store_run_set(s, run_id, key, w->text[i]));
    }
    return QT_OK;
}
