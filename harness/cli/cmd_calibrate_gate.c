/* cmd_calibrate_gate.c — `quintet calibrate-gate [SUITE...] --inject REGEX`: measures the
 * regression gate itself on this machine, instead of assuming it works.
 *
 * Trials (each measures this build against itself with qt_ab_measure, ab.h, into a scratch
 * database): A/A trials, where nothing changed, give the false-positive rate = rows flagged
 * (regression, improvement or changed) / rows tested; injected trials run NEW with the test hook
 * QT_INJECT_SLOWDOWN=REGEX:FRACTION (runner.c: the matching cases' timed region lengthened by
 * FRACTION) and give the detection rate = trials whose injected time_s rows all came out
 * `regression` / trials. Both for `ab` (rounds interleaved in random order) and for `run
 * --invocations` (all of BASE's invocations, then NEW's), as --mode says. From the A/A rows it
 * also prints, per suite, the median half-width h of the ratio interval and the minimum detectable
 * effect: about threshold + h at 50% detection and threshold + 1.84 h at 95% (the interval's lower
 * end, 1.96 sd below the effect, must clear the threshold 95% of the time: 1.96 + 1.645 = 3.6 sd).
 * Exit status: 0 done, 2 bad usage, 3 a run or database error.
 * Run `quintet calibrate-gate --help`, e.g.
 *   quintet calibrate-gate calibration --filter 'harness_loop|stream' --inject stream_triad --trials 20
 * Tested through the same code paths by tests/harness/test_gate.c (ab, injection). */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/gate.h"
#include "analysis/stats.h"
#include "cli/ab.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "run/invocations.h"
#include "run/suite.h"

