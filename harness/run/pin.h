/* pin.h — `quintet run --pin CPUS`: run on a set of CPUs (CPU affinity), where the OS allows it.
 * CPUS is a list like taskset's: "0", "0-3", "0,2,4-7". main.c applies it before re-executing the
 * program, so that every thread started at load time (OpenBLAS's pool, OpenMP's) inherits it; the
 * run records the CPUs it may use as provenance cpu.affinity. Tested in tests/harness/test_cli.c. */
#ifndef QUINTET_PIN_H
#define QUINTET_PIN_H

#include "quintet/status.h"

/* Parse CPUS and set this process's affinity to it: QT_ERR_ARG for a bad list or a CPU this
 * machine does not have, QT_ERR_UNSUPPORTED when the OS refuses (with its reason). */
qt_status_t qt_pin_apply(const char *cpus);

#endif
