/* pin.c — CPU affinity for a run (contract: pin.h). */
#include "run/pin.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parse and apply. */
qt_status_t qt_pin_apply(const char *cpus)
{
    QT_CHECK_ARG(cpus && *cpus, "--pin: empty CPU list (e.g. 0, 0-3 or 0,2)");
    long n_cpus = sysconf(_SC_NPROCESSORS_CONF);
    cpu_set_t set;
    CPU_ZERO(&set);
    const char *p = cpus;
    while (*p) {
        char *end;
        errno = 0;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || errno || lo < 0) return qt_fail(QT_ERR_ARG, "--pin: '%s' is not a CPU list (e.g. 0, 0-3 or 0,2)", cpus);
        p = end;
        if (*p == '-') {
            const char *q = p + 1;
            hi = strtol(q, &end, 10);
            if (end == q || errno || hi < lo) return qt_fail(QT_ERR_ARG, "--pin: bad range in '%s'", cpus);
            p = end;
        }
        if (hi >= n_cpus || hi >= CPU_SETSIZE)
            return qt_fail(QT_ERR_ARG, "--pin: CPU %ld does not exist (this machine has CPUs 0-%ld)", hi, n_cpus - 1);
        for (long c = lo; c <= hi; c++) CPU_SET((int)c, &set);
        if (*p == ',') p++;
        else if (*p) return qt_fail(QT_ERR_ARG, "--pin: '%s' is not a CPU list (e.g. 0, 0-3 or 0,2)", cpus);
    }
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        return qt_fail(QT_ERR_UNSUPPORTED, "--pin %s: the OS refused the CPU affinity: %s", cpus, strerror(errno));
    return QT_OK;
}
