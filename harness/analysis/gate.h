/* gate.h — the regression gate of `quintet compare` (compare.h: the hierarchical bootstrap
 * interval of the ratio of medians against the threshold, confirmed by the exact Mann-Whitney test
 * on the unit of replication) applied to one metric of two stored cases. `quintet history` marks each run against
 * the run before it with it, `quintet report --baseline RUN` gives each row its verdict.
 * Defaults are compare's (alpha 0.05, threshold 0.05, no between-run noise figure); all three
 * commands take --threshold and --alpha through qt_gate_parse. */
#ifndef QUINTET_GATE_H
#define QUINTET_GATE_H

#include <stdint.h>

#include "analysis/compare.h"
#include "store/store.h"

/* compare's default test: alpha 0.05, threshold 0.05. */
#define QT_GATE_DEFAULTS ((qt_compare_opts_t){0.05, 0.05})

/* The texts of --threshold and --alpha (NULL: keep o's value) into o. A threshold outside
 * [0, 10] or an alpha outside (0, 1) is QT_ERR_ARG with a message naming the option. */
qt_status_t qt_gate_parse(const char *threshold, const char *alpha, qt_compare_opts_t *o);

/* The shape of one stored (case, metric): Tukey-fence outliers (*outliers) and the bimodality flag
 * (*bimodal) of its raw repetitions (stats.h), as compare gives each side; `show` and `report`
 * print them for every row. */
qt_status_t qt_gate_case_shape(qt_store_t *s, int64_t case_id, const char *metric, int *outliers, int *bimodal);

/* Decide metric of case new_case against case base_case from their raw samples (NaN skipped). */
qt_status_t qt_gate_cases(qt_store_t *s, int64_t base_case, int64_t new_case, const char *metric,
                          const qt_compare_opts_t *o, qt_compare_result_t *r);

#endif
