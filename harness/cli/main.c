/* main.c — entry point of the quintet program: dispatches to the commands in cli.c.
 *
 * `quintet run` (and `verify`) re-executes itself once with GOMP_SPINCOUNT=10000 when neither it nor
 * OMP_WAIT_POLICY is set: libgomp reads them only at start-up, and its default spin
 * before sleeping at a barrier turns every OpenMP region into a multi-millisecond
 * stall whenever another process holds a core (measured on the 2-core build machine:
 * a 0.19 ms sparse gather took 4–24 ms), while a spin count of 3000–100000 costs
 * nothing on an idle machine. The value is recorded in each run's provenance.
 * `quintet run --pin CPUS` sets the CPU affinity and re-executes likewise (QT_PINNED marks the
 * second start), so that threads created while the program loads inherit it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "run/pin.h"

/* Set the OpenMP spin policy for benchmarking and restart; returns only if exec failed. */
static void reexec_with_spin_policy(char **argv)
{
    if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY")) return;
    if (setenv("GOMP_SPINCOUNT", "10000", 1) != 0) return;
    execv("/proc/self/exe", argv);
}

/* `run --pin CPUS`: set the affinity, then restart once (a bad list is left to `run` to report). */
static void pin_and_reexec(int argc, char **argv)
{
    if (getenv("QT_PINNED")) return;
    const char *cpus = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--pin") && i + 1 < argc) cpus = argv[i + 1];
        else if (!strncmp(argv[i], "--pin=", 6)) cpus = argv[i] + 6;
    }
    if (!cpus || qt_pin_apply(cpus) != QT_OK) return;
    if (setenv("QT_PINNED", cpus, 1) != 0) return;
    if (!getenv("GOMP_SPINCOUNT") && !getenv("OMP_WAIT_POLICY")) setenv("GOMP_SPINCOUNT", "10000", 1);
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "run")) pin_and_reexec(argc, argv);
    if (argc > 1 && (!strcmp(argv[1], "run") || !strcmp(argv[1], "verify"))) reexec_with_spin_policy(argv);
    return qt_cli_main(argc, argv);
}
