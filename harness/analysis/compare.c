/* compare.c — the per-(case, metric) regression decision of `quintet compare`, `ab`, `history`
 * and `report` (contract and algorithm in compare.h; the command is cmd_compare.c). Tested by
 * tests/harness/test_compare.c and tests/harness/test_gate.c (`make test`). */
#include "analysis/compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"

/* Verdict names, as printed. */
const char *qt_verdict_name(qt_verdict_t v)
{
    static const char *names[QT_VERDICT_COUNT] = {"regression", "improvement", "unchanged", "changed",
                                                  "inconclusive", "added",     "removed",     "insufficient"};
    return (unsigned)v < QT_VERDICT_COUNT ? names[v] : "?";
}

/* "[lo, hi]" or "-". */
const char *qt_compare_interval_text(const qt_compare_result_t *r, char *buf, size_t cap)
{
    if (!r || isnan(r->ci_lo) || isnan(r->ci_hi)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "[%.4f, %.4f]", r->ci_lo, r->ci_hi);
    return buf;
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

/* Rates derived from time_s by the runner (see compare.h). */
int qt_metric_restates_time(const char *m)
{
    return m && (!strcmp(m, "gflops") || !strcmp(m, "gbps") || ends_with(m, "_gflops") || ends_with(m, "_gbps") ||
                 !strcmp(m, "frac_sgemm") || !strcmp(m, "frac_stream"));
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

/* Interval verdict and, when inconclusive, the invocations a side that would decide. */
static void interval_verdict(qt_compare_result_t *r, int direction, double t, double alpha)
{
    int up = r->ci_lo > 1 + t, down = r->ci_hi < 1 - t, inside = r->ci_lo >= 1 - t && r->ci_hi <= 1 + t;
    if (up || down) {
        if (direction == 0) r->interval_verdict = QT_VERDICT_CHANGED;
        else r->interval_verdict = up == (direction < 0) ? QT_VERDICT_REGRESSION : QT_VERDICT_IMPROVEMENT;
        return;
    }
    if (inside) {
        r->interval_verdict = QT_VERDICT_UNCHANGED;
        return;
    }
    r->interval_verdict = QT_VERDICT_INCONCLUSIVE;
    /* The half-width h shrinks as 1/sqrt(k): it decides once below the distance from the ratio to
     * the nearer edge it must clear (|ratio - 1| - t outside the band, t - |ratio - 1| inside). */
    int k = r->paired ? r->pairs : r->k_base < r->k_new ? r->k_base : r->k_new;
    double h = (r->ci_hi - r->ci_lo) / 2, need = fabs(fabs(r->ratio - 1) - t);
    double kk = need > 0 ? ceil((double)(k < 1 ? 1 : k) * (h / need) * (h / need)) : INFINITY;
    int floor_k = 2; /* the exact test (k against k invocation medians, or k paired rounds) must reach p < alpha */
    while (floor_k < 1000 && (r->paired ? ldexp(2.0, -floor_k) : qt_mann_whitney_min_p((size_t)floor_k, (size_t)floor_k)) >= alpha)
        floor_k++;
    if (kk < floor_k) kk = floor_k;
    r->need_invocations = kk > 10000 || !isfinite(kk) ? 10000 : (int)kk;
    if (r->need_invocations >= 10000)
        snprintf(r->note, sizeof r->note, "over 10000 %s would decide", r->paired ? "paired rounds" : "invocations a side");
    else snprintf(r->note, sizeof r->note, "%d %s would decide", r->need_invocations,
                  r->paired ? "paired rounds" : "invocations a side");
}

/* What both decisions share: sizes, medians, the ratio of medians, outliers and shape of each
 * side; returns 1 (verdict insufficient, with a note) when a side has too few repetitions. */
static int describe(const qt_sample_set_t *base, const qt_sample_set_t *new_, qt_compare_result_t *r)
{
    qt_summary_t sb, sn;
    qt_summarize(base->v, base->n, &sb);
    qt_summarize(new_->v, new_->n, &sn);
    r->n_base = sb.n;
    r->n_new = sn.n;
    r->median_base = sb.median;
    r->median_new = sn.median;
    r->k_base = qt_sample_invocations(base);
    r->k_new = qt_sample_invocations(new_);
    r->outliers_base = qt_tukey_outliers(base->v, base->n);
    r->outliers_new = qt_tukey_outliers(new_->v, new_->n);
    r->bimodal_base = qt_bimodal(base->v, base->n, NULL);
    r->bimodal_new = qt_bimodal(new_->v, new_->n, NULL);
    if (r->n_base > 0 && r->n_new > 0) {
        if (r->median_base != 0) r->ratio = r->median_new / r->median_base;
        else if (r->median_new == 0) r->ratio = 1;
        else r->ratio = copysign(INFINITY, r->median_new);
    }
    if (r->n_base < QT_COMPARE_MIN_REPS || r->n_new < QT_COMPARE_MIN_REPS) {
        r->verdict = r->interval_verdict = QT_VERDICT_INSUFFICIENT;
        int few = r->n_base < QT_COMPARE_MIN_REPS ? r->n_base : r->n_new;
        snprintf(r->note, sizeof r->note, "%s has %d repetition%s, need %d",
                 r->n_base < QT_COMPARE_MIN_REPS ? "base" : "new", few, few == 1 ? "" : "s", QT_COMPARE_MIN_REPS);
        return 1;
    }
    return 0;
}

/* The arguments both decisions check, and a result with nothing decided yet. */
static qt_status_t decision_begin(const qt_sample_set_t *base, const qt_sample_set_t *new_, const qt_compare_opts_t *o,
                                  double noise, qt_compare_result_t *r)
{
    QT_CHECK_ARG(o && r && base && new_ && (base->v || base->n == 0) && (new_->v || new_->n == 0),
                 "samples, options and result must not be NULL");
    QT_CHECK_ARG(o->alpha > 0 && o->alpha < 1, "alpha %g must be in (0, 1)", o->alpha);
    QT_CHECK_ARG(o->threshold >= 0, "threshold %g must be >= 0", o->threshold);
    memset(r, 0, sizeof *r);
    r->u = r->p = r->q = r->p_min = r->ratio = r->ci_lo = r->ci_hi = NAN;
    r->noise = noise;
    return QT_OK;
}

/* The effect threshold: the larger of the option and the measured noise (NaN noise: not used). */
static double decision_threshold(const qt_compare_opts_t *o, double noise)
{
    return noise > o->threshold ? noise : o->threshold;
}

/* The decision (see compare.h). */
qt_status_t qt_compare_decide(const qt_sample_set_t *base, const qt_sample_set_t *new_, int direction,
                              const qt_compare_opts_t *o, double noise, uint64_t seed, qt_compare_result_t *r)
{
    QT_TRY(decision_begin(base, new_, o, noise, r));
    if (describe(base, new_, r)) return QT_OK;
    /* The test, on the unit of replication. */
    r->unit_invocations = r->k_base >= 2 && r->k_new >= 2;
    if (r->unit_invocations) {
        double *mb = NULL, *mn = NULL;
        int kb = qt_sample_invocation_medians(base, &mb), kn = qt_sample_invocation_medians(new_, &mn);
        qt_status_t st = kb && kn ? qt_mann_whitney_ex(mb, (size_t)kb, mn, (size_t)kn, &r->u, &r->p, &r->p_min)
                                  : qt_fail(QT_ERR_NOMEM, "compare: no memory for invocation medians");
        free(mb);
        free(mn);
        QT_TRY(st);
    } else {
        QT_TRY(qt_mann_whitney_ex(base->v, base->n, new_->v, new_->n, &r->u, &r->p, &r->p_min));
    }
    r->p_floor = r->p_min >= o->alpha;
    double t = decision_threshold(o, noise);
    if (r->median_base == 0) { /* no ratio interval around a zero median: the test and the effect decide */
        r->ci_lo = r->ci_hi = r->ratio;
    } else {
        QT_TRY(qt_boot_ratio_ci(base, new_, QT_BOOT_REPLICATES, 1 - o->alpha, seed, &r->ci_lo, &r->ci_hi));
    }
    interval_verdict(r, direction, t, o->alpha);
    qt_compare_apply_q(r, r->p, o->alpha);
    return QT_OK;
}

/* The paired decision (see compare.h). */
qt_status_t qt_compare_decide_paired(const qt_sample_set_t *base, const qt_sample_set_t *new_, int direction,
                                     const qt_compare_opts_t *o, double noise, uint64_t seed, qt_compare_result_t *r)
{
    QT_TRY(decision_begin(base, new_, o, noise, r));
    r->paired = 1;
    if (describe(base, new_, r)) return QT_OK;
    double *d = NULL;
    int k = qt_paired_log_ratios(base, new_, &d, NULL);
    if (k < 0) return qt_fail(QT_ERR_NOMEM, "compare: no memory for the paired rounds");
    int bad = 0;
    for (int i = 0; i < k; i++) bad |= isnan(d[i]);
    r->pairs = k;
    r->unit_invocations = 1;
    if (k < 2 || bad) { /* nothing to pair (or a median <= 0): the unpaired decision */
        free(d);
        QT_TRY(qt_compare_decide(base, new_, direction, o, noise, seed, r));
        snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note), "%s%s", *r->note ? "; " : "",
                 k < 2 ? "fewer than 2 paired rounds: unpaired" : "a median <= 0: unpaired");
        return QT_OK;
    }
    qt_status_t st = qt_signed_rank(d, (size_t)k, &r->u, &r->p, &r->p_min);
    free(d);
    QT_TRY(st);
    r->p_floor = r->p_min >= o->alpha;
    double t = decision_threshold(o, noise);
    QT_TRY(qt_boot_paired_ci(base, new_, QT_BOOT_REPLICATES, 1 - o->alpha, seed, &r->ratio, &r->ci_lo, &r->ci_hi, NULL));
    interval_verdict(r, direction, t, o->alpha);
    qt_compare_apply_q(r, r->p, o->alpha);
    return QT_OK;
}

