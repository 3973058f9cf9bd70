/* test_gate.c — the regression gate that tells noise from change (issue 9):
 *  - the hierarchical bootstrap interval of a ratio of medians covers the true ratio about 95% of
 *    the time on synthetic invocations × repetitions with a known distribution;
 *  - exact Mann-Whitney p-values with ties against full enumeration (Python itertools, values in
 *    the comments), and the attainable minimum p with ties;
 *  - the exact Wilcoxon signed-rank test against tabulated values and, with ties and zeros,
 *    against enumeration of all 2^m signs;
 *  - `ab`'s paired decision: synthetic rounds whose common drift (30%) swamps a 10% effect are
 *    called a regression in >= 95% of trials (the unpaired decision on the same data is not) and
 *    'unchanged' without an effect; the paired interval covers the true ratio about 95% of the time;
 *  - Benjamini-Hochberg on a worked case (as R's p.adjust "BH"), restating rows sharing a test;
 *  - Tukey outliers and the bimodality flag (4 of 10 repetitions slower is flagged; normal
 *    samples rarely are);
 *  - change points: a step, a slow creep, pure noise (rarely anything);
 *  - the injection hook QT_INJECT_SLOWDOWN: parsing, provenance of an injected run;
 *  - `run --invocations 2`: one merged run whose samples carry invocations 1 and 2;
 *  - `ab` on two copies of the same binary reports no regression and stores two runs by round;
 *  - `calibrate-gate` end to end on harness_loop: A/A rate, detection of an injected 3x slowdown;
 *  - compare --format junit: a failing test case per regression, names XML-escaped.
 * Needs build/quintet (make test builds it). Keeps to a few seconds on 2 cores. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/changepoint.h"
#include "analysis/compare.h"
#include "analysis/resample.h"
#include "analysis/stats.h"
#include "output/junit.h"
#include "run/runner.h"
#include "store/store.h"
#include "test_util.h"

static char out[1 << 16];

/* Synthetic side: K invocations of R repetitions, value = mu (1 + sb z_k)(1 + sw z_kr). */
static void draw_side(qt_rand_t *g, double mu, int K, int R, double sb, double sw, double *v, int *inv)
{
    for (int k = 0; k < K; k++) {
        double off = 1 + sb * qt_rand_normal(g);
        for (int r = 0; r < R; r++) {
            v[k * R + r] = mu * off * (1 + sw * qt_rand_normal(g));
            inv[k * R + r] = k + 1;
        }
    }
}

/* Coverage: 300 trials of 10 invocations × 5 repetitions a side, between-invocation sd 3%,
 * within 1%, true ratio 1.10; the 95% interval (400 replicates) must cover 1.10 in 88-99% of the
 * trials (binomial sd at 95% over 300 trials is 1.3%; the percentile bootstrap with 10 top-level
 * units runs a little narrow, hence the lower bound). */
static void test_bootstrap_coverage(void)
{
    enum { K = 10, R = 5, TRIALS = 300 };
    qt_rand_t g;
    qt_rand_seed(&g, qt_test_seed());
    double vb[K * R], vn[K * R];
    int ib[K * R], in[K * R], covered = 0;
    for (int t = 0; t < TRIALS; t++) {
        draw_side(&g, 1.0, K, R, 0.03, 0.01, vb, ib);
        draw_side(&g, 1.1, K, R, 0.03, 0.01, vn, in);
        qt_sample_set_t b = {vb, ib, K * R}, n = {vn, in, K * R};
        double lo, hi;
        CU_ASSERT_EQUAL_FATAL(qt_boot_ratio_ci(&b, &n, 400, 0.95, (uint64_t)t + 1, &lo, &hi), QT_OK);
        covered += lo <= 1.1 && 1.1 <= hi;
    }
    double rate = (double)covered / TRIALS;
    printf("\n    coverage %.3f over %d trials\n", rate, TRIALS);
    CU_ASSERT(rate >= 0.88 && rate <= 0.99);
    /* Invocation bookkeeping. */
    qt_sample_set_t b = {vb, ib, K * R};
    CU_ASSERT_EQUAL(qt_sample_invocations(&b), K);
    double *med = NULL;
    CU_ASSERT_EQUAL(qt_sample_invocation_medians(&b, &med), K);
    free(med);
}

