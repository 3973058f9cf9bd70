/* warnings.h — conditions that make a run's numbers suspect, in the spirit of pyperf's
 * warnings: checked while a run goes, printed at its end, and stored with the run as
 * provenance rows warning.1, warning.2, ... (shown by `show` and `report`).
 *   - the load average (1 min) above the number of cores, at the start or the end;
 *   - all-thread SGEMM not faster than one thread (another process holds the cores, or
 *     OpenBLAS runs single-threaded);
 *   - a fraction of a measured ceiling (frac_*) above 1 (frac_stream above 4/3: it is relative to
 *     the triad's bytes as STREAM counts them, which an in-place update exceeds by up to 4/3 at the
 *     same memory traffic, analysis/validity.h): flagged with the cases, and explained where the
 *     cause is known (the ceiling is this run's OpenBLAS/STREAM rate, not the machine's peak);
 *   - a timed case whose repetitions vary beyond QT_WARN_CV (coefficient of variation of
 *     time_s, stddev/mean).
 * Also the run-level provenance measured at the start and end: load average, and the other
 * quintet runs that wrote the same database meanwhile. Tested by tests/harness/test_cli.c. */
#ifndef QUINTET_WARNINGS_H
#define QUINTET_WARNINGS_H

#include <stdint.h>

#include "store/store.h"

#define QT_WARN_CV 0.10 /* the CV of time_s beyond which a case is flagged (environment QT_WARN_CV overrides) */
#define QT_WARN_MAX 16

typedef struct {
    int n;
    char text[QT_WARN_MAX][640];
    int n_frac, n_cv;              /* cases flagged so far, summarised into one warning each at the end */
    double worst_frac, worst_cv;
    char frac_case[200], cv_case[200];
} qt_warnings_t;

/* Add a warning (printf-style); beyond QT_WARN_MAX they are dropped. */
void qt_warn_add(qt_warnings_t *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Check the load average against the cores; `when` is "start" or "end". Writes "load1 load5 load15"
 * into load_text (for the provenance). */
void qt_warn_load(qt_warnings_t *w, const char *when, int cores, char *load_text, size_t size);
/* One metric of a finished case: frac_* above its limit (above), or time_s with CV beyond QT_WARN_CV. */
void qt_warn_case(qt_warnings_t *w, const char *label, const char *metric, int n, double median, double mean,
                  double stddev);
/* The calibration ceilings: all-thread SGEMM against one thread (NaN: not measured). */
void qt_warn_ceilings(qt_warnings_t *w, double sgemm_all, double sgemm_1t, int threads);
/* Turn the per-case counts into warnings, print every warning on stderr and store them as
 * warning.N provenance rows of run_id (s may be NULL: print only). */
qt_status_t qt_warn_finish(qt_warnings_t *w, qt_store_t *s, int64_t run_id);

#endif
