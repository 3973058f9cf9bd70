/* cmd_env.c — `quintet env`: what this machine offers the harness — build,
 * library versions, counters (available, or PAPI's reason why not), technique
 * backends and whether each is usable here, GPU and MPI. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "run/backends.h"
#include "cli/cli.h"
#include "run/hwcounters.h"
#include "run/provenance.h"

/* The command. */
int qt_cmd_env(int argc, char **argv)
{
    static const qt_opt_t none[1];
    qt_args_t a;
    if (qt_args_parse(none, 0, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet env: %s\n", qt_last_error());
        return 2;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet env", "Describes what this machine and build offer, and why not.", NULL, 0);
        return 0;
    }
    if (a.n_pos) {
        fprintf(stderr, "quintet env: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    qt_provenance_t p;
    qt_provenance_collect(&p);
    printf("machine:\n  host %s\n  cpu %s, %d cores, %.0f MHz\n", p.host, p.cpu_model, p.cores, p.cpu_mhz);
    printf("build:\n  compiler %s\n  flags %s\n  git %s%s\n", QT_COMPILER, QT_CFLAGS, p.git_commit,
           p.git_dirty == 1 ? " (dirty)" : p.git_dirty == 0 ? " (clean)" : "");
    printf("libraries and devices:\n");
    for (int i = 0; i < p.n; i++)
        if (strncmp(p.kv[i].key, "env.", 4)) printf("  %-26s %s\n", p.kv[i].key, p.kv[i].value);
    qt_hwc_t h;
    qt_hwc_init(&h, NULL);
    printf("counters:\n");
    for (int i = 0; i < h.n; i++)
        printf("  %-32s %s%s\n", h.ev[i].name, h.ev[i].available ? "available" : "unavailable: ",
               h.ev[i].available ? "" : h.ev[i].reason);
    qt_hwc_free(&h);
    printf("backends:\n");
    qt_backends_print(stdout);
    printf("environment:\n");
    for (int i = 0; i < p.n; i++)
        if (!strncmp(p.kv[i].key, "env.", 4)) printf("  %-26s %s\n", p.kv[i].key + 4, p.kv[i].value);
    return 0;
}
