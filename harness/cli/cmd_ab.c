/* cmd_ab.c — `quintet ab BASE NEW [SUITE...]`: interleaved randomized A/B of two builds, then
 * compare's table (the regression gate CI should use on shared machines: README, "Regression
 * gating"). BASE and NEW are executables that behave as `quintet` (a wrapper script that sets an
 * environment variable and execs quintet counts) or git commits, each built in a temporary git
 * worktree (`git worktree add --detach`, then `make quintet` there, removed afterwards).
 * Measurement in ab.h (qt_ab_measure: R rounds, order drawn per round, one process per side and
 * round, merged into two runs of --db with provenance ab_side/ab_peer/ab_design); the verdicts are
 * compare's, which pairs the two runs by round (compare.h: qt_compare_decide_paired). Exit status: 0 nothing regressed, 1 a regression, 2 bad usage (unknown
 * build, bad option), 3 a build, run or database error.
 * Run `quintet ab --help`; e.g. `quintet ab HEAD~1 HEAD calibration --filter harness_loop`.
 * Tested by tests/harness/test_gate.c (two copies of one binary: no change). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis/gate.h"
#include "analysis/resample.h"
#include "cli/ab.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "run/invocations.h"
#include "run/runner.h"
#include "store/store.h"

static const qt_opt_t opts[] = {
    {"db", "PATH", "database the two runs go to (default " QT_DEFAULT_DB ")"},
    {"rounds", "N", "rounds: each build runs the cases once per round, in random order (default 10)"},
    {"repetitions", "N", "repetitions per case per process (default 5)"},
    {"profile", "P", "quick | nightly | paper (default quick)"},
    {"filter", "REGEX", "only cases whose suite/case/variant/params match (as in run)"},
    {"seed", "S", "seed of the order and of the inputs (default 1)"},
    {"metric", "NAME", "metric(s) compare judges, comma-separated (default time_s; 'all'); on a loaded machine\n"
                       "                             time_s,cpu_time_s (README, Regression gating)"},
    {"threshold", "FRAC", "minimum effect, as in compare (default 0.05)"},
    {"alpha", "A", "significance level, as in compare (default 0.05)"},
    {"format", "F", "table | csv | json | junit (default table)"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

/* Run a shell command line; its exit status. */
static int sh(const char *cmd)
{
    fflush(NULL);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* 1 when text could be a git revision (no shell metacharacters). */
static int safe_rev(const char *t)
{
    for (const char *p = t; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/~^@{}-", *p)) return 0;
    return *t && *t != '-';
}

/* BASE/NEW as an executable path, or a git commit built in dir/name (exe gets the binary). Returns
 * 0, 2 (not an executable nor a commit) or 3 (build failure). */
static int resolve_build(const char *spec, const char dir[1024], const char *name, char *exe, size_t cap, int *worktree)
{
    *worktree = 0;
    if (strchr(spec, '/') && access(spec, X_OK) == 0) {
        if (!realpath(spec, exe)) snprintf(exe, cap, "%s", spec);
        return 0;
    }
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "git rev-parse --verify --quiet '%s^{commit}' >/dev/null 2>&1", spec);
    if (!safe_rev(spec) || sh(cmd) != 0) {
        if (access(spec, X_OK) == 0) {
            if (!realpath(spec, exe)) snprintf(exe, cap, "%s", spec);
            return 0;
        }
        fprintf(stderr, "quintet ab: '%s' is neither an executable nor a git commit of this repository\n", spec);
        return 2;
    }
    fprintf(stderr, "quintet ab: building %s in %s/%s\n", spec, dir, name);
    snprintf(cmd, sizeof cmd,
             "git worktree add --detach '%s/%s' '%s' >&2 && make -C '%s/%s' --no-print-directory QT_SKIP_INSTALL=1 "
             "-j2 quintet >&2",
             dir, name, spec, dir, name);
    *worktree = 1;
    if (sh(cmd) != 0) {
        fprintf(stderr, "quintet ab: building %s failed\n", spec);
        return 3;
    }
    snprintf(exe, cap, "%s/%s/build/quintet", dir, name);
    return 0;
}

/* Remove a build worktree made by resolve_build. */
static void remove_worktree(const char *dir, const char *name)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "git worktree remove --force '%s/%s' >/dev/null 2>&1", dir, name);
    sh(cmd);
}