static const qt_opt_t opts[] = {
    {"inject", "REGEX", "cases to slow down in injected trials (POSIX ERE over suite/case/variant/params)"},
    {"filter", "REGEX", "only these cases (as in run)"},
    {"trials", "N", "trials of each kind (default 10)"},
    {"rounds", "K", "rounds (ab) or invocations (run --invocations) per side (default 6)"},
    {"repetitions", "R", "repetitions per case per process (default 5)"},
    {"slowdowns", "F,F", "injected fractions (default 0.10,0.05)"},
    {"mode", "M", "ab | invocations | both (default both)"},
    {"profile", "P", "quick | nightly | paper (default quick)"},
    {"metric", "NAME", "metric judged (default time_s)"},
    {"threshold", "FRAC", "the gate's threshold (default 0.05)"},
    {"alpha", "A", "the gate's alpha (default 0.05)"},
    {"db", "PATH", "scratch database for the trials (default: a temporary file, removed)"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

#define MAX_SUITES 16

/* What the rows of one trial said. */
typedef struct {
    regex_t *inject;
    const char *metric;
    int tested, flagged, targets, targets_hit;
    char suite[MAX_SUITES][48];
    double *hw[MAX_SUITES];
    size_t nhw[MAX_SUITES];
    int nsuites, failed;
} tally_t;

/* compare row callback: count tested and flagged rows, injected rows, interval half-widths. */
static int tally_row(void *arg, const char *suite, const char *key, const char *metric, const qt_compare_result_t *r)
{
    tally_t *t = arg;
    if (isnan(r->p) && r->verdict != QT_VERDICT_UNCHANGED && r->verdict != QT_VERDICT_INCONCLUSIVE) return 0;
    int target = t->inject && regexec(t->inject, key, 0, NULL, 0) == 0;
    if (target) {
        t->targets++;
        t->targets_hit += r->verdict == QT_VERDICT_REGRESSION;
        return 0;
    }
    t->tested++;
    t->flagged += r->verdict == QT_VERDICT_REGRESSION || r->verdict == QT_VERDICT_IMPROVEMENT ||
                  r->verdict == QT_VERDICT_CHANGED;
    if (t->inject || isnan(r->ci_lo) || strcmp(metric, strcmp(t->metric, "all") ? t->metric : "time_s")) return 0;
    int s = 0;
    while (s < t->nsuites && strcmp(t->suite[s], suite)) s++;
    if (s == t->nsuites) {
        if (s == MAX_SUITES) return 0;
        snprintf(t->suite[s], sizeof t->suite[s], "%s", suite);
        t->nsuites++;
    }
    double *v = realloc(t->hw[s], (t->nhw[s] + 1) * sizeof *v);
    if (!v) return t->failed = 1;
    t->hw[s] = v;
    v[t->nhw[s]++] = (r->ci_hi - r->ci_lo) / 2;
    return 0;
}

/* One trial: measure, compare, tally. */
static qt_status_t trial(qt_ab_spec_t *spec, const char *metric, const qt_compare_opts_t *o, tally_t *t)
{
    int64_t b, n;
    QT_TRY(qt_ab_measure(spec, &b, &n));
    return qt_compare_runs(spec->db, b, n, metric, o, 0, tally_row, t);
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
                      "A/A trials (this build against itself) give the gate's false-positive rate; trials with\n"
                      "QT_INJECT_SLOWDOWN=REGEX:F in NEW give its detection rate for each F; for `ab` and for\n"
                      "`run --invocations`; then the minimum detectable effect per suite. Exit: 0, 2 usage, 3 error.",
                      opts, N_OPTS);
        return 0;
    }
    const char *inject = qt_args_get(opts, N_OPTS, &a, "inject"), *v;
    if (!inject) {
        fprintf(stderr, "quintet calibrate-gate: --inject REGEX is required (the cases to slow down)\n");
        return 2;
    }
    long long trials = 10, rounds = 6, reps = 5;
    qt_compare_opts_t o = QT_GATE_DEFAULTS;
    if (((v = qt_args_get(opts, N_OPTS, &a, "trials")) && qt_args_int("--trials", v, 1, 10000, &trials) != QT_OK) ||
        ((v = qt_args_get(opts, N_OPTS, &a, "rounds")) && qt_args_int("--rounds", v, 2, 1000, &rounds) != QT_OK) ||
        ((v = qt_args_get(opts, N_OPTS, &a, "repetitions")) && qt_args_int("--repetitions", v, 1, 1000, &reps) != QT_OK) ||
        qt_gate_parse(qt_args_get(opts, N_OPTS, &a, "threshold"), qt_args_get(opts, N_OPTS, &a, "alpha"), &o) != QT_OK) {
        fprintf(stderr, "quintet calibrate-gate: %s\n", qt_last_error());
        return 2;
    }
    double slow[8];
    int nslow = 0;
    const char *sl = qt_args_get(opts, N_OPTS, &a, "slowdowns");
    for (const char *p = sl ? sl : "0.10,0.05"; *p && nslow < 8; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0)) {
        char tok[32];
        snprintf(tok, sizeof tok, "%.*s", (int)strcspn(p, ","), p);
        if (qt_args_double("--slowdowns", tok, &slow[nslow]) != QT_OK || !(slow[nslow] > 0 && slow[nslow] <= 10)) {
            fprintf(stderr, "quintet calibrate-gate: bad --slowdowns '%s': fractions in (0, 10], e.g. 0.10,0.05\n", sl);
            return 2;
        }
        nslow++;
    }
    const char *mode = qt_args_get(opts, N_OPTS, &a, "mode");
    if (!mode) mode = "both";
    if (strcmp(mode, "ab") && strcmp(mode, "invocations") && strcmp(mode, "both")) {
        fprintf(stderr, "quintet calibrate-gate: unknown --mode '%s' (ab, invocations or both)\n", mode);
        return 2;
    }
    regex_t re;
    if (regcomp(&re, inject, REG_EXTENDED | REG_NOSUB)) {
        fprintf(stderr, "quintet calibrate-gate: bad --inject regex '%s'\n", inject);
        return 2;
    }
    const char *metric = qt_args_get(opts, N_OPTS, &a, "metric"), *profile = qt_args_get(opts, N_OPTS, &a, "profile");
    const char *filter = qt_args_get(opts, N_OPTS, &a, "filter"), *db = qt_args_get(opts, N_OPTS, &a, "db");
    if (!metric) metric = "time_s";
    char exe[4096], dir[1024], dbpath[1200], reps_text[24], seed_text[32];
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
    int seed_at = n;
    args[n++] = "--seed";
    args[n++] = seed_text;
    (void)seed_at;
    snprintf(seed_text, sizeof seed_text, "1");
    printf("calibrate-gate: %s; %lld trials of each kind, %lld %s a side, %lld repetitions, threshold %g%%, alpha %g,"
           " metric %s\n", exe, trials, rounds, "rounds/invocations", reps, o.threshold * 100, o.alpha, metric);
    int rc = 0;
    for (int m = 0; m < 2 && rc == 0; m++) {
        int interleave = m == 0;
        if (strcmp(mode, "both") && strcmp(mode, interleave ? "ab" : "invocations")) continue;
        const char *label = interleave ? "ab (interleaved rounds)" : "run --invocations (sequential)";
        tally_t aa;
        memset(&aa, 0, sizeof aa);
        aa.metric = metric;
        for (long long t = 0; t < trials && rc == 0; t++) {
            qt_ab_spec_t spec = {{exe, exe}, {NULL, NULL}, args, n, (int)rounds, interleave, 1000 + (uint64_t)t, dbpath, 1};
            if (trial(&spec, metric, &o, &aa) != QT_OK) rc = 3;
            fprintf(stderr, "calibrate-gate: %s A/A trial %lld of %lld: %d of %d rows flagged so far\n", label, t + 1,
                    trials, aa.flagged, aa.tested);
        }
        if (rc) break;
        printf("\n%s\n  A/A: %d of %d rows flagged = %.2f%% false positives\n", label, aa.flagged, aa.tested,
               aa.tested ? 100.0 * aa.flagged / aa.tested : 0);
        for (int s = 0; s < aa.nsuites; s++) {
            double h = qt_quantile(aa.hw[s], aa.nhw[s], 0.5);
            printf("  %-20s median interval half-width %.2f%%: minimum detectable effect ~%.1f%% (50%% detection), "
                   "~%.1f%% (95%%)\n", aa.suite[s], h * 100, (o.threshold + h) * 100, (o.threshold + 1.84 * h) * 100);
            free(aa.hw[s]);
        }
        for (int k = 0; k < nslow && rc == 0; k++) {
            char env[1200];
            snprintf(env, sizeof env, "QT_INJECT_SLOWDOWN=%s:%g", inject, slow[k]);
            tally_t inj;
            memset(&inj, 0, sizeof inj);
            inj.metric = metric;
            inj.inject = &re;
            int detected = 0;
            for (long long t = 0; t < trials && rc == 0; t++) {
                int before = inj.targets, hit = inj.targets_hit;
                qt_ab_spec_t spec = {{exe, exe}, {NULL, env}, args, n, (int)rounds, interleave, 5000 + (uint64_t)t,
                                     dbpath, 1};
                if (trial(&spec, metric, &o, &inj) != QT_OK) rc = 3;
                detected += inj.targets > before && inj.targets_hit - hit == inj.targets - before;
                fprintf(stderr, "calibrate-gate: %s +%g%% trial %lld of %lld: detected %d so far\n", label,
                        slow[k] * 100, t + 1, trials, detected);
            }
            if (rc) break;
            if (inj.targets == 0) {
                fprintf(stderr, "quintet calibrate-gate: --inject '%s' matches no compared row\n", inject);
                rc = 2;
                break;
            }
            printf("  +%g%% on %s: detected in %d of %lld trials = %.0f%%; other rows flagged %d of %d = %.2f%%\n",
                   slow[k] * 100, inject, detected, trials, 100.0 * detected / (double)trials, inj.flagged, inj.tested,
                   inj.tested ? 100.0 * inj.flagged / inj.tested : 0);
        }
    }
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
