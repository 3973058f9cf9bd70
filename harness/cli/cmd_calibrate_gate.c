/* cmd_calibrate_gate.c — `quintet calibrate-gate [SUITE...] --inject REGEX`: measures the
 * regression gate itself on this machine, instead of assuming it works.
 *
 * ab mode (default): one interleaved measurement of --rounds N rounds in which this build runs the
 * selected cases as 2 + S sides, in a random order per round (qt_ab_measure_sides, ab.h): BASE,
 * an A/A copy (nothing changed) and one copy per injected slowdown F (the test hook
 * QT_INJECT_SLOWDOWN=REGEX:F, runner.c: the matching cases' timed region lengthened by F). Then
 * --trials T simulated `ab` runs, each a random subset of --trial-rounds R of the N rounds
 * (drawn without replacement), are judged exactly as `ab` judges (compare.h: the paired decision
 * on rounds, Benjamini-Hochberg across the trial's rows): the A/A side against BASE gives the
 * false-positive rate = rows flagged (regression, improvement, changed) / rows; each injected side
 * gives the detection rate = injected time_s rows called `regression` / injected rows, per suite
 * (other rows flagged count as false positives), beside the effect the injection had as measured
 * (median per-round ratio over all N rounds: the hook lengthens wall time by F, the CPU time of a
 * multi-threaded case's main thread can grow by more or less). The same subsets judged unpaired (the decision
 * `compare` makes on two `run --invocations R` runs) show what the pairing buys; they see no drift
 * between the two runs' blocks, so they are an optimistic bound for `run --invocations`.
 * Subsets share rounds, so the T trials are not independent: the rates are estimates of the
 * probability for an R-round ab on this machine from N measured rounds (subsampling; Politis,
 * Romano & Wolf, Subsampling, 1999), reported with N, R and T.
 * From the A/A rows it prints, per suite, the median half-width h of the ratio interval and the
 * minimum detectable effect: about threshold + h at 50% detection and threshold + 1.84 h at 95%
 * (the interval's lower end, 1.96 sd below the effect, must clear the threshold 95% of the time:
 * 1.96 + 1.645 = 3.6 sd = 1.84 h), and the seconds a process spends in each suite's cases, so the
 * wall time of a nightly ab (2 R processes) follows.
 * invocations mode: --invocation-trials real sequential trials (all of BASE's R invocations, then
 * all of NEW's, as two `run --invocations R` do), A/A and at each slowdown, judged unpaired.
 * Exit status: 0 done, 2 bad usage, 3 a run or database error.
 * Run `quintet calibrate-gate --help`, e.g.
 *   quintet calibrate-gate calibration lr_convergence --filter 'stream_triad|step_10m.*adam,' \
 *       --inject 'step_10m' --rounds 30 --trial-rounds 10
 * Tested through the same code paths by tests/harness/test_gate.c (ab, injection, paired decision). */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analysis/gate.h"
#include "analysis/resample.h"
#include "analysis/stats.h"
#include "cli/ab.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "run/invocations.h"
#include "run/suite.h"
#include "store/store.h"