/* Exact p with ties against enumeration of all C(N, m) placements (Python):
 *   {1,1,2} vs {2,3,3}: 4/20 = 0.2;  {5,5,5,6} vs {6,6,7,7,7}: 6/126;  {1,2,2} vs {2,3,3}: 6/20 = 0.3,
 *   and there the smallest attainable p is 0.3 too (ties raise the no-tie floor of 0.1);
 *   {1,1,1,1} vs {2,2,2,2}: 2/70. The normal approximation used before gave about 0.047 for a
 *   3-vs-3 tied sample and called it a regression; exact, 3 vs 3 never reaches 0.05. */
static void test_exact_ties(void)
{
    double u, p, pmin;
    const double a[] = {1, 1, 2}, b[] = {2, 3, 3};
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney_ex(a, 3, b, 3, &u, &p, &pmin), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(p, 0.2, 1e-12);
    const double c[] = {5, 5, 5, 6}, d[] = {6, 6, 7, 7, 7};
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney_ex(c, 4, d, 5, &u, &p, &pmin), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(p, 6.0 / 126.0, 1e-12);
    const double e[] = {1, 2, 2}, f[] = {2, 3, 3};
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney_ex(e, 3, f, 3, &u, &p, &pmin), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(p, 0.3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(pmin, 0.3, 1e-12);
    const double h[] = {1, 1, 1, 1}, k[] = {2, 2, 2, 2};
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney_ex(h, 4, k, 4, &u, &p, &pmin), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(p, 2.0 / 70.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(u, 0, 1e-12);
}

/* Signed-rank, against the tables (Conover, Table A12; n = 10: two-sided 0.05 critical value
 * W = 8, P = 50/1024 = 0.0488) and against enumeration of the 2^m signs (Python itertools; zeros
 * dropped, mid-ranks): {1,-1,2,2,3,0}: W+ 13.5, 6/32; {.5,.5,.5,-.5,1,1,2,3}: W+ 33.5, 10/256. */
static void test_signed_rank(void)
{
    double w, p, pmin;
    const double a[] = {1, 2, 3, 4, 5, 6}; /* all six positive: 2/64 */
    CU_ASSERT_EQUAL_FATAL(qt_signed_rank(a, 6, &w, &p, &pmin), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(w, 21, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 2.0 / 64, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(pmin, 2.0 / 64, 1e-12);
    CU_ASSERT_EQUAL_FATAL(qt_signed_rank(a, 5, &w, &p, &pmin), QT_OK); /* five rounds never reach 0.05 */
    CU_ASSERT_DOUBLE_EQUAL(pmin, 2.0 / 32, 1e-12);
    const double b[] = {1, 2, -3, -4, 5, -6, -7, -8, -9, -10};
    CU_ASSERT_EQUAL_FATAL(qt_signed_rank(b, 10, &w, &p, NULL), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(w, 8, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 50.0 / 1024, 1e-12);
    const double c[] = {1, -1, 2, 2, 3, 0};
    CU_ASSERT_EQUAL_FATAL(qt_signed_rank(c, 6, &w, &p, NULL), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(w, 13.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 6.0 / 32, 1e-12);
    const double d[] = {0.5, 0.5, 0.5, -0.5, 1, 1, 2, 3};
    CU_ASSERT_EQUAL_FATAL(qt_signed_rank(d, 8, &w, &p, NULL), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(w, 33.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 10.0 / 256, 1e-12);
    const double z[] = {0, 0, NAN};
    CU_ASSERT_EQUAL_FATAL(qt_signed_rank(z, 3, &w, &p, &pmin), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(p, 1, 1e-12);
    /* Above the exact limit the normal approximation: 80 differences, all positive. */
    double big[80];
    for (int i = 0; i < 80; i++) big[i] = i + 1;
    CU_ASSERT_EQUAL_FATAL(qt_signed_rank(big, 80, &w, &p, NULL), QT_OK);
    CU_ASSERT(p < 1e-10);
}

/* Synthetic paired rounds: R rounds, each with a drift factor exp(drift z) common to both sides
 * (a machine that is 30% faster or slower from round to round), a per-round side factor
 * (1 + sr z) and repetitions (1 + sw z); NEW's true ratio is effect. */
static void draw_rounds(qt_rand_t *g, int R, int reps, double drift, double sr, double sw, double effect, double *vb,
                        int *ib, double *vn, int *in)
{
    for (int k = 0; k < R; k++) {
        double common = exp(drift * qt_rand_normal(g)), ob = 1 + sr * qt_rand_normal(g),
               on = 1 + sr * qt_rand_normal(g);
        for (int r = 0; r < reps; r++) {
            vb[k * reps + r] = common * ob * (1 + sw * qt_rand_normal(g));
            vn[k * reps + r] = effect * common * on * (1 + sw * qt_rand_normal(g));
            ib[k * reps + r] = in[k * reps + r] = k + 1;
        }
    }
}

/* The paired decision: 10 rounds of 5 repetitions, common drift 30%, per-round side noise 1.5%,
 * repetitions 1%. A 10% slowdown is a regression in >= 95% of 60 trials while the unpaired
 * decision on the same samples (drift 30% >> effect) calls it one in under 20%; without an effect
 * the paired decision says 'unchanged' in >= 90% and never regression/improvement; the paired
 * 95% interval covers the true ratio in >= 85% of the trials. */
static void test_paired_drift(void)
{
    enum { R = 10, REPS = 5, TRIALS = 60 };
    qt_rand_t g;
    qt_rand_seed(&g, qt_test_seed());
    double vb[R * REPS], vn[R * REPS];
    int ib[R * REPS], in[R * REPS], hit = 0, hit_unpaired = 0, unchanged = 0, flagged = 0, covered = 0;
    qt_compare_opts_t o = {0.05, 0.05};
    for (int t = 0; t < TRIALS; t++) {
        qt_compare_result_t r;
        draw_rounds(&g, R, REPS, 0.30, 0.015, 0.01, 1.10, vb, ib, vn, in);
        qt_sample_set_t b = {vb, ib, R * REPS}, n = {vn, in, R * REPS};
        CU_ASSERT_EQUAL_FATAL(qt_compare_decide_paired(&b, &n, -1, &o, NAN, (uint64_t)t + 1, &r), QT_OK);
        CU_ASSERT_EQUAL(r.paired, 1);
        CU_ASSERT_EQUAL(r.pairs, R);
        hit += r.verdict == QT_VERDICT_REGRESSION;
        covered += r.ci_lo <= 1.10 && 1.10 <= r.ci_hi;
        CU_ASSERT_EQUAL_FATAL(qt_compare_decide(&b, &n, -1, &o, NAN, (uint64_t)t + 1, &r), QT_OK);
        hit_unpaired += r.verdict == QT_VERDICT_REGRESSION;
        draw_rounds(&g, R, REPS, 0.30, 0.015, 0.01, 1.0, vb, ib, vn, in);
        CU_ASSERT_EQUAL_FATAL(qt_compare_decide_paired(&b, &n, -1, &o, NAN, (uint64_t)t + 1000, &r), QT_OK);
        unchanged += r.verdict == QT_VERDICT_UNCHANGED;
        flagged += r.verdict == QT_VERDICT_REGRESSION || r.verdict == QT_VERDICT_IMPROVEMENT;
    }
    printf("\n    paired: +10%% detected %d/%d (unpaired %d/%d), A/A unchanged %d/%d, flagged %d, coverage %d/%d\n", hit,
           TRIALS, hit_unpaired, TRIALS, unchanged, TRIALS, flagged, covered, TRIALS);
    CU_ASSERT(hit >= TRIALS * 95 / 100);
    CU_ASSERT(hit_unpaired < TRIALS / 5);
    CU_ASSERT(unchanged >= TRIALS * 9 / 10);
    CU_ASSERT_EQUAL(flagged, 0);
    /* Under-coverage is the failure to catch (P(< 51 of 60) at 95% is 5e-4); over-coverage is not bounded:
     * 60 of 60 happens in ~5% of seeds at 95%, and the A/A 'unchanged' count above already fails
     * an interval too wide to fit inside the threshold. */
    CU_ASSERT(covered >= TRIALS * 85 / 100);
    /* Rounds one side lacks are left out; with fewer than 2 pairs the decision is the unpaired one. */
    for (int i = 0; i < REPS; i++) in[i] = 99;
    qt_sample_set_t b = {vb, ib, R * REPS}, n = {vn, in, R * REPS};
    qt_compare_result_t r;
    CU_ASSERT_EQUAL_FATAL(qt_compare_decide_paired(&b, &n, -1, &o, NAN, 7, &r), QT_OK);
    CU_ASSERT_EQUAL(r.pairs, R - 1);
    qt_sample_set_t one = {vn, in, REPS};
    CU_ASSERT_EQUAL_FATAL(qt_compare_decide_paired(&b, &one, -1, &o, NAN, 7, &r), QT_OK);
    CU_ASSERT_EQUAL(r.paired, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.note, "unpaired"));
}

/* BH: p = {0.01, 0.04, 0.03, 0.005, NaN}: sorted 0.005, 0.01, 0.03, 0.04 (m = 4) times 4/rank =
 * 0.02, 0.02, 0.04, 0.04, already monotone: q = {0.02, 0.04, 0.04, 0.02, NaN} (R: p.adjust). */
static void test_bh(void)
{
    const double p[] = {0.01, 0.04, 0.03, 0.005, NAN};
    double q[5];
    CU_ASSERT_EQUAL(qt_bh_adjust(p, 5, q), 4);
    const double want[] = {0.02, 0.04, 0.04, 0.02};
    for (int i = 0; i < 4; i++) CU_ASSERT_DOUBLE_EQUAL(q[i], want[i], 1e-15);
    CU_ASSERT(isnan(q[4]));
    /* Monotone step-up: {0.01, 0.02, 0.03} x 3/rank = 0.03 each. */
    const double p2[] = {0.03, 0.01, 0.02};
    double q2[3];
    qt_bh_adjust(p2, 3, q2);
    for (int i = 0; i < 3; i++) CU_ASSERT_DOUBLE_EQUAL(q2[i], 0.03, 1e-15);
    /* A derived rate restating row 0 is not a test of its own: m = 2, and it takes row 0's q. */
    qt_compare_result_t r[3];
    memset(r, 0, sizeof r);
    r[0].p = 0.02;
    r[1].p = 0.04;
    r[2].p = 1e-9;
    for (int i = 0; i < 3; i++) r[i].interval_verdict = QT_VERDICT_REGRESSION;
    qt_compare_result_t *rp[3] = {&r[0], &r[1], &r[2]};
    long fam[3] = {0, 1, 0};
    CU_ASSERT_EQUAL(qt_compare_bh(rp, fam, 3, 0.05), 2);
    CU_ASSERT_DOUBLE_EQUAL(r[0].q, 0.04, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(r[2].q, 0.04, 1e-15);
    CU_ASSERT_EQUAL(r[2].verdict, QT_VERDICT_REGRESSION);
    CU_ASSERT(qt_metric_restates_time("gflops") && qt_metric_restates_time("stream_triad_gbps") &&
              qt_metric_restates_time("frac_sgemm") && !qt_metric_restates_time("time_s"));
}

/* Outliers and shape. */
static void test_outliers_shape(void)
{
    const double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100};
    CU_ASSERT_EQUAL(qt_tukey_outliers(v, 11), 1);
    CU_ASSERT_EQUAL(qt_tukey_outliers(v, 10), 0);
    /* 4 of 10 repetitions 10% slower (1% noise): bimodal, though the median barely moves. */
    const double bi[] = {1.00, 1.01, 0.99, 1.005, 0.995, 1.002, 1.10, 1.11, 1.09, 1.105};
    double d;
    CU_ASSERT(qt_bimodal(bi, 10, &d));
    CU_ASSERT(d > QT_BIMODAL_D + QT_BIMODAL_D_N / 10);
    qt_rand_t g;
    qt_rand_seed(&g, qt_test_seed() + 7);
    int flagged = 0;
    for (int t = 0; t < 500; t++) {
        double x[10];
        for (int i = 0; i < 10; i++) x[i] = 1 + 0.01 * qt_rand_normal(&g);
        flagged += qt_bimodal(x, 10, NULL);
    }
    printf("\n    bimodal flags on 500 normal samples of 10: %d\n", flagged);
    CU_ASSERT(flagged <= 15); /* about 1% expected; under 3% */
}

/* Change points on synthetic series of run medians (noise sd 1% unless said). */
static void test_changepoints(void)
{
    qt_rand_t g;
    qt_rand_seed(&g, qt_test_seed() + 11);
    double m[40];
    qt_cp_result_t r;
    /* A +12% step at run 15 of 30: one regression step there. */
    for (int i = 0; i < 30; i++) m[i] = (i >= 15 ? 1.12 : 1.0) * (1 + 0.01 * qt_rand_normal(&g));
    CU_ASSERT_EQUAL_FATAL(qt_cp_analyze(m, 30, -1, 0.05, NAN, &r), QT_OK);
    int found = 0;
    for (size_t k = 0; k < r.n_steps; k++)
        found |= r.step[k].verdict == QT_VERDICT_REGRESSION && r.step[k].at >= 14 && r.step[k].at <= 16;
    CU_ASSERT(found);
    /* The same step down in a rate (higher is better) is a regression too; up is an improvement. */
    CU_ASSERT_EQUAL_FATAL(qt_cp_analyze(m, 30, 1, 0.05, NAN, &r), QT_OK);
    found = 0;
    for (size_t k = 0; k < r.n_steps; k++)
        found |= r.step[k].verdict == QT_VERDICT_IMPROVEMENT && r.step[k].at >= 14 && r.step[k].at <= 16;
    CU_ASSERT(found);
    /* Creep: +3% per run from run 15 on (25 runs: +31% at the end): flagged, as steps that are
     * regressions or as a creep, beginning between runs 13 and 20. */
    for (int i = 0; i < 25; i++) m[i] = pow(1.03, i > 15 ? i - 15 : 0) * (1 + 0.01 * qt_rand_normal(&g));
    CU_ASSERT_EQUAL_FATAL(qt_cp_analyze(m, 25, -1, 0.05, NAN, &r), QT_OK);
    size_t first = 1000;
    for (size_t k = 0; k < r.n_steps; k++)
        if (r.step[k].verdict == QT_VERDICT_REGRESSION && r.step[k].at < first) first = r.step[k].at;
    if (r.creep && r.creep_from < first) first = r.creep_from;
    CU_ASSERT(first >= 13 && first <= 20);
    /* A slower creep (+1% per run, 20 runs) with 0.5% noise: no single step reaches 5%, the creep does. */
    for (int i = 0; i < 20; i++) m[i] = pow(1.01, i) * (1 + 0.005 * qt_rand_normal(&g));
    CU_ASSERT_EQUAL_FATAL(qt_cp_analyze(m, 20, -1, 0.05, NAN, &r), QT_OK);
    int any = r.creep;
    for (size_t k = 0; k < r.n_steps; k++) any |= r.step[k].verdict == QT_VERDICT_REGRESSION;
    CU_ASSERT(any);
    /* Pure noise (2% sd, 30 runs): a regression or creep in under 5% of 200 series. */
    int false_alarms = 0;
    for (int t = 0; t < 200; t++) {
        for (int i = 0; i < 30; i++) m[i] = 1 + 0.02 * qt_rand_normal(&g);
        CU_ASSERT_EQUAL_FATAL(qt_cp_analyze(m, 30, -1, 0.05, NAN, &r), QT_OK);
        int alarm = r.creep;
        for (size_t k = 0; k < r.n_steps; k++) alarm |= r.step[k].verdict == QT_VERDICT_REGRESSION;
        false_alarms += alarm;
    }
    printf("\n    change-point false alarms on 200 noise series: %d\n", false_alarms);
    CU_ASSERT(false_alarms <= 16); /* 2-4% seen; under 8% */
}

/* QT_INJECT_SLOWDOWN: parsing, then an injected run records the hook in its provenance. */
static void test_inject(void)
{
    regex_t re;
    double f = 0;
    CU_ASSERT_EQUAL(qt_runner_inject_parse("calibration/stream_triad:0.10", &re, &f), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(f, 0.10, 1e-15);
    CU_ASSERT_EQUAL(regexec(&re, "calibration/stream_triad/host/n=1", 0, NULL, 0), 0);
    regfree(&re);
    CU_ASSERT_EQUAL(qt_runner_inject_parse("a:b:0.5", &re, &f), QT_OK); /* the last ':' splits */
    CU_ASSERT_EQUAL(regexec(&re, "xa:by", 0, NULL, 0), 0);
    regfree(&re);
    const char *bad[] = {"nocolon", ":0.1", "x:", "x:0", "x:-1", "x:11", "x:1e", "(:0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CU_ASSERT_EQUAL(qt_runner_inject_parse(bad[i], &re, &f), QT_ERR_ARG);
    const char *db = qt_test_fresh_path("inject.db");
    int rc = qt_test_sh(out, sizeof out,
                        "QT_INJECT_SLOWDOWN='harness_loop:0.5' %s run calibration --filter harness_loop "
                        "--repetitions 3 --db '%s'", qt_test_build_path("quintet"), db);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "TEST HOOK QT_INJECT_SLOWDOWN"));
    char v[256];
    qt_test_sql_text(db, "SELECT value FROM run_provenance WHERE key = 'inject_slowdown'", v, sizeof v);
    CU_ASSERT_STRING_EQUAL(v, "harness_loop:0.5");
    rc = qt_test_sh(out, sizeof out, "QT_INJECT_SLOWDOWN='x:zero' %s run calibration --filter harness_loop --db '%s'",
                    qt_test_build_path("quintet"), db);
    CU_ASSERT_EQUAL(rc, 2);
}

/* `run --invocations 2`: one merged run, samples tagged 1 and 2, repetitions unique. */
static void test_invocations(void)
{
    const char *db = qt_test_fresh_path("inv.db");
    int rc = qt_test_sh(out, sizeof out, "%s run calibration --filter harness_loop --invocations 2 --repetitions 3 --db '%s'",
                        qt_test_build_path("quintet"), db);
    if (rc) printf("\n%s\n", out);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM runs"), 1);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT invocations FROM runs"), 2);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(DISTINCT invocation) FROM samples WHERE metric = 'time_s'"), 2);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM samples WHERE metric = 'time_s'"), 6);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT n FROM case_stats WHERE metric = 'time_s'"), 6);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 1);
}

/* ab on two copies of the same binary: no regression (3 rounds a side cannot even reach p < 0.05
 * on round medians, so at most "inconclusive"), two runs of 3 invocations each. */
static void test_ab_same_binary(void)
{
    const char *db = qt_test_fresh_path("ab.db"), *copy = qt_test_fresh_path("quintet-copy");
    CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "cp '%s' '%s'", qt_test_build_path("quintet"), copy), 0);
    int rc = qt_test_sh(out, sizeof out,
                        "%s ab %s '%s' calibration --filter harness_loop --rounds 3 --repetitions 3 --db '%s'",
                        qt_test_build_path("quintet"), qt_test_build_path("quintet"), copy, db);
    if (rc) printf("\n%s\n", out);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "0 regressions"));
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM runs WHERE invocations = 3"), 2);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM run_provenance WHERE key = 'ab_side'"), 2);
    CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "%s ab %s /nonexistent/q --db '%s'", qt_test_build_path("quintet"),
                               qt_test_build_path("quintet"), db), 2);
}

