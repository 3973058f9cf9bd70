/* cli.h — the quintet commands. Each command is `int qt_cmd_NAME(int argc, char **argv)`
 * with argv[0] the first argument after the command name; it returns the process
 * exit code: 0 success, 1 runtime failure (or a regression / failed case),
 * 2 bad usage (unknown command, option, suite or value), 130 interrupted. */
#ifndef QUINTET_CLI_H
#define QUINTET_CLI_H

int qt_cli_main(int argc, char **argv);

int qt_cmd_list(int argc, char **argv);
int qt_cmd_run(int argc, char **argv);
int qt_cmd_show(int argc, char **argv);
int qt_cmd_compare(int argc, char **argv);
int qt_cmd_history(int argc, char **argv);
int qt_cmd_report(int argc, char **argv);
int qt_cmd_env(int argc, char **argv);
int qt_cmd_import(int argc, char **argv);
int qt_cmd_plot(int argc, char **argv);
int qt_cmd_verify(int argc, char **argv);
/* `quintet trace optim ...`: argv[0] is "optim" (the word after `trace`). */
int qt_cmd_trace(int argc, char **argv);

/* The program's version (`quintet --version`). */
#define QT_VERSION "0.2.0"
#ifndef QT_SOURCE_DIR
#define QT_SOURCE_DIR "."
#endif

int qt_cmd_ab(int argc, char **argv);
int qt_cmd_calibrate_gate(int argc, char **argv);

/* Default database path. */
#define QT_DEFAULT_DB "results/quintet.db"

/* cli_store.c: opening a database and resolving RUN with the exit-status rule above (2 for a
 * missing file, a missing folder or an unknown run, listing what exists; 3 for other database errors). */
#include <stdint.h>

#include "store/store.h"
/* 0 when the folder of path exists, else the message and 2. */
int qt_cli_db_folder(const char *cmd, const char *path);
/* 0 with *out open, else the message and 2 or 3. */
int qt_cli_open(const char *cmd, const char *path, int create, int writable, qt_store_t **out);
/* 0 with *run_id, else the message (and the recent runs) and 2 or 3. */
int qt_cli_run(const char *cmd, qt_store_t *s, const char *spec, int64_t *run_id);

/* compare's decision on two stored runs, without printing (cmd_compare.c): fn is called for every
 * row (suite, "suite/case/variant/params", metric, result) after Benjamini-Hochberg; non-zero stops.
 * metric NULL or "all": every metric but the bookkeeping ones. The two sides of an interleaved
 * `quintet ab` are decided on paired rounds (qt_compare_decide_paired) unless unpaired is 1. */
#include <stdint.h>
#include "analysis/compare.h"
typedef int (*qt_compare_row_fn)(void *arg, const char *suite, const char *key, const char *metric,
                                 const qt_compare_result_t *r);
qt_status_t qt_compare_runs(const char *db, int64_t id_base, int64_t id_new, const char *metric,
                            const qt_compare_opts_t *o, int unpaired, qt_compare_row_fn fn, void *arg);

#endif