static const qt_opt_t opts[] = {
    {"inject", "REGEX", "cases to slow down in injected sides (POSIX ERE over suite/case/variant/params)"},
    {"filter", "REGEX", "only these cases (as in run)"},
    {"rounds", "N", "ab mode: rounds measured (default 30); invocations mode: invocations a side"},
    {"trial-rounds", "R", "ab mode: rounds of each simulated ab (default 10)"},
    {"trials", "T", "ab mode: simulated ab runs drawn from the measured rounds (default 200)"},
    {"invocation-trials", "N", "invocations mode: real sequential trials of each kind (default 3)"},
    {"repetitions", "R", "repetitions per case per process (default 5)"},
    {"slowdowns", "F,F", "injected fractions (default 0.10,0.05)"},
    {"mode", "M", "ab | invocations | both (default ab)"},
    {"profile", "P", "quick | nightly | paper (default quick)"},
    {"metric", "LIST", "metrics judged, comma-separated (default time_s,cpu_time_s)"},
    {"threshold", "FRAC", "the gate's threshold (default 0.05)"},
    {"alpha", "A", "the gate's alpha (default 0.05)"},
    {"db", "PATH", "scratch database for the measurements (default: a temporary file, removed)"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

#define MAX_SUITES 16
#define MAX_SLOW 6
#define MAX_METRICS 4

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the measured cases ------------------------------------------------------------------- */

/* One (case, metric) with each side's samples (value, round). */
typedef struct {
    char key[600], suite[64];
    int metric;                      /* index into the --metric list */
    int target;                      /* matches --inject */
    double *v[QT_AB_MAX_SIDES];
    int *inv[QT_AB_MAX_SIDES];
    size_t n[QT_AB_MAX_SIDES], cap[QT_AB_MAX_SIDES];
    double seconds;                  /* summed case_wall_s over every process of every side */
} mcase_t;

static const char *metric_list[MAX_METRICS];
static int n_metrics;

typedef struct {
    mcase_t *c;
    int n, cap, side, failed;
    regex_t *inject;
    int idx[MAX_METRICS]; /* foreach_sample: the entries of the case being read, per metric */
} cases_t;

/* Index of (key, metric) in the list (added when new); -1 on allocation failure. */
static int case_index(cases_t *cs, const char *key, const char *suite, int metric)
{
    for (int i = 0; i < cs->n; i++)
        if (!strcmp(cs->c[i].key, key) && cs->c[i].metric == metric) return i;
    if (cs->n == cs->cap) {
        int cap = cs->cap ? 2 * cs->cap : 16;
        mcase_t *c = realloc(cs->c, (size_t)cap * sizeof *c);
        if (!c) return -1;
        cs->c = c;
        cs->cap = cap;
    }
    mcase_t *m = &cs->c[cs->n];
    memset(m, 0, sizeof *m);
    snprintf(m->key, sizeof m->key, "%s", key);
    snprintf(m->suite, sizeof m->suite, "%s", suite);
    m->metric = metric;
    m->target = cs->inject && regexec(cs->inject, key, 0, NULL, 0) == 0;
    return cs->n++;
}

/* foreach_sample: keep the listed metrics with their round; add up case_wall_s (one a process and
 * case) on the first metric's entry. */
static int keep_time(void *arg, const qt_sample_t *x)
{
    cases_t *cs = arg;
    if (!strcmp(x->metric, "case_wall_s") && x->value > 0) cs->c[cs->idx[0]].seconds += x->value;
    int j = 0;
    while (j < n_metrics && strcmp(x->metric, metric_list[j])) j++;
    if (j == n_metrics) return 0;
    mcase_t *m = &cs->c[cs->idx[j]];
    int s = cs->side;
    if (m->n[s] == m->cap[s]) {
        size_t cap = m->cap[s] ? 2 * m->cap[s] : 32;
        double *v = realloc(m->v[s], cap * sizeof *v);
        if (v) m->v[s] = v;
        int *inv = v ? realloc(m->inv[s], cap * sizeof *inv) : NULL;
        if (!v || !inv) return cs->failed = 1;
        m->inv[s] = inv;
        m->cap[s] = cap;
    }
    m->v[s][m->n[s]] = x->value;
    m->inv[s][m->n[s]++] = x->invocation;
    return 0;
}

typedef struct {
    cases_t *cs;
    qt_store_t *st;
} load_ctx_t;

/* foreach_case: the case's key, then its time_s samples. */
static int load_case(void *arg, const qt_case_row_t *row)
{
    load_ctx_t *l = arg;
    if (strcmp(row->status, "ok")) return 0;
    char key[600];
    snprintf(key, sizeof key, "%s/%s/%s/%s", row->suite, row->name, row->variant ? row->variant : "",
             row->params ? row->params : "");
    for (int j = 0; j < n_metrics; j++)
        if ((l->cs->idx[j] = case_index(l->cs, key, row->suite, j)) < 0) return l->cs->failed = 1;
    if (qt_store_foreach_sample(l->st, row->case_id, keep_time, l->cs) != QT_OK) return l->cs->failed = 1;
    return l->cs->failed;
}

static void cases_free(cases_t *cs)
{
    for (int i = 0; i < cs->n; i++)
        for (int s = 0; s < QT_AB_MAX_SIDES; s++) {
            free(cs->c[i].v[s]);
            free(cs->c[i].inv[s]);
        }
    free(cs->c);
}

/* ---- simulated ab trials ------------------------------------------------------------------ */

/* Tally of one comparison kind (A/A or one slowdown) over the trials, per suite. */
typedef struct {
    char suite[MAX_SUITES][64];
    int nsuites;
    int tested[MAX_SUITES], flagged[MAX_SUITES];   /* non-target rows */
    int targets[MAX_SUITES], hit[MAX_SUITES];      /* injected rows called regression */
    double *hw[MAX_SUITES];                        /* interval half-widths of non-target rows */
    size_t nhw[MAX_SUITES];
    int inconclusive, unchanged;
} tally_t;

static int suite_slot(tally_t *t, const char *suite)
{
    for (int s = 0; s < t->nsuites; s++)
        if (!strcmp(t->suite[s], suite)) return s;
    if (t->nsuites == MAX_SUITES) return MAX_SUITES - 1;
    snprintf(t->suite[t->nsuites], sizeof t->suite[0], "%s", suite);
    return t->nsuites++;
}

/* The effect side `side` had on case m as measured over every round: exp of the median per-round
 * log-ratio against BASE (NaN when no round pairs). */
static double measured_effect(const mcase_t *m, int side)
{
    qt_sample_set_t b = {m->v[0], m->inv[0], m->n[0]}, n = {m->v[side], m->inv[side], m->n[side]};
    double *d = NULL;
    int k = qt_paired_log_ratios(&b, &n, &d, NULL);
    double e = k > 0 ? exp(qt_quantile(d, (size_t)k, 0.5)) : NAN;
    free(d);
    return e;
}

/* side's samples of case m restricted to the rounds with keep[round] set, into v/inv. */
static size_t subset(const mcase_t *m, int side, const unsigned char *keep, int max_round, double *v, int *inv)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n[side]; i++) {
        int r = m->inv[side][i];
        if (r >= 1 && r <= max_round && keep[r]) {
            v[k] = m->v[side][i];
            inv[k++] = r;
        }
    }
    return k;
}