/* calibrate-gate end to end, small: 6 rounds of BASE, an A/A copy and a copy with harness_loop
 * made 3x slower (QT_INJECT_SLOWDOWN=harness_loop:2), 4 simulated ab runs of all 6 rounds: the
 * table has the A/A rate, the detection line and the suite's MDE row; the injected case is detected
 * (each round's ratio is ~3, and 6 paired rounds reach p = 0.031); no A/A row is flagged. Then a
 * bad --metric and a --inject that matches nothing. */
static void test_calibrate_gate(void)
{
    int rc = qt_test_sh(out, sizeof out,
                        "%s calibrate-gate calibration --filter harness_loop --inject harness_loop --rounds 6 "
                        "--trial-rounds 6 --trials 4 --slowdowns 2 --repetitions 3 --metric time_s",
                        qt_test_build_path("quintet"));
    if (rc) printf("\n%s\n", out);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "A/A: 0 of 4 rows flagged"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "+200%: injected rows detected 4 of 4"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "MDE95%"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "judged unpaired"));
    CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "%s calibrate-gate --inject x --metric ''", qt_test_build_path("quintet")), 2);
    rc = qt_test_sh(out, sizeof out,
                    "%s calibrate-gate calibration --filter harness_loop --inject nomatch --rounds 2 --trials 1 "
                    "--slowdowns 1 --repetitions 3", qt_test_build_path("quintet"));
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "matches no measured case"));
}

