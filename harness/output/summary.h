/* summary.h — one screen about a run, what `make bench` ends with (`quintet show --summary`):
 * the run (profile, host, status, case counts and time), its warnings, the calibration ceilings,
 * per suite the headline metrics (ratios to a baseline or a ceiling, scaling exponents, crossover
 * points, convergence) with their target and the cases at either end, the slowest cases, and the
 * cases that did not finish. The full table stays one command away (`quintet show`).
 * Tested in tests/harness/test_cli.c (`make test`). */
#ifndef QUINTET_SUMMARY_H
#define QUINTET_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/* Write the summary of run_id to f; db_path is quoted in the closing hint. */
qt_status_t qt_summary_write(qt_store_t *s, int64_t run_id, const char *db_path, FILE *f);

#endif
