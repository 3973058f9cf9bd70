/* invocations.h — running `quintet run` in child processes: the building block of
 * `run --invocations K` (runner.h: qt_runner_invocations) and of `quintet ab` (two builds,
 * alternately, one process per round and side). A child gets argv "EXE run ARGS... --db DB" and,
 * on top of this process's environment, the NAME=VALUE pairs given; its progress goes to this
 * process's stderr. Tested through tests/harness/test_gate.c (`make test`). */
#ifndef QUINTET_INVOCATIONS_H
#define QUINTET_INVOCATIONS_H

#include <stddef.h>

#include "quintet/status.h"

/* Run `exe run args[0..n_args) --db db` with env[0..n_env) ("NAME=VALUE") added; *exit_code gets
 * its exit status (128 + signal when killed). QT_ERR_IO when it cannot be started. */
qt_status_t qt_spawn_run(const char *exe, const char *const *args, int n_args, const char *db,
                         const char *const *env, int n_env, int *exit_code);
/* This program's own executable path (/proc/self/exe) into buf. */
qt_status_t qt_self_exe(char *buf, size_t cap);
/* A fresh private temporary directory (mkdtemp under $TMPDIR or /tmp) into buf. */
qt_status_t qt_make_tmpdir(const char *tag, char *buf, size_t cap);
/* Remove the temporary directory made by qt_make_tmpdir and the files in it (one level). */
void qt_remove_tmpdir(const char *dir);

#endif