/* JUnit: escaping, then compare --format junit on two stored runs of 5 invocations a side, NEW
 * 20% slower, with a case name that needs escaping: one failure, exit 1. */
static void test_junit(void)
{
    const char *path = qt_test_fresh_path("esc.txt");
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    qt_junit_escape(f, "a&b<c>\"d'\x01");
    fclose(f);
    char text[128] = "";
    f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(text, sizeof text, f));
    fclose(f);
    CU_ASSERT_STRING_EQUAL(text, "a&amp;b&lt;c&gt;&quot;d&apos;?");

    const char *db = qt_test_fresh_path("junit.db");
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_store_open(db, 1, 1, &s), QT_OK);
    qt_rand_t g;
    qt_rand_seed(&g, qt_test_seed() + 3);
    for (int run = 0; run < 2; run++) {
        char uuid[32];
        snprintf(uuid, sizeof uuid, "junit-%d", run);
        qt_run_info_t ri = {.uuid = uuid, .profile = "quick", .host = "h", .invocations = 5};
        int64_t id;
        CU_ASSERT_EQUAL_FATAL(qt_store_run_begin(s, &ri, &id), QT_OK);
        const char *names[] = {"a&b<c", "plain"};
        for (int c = 0; c < 2; c++) {
            qt_sample_t x[25];
            for (int i = 0; i < 25; i++) {
                double scale = run == 1 && c == 0 ? 1.2 : 1.0;
                x[i] = (qt_sample_t){"time_s", "s", i, scale * (1 + 0.01 * qt_rand_normal(&g)), 1 + i / 5};
            }
            qt_case_record_t rec = {"synth", names[c], "cpu", "n=1", "ok", NULL, 1, 2, x, 25, NULL, 0};
            CU_ASSERT_EQUAL(qt_store_case(s, id, &rec), QT_OK);
        }
        CU_ASSERT_EQUAL(qt_store_run_end(s, id, "completed"), QT_OK);
    }
    qt_store_close(s);
    int rc = qt_test_sh(out, sizeof out, "%s compare 1 2 --format junit --db '%s'", qt_test_build_path("quintet"), db);
    if (rc != 1) printf("\n%s\n", out);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<testsuite name=\"quintet compare 1 2\" tests=\"2\" failures=\"1\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "classname=\"synth.a&amp;b&lt;c\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<failure message=\"regression: +"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "5/5 invocations"));
    rc = qt_test_sh(out, sizeof out, "%s compare 1 2 --db '%s'", qt_test_build_path("quintet"), db);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 regression, 0 improvements, 1 unchanged"));
}