/* One trial of one comparison (BASE = side 0 against side `side`), paired or not: decide every
 * case, BH across them, tally. */
static qt_status_t judge_trial(const cases_t *cs, int metric, int side, const unsigned char *keep, int max_round,
                               int paired, const qt_compare_opts_t *o, uint64_t seed, tally_t *t, double *vb, int *ib,
                               double *vn, int *in)
{
    qt_compare_result_t *r = calloc((size_t)cs->n + 1, sizeof *r);
    qt_compare_result_t **rp = calloc((size_t)cs->n + 1, sizeof *rp);
    long *family = calloc((size_t)cs->n + 1, sizeof *family);
    qt_status_t st = r && rp && family ? QT_OK : qt_fail(QT_ERR_NOMEM, "calibrate-gate: out of memory");
    for (int i = 0; i < cs->n && st == QT_OK; i++) {
        const mcase_t *m = &cs->c[i];
        rp[i] = &r[i];
        family[i] = -1;
        r[i].verdict = QT_VERDICT_INSUFFICIENT;
        r[i].p = NAN;
        if (m->metric != metric) continue;
        size_t nb = subset(m, 0, keep, max_round, vb, ib), nn = subset(m, side, keep, max_round, vn, in);
        qt_sample_set_t sb = {vb, ib, nb}, sn = {vn, in, nn};
        st = (paired ? qt_compare_decide_paired : qt_compare_decide)(&sb, &sn, qt_metric_direction(metric_list[metric]),
                                                                     o, NAN, seed + (uint64_t)i, &r[i]);
        family[i] = isnan(r[i].p) ? -1 : i;
    }
    if (st == QT_OK) qt_compare_bh(rp, family, (size_t)cs->n, o->alpha);
    for (int i = 0; i < cs->n && st == QT_OK; i++) {
        const mcase_t *m = &cs->c[i];
        qt_verdict_t v = r[i].verdict;
        if (m->metric != metric || v == QT_VERDICT_INSUFFICIENT) continue;
        int s = suite_slot(t, m->suite);
        t->inconclusive += v == QT_VERDICT_INCONCLUSIVE;
        t->unchanged += v == QT_VERDICT_UNCHANGED;
        if (m->target && side > 1) {
            t->targets[s]++;
            t->hit[s] += v == QT_VERDICT_REGRESSION; /* slower: time up, rate down */
            continue;
        }
        t->tested[s]++;
        t->flagged[s] += v == QT_VERDICT_REGRESSION || v == QT_VERDICT_IMPROVEMENT || v == QT_VERDICT_CHANGED;
        if (!isnan(r[i].ci_lo) && !isnan(r[i].ci_hi)) {
            double *h = realloc(t->hw[s], (t->nhw[s] + 1) * sizeof *h);
            if (!h) {
                st = qt_fail(QT_ERR_NOMEM, "calibrate-gate: out of memory");
                break;
            }
            t->hw[s] = h;
            /* half-width in the ratio's relative terms: (hi - lo) / 2 / ratio */
            h[t->nhw[s]++] = (r[i].ci_hi - r[i].ci_lo) / 2 / (r[i].ratio > 0 ? r[i].ratio : 1);
        }
    }
    free(r);
    free(rp);
    free(family);
    return st;
}

