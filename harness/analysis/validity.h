/* validity.h — measurement validity checks on a stored run, shown by `quintet show` and
 * `quintet report` beside the run's stored warnings.
 *
 * Bandwidth above its ceiling: every bytes-per-second metric of the run (unit GB/s, or a name
 * that is gbps or ends in _gbps) is compared with the ceiling this run measured for the memory it
 * moves: the host ceiling is the memory traffic of the calibration suite's STREAM triad
 * (stream_triad_gbps × 4/3, and stream_copy_gbps × 3/2 when a run has it: the larger; STREAM
 * counts the bytes it names, the stored array's write-allocate reads come on top, and an in-place
 * update moves none), the device ceiling its device-to-device copy (gpu_copy_gbps). A case is a device case when its variant names a device backend (cuda*,
 * nccl*, gpu*, torch_cuda*), when it also reports frac_copy (the runner's device fraction), or
 * when its metric starts with gpu_. The calibration ceilings themselves are not judged. A median
 * above its ceiling is physically suspect: the bytes are miscounted, the working set sits in a
 * cache (then it is a cache bandwidth, not a memory one), or the ceiling was measured low
 * (another process held the memory bus during calibration). Metrics whose ceiling this run did
 * not measure (no GPU, calibration filtered out) are counted as unchecked.
 * Tested by tests/harness/test_report.c (`make test`). */
#ifndef QUINTET_VALIDITY_H
#define QUINTET_VALIDITY_H

#include <stdint.h>

#include "store/store.h"

/* Bytes a STREAM triad moves per byte it counts: the stored array is read before it is written
 * (write-allocate), 32 bytes per element against the 24 STREAM counts. */
#define QT_STREAM_TRIAD_TRAFFIC (32.0 / 24.0)

/* fn gets one warning text per flagged (case, metric) and, when some metrics had no ceiling, one
 * text saying how many; *n_flagged (may be NULL) the flagged count. fn returning non-zero stops. */
qt_status_t qt_validity_bandwidth(qt_store_t *s, int64_t run_id, int (*fn)(void *arg, const char *text), void *arg,
                                  int *n_flagged);
/* 1 when a metric is a bytes-per-second rate (the rule above). */
int qt_metric_is_bandwidth(const char *metric, const char *unit);

#endif