/* Measure any number of sides (see ab.h). */
qt_status_t qt_ab_measure_sides(const qt_ab_spec_t *spec, int64_t *ids)
{
    int S = spec && spec->sides > 2 ? spec->sides : 2;
    QT_CHECK_ARG(spec && spec->rounds >= 1 && spec->db && ids && S <= QT_AB_MAX_SIDES && (S == 2 || spec->interleave),
                 "ab: bad arguments");
    char dir[4096];
    QT_TRY(qt_make_tmpdir("ab", dir, sizeof dir));
    int R = spec->rounds;
    char **paths = calloc((size_t)S * (size_t)R, sizeof *paths);
    if (!paths) return qt_fail(QT_ERR_NOMEM, "ab: out of memory");
    qt_rand_t rng;
    qt_rand_seed(&rng, spec->seed);
    qt_status_t st = QT_OK;
    static const char *const two[2] = {"base", "new"};
    const char *side_name[QT_AB_MAX_SIDES];
    for (int i = 0; i < S; i++) side_name[i] = S == 2 ? two[i] : spec->name[i] ? spec->name[i] : "side";
    for (int step = 0; step < S * R && st == QT_OK; step += S) {
        int order[QT_AB_MAX_SIDES];
        for (int i = 0; i < S; i++) order[i] = i;
        if (spec->interleave) /* Fisher-Yates: the order of the sides in this round */
            for (int i = S - 1; i > 0; i--) {
                int j = (int)(qt_rand_uniform(&rng) * (i + 1)), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        for (int j = 0; j < S && st == QT_OK; j++) {
            int k = step + j; /* sequential (2 sides): steps 0..R-1 are base's rounds, R..2R-1 new's */
            int side = spec->interleave ? order[j] : k >= R, round = spec->interleave ? step / S : k % R;
            char path[4200], env_inv[32];
            snprintf(path, sizeof path, "%s/%d-%s%d.db", dir, side, side_name[side], round + 1);
            snprintf(env_inv, sizeof env_inv, "QT_INVOCATION=%d", round + 1);
            const char *env[2] = {env_inv, spec->env[side]};
            if (!spec->quiet)
                fprintf(stderr, "quintet ab: round %d of %d, %s (%s)\n", round + 1, R, side_name[side], spec->exe[side]);
            int code = 0;
            FILE *saved = NULL;
            int fd = -1;
            if (spec->quiet) { /* children inherit stderr: point it at /dev/null meanwhile */
                fflush(stderr);
                fd = dup(2);
                saved = freopen("/dev/null", "w", stderr);
            }
            st = qt_spawn_run(spec->exe[side], spec->args, spec->n_args, path, env, spec->env[side] ? 2 : 1, &code);
            if (fd >= 0) {
                fflush(stderr);
                dup2(fd, 2);
                close(fd);
            }
            (void)saved;
            if (st == QT_OK && code != 0 && code != 1)
                st = qt_fail(QT_ERR_IO, "ab: %s run of round %d exited %d", side_name[side], round + 1, code);
            if (st == QT_OK && !(paths[side * R + round] = strdup(path))) st = qt_fail(QT_ERR_NOMEM, "ab: out of memory");
        }
    }
    qt_store_t *s = NULL;
    if (st == QT_OK) st = qt_store_open(spec->db, 1, 1, &s);
    char uuid[QT_AB_MAX_SIDES][37];
    for (int side = 0; side < S; side++) ids[side] = 0;
    for (int side = 0; side < S && st == QT_OK; side++) {
        qt_runner_uuid(uuid[side]);
        char cmd[512];
        snprintf(cmd, sizeof cmd, "quintet ab (%s: %s, %d rounds%s)", side_name[side], spec->exe[side], R,
                 spec->interleave ? ", interleaved" : ", sequential");
        st = qt_store_merge_runs(s, (const char *const *)(paths + side * R), R, uuid[side], cmd, "completed", &ids[side]);
        if (st == QT_OK) st = qt_store_run_set(s, ids[side], "ab_side", side_name[side]);
        if (st == QT_OK) st = qt_store_run_set(s, ids[side], "ab_build", spec->exe[side]);
        if (st == QT_OK && spec->env[side]) st = qt_store_run_set(s, ids[side], "ab_env", spec->env[side]);
        if (st == QT_OK)
            st = qt_store_run_set(s, ids[side], "ab_design", spec->interleave ? "interleaved" : "sequential");
    }
    for (int side = 0; side < S && st == QT_OK; side++)
        st = qt_store_run_set(s, ids[side], "ab_peer", uuid[side == 0 ? 1 : 0]);
    qt_store_close(s);
    for (int i = 0; i < S * R; i++) free(paths[i]);
    free(paths);
    qt_remove_tmpdir(dir);
    return st;
}

/* Two sides (see ab.h). */
qt_status_t qt_ab_measure(const qt_ab_spec_t *spec, int64_t *base_id, int64_t *new_id)
{
    QT_CHECK_ARG(spec && base_id && new_id, "ab: bad arguments");
    qt_ab_spec_t two = *spec;
    two.sides = 2;
    int64_t ids[2] = {0, 0};
    qt_status_t st = qt_ab_measure_sides(&two, ids);
    *base_id = ids[0];
    *new_id = ids[1];
    return st;
}

/* The command. */
int qt_cmd_ab(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet ab: %s\n", qt_last_error());
        return 2;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet ab BASE NEW [SUITE...] [options]",
                      "Interleaved randomized A/B of two builds: BASE and NEW are executables that behave as quintet\n"
                      "(e.g. a wrapper script) or git commits (each built in a temporary worktree). In each of --rounds\n"
                      "rounds both run the selected cases as fresh `run` processes in a random order; each side's\n"
                      "rounds become one run in --db (the round is the invocation), then compare's table follows.\n"
                      "Exit status: 0 no regression, 1 a regression, 2 bad usage, 3 build, run or database error.",
                      opts, N_OPTS);
        return 0;
    }
    if (a.n_pos < 2) {
        fprintf(stderr, "quintet ab: expected two builds, BASE and NEW (executables or git commits); see quintet ab --help\n");
        return 2;
    }
    long long rounds = 10, reps = 5;
    unsigned long long seed = 1;
    const char *v;
    qt_compare_opts_t o = QT_GATE_DEFAULTS;
    if (((v = qt_args_get(opts, N_OPTS, &a, "rounds")) && qt_args_int("--rounds", v, 2, 1000, &rounds) != QT_OK) ||
        ((v = qt_args_get(opts, N_OPTS, &a, "repetitions")) && qt_args_int("--repetitions", v, 1, 1000, &reps) != QT_OK) ||
        ((v = qt_args_get(opts, N_OPTS, &a, "seed")) && qt_args_u64("--seed", v, &seed) != QT_OK) ||
        qt_gate_parse(qt_args_get(opts, N_OPTS, &a, "threshold"), qt_args_get(opts, N_OPTS, &a, "alpha"), &o) != QT_OK) {
        fprintf(stderr, "quintet ab: %s\n", qt_last_error());
        return 2;
    }
    const char *profile = qt_args_get(opts, N_OPTS, &a, "profile"), *filter = qt_args_get(opts, N_OPTS, &a, "filter");
    const char *format = qt_args_get(opts, N_OPTS, &a, "format"), *metric = qt_args_get(opts, N_OPTS, &a, "metric");
    const char *db = qt_args_get(opts, N_OPTS, &a, "db");
    if (!db) db = QT_DEFAULT_DB;
    qt_profile_t prof;
    if (profile && qt_profile_parse(profile, &prof) != QT_OK) {
        fprintf(stderr, "quintet ab: %s\n", qt_last_error());
        return 2;
    }
    char dir[1024], exe[2][4096], reps_text[24], seed_text[32];
    if (qt_make_tmpdir("ab-build", dir, sizeof dir) != QT_OK) {
        fprintf(stderr, "quintet ab: %s\n", qt_last_error());
        return 3;
    }
    int wt[2] = {0, 0}, rc = 0;
    static const char *const names[2] = {"base", "new"};
    for (int i = 0; i < 2 && rc == 0; i++) rc = resolve_build(a.pos[i], dir, names[i], exe[i], sizeof exe[i], &wt[i]);
    if (rc == 0) {
        const char *args[48];
        int n = 0;
        for (int i = 2; i < a.n_pos && n < 30; i++) args[n++] = a.pos[i];
        snprintf(reps_text, sizeof reps_text, "%lld", reps);
        snprintf(seed_text, sizeof seed_text, "%llu", seed);
        args[n++] = "--profile";
        args[n++] = profile ? profile : "quick";
        args[n++] = "--repetitions";
        args[n++] = reps_text;
        args[n++] = "--seed";
        args[n++] = seed_text;
        if (filter) {
            args[n++] = "--filter";
            args[n++] = filter;
        }
        qt_ab_spec_t spec = {{exe[0], exe[1]}, {NULL, NULL}, args, n, (int)rounds, 1, seed, db, 0, 2, {NULL}};
        int64_t ids[2];
        if (qt_ab_measure(&spec, &ids[0], &ids[1]) != QT_OK) {
            fprintf(stderr, "quintet ab: %s\n", qt_last_error());
            rc = 3;
        } else {
            char b[32], nw[32], th[32], al[32];
            snprintf(b, sizeof b, "%lld", (long long)ids[0]);
            snprintf(nw, sizeof nw, "%lld", (long long)ids[1]);
            snprintf(th, sizeof th, "%.17g", o.threshold);
            snprintf(al, sizeof al, "%.17g", o.alpha);
            char *cargv[] = {b, nw, "--db", (char *)db, "--threshold", th, "--alpha", al, "--metric",
                             (char *)(metric ? metric : "time_s"), "--format", (char *)(format ? format : "table"), NULL};
            rc = qt_cmd_compare(12, cargv);
        }
    }
    for (int i = 0; i < 2; i++)
        if (wt[i]) remove_worktree(dir, names[i]);
    qt_remove_tmpdir(dir);
    return rc;
}
