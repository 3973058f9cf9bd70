/* compare.c — the per-(case, metric) regression decision of `quintet compare`
 * (contract in compare.h; the command is cmd_compare.c). Tested by
 * tests/harness/test_compare.c (`make test`). */
#include "analysis/compare.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/stats.h"

/* Verdict names, as printed. */
const char *qt_verdict_name(qt_verdict_t v)
{
    static const char *names[QT_VERDICT_COUNT] = {"regression", "improvement", "unchanged", "changed",
                                                  "added",      "removed",     "insufficient"};
    return (unsigned)v < QT_VERDICT_COUNT ? names[v] : "?";
}

/* 1 when s ends with suffix. */
static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* The one rule for which way is better:
 *  lower is better (-1): times and costs — time_s and any *_s or *_us, peak_bytes, rel_error,
 *    final_loss, steps_to_target;
 *  higher is better (+1): rates and ratios — gflops, gbps and any *_gflops or *_gbps, frac_*,
 *    speedup_*, accuracy, mass_recall;
 *  anything else (0) has no direction and is only reported as changed/unchanged.
 * Names are matched exactly, so counters (papi.*, sde.*, rusage.*) get no direction. */
int qt_metric_direction(const char *m)
{
    if (!m) return 0;
    if (!strncmp(m, "papi.", 5) || !strncmp(m, "sde.", 4) || !strncmp(m, "rusage.", 7)) return 0;
    if (!strcmp(m, "time_s") || ends_with(m, "_s") || ends_with(m, "_us") || !strcmp(m, "peak_bytes") ||
        !strcmp(m, "rel_error") || !strcmp(m, "final_loss") || !strcmp(m, "steps_to_target"))
        return -1;
    if (!strcmp(m, "gflops") || !strcmp(m, "gbps") || ends_with(m, "_gflops") || ends_with(m, "_gbps") ||
        !strncmp(m, "frac_", 5) || !strncmp(m, "speedup_", 8) || !strcmp(m, "accuracy") ||
        !strcmp(m, "mass_recall"))
        return 1;
    return 0;
}

/* Counters and bookkeeping metrics (the set `show` hides without --all). */
int qt_metric_is_bookkeeping(const char *m)
{
    return !strncmp(m, "papi.", 5) || !strncmp(m, "sde.", 4) || !strncmp(m, "rusage.", 7) ||
           !strcmp(m, "iterations") || !strcmp(m, "cpu_time_s") || !strcmp(m, "case_wall_s") || !strcmp(m, "setup_s");
}

/* Range of the run medians relative to their median: the largest difference seen between two
 * runs of the baseline, in the same units as the effect |new/base - 1|. */
double qt_compare_noise(const double *medians, size_t n)
{
    if (!medians || n < 2) return NAN;
    qt_summary_t s;
    qt_summarize(medians, n, &s);
    if (s.n < 2 || !(fabs(s.median) > 0)) return NAN;
    return (s.max - s.min) / fabs(s.median);
}

/* Median / n of the non-NaN values. */
static int median_of(const double *v, size_t n, double *med)
{
    qt_summary_t s;
    qt_summarize(v, n, &s);
    *med = s.median;
    return s.n;
}

/* The decision (see compare.h). */
qt_status_t qt_compare_decide(const double *base, size_t nb, const double *new_, size_t nn, int direction,
                              const qt_compare_opts_t *o, double noise, qt_compare_result_t *r)
{
    QT_CHECK_ARG(o && r && (base || nb == 0) && (new_ || nn == 0), "options and result must not be NULL");
    QT_CHECK_ARG(o->alpha > 0 && o->alpha < 1, "alpha %g must be in (0, 1)", o->alpha);
    QT_CHECK_ARG(o->threshold >= 0, "threshold %g must be >= 0", o->threshold);
    memset(r, 0, sizeof *r);
    r->u = r->p = r->ratio = NAN;
    r->noise = noise;
    r->n_base = median_of(base, nb, &r->median_base);
    r->n_new = median_of(new_, nn, &r->median_new);
    if (r->n_base > 0 && r->n_new > 0) {
        if (r->median_base != 0) r->ratio = r->median_new / r->median_base;
        else if (r->median_new == 0) r->ratio = 1;
        else r->ratio = copysign(INFINITY, r->median_new);
    }
    if (r->n_base < QT_COMPARE_MIN_REPS || r->n_new < QT_COMPARE_MIN_REPS) {
        r->verdict = QT_VERDICT_INSUFFICIENT;
        snprintf(r->note, sizeof r->note, "%s has %d repetition%s, need %d",
                 r->n_base < QT_COMPARE_MIN_REPS ? "base" : "new",
                 r->n_base < QT_COMPARE_MIN_REPS ? r->n_base : r->n_new,
                 (r->n_base < QT_COMPARE_MIN_REPS ? r->n_base : r->n_new) == 1 ? "" : "s", QT_COMPARE_MIN_REPS);
        return QT_OK;
    }
    QT_TRY(qt_mann_whitney(base, nb, new_, nn, &r->u, &r->p));
    r->p_floor = qt_mann_whitney_min_p((size_t)r->n_base, (size_t)r->n_new) >= o->alpha;
    double effect = fabs(r->ratio - 1);
    int significant = r->p < o->alpha && effect > o->threshold && !(effect <= noise); /* NaN noise: not used */
    if (!significant) {
        r->verdict = QT_VERDICT_UNCHANGED;
        if (r->p_floor)
            snprintf(r->note, sizeof r->note, "%d vs %d repetitions cannot reach p < %g", r->n_base, r->n_new,
                     o->alpha);
        else if (r->p < o->alpha && effect > o->threshold)
            snprintf(r->note, sizeof r->note, "within between-run noise %.1f%%", noise * 100);
        return QT_OK;
    }
    if (direction == 0) r->verdict = QT_VERDICT_CHANGED;
    else r->verdict = (r->ratio > 1) == (direction < 0) ? QT_VERDICT_REGRESSION : QT_VERDICT_IMPROVEMENT;
    return QT_OK;
}
