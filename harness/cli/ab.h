/* ab.h — measuring two builds for `quintet ab` and `quintet calibrate-gate` (cmd_ab.c).
 *
 * Randomized multiple interleaved trials (Abedi & Brecht, "Conducting Repeatable Experiments in
 * Highly Variable Cloud Computing Environments", ICPE 2017): in each of R rounds both builds run
 * the selected cases once, each as a fresh `EXE run` process, in an order drawn at random per
 * round, so drift of the machine (other tenants, frequency, thermal state) hits both alike. Each
 * side's R processes are merged into one run of the database with the round as the invocation
 * (qt_store_merge_runs), so compare's hierarchical bootstrap treats rounds as the unit.
 * interleave = 0 runs all of BASE's rounds, then all of NEW's (what `run --invocations` twice
 * does), for calibrating that setting. More than two sides (calibrate-gate: base, an A/A copy and
 * injected copies) run in a random permutation per round. */
#ifndef QUINTET_AB_H
#define QUINTET_AB_H

#include <stdint.h>

#include "quintet/status.h"

#define QT_AB_MAX_SIDES 8

typedef struct {
    const char *exe[QT_AB_MAX_SIDES]; /* base, new (, more): executables that behave as `quintet` */
    const char *env[QT_AB_MAX_SIDES]; /* extra "NAME=VALUE" for each side's processes, or NULL */
    const char *const *args; /* `run` arguments (suites, --profile, --filter, --repetitions, --seed) */
    int n_args;
    int rounds;
    int interleave;          /* 1: randomized order per round; 0: all base rounds, then all new (2 sides) */
    uint64_t seed;           /* of the order */
    const char *db;          /* where the merged runs go */
    int quiet;               /* 1: children's progress to /dev/null */
    int sides;               /* 0 or 2: base and new; up to QT_AB_MAX_SIDES (calibrate-gate's A/A and
                                injected sides measured in the same rounds) */
    const char *name[QT_AB_MAX_SIDES]; /* with sides > 2: each side's ab_side name */
} qt_ab_spec_t;

/* Measure both sides; *base_id, *new_id get the two runs. QT_ERR_* with a message on failure
 * (a child that exits 2 or 3 stops it; a failed case only marks the run failed). */
qt_status_t qt_ab_measure(const qt_ab_spec_t *spec, int64_t *base_id, int64_t *new_id);
/* The same for spec->sides sides (interleaved: a random permutation of the sides per round); ids[i]
 * gets side i's run; every side's ab_peer is side 0's uuid (side 0's is side 1's). */
qt_status_t qt_ab_measure_sides(const qt_ab_spec_t *spec, int64_t *ids);

#endif