static int sum(const int *v, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return s;
}

static void tally_free(tally_t *t)
{
    for (int s = 0; s < MAX_SUITES; s++) free(t->hw[s]);
}

/* ab mode: measure once, then the simulated trials; prints the tables. */
static int run_ab_mode(const char *exe, const char *const *args, int n, const char *dbpath, const char *inject,
                       regex_t *re, const double *slow, int nslow, int rounds, int trial_rounds, int trials,
                       const qt_compare_opts_t *o)
{
    int S = 2 + nslow;
    static char env[MAX_SLOW][1200], names[MAX_SLOW][32];
    qt_ab_spec_t spec;
    memset(&spec, 0, sizeof spec);
    spec.args = args;
    spec.n_args = n;
    spec.rounds = rounds;
    spec.interleave = 1;
    spec.seed = 1000;
    spec.db = dbpath;
    spec.quiet = 1;
    spec.sides = S;
    spec.name[0] = "base";
    spec.name[1] = "aa";
    spec.exe[0] = spec.exe[1] = exe;
    for (int k = 0; k < nslow; k++) {
        snprintf(env[k], sizeof env[k], "QT_INJECT_SLOWDOWN=%s:%g", inject, slow[k]);
        snprintf(names[k], sizeof names[k], "inject%g", slow[k] * 100);
        spec.exe[2 + k] = exe;
        spec.env[2 + k] = env[k];
        spec.name[2 + k] = names[k];
    }
    char up0[128] = "?", up1[128] = "?";
    double l[3];
    if (getloadavg(l, 3) == 3) snprintf(up0, sizeof up0, "%.2f %.2f %.2f", l[0], l[1], l[2]);
    fprintf(stderr, "calibrate-gate: measuring %d rounds of %d sides (%d processes)...\n", rounds, S, rounds * S);
    double t0 = now_s();
    int64_t ids[QT_AB_MAX_SIDES];
    if (qt_ab_measure_sides(&spec, ids) != QT_OK) return 3;
    double wall = now_s() - t0;
    if (getloadavg(l, 3) == 3) snprintf(up1, sizeof up1, "%.2f %.2f %.2f", l[0], l[1], l[2]);
    cases_t cs;
    memset(&cs, 0, sizeof cs);
    cs.inject = re;
    qt_store_t *st = NULL;
    if (qt_store_open(dbpath, 0, 0, &st) != QT_OK) return 3;
    load_ctx_t lc = {&cs, st};
    for (int s = 0; s < S && !cs.failed; s++) {
        cs.side = s;
        if (qt_store_foreach_case(st, ids[s], load_case, &lc) != QT_OK) cs.failed = 1;
    }
    qt_store_close(st);
    if (cs.failed) {
        cases_free(&cs);
        qt_fail(QT_ERR_NOMEM, "calibrate-gate: reading the measured rounds failed");
        return 3;
    }
    int targets = 0;
    for (int i = 0; i < cs.n; i++) targets += cs.c[i].target;
    if (!targets) {
        fprintf(stderr, "quintet calibrate-gate: --inject '%s' matches no measured case\n", inject);
        cases_free(&cs);
        return 2;
    }
    size_t big = 1;
    for (int i = 0; i < cs.n; i++)
        for (int s = 0; s < S; s++) big = cs.c[i].n[s] > big ? cs.c[i].n[s] : big;
    double *vb = malloc(big * sizeof *vb), *vn = malloc(big * sizeof *vn);
    int *ib = malloc(big * sizeof *ib), *in = malloc(big * sizeof *in);
    unsigned char *keep = calloc((size_t)rounds + 1, 1);
    int *pool = malloc(((size_t)rounds + 1) * sizeof *pool);
    tally_t(*tally)[2 + MAX_SLOW][MAX_METRICS] = calloc(2, sizeof *tally); /* [paired][side][metric] */
    int rc = vb && vn && ib && in && keep && pool && tally ? 0 : 3;
    if (trial_rounds > rounds) trial_rounds = rounds;
    qt_rand_t g;
    qt_rand_seed(&g, 4242);
    double t1 = now_s();
    for (int t = 0; t < trials && rc == 0; t++) {
        for (int i = 0; i < rounds; i++) pool[i] = i + 1;
        memset(keep, 0, (size_t)rounds + 1);
        for (int i = 0; i < trial_rounds; i++) { /* partial Fisher-Yates: R distinct rounds */
            int j = i + (int)(qt_rand_uniform(&g) * (rounds - i)), x = pool[i];
            pool[i] = pool[j];
            pool[j] = x;
            keep[pool[i]] = 1;
        }
        for (int paired = 1; paired >= 0 && rc == 0; paired--)
            for (int side = 1; side < S && rc == 0; side++)
                for (int mi = 0; mi < n_metrics && rc == 0; mi++)
                    if (judge_trial(&cs, mi, side, keep, rounds, paired, o, 7919 * (uint64_t)t, &tally[paired][side][mi],
                                    vb, ib, vn, in) != QT_OK)
                        rc = 3;
    }
    double analysis = now_s() - t1;
    if (rc == 0) {
        printf("\nab mode: %d rounds measured, each running BASE, an A/A copy and %d injected cop%s (--inject '%s') in "
               "a random order; %d simulated ab runs of %d rounds drawn from them (threshold %g%%, alpha %g)\n",
               rounds, nslow, nslow == 1 ? "y" : "ies", inject, trials, trial_rounds, o->threshold * 100, o->alpha);
        printf("measurement: %.0f s wall for %d processes (%.1f s each); load average %s at the start, %s at the end; "
               "analysis %.0f s\n", wall, rounds * S, wall / (rounds * S), up0, up1, analysis);
        for (int mi = 0; mi < n_metrics; mi++)
        for (int paired = 1; paired >= 0; paired--) {
            tally_t *aa = &tally[paired][1][mi];
            int tested = sum(aa->tested, aa->nsuites), flagged = sum(aa->flagged, aa->nsuites);
            printf("\nmetric %s, %s\n", metric_list[mi], paired ? "ab (paired rounds: Hodges-Lehmann per-round ratio, signed-rank test)"
                                    : "the same rounds judged unpaired (compare of two `run --invocations R` runs, "
                                      "without their between-block drift: an optimistic bound)");
            printf("  A/A: %d of %d rows flagged = %.2f%% false positives (%d unchanged, %d inconclusive)\n", flagged,
                   tested, tested ? 100.0 * flagged / tested : 0, aa->unchanged, aa->inconclusive);
            for (int k = 0; k < nslow; k++) {
                tally_t *x = &tally[paired][2 + k][mi];
                int tt = sum(x->targets, x->nsuites), hh = sum(x->hit, x->nsuites), ot = sum(x->tested, x->nsuites),
                    of = sum(x->flagged, x->nsuites);
                printf("  +%g%%: injected rows detected %d of %d = %.1f%%; other rows flagged %d of %d = %.2f%%\n",
                       slow[k] * 100, hh, tt, tt ? 100.0 * hh / tt : 0, of, ot, ot ? 100.0 * of / ot : 0);
            }
            printf("  %-18s %8s %9s %9s", "suite", "A/A rows", "A/A flag", "half-w");
            for (int k = 0; k < nslow; k++) printf("  det +%-4g effect", slow[k] * 100);
            printf("  MDE50%%  MDE95%%  s/process\n");
            for (int s = 0; s < aa->nsuites; s++) {
                double h = aa->nhw[s] ? qt_quantile(aa->hw[s], aa->nhw[s], 0.5) : NAN, secs = 0;
                for (int i = 0; i < cs.n; i++)
                    if (!strcmp(cs.c[i].suite, aa->suite[s])) secs += cs.c[i].seconds;
                printf("  %-18s %8d %8.2f%% %8.2f%%", aa->suite[s], aa->tested[s],
                       aa->tested[s] ? 100.0 * aa->flagged[s] / aa->tested[s] : 0, h * 100);
                for (int k = 0; k < nslow; k++) {
                    tally_t *x = &tally[paired][2 + k][mi];
                    int j = suite_slot(x, aa->suite[s]);
                    double eff = NAN; /* the injected side's measured effect on this suite's target rows */
                    for (int i = 0; i < cs.n; i++)
                        if (cs.c[i].metric == mi && cs.c[i].target && !strcmp(cs.c[i].suite, aa->suite[s]))
                            eff = measured_effect(&cs.c[i], 2 + k);
                    if (x->targets[j]) printf("  %8.1f%% %+5.1f%%", 100.0 * x->hit[j] / x->targets[j], (eff - 1) * 100);
                    else printf("  %9s %6s", "-", "-");
                }
                printf("  %5.1f%%  %5.1f%%  %8.2f\n", (o->threshold + h) * 100, (o->threshold + 1.84 * h) * 100,
                       secs / (rounds * S));
            }
        }
        double per = wall / (rounds * S);
        printf("\nan ab of these cases at R = %d rounds runs 2R = %d processes: about %.0f s on this machine now\n",
               trial_rounds, 2 * trial_rounds, 2 * trial_rounds * per);
    }
    for (int p = 0; p < 2 && tally; p++)
        for (int s = 0; s < 2 + MAX_SLOW; s++)
            for (int mi = 0; mi < MAX_METRICS; mi++) tally_free(&tally[p][s][mi]);
    free(tally);
    free(vb);
    free(vn);
    free(ib);
    free(in);
    free(keep);
    free(pool);
    cases_free(&cs);
    return rc;
}

