/* test_compare.c — `quintet compare`, the regression gate, and its statistics.
 *
 *  - qt_mann_whitney against known values: scipy's documented example (exact and asymptotic),
 *    small exact cases counted by hand, a tied sample and a large sample worked by hand;
 *  - the metric-direction rule and the between-run noise figure;
 *  - synthetic databases written through the store API with controlled samples (each
 *    repetition = scale * base * (1 + 1% uniform noise), fresh draws per process), judged by the
 *    CLI binary build/quintet: an A/A pair gives no regression (exit 0); NEW 20% slower is a
 *    regression (exit 1), also as a rate; a 2% shift is unchanged; a 4% shift that the U test
 *    with a 1.5% threshold flags is suppressed by --baseline-runs over noisy baselines (the
 *    noise raises the threshold the interval must clear), which
 *    skip runs of another profile and runs not completed; added / removed / insufficient cases;
 *    bad input gives exit 2 with a message, a database error exit 3.
 * The verdicts below hold for every seed: the noise bounds are worked out next to each check.
 * Needs build/quintet (make test builds it first). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/compare.h"
#include "quintet/rng.h"
#include "analysis/stats.h"
#include "store/store.h"
#include "test_util.h"

static char out[1 << 16];

/* ---- Mann-Whitney U -------------------------------------------------------------------- */

/* scipy.stats.mannwhitneyu documentation example (males vs females, Conover's data): U = 17;
 * exact p = 0.1111111111111111 (= 14/126: P(U <= 3) = 7/126 arrangements, doubled);
 * asymptotic with continuity correction p = 0.11134688653314041. */
static void test_mwu_scipy_example(void)
{
    const double males[] = {19, 22, 16, 29, 24}, females[] = {20, 11, 17, 12};
    double u, p;
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney(males, 5, females, 4, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 17.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 1.0 / 9.0, 1e-12); /* exact: no ties, small samples */
    /* Swapping the samples gives U' = mn - U and the same two-sided p. */
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney(females, 4, males, 5, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 1.0 / 9.0, 1e-12);
    /* The asymptotic value by hand: sigma = sqrt(5*4*10/12), z = (17 - 10 - 0.5)/sigma,
     * p = erfc(z/sqrt 2) = 0.11134688653314041 (scipy's documented value; tolerance 1e-12). */
    double z = 6.5 / sqrt(200.0 / 12.0);
    CU_ASSERT_DOUBLE_EQUAL(erfc(z / sqrt(2.0)), 0.11134688653314041, 1e-12);
}

