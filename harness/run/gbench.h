/* gbench.h — a C interface to Google Benchmark (the only C++ in quintet: gbench.cc).
 *
 * qt_gb_run_one registers one benchmark that calls fn(state, arg) — fn loops
 * `while (qt_gb_keep_running(state)) { ... }` — runs it with the given
 * repetitions and minimum time, and hands every repetition (never only the
 * aggregates) to rep_cb, in order, with the counters fn set. Nothing is printed:
 * quintet prints its own progress. Works with Google Benchmark 1.7 and 1.8. */
#ifndef QUINTET_GBENCH_H
#define QUINTET_GBENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QT_GB_MAX_COUNTERS 32

typedef struct {
    int repetition;             /* 0-based */
    int64_t iterations;
    double real_time_s;         /* per iteration (manual time when the case uses it) */
    double cpu_time_s;          /* per iteration */
    int error;                  /* 1 when the benchmark skipped with an error */
    const char *error_message;
    int n_counters;
    const char *counter_names[QT_GB_MAX_COUNTERS];
    double counter_values[QT_GB_MAX_COUNTERS];
} qt_gb_rep_t;

typedef struct {
    int repetitions;   /* >= 1 */
    double min_time;   /* seconds per repetition */
    int manual_time;   /* fn reports iteration times with qt_gb_set_iteration_time */
} qt_gb_opts_t;

/* Initialise the library once (passes no command-line flags through). */
void qt_gb_init(void);
/* Run one benchmark; returns the number of repetitions delivered (0 on failure). */
int qt_gb_run_one(const char *name, void (*fn)(void *state, void *arg), void *arg, const qt_gb_opts_t *opts,
                  void (*rep_cb)(void *cb_arg, const qt_gb_rep_t *rep), void *cb_arg);

/* Inside fn: */
int qt_gb_keep_running(void *state);
void qt_gb_set_iteration_time(void *state, double seconds);
/* Average-per-iteration counter (value is the total over the loop; the library divides). */
void qt_gb_set_counter(void *state, const char *name, double total);
void qt_gb_skip_with_error(void *state, const char *message);
int64_t qt_gb_iterations(void *state);
void qt_gb_pause_timing(void *state);
void qt_gb_resume_timing(void *state);
/* Google Benchmark's version string (from its build, "1.7.1"; "unknown" when not exported). */
const char *qt_gb_version(void);

#ifdef __cplusplus
}
#endif
#endif