/* history names the run where a step began: 12 runs of one case, 1% noise, +15% from run 7 on. */
static void test_history_steps(void)
{
    const char *db = qt_test_fresh_path("steps.db");
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_store_open(db, 1, 1, &s), QT_OK);
    qt_rand_t g;
    qt_rand_seed(&g, qt_test_seed() + 5);
    for (int run = 1; run <= 12; run++) {
        char uuid[32], commit[32];
        snprintf(uuid, sizeof uuid, "steps-%d", run);
        snprintf(commit, sizeof commit, "c0ffee%02d", run);
        qt_run_info_t ri = {.uuid = uuid, .profile = "nightly", .host = "h", .git_commit = commit,
                            .started_at = 1700000000.0 + 86400 * run};
        int64_t id;
        CU_ASSERT_EQUAL_FATAL(qt_store_run_begin(s, &ri, &id), QT_OK);
        double level = (run >= 7 ? 1.15 : 1.0) * (1 + 0.01 * qt_rand_normal(&g));
        qt_sample_t x[5];
        for (int i = 0; i < 5; i++) x[i] = (qt_sample_t){"time_s", "s", i, level * (1 + 0.002 * qt_rand_normal(&g)), 0};
        qt_case_record_t rec = {"synth", "k", "cpu", "n=1", "ok", NULL, 1, 2, x, 5, NULL, 0};
        CU_ASSERT_EQUAL(qt_store_case(s, id, &rec), QT_OK);
        CU_ASSERT_EQUAL(qt_store_run_end(s, id, "completed"), QT_OK);
    }
    qt_store_close(s);
    int rc = qt_test_sh(out, sizeof out, "%s history --case k --db '%s'", qt_test_build_path("quintet"), db);
    CU_ASSERT_EQUAL(rc, 0);
    if (!strstr(out, "change point at run 7 (commit c0ffee07")) printf("\n%s\n", out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "change point at run 7 (commit c0ffee07"));
    CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "%s history --case k --format json --db '%s'",
                               qt_test_build_path("quintet"), db), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "regression\""));
}

QT_TEST_MAIN("gate", {"bootstrap coverage", test_bootstrap_coverage}, {"exact p with ties", test_exact_ties},
             {"signed-rank test", test_signed_rank}, {"ab: paired rounds under drift", test_paired_drift},
             {"Benjamini-Hochberg", test_bh}, {"outliers and bimodality", test_outliers_shape},
             {"change points", test_changepoints}, {"injection hook", test_inject},
             {"run --invocations", test_invocations}, {"ab: same binary twice", test_ab_same_binary},
             {"compare --format junit", test_junit}, {"calibrate-gate", test_calibrate_gate},
             {"history change points", test_history_steps})