/* ---- invocations mode: real sequential trials --------------------------------------------- */

typedef struct {
    regex_t *inject;
    int tested[MAX_METRICS], flagged[MAX_METRICS], targets[MAX_METRICS], targets_hit[MAX_METRICS];
} seq_tally_t;

/* compare row callback (time_s rows). */
static int seq_row(void *arg, const char *suite, const char *key, const char *metric, const qt_compare_result_t *r)
{
    (void)suite;
    seq_tally_t *t = arg;
    int j = 0;
    while (j < n_metrics && strcmp(metric, metric_list[j])) j++;
    if (j == n_metrics || r->verdict == QT_VERDICT_INSUFFICIENT || r->verdict == QT_VERDICT_ADDED ||
        r->verdict == QT_VERDICT_REMOVED)
        return 0;
    if (t->inject && regexec(t->inject, key, 0, NULL, 0) == 0) {
        t->targets[j]++;
        t->targets_hit[j] += r->verdict == QT_VERDICT_REGRESSION;
        return 0;
    }
    t->tested[j]++;
    t->flagged[j] += r->verdict == QT_VERDICT_REGRESSION || r->verdict == QT_VERDICT_IMPROVEMENT ||
                     r->verdict == QT_VERDICT_CHANGED;
    return 0;
}

