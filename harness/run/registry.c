/* registry.c — the suites quintet knows, in the order a full run executes them.
 * Adding a suite: define `const qt_suite_t qt_suite_<name>` in suites/<name>.c and
 * list it here. */
#include <string.h>

#include "run/runner.h"

extern const qt_suite_t qt_suite_calibration;
extern const qt_suite_t qt_suite_attention_scaling;
extern const qt_suite_t qt_suite_lr_convergence;
extern const qt_suite_t qt_suite_sparsity;
extern const qt_suite_t qt_suite_fusion_accuracy;
extern const qt_suite_t qt_suite_dist_throughput;

const qt_suite_t *const qt_suites[] = {
    &qt_suite_calibration,
    &qt_suite_attention_scaling,
    &qt_suite_lr_convergence,
    &qt_suite_sparsity,
    &qt_suite_fusion_accuracy,
    &qt_suite_dist_throughput,
    NULL,
};

/* Look a suite up by name. */
const qt_suite_t *qt_suite_find(const char *name)
{
    for (int i = 0; qt_suites[i]; i++)
        if (!strcmp(qt_suites[i]->name, name)) return qt_suites[i];
    return NULL;
}
