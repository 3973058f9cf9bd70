/* cmd_run.c — `quintet run [SUITE...] [options]`: parse and validate the options,
 * then hand over to the runner (runner.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "quintet/backend.h"
#include "run/launch.h"
#include "run/hwcounters.h"
#include "run/pin.h"
#include "run/runner.h"

/* A backend of the registry, or a machine label of the calibration ceilings (which exist
 * whether or not a technique backend of that kind was built). */
static int known_backend(const char *name)
{
    static const char *const labels[] = {"host", "cuda", "mpi", "nccl"};
    if (qt_backend_iface_find(name)) return 1;
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (!strcmp(name, labels[i])) return 1;
    return 0;
}

static const qt_opt_t opts[] = {
    {"profile", "P", "quick | nightly | paper (default quick)"},
    {"db", "PATH", "database file (default " QT_DEFAULT_DB ")"},
    {"filter", "REGEX", "only cases whose suite/case/variant/params match (POSIX ERE)"},
    {"repetitions", "N", "repetitions per timed case (default: quick 3, nightly 5, paper 20)"},
    {"seed", "S", "base seed of every random input (default 1)"},
    {"backend", "B", "only cases of this backend (one of the registry's: quintet env lists them)"},
    {"invocations", "K", "run every case in K separate processes (the unit of replication; default:\n"
                          "                             quick 1, nightly 4, paper 1)"},
    {"counters", "LIST", "PAPI events, comma-separated (default " "PAPI_TOT_INS,PAPI_TOT_CYC,PAPI_L1_DCM,PAPI_L2_DCM)"},
    {"ranks", "N", "run on N MPI ranks: starts mpirun itself (inside mpirun/srun: checks the world is N)"},
    {"transport", "T", "with --ranks: shm (default) or tcp (OpenMPI's TCP over loopback, as between machines)"},
    {"pin", "CPUS", "run on these CPUs only (CPU affinity, e.g. 0 or 0-3,8; recorded as cpu.affinity)"},
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
    if (o.backend && !known_backend(o.backend)) {
        char names[256];
        fprintf(stderr, "quintet run: unknown backend '%s' (this build's registry: %s; calibration also labels its "
                        "ceilings host, cuda, mpi)\n", o.backend, qt_backend_names(names, sizeof names, ", "));
        return 2;
    }
    long long inv = 0; /* 0: the profile's default */
    if ((v = qt_args_get(opts, N_OPTS, &a, "invocations")) && qt_args_int("--invocations", v, 1, 1000, &inv) != QT_OK)
        goto bad;
    o.invocations = (int)inv;
    o.counters = qt_args_get(opts, N_OPTS, &a, "counters");
    if (qt_hwc_check_names(o.counters) != QT_OK) goto bad;
    if ((v = qt_args_get(opts, N_OPTS, &a, "pin")) && qt_pin_apply(v) != QT_OK) goto bad;
    if (qt_cli_db_folder("run", o.db_path)) return 2;
    /* --ranks N: outside a launcher, start this binary under mpirun without --ranks/--transport;
     * inside one (mpirun, srun), the world size must agree. */
    if ((v = qt_args_get(opts, N_OPTS, &a, "ranks"))) {
        long long ranks = 0;
        if (qt_args_int("--ranks", v, 1, 4096, &ranks) != QT_OK) goto bad;
        const char *tr = qt_args_get(opts, N_OPTS, &a, "transport");
        if (tr && strcmp(tr, "shm") && strcmp(tr, "tcp")) {
            fprintf(stderr, "quintet run: --transport must be shm or tcp, not '%s'\n", tr);
            return 2;
        }
        int world = 1;
        (void)qt_launch_rank(&world);
        if (world > 1 && world != ranks) {
            fprintf(stderr, "quintet run: --ranks %lld but the launcher started %d ranks\n", ranks, world);
            return 2;
        }
        if (world == 1 && ranks > 1) {
            char **av = calloc((size_t)argc + 2, sizeof *av);
            if (!av) return 2;
            int k = 0;
            av[k++] = "quintet";
            av[k++] = "run";
            for (int i = 0; i < argc; i++) {
                int eq = !strncmp(argv[i], "--ranks=", 8) || !strncmp(argv[i], "--transport=", 12);
                int sep = !strcmp(argv[i], "--ranks") || !strcmp(argv[i], "--transport");
                if (sep) i++;
                else if (!eq) av[k++] = argv[i];
            }
            int rc = qt_launch_mpirun((int)ranks, tr, k, av);
            free(av);
            return rc;
        }
    }
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