/* Final verdict from the interval verdict and the (adjusted) test. */
void qt_compare_apply_q(qt_compare_result_t *r, double q, double alpha)
{
    r->q = q;
    qt_verdict_t iv = r->interval_verdict;
    r->verdict = iv;
    if (iv != QT_VERDICT_REGRESSION && iv != QT_VERDICT_IMPROVEMENT && iv != QT_VERDICT_CHANGED) return;
    if (r->p_floor) {
        r->verdict = QT_VERDICT_INCONCLUSIVE;
        if (r->paired)
            snprintf(r->note, sizeof r->note, "%d paired rounds cannot reach p < %g", r->pairs, alpha);
        else
        snprintf(r->note, sizeof r->note, "%d vs %d %s cannot reach p < %g", r->unit_invocations ? r->k_base : r->n_base,
                 r->unit_invocations ? r->k_new : r->n_new, r->unit_invocations ? "invocations" : "repetitions", alpha);
    } else if (!(q < alpha)) {
        r->verdict = QT_VERDICT_INCONCLUSIVE;
        snprintf(r->note, sizeof r->note, "interval beyond the threshold, but q = %.3g >= %g", q, alpha);
    } else if (!strncmp(r->note, "interval beyond", 15) || strstr(r->note, "cannot reach")) {
        r->note[0] = '\0';
    }
}

/* Benjamini-Hochberg over the rows that are their own test; restating rows share their q. */
size_t qt_compare_bh(qt_compare_result_t *const *r, const long *family, size_t n, double alpha)
{
    double *p = calloc(n + 1, sizeof *p), *q = calloc(n + 1, sizeof *q);
    if (!p || !q) { /* no memory: Bonferroni, more conservative than BH */
        free(p);
        free(q);
        for (size_t i = 0; i < n; i++)
            if (family[i] >= 0 && (size_t)family[i] < n) qt_compare_apply_q(r[i], fmin(1, r[family[i]]->p * (double)n), alpha);
        return n;
    }
    for (size_t i = 0; i < n; i++) p[i] = family[i] == (long)i ? r[i]->p : NAN;
    size_t m = qt_bh_adjust(p, n, q);
    for (size_t i = 0; i < n; i++)
        if (family[i] >= 0 && (size_t)family[i] < n) qt_compare_apply_q(r[i], q[family[i]], alpha);
    free(p);
    free(q);
    return m;
}
