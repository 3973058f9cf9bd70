/* runner.h — runs suites into the store: calibration first (its ceilings are
 * offered to every later case), then each selected suite's cases for the
 * profile, filtered by regex and backend. The filter and backend apply to
 * calibration only when it is named among the suites. Timed cases go through Google
 * Benchmark (gbench.h) with the counters of hwcounters.h read around each
 * repetition; experiments run once per seed. Each finished case is stored in
 * its own transaction; SIGINT/SIGTERM stop the current case, mark the run
 * 'interrupted' and keep everything finished. Progress goes to stderr. */
#ifndef QUINTET_RUNNER_H
#define QUINTET_RUNNER_H

#include <regex.h>
#include <stdint.h>

#include "run/suite.h"

typedef struct {
    const char *db_path;
    qt_profile_t profile;
    const char *const *suites; /* names; n_suites == 0 runs every suite */
    int n_suites;
    const char *filter;        /* POSIX extended regex over "suite/case/variant/params", or NULL */
    int repetitions;           /* 0: the profile's default */
    uint64_t seed;
    const char *backend;       /* only cases of this variant, or NULL */
    const char *counters;      /* PAPI event list, or NULL for the defaults */
    const char *command_line;
    int invocations;           /* > 1: each case in that many separate processes (invocations.c);
                                  0: the profile's default (nightly: several; runner.c) */
} qt_run_opts_t;

/* Exit codes of a run. */
enum { QT_RUN_OK = 0, QT_RUN_CASES_FAILED = 1, QT_RUN_BAD_INPUT = 2, QT_RUN_STORE_ERROR = 3, QT_RUN_INTERRUPTED = 130 };

/* Run and return one of the exit codes above (messages on stderr). */
int qt_runner_run(const qt_run_opts_t *opts);
/* `run --invocations K`: K child processes of this program (`quintet run` with QT_INVOCATION=k,
 * each into its own temporary database), merged into one run of opts->db_path whose samples carry
 * their invocation (qt_store_merge_runs). Returns an exit code as qt_runner_run. */
int qt_runner_invocations(const qt_run_opts_t *opts);
/* A random version-4 style UUID text. */
void qt_runner_uuid(char out[37]);
/* Parse QT_INJECT_SLOWDOWN's REGEX:FRACTION (regcomp'd into re; the caller regfrees it). */
qt_status_t qt_runner_inject_parse(const char *text, regex_t *re, double *fraction);

/* The registered suites, NULL-terminated; calibration first. */
extern const qt_suite_t *const qt_suites[];
/* Suite by name, or NULL. */
const qt_suite_t *qt_suite_find(const char *name);

#endif