/* Exact small cases counted by hand. */
static void test_mwu_exact_small(void)
{
    double u, p;
    /* {1,2,3} vs {4,5,6}: U = 0, the one most extreme of C(6,3) = 20 arrangements: p = 2/20. */
    const double a[] = {1, 2, 3}, b[] = {4, 5, 6};
    CU_ASSERT_EQUAL(qt_mann_whitney(a, 3, b, 3, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_mann_whitney_min_p(3, 3), 0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(qt_mann_whitney_min_p(4, 4), 2.0 / 70.0, 1e-12);
    /* {1,3} vs {2,4,5}: U = 1 (3 > 2); of C(5,2) = 10 arrangements one has U = 0 and one
     * U = 1: p = 2 * 2/10 = 0.4. */
    const double c[] = {1, 3}, d[] = {2, 4, 5};
    CU_ASSERT_EQUAL(qt_mann_whitney(c, 2, d, 3, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 0.4, 1e-12);
    /* Interleaved {1,3,5} vs {2,4,6}: U = 3 (3>2, 5>2, 5>4); P(U <= 3) = (1+1+2+3)/20 = 7/20,
     * p = 0.7. NaN values are skipped. */
    const double e[] = {1, NAN, 3, 5}, f[] = {2, 4, 6};
    CU_ASSERT_EQUAL(qt_mann_whitney(e, 4, f, 3, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 0.7, 1e-12);
    /* Identical samples: p = 1 (exact, clipped), and all values tied: p = 1 (sigma = 0). */
    CU_ASSERT_EQUAL(qt_mann_whitney(a, 3, a, 3, &u, &p), QT_OK); /* ties: normal approximation */
    CU_ASSERT_DOUBLE_EQUAL(p, 1, 1e-12);
    const double g[] = {7, 7, 7};
    CU_ASSERT_EQUAL(qt_mann_whitney(g, 3, g, 3, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 4.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 1, 1e-12);
    /* Empty after NaN, NULL: errors, not crashes. */
    const double h[] = {NAN};
    CU_ASSERT_EQUAL(qt_mann_whitney(h, 1, a, 3, &u, &p), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_mann_whitney(NULL, 0, a, 3, &u, &p), QT_ERR_ARG);
}

/* Ties, exact: x = {1,2,2,3,4}, y = {2,3,5,6,6}. Pooled mid-ranks: 1->1, 2->3 (ranks 2,3,4),
 * 3->5.5, 4->7, 5->8, 6->9.5; R_x = 1+3+3+5.5+7 = 19.5, U = 19.5 - 15 = 4.5. Of the C(10,5) = 252
 * ways to choose x's positions, 30 give a rank sum at least as far from its mean 27.5 as 19.5 is
 * (counted by full enumeration in Python, itertools.combinations): p = 30/252 = 0.119047619...
 * (the normal approximation, which the test used before, gives 0.1104920241). */
static void test_mwu_ties(void)
{
    const double x[] = {1, 2, 2, 3, 4}, y[] = {2, 3, 5, 6, 6};
    double u, p;
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney(x, 5, y, 5, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 4.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p, 30.0 / 252.0, 1e-12);
}

/* Large samples (above QT_MWU_EXACT_MAX) without ties: x_i = i, y_j = j + 20.5, i, j < 60.
 * x_i > y_j iff i >= j + 21: U = 39 + 38 + ... + 1 = 780; mu = 1800, sigma^2 = 3600*121/12 =
 * 36300; z = (2820 - 1800 - 0.5)/190.5256 = 5.350987; p = erfc(z/sqrt2) = 8.7476e-08
 * (relative tolerance 1e-4 on the hand value). */
static void test_mwu_large(void)
{
    double x[60], y[60], u, p;
    for (int i = 0; i < 60; i++) {
        x[i] = i;
        y[i] = i + 20.5;
    }
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney(x, 60, y, 60, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 780, 1e-9);
    double z = 1019.5 / sqrt(36300.0);
    CU_ASSERT_DOUBLE_EQUAL(p, erfc(z / sqrt(2.0)), 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(p / 8.7476e-08, 1, 1e-4);
    /* At the exact/normal boundary (50 vs 50, still exact): x_i = i, y_j = j + 10.5: U = 39 + ... + 1
     * = 780; exact p = 0.0010550164711136758 (the same recurrence evaluated in exact integers by a
     * separate Python script; tolerance 1e-12 relative), while the normal approximation gives
     * 0.00120942 (z = 469.5 / sqrt(2500*101/12)): the exact path is really taken. */
    double xs[50], ys[50];
    for (int i = 0; i < 50; i++) {
        xs[i] = i;
        ys[i] = i + 10.5;
    }
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney(xs, 50, ys, 50, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 780, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p / 0.0010550164711136758, 1, 1e-12);
}

/* Textbook critical value: for n1 = n2 = 10 the two-sided 5% critical value of U is 23 (tables
 * of the Mann-Whitney U distribution, e.g. Siegel & Castellan, Nonparametric Statistics for the
 * Behavioral Sciences, 2nd ed., table J): p <= 0.05 at U = 23, p > 0.05 at U = 24.
 * x = 0..9; y = {-0.9, -0.8, s, 9.1, ..., 9.7} (no ties): U_x = 10 + 10 + #{x > s} + 0, so
 * s = 6.5 gives U = 23 and s = 5.5 gives U = 24. */
static void test_mwu_critical_value(void)
{
    double x[10], y[10], u, p;
    for (int i = 0; i < 10; i++) x[i] = i;
    y[0] = -0.9;
    y[1] = -0.8;
    for (int j = 3; j < 10; j++) y[j] = 9.1 + 0.1 * (j - 3);
    y[2] = 6.5;
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney(x, 10, y, 10, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 23, 1e-9);
    CU_ASSERT(p <= 0.05);
    y[2] = 5.5;
    CU_ASSERT_EQUAL_FATAL(qt_mann_whitney(x, 10, y, 10, &u, &p), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(u, 24, 1e-9);
    CU_ASSERT(p > 0.05);
}

/* The direction rule and the noise figure. */
static void test_direction_and_noise(void)
{
    const char *lower[] = {"time_s", "setup_s", "mpi_pingpong_us", "peak_bytes", "rel_error", "final_loss",
                           "steps_to_target"};
    const char *higher[] = {"gflops", "sgemm_gflops", "gbps", "stream_triad_gbps", "frac_sgemm", "speedup_dense",
                            "accuracy", "mass_recall"};
    const char *none[] = {"sparsity", "sde.flops", "papi.PAPI_TOT_INS", "rusage.minflt", "iterations_gflopsx"};
    for (size_t i = 0; i < sizeof lower / sizeof *lower; i++) CU_ASSERT_EQUAL(qt_metric_direction(lower[i]), -1);
    for (size_t i = 0; i < sizeof higher / sizeof *higher; i++) CU_ASSERT_EQUAL(qt_metric_direction(higher[i]), 1);
    for (size_t i = 0; i < sizeof none / sizeof *none; i++) CU_ASSERT_EQUAL(qt_metric_direction(none[i]), 0);
    CU_ASSERT(qt_metric_is_bookkeeping("sde.flops") && qt_metric_is_bookkeeping("case_wall_s"));
    CU_ASSERT(!qt_metric_is_bookkeeping("time_s"));
    const double m[] = {0.95, 1.0, 1.05};
    CU_ASSERT_DOUBLE_EQUAL(qt_compare_noise(m, 3), 0.1, 1e-12); /* (1.05 - 0.95) / 1.0 */
    CU_ASSERT(isnan(qt_compare_noise(m, 1)));
    /* decide(): 3 vs 2 repetitions is insufficient; a 3-vs-3 complete separation has its interval
     * beyond the threshold but cannot reach p < 0.05: inconclusive, and says so. */
    qt_compare_opts_t o = {0.05, 0.05};
    qt_compare_result_t r;
    const double b[] = {1, 1.01, 0.99}, n[] = {2, 2.01, 1.99};
    qt_sample_set_t sb = {b, NULL, 3}, sn = {n, NULL, 3}, sn2 = {n, NULL, 2};
    CU_ASSERT_EQUAL(qt_compare_decide(&sb, &sn2, -1, &o, NAN, 1, &r), QT_OK);
    CU_ASSERT_EQUAL(r.verdict, QT_VERDICT_INSUFFICIENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.note, "new has 2 repetitions"));
    CU_ASSERT_EQUAL(qt_compare_decide(&sb, &sn, -1, &o, NAN, 1, &r), QT_OK);
    CU_ASSERT_EQUAL(r.verdict, QT_VERDICT_INCONCLUSIVE);
    CU_ASSERT_EQUAL(r.interval_verdict, QT_VERDICT_REGRESSION);
    CU_ASSERT(r.p_floor);
    CU_ASSERT(r.ci_lo > 1.9 && r.ci_hi < 2.1);
    o.alpha = 0.2; /* p = 0.1 now passes: twice as slow is a regression, a rate halving too */
    CU_ASSERT_EQUAL(qt_compare_decide(&sb, &sn, -1, &o, NAN, 1, &r), QT_OK);
    CU_ASSERT_EQUAL(r.verdict, QT_VERDICT_REGRESSION);
    CU_ASSERT_EQUAL(qt_compare_decide(&sn, &sb, 1, &o, NAN, 1, &r), QT_OK);
    CU_ASSERT_EQUAL(r.verdict, QT_VERDICT_REGRESSION);
    CU_ASSERT_EQUAL(qt_compare_decide(&sb, &sn, 1, &o, NAN, 1, &r), QT_OK);
    CU_ASSERT_EQUAL(r.verdict, QT_VERDICT_IMPROVEMENT);
    CU_ASSERT_EQUAL(qt_compare_decide(&sb, &sn, 0, &o, NAN, 1, &r), QT_OK);
    CU_ASSERT_EQUAL(r.verdict, QT_VERDICT_CHANGED);
    CU_ASSERT_EQUAL(qt_compare_decide(&sb, &sn, -1, &o, 1.5, 1, &r), QT_OK); /* noise 150% > effect 100% */
    CU_ASSERT_EQUAL(r.verdict, QT_VERDICT_UNCHANGED);
}

/* ---- synthetic database ------------------------------------------------------------------ */

#define N_CASES 6
#define REPS 10

static char db_path[600];

/* Store one run: cases k0..k5 (each base time (k+1) ms), REPS repetitions of
 * time_s = scale * base * (1 + 0.01 (2u - 1)), gflops = 1e-3 / time_s and widgets (no direction)
 * = 1 / time_s, u fresh uniforms from stream `stream`. variant 1 drops k5, adds k6, gives k4 two
 * repetitions and k3 fails. Returns the run id. */
static int64_t put_run(qt_store_t *s, const char *profile, const char *status, double scale, uint64_t stream,
                       int variant)
{
    char uuid[64];
    snprintf(uuid, sizeof uuid, "synth-%llu-%s", (unsigned long long)stream, profile);
    qt_run_info_t ri = {.uuid = uuid, .command_line = "quintet run synth", .profile = profile, .seed = 1,
                        .git_commit = "abc", .git_dirty = 0, .host = "test-host", .cpu_model = "test", .cores = 2,
                        .threads = 2, .pid = 0, .started_at = 1700000000.0 + (double)stream};
    int64_t run = 0;
    CU_ASSERT_EQUAL_FATAL(qt_store_run_begin(s, &ri, &run), QT_OK);
    for (int k = 0; k < N_CASES + 1; k++) {
        if (k == N_CASES && variant == 0) continue;
        if (k == N_CASES - 1 && variant == 1) continue;
        int reps = variant == 1 && k == 4 ? 2 : REPS;
        qt_sample_t x[3 * REPS];
        int n = 0;
        for (int i = 0; i < reps; i++) {
            double u = qt_rng_uniform_f64(qt_test_seed(), stream, (uint64_t)(k * 64 + i));
            double t = scale * 1e-3 * (k + 1) * (1 + 0.01 * (2 * u - 1));
            x[n++] = (qt_sample_t){"time_s", "s", i, t, 0};
            x[n++] = (qt_sample_t){"gflops", "GFLOP/s", i, 1e-3 / t, 0};
            x[n++] = (qt_sample_t){"widgets", "1", i, 1 / t, 0};
        }
        char name[16], params[16];
        snprintf(name, sizeof name, "k%d", k);
        snprintf(params, sizeof params, "n=%d", 100 * (k + 1));
        int fail = variant == 1 && k == 3;
        qt_case_record_t c = {.suite = "synth", .name = name, .variant = "cpu", .params = params,
                              .status = fail ? "failed" : "ok", .message = fail ? "boom" : NULL,
                              .started_at = 1, .ended_at = 2, .samples = x, .n_samples = fail ? 0 : n};
        CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_OK);
    }
    CU_ASSERT_EQUAL(qt_store_run_end(s, run, status), QT_OK);
    return run;
}

/* The database of the CLI tests (ids in the order written):
 *  1 nightly 0.95 · 2 nightly 1.05 · 3 paper 2.0 · 4 nightly 3.0 interrupted   (baselines)
 *  5 nightly 1.00 = BASE · 6 nightly 1.00 (A/A) · 7 nightly 1.20 · 8 nightly 1.02 · 9 nightly 1.04
 *  10 nightly 1.00 with added/removed/insufficient/failed cases · 11 nightly 0.80 */
static void make_db(void)
{
    snprintf(db_path, sizeof db_path, "%s/compare.db", qt_test_tmpdir());
    unlink(db_path);
    qt_store_t *s;
    CU_ASSERT_EQUAL_FATAL(qt_store_open(db_path, 1, 1, &s), QT_OK);
    static const struct {
        const char *profile, *status;
        double scale;
        int variant;
    } runs[] = {
        {"nightly", "completed", 0.95, 0}, {"nightly", "completed", 1.05, 0}, {"paper", "completed", 2.0, 0},
        {"nightly", "interrupted", 3.0, 0}, {"nightly", "completed", 1.00, 0}, {"nightly", "completed", 1.00, 0},
        {"nightly", "completed", 1.20, 0}, {"nightly", "completed", 1.02, 0}, {"nightly", "completed", 1.04, 0},
        {"nightly", "completed", 1.00, 1}, {"nightly", "completed", 0.80, 0},
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        int64_t id = put_run(s, runs[i].profile, runs[i].status, runs[i].scale, 100 + i, runs[i].variant);
        CU_ASSERT_EQUAL(id, (int64_t)i + 1);
    }
    qt_store_close(s);
}

/* Run `quintet compare ARGS --db db_path`; returns the exit status, output in `out`. */
static int compare(const char *args)
{
    return qt_test_sh(out, sizeof out, "%s compare %s --db '%s'", qt_test_build_path("quintet"), args, db_path);
}

/* Number of lines of `out` containing both words (a table row with that verdict). */
static int count_rows(const char *w1, const char *w2)
{
    int n = 0;
    for (const char *line = out; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        if (strstr(buf, w1) && (!w2 || strstr(buf, w2))) n++;
        line = end ? end + 1 : NULL;
    }
    return n;
}

/* Print the output when a check fails (for the log). */
static void show_on_failure(int ok, const char *what)
{
    if (!ok) printf("\n  %s:\n%s\n", what, out);
}

/* A/A (same distribution, different draws): medians within 1% of each other, effect < 2% <
 * 5%: no regression whatever the U test says. */
static void test_cli_aa(void)
{
    int rc = compare("5 6 --metric all");
    show_on_failure(rc == 0 && strstr(out, "0 regressions, 0 improvements"), "A/A");
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "0 regressions, 0 improvements, 18 unchanged"));
    CU_ASSERT_EQUAL(count_rows("synth", "regression"), 0);
}

/* NEW 20% slower (every repetition in [1.188, 1.212] against [0.99, 1.01]: complete
 * separation, p = 2/C(20,10) ~ 1e-5, effect >= 17%): every case regresses, in time and in rate;
 * the direction-less metric is `changed`; 20% faster is an improvement. */
static void test_cli_regression(void)
{
    int rc = compare("5 7");
    show_on_failure(rc == 1, "20% slower");
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_EQUAL(count_rows("synth", "regression"), N_CASES);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "6 regressions, 0 improvements, 0 unchanged"));
    CU_ASSERT_EQUAL(compare("5 7 --metric gflops"), 1);
    CU_ASSERT_EQUAL(count_rows("synth", "regression"), N_CASES);
    CU_ASSERT_EQUAL(compare("5 7 --metric widgets"), 0);
    CU_ASSERT_EQUAL(count_rows("synth", "changed"), N_CASES);
    CU_ASSERT_EQUAL(compare("5 11 --metric all"), 0);
    CU_ASSERT_EQUAL(count_rows("synth", "improvement"), 2 * N_CASES);
    /* Machine-readable forms carry the same verdicts. */
    CU_ASSERT_EQUAL(compare("latest~6 latest~4 --format csv"), 1); /* 5 vs 7 */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "suite,case,variant,params,metric,unit,n_base,n_new,invocations_base,invocations_new,median_base"));
    CU_ASSERT_EQUAL(count_rows("\"regression\"", "\"synth\""), N_CASES);
    CU_ASSERT_EQUAL(compare("5 7 --format json --suite synth"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"regression\": true"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"regression\": 6"));
    /* Another suite or metric matches nothing: bad usage, listing what the runs hold. */
    CU_ASSERT_EQUAL(compare("5 7 --suite other"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "unknown suite 'other'; the runs hold: synth"));
    CU_ASSERT_EQUAL(compare("5 7 --metric nosuch"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "unknown metric 'nosuch'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "time_s"));
}

/* A 2% shift (ratio within [1.0098/1.01, 1.0302/0.99] = [1.000, 1.041]) stays under the 5%
 * threshold: unchanged, even though the U test alone usually calls it significant. */
static void test_cli_below_threshold(void)
{
    int rc = compare("5 8");
    show_on_failure(rc == 0, "2% shift");
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(count_rows("synth", "unchanged"), N_CASES);
}

/* A 4% shift (effect in [1.94%, 6.1%], complete separation) is a regression under a 1.5%
 * threshold; the noise of baselines 5, 2, 1 (medians 1.00, 1.05, 0.95 +-1%: range >= 7.9%)
 * suppresses it. Runs 3 (paper, 2.0x) and 4 (interrupted, 3.0x) must not count: with them the
 * noise would exceed 100% and hide the 20% regression, which stays flagged (effect >= 17.6% >
 * noise <= 12.1%). */
static void test_cli_baseline_runs(void)
{
    int rc = compare("5 9 --threshold 0.015");
    show_on_failure(rc == 1, "4% shift, plain");
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_EQUAL(count_rows("synth", "regression"), N_CASES);
    rc = compare("5 9 --threshold 0.015 --baseline-runs 3");
    show_on_failure(rc == 0, "4% shift, baseline-runs 3");
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(count_rows("synth", "unchanged"), N_CASES);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "over 3 runs (5 2 1)"));
    rc = compare("5 7 --baseline-runs 3 --format json");
    show_on_failure(rc == 1, "20% slower, baseline-runs 3");
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"baseline_run_ids\": [5, 2, 1]"));
    /* More runs asked for than exist: uses those there are. */
    CU_ASSERT_EQUAL(compare("5 9 --threshold 0.015 --baseline-runs 10"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "over 3 runs (5 2 1)"));
    /* From run 1 there is one baseline run only: no noise figure, and a warning. */
    CU_ASSERT_EQUAL(compare("1 7 --baseline-runs 3"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "no noise figure"));
}