static int run_invocations_mode(const char *exe, const char *const *args, int n, const char *dbpath,
                                const char *inject, regex_t *re, const double *slow, int nslow, int k, int trials,
                                const qt_compare_opts_t *o, const char *metrics)
{
    printf("\nrun --invocations (sequential: all of BASE's %d invocations, then NEW's; unpaired compare), %d real "
           "trial%s of each kind\n", k, trials, trials == 1 ? "" : "s");
    for (int kind = -1; kind < nslow; kind++) {
        char env[1200];
        seq_tally_t t;
        memset(&t, 0, sizeof t);
        t.inject = kind >= 0 ? re : NULL;
        if (kind >= 0) snprintf(env, sizeof env, "QT_INJECT_SLOWDOWN=%s:%g", inject, slow[kind]);
        double t0 = now_s();
        for (int i = 0; i < trials; i++) {
            qt_ab_spec_t spec;
            memset(&spec, 0, sizeof spec);
            spec.exe[0] = spec.exe[1] = exe;
            spec.env[1] = kind >= 0 ? env : NULL;
            spec.args = args;
            spec.n_args = n;
            spec.rounds = k;
            spec.seed = 5000 + (uint64_t)i;
            spec.db = dbpath;
            spec.quiet = 1;
            int64_t b, nw;
            if (qt_ab_measure(&spec, &b, &nw) != QT_OK || qt_compare_runs(dbpath, b, nw, metrics, o, 1, seq_row, &t) != QT_OK)
                return 3;
        }
        double wall = now_s() - t0;
        for (int j = 0; j < n_metrics; j++) {
            if (kind < 0)
                printf("  %s A/A: %d of %d rows flagged = %.2f%% (%.0f s)\n", metric_list[j], t.flagged[j], t.tested[j],
                       t.tested[j] ? 100.0 * t.flagged[j] / t.tested[j] : 0, wall);
            else
                printf("  %s +%g%%: injected rows detected %d of %d = %.1f%%; other rows flagged %d of %d (%.0f s)\n",
                       metric_list[j], slow[kind] * 100, t.targets_hit[j], t.targets[j],
                       t.targets[j] ? 100.0 * t.targets_hit[j] / t.targets[j] : 0, t.flagged[j], t.tested[j], wall);
        }
        fflush(stdout);
    }
    return 0;
}

