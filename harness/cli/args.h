/* args.h — the command-line option parser every quintet command uses (and that
 * fuzz/fuzz_args.c fuzzes). Long options only ("--name VALUE" or "--name=VALUE"),
 * plus -h/--help; positional arguments are collected in order; "--" ends options.
 * In option names '_' and '-' are the same (--weight_decay = --weight-decay). An option
 * whose metavar starts with '[' (e.g. "[BOOL]") has an optional boolean value: "--name"
 * alone reads "1", "--name=V" reads V, and "--name V" reads V when V is a boolean word
 * (true false 1 0 yes no on off).
 * Unknown options, missing values and values given to flags are errors with a
 * message; the caller prints it and exits 2. */
#ifndef QUINTET_ARGS_H
#define QUINTET_ARGS_H

#include <stdio.h>

#include "quintet/status.h"

#define QT_ARGS_MAX_OPTS 48
#define QT_ARGS_MAX_POS 32

typedef struct {
    const char *name;    /* without "--" */
    const char *metavar; /* NULL for a flag (no value); "[...]" for an optional boolean value */
    const char *help;
} qt_opt_t;

typedef struct {
    const char *value[QT_ARGS_MAX_OPTS]; /* value of option i (flags: "1"), NULL when absent */
    const char *pos[QT_ARGS_MAX_POS];
    int n_pos;
    int help;                            /* -h or --help seen */
} qt_args_t;

/* Parse argv[0..argc) (argv[0] is the first argument, not the program). */
qt_status_t qt_args_parse(const qt_opt_t *opts, int n_opts, int argc, char **argv, qt_args_t *out);
/* Value of the option called name, or NULL (name must be one of opts). */
const char *qt_args_get(const qt_opt_t *opts, int n_opts, const qt_args_t *a, const char *name);
/* Print "usage: ..." and the option table. */
void qt_args_usage(FILE *f, const char *usage, const char *about, const qt_opt_t *opts, int n_opts);
/* Strict number parsing for option values: the whole text must be a number in range. */
qt_status_t qt_args_int(const char *what, const char *text, long long lo, long long hi, long long *out);
qt_status_t qt_args_u64(const char *what, const char *text, unsigned long long *out);
qt_status_t qt_args_double(const char *what, const char *text, double *out);

#endif
