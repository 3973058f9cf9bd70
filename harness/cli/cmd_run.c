/* cmd_run.c — `quintet run [SUITE...] [options]`: parse and validate the options,
 * then hand over to the runner (runner.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "run/runner.h"

static const qt_opt_t opts[] = {
    {"profile", "P", "quick | nightly | paper (default quick)"},
    {"db", "PATH", "database file (default " QT_DEFAULT_DB ")"},
    {"filter", "REGEX", "only cases whose suite/case/variant/params match (POSIX ERE)"},
    {"repetitions", "N", "repetitions per timed case (default: quick 3, nightly 10, paper 20)"},
    {"seed", "S", "base seed of every random input (default 1)"},
    {"backend", "B", "only cases of this backend: ref, cpu, cuda, mpi, nccl"},
    {"counters", "LIST", "PAPI events, comma-separated (default " "PAPI_TOT_INS,PAPI_TOT_CYC,PAPI_L1_DCM,PAPI_L2_DCM)"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

/* argv joined with spaces, single-quoting arguments that need it. */
static void join_command_line(int argc, char **argv, char *out, size_t size)
{
    snprintf(out, size, "quintet run");
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(out);
        int quote = strpbrk(argv[i], " \t'\"$*?[]|&;<>()\\") != NULL || !argv[i][0];
        snprintf(out + len, size - len, quote ? " '%s'" : " %s", argv[i]);
    }
}

/* The command. */
int qt_cmd_run(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet run: %s\n", qt_last_error());
        return 2;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet run [SUITE...] [options]",
                      "Runs the calibration suite, then the given suites (default: all), storing every\n"
                      "repetition in the database. Progress goes to stderr. Exit status: 0 all cases ok,\n"
                      "1 a case failed, 2 bad usage, 3 database error, 130 interrupted (finished cases kept).",
                      opts, N_OPTS);
        return 0;
    }
    qt_run_opts_t o = {0};
    o.db_path = qt_args_get(opts, N_OPTS, &a, "db");
    if (!o.db_path) o.db_path = QT_DEFAULT_DB;
    const char *v;
    o.profile = QT_PROFILE_QUICK;
    if ((v = qt_args_get(opts, N_OPTS, &a, "profile")) && qt_profile_parse(v, &o.profile) != QT_OK) goto bad;
    long long reps = 0;
    if ((v = qt_args_get(opts, N_OPTS, &a, "repetitions")) && qt_args_int("--repetitions", v, 1, 1000, &reps) != QT_OK)
        goto bad;
    o.repetitions = (int)reps;
    unsigned long long seed = 1;
    if ((v = qt_args_get(opts, N_OPTS, &a, "seed")) && qt_args_u64("--seed", v, &seed) != QT_OK) goto bad;
    o.seed = seed;
    o.filter = qt_args_get(opts, N_OPTS, &a, "filter");
    o.backend = qt_args_get(opts, N_OPTS, &a, "backend");
    if (o.backend && strcmp(o.backend, "ref") && strcmp(o.backend, "cpu") && strcmp(o.backend, "cuda") &&
        strcmp(o.backend, "mpi") && strcmp(o.backend, "nccl")) {
        fprintf(stderr, "quintet run: unknown backend '%s' (expected ref, cpu, cuda, mpi or nccl)\n", o.backend);
        return 2;
    }
    o.counters = qt_args_get(opts, N_OPTS, &a, "counters");
    o.suites = (const char *const *)a.pos;
    o.n_suites = a.n_pos;
    char cmdline[4096];
    join_command_line(argc, argv, cmdline, sizeof cmdline);
    o.command_line = cmdline;
    return qt_runner_run(&o);
bad:
    fprintf(stderr, "quintet run: %s\n", qt_last_error());
    return 2;
}