/* Run 10 lacks k5, adds k6, has 2 repetitions of k4 and a failed k3. */
static void test_cli_added_removed(void)
{
    int rc = compare("5 10");
    show_on_failure(rc == 0, "added/removed");
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(count_rows(" k5 ", "removed"), 1);
    CU_ASSERT_EQUAL(count_rows(" k6 ", "added"), 1);
    CU_ASSERT_EQUAL(count_rows(" k4 ", "insufficient"), 1);
    CU_ASSERT_EQUAL(count_rows("new has 2 repetitions", NULL), 1);
    CU_ASSERT_EQUAL(count_rows(" k3 ", "new case failed: boom"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "0 regressions, 0 improvements, 3 unchanged, 0 changed, 0 inconclusive, 1 added, "
                                       "1 removed, 2 insufficient"));
}

/* Bad usage: exit 2 with a message; database trouble: exit 3. */
static void test_cli_bad_input(void)
{
    static const struct {
        const char *args, *expect;
    } cases[] = {
        {"5", "expected two runs"},
        {"5 6 7", "expected two runs"},
        {"5 6 --bogus", "unknown option"},
        {"5 6 --threshold -0.1", "bad --threshold"},
        {"5 6 --threshold 5%", "bad --threshold"},
        {"5 6 --threshold nan", "bad --threshold"},
        {"5 6 --alpha 0", "bad --alpha"},
        {"5 6 --alpha 1.5", "bad --alpha"},
        {"5 6 --baseline-runs -1", "--baseline-runs"},
        {"5 6 --format xml", "unknown format"},
        {"5 999", "no run '999'"},
        {"latest~99 5", "too few runs"},
        {"5 6 --metric=", "--metric"},
    };
    char suffix[sizeof db_path + 16];
    snprintf(suffix, sizeof suffix, "--db '%s'", db_path);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        qt_test_expect_cli("compare", cases[i].args, suffix, 2, cases[i].expect);
    CU_ASSERT_EQUAL(compare("--help"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--baseline-runs"));
    /* No database, a foreign file: exit 3. */
    CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "%s compare 1 2 --db /nonexistent/dir/q.db",
                               qt_test_build_path("quintet")), 3);
    char junk[700];
    snprintf(junk, sizeof junk, "%s/junk.db", qt_test_tmpdir());
    FILE *f = fopen(junk, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("not a database at all, but long enough to have a header of one hundred bytes..........................\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "%s compare 1 2 --db '%s'", qt_test_build_path("quintet"), junk), 3);
    unlink(junk);
}

/* Build the database once, then the CLI checks. */
static void test_cli(void)
{
    make_db();
    test_cli_aa();
    test_cli_regression();
    test_cli_below_threshold();
    test_cli_baseline_runs();
    test_cli_added_removed();
    test_cli_bad_input();
    unlink(db_path);
}

QT_TEST_MAIN("compare", {"Mann-Whitney: scipy example", test_mwu_scipy_example},
             {"Mann-Whitney: exact small cases", test_mwu_exact_small}, {"Mann-Whitney: ties", test_mwu_ties},
             {"Mann-Whitney: large samples", test_mwu_large}, {"Mann-Whitney: critical value", test_mwu_critical_value}, {"direction, noise, decide", test_direction_and_noise},
             {"CLI on a synthetic database", test_cli})