/* The command. */
int qt_cmd_calibrate_gate(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet calibrate-gate: %s\n", qt_last_error());
        return 2;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet calibrate-gate [SUITE...] --inject REGEX [options]",
                      "Measures the regression gate on this machine. ab mode: N interleaved rounds of BASE, an A/A\n"
                      "copy and copies with QT_INJECT_SLOWDOWN=REGEX:F, then T simulated ab runs of R rounds drawn\n"
                      "from them, judged as ab judges: false-positive rate, detection rate per slowdown and suite,\n"
                      "interval half-width and minimum detectable effect per suite, seconds per process; the same\n"
                      "rounds judged unpaired for comparison. invocations mode: real sequential trials.\n"
                      "Exit: 0, 2 usage, 3 error.",
                      opts, N_OPTS);
        return 0;
    }
    const char *inject = qt_args_get(opts, N_OPTS, &a, "inject"), *v;
    if (!inject) {
        fprintf(stderr, "quintet calibrate-gate: --inject REGEX is required (the cases to slow down)\n");
        return 2;
    }
    long long rounds = 30, trial_rounds = 10, trials = 200, inv_trials = 3, reps = 5;
    int rounds_given = qt_args_get(opts, N_OPTS, &a, "rounds") != NULL;
    qt_compare_opts_t o = QT_GATE_DEFAULTS;
    if (((v = qt_args_get(opts, N_OPTS, &a, "trials")) && qt_args_int("--trials", v, 1, 100000, &trials) != QT_OK) ||
        ((v = qt_args_get(opts, N_OPTS, &a, "rounds")) && qt_args_int("--rounds", v, 2, 1000, &rounds) != QT_OK) ||
        ((v = qt_args_get(opts, N_OPTS, &a, "trial-rounds")) &&
         qt_args_int("--trial-rounds", v, 2, 1000, &trial_rounds) != QT_OK) ||
        ((v = qt_args_get(opts, N_OPTS, &a, "invocation-trials")) &&
         qt_args_int("--invocation-trials", v, 1, 1000, &inv_trials) != QT_OK) ||
        ((v = qt_args_get(opts, N_OPTS, &a, "repetitions")) && qt_args_int("--repetitions", v, 1, 1000, &reps) != QT_OK) ||
        qt_gate_parse(qt_args_get(opts, N_OPTS, &a, "threshold"), qt_args_get(opts, N_OPTS, &a, "alpha"), &o) != QT_OK) {
        fprintf(stderr, "quintet calibrate-gate: %s\n", qt_last_error());
        return 2;
    }
    double slow[MAX_SLOW];
    int nslow = 0;
    const char *sl = qt_args_get(opts, N_OPTS, &a, "slowdowns");
    for (const char *p = sl ? sl : "0.10,0.05"; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0)) {
        char tok[32];
        snprintf(tok, sizeof tok, "%.*s", (int)strcspn(p, ","), p);
        if (nslow == MAX_SLOW || qt_args_double("--slowdowns", tok, &slow[nslow]) != QT_OK ||
            !(slow[nslow] > 0 && slow[nslow] <= 10)) {
            fprintf(stderr, "quintet calibrate-gate: bad --slowdowns '%s': up to %d fractions in (0, 10], e.g. 0.10,0.05\n",
                    sl, MAX_SLOW);
            return 2;
        }
        nslow++;
    }
    const char *mode = qt_args_get(opts, N_OPTS, &a, "mode");
    if (!mode) mode = "ab";
    if (strcmp(mode, "ab") && strcmp(mode, "invocations") && strcmp(mode, "both")) {
        fprintf(stderr, "quintet calibrate-gate: unknown --mode '%s' (ab, invocations or both)\n", mode);
        return 2;
    }
    regex_t re;
    if (regcomp(&re, inject, REG_EXTENDED | REG_NOSUB)) {
        fprintf(stderr, "quintet calibrate-gate: bad --inject regex '%s'\n", inject);
        return 2;
    }
    static char mlist[256], metric_text[256];
    snprintf(metric_text, sizeof metric_text, "%s",
             qt_args_get(opts, N_OPTS, &a, "metric") ? qt_args_get(opts, N_OPTS, &a, "metric") : "time_s,cpu_time_s");
    snprintf(mlist, sizeof mlist, "%s", qt_args_get(opts, N_OPTS, &a, "metric") ? qt_args_get(opts, N_OPTS, &a, "metric")
                                                                                 : "time_s,cpu_time_s");
    n_metrics = 0;
    for (char *save = NULL, *tok = strtok_r(mlist, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n_metrics == MAX_METRICS) {
            fprintf(stderr, "quintet calibrate-gate: --metric: at most %d metrics\n", MAX_METRICS);
            regfree(&re);
            return 2;
        }
        metric_list[n_metrics++] = tok;
    }
    if (!n_metrics) {
        fprintf(stderr, "quintet calibrate-gate: --metric needs a metric name\n");
        regfree(&re);
        return 2;
    }
    const char *profile = qt_args_get(opts, N_OPTS, &a, "profile"), *filter = qt_args_get(opts, N_OPTS, &a, "filter");
    const char *db = qt_args_get(opts, N_OPTS, &a, "db");
    char exe[4096], dir[1024], dbpath[1200], reps_text[24];
    if (qt_self_exe(exe, sizeof exe) != QT_OK || (!db && qt_make_tmpdir("calib", dir, sizeof dir) != QT_OK)) {
        fprintf(stderr, "quintet calibrate-gate: %s\n", qt_last_error());
        regfree(&re);
        return 3;
    }
    if (!db) snprintf(dbpath, sizeof dbpath, "%s/trials.db", dir);
    else snprintf(dbpath, sizeof dbpath, "%s", db);
    const char *args[48];
    int n = 0;
    for (int i = 0; i < a.n_pos && n < 30; i++) args[n++] = a.pos[i];
    snprintf(reps_text, sizeof reps_text, "%lld", reps);
    args[n++] = "--profile";
    args[n++] = profile ? profile : "quick";
    args[n++] = "--repetitions";
    args[n++] = reps_text;
    if (filter) {
        args[n++] = "--filter";
        args[n++] = filter;
    }
    args[n++] = "--seed";
    args[n++] = "1";
    printf("calibrate-gate: %s; profile %s, %lld repetitions a process, threshold %g%%, alpha %g, metrics", exe,
           profile ? profile : "quick", reps, o.threshold * 100, o.alpha);
    for (int i = 0; i < n_metrics; i++) printf(" %s", metric_list[i]);
    printf("\n");
    fflush(stdout);
    double t0 = now_s();
    int rc = 0;
    if (strcmp(mode, "invocations"))
        rc = run_ab_mode(exe, args, n, dbpath, inject, &re, slow, nslow, (int)rounds, (int)trial_rounds, (int)trials, &o);
    if (rc == 0 && strcmp(mode, "ab"))
        rc = run_invocations_mode(exe, args, n, dbpath, inject, &re, slow, nslow,
                                  (int)(rounds_given && !strcmp(mode, "invocations") ? rounds : trial_rounds),
                                  (int)inv_trials, &o, metric_text);
    if (rc == 0) printf("calibrate-gate: %.0f s in all\n", now_s() - t0);
    if (rc == 3) fprintf(stderr, "quintet calibrate-gate: %s\n", qt_last_error());
    regfree(&re);
    if (!db) {
        char side[1300];
        const char *sfx[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(side, sizeof side, "%s%s", dbpath, sfx[i]);
            unlink(side);
        }
        qt_remove_tmpdir(dir);
    }
    return rc;
}
